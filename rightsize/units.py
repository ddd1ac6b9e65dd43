"""Units: Kubernetes quantities, durations, and their display forms.

Internally CPU is in cores (float) and memory in bytes (int). Displayed values
use Kubernetes quantities (``250m``, ``1.5``, ``384Mi``, ``2Gi``).

Quantity parsing follows the apimachinery grammar exactly (case-sensitive
suffixes, no whitespace, rounding up to nano precision).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_UP, Decimal, localcontext

from rightsize.errors import UsageError

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(
    r"^(?P<sign>[+-]?)(?P<num>\d+\.?\d*|\.\d+)"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$"
)
_NANO = Decimal("1e-9")
_MAX = Decimal(2**63 - 1)
#: the largest CPU quantity: its millicores (``MilliValue()``) must fit an int64
_MAX_CORES = _MAX / 1000
#: suffixes that make sense for CPU (cores and fractions of a core)
_CPU_SUFFIXES = frozenset({"", "m", "u", "n"})
#: suffixes that are fractions of a unit: meaningless for bytes (``500m`` = 0.5 bytes)
_FRACTIONS = {"m": "1e-3", "u": "1e-6", "n": "1e-9"}
_EXPECTED = {
    "quantity": "a Kubernetes quantity like 250m, 1.5, 128Mi or 1G",
    "CPU quantity": "cores (0.5, 2) or millicores (250m)",
    "memory quantity": "bytes (536870912) or a byte quantity like 512Mi or 1G",
}


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _split(text: object, what: str) -> tuple[re.Match[str], str]:
    """The grammar match of a quantity and its text; UsageError for a wrong type or syntax."""
    expected = _EXPECTED.get(what, _EXPECTED["quantity"])
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        kind = ("a list" if isinstance(text, list | tuple) else "a mapping"
                if isinstance(text, dict) else "binary data" if isinstance(text, bytes)
                else f"a {type(text).__name__}")
        raise UsageError(f"invalid {what} {_shown(text)}: got {kind}; expected {expected}")
    if isinstance(text, float) and not math.isfinite(text):
        raise UsageError(f"invalid {what} {text!r}: expected a finite number")
    if not isinstance(text, str):
        text = repr(text) if isinstance(text, float) else str(text)
    m = _QUANTITY.match(text)
    if not m:
        raise UsageError(f"invalid {what} {_shown(text)}: expected {expected}")
    return m, text


def _value(m: re.Match[str], text: str, what: str, limit: Decimal = _MAX,
           limit_text: str = "2^63-1") -> Decimal:
    """The matched quantity's exact value, rounded up to nano precision, at most ``limit``."""
    too_large = UsageError(f"invalid {what} {_shown(text)}: larger than {limit_text}")
    suffix = m["suffix"] or ""
    with localcontext() as ctx:  # exact: enough digits for the number x 2^60 at nano precision
        ctx.prec = len(m["num"]) + 40
        number = Decimal(m["num"])
        if suffix in _BINARY:
            value = number * _BINARY[suffix]
        elif suffix in _DECIMAL:
            value = number * _DECIMAL[suffix]
        elif number == 0:
            value = Decimal(0)
        else:
            exponent = int(suffix[1:])
            if exponent > 40:
                raise too_large
            value = number.scaleb(max(exponent, -40))
        if value > limit:
            raise too_large
        if m["sign"] == "-":
            value = -value
        return value.quantize(_NANO, rounding=ROUND_UP) if value != 0 else Decimal(0)


def parse_quantity(text: str | int | float, *, what: str = "quantity") -> Decimal:
    """Parse a Kubernetes quantity (``250m``, ``1.5Gi``, ``1e3``) to an exact Decimal.

    Rounds up (away from zero) to nano precision, as apimachinery does.
    Raises :class:`UsageError` naming the value for anything else (``1K``,
    ``1KiB``, ``" 1"``, a list or mapping) and for magnitudes above 2^63-1.
    """
    m, shown = _split(text, what)
    return _value(m, shown, what)


def parse_cpu(text: str | int | float, *, lenient: bool = False) -> float:
    """A CPU quantity in cores: a number (``0.5``, ``2``, ``1e-1``) or an ``m``/``u``/``n`` suffix.

    Byte suffixes (``512Mi``) and multipliers (``1k``, ``1G``) are refused:
    they are memory quantities in a CPU field. ``lenient`` accepts them as
    the API server does (``512Mi`` = 536870912 cores). At most 2^63-1 millicores.
    """
    what = "CPU quantity"
    m, shown = _split(text, what)
    suffix = m["suffix"] or ""
    if (not lenient and suffix not in _CPU_SUFFIXES
            and (suffix == "E" or suffix[:1] not in ("e", "E"))):
        kind = "a byte suffix" if suffix in _BINARY else "a multiplier for bytes"
        raise UsageError(
            f"invalid {what} {_shown(shown)}: {suffix} is {kind}; expected {_EXPECTED[what]}"
        )
    return float(_value(m, shown, what, _MAX_CORES, "2^63-1 millicores"))


