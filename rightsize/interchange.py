"""``rightsize import`` / ``rightsize export``: usage samples as CSV or Parquet.

One row per container sample, columns as in the product doc's "Import format".
Export writes the same format, so export → import round-trips.

Decisions (the doc leaves them open):

- Input kind is sniffed from the content: Parquet magic (or a ``.parquet``/``.pq``
  name) → Parquet; gzip magic → gzip-compressed CSV; anything else → CSV (UTF-8,
  BOM allowed). Header names are matched case-insensitively, blanks trimmed.
- ``timestamp``: ISO 8601 (a naive time is UTC) or Unix seconds (number or numeric
  string; a value above 1e11 is refused as probably milliseconds). Parquet
  timestamp columns are accepted too.
- Besides the documented columns, ``host``, ``name``, ``image``, ``labels`` (a JSON
  object of strings) and ``cpu_throttled_seconds_total`` are understood (export writes
  them, so a round trip keeps the store's keys, Compose/Kubernetes grouping and
  throttled time); other columns are ignored with a warning.
- ``cpu_cores`` and ``cpu_seconds_total`` may both be present (export writes both);
  in a row holding both, the counter wins and ``cpu_cores`` is dropped. Counters are
  stored raw: resets are the analysis' business, as for live collection.
- Blank cells (and ``NA``/``null``/``NaN``) in value columns mean "not reported";
  ``timestamp`` and ``container`` must not be blank. Declared columns also take
  Kubernetes quantities (``250m``, ``512Mi``).
- Declared values per container: the last non-blank value in time order (the store
  keeps one declared state per container, so changes over time keep the last one).
  ``workload`` is stored only when the file gives it (else the analysis derives it).
- ``oom_kills_total``: every increase is that many ``oom_kill`` events (one counted
  kill each, unlike the engine's ``oom`` notifications, which come in bursts); a
  decrease is a reset (the new value counts kills since it); the first value of a
  container counts too (the counter starts at zero when the container starts). The
  store keys events by time, so the k-th kill of one sample is stamped k µs before
  the sample.
- No host row is written: an import knows nothing about the machine (the analysis
  must treat the hosts table as optional).
- All or nothing: the file is read and validated in chunks of :data:`CHUNK_ROWS`
  rows inside one store transaction, so memory stays bounded and an invalid row,
  a signal, SIGKILL or a full disk leaves the store as it was. Per-container state
  (declared values, names, counters) is carried from chunk to chunk; a file whose
  rows for a container go back in time across chunks while it has counter columns
  is read whole instead (exact, not bounded). Re-importing adds nothing.
- Speed: a CSV chunk is typed by pandas' C parser (numbers as numbers, text and
  declared columns as categories); a chunk that fails a check is read again as
  text, so the error names the line, column and value as written. Parsed rows are
  kept across chunks (at most :data:`WRITE_ROWS`) and each container's are written
  together, in chunks of up to ``BIG_ROWS`` rows: encoding a chunk costs about as
  much for 100 rows as for 1,000.
- Export: ``oom_kills_total`` counts the OOM kills the analysis attributes to the
  exported window up to each sample (the same evidence rules: the kernel's counter,
  one kill per burst of engine events, …), so a kill after a container's last
  sample lands on that sample; ``cpu_cores`` is the CPU rate over the interval that
  ends at the sample (the counter still wins on import); ``workload`` is the derived
  workload (Compose service, Kubernetes owner) and ``labels``/``image`` the
  container's. Declared values are the container's current ones on every row.
  Parquet stores ``timestamp`` as a UTC microsecond timestamp, CSV as ISO 8601 ``Z``.

One piece: import and export are the two directions of one column format and
share its names, quantities and OOM-counter rules; a round trip is tested as a whole.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rightsize.errors import InputError, UsageError
from rightsize.outputs import disk_full as _disk_full
from rightsize.outputs import write_stream
from rightsize.rows import ContainerRow, EventRow, container_row
from rightsize.store import Store, load
from rightsize.store.rollup import Cols
from rightsize.store.times import keys as ts_keys
from rightsize.units import parse_cpu, parse_memory

log = logging.getLogger("rightsize.import")

CHUNK_ROWS = 50_000
#: parsed rows kept across chunks before they are written (see :class:`_Pending`)
WRITE_ROWS = 500_000
REQUIRED_COLUMNS = ("timestamp", "container", "memory_bytes")
CPU_COLUMNS = ("cpu_seconds_total", "cpu_cores")
DECLARED_COLUMNS = ("cpu_request", "cpu_limit", "memory_request", "memory_limit")
EXPORT_COLUMNS = (
    "timestamp",
    "container",
    "workload",
    "host",
    "name",
    "cpu_seconds_total",
    "cpu_cores",
    "memory_bytes",
    "cpu_request",
    "cpu_limit",
    "memory_request",
    "memory_limit",
    "cpu_periods_total",
    "cpu_throttled_periods_total",
    "cpu_throttled_seconds_total",
    "oom_kills_total",
    "image",
    "labels",
    "oom_exits_total",
    "restarts_total",
)
KNOWN_COLUMNS = frozenset(EXPORT_COLUMNS)

_REQUIRED_TEXT = "timestamp, container, memory_bytes and one of cpu_cores or cpu_seconds_total"
_NULLS = frozenset({"", "na", "n/a", "nan", "null", "none", "<na>"})
_INT_LIMIT = 2.0**63  # stored as SQLite INTEGER (int64)
_MAX_UNIX_SECONDS = 1e11  # year 5138: a bigger number is almost surely milliseconds
_MAX_KILLS_PER_SAMPLE = 100_000
_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")

WorkloadOf = Callable[[pd.DataFrame], "pd.Series[str]"]


@dataclass(frozen=True)
class ImportSummary:
    """What an import did: data rows read, distinct containers, new samples/events.

    ``skipped_duplicates``: rows whose container and timestamp were already in
    the store or earlier in the file (the first one is kept);
    ``blank_memory``/``blank_cpu``: rows stored without that value;
    ``declared_changed``: containers whose declared values changed within the
    file (the last is kept).
    """

    rows: int
    containers: int
    samples_added: int
    events_added: int
    skipped_duplicates: int
    blank_memory: int = 0
    blank_cpu: int = 0
    declared_changed: int = 0

    def notes(self) -> str:
        """What was dropped or changed, for the summary line ("" when nothing was)."""

        def n(count: int, one: str, many: str) -> str:
            return f"{count:,} {one if count == 1 else many}"

        parts = []
        if self.skipped_duplicates:
            parts.append("skipped " + n(self.skipped_duplicates, "duplicate timestamp",
                                        "duplicate timestamps") + " (already stored or repeated)")
        blanks = []
        if self.blank_memory:
            blanks.append(n(self.blank_memory, "blank memory value", "blank memory values"))
        if self.blank_cpu:
            blanks.append(n(self.blank_cpu, "blank CPU value", "blank CPU values"))
        if blanks:
            parts.append(", ".join(blanks) + " (stored as not reported)")
        if self.declared_changed:
            parts.append("declared values changed within the file for "
                         + n(self.declared_changed, "container", "containers")
                         + " (kept the last)")
        return "; ".join(parts)


@dataclass(frozen=True)
class _Source:
    path: Path
    kind: str  # "csv" | "parquet"

    def where(self, label: Any) -> str:
        # CSV rows are kept at their position (blank lines too), header = line 1.
        n = int(label)
        return f"line {n + 2}" if self.kind == "csv" else f"row {n + 1}"

    def fail(self, label: Any, column: str, problem: str, value: Any, expected: str) -> InputError:
        shown = str(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return InputError(
            f"{self.path}: {self.where(label)}, column {column!r}: {problem} {shown!r}; "
            f"expected {expected}"
        )

    def missing(self, label: Any, column: str, expected: str) -> InputError:
        return InputError(
            f"{self.path}: {self.where(label)}, column {column!r}: value missing; "
            f"expected {expected}"
        )


# --------------------------------------------------------------------------- reading


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise UsageError(
            "Parquet needs pyarrow: install it with pip install 'rightsize[parquet]'"
        ) from exc
    return pq


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(8192)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc


#: the same rows read again as text (``dtype=str``): the chunk starting at a row label
TextOf = Callable[[int], pd.DataFrame]


def _chunks(
    path: Path, rows: int | None
) -> tuple[_Source, Iterator[pd.DataFrame], TextOf | None]:
    """The file's kind, its data in frames of ``rows`` rows (None: one frame) and, for
    CSV, a way to read one of those frames again as text (see :class:`_CsvReader`).

    Frame indexes continue across chunks (row position in the file), so error
    messages name the same line or row as a whole-file read would.
    """
    head = _head(path)
    name = path.name.lower()
    if head.startswith(b"PAR1") or name.endswith((".parquet", ".pq")):
        return _Source(path, "parquet"), _parquet_chunks(path, rows), None
    reader = _CsvReader(path, head)
    return _Source(path, "csv"), reader.chunks(rows, typed=True), reader.text_of(rows)


def _parquet_chunks(path: Path, rows: int | None) -> Iterator[pd.DataFrame]:
    pq = _pyarrow_parquet()

    def unreadable(exc: Exception) -> InputError:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return InputError(f"{path}: not a readable Parquet file ({first})")

    try:
        if rows is None:
            frame: pd.DataFrame = pq.read_table(path).to_pandas()
            yield frame.reset_index(drop=True)
            return
        pf = pq.ParquetFile(path)
        columns = [c for c in pf.schema_arrow.names if not c.startswith("__index_level_")]
        batches = pf.iter_batches(batch_size=rows, columns=columns)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise unreadable(exc) from exc
    offset = 0
    while True:
        try:
            batch = next(batches, None)
            if batch is None:
                return
            frame = batch.to_pandas()
        except Exception as exc:
            raise unreadable(exc) from exc
        frame.index = pd.RangeIndex(offset, offset + len(frame))
        offset += len(frame)
        yield frame


#: columns kept as text; the others are typed by the CSV parser (see :class:`_CsvReader`)
_TEXT_COLUMNS = frozenset({"container", "host", "name", "workload", "image", "labels"})
#: columns left to the CSV parser's types (numbers, or text when a cell is not one)
_PARSED_COLUMNS = KNOWN_COLUMNS - _TEXT_COLUMNS - frozenset(DECLARED_COLUMNS)


class _CsvReader:
    """A CSV file's rows in chunks, typed by pandas' C parser (the fast path) or as text.

    Typed: the documented value columns and ``timestamp`` are left to the parser,
    which gives int64/float64 for a chunk whose cells are all plain numbers (a
    blank cell is NaN) and text otherwise (quantities, ``NA`` tokens, bad values;
    :func:`_parse` then checks those cells as text). The parser only turns into
    numbers what the text path would read as the same numbers, and a chunk it
    fails (infinite, negative, ...) is read again as text with :meth:`text_of`,
    so every error names the same line, column and value as a text read.
    """

    def __init__(self, path: Path, head: bytes) -> None:
        self.path = path
        self.gz = head.startswith(b"\x1f\x8b")
        if self.gz:
            import gzip

            try:
                with gzip.open(path, "rb") as fh:
                    head = fh.read(8192)
            except (OSError, EOFError) as exc:
                raise InputError(f"{path}: not a readable gzip file ({exc})") from exc
        if b"\x00" in head:
            raise InputError(
                f"{path}: binary data, not a CSV file; expected a CSV (optionally "
                "gzip-compressed) with a header row, or a Parquet file"
            )
        if not head.strip():
            raise InputError(
                f"{path}: empty file; expected a CSV header row ({_REQUIRED_TEXT}) "
                "and one row per sample"
            )
        self.options: dict[str, Any] = {
            "keep_default_na": False,
            "skip_blank_lines": False,
            "index_col": False,
            "encoding": "utf-8-sig",
            "compression": "gzip" if self.gz else None,
        }

    def read(self, **extra: Any) -> Any:
        with warnings.catch_warnings():
            # more fields than the header: pandas would silently drop data
            warnings.simplefilter("error", pd.errors.ParserWarning)
            try:
                return pd.read_csv(self.path, **self.options, **extra)
            except Exception as exc:
                mapped = _csv_error(self.path, self.gz, exc)
                if mapped is exc:
                    raise
                raise mapped from exc

    def _typed(self) -> dict[str, Any]:
        names = [str(c) for c in self.read(dtype=str, nrows=0).columns]
        numeric = [n for n in names if n.strip().lower() in _PARSED_COLUMNS]
        return {
            # text, declared values (few distinct, often quantities) and unknown
            # columns as categories: the parser keeps each distinct string once
            "dtype": {n: "category" for n in names if n not in numeric},
            "na_values": {n: [""] for n in numeric},
            "low_memory": False,  # one type per column and chunk
        }

    def chunks(self, rows: int | None, *, typed: bool) -> Iterator[pd.DataFrame]:
        """The rows in frames of ``rows`` (None: one frame), typed or all text."""
        extra = self._typed() if typed else {"dtype": str}
        if rows is None:
            yield self.read(**extra)
            return
        reader = self.read(chunksize=rows, **extra)
        yielded = False
        with reader:
            while True:
                chunk = _read_next(reader, self.path, self.gz)
                if chunk is None:
                    break
                yielded = True
                yield chunk
        if not yielded:  # a header and no rows: yield the empty frame (its columns are checked)
            yield self.read(nrows=0, **extra)

    def text_of(self, rows: int | None) -> TextOf:
        """``text(start)``: the chunk of ``rows`` starting at row label ``start``, as text
        (the error path: the records before it are skipped, blank lines and quoted
        line breaks counted as the chunked read counts them)."""

        def text(start: int) -> pd.DataFrame:
            frame: pd.DataFrame = self.read(
                dtype=str, skiprows=lambda i: 0 < i <= start, nrows=rows)
            frame.index = pd.RangeIndex(start, start + len(frame))
            return frame

        return text


def _read_next(reader: Any, path: Path, gz: bool) -> pd.DataFrame | None:
    """The next chunk of a ``read_csv`` reader (None at the end); errors as one line."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            chunk: pd.DataFrame | None = next(reader, None)
            return chunk
        except Exception as exc:
            mapped = _csv_error(path, gz, exc)
            if mapped is exc:
                raise
            raise mapped from exc


