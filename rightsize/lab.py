"""``rightsize lab``: demonstration containers with known misdeclared resources.

The only part of rightsize that creates or removes containers. Every lab
container carries the label ``rightsize.lab=1`` so ``collect --filter
label=rightsize.lab=1`` finds them and ``lab down`` removes only them.

Image: ``busybox:latest`` when it is present or can be pulled; otherwise a
local image ``rightsize/busybox:local`` imported from a root filesystem built
around a static busybox binary (Debian's ``busybox-static``).
"""

from __future__ import annotations

import io
import logging
import shutil
import struct
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rightsize.errors import EngineError, RuntimeFailure
from rightsize.sources.docker.client import DockerClient
from rightsize.sources.docker.host import resolve_host

log = logging.getLogger("rightsize.lab")

LAB_LABEL = "rightsize.lab"
LOCAL_IMAGE = ("rightsize/busybox", "local")
PUBLIC_IMAGE = ("busybox", "latest")
MiB = 2**20


@dataclass(frozen=True)
class LabContainer:
    """One demonstration container: what it declares, what it does, what should be found."""

    name: str
    script: str
    host_config: dict[str, Any]
    expect: str
    labels: dict[str, str] = field(default_factory=dict)
    env: tuple[str, ...] = ()


LAB: tuple[LabContainer, ...] = (
    LabContainer(
        "lab-idle",
        "while true; do i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; sleep 2; done",
        {"NanoCpus": 2_000_000_000, "CpuShares": 2048, "Memory": 1024 * MiB,
         "MemoryReservation": 512 * MiB},
        "heavy over-request of CPU and memory",
    ),
    LabContainer(
        "lab-throttled",
        "yes > /dev/null",
        {"NanoCpus": 200_000_000, "CpuShares": 204, "Memory": 64 * MiB},
        "CPU throttled almost every period",
    ),
    LabContainer(
        "lab-bursty",
        "while true; do timeout 5 yes > /dev/null; sleep 10; done",
        {"NanoCpus": 1_000_000_000, "CpuShares": 512, "Memory": 128 * MiB,
         "MemoryReservation": 64 * MiB},
        "CPU bursts to the limit; p95 far above p50",
    ),
    LabContainer(
        "lab-grower",
        "s=; while true; do s=\"$s$(head -c 4000000 /dev/zero | tr '\\0' a)\"; sleep 3; done",
        {"NanoCpus": 500_000_000, "CpuShares": 256, "Memory": 96 * MiB,
         "MemorySwap": 96 * MiB},
        "memory climbs to the limit, OOM-killed, exits 137",
    ),
    LabContainer(
        "lab-oomchild",
        "while true; do sleep 20; "
        "sh -c 'echo 1000 > /proc/self/oom_score_adj; "
        "x=$(head -c 48000000 /dev/zero | tr \"\\0\" a); sleep 1'; done",
        {"NanoCpus": 500_000_000, "Memory": 32 * MiB, "MemorySwap": 32 * MiB},
        "a child is OOM-killed every 20 s while the container keeps running",
    ),
    LabContainer(
        "lab-restarting",
        "sleep 25; x=$(head -c 40000000 /dev/zero | tr '\\0' a); sleep 5",
        {"Memory": 24 * MiB, "MemorySwap": 24 * MiB,
         "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 0}},
        "main process OOM-killed, restarts (CPU counter resets)",
    ),
    LabContainer(
        "lab-nolimits",
        "while true; do timeout 2 yes > /dev/null; sleep 4; done",
        {},
        "no requests or limits (BestEffort)",
    ),
    LabContainer(
        "lab-hostile",
        "sleep 100000",
        {"NanoCpus": 300_000_000, "Memory": 48 * MiB},
        "untrusted label escaped; the env value never stored or shown",
        labels={"app": "<script>alert(1)</script>"},
        env=("DB_PASSWORD=hunter2-secret",),
    ),
)


def _is_static_elf(path: Path) -> bool:
    """True for an ELF executable without a program interpreter (statically linked)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if data[:4] != b"\x7fELF":
        return False
    is64 = data[4] == 2
    endian = "<" if data[5] == 1 else ">"
    if is64:
        phoff, = struct.unpack_from(endian + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(endian + "HH", data, 0x36)
    else:
        phoff, = struct.unpack_from(endian + "I", data, 0x1C)
        phentsize, phnum = struct.unpack_from(endian + "HH", data, 0x2A)
    for i in range(phnum):
        (ptype,) = struct.unpack_from(endian + "I", data, phoff + i * phentsize)
        if ptype == 3:  # PT_INTERP
            return False
    return True


def find_static_busybox() -> Path | None:
    """The static busybox binary of Debian's busybox-static, if installed."""
    for candidate in (Path("/bin/busybox"), Path("/usr/bin/busybox"),
                      Path(shutil.which("busybox") or "/nonexistent")):
        if candidate.exists() and _is_static_elf(candidate.resolve()):
            return candidate.resolve()
    return None


def busybox_rootfs_tar(binary: Path) -> bytes:
    """A minimal root filesystem: /bin/busybox, its applets as symlinks, /tmp."""
    applets = subprocess.run([str(binary), "--list"], capture_output=True, text=True,
                             check=True, timeout=10).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d, mode in (("bin", 0o755), ("tmp", 0o1777), ("etc", 0o755), ("root", 0o700)):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        tar.add(str(binary), arcname="bin/busybox")
        for name in applets:
            if name == "busybox" or "/" in name:
                continue
            link = tarfile.TarInfo(f"bin/{name}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        passwd = b"root:x:0:0:root:/root:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        tar.addfile(info, io.BytesIO(passwd))
    return buf.getvalue()


def ensure_image(client: DockerClient) -> str:
    """Return a usable busybox image reference, pulling or building one if needed."""
    public = ":".join(PUBLIC_IMAGE)
    local = ":".join(LOCAL_IMAGE)
    if client.image_exists(public):
        return public
    if client.image_exists(local):
        return local
    try:
        client.pull_image(*PUBLIC_IMAGE)
        return public
    except RuntimeFailure as exc:
        log.info("could not pull %s (%s); building %s from busybox-static", public, exc, local)
    binary = find_static_busybox()
    if binary is None:
        raise RuntimeFailure(
            f"no busybox image: pulling {public} failed and no static busybox binary was found; "
            "install Debian's busybox-static (apt-get install busybox-static) or load busybox "
            "into the engine (docker load)"
        )
    client.import_image(busybox_rootfs_tar(binary), *LOCAL_IMAGE)
    return local


def _lab_ids(client: DockerClient) -> list[str]:
    found = client.containers(filters={"label": [f"{LAB_LABEL}=1"]}, all=True)
    return [str(c["Id"]) for c in found]


def lab_down(docker_host: str | None = None) -> int:
    """Remove every container labelled ``rightsize.lab=1``; returns how many."""
    with DockerClient(resolve_host(docker_host)) as client:
        ids = _lab_ids(client)
        for cid in ids:
            try:
                client.remove(cid, force=True)
            except EngineError as exc:
                log.warning("could not remove %s: %s", cid[:12], exc)
        return len(ids)


def lab_up(docker_host: str | None = None, only: list[str] | None = None) -> list[str]:
    """(Re)create and start the lab containers; returns their names."""
    with DockerClient(resolve_host(docker_host)) as client:
        for cid in _lab_ids(client):
            client.remove(cid, force=True)
        image = ensure_image(client)
        ncpu = int(client.info().get("NCPU") or 1)
        started = []
        for spec in LAB:
            if only is not None and spec.name not in only:
                continue
            host_config = dict(spec.host_config)
            if "NanoCpus" in host_config:  # the engine refuses more CPUs than the host has
                host_config["NanoCpus"] = min(host_config["NanoCpus"], ncpu * 1_000_000_000)
            config: dict[str, Any] = {
                "Image": image,
                "Cmd": ["sh", "-c", spec.script],
                "Labels": {LAB_LABEL: "1", **spec.labels},
                "HostConfig": {"NetworkMode": "none", **host_config},
            }
            if spec.env:
                config["Env"] = list(spec.env)
            cid = client.create(spec.name, config)
            client.start(cid)
            started.append(spec.name)
        return started
