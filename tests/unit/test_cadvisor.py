"""cAdvisor's Docker labels and the batch plan of rightsize.sources.prometheus.cadvisor."""

from __future__ import annotations

from rightsize.sources.prometheus.cadvisor import (
    MAX_MATCHER_BYTES,
    DockerContainer,
    _cpu_request,
    docker_labels,
    plan_batches,
)


def _box(host: str, i: int) -> DockerContainer:
    return DockerContainer(host, f"/docker/{i:064x}", f"c{i}", "img")


def test_labels_get_their_dotted_names_back_and_envs_are_not_read() -> None:
    labels = docker_labels({
        "container_label_com_docker_compose_project": "shop",
        "container_label_com_docker_compose_service": "web",
        "container_label_io_kubernetes_pod_name": "web-0",
        "container_label_tier": "front",
        "container_env_TOKEN": "secret",
        "container_label_empty": "",
        "name": "shop-web-1",
    })  # fmt: skip
    assert labels == {"com.docker.compose.project": "shop", "com.docker.compose.service": "web",
                      "io.kubernetes.pod.name": "web-0", "tier": "front"}  # fmt: skip


def test_container_id_from_the_cgroup() -> None:
    cid = "ab" * 32
    assert DockerContainer("h", f"/docker/{cid}", "n", "").container_id == cid
    assert DockerContainer("h", f"/system.slice/docker-{cid}.scope", "n", "").container_id == cid
    assert DockerContainer("h", "/lxc/box", "n", "").container_id == "/lxc/box"


def test_shares_defaults_are_no_request() -> None:
    assert _cpu_request(1024, {}) is None and _cpu_request(2597, {}) is None
    assert _cpu_request(2, {}) is None and _cpu_request(None, {}) is None
    assert _cpu_request(512, {}) == 0.5
    assert _cpu_request(256, {"io.kubernetes.container.name": "app"}) == 0.25


def test_whole_hosts_per_batch_and_large_hosts_split_by_id() -> None:
    boxes = [_box(f"h{h}", h * 100 + i) for h in range(4) for i in range(10)]
    boxes += [_box("big", 9000 + i) for i in range(25)]
    batches = list(plan_batches(boxes, per_batch=20))
    assert sum(len(b.containers) for b in batches) == len(boxes)
    assert all(len(b.containers) <= 20 for b in batches)
    big = [b for b in batches if b.hosts == ("big",)]
    assert [len(b.containers) for b in big] == [20, 5] and all(b.by_id for b in big)
    assert all(not b.by_id and len(b.hosts) == 2 for b in batches if b not in big)


def test_matchers_stay_under_the_query_length_cap() -> None:
    boxes = [_box("one-host", i) for i in range(2000)]
    assert len(list(plan_batches(boxes, per_batch=10_000))) == 1  # by host: a short query
    batches = list(plan_batches(boxes, per_batch=1_000))
    assert len(batches) > 2 and all(b.by_id for b in batches)
    for b in batches:
        assert sum(len(c.cgroup) + 1 for c in b.containers) <= MAX_MATCHER_BYTES