def _csv_error(path: Path, gz: bool, exc: Exception) -> Exception:
    """The one-line :class:`InputError` for a pandas CSV failure (others unchanged)."""
    if isinstance(exc, pd.errors.ParserError | pd.errors.ParserWarning):
        ragged = _ragged_line(path, gz)
        if ragged is None:
            return InputError(f"{path}: not a valid CSV file ({_one_line(exc)})")
        line, fields, expected = ragged
        return InputError(
            f"{path}: line {line}: {fields} fields; expected {expected} as in the header"
        )
    if isinstance(exc, UnicodeDecodeError):
        return InputError(
            f"{path}: not UTF-8 text (byte {exc.start}); expected a CSV file or a Parquet file"
        )
    if isinstance(exc, pd.errors.EmptyDataError):
        return InputError(f"{path}: empty file; expected a CSV header row ({_REQUIRED_TEXT})")
    if isinstance(exc, OSError | EOFError | ValueError):
        if isinstance(exc, OSError) and _disk_full(exc):
            return exc
        return InputError(f"{path}: not a valid CSV file ({_one_line(exc)})")
    return exc


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def _ragged_line(path: Path, gz: bool) -> tuple[int, int, int] | None:
    """(line, fields, header fields) of the first record wider than the header (error path)."""
    import csv
    import gzip

    opener = gzip.open if gz else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        for record in reader:
            if len(record) > len(header):
                return reader.line_num, len(record), len(header)
    return None


