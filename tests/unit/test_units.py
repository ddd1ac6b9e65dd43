"""Kubernetes quantities, rounding and durations."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rightsize.errors import UsageError
from rightsize.units import (
    format_cpu,
    format_duration,
    format_memory,
    parse_cpu,
    parse_duration,
    parse_memory,
    parse_quantity,
    round_cpu_up,
    round_memory_up,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", Decimal("0.25")),
        ("1.5", Decimal("1.5")),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("1E", Decimal(10**18)),
        ("128Mi", Decimal(128 * 2**20)),
        ("1G", Decimal(10**9)),
        ("0.5Gi", Decimal(536870912)),
        ("1.5Gi", Decimal(1610612736)),
        ("1k", Decimal(1000)),
        (".5", Decimal("0.5")),
        ("5.", Decimal(5)),
        ("3.001n", Decimal("4e-9")),  # rounds up to nano precision
        ("0.1m", Decimal("0.0001")),
        ("+1", Decimal(1)),
        (0.5, Decimal("0.5")),
        (2, Decimal(2)),
    ],
)
def test_parse_quantity(text: str | float, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["1K", "1KiB", "MI", "1mi", " 1", "1 ", "1e", "", "Gi", "1.2.3"])
def test_invalid_quantities_name_the_value(text: str) -> None:
    with pytest.raises(UsageError, match="invalid quantity"):
        parse_quantity(text)


def test_memory_in_milli_is_refused_as_a_fraction_of_a_byte() -> None:
    # 128m is 0.128 bytes: the API server only warns; rightsize refuses the likely typo for 128Mi
    with pytest.raises(UsageError, match="fraction of a byte"):
        parse_memory("128m")
    assert parse_cpu("250m") == 0.25


@pytest.mark.parametrize("text", ["512Mi", "1Gi", "1k", "2G", "1E"])
def test_cpu_refuses_byte_suffixes_and_multipliers(text: str) -> None:
    with pytest.raises(UsageError, match="expected cores"):
        parse_cpu(text)


@pytest.mark.parametrize(
    ("cores", "text"),
    [(0.25, "250m"), (1.0, "1"), (1.5, "1.5"), (2.0, "2"), (0.0015, "2m"), (None, "-")],
)
def test_format_cpu(cores: float | None, text: str) -> None:
    assert format_cpu(cores) == text


@pytest.mark.parametrize(
    ("nbytes", "text"),
    [(512 * 2**20, "512Mi"), (2**30, "1Gi"), (1.5 * 2**30, "1.5Gi"), (300 * 1024, "300Ki"),
     (100, "100")],
)
def test_format_memory(nbytes: float, text: str) -> None:
    assert format_memory(nbytes) == text


@given(st.floats(min_value=1e-9, max_value=1e4, allow_nan=False))
def test_cpu_rounding_never_below_the_input(cores: float) -> None:
    rounded = round_cpu_up(cores)
    assert rounded >= cores - 1e-12
    assert rounded - cores < 0.001 + 1e-9
    assert abs(rounded * 1000 - round(rounded * 1000)) < 1e-6  # whole millicores


@given(st.integers(min_value=1, max_value=2**50))
def test_memory_rounding_never_below_the_input(nbytes: int) -> None:
    rounded = round_memory_up(nbytes)
    assert rounded >= nbytes
    assert rounded % 2**20 == 0
    assert rounded - nbytes < 2**20


@given(st.integers(min_value=0, max_value=10**6))
def test_millicores_round_trip_through_format_and_parse(milli: int) -> None:
    cores = milli / 1000
    assert parse_cpu(format_cpu(cores)) == pytest.approx(cores, abs=1e-9)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("2m", 120), ("1h30m", 5400), ("7d", 604800), ("500ms", 0.5), ("15", 15),
     ("1w", 604800)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten", "5x", "0s", "1h 30m", "-5s", "s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(5400) == "1h30m"
    assert format_duration(86400) == "1d"
    assert format_duration(42) == "42s"
