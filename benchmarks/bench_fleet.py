"""A Docker fleet through cAdvisor at scale, in VictoriaMetrics and Prometheus.

Usage::

    nice -n 10 python benchmarks/bench_fleet.py [--containers 10000] [--hosts 200] [--hours 24]
        [--engine victoriametrics --engine prometheus] [--resolution 900 --resolution auto]
        [--raw] [--subset 1000] [--data DIR]

Generates standalone-cAdvisor series for ``containers`` plain Docker
containers on ``hosts`` hosts (Compose services of 5 replicas spread over
hosts; every 10th container with a CPU quota and its three CFS counters; CPU,
working set and OOM counter every 60 s; the ``container_spec_*`` series one
point an hour), loads them with each engine's own import tool (VictoriaMetrics:
``/api/v1/import`` JSON lines; Prometheus: ``promtool tsdb
create-blocks-from openmetrics``), both cached in ``--data``, serves them on
127.0.0.1 and times ``collect_prometheus`` into a fresh store in a child
process per run: wall time, queries, bytes read, samples stored and the
child's peak RSS (``ru_maxrss``). ``--subset N`` also runs the first N
hosts (``instance=~...``), to show that the peak RSS follows the
batch size, not the fleet size.

Up to 24 hours, Prometheus is loaded from one OpenMetrics file (16 GB for the
default fleet). Longer spans would not fit on the disk as one file (7 days is
about 113 GB), so they are loaded in 18-hour pieces: the text of one piece is
written, ``promtool`` makes its one block in the TSDB directory, the text is
deleted, and so on. The pieces are promtool's own block windows
(``--max-block-duration=18h`` gives blocks of 18 h aligned to the Unix epoch),
so the blocks do not overlap, and Prometheus is started with a retention
(span + 72 h) whose tenth is under 54 h, so that it does not compact the
blocks into larger ones while the runs are timed. A block already in the
directory is kept, so an interrupted load resumes with the next piece.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]  # run from a checkout without installing

SCRAPE = 60
MiB = 1024 * 1024
# One promtool block (2 h * 3**k, aligned to the epoch) and so one piece of a long load.
BLOCK = 18 * 3600
ONE_FILE_HOURS = 24  # longer spans are loaded into Prometheus piece by piece


def host_name(i: int) -> str:
    return f"host-{i:04d}:8080"


SeriesData = tuple[str, dict[str, str], np.ndarray, np.ndarray]


def fleet(end: int, hours: int, containers: int, hosts: int) -> Iterator[SeriesData]:
    """(metric, labels, timestamps in s, values) for every series of the fleet."""
    rng = np.random.default_rng(11)
    n = hours * 3600 // SCRAPE + 1
    times = end - SCRAPE * np.arange(n)[::-1]
    sparse = times[::60]
    for h in range(hosts):
        base = {"instance": host_name(h), "job": "cadvisor"}
        yield "machine_cpu_cores", base, sparse, np.full(len(sparse), 16.0)
        yield "machine_memory_bytes", base, sparse, np.full(len(sparse), 64.0 * 1024 * MiB)
    for i in range(containers):
        service = i // 5
        host = (service * 5 + i % 5 * 37) % hosts  # replicas of one service on different hosts
        labels = {
            "instance": host_name(host), "job": "cadvisor",
            "id": f"/docker/{i:064x}", "name": f"proj{service // 100}-svc{service}-{i % 5 + 1}",
            "image": f"registry.local/svc{service % 50}:1",
            "container_label_com_docker_compose_project": f"proj{service // 100}",
            "container_label_com_docker_compose_service": f"svc{service}",
        }  # fmt: skip
        cpu = np.concatenate(([0.0], np.cumsum(np.clip(rng.gamma(2.0, 0.05, n - 1), 0, None))))
        yield "container_cpu_usage_seconds_total", {**labels, "cpu": "total"}, times, cpu * SCRAPE
        mem = np.round(200 * MiB * (1 + 0.2 * rng.random(n)))
        yield "container_memory_working_set_bytes", labels, times, mem
        yield "container_oom_events_total", labels, times, np.zeros(n)
        quota = i % 10 == 0
        if quota:
            periods = np.arange(n) * 600.0
            throttled = np.floor(periods * 0.1)
            yield "container_cpu_cfs_periods_total", labels, times, periods
            yield "container_cpu_cfs_throttled_periods_total", labels, times, throttled
            yield "container_cpu_cfs_throttled_seconds_total", labels, times, throttled * 0.01
            yield "container_spec_cpu_quota", labels, sparse, np.full(len(sparse), 50_000.0)
        yield "container_spec_cpu_period", labels, sparse, np.full(len(sparse), 100_000.0)
        yield "container_spec_cpu_shares", labels, sparse, np.full(len(sparse), 512.0)
        yield "container_spec_memory_limit_bytes", labels, sparse, np.full(len(sparse), 512.0 * MiB)


def _num(values: np.ndarray) -> list[str]:
    return [repr(v) if not float(v).is_integer() else str(int(v)) for v in values.tolist()]


def write_vm_json(series: Iterator[SeriesData],
                  path: Path) -> int:
    """VictoriaMetrics' JSON line import format (one series a line, ms timestamps)."""
    n = 0
    with path.open("w") as f:
        for name, labels, ts, vs in series:
            metric = json.dumps({"__name__": name, **labels})
            f.write(f'{{"metric":{metric},"values":[{",".join(_num(vs))}],'
                    f'"timestamps":[{",".join(str(int(t) * 1000) for t in ts.tolist())}]}}\n')
            n += len(ts)
    return n