def _normalise_columns(src: _Source, frame: pd.DataFrame, *, warn: bool = True) -> pd.DataFrame:
    names = [str(c).strip().lower() for c in frame.columns]
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise InputError(f"{src.path}: column {n!r} appears twice in the header")
        seen.add(n)
    frame.columns = pd.Index(names)
    found = ", ".join(names) or "none"
    for col in REQUIRED_COLUMNS:
        if col not in seen:
            raise InputError(
                f"{src.path}: missing required column {col!r} "
                f"(required: {_REQUIRED_TEXT}; found: {found})"
            )
    if not seen.intersection(CPU_COLUMNS):
        raise InputError(
            f"{src.path}: missing a CPU column: expected cpu_cores or cpu_seconds_total "
            f"(found: {found})"
        )
    unknown = [n for n in names if n not in KNOWN_COLUMNS]
    if unknown:
        if warn:
            log.warning("%s: ignoring unknown columns: %s", src.path, ", ".join(unknown))
        frame = frame.drop(columns=unknown)
    return frame


# --------------------------------------------------------------------------- parsing


def _texty(s: pd.Series[Any]) -> bool:
    """Strings, or categories (of strings, as the CSV parser makes them)."""
    return isinstance(s.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(s)


def _coded(
    s: pd.Series[Any], nulls: frozenset[str]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.object_]]:
    """A text column as codes (-1: blank or a null token) into its distinct trimmed
    strings: each distinct string is looked at once (a column holds few)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy().astype(np.intp)
        u = pd.Series(s.cat.categories)
    else:
        codes, uniques = pd.factorize(s)
        u = pd.Series(uniques, dtype=s.dtype)
    t = u.astype("str").str.strip()
    null = (u.isna() | t.str.lower().isin(nulls)).to_numpy(dtype=bool)
    if null.any():  # code -1 (missing) looks up the True appended last
        codes = np.where(np.append(null, True)[codes], -1, codes)
        t = t.mask(null)
    return codes, t.to_numpy(dtype=object, na_value=np.nan)


def _decoded(codes: npt.NDArray[np.intp], texts: npt.NDArray[np.object_],
             index: pd.Index[Any]) -> pd.Series[Any]:
    return pd.Series(np.append(texts, np.nan)[codes], index=index, dtype=object)


def _text(s: pd.Series[Any], *, nulls: frozenset[str] = _NULLS) -> pd.Series[Any]:
    """Strings, trimmed, with blank / null tokens as NaN (non-strings stringified)."""
    if _texty(s):
        return _decoded(*_coded(s, nulls), s.index)
    t = s.astype("str").str.strip()
    isnull = s.isna() | t.str.lower().isin(nulls)
    return t.mask(isnull)


def _blank_rows(frame: pd.DataFrame) -> pd.Series[bool]:
    """True for rows whose every cell is blank (CSV blank lines, kept for line numbers)."""
    blank = np.ones(len(frame), dtype=bool)
    for col in frame.columns:  # until a column has no blank cell where the others had
        values = frame[col]
        if _texty(values):
            blank &= _coded(values, frozenset({""}))[0] < 0
        else:
            blank &= values.isna().to_numpy(dtype=bool)
        if not blank.any():
            break
    return pd.Series(blank, index=frame.index, dtype=bool)


def _first_bad(mask: pd.Series[bool] | Any) -> Any:
    return mask.index[np.flatnonzero(mask.to_numpy())[0]]


def _numbers(
    src: _Source,
    frame: pd.DataFrame,
    col: str,
    expected: str,
    quantity: Callable[[str], float] | None = None,
    scale: float = 1.0,
) -> pd.Series[float]:
    """A column as float64 (NaN = not reported); refuses unparsable, infinite, negative."""
    raw = frame[col]
    why: dict[str, str] = {}
    shown: pd.Series[Any]
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        present = raw.notna().to_numpy(dtype=bool)
        shown = raw
    else:
        # each distinct text once: declared columns hold few values, quantities fewer
        if _texty(raw):
            codes, distinct = _coded(raw, _NULLS)
            shown = _decoded(codes, distinct, raw.index)
            texts = pd.Series(distinct, dtype=object)
        else:
            shown = _text(raw)
            codes, uniques = pd.factorize(shown)
            texts = pd.Series(uniques, dtype=shown.dtype)
        present = codes >= 0
        parsed = pd.to_numeric(texts, errors="coerce").astype("float64").to_numpy(copy=True)
        if quantity is not None:
            for i in np.flatnonzero(np.isnan(parsed) & texts.notna().to_numpy()).tolist():
                text = str(texts.iloc[i])
                try:
                    parsed[i] = float(quantity(text))
                except UsageError as exc:  # the quantity's own reason: unit, size
                    why.setdefault(text, str(exc))
        values = np.append(parsed, np.nan)[codes]

    def first(mask: npt.NDArray[np.bool_]) -> Any:
        return raw.index[int(np.argmax(mask))]

    with np.errstate(invalid="ignore"):
        bad = present & ~np.isfinite(values)
        if bad.any():
            label = first(bad)
            reason = why.get(str(shown[label]))
            if reason:
                raise InputError(f"{src.path}: {src.where(label)}, column {col!r}: {reason}")
            raise src.fail(label, col, "not a number:", shown[label], expected)
        negative = values < 0
        if negative.any():
            label = first(negative)
            raise src.fail(label, col, "negative value", shown[label], f"{expected} (>= 0)")
        big = values * scale >= _INT_LIMIT
        if big.any():
            label = first(big)
            limit = f"{_INT_LIMIT / scale:.3g}"
            raise src.fail(label, col, "value too large", shown[label],
                           f"{expected} below {limit}")
    return pd.Series(values, index=raw.index, dtype="float64")


def _integers(values: pd.Series[float]) -> pd.Series[Any]:
    """Rounded to Int64 (as ``values.round().astype("Int64")``; values fit in int64)."""
    v = values.to_numpy(dtype=np.float64)
    missing = np.isnan(v)
    ints = np.round(np.where(missing, 0.0, v)).astype(np.int64)
    return pd.Series(pd.arrays.IntegerArray(ints, missing), index=values.index)


def _unix(dt: pd.Series[Any]) -> pd.Series[float]:
    naive = getattr(dt.dt, "tz", None) is None
    dt = dt.dt.tz_localize("UTC") if naive else dt.dt.tz_convert("UTC")
    return (dt - _EPOCH) / pd.Timedelta(1, "s")


def _timestamps(src: _Source, frame: pd.DataFrame) -> pd.Series[float]:
    raw = frame["timestamp"]
    expected = "ISO 8601 (2024-05-01T12:00:00Z) or Unix seconds"
    if pd.api.types.is_datetime64_any_dtype(raw):
        ts = _unix(raw)
        shown: pd.Series[Any] = raw
        present = raw.notna()
    elif pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        ts = raw.astype("float64")
        shown, present = raw, raw.notna()
    else:
        shown = _text(raw)
        present = shown.notna()
        ts = pd.to_numeric(shown, errors="coerce").astype("float64")
        rest = present & ts.isna()
        if rest.any():
            dt = pd.to_datetime(shown[rest], format="ISO8601", utc=True, errors="coerce")
            ts = ts.where(~rest, _unix(dt))
    if not present.all():
        raise src.missing(_first_bad(~present), "timestamp", expected)
    bad = ~np.isfinite(ts.fillna(np.inf))
    if bad.any():
        label = _first_bad(bad)
        raise src.fail(label, "timestamp", "cannot parse", shown[label], expected)
    negative = ts < 0
    if negative.any():
        label = _first_bad(negative)
        raise src.fail(label, "timestamp", "before 1970:", shown[label], expected)
    millis = ts > _MAX_UNIX_SECONDS
    if millis.any():
        label = _first_bad(millis)
        raise src.fail(
            label, "timestamp", "too large (milliseconds?)", shown[label], "Unix seconds"
        )
    return ts


def _parse(src: _Source, frame: pd.DataFrame, default_host: str) -> pd.DataFrame:
    """Validate the raw columns; return one tidy frame in store units, sorted by time."""
    raw_container = frame["container"]
    id_codes: Any = None  # codes ordered as the container ids sort, when cheap to get
    if _texty(raw_container):
        codes, texts = _coded(raw_container, frozenset({""}))
        container = _decoded(codes, texts, frame.index)
        no_container = pd.Series(codes < 0, index=frame.index)
        if not no_container.any():  # the few distinct ids sorted, not every row's
            id_codes = pd.factorize(texts, sort=True)[0][codes]
    else:
        container = _text(raw_container, nulls=frozenset({""}))
        no_container = container.isna()
    if no_container.any():
        raise src.missing(_first_bad(no_container), "container", "a container id or name")
    out: dict[str, Any] = {}  # the columns, made a frame once
    if "host" in frame:
        out["host"] = _text(frame["host"], nulls=frozenset({""})).fillna(default_host)
    else:
        out["host"] = pd.Series(default_host, index=frame.index, dtype=object)
    out["container_id"] = container
    out["ts"] = _timestamps(src, frame)
    for col in ("name", "workload", "image", "labels"):
        out[col] = (
            _text(frame[col], nulls=frozenset({""}))
            if col in frame
            else pd.Series(np.nan, index=frame.index, dtype="float64")  # none: cheap to check
        )
    if "labels" in frame:
        out["labels"] = _labels(src, pd.DataFrame({"labels": out["labels"]}))

    def num(
        col: str,
        expected: str,
        quantity: Callable[[str], float] | None = None,
        scale: float = 1.0,
    ) -> Any:
        if col not in frame:
            return pd.Series(np.nan, index=frame.index, dtype="float64")
        return _numbers(src, frame, col, expected, quantity, scale)

    seconds = num("cpu_seconds_total", "cumulative CPU seconds", scale=1e9)
    cores = num("cpu_cores", "CPU cores")
    out["cpu_total_ns"] = _integers(seconds * 1e9)
    out["cpu_cores"] = cores.where(seconds.isna())
    out["mem"] = _integers(num("memory_bytes", "a number of bytes"))
    out["periods"] = _integers(num("cpu_periods_total", "a cumulative period count"))
    out["throttled_periods"] = _integers(
        num("cpu_throttled_periods_total", "a cumulative period count")
    )
    out["throttled_ns"] = _integers(
        num("cpu_throttled_seconds_total", "cumulative throttled seconds", scale=1e9) * 1e9
    )
    out["oom_kills_total"] = num("oom_kills_total", "a cumulative OOM kill count").round()
    out["oom_exits_total"] = num("oom_exits_total", "a cumulative count of OOM exits").round()
    out["restarts_total"] = num("restarts_total", "a cumulative count of restarts").round()
    cpu_expected = "cores (0.25) or a CPU quantity (250m)"
    mem_expected = "bytes (536870912) or a memory quantity (512Mi)"
    for col in ("cpu_request", "cpu_limit"):
        out[col] = num(col, cpu_expected, parse_cpu)
    for col in ("memory_request", "memory_limit"):
        out[col] = _integers(np.ceil(num(col, mem_expected, parse_memory)))
    # as sort_values(["host", "container_id", "ts"], kind="stable"), on codes of the
    # sorted distinct keys (comparing strings row by row is the slow part)
    host_codes = (pd.factorize(out["host"], sort=True)[0] if "host" in frame
                  else np.zeros(len(frame), dtype=np.intp))  # all the default host
    if id_codes is None:
        id_codes = pd.factorize(out["container_id"], sort=True)[0]
    order = np.lexsort((out["ts"].to_numpy(), id_codes, host_codes))
    index = frame.index[order]
    return pd.DataFrame({k: v.take(order).set_axis(index) for k, v in out.items()}, index=index)


@dataclass(frozen=True)
class _Runs:
    """The containers of a parsed chunk (sorted by container): each one's first row
    (``starts``), end (``ends``, exclusive) and key, and each row's container (``group``)."""

    keys: list[tuple[str, str]]
    starts: npt.NDArray[np.intp]
    ends: npt.NDArray[np.intp]
    group: npt.NDArray[np.intp]

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Runs:
        hosts = frame["host"].to_numpy(dtype=object)
        ids = frame["container_id"].to_numpy(dtype=object)
        new = np.r_[True, (hosts[1:] != hosts[:-1]) | (ids[1:] != ids[:-1])] if len(frame) \
            else np.zeros(0, dtype=bool)
        starts = np.flatnonzero(new)
        return cls(
            keys=[(str(hosts[a]), str(ids[a])) for a in starts.tolist()],
            starts=starts,
            ends=np.r_[starts[1:], len(frame)].astype(np.intp),
            group=np.cumsum(new, dtype=np.intp) - 1,
        )


