"""Kubernetes patches from recommendations: strategic-merge YAML, kubectl, kustomize."""

from __future__ import annotations

import json
import shlex
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from rightsize.model import Declared, Recommendation
from rightsize.render.patches import (
    KUSTOMIZATION,
    cpu_quantity,
    kubectl_patch_command,
    memory_quantity,
    patch_document,
    strategic_merge_patch,
    write_kustomize_patches,
)
from rightsize.sources.manifests import ManifestWorkload, load_manifests
from rightsize.units import format_cpu, parse_cpu, parse_memory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "manifests"
Mi = 2**20
Gi = 2**30


@pytest.fixture(scope="module")
def mws() -> dict[str, ManifestWorkload]:
    found = load_manifests([FIXTURES / "k8s", FIXTURES / "compose" / "blog"])
    return {m.workload: m for m in found}


REC = Recommendation(
    cpu_request=0.15, cpu_limit=None, memory_request=384 * Mi, memory_limit=384 * Mi,
    confidence=0.8,
)


def test_deployment_patch_golden(mws: dict[str, ManifestWorkload]) -> None:
    mw = mws["shop/web/app"]  # the manifest has limits.cpu: "1" → null deletes it
    assert strategic_merge_patch(mw, REC) == (
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        "  name: web\n"
        "  namespace: shop\n"
        "spec:\n"
        "  template:\n"
        "    spec:\n"
        "      containers:\n"
        "      - name: app\n"
        "        resources:\n"
        "          requests:\n"
        "            cpu: 150m\n"
        "            memory: 384Mi\n"
        "          limits:\n"
        "            cpu: null\n"
        "            memory: 384Mi\n"
    )
    assert kubectl_patch_command(mw, REC) == (
        "kubectl -n shop patch deployment web --type strategic -p "
        """'{"spec":{"template":{"spec":{"containers":[{"name":"app","resources":"""
        """{"requests":{"cpu":"150m","memory":"384Mi"},"limits":{"cpu":null,"memory":"384Mi"}}"""
        """}]}}}}'"""
    )


def test_no_cpu_limit_in_the_manifest_means_no_null(mws: dict[str, ManifestWorkload]) -> None:
    mw = mws["default/db/postgres"]  # no limits.cpu, no metadata.namespace
    doc = yaml.safe_load(strategic_merge_patch(mw, REC))
    assert doc["metadata"] == {"name": "db"}  # namespace left to the kustomization
    (container,) = doc["spec"]["template"]["spec"]["containers"]
    assert container == {
        "name": "postgres",
        "resources": {
            "requests": {"cpu": "150m", "memory": "384Mi"},
            "limits": {"memory": "384Mi"},
        },
    }
    assert kubectl_patch_command(mw, REC).startswith(
        "kubectl -n default patch statefulset db --type strategic -p "
    )


def test_cronjob_patch_uses_the_job_template(mws: dict[str, ManifestWorkload]) -> None:
    mw = mws["ops/backup/dump"]
    rec = Recommendation(1.5, 2.0, 2 * Gi, 3 * Gi, 0.9)
    doc = yaml.safe_load(strategic_merge_patch(mw, rec))
    assert doc["apiVersion"] == "batch/v1"
    assert doc["kind"] == "CronJob"
    spec = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert spec["containers"] == [
        {
            "name": "dump",
            "resources": {
                "requests": {"cpu": "1.5", "memory": "2Gi"},
                "limits": {"cpu": "2", "memory": "3Gi"},
            },
        }
    ]
    assert " patch cronjob backup " in kubectl_patch_command(mw, rec)


def test_sidecar_and_init_patches_go_under_init_containers() -> None:
    found = {m.container: m for m in load_manifests([FIXTURES / "k8s" / "pod-sidecar.yaml"])}
    rec = Recommendation(0.05, None, 64 * Mi, 128 * Mi, 0.5)
    for name in ("proxy", "migrate"):
        doc = yaml.safe_load(strategic_merge_patch(found[name], rec))
        assert doc["apiVersion"] == "v1"
        assert doc["kind"] == "Pod"
        assert list(doc["spec"]) == ["initContainers"]
        assert doc["spec"]["initContainers"][0]["name"] == name
    # migrate had a CPU limit (500m): deleting it is explicit; proxy had none
    migrate = yaml.safe_load(strategic_merge_patch(found["migrate"], rec))
    assert migrate["spec"]["initContainers"][0]["resources"]["limits"] == {
        "cpu": None, "memory": "128Mi",
    }
    proxy = yaml.safe_load(strategic_merge_patch(found["proxy"], rec))
    assert proxy["spec"]["initContainers"][0]["resources"]["limits"] == {"memory": "128Mi"}
    # a bare Pod is resized in place
    assert kubectl_patch_command(found["main"], rec).endswith("--subresource resize")


