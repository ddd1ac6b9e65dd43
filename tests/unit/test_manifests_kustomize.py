"""Kustomizations read as ``kubectl kustomize`` renders them (issue 12).

Each fixture overlay is read twice, rendered by ``kubectl kustomize`` and by
the built-in reader, and both must give the same declared values, which
are also written out here. Without kubectl the comparison is skipped, unless
``RIGHTSIZE_REQUIRE_ENGINE=1`` (CI), where it fails.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from rightsize.errors import InputError
from rightsize.model import Declared
from rightsize.sources.manifests import ManifestWorkload, load_manifests
from rightsize.sources.manifests.merge import DELETE, json_patch, strategic_merge
from rightsize.sources.manifests.yamlload import load_documents

KUSTOMIZE = Path(__file__).resolve().parents[1] / "fixtures" / "manifests" / "kustomize"
Mi = 2**20
Gi = 2**30

needs_kubectl = pytest.mark.skipif(
    shutil.which("kubectl") is None and os.environ.get("RIGHTSIZE_REQUIRE_ENGINE") != "1",
    reason="kubectl is not on PATH (RIGHTSIZE_REQUIRE_ENGINE=1 makes this a failure)",
)

#: what kubectl kustomize v5.5 renders for each fixture overlay
EXPECTED = {
    "patches/overlay": {
        # zz-no-cpu-limit.yaml deletes only limits.cpu; aa-memory.yaml, listed after it, wins
        "shop/prod-web-v2/app": Declared(0.25, None, 256 * Mi, Gi),
        # the component's $patch: replace drops the base's cpu request
        "shop/prod-web-v2/proxy": Declared(None, None, 96 * Mi, 96 * Mi),
        # a JSON 6902 patch with a labelSelector target
        "shop/prod-db-v2/postgres": Declared(1.5, None, Gi, 2 * Gi),
        # legacy: deleted by $patch: delete; replicas.yaml changes nothing declared
    },
    "springboot/overlays/production": {
        "default/production-sbdemo/sbdemo": Declared(None, None, 1250 * Mi, 1250 * Mi),
    },
}


def read(path: Path, engine: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Declared]:
    monkeypatch.setenv("RIGHTSIZE_KUSTOMIZE", engine)
    return {m.workload: m.declared for m in load_manifests([path])}


@pytest.mark.parametrize("overlay", sorted(EXPECTED))
def test_builtin_reader(overlay: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert read(KUSTOMIZE / overlay, "builtin", monkeypatch) == EXPECTED[overlay]


@needs_kubectl
@pytest.mark.parametrize("overlay", sorted(EXPECTED))
def test_kubectl_kustomize_and_the_builtin_reader_agree(
    overlay: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = read(KUSTOMIZE / overlay, "kubectl", monkeypatch)
    assert rendered == EXPECTED[overlay]
    assert read(KUSTOMIZE / overlay, "builtin", monkeypatch) == rendered


def test_a_folder_renders_its_overlays_not_their_bases(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("RIGHTSIZE_KUSTOMIZE", "builtin")
    with caplog.at_level(logging.INFO, logger="rightsize"):
        found = {m.workload for m in load_manifests([KUSTOMIZE])}
    # the bases (included by the overlays) are not read on their own, nor the patch files
    assert found == set(EXPECTED["patches/overlay"]) | set(
        EXPECTED["springboot/overlays/production"])
    assert "kustomization rendered with the built-in reader" in caplog.text
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("manifests:")]
    assert summary == ["manifests: 4 workloads from 0 files; 2 kustomizations rendered with "
                       "the built-in reader; skipped 1 objects of other kinds (Service 1)"]


@needs_kubectl
def test_kubectl_is_preferred_and_named(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("RIGHTSIZE_KUSTOMIZE", raising=False)
    with caplog.at_level(logging.INFO, logger="rightsize"):
        load_manifests([KUSTOMIZE / "springboot" / "overlays" / "production" /
                        "kustomization.yaml"])
    assert "kustomization rendered with kubectl kustomize" in caplog.text


def test_builtin_values_name_the_file_they_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSIZE_KUSTOMIZE", "builtin")
    (mw,) = load_manifests([KUSTOMIZE / "springboot" / "overlays" / "production"])
    assert mw.source == (KUSTOMIZE / "springboot" / "base" / "deployment.yaml").resolve()


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


DEPLOY = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n"
          "    spec:\n      containers:\n      - name: app\n"
          "        resources: {limits: {memory: 1Gi}}\n")


@pytest.mark.parametrize("engine", ["builtin", pytest.param("kubectl", marks=needs_kubectl)])
def test_a_patch_with_a_bad_quantity_is_exit_2_naming_the_patch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    write(tmp_path, {
        "kustomization.yaml": "resources: [web.yaml]\npatches:\n- path: bad.yaml\n",
        "web.yaml": DEPLOY,
        "bad.yaml": ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
                     "  template:\n    spec:\n      containers:\n      - name: app\n"
                     "        resources:\n          limits:\n            cpu: 1K\n"),
    })
    monkeypatch.setenv("RIGHTSIZE_KUSTOMIZE", engine)
    with pytest.raises(InputError, match=r"invalid CPU quantity '1K'") as info:
        load_manifests([tmp_path])
    if engine == "builtin":
        assert str(info.value).startswith(f"{tmp_path / 'bad.yaml'}:11: ")


def test_a_patch_without_a_target_is_an_error(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {
        "kustomization.yaml": "resources: [web.yaml]\npatches:\n- path: p.yaml\n",
        "web.yaml": DEPLOY,
        "p.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: nope}\nspec: {}\n",
    })
    monkeypatch.setenv("RIGHTSIZE_KUSTOMIZE", "builtin")
    with pytest.raises(InputError, match="Deployment nope matches nothing"):
        load_manifests([tmp_path])


def test_remote_resources_need_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {"kustomization.yaml":
                     "resources:\n- https://github.com/example/app//base?ref=v1\n"})
    monkeypatch.setenv("RIGHTSIZE_KUSTOMIZE", "builtin")
    with pytest.raises(InputError, match="remote resource"):
        load_manifests([tmp_path])


def test_unknown_engine_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from rightsize.errors import UsageError

    monkeypatch.setenv("RIGHTSIZE_KUSTOMIZE", "helm")
    with pytest.raises(UsageError, match="RIGHTSIZE_KUSTOMIZE"):
        load_manifests([KUSTOMIZE / "patches" / "overlay"])


# --------------------------------------------------------------------------- merge semantics


def doc(text: str) -> object:
    (out,) = load_documents(text)
    return out


def test_strategic_merge_null_deletes_and_lists_merge_by_name() -> None:
    base = doc("containers: [{name: a, r: {p: 1, q: 2}}, {name: b}]\nargs: [1]\nkeep: 1\n")
    patch = doc("containers: [{name: a, r: {p: null, s: 3}}, {name: c}]\nargs: [2]\n")
    assert strategic_merge(base, patch, None) == {
        "containers": [{"name": "a", "r": {"q": 2, "s": 3}}, {"name": "b"}, {"name": "c"}],
        "args": [2], "keep": 1}


def test_strategic_merge_directives() -> None:
    base = doc("containers: [{name: a}, {name: b}]\nr: {x: 1}\nargs: [1, 2]\n")
    assert strategic_merge(base, doc("containers: [{name: a, $patch: delete}]\n")) == {
        "containers": [{"name": "b"}], "r": {"x": 1}, "args": [1, 2]}
    assert strategic_merge(base, doc("r: {$patch: replace, z: 2}\nargs: [3]\n")) == {
        "containers": [{"name": "a"}, {"name": "b"}], "r": {"z": 2}, "args": [3]}
    assert strategic_merge(base, doc("containers: [{$patch: replace}, {name: c}]\n"))[
        "containers"] == [{"name": "c"}]
    assert strategic_merge(base, doc("$patch: delete\n")) is DELETE


def test_json_patch() -> None:
    base = doc("a: {b: [1, 2]}\n")
    ops = doc("- {op: add, path: /a/b/-, value: 3}\n- {op: replace, path: /a/b/0, value: 0}\n"
              "- {op: copy, from: /a/b, path: /c}\n- {op: remove, path: /a/b/1}\n")
    assert json_patch(base, ops) == {"a": {"b": [0, 3]}, "c": [0, 2, 3]}
    assert base == {"a": {"b": [1, 2]}}


def test_workloads_keep_their_kustomize_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGHTSIZE_KUSTOMIZE", "builtin")
    found: dict[str, ManifestWorkload] = {
        m.workload: m for m in load_manifests([KUSTOMIZE / "patches" / "overlay"])}
    web = found["shop/prod-web-v2/app"]
    assert (web.owner, web.namespace, web.namespace_explicit) == ("prod-web-v2", "shop", True)