#: cumulative columns that stand for lifecycle events: column -> (event action, exit code, what)
_COUNTED_EVENTS: dict[str, tuple[str, int | None, str]] = {
    "oom_kills_total": ("oom_kill", None, "OOM kills"),
    "oom_exits_total": ("die", 137, "OOM exits"),
    "restarts_total": ("start", None, "restarts"),
}


def _events_of_counter(
    src: _Source,
    frame: pd.DataFrame,
    column: str,
    action: str,
    exit_code: int | None,
    what: str,
    carry: dict[tuple[str, str], float],
    runs: _Runs,
) -> list[EventRow]:
    """One ``action`` event per unit a cumulative ``column`` grows (see the module doc).

    ``frame`` is one chunk sorted by container and time (its containers: ``runs``);
    ``carry`` holds each container's last value from earlier chunks (updated here),
    so chunk by chunk gives the events of the whole file. Event names are filled in later.
    """
    oom = frame[column].to_numpy(dtype=np.float64)
    valid = ~np.isnan(oom)
    if not valid.any():
        return []
    # each row's previous value of its container (the last non-blank one before it in
    # the chunk, else the one carried from earlier chunks)
    n = oom.size
    newest = np.maximum.accumulate(np.where(valid, np.arange(n), -1))
    before_row = np.r_[-1, newest[:-1]]
    in_run = before_row >= runs.starts[runs.group]
    prev = np.where(in_run, oom[np.maximum(before_row, 0)], np.nan)
    if carry:
        before = np.array([carry.get(k, np.nan) for k in runs.keys], dtype=np.float64)
        prev = np.where(in_run, prev, before[runs.group])
    last = newest[runs.ends - 1]
    for g in np.flatnonzero(last >= runs.starts).tolist():
        carry[runs.keys[g]] = float(oom[last[g]])
    with np.errstate(invalid="ignore"):
        reset = np.isnan(prev) | (oom < prev)
        increase = np.where(valid, np.where(reset, oom, oom - prev), 0.0)
    hit = increase > 0
    if not hit.any():
        return []
    huge = increase > _MAX_KILLS_PER_SAMPLE
    if huge.any():
        first = int(np.argmax(huge))
        raise src.fail(
            frame.index[first],
            column,
            f"implausible jump of {int(increase[first])} {what} to",
            int(oom[first]),
            f"a cumulative count of {what}",
        )
    counts = increase[hit].astype("int64")
    rep = np.repeat(np.flatnonzero(hit), counts)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(counts) - counts, counts)
    hosts = frame["host"].to_numpy()[rep]
    ids = frame["container_id"].to_numpy()[rep]
    stamps = frame["ts"].to_numpy()[rep] - k * 1e-6
    return [
        EventRow(
            host=str(h),
            container_id=str(c),
            ts=float(t),
            action=action,
            exit_code=exit_code,
            name=str(c),
        )
        for h, c, t in zip(hosts, ids, stamps, strict=True)
    ]


