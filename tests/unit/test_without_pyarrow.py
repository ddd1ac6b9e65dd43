"""pyarrow is an optional extra (Parquet): everything else works without it.

pandas picks its string storage when it is first imported, so each check runs
in a fresh interpreter where ``import pyarrow`` fails from the start.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LAB = Path(__file__).parents[1] / "fixtures" / "docker-api" / "rightsize-lab-session"

HIDE = "import sys; sys.modules['pyarrow'] = None\n"


def run_without_pyarrow(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", HIDE + code], capture_output=True, text=True,
                          timeout=120)


def test_load_analyze_and_report_without_pyarrow(tmp_path: Path) -> None:
    proc = run_without_pyarrow(f"""
from pathlib import Path
import rightsize
from rightsize.render.html import write_report
from rightsize.sources.recording import read_recording
from rightsize.store import Store, load
try:
    import pyarrow
    raise SystemExit("pyarrow was importable")
except ImportError:
    pass
rec = read_recording(Path({str(LAB)!r}))
db = Path({str(tmp_path)!r}) / "s.db"
with Store(db) as store:
    store.write(samples=rec.samples, containers=rec.containers, events=rec.events,
                hosts=[rec.host])
dataset = load(db)
assert dataset.samples.shape[0] == 2076
result = rightsize.analyze(dataset)
assert "oom_killed" in set(result.findings["kind"])
write_report(result, Path({str(tmp_path)!r}) / "reports", charts_mode="none")
print("ok")
""")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    assert (tmp_path / "reports" / "latest.html").exists()


def test_parquet_without_pyarrow_says_how_to_install(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1" + b"\0" * 16 + b"PAR1")
    proc = run_without_pyarrow(f"""
from rightsize.cli import main
main(["--db", {str(tmp_path / "s.db")!r}, "import", {str(path)!r}])
""")
    assert proc.returncode == 2
    assert "rightsize[parquet]" in proc.stderr
