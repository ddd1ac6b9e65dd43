"""Matching by Compose's ``container_name``: the plain container Compose would have named."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from rightsize.analysis.manifests import match_manifests
from rightsize.sources.manifests import load_manifests

COMPOSE = "name: shop\nservices:\n  web:\n    container_name: shop-web\n    mem_limit: 1g\n"


def _containers(*rows: tuple[str, dict[str, str], str | None]) -> pd.DataFrame:
    return pd.DataFrame([
        {"host": "h", "container_id": f"c{i}", "name": name, "labels": labels,
         "workload": workload, "cpu_request": math.nan, "cpu_limit": math.nan,
         "memory_request": math.nan, "memory_limit": math.nan}
        for i, (name, labels, workload) in enumerate(rows)
    ])


def test_a_plain_container_matches_the_service_whose_container_name_it_has(
        tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (web,) = load_manifests([tmp_path])
    assert web.workload == "shop/web" and web.container_name == "shop-web"
    compose_labels = {"com.docker.compose.project": "other",
                      "com.docker.compose.service": "web"}
    containers = _containers(
        ("shop-web", {}, None),                # plain: matched
        ("shop-web", compose_labels, None),    # another project's container: not matched
        ("shop-web", {}, "imported"),          # an import named its workload: not matched
        ("shop-api", {}, None),
    )
    match = match_manifests(containers, [web])
    assert list(match.rows) == [0] and match.unmatched == []


def test_a_service_without_container_name_matches_by_name_only(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE.replace("    container_name: shop-web\n", ""))
    (web,) = load_manifests([tmp_path])
    assert web.container_name is None
    match = match_manifests(_containers(("shop-web", {}, None)), [web])
    assert match.rows == {} and match.unmatched == [web]