class _Unordered(Exception):
    """A container's rows go back in time across chunks: its counters need the whole file."""


_STATE_COLUMNS = ("name", "workload", "image", "labels", *DECLARED_COLUMNS)


class _ImportState:
    """What an import carries from chunk to chunk (per container), and its counts.

    Declared values, names, images, labels and workloads: the last non-blank
    value in time order (a later row wins a tie, as a stable sort of the whole
    file would). Counters: the last value, for :func:`_events_of_counter`.
    """

    def __init__(self, src: _Source) -> None:
        self.src = src
        # per container (its position in ``index``): the newest time, each state
        # column's value and the time of that value (NaN: none yet), declared changes
        self.index: dict[tuple[str, str], int] = {}
        self.newest = np.zeros(0)
        self.last_ts = {c: np.zeros(0) for c in _STATE_COLUMNS}
        self.last_value = {c: np.zeros(0, dtype=object) for c in _STATE_COLUMNS}
        self.changed = np.zeros(0, dtype=bool)
        self.carry: dict[str, dict[tuple[str, str], float]] = {c: {} for c in _COUNTED_EVENTS}
        self.events: list[EventRow] = []
        self.rows = self.blank_memory = self.blank_cpu = 0

    def _positions(self, runs: _Runs) -> npt.NDArray[np.intp]:
        """Each container's position in the state (new ones are added)."""
        known = len(self.index)
        pos = np.array([self.index.setdefault(k, len(self.index)) for k in runs.keys],
                       dtype=np.intp)
        more = len(self.index) - known
        if more:
            self.newest = np.r_[self.newest, np.full(more, np.nan)]
            self.changed = np.r_[self.changed, np.zeros(more, dtype=bool)]
            for c in _STATE_COLUMNS:
                self.last_ts[c] = np.r_[self.last_ts[c], np.full(more, np.nan)]
                self.last_value[c] = np.r_[self.last_value[c], np.full(more, None, dtype=object)]
        return pos

    def add(self, frame: pd.DataFrame, runs: _Runs) -> None:
        """Take one parsed chunk (sorted by container and time; its containers: ``runs``)."""
        self.rows += len(frame)
        self.blank_memory += int(frame["mem"].isna().sum())
        self.blank_cpu += int((frame["cpu_total_ns"].isna() & frame["cpu_cores"].isna()).sum())
        ts = frame["ts"].to_numpy(dtype=np.float64)
        counted = any(frame[c].notna().any() for c in _COUNTED_EVENTS)
        pos = self._positions(runs)
        seen = self.newest[pos]
        if counted and bool((ts[runs.starts] < seen).any()):  # NaN: not seen before
            raise _Unordered
        self.newest[pos] = np.fmax(seen, ts[runs.ends - 1])
        for column in _STATE_COLUMNS:
            self._take_last(frame, ts, runs, pos, column, declared=column in DECLARED_COLUMNS)
        for column, (action, exit_code, what) in _COUNTED_EVENTS.items():
            self.events += _events_of_counter(
                self.src, frame, column, action, exit_code, what, self.carry[column], runs
            )

    def _take_last(self, frame: pd.DataFrame, ts: npt.NDArray[np.float64], runs: _Runs,
                   pos: npt.NDArray[np.intp], column: str, *, declared: bool) -> None:
        values = frame[column]
        rows = np.flatnonzero(values.notna().to_numpy(dtype=bool))
        if not rows.size:
            return
        group = runs.group[rows]
        ends = np.r_[group[1:] != group[:-1], True]  # each container's last row with a value
        last = rows[ends]
        at = pos[group[ends]]
        t = ts[last]
        value = np.empty(last.size, dtype=object)
        value[:] = _objects(values.iloc[last])
        old_ts = self.last_ts[column][at]
        if declared:
            # more than one distinct value in the chunk (one differs from the last), or
            # a value other than the one kept from earlier chunks
            exact = values.to_numpy(
                dtype=np.int64 if values.dtype.kind in "iu" else np.float64, na_value=0)[rows]
            differs = exact != exact[ends][np.searchsorted(group[ends], group)]
            self.changed[pos[np.unique(group[differs])]] = True
            old = self.last_value[column][at]
            self.changed[at[~np.isnan(old_ts) & (old != value).astype(bool)]] = True
        newer = ~(old_ts > t)  # no value yet (NaN), or this one is as new or newer
        self.last_ts[column][at[newer]] = t[newer]
        self.last_value[column][at[newer]] = value[newer]

    def _value(self, column: str, key: tuple[str, str]) -> Any:
        return self.last_value[column][self.index[key]]

    def containers(self) -> list[ContainerRow]:
        rows: list[ContainerRow] = []
        for key in sorted(self.index):
            name, workload, image, labels = (
                self._value(c, key) for c in ("name", "workload", "image", "labels")
            )
            cpu_req, cpu_lim, mem_req, mem_lim = (self._value(c, key) for c in DECLARED_COLUMNS)
            rows.append(
                container_row(
                    key[0],
                    key[1],
                    str(name) if name is not None else key[1],
                    image=str(image) if image is not None else "",
                    labels=labels if isinstance(labels, dict) else None,
                    workload=workload,
                    cpu_request=None if cpu_req is None else float(cpu_req),
                    cpu_limit=None if cpu_lim is None else float(cpu_lim),
                    memory_request=None if mem_req is None else int(mem_req),
                    memory_limit=None if mem_lim is None else int(mem_lim),
                )
            )
        return rows

    def named_events(self) -> list[EventRow]:
        """The counted events, named after their container's last name."""
        for ev in self.events:
            name = self._value("name", (ev["host"], ev["container_id"]))
            ev["name"] = str(name) if name is not None else ev["container_id"]
        return self.events