def test_yaml_round_trip_equals_the_patch_document(mws: dict[str, ManifestWorkload]) -> None:
    for mw in mws.values():
        if mw.is_kubernetes:
            assert yaml.safe_load(strategic_merge_patch(mw, REC)) == patch_document(mw, REC)


def test_none_values_are_left_out(mws: dict[str, ManifestWorkload]) -> None:
    rec = Recommendation(None, 0.5, None, None, 0.1)
    doc = patch_document(mws["shop/web/app"], rec)
    resources = doc["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {"limits": {"cpu": "0.5"}}


def test_compose_workloads_are_not_patched(mws: dict[str, ManifestWorkload]) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes"):
        strategic_merge_patch(mws["blog/web"], REC)
    with pytest.raises(ValueError, match="not a Kubernetes"):
        kubectl_patch_command(mws["blog/web"], REC)


HOSTILE = "a'; rm -rf /"


def hostile(mw: ManifestWorkload, **changes: str) -> ManifestWorkload:
    return replace(mw, **changes)  # type: ignore[arg-type]


def test_hostile_names_are_quoted_in_shell_and_yaml(mws: dict[str, ManifestWorkload]) -> None:
    mw = hostile(
        mws["shop/web/app"], owner=HOSTILE, namespace="ns $(id)\n`x`", container='c"\n- name: x'
    )
    command = kubectl_patch_command(mw, REC)
    words = shlex.split(command)
    assert words[:6] == ["kubectl", "-n", "ns $(id)\n`x`", "patch", "deployment", HOSTILE]
    assert words[6:9] == ["--type", "strategic", "-p"]
    patch = json.loads(words[9])
    assert patch["spec"]["template"]["spec"]["containers"][0]["name"] == 'c"\n- name: x'
    assert len(words) == 10
    doc = yaml.safe_load(strategic_merge_patch(mw, REC))
    assert doc["metadata"] == {"name": HOSTILE, "namespace": "ns $(id)\n`x`"}
    assert doc["spec"]["template"]["spec"]["containers"][0]["name"] == 'c"\n- name: x'


def test_names_starting_with_a_dash_are_not_options(mws: dict[str, ManifestWorkload]) -> None:
    mw = hostile(mws["shop/web/app"], owner="--kubeconfig=/tmp/x", namespace="-n")
    words = shlex.split(kubectl_patch_command(mw, REC))
    assert words[1] == "--namespace=-n"
    assert words[-2:] == ["--", "--kubeconfig=/tmp/x"]


def test_write_kustomize_patches(tmp_path: Path, mws: dict[str, ManifestWorkload]) -> None:
    out = tmp_path / "patches"
    items = [
        (mws["shop/web/app"], REC),
        (mws["blog/web"], REC),  # Compose: skipped
        # nothing to change (no CPU limit declared, none recommended)
        (mws["monitoring/node-exporter/exporter"], Recommendation(None, None, None, None, 0.0)),
        (mws["default/db/postgres"], REC),
        (hostile(mws["default/db/postgres"], owner="../../etc/passwd"), REC),
        (hostile(mws["default/db/postgres"], owner="DB"), REC),  # same file name, lowercased
    ]
    paths = write_kustomize_patches(out, items)
    assert [p.name for p in paths] == [
        "deployment-shop-web-app.yaml",
        "statefulset-default-db-postgres.yaml",
        "statefulset-default-.._.._etc_passwd-postgres.yaml",
        "statefulset-default-db-postgres-2.yaml",
        KUSTOMIZATION,
    ]
    assert all(p.parent == out for p in paths)
    kustomization = yaml.safe_load(paths[-1].read_text())
    assert kustomization == {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "patches": [{"path": p.name} for p in paths[:-1]],
    }
    assert paths[0].read_text() == strategic_merge_patch(mws["shop/web/app"], REC)
    assert yaml.safe_load(paths[2].read_text())["metadata"]["name"] == "../../etc/passwd"


# --------------------------------------------------------------------------- quantities


@pytest.mark.parametrize(
    ("cores", "text"),
    [(0.25, "250m"), (1.0, "1"), (1.5, "1.5"), (0.1, "0.1"), (0.15, "150m"), (0.0001, "1m"),
     (0.0, "0"), (0.30000000000000004, "0.3"), (2.05, "2050m"), (100000.1, "100000.1"),
     (1000000.5, "1000000.5")],
)
def test_cpu_quantity(cores: float, text: str) -> None:
    assert cpu_quantity(cores) == text


@pytest.mark.parametrize(
    ("nbytes", "text"),
    [(384 * Mi, "384Mi"), (Gi, "1Gi"), (1536 * Mi, "1536Mi"), (1, "1Mi"), (Mi + 1, "2Mi"),
     (0, "0"), (10**9, "954Mi")],
)
def test_memory_quantity(nbytes: int, text: str) -> None:
    assert memory_quantity(nbytes) == text


NANO = st.integers(min_value=1, max_value=10**15)  # nanocores: the quantity grid


@given(NANO)
def test_cpu_quantity_never_below_a_quantity_input(nanocores: int) -> None:
    cores = nanocores / 1e9
    text = cpu_quantity(cores)
    back = parse_cpu(text)
    assert back >= cores
    assert back - cores < 0.001 + 1e-9
    assert text == format_cpu(back) or back >= 1e5  # format_cpu agrees below 100000 cores


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_cpu_quantity_never_below_any_float_by_more_than_a_nanocore(cores: float) -> None:
    # cpu_quantity (via round_cpu_up) forgives float noise below 1e-6 millicores
    # (0.30000000000000004 → 300m): sub-nanocore, below quantity precision
    assert parse_cpu(cpu_quantity(cores)) >= cores - 1e-9


@given(st.integers(min_value=0, max_value=2**50))
def test_memory_quantity_never_below_the_input(nbytes: int) -> None:
    back = parse_memory(memory_quantity(nbytes))
    assert back >= nbytes
    assert back - nbytes < Mi
    assert back % Mi == 0


@given(st.integers(min_value=0, max_value=10**7))
def test_format_cpu_of_whole_millicores_round_trips(milli: int) -> None:
    cores = milli / 1000
    assert parse_cpu(format_cpu(cores)) >= cores


@pytest.mark.parametrize("cores", [100000.1, 1000000.5])
def test_format_cpu_never_rounds_down_huge_values(cores: float) -> None:
    assert parse_cpu(format_cpu(cores)) >= cores


def test_format_cpu_tolerates_only_float_noise() -> None:
    # Excess below a nanocore is float noise, not demand: within 1e-9 of the input.
    assert parse_cpu(format_cpu(0.0010000001)) >= 0.0010000001 - 1e-9


def test_declared_is_unused_beyond_cpu_limit(mws: dict[str, ManifestWorkload]) -> None:
    # only whether the manifest had limits.cpu changes the patch
    mw = mws["shop/web/app"]
    same = replace(mw, declared=Declared(cpu_limit=3.0))
    assert strategic_merge_patch(same, REC) == strategic_merge_patch(mw, REC)


# ------------------------------------------------ no patch without a recommendation


def test_no_patch_without_a_recommendation_and_never_one_that_only_deletes(
    tmp_path: Path, mws: dict[str, ManifestWorkload]
) -> None:
    from rightsize.render.patches import patch_resources

    web = mws["shop/web/app"]
    assert web.declared.cpu_limit is not None  # the manifest declares a CPU limit
    empty = Recommendation(None, None, None, None, 0.0)
    assert patch_resources(web, empty) == {}
    paths = write_kustomize_patches(tmp_path / "p", [(web, empty)])
    assert [p.name for p in paths] == [KUSTOMIZATION]
    # a lower bound (OOM kill, short history) raises the memory limit and keeps the CPU limit
    bound = Recommendation(None, None, None, 196 * Mi, 1.0, basis=("oom_kill",))
    assert patch_resources(web, bound) == {"limits": {"memory": "196Mi"}}
    # a sized recommendation without a CPU limit still drops the declared one
    sized = Recommendation(0.15, None, 384 * Mi, 384 * Mi, 0.9)
    assert patch_resources(web, sized)["limits"] == {"cpu": None, "memory": "384Mi"}
