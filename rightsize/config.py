"""Configuration: ``rightsize.toml`` or ``[tool.rightsize]`` in ``pyproject.toml``.

Lookup: ``--config PATH`` → ``./rightsize.toml`` → ``[tool.rightsize]`` in
``./pyproject.toml`` → defaults. Command-line options override the file;
``RIGHTSIZE_STRATEGY`` overrides the file's strategy name.

```toml
exclude = ["kube-system/*"]          # workload patterns (fnmatch) left out

[strategy]
name = "rightsize"                   # rightsize | krr-simple | vpa
[strategy.rightsize]                 # parameters of one strategy
cpu_headroom = 0.1

[thresholds]                         # see rightsize.analysis.thresholds
oom_risk_warning = 0.9

[prices]                             # optional: waste in money
cpu_per_core_hour = 0.031
memory_per_gib_hour = 0.004

[check]                              # the CI gate (rightsize.gate)
fail_on = "critical"                 # warning | critical
ignore = ["no_request"]              # kinds, or kind/resource, never gated
[check.overrides."batch-*"]          # workloads matching an fnmatch pattern
fail_on = "warning"                  # replaces the global fail_on (and --fail-on)
ignore = ["over_request/memory"]     # added to the global ignore

[store]                              # how long each resolution is kept (per store)
raw = "48h"                          # raw samples, from each container's newest one
minute = "14d"                       # 1-minute rollups; older ones become 5-minute ones
```

Every error names the key path (``thresholds.oom_risk_warning``) and what
was expected; an unknown key is an error. A config file that is not UTF-8,
not TOML or nested too deeply is an error naming the file (exit 2). A broken
``pyproject.toml`` is only an error when it holds ``[tool.rightsize`` (a line
scan finds it even in a file TOML cannot read) or was named with
``--config``; otherwise a one-line warning and the defaults.

Strategy parameters are range-checked (see
:data:`rightsize.analysis.strategies.PARAM_RANGES`: percentiles, margins ≥ 0,
half-lives > 0, …), and a severity cut-off must not pass the next one
(``oom_risk_warning`` ≤ ``oom_risk_critical``; see
:mod:`rightsize.analysis.thresholds`).
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rightsize.analysis.thresholds import Thresholds
from rightsize.errors import InputError, UsageError
from rightsize.gate import FAIL_ON, Override, override_path, parse_ignore
from rightsize.model import Severity
from rightsize.store.chunks import Retention

log = logging.getLogger(__name__)

TOP_KEYS = ("exclude", "strategy", "thresholds", "prices", "check", "store")


@dataclass(frozen=True)
class Config:
    """The validated configuration."""

    source: Path | None = None
    strategy: str = "rightsize"
    strategy_params: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)
    exclude: tuple[str, ...] = ()
    fail_on: str = "critical"
    check_ignore: tuple[str, ...] = ()
    check_overrides: tuple[Override, ...] = ()
    #: ``[store]``: how long each resolution is kept (None: what the store has)
    retention: Retention | None = None

    def params_for(self, strategy: str) -> dict[str, float]:
        return dict(self.strategy_params.get(strategy, {}))


def _unknown(path: str, key: str, known: tuple[str, ...] | list[str]) -> UsageError:
    where = f"{path}.{key}" if path else key
    return UsageError(f"unknown config key {where}: known keys are {', '.join(sorted(known))}")


def _table(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UsageError(f"config key {path}: expected a table, got {value!r}")
    return value


def from_mapping(doc: Mapping[str, Any], source: Path | None = None) -> Config:
    """Validate a parsed TOML document into a :class:`Config`."""
    from rightsize.analysis.strategies import resolve_params, strategy_names

    for key in doc:
        if key not in TOP_KEYS:
            raise _unknown("", key, TOP_KEYS)
    cfg = Config(source=source)
    if "store" in doc:
        cfg = replace(cfg, retention=_retention(_table(doc["store"], "store")))

    exclude = doc.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(x, str) for x in exclude):
        raise UsageError("config key exclude: expected a list of workload patterns (strings)")
    cfg = replace(cfg, exclude=tuple(exclude))

    strategy = _table(doc.get("strategy", {}), "strategy")
    names = strategy_names()
    params: dict[str, dict[str, float]] = {}
    for key, value in strategy.items():
        if key == "name":
            if value not in names:
                raise UsageError(
                    f"config key strategy.name: unknown strategy {value!r}; "
                    f"expected one of {', '.join(names)}"
                )
            cfg = replace(cfg, strategy=value)
        elif key in names:
            table = _table(value, f"strategy.{key}")
            for pk, pv in table.items():
                if isinstance(pv, bool) or not isinstance(pv, int | float):
                    raise UsageError(f"config key strategy.{key}.{pk}: expected a number, "
                                     f"got {pv!r}")
            resolve_params(key, dict(table))  # names unknown keys as strategy.<name>.<key>
            params[key] = {k: float(v) for k, v in table.items()}
        else:
            raise _unknown("strategy", key, ["name", *names])
    cfg = replace(cfg, strategy_params=params)

    thresholds = dict(_table(doc.get("thresholds", {}), "thresholds"))
    if "prices" in doc:
        if "prices" in thresholds:
            raise UsageError("config: prices given twice ([prices] and [thresholds.prices])")
        thresholds["prices"] = _table(doc["prices"], "prices")
    cfg = replace(cfg, thresholds=Thresholds.from_mapping(thresholds))

    check = _table(doc.get("check", {}), "check")
    for key, value in check.items():
        if key == "fail_on":
            cfg = replace(cfg, fail_on=_fail_on(value, "check.fail_on"))
        elif key == "ignore":
            cfg = replace(cfg, check_ignore=_ignore_list(value, "check.ignore"))
        elif key == "overrides":
            overrides = []
            for pattern, table in _table(value, "check.overrides").items():
                path = override_path(pattern)
                table = _table(table, path)
                fail_on: Severity | None = None
                ignore: tuple[str, ...] = ()
                for okey, ovalue in table.items():
                    if okey == "fail_on":
                        fail_on = _fail_on(ovalue, f"{path}.fail_on")
                    elif okey == "ignore":
                        ignore = _ignore_list(ovalue, f"{path}.ignore")
                    else:
                        raise _unknown(path, okey, ["fail_on", "ignore"])
                overrides.append(Override(pattern, fail_on, ignore))
            cfg = replace(cfg, check_overrides=tuple(overrides))
        else:
            raise _unknown("check", key, ["fail_on", "ignore", "overrides"])
    return cfg


def _retention(table: Mapping[str, Any]) -> Retention:
    """``[store]``: ``raw`` and ``minute`` durations (e.g. "48h", "14d")."""
    from rightsize.units import parse_duration

    values: dict[str, float] = {}
    for key, value in table.items():
        if key not in ("raw", "minute"):
            raise _unknown("store", key, ["raw", "minute"])
        if not isinstance(value, str):
            raise UsageError(f"config key store.{key}: expected a duration such as \"48h\", "
                             f"got {value!r}")
        try:
            values[key] = parse_duration(value, what=f"config key store.{key}")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    try:
        return Retention(**values)
    except ValueError as exc:
        raise UsageError(f"config [store]: {exc}") from None


def _fail_on(value: Any, path: str) -> Severity:
    for severity in FAIL_ON:
        if value == severity:
            return severity
    raise UsageError(f"config key {path}: expected warning or critical, got {value!r}")


def _ignore_list(value: Any, path: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise UsageError(f"config key {path}: expected a list of finding kinds "
                         f"(\"kind\" or \"kind/resource\"), got {value!r}")
    for i, entry in enumerate(value):
        if not isinstance(entry, str):
            raise UsageError(f"config key {path}[{i}]: expected a string, got {entry!r}")
        try:
            parse_ignore(entry)
        except ValueError as exc:
            raise UsageError(f"config key {path}[{i}]: {exc}") from None
    return tuple(value)


def _read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's document; one-line errors naming the file and what was expected."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the config file {path}: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "expected a UTF-8 TOML file"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML: {exc}") from exc
    except RecursionError:
        raise InputError(
            f"{path}: invalid TOML: arrays or tables nested too deeply; expected a config "
            "file of a few levels"
        ) from None


#: a line opening ``[tool.rightsize]`` (or a sub-table), found even in a broken file
_TOOL_TABLE = re.compile(rb"^\s*\[{1,2}\s*tool\s*\.\s*[\"']?rightsize\b", re.MULTILINE)


def _pyproject(path: Path) -> Mapping[str, Any] | None:
    """``[tool.rightsize]`` of ``pyproject.toml`` (None: not there).

    A broken file that does not mention ``[tool.rightsize`` is some other
    tool's problem: a one-line warning, and the defaults.
    """
    try:
        pyproject = _read_toml(path)
    except (InputError, UsageError) as exc:
        try:
            ours = _TOOL_TABLE.search(path.read_bytes()) is not None
        except OSError:
            ours = False
        if ours:
            raise
        log.warning("%s; ignoring it (it has no [tool.rightsize] table)", exc)
        return None
    tool = pyproject.get("tool", {})
    if isinstance(tool, Mapping) and "rightsize" in tool:
        return _table(tool["rightsize"], "tool.rightsize")
    return None


def load_config(path: Path | None = None, *, cwd: Path | None = None,
                env: Mapping[str, str] | None = None) -> Config:
    """Find, read and validate the configuration (see the module docstring)."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    doc: Mapping[str, Any] = {}
    source: Path | None = None
    if path is not None:
        source, doc = path, _read_toml(path)
        if path.name == "pyproject.toml":  # --config pyproject.toml: its [tool.rightsize]
            tool = doc.get("tool", {})
            doc = _table(tool.get("rightsize", {}) if isinstance(tool, Mapping) else {},
                         "tool.rightsize")
    elif (cwd / "rightsize.toml").is_file():
        source = cwd / "rightsize.toml"
        doc = _read_toml(source)
    elif (cwd / "pyproject.toml").is_file():
        table = _pyproject(cwd / "pyproject.toml")
        if table is not None:
            source, doc = cwd / "pyproject.toml", table
    try:
        cfg = from_mapping(doc, source)
    except UsageError as exc:
        if source is None:
            raise
        raise UsageError(f"{source}: {exc}") from exc
    if env.get("RIGHTSIZE_STRATEGY"):
        from rightsize.analysis.strategies import get_strategy

        cfg = replace(cfg, strategy=get_strategy(env["RIGHTSIZE_STRATEGY"]).name)
    return cfg
