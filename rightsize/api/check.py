"""``check()``: the CI gate on an analysis, with its files (baselines, JUnit, summary).

The judging is :func:`rightsize.gate.evaluate` (pure), the formats are
:mod:`rightsize.render.ci`; this module reads the baseline, writes what was
asked for through :mod:`rightsize.outputs` and returns the outcome.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rightsize import outputs
from rightsize.config import Config
from rightsize.errors import InputError, UsageError
from rightsize.gate import Baseline, GateOutcome, Override, evaluate, parse_baseline
from rightsize.render.ci import github_annotations, step_summary, to_junit, to_text

if TYPE_CHECKING:
    from rightsize.analysis.result import AnalysisResult, WorkloadResult

__all__ = ["check", "load_baseline", "write_baseline"]


def load_baseline(path: Path) -> Baseline:
    """Read a baseline file; a missing or malformed one is an :class:`InputError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the baseline {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: the baseline is not UTF-8 text") from exc
    return parse_baseline(text, path)


def write_baseline(result: Iterable[WorkloadResult], path: Path) -> Baseline:
    """Record every current finding of ``result`` in ``path``; returns the baseline."""
    baseline = Baseline.from_result(result)
    outputs.write_text(path, baseline.dumps(), what="the baseline")
    return Baseline(baseline.entries, path)


def check(
    result: AnalysisResult,
    *,
    config: Config | None = None,
    fail_on: str | None = None,
    overrides: Sequence[Override] | None = None,
    ignore: Sequence[str] | None = None,
    baseline: Path | None = None,
    write_baseline_to: Path | None = None,
    junit: Path | None = None,
    github: bool = False,
    summary: Path | None = None,
    out: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> GateOutcome:
    """Everything ``rightsize check`` does after the analysis; returns the outcome.

    ``fail_on``, ``overrides`` and ``ignore`` default to ``config``'s
    ``[check]`` (or the defaults). ``write_baseline_to`` records the current
    findings and then judges them against that new baseline (so the run
    passes); it cannot be combined with ``baseline``. Writes the JUnit file;
    prints the plain-text verdict to ``out`` (default stdout) and, with
    ``github``, the ``::error``/``::warning`` lines too, and appends the
    Markdown summary to ``summary`` (default ``$GITHUB_STEP_SUMMARY`` when set).
    :func:`rightsize.gate.exit_code` turns the outcome into 0 or 1.
    """
    config = Config() if config is None else config
    out = sys.stdout if out is None else out
    env = os.environ if env is None else env
    if baseline is not None and write_baseline_to is not None:
        raise UsageError("--baseline and --write-baseline cannot be used together")
    accepted: Baseline | None = None
    if baseline is not None:
        accepted = load_baseline(baseline)
    if write_baseline_to is not None:
        accepted = write_baseline(result, write_baseline_to)
    outcome = evaluate(
        result,
        fail_on=fail_on or config.fail_on,
        baseline=accepted,
        overrides=config.check_overrides if overrides is None else overrides,
        ignore=config.check_ignore if ignore is None else ignore,
    )
    if junit is not None:
        outputs.write_text(junit, to_junit(result, outcome), what="the JUnit report")
    out.write(to_text(outcome))
    if github:
        for line in github_annotations(outcome):
            out.write(line + "\n")
        if summary is None and env.get("GITHUB_STEP_SUMMARY"):
            summary = Path(env["GITHUB_STEP_SUMMARY"])
    if summary is not None:
        outputs.append_text(summary, step_summary(result, outcome), what="the step summary")
    out.flush()
    return outcome
