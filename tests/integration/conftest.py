"""Integration fixtures: a real Docker engine, or a skip (a failure under CI)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest

from rightsize.errors import RuntimeFailure
from rightsize.sources.docker.client import DockerClient
from rightsize.sources.docker.host import resolve_host

REQUIRE = os.environ.get("RIGHTSIZE_REQUIRE_ENGINE") == "1"


def unavailable(reason: str) -> NoReturn:
    """Skip for want of ``reason`` (a tool, a package); with RIGHTSIZE_REQUIRE_ENGINE=1, fail."""
    if REQUIRE:
        pytest.fail(f"RIGHTSIZE_REQUIRE_ENGINE=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def engine() -> Iterator[DockerClient]:
    """A client of the local engine; skips (or fails with RIGHTSIZE_REQUIRE_ENGINE=1)."""
    client = DockerClient(resolve_host(None))
    try:
        client.negotiate()
    except RuntimeFailure as exc:
        client.close()
        if REQUIRE:
            pytest.fail(f"RIGHTSIZE_REQUIRE_ENGINE=1 but no Docker engine answers: {exc}")
        pytest.skip(f"no Docker engine reachable: {exc}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def image(engine: DockerClient) -> str:
    """The busybox image the lab uses (pulled or built from busybox-static)."""
    from rightsize.lab import ensure_image

    try:
        return ensure_image(engine)
    except RuntimeFailure as exc:
        if REQUIRE:
            pytest.fail(f"RIGHTSIZE_REQUIRE_ENGINE=1 but no busybox image can be made: {exc}")
        pytest.skip(str(exc))


class Containers:
    """Creates containers carrying one run label, and removes them all at the end."""

    def __init__(self, engine: DockerClient, image: str) -> None:
        self.engine = engine
        self.image = image
        self.run = uuid.uuid4().hex[:10]
        self.label = f"rightsize.test={self.run}"

    def start(self, name: str, script: str, host_config: dict[str, Any] | None = None,
              env: list[str] | None = None, labels: dict[str, str] | None = None) -> str:
        config: dict[str, Any] = {
            "Image": self.image,
            "Cmd": ["sh", "-c", script],
            "Labels": {**(labels or {}), "rightsize.test": self.run},
            "HostConfig": {"NetworkMode": "none", **(host_config or {})},
        }
        if env:
            config["Env"] = env
        cid = self.engine.create(f"{name}-{self.run}", config)
        self.engine.start(cid)
        return cid

    def cleanup(self) -> None:
        for c in self.engine.containers(filters={"label": [self.label]}, all=True):
            self.engine.remove(c["Id"], force=True)


@pytest.fixture
def containers(engine: DockerClient, image: str) -> Iterator[Containers]:
    c = Containers(engine, image)
    yield c
    c.cleanup()
