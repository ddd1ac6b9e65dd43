"""The command line: parses options, calls :mod:`rightsize.api`, maps errors to exit codes.

Nothing else lives here (the option types and groups are in
:mod:`rightsize.cli_options`). Heavy modules (pandas, the analysis) are imported
inside the commands that need them, so ``rightsize collect`` starts fast.

One piece: every command is the same few lines (options → one
:mod:`rightsize.api` call → its output and exit code) under its click
decorators, which are most of the length; apart, the commands would only
spread the shared helpers (``_analysis``, ``_emit``) and the error mapping.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from rightsize.cli_options import (
    DURATION,
    TIME,
    GlobalsGroup,
    data_options,
    kubelet_from,
    prometheus_from,
    settings,
    source_options,
)
from rightsize.errors import (
    EXIT_RUNTIME,
    EXIT_USAGE,
    RightsizeError,
    UsageError,
)
from rightsize.heap import keep_freed_memory
from rightsize.logs import redact

if TYPE_CHECKING:
    from rightsize.analysis.result import AnalysisResult
    from rightsize.config import Config
    from rightsize.sources.manifests import ManifestWorkload

log = logging.getLogger("rightsize")


@click.group(cls=GlobalsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rightsize")
def cli() -> None:
    """rightsize: are your containers asking for the right CPU and memory?

    The global options work before or after the command (after it wins).
    """


def _filters(values: Sequence[str]) -> dict[str, list[str]]:
    from rightsize.sources.docker.client import parse_filters

    return parse_filters(values)


@cli.command()
@click.option("--docker-host", "docker_hosts", multiple=True, metavar="URL",
              help="Engine URL, repeatable (default DOCKER_HOST or unix:///var/run/docker.sock).")
@click.option("--interval", type=DURATION, default="10s", show_default=True,
              help="Time between rounds.")
@click.option("--duration", type=DURATION, default=None,
              help="Stop after this long (default: until SIGINT/SIGTERM).")
@click.option("--samples", type=click.IntRange(min=1), default=None,
              help="Stop after N rounds.")
@click.option("--filter", "filters", multiple=True, metavar="KEY=VALUE",
              help="Docker filter, repeatable: label=app=web, name=api.")
@click.option("--record", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Also write the raw engine payloads (secrets stripped) to this folder.")
@source_options("Where usage comes from.")
@click.option("--since", type=TIME, default=None,
              help="Prometheus: from this time (default 7d = the last 7 days).")
@click.option("--until", type=TIME, default=None, help="Prometheus: up to this time.")
@click.pass_context
def collect(ctx: click.Context, docker_hosts: tuple[str, ...], interval: float,
            duration: float | None, samples: int | None, filters: tuple[str, ...],
            record: Path | None, source: str, since: float | None, until: float | None,
            kubelet_urls: tuple[str, ...]) -> None:
    """Sample running containers (or read a cluster's history) into the store."""
    from rightsize import api

    db = settings(ctx).db
    _store_config(ctx)
    if source == "prometheus":
        prometheus = prometheus_from(ctx, required=True)
        assert prometheus is not None
        summary = api.collect_prometheus(db, prometheus, since=since, until=until)
        click.echo(summary.describe(), err=True)
        return
    if source == "kubelet":
        kstats = api.collect_kubelet(db, kubelet_from(ctx, kubelet_urls), interval=interval,
                                     duration=duration, samples=samples)
        click.echo(kstats.describe(), err=True)
        _exit_if_interrupted(ctx, kstats.signal)
        return
    from rightsize.collect import CollectOptions

    options = CollectOptions(hosts=list(docker_hosts) or [None], interval=interval,
                             duration=duration, samples=samples, filters=_filters(filters),
                             record=record)
    stats = api.collect(db, options)
    click.echo(f"collected {stats.samples} samples in {stats.rounds} rounds into {db}", err=True)
    _exit_if_interrupted(ctx, stats.signal)


def _store_config(ctx: click.Context) -> None:
    """The config's ``[store]`` retention, kept in the store a writing command writes."""
    retention = _config(ctx).retention
    if retention is not None:
        from rightsize import api

        api.configure_store(settings(ctx).db, retention)


def _exit_if_interrupted(ctx: click.Context, received: int | None) -> None:
    """Ctrl-C (SIGINT) stopped the command: exit 130 (SIGTERM is a normal end, exit 0)."""
    import signal

    if received == signal.SIGINT:
        ctx.exit(130)


@cli.command(name="import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--host", default=None, help="Host label for the imported rows.")
@click.pass_context
def import_(ctx: click.Context, source: Path, host: str | None) -> None:
    """Load usage data (CSV, Parquet, or a recorded engine folder) into the store."""
    from rightsize import api

    _store_config(ctx)
    click.echo(api.import_(settings(ctx).db, source, host=host).describe())


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True)
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Output file (default stdout; parquet needs a file).")
@click.option("--since", type=TIME, default=None,
              help="Samples from this time (duration ago, ISO 8601 or Unix seconds).")
