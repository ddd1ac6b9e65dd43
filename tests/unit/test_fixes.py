"""Copy-paste fixes per platform (rightsize.render.fixes), checked with the real tools.

Kubernetes snippets run through ``kubectl --local`` (offline) when kubectl is
installed; Compose snippets are parsed with PyYAML and checked against the keys
``docker compose`` honours (no ``docker compose`` here: ``docker compose
config`` is used when it is). ``docker update``/``docker run`` are exercised on
a real engine in ``tests/integration/test_fixes_engine.py``.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

import rightsize
from rightsize.analysis.result import AnalysisResult, WorkloadResult
from rightsize.model import Declared, Recommendation
from rightsize.render.fixes import Fixes, fixes_for, platform_of

Mi = 2**20
KUBECTL = shutil.which("kubectl")


@pytest.fixture(scope="module")
def lab() -> AnalysisResult:
    return rightsize.analyze("data/lab-session")


def as_platform(
    w: WorkloadResult, labels: dict[str, str], name: str | None = None
) -> WorkloadResult:
    return dataclasses.replace(w, labels=labels, name=name or w.name)


K8S = {
    "io.kubernetes.pod.namespace": "shop",
    "io.kubernetes.pod.name": "web-7d4b9c8f6d-x2x9z",
    "io.kubernetes.container.name": "app",
}
COMPOSE = {"com.docker.compose.project": "blog", "com.docker.compose.service": "web"}
REC = Recommendation(0.15, None, 384 * Mi, 384 * Mi, 0.9)
DECL = Declared(cpu_request=0.25, cpu_limit=0.5, memory_request=256 * Mi, memory_limit=512 * Mi)


def k8s_workload(lab: AnalysisResult, rec: Recommendation = REC) -> WorkloadResult:
    w = as_platform(lab["lab-idle"], K8S, "shop/web/app")
    return dataclasses.replace(w, recommendation=rec, declared=DECL)


def fixes(w: WorkloadResult) -> Fixes:
    f = fixes_for(w)
    assert f is not None
    return f


def test_platform_decides_the_snippets(lab: AnalysisResult) -> None:
    docker = lab["lab-idle"]
    assert platform_of(docker) == "docker"
    titles = [t for t, _ in fixes(docker).snippets]
    assert titles == ["docker update (live)", "docker run flags (when recreating)"]
    k8s = k8s_workload(lab)
    assert platform_of(k8s) == "kubernetes"
    k8s_text = " ".join(text for _, text in fixes(k8s).snippets)
    assert "kubectl" in k8s_text and "docker" not in k8s_text
    compose = as_platform(docker, COMPOSE, "blog/web")
    assert platform_of(compose) == "compose"
    assert fixes(compose).snippets[0][0] == "Compose service"


def _manifest(tmp_path: Path) -> Path:
    doc = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "nginx",
                            "resources": {
                                "requests": {"cpu": "250m", "memory": "256Mi"},
                                "limits": {"cpu": "500m", "memory": "512Mi"},
                            },
                        }
                    ]
                },
            },
        },
    }
    path = tmp_path / "web.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _kubectl(words: list[str], manifest: Path) -> dict[str, Any]:
    """Run a snippet's kubectl command offline against ``manifest``; the container's resources."""
    assert words[0] == "kubectl"
    rest = words[1:]
    if rest[0] == "-n":
        rest = rest[2:]
    verb = rest[:2] if rest[0] == "set" else rest[:1]
    args = rest[len(verb) :]
    # drop the object reference (the manifest file stands in for it)
    args = args[2:] if verb == ["patch"] else args[1:]
    cmd = [str(KUBECTL), *verb, "--local", "-f", str(manifest), "-o", "json", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, (cmd, out.stderr)
    obj = json.loads(out.stdout)
    resources: dict[str, Any] = obj["spec"]["template"]["spec"]["containers"][0]["resources"]
    return resources


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
@pytest.mark.parametrize(
    ("rec", "want"),
    [
        (REC, {"requests": {"cpu": "150m", "memory": "384Mi"}, "limits": {"memory": "384Mi"}}),
        (
            Recommendation(None, None, None, 196 * Mi, 1.0, basis=("oom_kill",)),
            {"requests": {"cpu": "250m", "memory": "256Mi"},
             "limits": {"cpu": "500m", "memory": "196Mi"}},
        ),
    ],
)
def test_kubectl_snippets_apply_offline(
    tmp_path: Path, lab: AnalysisResult, rec: Recommendation, want: dict[str, Any]
) -> None:
    manifest = _manifest(tmp_path)
    f = fixes(k8s_workload(lab, rec))
    patch = [line for line in f.get("kubectl patch").splitlines() if not line.startswith("#")]
    assert shlex.split(patch[0])[:5] == ["kubectl", "-n", "shop", "patch", "deployment"]
    assert _kubectl(shlex.split(patch[0]), manifest) == want
    sr = [line for line in f.get("kubectl set resources").splitlines() if not line.startswith("#")]
    words = shlex.split(sr[0])
    assert words[:6] == ["kubectl", "-n", "shop", "set", "resources", "deployment/web"]
    got = _kubectl(words, manifest)
    # set resources cannot delete a limit: everything but the dropped CPU limit matches
    if rec.sized:
        assert got["requests"] == want["requests"]
        assert got["limits"]["memory"] == want["limits"]["memory"]
        assert "drop limits.cpu with kubectl patch" in f.get("kubectl set resources")
    else:
        assert got == want
    resources_yaml = yaml.safe_load(f.get("Kubernetes resources"))
    assert resources_yaml["containers"][0]["name"] == "app"


#: what ``docker compose`` honours (docker/compose pkg/compose/create.go), per service
COMPOSE_SERVICE_KEYS = {"cpu_shares", "cpus", "mem_limit", "mem_reservation", "deploy"}
COMPOSE_RESOURCES = {"limits": {"cpus", "memory"}, "reservations": {"memory"}}


def check_compose(text: str) -> dict[str, Any]:
    """Parse a Compose snippet and check it only uses keys compose honours (schema check)."""
    doc = yaml.safe_load(text)
    assert set(doc) == {"services"}
    for service in doc["services"].values():
        assert set(service) <= COMPOSE_SERVICE_KEYS
        if "cpu_shares" in service:
            assert isinstance(service["cpu_shares"], int) and service["cpu_shares"] >= 2
        resources = service.get("deploy", {}).get("resources", {})
        assert set(service.get("deploy", {})) <= {"resources"}
        for section, keys in resources.items():
            assert section in COMPOSE_RESOURCES and set(keys) <= COMPOSE_RESOURCES[section]
            if "cpus" in keys:
                assert isinstance(keys["cpus"], str) and float(keys["cpus"]) > 0
            if "memory" in keys:
                assert str(keys["memory"])[:-1].isdigit() and str(keys["memory"])[-1] in "kmg"
    return dict(doc)


def test_compose_snippet_uses_keys_compose_honours(lab: AnalysisResult) -> None:
    w = dataclasses.replace(
        as_platform(lab["lab-idle"], COMPOSE, "blog/web"), declared=DECL, recommendation=REC
    )
    doc = check_compose(fixes(w).get("Compose service"))
    web = doc["services"]["web"]
    # the CPU request (150m) as shares: compose ignores reservations.cpus
    assert web["cpu_shares"] == 154
    assert web["deploy"]["resources"] == {
        "limits": {"memory": "384m"},
        "reservations": {"memory": "384m"},
    }
    assert "reservations:\n          cpus" not in fixes(w).get("Compose service")
    compose = shutil.which("docker")
    if compose and subprocess.run(
        [compose, "compose", "version"], capture_output=True, timeout=30
    ).returncode == 0:  # pragma: no cover - not on this machine
        path = Path("compose-check.yaml")
        text = fixes(w).get("Compose service").replace('"web":', '"web":\n    image: busybox', 1)
        path.write_text(text)
        try:
            out = subprocess.run([compose, "compose", "-f", str(path), "config"],
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
        finally:
            path.unlink()


def test_lower_bound_fixes_only_raise_what_they_name(lab: AnalysisResult) -> None:
    grower = lab["lab-grower"]
    rec = grower.recommendation
    assert rec is not None and rec.lower_bound
    f = fixes(grower)
    update = f.get("docker update")
    assert "--memory 196m" in update and "--cpus" not in update and "--cpu-shares" not in update
    assert "no CPU limit recommended" not in update
    w = dataclasses.replace(as_platform(grower, COMPOSE, "blog/web"), declared=DECL)
    doc = check_compose(fixes(w).get("Compose service"))
    assert doc["services"]["web"] == {"deploy": {"resources": {"limits": {"memory": "196m"}}}}


# ---------------------------------------------------------------- in-place resize (issue 16)

RESIZE = "kubectl patch pod --subresource resize"


def _resize_workload(lab: AnalysisResult, pods: list[str],
                     rec: Recommendation = REC) -> WorkloadResult:
    w = k8s_workload(lab, rec)
    return dataclasses.replace(w, container_names=tuple(f"{p}/app" for p in pods))


def _commands(text: str) -> list[list[str]]:
    return [shlex.split(line) for line in text.splitlines() if not line.startswith("#")]


def test_resize_patches_each_running_pod_in_place(lab: AnalysisResult, tmp_path: Path) -> None:
    pods = ["web-7d4b9c8f6d-x2x9z", "web-7d4b9c8f6d-k8s7q"]
    text = fixes(_resize_workload(lab, pods)).get(RESIZE)
    commands = _commands(text)
    assert [c[:6] for c in commands] == [
        ["kubectl", "-n", "shop", "patch", "pod", p] for p in sorted(pods)
    ]
    for c in commands:
        assert c[6:10] == ["--subresource", "resize", "--type", "strategic"]
        body = json.loads(c[c.index("-p") + 1])
        assert body == {"spec": {"containers": [{"name": "app", "resources": {
            "requests": {"cpu": "150m", "memory": "384Mi"},
            "limits": {"cpu": None, "memory": "384Mi"}}}]}}  # fmt: skip
    # 512Mi -> 384Mi: the restart a memory limit decrease may still take is named
    assert "lowers the memory limit (512Mi -> 384Mi)" in text
    assert "RestartContainer restarts the container" in text
    if KUBECTL is not None:  # the patch applies to a Pod (offline; --local has no subresource)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pods[0]},
               "spec": {"containers": [{"name": "app", "image": "nginx", "resources": {
                   "requests": {"cpu": "250m", "memory": "256Mi"},
                   "limits": {"cpu": "500m", "memory": "512Mi"}}}]}}  # fmt: skip
        path = tmp_path / "pod.yaml"
        path.write_text(yaml.safe_dump(pod))
        patch = commands[0][commands[0].index("-p") + 1]
        out = subprocess.run([KUBECTL, "patch", "--local", "-f", str(path), "--type",
                              "strategic", "-p", patch, "-o", "json"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout)["spec"]["containers"][0]["resources"]
        assert got == {"requests": {"cpu": "150m", "memory": "384Mi"},
                       "limits": {"memory": "384Mi"}}  # fmt: skip


def test_resize_without_a_memory_decrease_names_only_the_policy(lab: AnalysisResult) -> None:
    up = Recommendation(0.3, None, 600 * Mi, 600 * Mi, 0.9)
    text = fixes(_resize_workload(lab, ["web-7d4b9c8f6d-x2x9z"], up)).get(RESIZE)
    assert "lowers the memory limit" not in text
    assert "RestartContainer" in text and len(_commands(text)) == 1


def test_resize_names_untrusted_pods_safely_and_caps_the_list(lab: AnalysisResult) -> None:
    text = fixes(_resize_workload(lab, ["-rf", "a'b"])).get(RESIZE)
    by_pod = {c[-1] if c[-2] == "--" else c[5]: c for c in _commands(text)}
    assert set(by_pod) == {"-rf", "a'b"} and by_pod["-rf"][-2] == "--"
    many = fixes(_resize_workload(lab, [f"web-7d4b9c8f6d-{i:05d}" for i in range(25)]))
    assert len(_commands(many.get(RESIZE))) == 20
    assert "and 5 more pods" in many.get(RESIZE)


def test_resize_from_cri_dockerd_names_and_bare_pods(lab: AnalysisResult) -> None:
    w = dataclasses.replace(k8s_workload(lab), container_names=(
        "k8s_app_web-7d4b9c8f6d-x2x9z_shop_0b1c_0",))  # fmt: skip
    assert _commands(fixes(w).get(RESIZE))[0][5] == "web-7d4b9c8f6d-x2x9z"
    bare = as_platform(lab["lab-idle"], {**K8S, "io.kubernetes.pod.name": "debug"},
                       "shop/debug/app")  # fmt: skip
    bare = dataclasses.replace(bare, recommendation=REC, declared=DECL)
    f = fixes(bare)
    assert f.get(RESIZE) == "" and "--subresource resize" in f.get("kubectl patch")


def test_docker_update_says_it_applies_live(lab: AnalysisResult) -> None:
    assert "applies to the running containers at once: no restart" in fixes(
        lab["lab-idle"]).get("docker update")  # fmt: skip