def write_openmetrics(series: Iterator[SeriesData], path: Path,
                      window: tuple[int, int] | None = None) -> int:
    """OpenMetrics text with ``# EOF``; only the points in ``window`` (``[lo, hi)`` s) if given."""
    n = 0
    with path.open("w") as f:
        for name, labels, ts, vs in series:
            if window is not None:
                keep = (ts >= window[0]) & (ts < window[1])
                if not keep.any():
                    continue
                ts, vs = ts[keep], vs[keep]
            head = name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "} "
            f.writelines(f"{head}{v} {t}\n" for v, t in zip(_num(vs), ts.astype(int).tolist(),
                                                            strict=True))
            n += len(ts)
        f.write("# EOF\n")
    return n


def load_vm(binary: str, data: Path, source: Path) -> None:
    from tests.integration.test_fleet_cadvisor import victoria_metrics_server

    with victoria_metrics_server(binary, data) as url, source.open("rb") as f:
        r = httpx.post(f"{url}/api/v1/import", content=iter(lambda: f.read(1 << 20), b""),
                       timeout=None)  # fmt: skip
        r.raise_for_status()
        httpx.get(f"{url}/internal/force_flush", timeout=600).raise_for_status()


def blocks(tsdb: Path) -> dict[Path, tuple[int, int]]:
    """The finished blocks of a TSDB directory: (first, last + 1) sample time in ms."""
    found = {}
    for meta in tsdb.glob("*/meta.json"):
        if ".tmp" not in meta.parent.name:
            m = json.loads(meta.read_text())
            found[meta.parent] = (int(m["minTime"]), int(m["maxTime"]))
    return found


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def load_prometheus_pieces(promtool: str, tsdb: Path, source: Path, end: int, hours: int,
                           containers: int, hosts: int) -> None:
    """Load the fleet one promtool block at a time; print each piece's and the total times."""
    since = end - hours * 3600
    tsdb.mkdir(parents=True, exist_ok=True)
    samples = size = 0
    writing = tool = 0.0
    for lo in range(since // BLOCK * BLOCK, end + 1, BLOCK):
        hi = lo + BLOCK
        start = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(lo))
        if any(lo * 1000 <= first < hi * 1000 for first, _ in blocks(tsdb).values()):
            print(f"prometheus: block {start} +{BLOCK // 3600}h already loaded", flush=True)
            continue
        t0 = time.perf_counter()
        n = write_openmetrics(fleet(end, hours, containers, hosts), source, (lo, hi))
        t1 = time.perf_counter()
        subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics",
                        f"--max-block-duration={BLOCK // 3600}h", "-q", str(source), str(tsdb)],
                       check=True, capture_output=True)  # fmt: skip
        t2 = time.perf_counter()
        piece = source.stat().st_size
        source.unlink()
        samples, size, writing, tool = samples + n, size + piece, writing + t1 - t0, tool + t2 - t1
        print(f"prometheus: block {start} +{BLOCK // 3600}h: {n:,} samples, "
              f"{piece / 1e9:.1f} GB OpenMetrics written in {t1 - t0:.0f}s, "
              f"promtool {t2 - t1:.0f}s", flush=True)  # fmt: skip
    found = blocks(tsdb)
    spans = sorted(found.values())
    overlaps = sum(b[0] < a[1] for a, b in itertools.pairwise(spans))
    print(f"prometheus: {samples:,} samples loaded now, {size / 1e9:.1f} GB OpenMetrics in all, "
          f"written in {writing:.0f}s, promtool {tool:.0f}s; TSDB {len(found)} blocks "
          f"({overlaps} overlapping), {du(tsdb) / 1e9:.2f} GB", flush=True)  # fmt: skip


