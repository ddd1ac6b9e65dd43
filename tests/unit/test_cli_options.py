"""Options every command shares: the global options, --since/--until, run's sources.

Each command is stopped where it reaches the store (or the lab, or a source)
by a stub that records what it was given, so the tests check that an option
took effect, not only that it parsed.
"""

from __future__ import annotations

import importlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from rightsize.cli import cli
from rightsize.store import Store
from tests.unit.test_cli import one_line
from tests.unit.test_cli import run as run_main
from tests.unit.test_kubelet import URL, Kubelet, summaries

LAB = Path(__file__).parents[1] / "fixtures" / "docker-api" / "rightsize-lab-session"


class Reached(Exception):
    """Raised by a stub: the command got as far as the store, lab or source."""


#: command → (arguments, the module attribute its work goes through)
COMMANDS: dict[str, tuple[list[str], str]] = {
    "collect": (["collect", "--samples", "1"], "rightsize.progress.run_collect"),
    "run": (["run"], "rightsize.api.run"),
    "analyze": (["analyze"], "rightsize.store.load"),
    "report": (["report"], "rightsize.store.load"),
    "check": (["check"], "rightsize.store.load"),
    "backtest": (["backtest"], "rightsize.store.load"),
    "import": (["import", str(LAB)], "rightsize.store.Store"),
    "export": (["export"], "rightsize.interchange.export_samples"),
    "lab up": (["lab", "up"], "rightsize.lab.lab_up"),
    "lab down": (["lab", "down"], "rightsize.lab.lab_down"),
}
STORE_COMMANDS = [c for c in COMMANDS if not c.startswith("lab")]
CONFIG_COMMANDS = ["run", "analyze", "report", "check", "backtest"]


class Calls:
    """What the stubs were called with."""

    def __init__(self) -> None:
        self.args: list[tuple[Any, ...]] = []
        self.kwargs: list[dict[str, Any]] = []

    @property
    def paths(self) -> list[Path]:
        return [Path(a[0]) for a in self.args]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Calls:
    """Stub every command's work; the stub logs at info and debug, then raises Reached."""
    monkeypatch.chdir(tmp_path)  # no stray rightsize.toml, default store under tmp
    monkeypatch.delenv("RIGHTSIZE_DB", raising=False)
    seen = Calls()

    def stub(*args: Any, **kwargs: Any) -> Any:
        seen.args.append(args)
        seen.kwargs.append(kwargs)
        logging.getLogger("rightsize.test").info("reached the stub")
        logging.getLogger("rightsize.test").debug("debug detail")
        raise Reached

    for target in {t for _, t in COMMANDS.values()}:
        # import first: a module imported while Store is stubbed would keep the stub
        importlib.import_module(target.rsplit(".", 1)[0])
    for target in {t for _, t in COMMANDS.values()}:
        monkeypatch.setattr(target, stub)
    return seen


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def reached(result: Result) -> bool:
    return isinstance(result.exception, Reached)


# -- global options ------------------------------------------------------------------------


@pytest.mark.parametrize("command", STORE_COMMANDS)
@pytest.mark.parametrize("where", ["before", "after"])
def test_db_works_before_and_after_every_command(calls: Calls, tmp_path: Path, command: str,
                                                 where: str) -> None:
    args, _ = COMMANDS[command]
    db = ["--db", str(tmp_path / "x.db")]
    result = invoke(*(db + args if where == "before" else args + db))
    assert reached(result), result.output
    assert calls.paths == [tmp_path / "x.db"]


