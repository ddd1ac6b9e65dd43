"""The command line: parses options, calls the library, maps errors to exit codes.

Nothing else lives here. Heavy modules (pandas, the analysis) are imported
inside the commands that need them, so ``rightsize collect`` starts fast.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import click

from rightsize.errors import (
    EXIT_RUNTIME,
    EXIT_USAGE,
    RightsizeError,
    UsageError,
)
from rightsize.logs import redact, setup_logging

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Awaitable

log = logging.getLogger("rightsize")


class Duration(click.ParamType[float]):
    """A duration option: ``90s``, ``10m``, ``2h``, ``7d``."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float):
            return float(value)
        from rightsize.units import parse_duration

        try:
            return parse_duration(str(value))
        except UsageError as exc:
            reason = str(exc).split(": ", 1)[-1]
            self.fail(f"{str(value)!r}: {reason}", param, ctx)


DURATION = Duration()


class TimeSpec(click.ParamType[float]):
    """A point in time: a duration ago (``2h``), ISO 8601 (naive = UTC) or Unix seconds."""

    name = "time"
    EXPECTED = ("expected a duration ago (90s, 2h, 7d), an ISO 8601 time "
                "(2026-11-27T06:00:00Z, +01:00 offset, naive = UTC) or Unix seconds")

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float):
            return float(value)
        import time
        from datetime import UTC, datetime

        from rightsize.units import parse_duration

        text = str(value).strip()
        when: float | None = None
        if text.replace(".", "", 1).isdigit():  # a bare number is Unix seconds
            when = float(text)
        else:
            try:
                when = time.time() - parse_duration(text)
            except UsageError:
                try:
                    moment = datetime.fromisoformat(text)
                    when = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
                except ValueError:
                    pass
        try:  # within datetime's years 1..9999, so every later use can format it
            if when is not None:
                datetime.fromtimestamp(when, UTC)
        except (OverflowError, OSError, ValueError):
            when = None
        if when is None:
            self.fail(f"{text!r}: {self.EXPECTED}", param, ctx)
        return when


def _check_window(since: float | None, until: float | None) -> None:
    """``--since`` must come before ``--until``."""
    if since is not None and until is not None and since >= until:
        from datetime import UTC, datetime

        def iso(t: float) -> str:
            return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        raise UsageError(f"--since ({iso(since)}) must be before --until ({iso(until)})")


TIME = TimeSpec()