def child(args: argparse.Namespace) -> int:
    """One collect run in this process; prints a JSON line with the summary and peak RSS."""
    from rightsize.sources.prometheus import CopyOptions, collect_prometheus
    from rightsize.store import Store

    resolution: float | str | None = None
    if args.child_resolution:
        resolution = "auto" if args.child_resolution == "auto" else float(args.child_resolution)
    with tempfile.TemporaryDirectory(dir=args.data) as tmp, Store(Path(tmp) / "rs.db") as store:
        t0 = time.perf_counter()
        options = CopyOptions(since=args.since, until=args.until,
                              resolution=resolution,  # type: ignore[arg-type]
                              selector=args.child_selector, timeout=3600)  # fmt: skip
        s = collect_prometheus(store, args.child, options)
        wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "queries": s.queries, "batches": s.batches, "bytes": s.bytes,
                      "points": s.points, "samples": s.samples, "containers": s.containers,
                      "hosts": s.hosts, "mode": s.mode, "step": s.step, "rss_mib": rss}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--engine", action="append", choices=("victoriametrics", "prometheus"))
    parser.add_argument("--resolution", action="append", help="aggregate runs (seconds or auto)")
    parser.add_argument("--raw", action="store_true", help="also a raw (60 s) run")
    parser.add_argument("--subset", type=int, default=0, help="also runs on the first N hosts")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "rs-bench-fleet")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-resolution", default="", help=argparse.SUPPRESS)
    parser.add_argument("--child-selector", default="", help=argparse.SUPPRESS)
    parser.add_argument("--since", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--until", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    from tests.integration.test_fleet_cadvisor import victoria_metrics_server
    from tests.integration.test_prometheus_real import create_blocks, prometheus_server

    engines = args.engine or ["victoriametrics", "prometheus"]
    tag = f"{args.hours}h-{args.containers}x{args.hosts}"
    args.data.mkdir(parents=True, exist_ok=True)
    stamp = args.data / f"{tag}.end"
    if not stamp.exists():
        stamp.write_text(str((int(time.time()) // SCRAPE) * SCRAPE - 600))
    end = int(stamp.read_text())
    since = end - args.hours * 3600
    runs: list[str] = (["raw"] if args.raw else []) + list(args.resolution or ["900"])
    subsets = [("all", "")]
    if args.subset:
        chosen = "|".join(host_name(h) for h in range(args.subset))
        subsets.insert(0, (f"{args.subset} hosts", f'instance=~"{chosen}"'))
    for engine in engines:
        if engine == "victoriametrics":
            binary = shutil.which("victoria-metrics")
            store_dir = args.data / f"{tag}.vm"
            if not (args.data / f"{tag}.vm.done").exists():
                source = args.data / f"{tag}.jsonl"
                t0 = time.perf_counter()
                n = write_vm_json(fleet(end, args.hours, args.containers, args.hosts), source)
                t1 = time.perf_counter()
                shutil.rmtree(store_dir, ignore_errors=True)
                load_vm(str(binary), store_dir, source)
                print(f"victoriametrics: {n:,} samples, {source.stat().st_size / 1e9:.1f} GB JSON "
                      f"written in {t1 - t0:.0f}s, imported in {time.perf_counter() - t1:.0f}s",
                      flush=True)  # fmt: skip
                source.unlink()
                (args.data / f"{tag}.vm.done").write_text("ok")
            server = victoria_metrics_server(str(binary), store_dir)
        else:
            prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
            tsdb = args.data / f"{tag}.tsdb"
            pieces = args.hours > ONE_FILE_HOURS
            if pieces and not (args.data / f"{tag}.tsdb.done").exists():
                load_prometheus_pieces(str(promtool), tsdb, args.data / f"{tag}.om", end,
                                       args.hours, args.containers, args.hosts)  # fmt: skip
                (args.data / f"{tag}.tsdb.done").write_text("ok")
            elif not (args.data / f"{tag}.tsdb.done").exists():
                source = args.data / f"{tag}.om"
                t0 = time.perf_counter()
                n = write_openmetrics(fleet(end, args.hours, args.containers, args.hosts), source)
                t1 = time.perf_counter()
                shutil.rmtree(tsdb, ignore_errors=True)
                create_blocks(str(promtool), source, tsdb)
                print(f"prometheus: {n:,} samples, {source.stat().st_size / 1e9:.1f} GB OpenMetrics"
                      f" written in {t1 - t0:.0f}s, promtool {time.perf_counter() - t1:.0f}s",
                      flush=True)  # fmt: skip
                source.unlink()
                (args.data / f"{tag}.tsdb.done").write_text("ok")
            # Pieces: a tenth of this retention is Prometheus' largest block, under 54 h, so
            # the 18 h blocks are left as they are (see the module docstring).
            retention = f"{args.hours + 72}h" if pieces else "30d"
            server = prometheus_server(str(prometheus), tsdb, retention=retention)
        with server as url:
            for run in runs:
                for label, selector in subsets:
                    cmd = [sys.executable, __file__, "--data", str(args.data), "--child", url,
                           "--since", str(since), "--until", str(end),
                           "--child-resolution", "" if run == "raw" else run,
                           "--child-selector", selector]  # fmt: skip
                    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
                    if out.returncode:
                        print(f"{engine} {run} {label}: failed: {out.stderr[-2000:]}", flush=True)
                        continue
                    r = json.loads(out.stdout.strip().splitlines()[-1])
                    print(f"{engine:>15} {label:>9} {run:>5}: {r['containers']:,} containers on "
                          f"{r['hosts']} hosts, {r['mode']} {r['step']:g}s, {r['wall']:.1f}s wall, "
                          f"{r['queries']} queries ({r['batches']} batches), "
                          f"{r['points']:,} points, {r['bytes'] / 1e6:,.0f} MB, "
                          f"{r['samples']:,} samples, "
                          f"peak RSS {r['rss_mib']:.0f} MiB", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
