"""Benchmark ``load_manifests`` on one large multi-document file of Deployments.

Run::

    python benchmarks/bench_manifests.py [--deployments 5000] [--yaml /tmp/bench-manifests.yaml]

Synthetic data (written once, reused when the file exists): ``--deployments``
Deployments of the shape ``kubectl get -o yaml`` and Helm charts give
(labels, selector, ports, two containers with requests and limits), about 585
bytes of YAML each: 5,000 are about 2.9 MB.
Prints the file size, the best and median wall time (and the best CPU time,
which other processes on a shared machine do not inflate) of ``--repeat`` parses
(``load_manifests([FILE])``), the workloads found and which YAML loader was
used. ``--pythonpath DIR`` imports another checkout's package (e.g. the
previous commit, for a before/after comparison).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-{i:05d}
  namespace: team-{team}
  labels: {{app: svc-{i:05d}}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: svc-{i:05d}}}
  template:
    metadata:
      labels: {{app: svc-{i:05d}}}
    spec:
      containers:
        - name: app
          image: example/svc-{i:05d}:1.{rev}
          ports:
            - containerPort: 8080
          resources:
            requests: {{cpu: {cpu}m, memory: {mem}Mi}}
            limits: {{cpu: "1", memory: {limit}Mi}}
        - name: proxy
          image: envoyproxy/envoy:v1.30
          resources: {{limits: {{memory: 128Mi}}}}
---
"""


def generate(path: Path, deployments: int) -> None:
    """Write ``deployments`` Deployments to ``path``."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(deployments):
            fh.write(DEPLOYMENT.format(i=i, team=i % 17, rev=i % 9 + 1, replicas=i % 5 + 1,
                                       cpu=100 + i % 400, mem=128 + i % 512,
                                       limit=256 + i % 1024))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--deployments", type=int, default=5000)
    ap.add_argument("--yaml", type=Path,
                    default=Path(tempfile.gettempdir()) / "bench-manifests.yaml")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pythonpath", default=None, help="import rightsize from this folder")
    args = ap.parse_args()
    if not args.yaml.exists():
        generate(args.yaml, args.deployments)
    if args.pythonpath:
        sys.path.insert(0, args.pythonpath)
    from rightsize.sources import manifests

    times, cpu = [], []
    found = []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        found = manifests.load_manifests([args.yaml])
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    loader = getattr(manifests, "YAML_LOADER", "yaml.SafeLoader (pure Python)")
    print(f"file: {args.yaml} ({args.yaml.stat().st_size / 1e6:.2f} MB)")
    print(f"python {platform.python_version()}, loader: {loader}")
    print(f"workloads: {len(found)}")
    print(f"best {min(times):.2f} s, median {statistics.median(times):.2f} s "
          f"over {len(times)} runs (CPU time best {min(cpu):.2f} s)")


if __name__ == "__main__":
    main()