@click.option("--until", type=TIME, default=None, help="Samples up to this time.")
@click.pass_context
def export(ctx: click.Context, fmt: str, output: Path | None, since: float | None,
           until: float | None) -> None:
    """Write the store's samples in the import format."""
    from rightsize import api

    n = api.export(settings(ctx).db, output, fmt=fmt, since=since, until=until)
    log.info("exported %d samples", n)


def _config(ctx: click.Context) -> Config:
    """The validated configuration, read once per command."""
    if "config" not in ctx.meta:
        from rightsize.config import load_config

        ctx.meta["config"] = load_config(settings(ctx).config)
    config: Config = ctx.meta["config"]
    return config


def _manifests(ctx: click.Context, paths: Sequence[Path]) -> list[ManifestWorkload]:
    """The --manifests workloads, read once per command."""
    if "manifests" not in ctx.meta:
        from rightsize.api import read_manifests

        ctx.meta["manifests"] = read_manifests(paths) if paths else []
    return list(ctx.meta["manifests"])


def _analysis(ctx: click.Context, strategy: str | None, since: float | None,
              until: float | None, workload: str | None,
              manifests: Sequence[Path] = (), history: Path | None = None) -> AnalysisResult:
    """:func:`rightsize.api.analyze` with the command's data options and config."""
    from rightsize import api

    return api.analyze(api.StorePath(settings(ctx).db), manifests=_manifests(ctx, manifests),
                       prometheus=prometheus_from(ctx), strategy=strategy,
                       config=_config(ctx), workload=workload, since=since, until=until,
                       history=history)


def _emit(text: str, output: Path | None) -> None:
    """Write a result to stdout (``-`` or nothing) or to a file (:mod:`rightsize.outputs`)."""
    if output is None or str(output) == "-":
        click.echo(text, nl=not text.endswith("\n"))
        return
    from rightsize.outputs import write_text

    write_text(output, text, what="the output")


@cli.command()
@data_options
@click.option("--strategy", default=None, help="Recommendation strategy (default rightsize).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "markdown"]),
              default="table", show_default=True)
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Write to this file (default stdout).")
@click.option("--patches", "patches_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Write kustomize patches for the --manifests workloads here.")
@click.pass_context
def analyze(ctx: click.Context, since: float | None, until: float | None, workload: str | None,
            manifests: tuple[Path, ...], strategy: str | None, fmt: str, output: Path | None,
            patches_dir: Path | None) -> None:
    """Findings and recommendations for every workload in the store."""
    from rightsize import api
    from rightsize.render import render

    if patches_dir is not None and not manifests:
        raise UsageError("--patches needs --manifests (the patches edit those manifests)")
    result = _analysis(ctx, strategy, since, until, workload, manifests)
    _emit(render(result, fmt), output)
    if patches_dir is not None:
        api.write_patches(result, _manifests(ctx, manifests), patches_dir)