@pytest.mark.parametrize("command", STORE_COMMANDS)
def test_db_after_the_command_wins_and_rightsize_db_is_the_default(
    calls: Calls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    args, _ = COMMANDS[command]
    monkeypatch.setenv("RIGHTSIZE_DB", str(tmp_path / "env.db"))
    assert reached(invoke(*args))
    assert reached(invoke("--db", str(tmp_path / "before.db"), *args))
    assert reached(invoke("--db", str(tmp_path / "before.db"), *args,
                          "--db", str(tmp_path / "after.db")))
    assert calls.paths == [tmp_path / "env.db", tmp_path / "before.db", tmp_path / "after.db"]


@pytest.mark.parametrize("command", CONFIG_COMMANDS)
def test_config_works_after_every_command_and_wins(calls: Calls, tmp_path: Path,
                                                   command: str) -> None:
    from rightsize.errors import UsageError

    args, _ = COMMANDS[command]
    bad, good = tmp_path / "bad.toml", tmp_path / "good.toml"
    bad.write_text("colour = 'blue'\n")
    good.write_text("[strategy]\nname = 'vpa'\n")
    result = invoke(*args, "--config", str(bad))
    assert isinstance(result.exception, UsageError)
    assert "bad.toml" in str(result.exception) and "colour" in str(result.exception)
    assert reached(invoke("--config", str(bad), *args, "--config", str(good)))
    assert isinstance(invoke("--config", str(good), *args, "--config", str(bad)).exception,
                      UsageError)


@pytest.mark.parametrize("command", ["collect", "import", "export", "lab up", "lab down"])
def test_config_is_accepted_after_commands_that_do_not_read_it(calls: Calls, tmp_path: Path,
                                                               command: str) -> None:
    cfg = tmp_path / "rightsize.toml"
    cfg.write_text("")
    assert reached(invoke(*COMMANDS[command][0], "--config", str(cfg)))


@pytest.mark.parametrize("command", list(COMMANDS))
def test_log_options_work_after_every_command(calls: Calls, command: str) -> None:
    args, _ = COMMANDS[command]
    plain = invoke(*args)
    assert "rightsize: reached the stub" in plain.stderr
    assert "debug detail" not in plain.stderr
    assert "debug detail" in invoke(*args, "-v").stderr
    assert "debug detail" in invoke(*args, "--verbose").stderr
    assert "reached the stub" not in invoke(*args, "-q").stderr
    assert "reached the stub" not in invoke(*args, "--quiet").stderr
    lines = [json.loads(line) for line in invoke(*args, "--log-format", "json").stderr.splitlines()]
    assert [d["message"] for d in lines] == ["reached the stub"]
    # the one after the command wins
    text = invoke("--log-format", "json", *args, "--log-format", "text").stderr
    assert text.strip() == "rightsize: reached the stub"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_bad_global_option_after_a_command_is_exit_2(capsys: pytest.CaptureFixture[str],
                                                     calls: Calls, command: str) -> None:
    code, _, err = run_main(capsys, *COMMANDS[command][0], "--log-format", "xml")
    assert code == 2
    assert "--log-format" in one_line(err) and "xml" in err


@pytest.mark.parametrize("command", [[], ["lab"], *[a for a, _ in COMMANDS.values()]])
def test_help_of_every_command_lists_the_global_options(command: list[str]) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    _, _, shared = result.output.partition("Global options:")
    for option in ("--config", "--db", "-v, --verbose", "-q, --quiet", "--log-format"):
        assert option in shared, (command, option)


# -- --since / --until ---------------------------------------------------------------------

T = datetime(2026, 11, 27, 6, 36, 55, tzinfo=UTC).timestamp()
TIME_COMMANDS: dict[str, list[str]] = {
    "analyze": ["analyze"],
    "report": ["report"],
    "check": ["check"],
    "backtest": ["backtest"],
    "export": ["export"],
    "collect": ["collect", "--source", "prometheus", "--prometheus-url", "http://prom:9090"],
}


@pytest.fixture
def prometheus(calls: Calls, monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Also stub the Prometheus source (``collect --source prometheus``)."""
    def stub(store: Any, url: str, options: Any) -> Any:
        calls.args.append((url,))
        calls.kwargs.append(dict(vars(options)))  # CopyOptions' fields
        raise Reached

    monkeypatch.setattr("rightsize.store.Store", Store)  # collect opens it before reading
    monkeypatch.setattr("rightsize.sources.prometheus.collect_prometheus", stub)
    return calls


@pytest.mark.parametrize("command", list(TIME_COMMANDS))
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27T06:36:55Z", T),
        ("2026-11-27T07:36:55+01:00", T),
        ("2026-11-27T06:36:55", T),  # naive = UTC
        ("2026-11-27T06:36:55.500Z", T + 0.5),
        ("1795761415", T),
    ],
)
def test_since_and_until_take_iso_and_unix_times_everywhere(prometheus: Calls, tmp_path: Path,
                                                            command: str, text: str,
                                                            expected: float) -> None:
    args = ["--db", str(tmp_path / "s.db"), *TIME_COMMANDS[command]]
    assert reached(invoke(*args, "--since", text, "--until", "2027-01-01T00:00:00Z"))
    assert reached(invoke(*args, "--since", "2026-01-01", "--until", text))
    first, second = prometheus.kwargs
    assert first["since"] == expected
    assert second["until"] == expected


@pytest.mark.parametrize("command", list(TIME_COMMANDS))
@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("2h", 7200), ("7d", 7 * 86400)])
def test_since_and_until_take_durations_ago_everywhere(prometheus: Calls, tmp_path: Path,
                                                       command: str, text: str,
                                                       seconds: float) -> None:
    import time

    args = ["--db", str(tmp_path / "s.db"), *TIME_COMMANDS[command]]
    assert reached(invoke(*args, "--since", "3000d", "--until", text))
    assert reached(invoke(*args, "--since", text))
    assert prometheus.kwargs[0]["until"] == pytest.approx(time.time() - seconds, abs=30)
    assert prometheus.kwargs[1]["since"] == pytest.approx(time.time() - seconds, abs=30)


@pytest.mark.parametrize("command", list(TIME_COMMANDS))
@pytest.mark.parametrize("option", ["--since", "--until"])
@pytest.mark.parametrize("text", ["yesterday", "2h ago", "2026-13-01", "-5", "0s",
                                  "99999999999999", "10000000d"])
def test_bad_times_are_exit_2_naming_the_option_and_the_forms(
    capsys: pytest.CaptureFixture[str], prometheus: Calls, tmp_path: Path, command: str,
    option: str, text: str
) -> None:
    code, _, err = run_main(capsys, "--db", str(tmp_path / "s.db"), *TIME_COMMANDS[command],
                            option, text)
    assert code == 2
    line = one_line(err)
    assert option in line and repr(text) in line
    assert "duration" in line and "ISO 8601" in line and "Unix seconds" in line
    assert not prometheus.args


@pytest.mark.parametrize("command", list(TIME_COMMANDS))
def test_since_after_until_is_exit_2(capsys: pytest.CaptureFixture[str], prometheus: Calls,
                                     tmp_path: Path, command: str) -> None:
    code, _, err = run_main(capsys, "--db", str(tmp_path / "s.db"), *TIME_COMMANDS[command],
                            "--since", "1h", "--until", "2h")
    assert code == 2
    line = one_line(err)
    assert "--since" in line and "--until" in line
    assert not prometheus.args


# -- run --source kubelet ------------------------------------------------------------------


@pytest.fixture
def kubelet(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """The real kubelet source, answered by the recorded Summary payloads."""
    from rightsize.collect import kubelet as source

    real = source.collect_kubelet
    seen = Calls()

    async def fake(store: Any, urls: Any, **kwargs: Any) -> Any:
        seen.args.append((urls,))
        seen.kwargs.append({k: v for k, v in kwargs.items() if k != "stop"})
        transport = httpx.MockTransport(Kubelet(summaries()))
        return await real(store, urls, transport=transport, **kwargs)

    monkeypatch.setattr(source, "collect_kubelet", fake)
    return seen


def test_run_source_kubelet_collects_and_reports(capsys: pytest.CaptureFixture[str],
                                                 kubelet: Calls, tmp_path: Path) -> None:
    from rightsize.store import load

    token = tmp_path / "token"
    token.write_text("s3cret\n")
    db, out = tmp_path / "k.db", tmp_path / "reports"
    code, stdout, err = run_main(
        capsys, "run", "--db", str(db), "--source", "kubelet", "--kubelet-url", URL,
        "--token-file", str(token), "--namespace", "shop", "--interval", "10ms",
        "--duration", "200ms", "--out", str(out))
    assert code == 0, err
    assert Path(stdout.strip()).parent == out and Path(stdout.strip()).is_file()
    (urls,), kwargs = kubelet.args[0], kubelet.kwargs[0]
    assert urls == [URL]
    assert kwargs["token"] == "s3cret" and kwargs["namespaces"] == ["shop"]
    assert kwargs["interval"] == 0.01 and kwargs["duration"] == 0.2
    containers = set(load(db).samples["container_id"])
    assert "shop/db-0/postgres" in containers
    assert not any(c.startswith("kube-system/") for c in containers)


def test_run_and_collect_reach_the_kubelet_source_alike(capsys: pytest.CaptureFixture[str],
                                                        kubelet: Calls, tmp_path: Path) -> None:
    common = ["--source", "kubelet", "--kubelet-url", URL, "--kubelet-url", URL + "/",
              "--insecure-skip-tls-verify", "--interval", "10ms", "--duration", "50ms"]
    assert run_main(capsys, "collect", "--db", str(tmp_path / "c.db"), *common)[0] == 0
    assert run_main(capsys, "run", "--db", str(tmp_path / "r.db"), *common,
                    "--out", str(tmp_path / "reports"))[0] == 0
    assert kubelet.args[0] == kubelet.args[1] == ([URL, URL + "/"],)
    assert kubelet.kwargs[0] == kubelet.kwargs[1]
    assert kubelet.kwargs[0]["insecure"] is True


def test_run_source_kubelet_needs_a_url(capsys: pytest.CaptureFixture[str], kubelet: Calls,
                                        tmp_path: Path) -> None:
    code, _, err = run_main(capsys, "run", "--db", str(tmp_path / "s.db"), "--source",
                            "kubelet")
    assert code == 2
    assert "--kubelet-url" in one_line(err)
    assert not kubelet.args


def test_prometheus_host_label_reaches_the_cadvisor_source(prometheus: Calls,
                                                           tmp_path: Path) -> None:
    base = ["--db", str(tmp_path / "s.db"), *TIME_COMMANDS["collect"]]
    assert reached(invoke(*base))
    assert reached(invoke(*base, "--prometheus-host-label", "node"))
    first, second = prometheus.kwargs
    assert first["host_label"] == "instance" and second["host_label"] == "node"