def _objects(s: pd.Series[Any]) -> list[Any]:
    """Column values as Python objects, None for missing."""
    return s.astype(object).where(s.notna(), None).tolist()


def _labels(src: _Source, frame: pd.DataFrame) -> pd.Series[Any]:
    """The ``labels`` column as dicts of strings (a JSON object per cell; blank = none)."""
    out: list[dict[str, str] | None] = []
    for label, cell in zip(frame.index, frame["labels"].tolist(), strict=True):
        if not isinstance(cell, str) or not cell.strip():
            out.append(None)
            continue
        try:
            value = json.loads(cell)
        except ValueError:
            value = None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise src.fail(
                label, "labels", "invalid value", cell[:80], 'a JSON object of strings ({"k": "v"})'
            )
        out.append(value)
    return pd.Series(out, index=frame.index, dtype="object")


#: the store's sample columns an import writes, and the parsed column each comes from
#: (the memory reading is both usage and working set)
_SAMPLE_SOURCES = (
    ("cpu_total_ns", "cpu_total_ns"), ("cpu_cores", "cpu_cores"), ("periods", "periods"),
    ("throttled_periods", "throttled_periods"), ("throttled_ns", "throttled_ns"),
    ("mem_usage", "mem"), ("mem_working_set", "mem"),
)


def _sample_cols(frame: pd.DataFrame) -> Cols:
    """The parsed rows as the store's chunk columns (``ts`` as stored keys).

    Kept across chunks, so kept small: all-present and all-missing masks and
    all-missing columns are read-only views of one value, integers that fit are
    int32 (all are copied to int64 when written, see :meth:`_Pending.flush`), and
    ``mem_usage`` and ``mem_working_set`` share their arrays.
    """
    ts = frame["ts"].to_numpy(dtype=np.float64)
    everywhere = np.broadcast_to(np.ones(1, dtype=bool), (ts.size,))
    nowhere = np.broadcast_to(np.zeros(1, dtype=bool), (ts.size,))
    cols: Cols = {"ts": (ts_keys(ts), everywhere)}
    converted: dict[str, tuple[Any, Any]] = {}
    for name, source in _SAMPLE_SOURCES:
        if source not in converted:
            column = frame[source]
            floats = column.dtype.kind == "f"
            present = column.notna().to_numpy(dtype=bool)
            if not present.any():
                missing = np.array([np.nan if floats else 0],
                                   dtype=np.float64 if floats else np.int64)
                converted[source] = (np.broadcast_to(missing, (ts.size,)), nowhere)
            else:
                values = (column.to_numpy(dtype=np.float64) if floats  # else Int64
                          else column.to_numpy(dtype=np.int64, na_value=0))
                if not floats and values.min() >= -(2**31) and values.max() < 2**31:
                    values = values.astype(np.int32)
                converted[source] = (values, everywhere if present.all() else present)
        cols[name] = converted[source]
    return cols