@cli.command()
@data_options
@click.option("--strategy", default=None, help="Recommendation strategy (default rightsize).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("reports"), show_default=True, help="Folder of the reports.")
@click.option("--charts", type=click.Choice(["auto", "all", "none"]), default="auto",
              show_default=True,
              help="auto: full charts for the most severe workloads, sparklines for all.")
@click.pass_context
def report(ctx: click.Context, since: float | None, until: float | None, workload: str | None,
           manifests: tuple[Path, ...], strategy: str | None, out_dir: Path,
           charts: str) -> None:
    """Write the HTML report (and report.json), update latest.html and index.html."""
    from rightsize import api

    result = _analysis(ctx, strategy, since, until, workload, manifests, history=out_dir)
    paths = api.report(result, out_dir, charts=charts,  # type: ignore[arg-type]
                       prometheus=prometheus_from(ctx))
    click.echo(str(paths.html))


@cli.command()
@click.option("--docker-host", "docker_hosts", multiple=True, metavar="URL",
              help="Engine URL, repeatable (default DOCKER_HOST or unix:///var/run/docker.sock).")
@click.option("--interval", type=DURATION, default="10s", show_default=True,
              help="Time between collection rounds.")
@click.option("--duration", type=DURATION, default="5m", show_default=True,
              help="How long each cycle collects before it reports.")
@click.option("--filter", "filters", multiple=True, metavar="KEY=VALUE",
              help="Docker filter, repeatable: label=app=web, name=api.")
@click.option("--every", type=DURATION, default=None,
              help="Repeat a cycle every DURATION, forever (scheduled mode).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("reports"), show_default=True, help="Folder of the reports.")
@click.option("--window", type=DURATION, default=None,
              help="Analyze only the last DURATION of samples (default: all kept).")
@click.option("--keep-reports", type=click.IntRange(min=1), default=None,
              help="Keep only the newest N report pages (the index keeps the history).")
@click.option("--keep-samples", type=DURATION, default=None,
              help="Delete samples and events older than DURATION.")
@click.option("--manifests", multiple=True, metavar="PATH",
              type=click.Path(path_type=Path, exists=True),
              help="Kubernetes YAML or Compose files supplying declared values; repeatable.")
@click.option("--strategy", default=None, help="Recommendation strategy (default rightsize).")
@click.option("--charts", type=click.Choice(["auto", "all", "none"]), default="auto",
              show_default=True)
@source_options("docker, kubelet: sample for --duration; prometheus: read the last "
                "--duration (then what is new at each cycle) from --prometheus-url.")
@click.pass_context
def run(ctx: click.Context, docker_hosts: tuple[str, ...], interval: float, duration: float,
        filters: tuple[str, ...], every: float | None, out_dir: Path, window: float | None,
        keep_reports: int | None, keep_samples: float | None, manifests: tuple[Path, ...],
        strategy: str | None, charts: str, source: str, kubelet_urls: tuple[str, ...]) -> None:
    """Collect for --duration, then analyze and report; --every repeats it."""
    from rightsize import api
    from rightsize.collect import CollectOptions

    options = api.RunOptions(
        collect=CollectOptions(hosts=list(docker_hosts) or [None], interval=interval,
                               duration=duration, filters=_filters(filters)),
        out=out_dir, every=every, keep_reports=keep_reports, keep_samples=keep_samples,
        charts=charts, window=window,  # type: ignore[arg-type]
        manifests=_manifests(ctx, manifests), strategy=strategy,
        config=_config(ctx),  # a bad config fails now, not after collecting
        prometheus=prometheus_from(ctx, required=True) if source == "prometheus" else None,
        kubelet=kubelet_from(ctx, kubelet_urls) if source == "kubelet" else None,
    )
    _store_config(ctx)
    state = api.run(settings(ctx).db, options)
    if state.reports:
        click.echo(str(state.reports[-1]))
    _exit_if_interrupted(ctx, state.signal)


@cli.command()
@data_options
@click.option("--strategy", "strategies", multiple=True,
              help="Strategy to score, repeatable (default: all).")
@click.option("--train", type=click.FloatRange(0.05, 0.95), default=0.7, show_default=True,
              help="Share of each workload's history to fit on.")
@click.option("--refit-every", type=DURATION, default="1d", show_default=True,
              help="Refit interval when counting recommendation changes.")
@click.option("--mode", type=click.Choice(["static", "dynamic"]), default="static",
              show_default=True,
              help="static: one fit at the cut; dynamic: refit every --refit-every, apply, "
                   "replay the next period (OOMs fed back).")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Also write the scores as JSON to this file.")
@click.pass_context
def backtest(ctx: click.Context, since: float | None, until: float | None,
             workload: str | None, manifests: tuple[Path, ...], strategies: tuple[str, ...],
             train: float,
             refit_every: float, mode: str, output: Path | None) -> None:
    """Replay strategies on held-out history: slack, would-be OOMs and throttling, changes."""
    import json

    from rightsize import api

    scored = api.backtest(strategies=strategies, train=train, refit_every=refit_every, mode=mode,
                          config=_config(ctx),
                          result=_analysis(ctx, None, since, until, workload, manifests))
    click.echo(scored.format_table())
    if output is not None:
        _emit(json.dumps(scored.to_dict(), indent=2) + "\n", output)


@cli.command()
@data_options
@click.option("--strategy", default=None, help="Recommendation strategy (default rightsize).")
@click.option("--fail-on", type=click.Choice(["warning", "critical"]), default=None,
              help="Fail on findings at or above this severity (default critical, or config).")
@click.option("--baseline", "baseline_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Accept the findings recorded in this file.")
@click.option("--write-baseline", "write_baseline_path",
              type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Record the current findings as the baseline.")
@click.option("--junit", "junit_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Write JUnit XML (one testsuite per workload).")
@click.option("--github", is_flag=True,
              help="GitHub annotations, and a summary appended to $GITHUB_STEP_SUMMARY.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when the gate fails.")
@click.pass_context
def check(ctx: click.Context, since: float | None, until: float | None, workload: str | None,
          manifests: tuple[Path, ...], strategy: str | None, fail_on: str | None,
          baseline_path: Path | None, write_baseline_path: Path | None,
          junit_path: Path | None, github: bool, exit_zero: bool) -> None:
    """The CI gate: exit 1 when findings reach --fail-on."""
    from rightsize import api
    from rightsize.gate import exit_code

    if baseline_path is not None and write_baseline_path is not None:
        raise UsageError("--baseline and --write-baseline cannot be used together")
    outcome = api.check(
        _analysis(ctx, strategy, since, until, workload, manifests), config=_config(ctx),
        fail_on=fail_on, baseline=baseline_path, write_baseline_to=write_baseline_path,
        junit=junit_path, github=github, out=sys.stdout,
    )
    ctx.exit(exit_code(outcome, exit_zero))


@cli.group()
def lab() -> None:
    """Demonstration containers with known misdeclared resources."""


@lab.command("up")
@click.option("--docker-host", default=None, metavar="URL", help="Engine URL.")
def lab_up(docker_host: str | None) -> None:
    """Start the lab containers (replacing any previous ones)."""
    from rightsize.lab import lab_up as up

    names = up(docker_host)
    click.echo(f"started {len(names)} lab containers: {', '.join(names)}")
    click.echo("collect them with: rightsize collect --filter label=rightsize.lab=1")


@lab.command("down")
@click.option("--docker-host", default=None, metavar="URL", help="Engine URL.")
def lab_down(docker_host: str | None) -> None:
    """Stop and remove the lab containers."""
    from rightsize.lab import lab_down as down

    n = down(docker_host)
    click.echo(f"removed {n} lab containers")


def _one_line(text: str) -> str:
    from rightsize.render.terminal import term_safe

    return term_safe(" ".join(text.split()))


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point: run the CLI and turn every failure into one line and an exit code."""
    keep_freed_memory()
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"})
                  for a in args)
    try:
        code = cli.main(args=args, prog_name="rightsize", standalone_mode=False)
        if isinstance(code, int) and code:  # ctx.exit(n) from a command, e.g. check
            sys.exit(code)
    except click.exceptions.NoArgsIsHelpError as exc:  # pragma: no cover - click >= 8.2
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx is not None else "rightsize"
        click.echo(f"{cmd}: error: {redact(_one_line(exc.format_message()))}", err=True)
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:  # click's form of KeyboardInterrupt (Ctrl-C)
        click.echo("rightsize: aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except RightsizeError as exc:
        if verbose:
            log.exception("details")
        click.echo(f"rightsize: error: {redact(_one_line(str(exc)))}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:
        if verbose:
            log.exception("internal error")
        reason = redact(_one_line(str(exc)))
        click.echo(f"rightsize: internal error: {type(exc).__name__}: {reason} "
                   "(run with -v for details)", err=True)
        sys.exit(EXIT_RUNTIME)
    sys.exit(0)
