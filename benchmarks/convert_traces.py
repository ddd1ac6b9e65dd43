"""Convert the shared real traces (Bitbrains, Alibaba 2018) to rightsize's import format.

Usage::

    python benchmarks/convert_traces.py [TRACES_DIR] [--output FILE]

``TRACES_DIR`` defaults to ``../shared/data/traces`` relative to the repository
root. The output is the CSV of ``rightsize import`` (``timestamp, container,
workload, cpu_cores, memory_bytes, cpu_request, cpu_limit, memory_limit``);
``-`` (the default) writes to stdout.

Bitbrains GWA-T-12 (``bitbrains-rnd-2013-7/*.csv``): fields separated by ``;\\t``;
``Timestamp [ms]`` holds Unix seconds; cores used = ``CPU usage [MHZ]`` /
(``CPU capacity provisioned [MHZ]`` / ``CPU cores``); memory = ``Memory usage
[KB]`` x 1024. The provisioned capacity is the declared *limit* (there is no
request): ``cpu_limit`` = ``CPU cores``, ``memory_limit`` = provisioned KB x 1024.

Alibaba cluster-trace-v2018 (``alibaba-v2018/container_usage.csv``, no header):
``cpu_util_percent`` and ``mem_util_percent`` are read as percent of the
container's own allocation. Assumptions (the excerpt has meta for c_1 only):
every container has c_1's allocation, ``cpu_request = cpu_limit = 400`` = 4
cores; ``mem_size`` is normalised (c_1: 1.56) so bytes are unknown -- we take a
nominal 8 GiB allocation (``mem_size`` 1.56 % of a nominal 512 GiB machine) as the
memory limit. Every backtest score is relative (shares and ratios), so the
nominal size only matters against absolute floors (25m / 250 MiB), which no
container comes near. Rows with an empty ``container_id`` are dropped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TRACES = REPO.parent / "shared" / "data" / "traces"
ALIBABA_CPU_CORES = 4.0
ALIBABA_MEMORY_BYTES = 8 * 2**30
ALIBABA_COLUMNS = [
    "container_id",
    "machine_id",
    "time_stamp",
    "cpu_util_percent",
    "mem_util_percent",
    "cpi",
    "mem_gps",
    "mpki",
    "net_in",
    "net_out",
    "disk_io_percent",
]
IMPORT_COLUMNS = [
    "timestamp",
    "container",
    "workload",
    "cpu_cores",
    "memory_bytes",
    "cpu_request",
    "cpu_limit",
    "memory_limit",
]


def read_bitbrains(path: Path) -> pd.DataFrame:
    """One Bitbrains VM file in the import format (workload ``bitbrains-<id>``)."""
    raw = pd.read_csv(path, sep=";\t", engine="python")
    raw.columns = [str(c).strip() for c in raw.columns]
    cores = raw["CPU cores"].astype(float)
    per_core_mhz = raw["CPU capacity provisioned [MHZ]"].astype(float) / cores
    name = f"bitbrains-{path.stem}"
    out = pd.DataFrame(
        {
            "timestamp": raw["Timestamp [ms]"].astype("int64"),
            "container": name,
            "workload": name,
            "cpu_cores": raw["CPU usage [MHZ]"].astype(float) / per_core_mhz,
            "memory_bytes": (raw["Memory usage [KB]"].astype(float) * 1024).round().astype("int64"),
            "cpu_request": float("nan"),
            "cpu_limit": cores,
            "memory_limit": (raw["Memory capacity provisioned [KB]"].astype(float) * 1024)
            .round()
            .astype("int64"),
        }
    )
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)


def read_alibaba(
    path: Path,
    cpu_cores: float = ALIBABA_CPU_CORES,
    memory_bytes: int = ALIBABA_MEMORY_BYTES,
) -> pd.DataFrame:
    """Alibaba ``container_usage.csv`` in the import format (workload ``alibaba-<id>``)."""
    raw = pd.read_csv(path, header=None, names=ALIBABA_COLUMNS, dtype={"container_id": "string"})
    raw = raw[raw["container_id"].notna() & (raw["container_id"].str.strip() != "")]
    raw = raw.dropna(subset=["time_stamp", "cpu_util_percent", "mem_util_percent"])
    name = "alibaba-" + raw["container_id"].astype(str)
    out = pd.DataFrame(
        {
            "timestamp": raw["time_stamp"].astype("int64"),
            "container": raw["container_id"].astype(str),
            "workload": name,
            "cpu_cores": raw["cpu_util_percent"].astype(float) / 100 * cpu_cores,
            "memory_bytes": (raw["mem_util_percent"].astype(float) / 100 * memory_bytes)
            .round()
            .astype("int64"),
            "cpu_request": cpu_cores,
            "cpu_limit": cpu_cores,
            "memory_limit": memory_bytes,
        }
    )
    out = out.drop_duplicates(subset=["workload", "timestamp"], keep="last")
    return out.sort_values(["workload", "timestamp"], kind="stable").reset_index(drop=True)


def convert(traces: Path) -> pd.DataFrame:
    """Every Bitbrains VM and Alibaba container under ``traces``, in the import format."""
    parts = [read_bitbrains(p) for p in sorted((traces / "bitbrains-rnd-2013-7").glob("*.csv"))]
    alibaba = traces / "alibaba-v2018" / "container_usage.csv"
    if alibaba.exists():
        parts.append(read_alibaba(alibaba))
    if not parts:
        raise SystemExit(f"no traces found under {traces}")
    return pd.concat(parts, ignore_index=True)[IMPORT_COLUMNS]


def to_tidy(imported: pd.DataFrame) -> pd.DataFrame:
    """The import format as the tidy frame ``histories_from_frame`` reads."""
    return pd.DataFrame(
        {
            "workload": imported["workload"],
            "ts": imported["timestamp"].astype(float),
            "cpu": imported["cpu_cores"].astype(float),
            "memory": imported["memory_bytes"].astype(float),
            "cpu_request": imported["cpu_request"],
            "cpu_limit": imported["cpu_limit"],
            "memory_limit": imported["memory_limit"],
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("traces", nargs="?", type=Path, default=DEFAULT_TRACES)
    parser.add_argument("--output", "-o", default="-", help="CSV path, '-' for stdout")
    args = parser.parse_args(argv)
    frame = convert(args.traces)
    if args.output == "-":
        frame.to_csv(sys.stdout, index=False)
    else:
        frame.to_csv(args.output, index=False)
        counts = frame.groupby("workload").size()
        print(
            f"wrote {len(frame)} rows for {len(counts)} workloads to {args.output}", file=sys.stderr
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
