"""Tests for Docker host resolution (DOCKER_HOST, contexts, TLS) and transport construction."""

from __future__ import annotations

import hashlib
import json
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from rightsize.errors import UsageError
from rightsize.sources.docker.host import (
    DEFAULT_HOST,
    EngineHost,
    make_async_transport,
    make_transport,
    resolve_host,
)

HOME = "/home/tester"


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        pytest.param(
            None,
            {},
            EngineHost(DEFAULT_HOST, "http://docker", "/var/run/docker.sock"),
            id="default-socket",
        ),
        pytest.param(
            None,
            {"DOCKER_HOST": "unix:///run/user/1000/docker.sock"},
            EngineHost(
                "unix:///run/user/1000/docker.sock", "http://docker", "/run/user/1000/docker.sock"
            ),
            id="docker-host-unix",
        ),
        pytest.param(
            "unix://",
            {},
            EngineHost(DEFAULT_HOST, "http://docker", "/var/run/docker.sock"),
            id="empty-unix-path-is-default",
        ),
        pytest.param(
            "tcp://10.0.0.1:2375",
            {"DOCKER_HOST": "unix:///other.sock"},
            EngineHost("tcp://10.0.0.1:2375", "http://10.0.0.1:2375"),
            id="explicit-beats-env",
        ),
        pytest.param(
            None,
            {"DOCKER_HOST": "  "},
            EngineHost(DEFAULT_HOST, "http://docker", "/var/run/docker.sock"),
            id="blank-docker-host-ignored",
        ),
        pytest.param(
            "tcp://1.2.3.4:2376",
            {},
            EngineHost(
                "tcp://1.2.3.4:2376",
                "https://1.2.3.4:2376",
                tls=True,
                cert_path=f"{HOME}/.docker",
                verify=True,
            ),
            id="port-2376-means-tls",
        ),
        pytest.param(
            None,
            {"DOCKER_HOST": "tcp://1.2.3.4", "DOCKER_TLS_VERIFY": "1"},
            EngineHost(
                "tcp://1.2.3.4:2376",
                "https://1.2.3.4:2376",
                tls=True,
                cert_path=f"{HOME}/.docker",
                verify=True,
            ),
            id="tls-verify-default-port-and-cert-path",
        ),
        pytest.param(
            None,
            {
                "DOCKER_HOST": "tcp://dockerd.example:2375",
                "DOCKER_TLS_VERIFY": "yes",
                "DOCKER_CERT_PATH": "/etc/docker-certs",
            },
            EngineHost(
                "tcp://dockerd.example:2375",
                "https://dockerd.example:2375",
                tls=True,
                cert_path="/etc/docker-certs",
                verify=True,
            ),
            id="tls-verify-env-on-any-port",
        ),
        pytest.param(
            None,
            {"DOCKER_HOST": "tcp://1.2.3.4", "DOCKER_TLS_VERIFY": ""},
            EngineHost("tcp://1.2.3.4:2375", "http://1.2.3.4:2375"),
            id="empty-tls-verify-is-off",
        ),
        pytest.param(
            "tcp://1.2.3.4:2375",
            {"DOCKER_TLS": "1"},
            EngineHost(
                "tcp://1.2.3.4:2375",
                "https://1.2.3.4:2375",
                tls=True,
                cert_path=f"{HOME}/.docker",
                verify=False,
            ),
            id="docker-tls-without-verify",
        ),
        pytest.param(
            "http://proxy.local:2375",
            {"DOCKER_TLS_VERIFY": "1"},
            EngineHost("http://proxy.local:2375", "http://proxy.local:2375"),
            id="http-scheme-never-tls",
        ),
        pytest.param(
            "https://engine.local",
            {},
            EngineHost(
                "https://engine.local:2376",
                "https://engine.local:2376",
                tls=True,
                cert_path=f"{HOME}/.docker",
            ),
            id="https-default-port",
        ),
        pytest.param(
            "localhost:2375",
            {},
            EngineHost("tcp://localhost:2375", "http://localhost:2375"),
            id="bare-host-port-is-tcp",
        ),
        pytest.param(
            "tcp://[::1]:2375",
            {},
            EngineHost("tcp://[::1]:2375", "http://[::1]:2375"),
            id="ipv6",
        ),
        pytest.param(
            "TCP://engine:2375/",
            {},
            EngineHost("tcp://engine:2375", "http://engine:2375"),
            id="scheme-case-and-trailing-slash",
        ),
    ],
)
def test_resolve_host_table(url: str | None, env: dict[str, str], expected: EngineHost) -> None:
    assert resolve_host(url, env, home=HOME) == expected


@pytest.mark.parametrize(
    "url",
    [
        "ssh://me@build-box",
        "npipe:////./pipe/docker_engine",
        "fd://",
        "ftp://example.com",
        "/var/run/docker.sock",
    ],
)
def test_unsupported_schemes_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError) as info:
        resolve_host(url, {}, home=HOME)
    message = str(info.value)
    assert url in message
    assert "unix://" in message and "tcp://" in message
    assert "\n" not in message


def test_unsupported_scheme_from_docker_host_names_origin() -> None:
    with pytest.raises(UsageError, match="DOCKER_HOST"):
        resolve_host(None, {"DOCKER_HOST": "ssh://me@box"}, home=HOME)


@pytest.mark.parametrize("url", ["tcp://host:notaport", "tcp://host:2375?x=1", "unix://relative"])
def test_malformed_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError, match="invalid Docker host"):
        resolve_host(url, {}, home=HOME)


# --- docker CLI contexts ---------------------------------------------------------