class _Pending:
    """Parsed samples waiting to be written: each container's rows from several chunks.

    Encoding a chunk costs about as much for 100 rows as for 1,000, so rows are
    kept across chunks and each container's are written together (in chunks of
    up to ``BIG_ROWS``) once :data:`WRITE_ROWS` rows are kept, and at the end:
    memory stays bounded by ``WRITE_ROWS`` (4 or 8 bytes a row and stored column,
    see :func:`_sample_cols`), not by the file.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.parts: dict[tuple[str, str], list[Cols]] = {}
        self.rows = 0
        self.added = 0

    def add(self, frame: pd.DataFrame, runs: _Runs) -> None:
        """Keep one parsed chunk (sorted by container); write all once enough are kept."""
        if not len(frame):
            return
        cols = _sample_cols(frame)
        for key, a, b in zip(runs.keys, runs.starts.tolist(), runs.ends.tolist(), strict=True):
            piece = {k: (v[a:b], p[a:b]) for k, (v, p) in cols.items()}
            self.parts.setdefault(key, []).append(piece)
        self.rows += len(frame)
        if self.rows >= WRITE_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write every kept row, one container at a time (in the order first seen)."""
        parts, self.parts, self.rows = self.parts, {}, 0

        def joined(arrays: list[Any]) -> Any:
            """One container's rows of a column: int64 or float64, contiguous, writable."""
            kind = arrays[0].dtype.kind
            if len(arrays) == 1:
                out = np.require(arrays[0], requirements=["C", "W"])
            else:
                out = np.concatenate(arrays)
            return out.astype(np.int64, copy=False) if kind == "i" else out

        def series() -> Iterator[tuple[tuple[str, str], Cols]]:
            for key in list(parts):
                pieces = parts.pop(key)  # the same columns in each
                yield key, {k: (joined([p[k][0] for p in pieces]),
                                joined([p[k][1] for p in pieces]))
                            for k in pieces[0]}

        if parts:
            self.added += self.store.write_frame(series())


def import_file(path: Path, store: Store, *, host: str = "import") -> ImportSummary:
    """Load a CSV / gzip CSV / Parquet file of samples into ``store``, all or nothing.

    ``host`` is the store host key for rows without a ``host`` column value.
    Raises :class:`InputError` (one line: file, line/row, column, value) for a
    malformed file, :class:`UsageError` when Parquet is given without pyarrow.
    The file is read and checked in chunks of :data:`CHUNK_ROWS` rows and written
    every :data:`WRITE_ROWS` rows, inside one transaction: an error, a signal or a
    full disk leaves the store as it was.
    """
    path = Path(path)
    try:
        return _import(path, store, host, CHUNK_ROWS)
    except _Unordered:
        log.info("%s: a container's rows go back in time across chunks; reading the "
                 "whole file at once", path)
        return _import(path, store, host, None)


def _import(path: Path, store: Store, host: str, rows: int | None) -> ImportSummary:
    src, chunks, text_of = _chunks(path, rows)
    state = _ImportState(src)
    pending = _Pending(store)
    first = True
    with store.transaction("import"):
        events_before = store.counts()["events"]
        for raw in chunks:
            raw = _normalise_columns(src, raw, warn=first)
            first = False
            start = int(raw.index[0]) if len(raw) else 0
            if src.kind == "csv":
                # Blank lines were kept so labels match line numbers; drop them now.
                raw = raw.loc[~_blank_rows(raw)]
            if raw.empty:
                continue
            try:
                frame = _parse(src, raw, host)
            except InputError:
                if text_of is None:
                    raise
                # the typed chunk failed a check: read it again as text, whose checks
                # name the line, column and value as they are written in the file
                text = _normalise_columns(src, text_of(start), warn=False)
                frame = _parse(src, text.loc[~_blank_rows(text)], host)
            runs = _Runs.of(frame)
            state.add(frame, runs)
            pending.add(frame, runs)
        pending.flush()
        if not state.rows:
            raise InputError(
                f"{path}: no data rows; expected one row per sample after the header"
            )
        containers = state.containers()
        store.write(containers=containers, events=state.named_events())
        events_added = store.counts()["events"] - events_before
    added = pending.added
    return ImportSummary(
        rows=state.rows,
        containers=len(containers),
        samples_added=added,
        events_added=events_added,
        skipped_duplicates=state.rows - added,
        blank_memory=state.blank_memory,
        blank_cpu=state.blank_cpu,
        declared_changed=int(state.changed.sum()),
    )


# --------------------------------------------------------------------------- export


def _default_workload(containers: pd.DataFrame) -> pd.Series[str]:
    """The workload the analysis derives (Compose service, Kubernetes owner, name)."""
    from rightsize.analysis.workloads import workload_names

    return workload_names(containers).fillna(containers["name"]).astype("str")