def _meta(key: str) -> Any:
    def store(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        ctx.meta.setdefault("cluster", {})[key] = value
        return value

    return store


def cluster_options(f: Any) -> Any:
    """Prometheus / kubelet connection options (kept in ``ctx.meta["cluster"]``)."""
    opts = [
        click.option("--prometheus-url", metavar="URL", expose_value=False,
                     callback=_meta("prometheus_url"),
                     help="Prometheus with cAdvisor and kube-state-metrics series."),
        click.option("--step", type=DURATION, default=None, expose_value=False,
                     callback=_meta("step"),
                     help="Prometheus query step (default: from the window, >= 60s)."),
        click.option("--resolution", default=None, metavar="DURATION|auto", expose_value=False,
                     callback=_meta("resolution"),
                     help="Prometheus aggregate mode: one sample per DURATION with the "
                          "aggregation done in Prometheus (memory max_over_time, exact CPU "
                          "and CFS counters); auto picks it from the cluster size."),
        click.option("--namespace", "namespaces", multiple=True, expose_value=False,
                     callback=_meta("namespaces"), help="Only these namespaces; repeatable."),
        click.option("--prometheus-selector", default="", expose_value=False,
                     callback=_meta("selector"),
                     help='Extra label matchers for cAdvisor series, e.g. job="kubelet".'),
        click.option("--token", envvar="RIGHTSIZE_TOKEN", default=None, expose_value=False,
                     callback=_meta("token"),
                     help="Bearer token (or RIGHTSIZE_TOKEN; prefer --token-file)."),
        click.option("--token-file", type=click.Path(path_type=Path, dir_okay=False),
                     default=None, expose_value=False, callback=_meta("token_file"),
                     help="File holding the bearer token (e.g. a service account token)."),
        click.option("--user", default=None, expose_value=False, callback=_meta("user"),
                     help="Basic-auth user (password from RIGHTSIZE_PASSWORD)."),
        click.option("--ca-file", type=click.Path(path_type=Path, dir_okay=False),
                     default=None, expose_value=False, callback=_meta("ca_file"),
                     help="CA bundle to verify the server."),
        click.option("--insecure-skip-tls-verify", is_flag=True, expose_value=False,
                     callback=_meta("insecure"), help="Do not verify the server certificate."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _cluster_auth(ctx: click.Context) -> dict[str, Any]:
    """Connection keyword arguments for the Prometheus and kubelet sources."""
    import os

    meta = ctx.meta.get("cluster", {})
    token = meta.get("token")
    if meta.get("token_file") is not None:
        try:
            token = Path(meta["token_file"]).read_text().strip()
        except OSError as exc:
            raise UsageError(f"cannot read --token-file {meta['token_file']}: "
                             f"{exc.strerror or exc}") from exc
    basic = None
    if meta.get("user"):
        basic = (str(meta["user"]), os.environ.get("RIGHTSIZE_PASSWORD", ""))
    return {
        "token": token or None,
        "basic_auth": basic,
        "ca_file": None if meta.get("ca_file") is None else str(meta["ca_file"]),
        "insecure": bool(meta.get("insecure")),
        "namespaces": list(meta.get("namespaces") or []) or None,
    }


def _collect_prometheus(ctx: click.Context, store: Any, url: str, since: float,
                        until: float | None, *, raw_workloads: list[str] | None = None) -> Any:
    """Read Prometheus into ``store``; ``raw_workloads``: only these, at the raw step."""
    from rightsize.sources.prometheus import collect_prometheus
    from rightsize.units import parse_duration

    meta = ctx.meta.get("cluster", {})
    auth = _cluster_auth(ctx)
    text = None if raw_workloads is not None else meta.get("resolution")
    resolution: float | Literal["auto"] | None = None
    if text is not None:
        resolution = "auto" if text == "auto" else parse_duration(text, what="--resolution")
    return collect_prometheus(store, url, since=since, until=until, step=meta.get("step"),
                              resolution=resolution, workloads=raw_workloads,
                              selector=meta.get("selector") or "", **auth)


def data_options(f: Any) -> Any:
    """The data options ``analyze``, ``report``, ``check`` and ``backtest`` share."""
    f = cluster_options(f)  # listed last in --help
    f = click.option("--manifests", multiple=True, metavar="PATH",
                     type=click.Path(path_type=Path, exists=True),
                     help="Kubernetes YAML or Compose files (or folders of them) supplying "
                          "declared values and workload identity; repeatable.")(f)
    f = click.option("--workload", default=None, metavar="PATTERN",
                     help="Only workloads matching this pattern (fnmatch, e.g. 'lab-*').")(f)
    f = click.option("--until", type=TIME, default=None,
                     help="Samples up to this time (duration ago, ISO 8601 or Unix seconds).")(f)
    f = click.option("--since", type=TIME, default=None,
                     help="Samples from this time (e.g. 7d = the last 7 days).")(f)
    return f


def source_options(source_help: str) -> Callable[[Any], Any]:
    """``--source`` and the options of each source, shared by ``collect`` and ``run``."""

    def decorate(f: Any) -> Any:
        f = cluster_options(f)  # listed last in --help
        f = click.option("--kubelet-url", "kubelet_urls", multiple=True, metavar="URL",
                         help="Kubelet (https://node:10250) or API-server node proxy URL; "
                              "repeatable.")(f)
        return click.option("--source", type=click.Choice(["docker", "prometheus", "kubelet"]),
                            default="docker", show_default=True, help=source_help)(f)

    return decorate


@dataclass
class Settings:
    """Global options, shared by every command."""

    config: Path | None
    db: Path
    verbose: int
    quiet: bool
    log_format: str


_GLOBALS = "rightsize.globals"  # ctx.meta key (meta is shared by the whole context chain)


class GlobalOption(click.Option):
    """An option every command takes; the one given last (after the subcommand) wins."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, expose_value=False, callback=self._remember, **kwargs)

    @staticmethod
    def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        from click.core import ParameterSource

        if param.name and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE:
            ctx.meta.setdefault(_GLOBALS, {})[param.name] = value
        return value


def _global_params() -> list[click.Parameter]:
    """Fresh instances of the global options, for one command."""
    return [
        GlobalOption(["--config"], type=click.Path(path_type=Path), default=None,
                     help="Config file (default ./rightsize.toml or [tool.rightsize] in "
                          "pyproject.toml)."),
        GlobalOption(["--db"], type=click.Path(path_type=Path), default=None,
                     help="The store (default data/rightsize.db, or RIGHTSIZE_DB)."),
        GlobalOption(["-v", "--verbose"], count=True, help="More logging; tracebacks on errors."),
        GlobalOption(["-q", "--quiet"], is_flag=True, help="Only warnings and errors."),
        GlobalOption(["--log-format"], type=click.Choice(["text", "json"]), default="text",
                     show_default=True, help="Log line format on stderr."),
    ]


def _apply_globals(ctx: click.Context) -> None:
    """Settle the global options given so far into ``ctx.obj`` and set up logging."""
    from rightsize.store import default_db_path

    given = ctx.meta.get(_GLOBALS, {})
    settings = Settings(config=given.get("config"), db=given.get("db") or default_db_path(),
                        verbose=given.get("verbose", 0), quiet=given.get("quiet", False),
                        log_format=given.get("log_format", "text"))
    ctx.obj = settings
    setup_logging(settings.verbose, settings.quiet, settings.log_format)


class GlobalsCommand(click.Command):
    """A command taking the global options (listed under their own heading in --help)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(_global_params())

    def invoke(self, ctx: click.Context) -> Any:
        _apply_globals(ctx)
        return super().invoke(ctx)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        own: list[tuple[str, str]] = []
        shared: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None and not isinstance(param, click.Argument):
                (shared if isinstance(param, GlobalOption) else own).append(record)
        for title, rows in (("Options", own), ("Global options", shared)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class GlobalsGroup(GlobalsCommand, click.Group):
    """A group whose commands and subgroups all take the global options."""

    command_class = GlobalsCommand
    group_class = type  # subgroups (lab) are GlobalsGroups too

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_options(ctx, formatter)
        self.format_commands(ctx, formatter)


def _settings(ctx: click.Context) -> Settings:
    obj = ctx.find_object(Settings)
    assert obj is not None
    return obj


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
    if source == "prometheus":
        _collect_cluster_prometheus(ctx, since, until)
        return
    if source == "kubelet":
        _collect_cluster_kubelet(ctx, kubelet_urls, interval, duration, samples)
        return
    from rightsize.collect import CollectOptions
    from rightsize.progress import run_collect
    from rightsize.sources.docker.host import resolve_host

    for h in docker_hosts:  # validate every URL before anything is created
        resolve_host(h)
    options = CollectOptions(
        hosts=list(docker_hosts) or [None],
        interval=interval,
        duration=duration,
        samples=samples,
        filters=_filters(filters),
        record=record,
    )
    stats = run_collect(_settings(ctx).db, options)
    click.echo(
        f"collected {stats.samples} samples in {stats.rounds} rounds into {_settings(ctx).db}",
        err=True,
    )
    _exit_if_interrupted(ctx, stats.signal)


def _exit_if_interrupted(ctx: click.Context, received: int | None) -> None:
    """Ctrl-C (SIGINT) stopped the command: exit 130 (SIGTERM is a normal end, exit 0)."""
    import signal

    if received == signal.SIGINT:
        ctx.exit(130)


def _prometheus_url(ctx: click.Context) -> str:
    url = ctx.meta.get("cluster", {}).get("prometheus_url")
    if not url:
        raise UsageError("--source prometheus needs --prometheus-url URL")
    return str(url)


def _collect_cluster_prometheus(ctx: click.Context, since: float | None,
                                until: float | None) -> None:
    import time

    from rightsize.store import Store

    url = _prometheus_url(ctx)
    _check_window(since, until)
    with Store(_settings(ctx).db) as store:
        summary = _collect_prometheus(
            ctx, store, url, since if since is not None else time.time() - 7 * 86400, until)
    click.echo(summary.describe(), err=True)


def _kubelet_step(ctx: click.Context, urls: Sequence[str], *, interval: float,
                  duration: float | None,
                  samples: int | None = None) -> Callable[[Any, asyncio.Event], Awaitable[Any]]:
    """The kubelet collection ``collect`` and ``run`` share; checks its options now."""
    if not urls:
        raise UsageError("--source kubelet needs --kubelet-url URL")
    auth = _cluster_auth(ctx)

    async def step(store: Any, stop: asyncio.Event) -> Any:
        from rightsize.sources.kubelet import collect_kubelet

        return await collect_kubelet(store, list(urls), interval=interval, samples=samples,
                                     duration=duration, stop=stop, **auth)

    return step


def _collect_cluster_kubelet(ctx: click.Context, urls: tuple[str, ...], interval: float,
                             duration: float | None, samples: int | None) -> None:
    import asyncio

    from rightsize.progress import StopSignals
    from rightsize.store import Store

    step = _kubelet_step(ctx, urls, interval=interval, duration=duration, samples=samples)

    async def main() -> Any:
        with StopSignals(asyncio.Event()) as signals, Store(_settings(ctx).db) as store:
            stats = await step(store, signals.stop)
        stats.signal = signals.received
        return stats

    stats = asyncio.run(main())
    click.echo(stats.describe(), err=True)
    _exit_if_interrupted(ctx, stats.signal)


@cli.command(name="import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--host", default=None, help="Host label for the imported rows.")
@click.pass_context
def import_(ctx: click.Context, source: Path, host: str | None) -> None:
    """Load usage data (CSV, Parquet, or a recorded engine folder) into the store."""
    from rightsize.store import Store

    if not source.exists():
        raise UsageError(f"{source}: no such file or folder")
    with Store(_settings(ctx).db) as store:
        if source.is_dir():
            from rightsize.sources.recording import import_recordings

            with store.transaction("import"):  # all or nothing
                added, nhosts = import_recordings(source, store)
            click.echo(f"imported {added} samples from {nhosts} recorded host(s) "
                       f"into {_settings(ctx).db}")
        else:
            from rightsize.interchange import import_file

            summary = import_file(source, store, host=host or "import")
            notes = summary.notes()
            click.echo(f"imported {summary.samples_added} samples of {summary.containers} "
                       f"containers into {_settings(ctx).db}" + (f"; {notes}" if notes else ""))


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
    from rightsize.interchange import export_samples

    if fmt == "parquet" and (output is None or str(output) == "-"):
        raise UsageError("--format parquet needs --output FILE")
    _check_window(since, until)
    n = export_samples(
        _settings(ctx).db,
        None if output is None or str(output) == "-" else output,
        fmt=fmt,
        since=since,
        until=until,
    )
    log.info("exported %d samples", n)


def _config(ctx: click.Context) -> Any:
    """The validated configuration, read once per command."""
    if "config" not in ctx.meta:
        from rightsize.config import load_config

        ctx.meta["config"] = load_config(_settings(ctx).config)
    return ctx.meta["config"]


def _manifests(ctx: click.Context, paths: Sequence[Path]) -> list[Any]:
    """The --manifests workloads, parsed once per command."""
    if "manifests" not in ctx.meta:
        from rightsize.sources.manifests import load_manifests

        ctx.meta["manifests"] = load_manifests(list(paths)) if paths else []
    return list(ctx.meta["manifests"])


def _analysis(ctx: click.Context, strategy: str | None, since: float | None,
              until: float | None, workload: str | None,
              manifests: Sequence[Path] = ()) -> Any:
    """Load the store and analyze it with the configured strategy and thresholds."""
    from rightsize.analysis.result import analyze as run_analysis
    from rightsize.analysis.usage import SAMPLE_INPUTS
    from rightsize.errors import RuntimeFailure
    from rightsize.store import load

    _check_window(since, until)
    settings = _settings(ctx)
    cfg = _config(ctx)
    name = strategy or cfg.strategy
    url = ctx.meta.get("cluster", {}).get("prometheus_url")
    if url:  # straight from Prometheus, through a temporary store
        import tempfile
        import time

        from rightsize.store import Store

        with tempfile.TemporaryDirectory(prefix="rightsize-") as tmp:
            db = Path(tmp) / "prometheus.db"
            with Store(db) as store:
                summary = _collect_prometheus(
                    ctx, store, url, since if since is not None else time.time() - 7 * 86400,
                    until)
            log.info("%s", summary.describe())
            dataset = load(db, columns=SAMPLE_INPUTS)
    else:
        dataset = load(settings.db, since=since, until=until, columns=SAMPLE_INPUTS)
    if dataset.samples.empty:
        raise RuntimeFailure(f"no samples in {settings.db}"
                             + (" in the requested window" if since or until else "")
                             + ": collect or import some first")
    if manifests:
        from rightsize.sources.manifests import apply_manifests

        dataset = apply_manifests(dataset, _manifests(ctx, manifests))
    hosts = sorted(str(h) for h in dataset.samples["host"].unique())
    kinds = {
        "recording" if h.startswith("recording:")
        else "docker" if h.split("://")[0] in ("unix", "tcp", "http", "https")
        else "import"
        for h in hosts
    }
    source = {"kind": kinds.pop() if len(kinds) == 1 else "mixed", "hosts": hosts}
    return run_analysis(dataset, strategy=name, params=cfg.params_for(name),
                        thresholds=cfg.thresholds, workload=workload, source=source)


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
    from rightsize.render import render

    if patches_dir is not None and not manifests:
        raise UsageError("--patches needs --manifests (the patches edit those manifests)")
    result = _analysis(ctx, strategy, since, until, workload, manifests)
    _emit(render(result, fmt), output)
    if patches_dir is not None:
        from rightsize.render.patches import write_kustomize_patches
        k8s = {m.workload: m for m in _manifests(ctx, manifests) if m.is_kubernetes}
        items = [(k8s[w.name], w.recommendation) for w in result
                 if w.name in k8s and w.recommendation is not None]
        written = write_kustomize_patches(patches_dir, items)
        log.info("wrote %d patch files into %s", len(written), patches_dir)


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
    from rightsize.render.html import write_report

    result = _analysis(ctx, strategy, since, until, workload, manifests)
    paths = write_report(result, out_dir, charts_mode=charts,  # type: ignore[arg-type]
                         chart_histories=_raw_chart_histories(ctx, result, strategy))
    click.echo(str(paths.html))


def _raw_chart_histories(ctx: click.Context, result: Any, strategy: str | None) -> Any:
    """Aggregated Prometheus data: re-read the flagged workloads raw, for their charts."""
    meta = ctx.meta.get("cluster", {})
    if not meta.get("prometheus_url") or not meta.get("resolution") or result.window is None:
        return None
    flagged = [w.name for w in result if w.worst_severity in ("warning", "critical")]
    if not flagged:
        return None
    import tempfile

    from rightsize.analysis.result import analyze as run_analysis
    from rightsize.analysis.usage import SAMPLE_INPUTS
    from rightsize.store import Store, load

    with tempfile.TemporaryDirectory(prefix="rightsize-") as tmp:
        db = Path(tmp) / "raw.db"
        with Store(db) as store:
            _collect_prometheus(ctx, store, meta["prometheus_url"], result.window[0],
                                result.window[1], raw_workloads=flagged)
        raw = run_analysis(load(db, columns=SAMPLE_INPUTS), strategy=result.strategy)
    log.info("re-read %d flagged workloads at full resolution for their charts", len(flagged))
    return raw.histories


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
    import time

    from rightsize.collect import CollectOptions
    from rightsize.schedule import RunOptions
    from rightsize.schedule import run as run_schedule
    from rightsize.sources.docker.host import resolve_host

    for h in docker_hosts:
        resolve_host(h)
    _config(ctx)  # a bad config fails now, not after collecting
    options = RunOptions(
        collect=CollectOptions(hosts=list(docker_hosts) or [None], interval=interval,
                               duration=duration, filters=_filters(filters)),
        out=out_dir, every=every, keep_reports=keep_reports, keep_samples=keep_samples,
        charts=charts,
    )

    if source == "prometheus":
        url = _prometheus_url(ctx)
        last_end: list[float] = []

        async def read_prometheus(store: Any, _stop: asyncio.Event) -> None:
            now = time.time()
            since = last_end[-1] if last_end else now - duration
            summary = _collect_prometheus(ctx, store, url, since, now)
            log.info("%s", summary.describe())
            last_end.append(now)

        options.collect_step = read_prometheus
    elif source == "kubelet":
        poll = _kubelet_step(ctx, kubelet_urls, interval=interval, duration=duration)

        async def read_kubelet(store: Any, stop: asyncio.Event) -> None:
            log.info("%s", (await poll(store, stop)).describe())

        options.collect_step = read_kubelet

    def analyzer() -> Any:
        since = None if window is None else time.time() - window
        return _analysis(ctx, strategy, since, None, None, manifests)

    state = run_schedule(_settings(ctx).db, options, analyzer)
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

    from rightsize.analysis.backtest import backtest as run_static
    from rightsize.analysis.backtest import dynamic_backtest
    from rightsize.analysis.strategies import get_strategy, strategy_names

    names = [get_strategy(s).name for s in strategies] or strategy_names()
    result = _analysis(ctx, None, since, until, workload, manifests)
    cfg = _config(ctx)
    run_backtest = dynamic_backtest if mode == "dynamic" else run_static
    scored = run_backtest(result.histories, names, train=train, refit_every=refit_every,
                          params={n: cfg.params_for(n) for n in names})
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
    from rightsize.api import check as run_check
    from rightsize.gate import exit_code

    if baseline_path is not None and write_baseline_path is not None:
        raise UsageError("--baseline and --write-baseline cannot be used together")
    outcome = run_check(
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
