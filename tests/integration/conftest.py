"""Integration fixtures: a real Docker engine, or a skip (a failure under CI)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from rightsize.errors import RuntimeFailure
from rightsize.sources.docker.client import DockerClient
from rightsize.sources.docker.host import resolve_host

REQUIRE = os.environ.get("RIGHTSIZE_REQUIRE_ENGINE") == "1"


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
