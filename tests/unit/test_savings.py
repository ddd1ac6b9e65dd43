"""The change in requests: net, freed and added per resource, in the report and the JSON."""

from __future__ import annotations

import json

import pytest

import rightsize
from rightsize.analysis.savings import Change, workload_savings
from rightsize.analysis.thresholds import Prices, Thresholds
from rightsize.model import Declared, Recommendation
from rightsize.render.model import build_model
from rightsize.render.tabular import to_json

Mi = 2**20
GiB = 2**30


def test_workload_change_counts_decreases_and_increases() -> None:
    d = Declared(cpu_request=2.0, memory_request=64 * Mi)
    rec = Recommendation(0.5, None, 96 * Mi, 96 * Mi, 0.5)
    s = workload_savings(d, rec, 3, Prices())
    assert s.cpu == Change(4.5, 0.0) and s.memory == Change(0.0, 96 * Mi)
    assert s.memory.net == -96 * Mi
    # a request set where none was declared is added in full; None changes nothing
    s = workload_savings(Declared(), Recommendation(0.25, None, None, 64 * Mi, 1.0), 1, Prices())
    assert s.cpu == Change(0.0, 0.25) and s.memory == Change()


def test_lab_savings_are_net_and_the_same_in_report_and_json() -> None:
    prices = Prices(cpu_per_core_hour=0.03, memory_per_gib_hour=0.004)
    result = rightsize.analyze("data/lab-session", thresholds=Thresholds(prices=prices))
    total = result.total_savings
    # the lab both frees (lab-idle) and adds (lab-bursty, lab-nolimits, ...) requests
    assert total.cpu.freed > 0 and total.cpu.added > 0
    assert total.memory.freed > 0 and total.memory.added > 0
    doc = json.loads(to_json(result))
    block = doc["savings"]
    assert block["cpu"] == {
        "freed": round(total.cpu.freed, 3),
        "added": round(total.cpu.added, 3),
        "net": round(total.cpu.net, 3),
    }
    assert block["memory"]["net"] == block["memory"]["freed"] - block["memory"]["added"]
    money = block["money_per_month"]
    assert money["cpu"]["freed"] == pytest.approx(total.cpu.freed * 0.03 * 730, abs=0.01)
    assert money["total"]["net"] == pytest.approx(
        money["cpu"]["net"] + money["memory"]["net"], abs=0.02
    )
    for w in doc["workloads"]:
        assert set(w["savings"]) == {"replicas", "cpu", "memory", "money_per_month"}
    assert sum(w["savings"]["cpu"]["added"] for w in doc["workloads"]) == pytest.approx(
        block["cpu"]["added"], abs=0.01
    )
    # the report states freed, added and net, never only what is freed
    summary = build_model(result).summary
    text = summary.savings_text
    assert "freed" in text and "added" in text and "net" in text and "per month" in text
    assert summary.freed_cpu == total.cpu.freed and summary.added_memory == total.memory.added


def test_totals_table_agrees_with_the_net_change() -> None:
    """Requests now - recommended in the totals table = the net freed (no replicas here)."""
    result = rightsize.analyze("data/lab-session")
    hosts = result.hosts
    now = sum(h.requested.cpu for h in hosts)
    after = sum(h.recommended_requested.cpu for h in hosts)
    assert now - after == pytest.approx(result.total_savings.cpu.net, abs=0.01)


@pytest.mark.parametrize("seed", range(25))
def test_replicas_from_runs_equal_the_general_path(seed: int) -> None:
    """Rows in one run per (workload, container) take the run path; it counts the same
    replicas as the general path, which takes any order."""
    import numpy as np
    import pandas as pd

    from rightsize.analysis import savings

    rng = np.random.default_rng(seed)
    rows = []
    for c in range(int(rng.integers(1, 12))):
        w = int(rng.integers(0, 4))
        n = int(rng.integers(1, 40))
        end = 1000.0 - float(rng.choice([0.0, 5.0, 15.0, 25.0, 500.0]))  # some stopped early
        ts = end - np.arange(n)[::-1] * float(rng.choice([1.0, 10.0]))
        interval = np.where(rng.random(n) < 0.2, np.nan, np.diff(ts, prepend=ts[0] - 10.0))
        rows.append(pd.DataFrame({"workload": f"w{w}", "container_id": f"c{c}", "ts": ts,
                                  "interval": interval}))
    frame = pd.concat(rows, ignore_index=True)
    frame["workload"] = frame["workload"].astype("category")
    frame["container_id"] = frame["container_id"].astype("category")
    assert savings._runs(frame) is not None
    general = frame.assign(container_id=frame["container_id"].astype(str))  # no run path
    assert savings._runs(general) is None
    want = savings.replicas(general)
    assert savings.replicas(frame) == want
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    if len(shuffled) > 2:  # pairs split over several runs: the general path, same answer
        assert savings.replicas(shuffled) == want


def test_replicas_by_hand() -> None:
    """Two replicas reporting at the end and one that stopped long before: 2."""
    import numpy as np
    import pandas as pd

    from rightsize.analysis.savings import replicas

    frame = pd.DataFrame({
        "workload": pd.Categorical(["web"] * 6),
        "container_id": pd.Categorical(["a", "a", "b", "b", "old", "old"]),
        "ts": [90.0, 100.0, 95.0, 100.0, 10.0, 20.0],
        "interval": [10.0, 10.0, 5.0, np.nan, 10.0, 10.0],
    })
    assert replicas(frame) == {"web": 2}
