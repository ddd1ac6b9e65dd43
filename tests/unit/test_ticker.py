"""The one ticker of the Docker and kubelet loops."""

from __future__ import annotations

import asyncio
import time

import pytest

from rightsize.collect.ticker import Ticker


def test_a_slow_round_is_followed_at_once_then_the_interval_resumes() -> None:
    async def rounds() -> list[float]:
        ticker = Ticker(0.2)
        stop = asyncio.Event()
        starts = [time.monotonic()]
        await asyncio.sleep(0.5)  # the first round overruns its interval
        assert await ticker.wait(stop)
        starts.append(time.monotonic())
        assert await ticker.wait(stop)
        starts.append(time.monotonic())
        return starts

    t0, t1, t2 = asyncio.run(rounds())
    assert t1 - t0 == pytest.approx(0.5, abs=0.08)  # no wait after the slow round
    assert t2 - t1 == pytest.approx(0.2, abs=0.08)  # then a whole interval, not a catch-up


def test_the_deadline_ends_the_wait_and_stop_cuts_it_short() -> None:
    async def run() -> tuple[bool, float, bool, float]:
        t = time.monotonic()
        ends = await Ticker(10.0, deadline=t + 0.2).wait(asyncio.Event())
        waited = time.monotonic() - t
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.1, stop.set)
        t = time.monotonic()
        goes_on = await Ticker(10.0).wait(stop)
        return ends, waited, goes_on, time.monotonic() - t

    ends, waited, goes_on, stopped = asyncio.run(run())
    assert not ends and waited == pytest.approx(0.2, abs=0.08)
    assert goes_on and stopped == pytest.approx(0.1, abs=0.08)