def _export_frame(
    samples: pd.DataFrame,
    containers: pd.DataFrame,
    events: pd.DataFrame,
    workload_of: WorkloadOf | None,
    hosts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    from rightsize.analysis.usage import usage_series

    keys = ["host", "container_id"]
    derived = (workload_of or _default_workload)(containers)
    info = containers[[*keys, "name", "image", "labels", *DECLARED_COLUMNS]].copy()
    info["workload"] = containers["workload"].where(containers["workload"].notna(), derived)
    info["labels"] = [
        json.dumps(v, sort_keys=True) if isinstance(v, dict) and v else None
        for v in info["labels"].tolist()
    ]
    info["image"] = info["image"].where(info["image"].astype("str") != "", None)
    s = samples.assign(
        host=samples["host"].astype("str"), container_id=samples["container_id"].astype("str")
    ).merge(info, on=keys, how="left", validate="many_to_one")

    # the analysis' own rates and OOM attribution, so that an import gives the same answers
    v1 = set()
    if hosts is not None and len(hosts):
        v1 = set(hosts.loc[hosts["cgroup_version"].astype(str) == "1", "host"].astype(str))
    use = usage_series(s, events, failcnt_hosts=set(s["host"]) - v1).frame
    per_row = pd.DataFrame(
        {
            "host": use["host"].astype("str"),
            "container_id": use["container_id"].astype("str"),
            "ts": use["ts"],
            "_cpu": use["cpu"],
            "_kills": use["oom_kills"],
        }
    )
    s = s.merge(per_row, on=[*keys, "ts"], how="left", validate="one_to_one")
    s = s.sort_values([*keys, "ts"], kind="stable").reset_index(drop=True)
    kills = s.groupby(keys, sort=False)["_kills"].cumsum().fillna(0).round()
    exits, restarts = _lifecycle_counts(s, events)

    # nanoseconds: the engine's read times are finer than microseconds, and rates
    # over 1 s intervals would change in the sixth digit
    nanos = np.round(s["ts"].to_numpy(dtype="float64") * 1e9).astype("int64")
    stamps = np.datetime_as_string(nanos.astype("datetime64[ns]"), unit="ns")
    ints: Any = "Int64"
    out = pd.DataFrame(
        {
            "timestamp": pd.Series(stamps, index=s.index, dtype="str") + "Z",
            "container": s["container_id"],
            "workload": s["workload"].fillna(s["name"]).fillna(s["container_id"]),
            "host": s["host"],
            "name": s["name"].fillna(s["container_id"]),
            "cpu_seconds_total": s["cpu_total_ns"] / 1e9,
            "cpu_cores": s["cpu_cores"].where(s["cpu_cores"].notna(), s["_cpu"]),
            "memory_bytes": s["mem_working_set"].round().astype(ints),
            "cpu_request": s["cpu_request"],
            "cpu_limit": s["cpu_limit"],
            "memory_request": s["memory_request"].round().astype(ints),
            "memory_limit": s["memory_limit"].round().astype(ints),
            "cpu_periods_total": s["periods"].round().astype(ints),
            "cpu_throttled_periods_total": s["throttled_periods"].round().astype(ints),
            "cpu_throttled_seconds_total": s["throttled_ns"] / 1e9,
            "oom_kills_total": kills.astype("int64"),
            "image": s["image"],
            "labels": s["labels"],
            "oom_exits_total": exits,
            "restarts_total": restarts,
        },
        columns=list(EXPORT_COLUMNS),
    )
    return out.reset_index(drop=True)


def _lifecycle_counts(s: pd.DataFrame, events: pd.DataFrame) -> tuple[Any, Any]:
    """Per row (sorted by container and time): OOM exits and (re)starts so far.

    An event counts on the row whose interval holds it (the first reading at or
    after it), as the analysis attributes them; an OOM exit (a ``die`` within
    seconds of an OOM kill) after a container's last reading lands on that reading.
    """
    from rightsize.analysis.pipeline import oom_exit_times

    n = len(s)
    exits = np.zeros(n, dtype=np.int64)
    restarts = np.zeros(n, dtype=np.int64)
    if not len(events) or not n:
        return exits, restarts
    codes, keys = pd.factorize(pd.MultiIndex.from_arrays([s["host"], s["container_id"]]))
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    bounds = dict(zip(keys, zip(starts, np.r_[starts[1:], n], strict=True), strict=True))
    ts = s["ts"].to_numpy(dtype=np.float64)
    for key, dies in oom_exit_times(events).items():
        span = bounds.get(key)
        if span is not None:
            lo, hi = int(span[0]), int(span[1])
            rows = np.minimum(lo + np.searchsorted(ts[lo:hi], dies, side="left"), hi - 1)
            np.add.at(exits, rows, 1)
    ev = events[events["action"].isin(("start", "restart"))]
    for (host, cid), g in ev.groupby(["host", "container_id"], sort=False):
        span = bounds.get((str(host), str(cid)))
        if span is None:
            continue
        lo, hi = int(span[0]), int(span[1])
        begun = g["ts"].to_numpy(dtype=np.float64)
        rows = lo + np.searchsorted(ts[lo:hi], begun, side="left")
        np.add.at(restarts, rows[(rows > lo) & (rows < hi)], 1)
    by = [s["host"], s["container_id"]]
    return (
        pd.Series(exits).groupby(by, sort=False).cumsum().to_numpy(),
        pd.Series(restarts).groupby(by, sort=False).cumsum().to_numpy(),
    )


def _terminal_safe_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with control/bidi characters of its text columns made visible (for stdout)."""
    from rightsize.render.terminal import UNSAFE, term_safe

    out = frame.copy()
    changed = 0
    for col in out.columns:
        text = out[col]
        if text.dtype != object and not pd.api.types.is_string_dtype(text):
            continue
        try:
            unsafe = text.str.contains(UNSAFE.pattern, regex=True, na=False).astype(bool)
        except AttributeError:  # no strings in the column
            continue
        if unsafe.any():
            changed += int(unsafe.sum())
            out[col] = text.where(~unsafe, text[unsafe].map(term_safe))
    if changed:
        log.warning("export: %d values with control or bidirectional characters are escaped "
                    "on stdout (\\x1b); use --output FILE for the exact values", changed)
    return out


def export_samples(
    store_path: Path,
    out: Path | None = None,
    *,
    fmt: str = "csv",
    since: float | None = None,
    until: float | None = None,
    workload_of: WorkloadOf | None = None,
) -> int:
    """Write the store's samples in the import format; returns rows written.

    ``out=None`` writes CSV to stdout, with control and bidirectional characters
    of text made visible (``\\x1b``; a warning says so). Files are written atomically (temp file
    + rename); a ``.gz`` name gzips the CSV. In Parquet, ``timestamp`` is a
    UTC microsecond timestamp column; in CSV, ISO 8601 with ``Z``.
    ``workload_of(containers)`` derives the workload of containers without an
    explicit one (default: the container name).
    """
    if fmt not in ("csv", "parquet"):
        raise UsageError(f"invalid export format {fmt!r}: expected csv or parquet")
    if fmt == "parquet" and out is None:
        raise UsageError("parquet export needs an output file (--output FILE)")
    pq: Any = _pyarrow_parquet() if fmt == "parquet" else None
    ds = load(store_path, since=since, until=until)
    frame = _export_frame(ds.samples, ds.containers, ds.events, workload_of, ds.hosts)
    if out is None:
        _terminal_safe_text(frame).to_csv(sys.stdout, index=False)
        return len(frame)
    out = Path(out)
    if fmt == "parquet":
        import pyarrow as pa

        table_frame = frame.assign(
            timestamp=pd.to_datetime(frame["timestamp"], format="ISO8601", utc=True).astype(
                "datetime64[us, UTC]"
            )
        )
        table = pa.Table.from_pandas(table_frame, preserve_index=False)
        write_stream(out, lambda fh: pq.write_table(table, fh), what="the export")
    else:
        gz = out.name.lower().endswith(".gz")
        write_stream(
            out,
            lambda fh: frame.to_csv(fh, index=False, compression="gzip" if gz else None),
            what="the export",
        )
    return len(frame)
