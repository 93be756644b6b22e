"""Output timestamps: the cached formatter writes what ``format_ts`` writes, in any order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from genesis.backtesting.output import _DayCache, format_ts

_DAY_NS = 86_400 * 10**9
# 1970 to 2100, whole minutes, whole seconds and odd nanoseconds alike
stamps = st.one_of(
    st.integers(0, 130 * 365 * _DAY_NS),
    st.integers(0, 130 * 365 * 1440).map(lambda m: m * 60 * 10**9),
)


@given(st.lists(stamps, min_size=1, max_size=60))
def test_the_day_cache_formats_like_format_ts(times: list[int]) -> None:
    """Days forward, backward and repeated: every text equals the uncached one."""
    days = _DayCache()
    assert [days.format(t) for t in times] == [format_ts(t) for t in times]


def test_known_texts_across_a_day_boundary() -> None:
    """Midnight starts the next date; sub-second digits appear only when non-zero."""
    days = _DayCache()
    jan1 = 1_640_995_200 * 10**9  # 2022-01-01 00:00:00 UTC
    assert days.format(jan1 - 60 * 10**9) == "2021-12-31 23:59:00"
    assert days.format(jan1) == "2022-01-01 00:00:00"
    assert days.format(jan1 + 1_500_000) == "2022-01-01 00:00:00.001500"
    assert days.format(0) == "1970-01-01 00:00:00"
