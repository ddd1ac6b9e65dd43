"""The CLI's option machinery: parameter types, shared option groups, global options.

:mod:`rightsize.cli` declares the commands with these; the functions here
turn parsed options into :mod:`rightsize.api`'s typed options
(:func:`prometheus_from`, :func:`kubelet_from`) and settle the global ones
(:func:`settings`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from rightsize.errors import UsageError
from rightsize.logs import setup_logging

if TYPE_CHECKING:
    from rightsize.api import ClusterAuth, Kubelet, Prometheus

__all__ = [
    "DURATION",
    "TIME",
    "GlobalsGroup",
    "Settings",
    "cluster_auth",
    "cluster_options",
    "data_options",
    "kubelet_from",
    "prometheus_from",
    "settings",
    "source_options",
]


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
        click.option("--prometheus-tenant", "tenant", default=None, metavar="ID",
                     expose_value=False, callback=_meta("tenant"),
                     help="Tenant of a multi-tenant server (Mimir, Cortex): sent as "
                          "X-Scope-OrgID."),
        click.option("--prometheus-host-label", "host_label", default="instance",
                     metavar="LABEL", expose_value=False, callback=_meta("host_label"),
                     help="Label naming the host of standalone-cAdvisor (Docker) series "
                          "(default instance)."),
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


def cluster_auth(ctx: click.Context) -> ClusterAuth:
    from rightsize.api import ClusterAuth

    meta = ctx.meta.get("cluster", {})
    return ClusterAuth.resolve(token=meta.get("token"), token_file=meta.get("token_file"),
                               user=meta.get("user"), ca_file=meta.get("ca_file"),
                               insecure=bool(meta.get("insecure")))


def prometheus_from(ctx: click.Context, *, required: bool = False) -> Prometheus | None:
    """``--prometheus-url`` and its options (None without a URL, unless ``required``)."""
    from rightsize.api import Prometheus
    from rightsize.units import parse_duration

    meta = ctx.meta.get("cluster", {})
    url = meta.get("prometheus_url")
    if not url:
        if required:
            raise UsageError("--source prometheus needs --prometheus-url URL")
        return None
    text = meta.get("resolution")
    resolution: float | Literal["auto"] | None = None
    if text is not None:
        resolution = "auto" if text == "auto" else parse_duration(text, what="--resolution")
    return Prometheus(str(url), cluster_auth(ctx),
                      namespaces=tuple(meta.get("namespaces") or ()),
                      selector=meta.get("selector") or "", step=meta.get("step"),
                      resolution=resolution, host_label=meta.get("host_label") or "instance",
                      tenant=meta.get("tenant"))


def kubelet_from(ctx: click.Context, urls: Sequence[str]) -> Kubelet:
    from rightsize.api import Kubelet

    meta = ctx.meta.get("cluster", {})
    return Kubelet(tuple(urls), cluster_auth(ctx),
                   namespaces=tuple(meta.get("namespaces") or ()))


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


def settings(ctx: click.Context) -> Settings:
    obj = ctx.find_object(Settings)
    assert obj is not None
    return obj
