"""Collector benchmarks against the local engine (run by hand; results in docs/benchmarks.md).

    python benchmarks/bench_collect.py wall --containers 40 --repeat 5
    python benchmarks/bench_collect.py ticks --containers 40 --seconds 15
    python benchmarks/bench_collect.py oneshot --containers 40
    python benchmarks/bench_collect.py rss --containers 40 --seconds 1800

Containers are busybox ``sleep`` loops labelled ``rightsize.bench=1``; they
are created before and removed after each mode.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rightsize.lab import ensure_image
from rightsize.sources.docker.client import AsyncDockerClient, DockerClient
from rightsize.sources.docker.host import resolve_host
from rightsize.store import Store, load

LABEL = "rightsize.bench=1"  # set from --tag in main()


def start_containers(n: int) -> list[str]:
    with DockerClient(resolve_host(None)) as c:
        for old in c.containers(filters={"label": [LABEL]}, all=True):
            c.remove(old["Id"], force=True)
        image = ensure_image(c)
        ids = []
        for i in range(n):
            cid = c.create(f"bench-{LABEL.split('=')[1]}-{i}", {
                "Image": image, "Cmd": ["sh", "-c", "while true; do sleep 1; done"],
                "Labels": {"rightsize.bench": LABEL.split("=")[1]},
                "HostConfig": {"NetworkMode": "none", "Memory": 32 * 2**20},
            })
            c.start(cid)
            ids.append(cid)
        return ids


def remove_containers() -> None:
    with DockerClient(resolve_host(None)) as c:
        for old in c.containers(filters={"label": [LABEL]}, all=True):
            c.remove(old["Id"], force=True)


def collect_cmd(db: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "rightsize", "-q", "--db", str(db), "collect",
            "--filter", f"label={LABEL}", *args]


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and child CPU seconds of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def mode_wall(args: argparse.Namespace) -> None:
    ids = start_containers(args.containers)
    time.sleep(2)
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):
            db = Path(tmp) / f"w{r}.db"
            ours.append(timed(collect_cmd(db, "--samples", "2", "--interval", "1s"))[0])
            theirs.append(timed(["docker", "stats", "--no-stream", *ids])[0])
    remove_containers()
    mo, mt = statistics.median(ours), statistics.median(theirs)
    print(f"containers={args.containers} repeat={args.repeat} (alternating)")
    print(f"rightsize collect --samples 2 --interval 1s: median {mo:.2f}s  runs "
          + " ".join(f"{x:.2f}" for x in ours))
    print(f"docker stats --no-stream:                  median {mt:.2f}s  runs "
          + " ".join(f"{x:.2f}" for x in theirs))
    print(f"ratio {mo / mt:.2f}x")


def mode_ticks(args: argparse.Namespace) -> None:
    start_containers(args.containers)
    time.sleep(2)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "t.db"
        wall, cpu = timed(collect_cmd(db, "--duration", f"{args.seconds}s", "--interval", "1s"))
        frame = load(db, columns=["ts"]).samples
        rows = list(zip(frame["container_id"].astype(str), frame["ts"], strict=True))
    remove_containers()
    by: dict[str, list[float]] = {}
    for cid, ts in rows:
        by.setdefault(cid, []).append(ts)
    per = [len(v) for v in by.values()]
    gaps = [b - a for v in by.values() for a, b in itertools.pairwise(v)]
    tick = statistics.median(gaps)
    missed = sum(1 for g in gaps if g > 1.5 * tick)
    total = sum(per)
    print(f"containers={args.containers} run={args.seconds}s interval=1s wall={wall:.2f}s")
    print(f"engine tick (median spacing of the engine's read times): {tick:.2f}s -> "
          f"~{args.seconds / tick:.1f} ticks in the run")
    print(f"samples per container: min {min(per)} median {statistics.median(per)} "
          f"max {max(per)}; engine ticks skipped between consecutive samples: {missed}")
    print(f"CPU {cpu:.2f}s total incl. start-up = {cpu / total * 1000:.2f} ms per "
          f"container-sample ({total} samples)")


async def _oneshot_rounds(ids: list[str], rounds: int) -> list[float]:
    async with AsyncDockerClient(resolve_host(None)) as c:
        await c.negotiate()
        out = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            await asyncio.gather(*(c.stats_once(i) for i in ids))
            out.append(time.perf_counter() - t0)
        return out


def mode_oneshot(args: argparse.Namespace) -> None:
    ids = start_containers(args.containers)
    time.sleep(2)
    rounds = asyncio.run(_oneshot_rounds(ids, 10))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "o.db"
        timed(collect_cmd(db, "--duration", "10s", "--interval", "1s"))
        frame = load(db, columns=["ts"]).samples
        per = frame.groupby("container_id", observed=True).size().tolist()
    remove_containers()
    print(f"containers={args.containers}")
    print("concurrent one-shot rounds (s): " + " ".join(f"{x:.2f}" for x in rounds)
          + f" -> {10 / sum(rounds) * 10:.1f} samples per container in 10 s at best")
    print(f"persistent streams, 10 s at --interval 1s: median {statistics.median(per)} "
          "samples per container")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def mode_rss(args: argparse.Namespace) -> None:
    start_containers(args.containers)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "r.db"
        proc = subprocess.Popen(collect_cmd(db, "--duration", f"{args.seconds}s",
                                            "--interval", args.interval))
        points = []
        t0 = time.monotonic()
        time.sleep(10)
        while proc.poll() is None:
            points.append((time.monotonic() - t0, _rss_kib(proc.pid)))
            time.sleep(min(60, max(1, args.seconds / 30)))
        with Store(db, create=False) as store:
            n = store.counts()["samples"]
    remove_containers()
    print(f"containers={args.containers} run={args.seconds}s interval={args.interval} "
          f"samples={n}")
    print("RSS (MiB) over time: " + ", ".join(f"{t:.0f}s={k / 1024:.1f}" for t, k in points))
    if points:
        print(f"start {points[0][1] / 1024:.1f} MiB, end {points[-1][1] / 1024:.1f} MiB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["wall", "ticks", "oneshot", "rss"])
    p.add_argument("--containers", type=int, default=40)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--interval", default="1s")
    p.add_argument("--tag", default="1", help="label value, so modes can run side by side")
    args = p.parse_args()
    global LABEL
    LABEL = f"rightsize.bench={args.tag}"
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} {os.uname().sysname} "
          f"{os.uname().release} {os.uname().machine}, {os.cpu_count()} CPUs")
    {"wall": mode_wall, "ticks": mode_ticks, "oneshot": mode_oneshot, "rss": mode_rss}[
        args.mode](args)


if __name__ == "__main__":
    main()