def parse_memory(text: str | int | float, *, lenient: bool = False) -> int:
    """A memory quantity in whole bytes (rounded up, as ``Value()`` does), at most 2^63-1.

    ``m``/``u``/``n`` are refused: ``500m`` is half a byte, almost always a
    mistake for ``500Mi`` (the API server only warns about it). ``lenient``
    accepts them as the API server does: ``500m`` is 0.5 bytes, rounded up to 1.
    """
    what = "memory quantity"
    m, shown = _split(text, what)
    suffix = m["suffix"] or ""
    if suffix in _FRACTIONS and not lenient:
        raise UsageError(
            f"invalid {what} {_shown(shown)}: {suffix} means {_FRACTIONS[suffix]} "
            f"(a fraction of a byte); expected {_EXPECTED[what]}"
        )
    return int(_value(m, shown, what, _MAX, "2^63-1 bytes").to_integral_value(ROUND_CEILING))


def round_cpu_up(cores: float) -> float:
    """Round cores up to whole millicores (never below the input, never below 1m if > 0)."""
    if cores <= 0:
        return 0.0
    milli = math.ceil(round(cores * 1000, 6))
    return max(milli, 1) / 1000


def round_memory_up(nbytes: float) -> int:
    """Round bytes up to whole MiB (never below the input)."""
    if nbytes <= 0:
        return 0
    whole = math.ceil(nbytes)
    return -(-whole // 2**20) * 2**20


def format_cpu(cores: float | None) -> str:
    """Cores as the shortest Kubernetes quantity: ``250m``, ``1``, ``1500m`` → ``1.5``."""
    if cores is None or (isinstance(cores, float) and math.isnan(cores)):
        return "-"
    milli = math.ceil(round(cores * 1000, 6))
    if milli % 1000 == 0:
        return str(milli // 1000)
    if milli % 100 == 0:
        return format(Decimal(milli).scaleb(-3).normalize(), "f")
    return f"{milli}m"


def format_memory(nbytes: float | None) -> str:
    """Bytes as a readable binary quantity: ``512Mi``, ``1Gi``, ``1.5Gi``, ``300Ki``."""
    if nbytes is None or (isinstance(nbytes, float) and math.isnan(nbytes)):
        return "-"
    n = float(nbytes)
    for suffix, factor in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if abs(n) >= factor:
            value = n / factor
            if value == int(value):
                return f"{int(value)}{suffix}"
            if suffix in ("Ti", "Gi") and value < 10:
                return f"{value:.2f}".rstrip("0").rstrip(".") + suffix
            if suffix == "Ki":
                return f"{math.ceil(value)}Ki"
            return f"{value:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{int(n)}"


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str, *, what: str = "duration") -> float:
    """``90s``, ``2m``, ``1h30m``, ``7d``, ``500ms`` (or bare seconds) → seconds (> 0)."""
    s = text.strip()
    seconds: float
    if re.fullmatch(r"\d+(?:\.\d+)?", s):
        seconds = float(s)
    else:
        pos, seconds = 0, 0.0
        for m in _DURATION_PART.finditer(s):
            if m.start() != pos:
                break
            seconds += float(m[1]) * _DURATION_UNITS[m[2]]
            pos = m.end()
        if pos != len(s) or not s:
            raise UsageError(
                f"invalid {what} {text!r}: expected a duration like 90s, 10m, 2h or 7d"
            )
    if seconds <= 0:
        raise UsageError(f"invalid {what} {text!r}: must be greater than zero")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds as a compact duration: ``90s`` → ``1m30s``, ``86400`` → ``1d``."""
    s = round(seconds)
    if s < 60:
        return f"{seconds:.0f}s" if seconds >= 1 else f"{seconds * 1000:.0f}ms"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= size:
            parts.append(f"{s // size}{unit}")
            s %= size
    return "".join(parts[:2])


def iso_utc(ts: float | None) -> str | None:
    """Unix seconds → ``2026-11-27T07:00:00Z`` (None and NaN give None)."""
    if ts is None or math.isnan(ts):
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
