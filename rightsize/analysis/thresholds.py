"""Thresholds that turn usage statistics into findings, with documented defaults.

Every field maps 1:1 onto a key of the config's ``[thresholds]`` table
(``[thresholds.prices]`` for :class:`Prices`); :meth:`Thresholds.from_mapping`
does that mapping and names any unknown key. Ratios are fractions (0.9 = 90 %),
CPU is in cores, memory in bytes, durations in seconds. A severity cut-off set
to ``None`` disables that severity (TOML cannot say ``null``: leave the key out
or use ``inf``).

Defaults and where they come from:

- data: at least ``min_samples`` = 30 samples over ``min_duration`` = 1 min
  of history (:data:`MIN_SAMPLES`, :data:`MIN_DURATION`), else no
  recommendation and an ``insufficient_data`` finding (info). This is the one
  rule: the default strategy's ``min_samples``/``min_hours`` follow it, and
  :func:`data_shortfall` writes the one message the finding and the
  strategy's note share. Short but sufficient history is not "insufficient":
  it lowers the recommendation's confidence (and so widens its headroom).
  ``gap_factor`` = 3: an interval longer than 3 x the container's median
  interval is a gap (not averaged across).
- ``oom_risk``: the memory working set's peak at ≥ 80 % of the limit → info,
  ≥ 90 % (or above 80 % in ≥ 25 % of samples) → warning, p99 ≥ 95 % → critical.
- ``cpu_throttled``: share of CFS periods throttled ≥ 5 % → info, ≥ 25 %
  (kubernetes-mixin ``CPUThrottlingHigh``) → warning, ≥ 75 % → critical;
  ignored under 100 periods (10 s of runnable time at the 100 ms period).
- ``under_request``: p95 usage above the request (ratio > 1) and by at least
  50m CPU / 16 MiB → warning; critical disabled by default.
- ``over_request``: request ≥ 2 x usage (p95 for CPU, peak for memory) and
  at least 100m / 100 MiB idle (KRR's "ok" band) → info; ≥ 250m / 256 MiB
  idle (KRR's "warning" band) → warning; critical disabled by default.
- Cut-offs of one finding must not decrease with severity (info ≤ warning ≤
  critical, e.g. ``oom_risk_warning`` ≤ ``oom_risk_critical``,
  ``over_request_warning_cpu`` ≤ ``over_request_critical_cpu``; a disabled
  one is skipped): :meth:`Thresholds.from_mapping` names both keys otherwise.
  Every value is a number ≥ 0.
- ``no_limit``/``no_request``: a missing memory limit is a warning (unbounded
  memory can take the host down); the others are info (no CPU limit is a
  legitimate choice, and plain Docker has no requests).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, get_args

from rightsize.errors import UsageError
from rightsize.model import Severity
from rightsize.units import format_duration

MiB = 2**20

__all__ = ["MIN_DURATION", "MIN_SAMPLES", "Prices", "Thresholds", "data_shortfall"]

#: fewest samples (CPU and memory both known) for any recommendation
MIN_SAMPLES = 30
#: shortest history, in seconds from the first to the last sample, for any recommendation
MIN_DURATION = 60.0


def data_shortfall(
    samples: int,
    span: float,
    min_samples: float = MIN_SAMPLES,
    min_duration: float = MIN_DURATION,
) -> str | None:
    """Why ``samples`` over ``span`` seconds are too little for a recommendation (None: enough).

    The one wording of the rule, e.g. ``20 samples over 19s (at least 30 samples
    over 1m needed)``, used by the ``insufficient_data`` finding and the strategy note.
    """
    if samples >= min_samples and span >= min_duration:
        return None
    have = f"{samples} sample{'s' if samples != 1 else ''} over {format_duration(max(span, 0.0))}"
    need = f"at least {min_samples:g} samples over {format_duration(min_duration)} needed"
    return f"{have} ({need})"


@dataclass(frozen=True)
class Prices:
    """Optional prices, to put waste in money (``None`` = not configured)."""

    cpu_per_core_hour: float | None = None
    memory_per_gib_hour: float | None = None
    #: hours in the "per month" figures of messages (730 = 8760 / 12)
    hours_per_month: float = 730.0

    @property
    def configured(self) -> bool:
        return self.cpu_per_core_hour is not None or self.memory_per_gib_hour is not None


@dataclass(frozen=True)
class Thresholds:
    """Finding thresholds and severity cut-offs (see the module docstring)."""

    # data sufficiency and gaps
    min_samples: int = MIN_SAMPLES
    min_duration: float = MIN_DURATION
    gap_factor: float = 3.0

    # oom_risk: peak (max) working set / memory limit, p99 / limit, time share above
    oom_risk_info: float | None = 0.8
    oom_risk_warning: float | None = 0.9
    oom_risk_critical: float | None = 0.95
    oom_risk_high_water: float = 0.8
    oom_risk_share_warning: float | None = 0.25

    # cpu_throttled: throttled periods / periods over the window
    cpu_throttled_info: float | None = 0.05
    cpu_throttled_warning: float | None = 0.25
    cpu_throttled_critical: float | None = 0.75
    cpu_throttled_min_periods: int = 100

    # under_request: p95 usage / request
    under_request_warning: float | None = 1.0
    under_request_critical: float | None = None
    under_request_min_cpu: float = 0.05
    under_request_min_memory: int = 16 * MiB

    # over_request: request / usage (p95 CPU, peak memory) and idle amount
    over_request_ratio: float = 2.0
    over_request_min_cpu: float = 0.1
    over_request_min_memory: int = 100 * MiB
    over_request_warning_cpu: float | None = 0.25
    over_request_warning_memory: int | None = 256 * MiB
    over_request_critical_cpu: float | None = None
    over_request_critical_memory: int | None = None

    # nothing declared
    no_limit_cpu_severity: Severity = "info"
    no_limit_memory_severity: Severity = "warning"
    no_request_cpu_severity: Severity = "info"
    no_request_memory_severity: Severity = "info"

    prices: Prices = field(default_factory=Prices)

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], *, path: str = "thresholds") -> Thresholds:
        """Build from a config table; unknown keys and wrong types raise UsageError.

        ``inf`` or ``None`` for a severity cut-off disables it; a nested
        ``prices`` table fills :class:`Prices`.
        """
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in known:
                raise UsageError(
                    f"unknown config key {path}.{key}: known keys are {', '.join(sorted(known))}"
                )
            if key == "prices":
                values[key] = _prices(value, f"{path}.prices")
            else:
                values[key] = _coerce(known[key].type, value, f"{path}.{key}")
        result = replace(cls(), **values)
        _check_order(result, values, path)
        return result


#: severity cut-offs that must not decrease along each chain (None = disabled, skipped)
_ORDER: tuple[tuple[str, ...], ...] = (
    ("oom_risk_info", "oom_risk_warning", "oom_risk_critical"),
    ("cpu_throttled_info", "cpu_throttled_warning", "cpu_throttled_critical"),
    ("under_request_warning", "under_request_critical"),
    ("over_request_warning_cpu", "over_request_critical_cpu"),
    ("over_request_warning_memory", "over_request_critical_memory"),
)


def _check_order(t: Thresholds, given: Mapping[str, Any], path: str) -> None:
    """A lower severity's cut-off above a higher one's is an error naming both keys."""
    for chain in _ORDER:
        set_ = [(k, getattr(t, k)) for k in chain if getattr(t, k) is not None]
        for (low, a), (high, b) in itertools.pairwise(set_):
            if a > b:
                raise UsageError(
                    f"{_shown(path, low, a, given)} is above {_shown(path, high, b, given)}: "
                    "a lower severity's threshold must not exceed a higher one's"
                )


def _shown(path: str, key: str, value: float, given: Mapping[str, Any]) -> str:
    return f"{path}.{key} = {value:.12g}" + ("" if key in given else " (the default)")


def _prices(table: Any, path: str) -> Prices:
    if not isinstance(table, Mapping):
        raise UsageError(f"{path}: expected a table")
    known = {f.name for f in fields(Prices)}
    out: dict[str, float | None] = {}
    for key, value in table.items():
        if key not in known:
            raise UsageError(
                f"unknown config key {path}.{key}: known keys are {', '.join(sorted(known))}"
            )
        out[key] = _coerce("float | None", value, f"{path}.{key}")
    return Prices(**out)  # type: ignore[arg-type]


def _coerce(annotation: Any, value: Any, path: str) -> Any:
    kind = str(annotation)
    optional = "None" in kind
    if value is None:
        if optional:
            return None
        raise UsageError(f"{path}: a value is required")
    if kind == "Severity":
        allowed = get_args(Severity)
        if value not in allowed:
            raise UsageError(f"{path}: expected one of {', '.join(allowed)}, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{path}: expected a number, got {value!r}")
    number = float(value)
    if math.isnan(number) or number < 0:
        raise UsageError(f"{path}: expected a number ≥ 0, got {value!r}")
    if math.isinf(number):
        if optional:
            return None
        raise UsageError(f"{path}: expected a finite number, got {value!r}")
    if kind.startswith("int"):
        return int(number)
    return number