def _write_context(
    config_dir: Path,
    name: str,
    host: str,
    *,
    skip_verify: bool = False,
    tls_files: bool = False,
    current: bool = True,
) -> Path:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta_dir = config_dir / "contexts" / "meta" / digest
    meta_dir.mkdir(parents=True)
    meta: dict[str, Any] = {
        "Name": name,
        "Metadata": {},
        "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip_verify}},
    }
    (meta_dir / "meta.json").write_text(json.dumps(meta))
    tls_dir = config_dir / "contexts" / "tls" / digest / "docker"
    if tls_files:
        tls_dir.mkdir(parents=True)
        for pem in ("ca.pem", "cert.pem", "key.pem"):
            (tls_dir / pem).write_text("placeholder")
    if current:
        (config_dir / "config.json").write_text(json.dumps({"currentContext": name}))
    return tls_dir


def test_current_context_with_tls(tmp_path: Path) -> None:
    tls_dir = _write_context(tmp_path / ".docker", "remote", "tcp://10.0.0.5:2376", tls_files=True)
    host = resolve_host(None, {}, home=tmp_path)
    assert host == EngineHost(
        "tcp://10.0.0.5:2376",
        "https://10.0.0.5:2376",
        tls=True,
        cert_path=str(tls_dir),
        verify=True,
    )


def test_context_skip_tls_verify(tmp_path: Path) -> None:
    _write_context(tmp_path / ".docker", "lab", "tcp://lab:2376", tls_files=True, skip_verify=True)
    host = resolve_host(None, {}, home=tmp_path)
    assert host.tls is True
    assert host.verify is False


def test_context_without_tls_material_is_plain_http(tmp_path: Path) -> None:
    _write_context(tmp_path / ".docker", "plain", "tcp://plain:2375")
    host = resolve_host(None, {}, home=tmp_path)
    assert host.base_url == "http://plain:2375"
    assert host.tls is False


def test_docker_context_env_beats_config(tmp_path: Path) -> None:
    config = tmp_path / ".docker"
    _write_context(config, "one", "tcp://one:2375")
    _write_context(config, "two", "unix:///run/two.sock", current=False)
    host = resolve_host(None, {"DOCKER_CONTEXT": "two"}, home=tmp_path)
    assert host.socket_path == "/run/two.sock"


def test_docker_host_beats_context(tmp_path: Path) -> None:
    _write_context(tmp_path / ".docker", "one", "tcp://one:2375")
    host = resolve_host(None, {"DOCKER_HOST": "tcp://env:2375"}, home=tmp_path)
    assert host.url == "tcp://env:2375"


def test_default_context_means_default_socket(tmp_path: Path) -> None:
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text('{"currentContext": "default"}')
    assert resolve_host(None, {}, home=tmp_path).url == DEFAULT_HOST


def test_docker_config_env_moves_config_dir(tmp_path: Path) -> None:
    _write_context(tmp_path / "elsewhere", "moved", "tcp://moved:2375")
    host = resolve_host(None, {"DOCKER_CONFIG": str(tmp_path / "elsewhere")}, home=tmp_path)
    assert host.url == "tcp://moved:2375"


def test_missing_context_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="'ghost' not found"):
        resolve_host(None, {"DOCKER_CONTEXT": "ghost"}, home=tmp_path)


def test_ssh_context_is_usage_error_naming_context(tmp_path: Path) -> None:
    _write_context(tmp_path / ".docker", "builder", "ssh://me@builder")
    with pytest.raises(UsageError, match="docker context 'builder'") as info:
        resolve_host(None, {}, home=tmp_path)
    assert "ssh://me@builder" in str(info.value)


def test_broken_config_json_is_usage_error(tmp_path: Path) -> None:
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text("{not json")
    with pytest.raises(UsageError, match=r"config\.json"):
        resolve_host(None, {}, home=tmp_path)


# --- transports ------------------------------------------------------------------


def test_unix_transports_use_the_socket() -> None:
    host = resolve_host(None, {}, home=HOME)
    sync_transport = make_transport(host)
    async_transport = make_async_transport(host)
    assert isinstance(sync_transport, httpx.HTTPTransport)
    assert sync_transport._pool._uds == "/var/run/docker.sock"
    assert async_transport._pool._uds == "/var/run/docker.sock"


def test_async_transport_pool_holds_hundreds() -> None:
    transport = make_async_transport(resolve_host("tcp://engine:2375", {}, home=HOME))
    assert transport._pool._max_connections is not None
    assert transport._pool._max_connections >= 300


@pytest.fixture
def cert_dir(tmp_path: Path) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=rightsize-test",
            "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    shutil.copy(tmp_path / "cert.pem", tmp_path / "ca.pem")
    return tmp_path


def test_tls_transport_loads_ca_and_client_cert(cert_dir: Path) -> None:
    env = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(cert_dir)}
    host = resolve_host("tcp://engine:2376", env, home=HOME)
    transport = make_transport(host)
    ctx = transport._pool._ssl_context
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert [c["subject"] for c in ctx.get_ca_certs()] == [((("commonName", "rightsize-test"),),)]
    assert make_async_transport(host)._pool._ssl_context is not None


def test_tls_without_verify_disables_checks(cert_dir: Path) -> None:
    env = {"DOCKER_TLS": "1", "DOCKER_CERT_PATH": str(cert_dir)}
    host = resolve_host("tcp://engine:2376", env, home=HOME)
    ctx = make_transport(host)._pool._ssl_context
    assert ctx is not None
    assert ctx.verify_mode == ssl.CERT_NONE
    assert ctx.check_hostname is False


def test_tls_cert_without_key_is_usage_error(cert_dir: Path) -> None:
    (cert_dir / "key.pem").unlink()
    host = resolve_host("tcp://engine:2376", {"DOCKER_CERT_PATH": str(cert_dir)}, home=HOME)
    with pytest.raises(UsageError, match=r"key\.pem"):
        make_transport(host)
