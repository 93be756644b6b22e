"""Exact, fast timestamp parsing for market-data files.

Every timestamp becomes an ``int`` of nanoseconds since the Unix epoch, UTC.
Two families are accepted, chosen once per file from its first value:

* ISO 8601 ``YYYY-MM-DD[( |T)HH:MM:SS[.f{1,9}][Z|±HH:MM|±HHMM]]``. A value
  without an offset is UTC. Other ISO shapes that :meth:`datetime.fromisoformat`
  understands (``HH:MM`` without seconds, for instance) are accepted through a
  slower fallback, to the microsecond.
* An epoch integer, whose unit is read from its magnitude: below ``1e11`` it
  is seconds (until year 5138), below ``1e14`` milliseconds, below ``1e17``
  microseconds, otherwise nanoseconds.

Why caches: a file holds few distinct dates and few distinct times of day, so
the ISO parser splits a value into its date and the rest (time of day,
fraction and offset), each looked up in a dict filled on first sight. A row
then costs two slices and two dict lookups instead of a datetime object.
The caches belong to one parser (one file), so nothing global changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

__all__ = ["NS_PER_S", "TimestampParser", "format_ns", "make_timestamp_parser"]

NS_PER_S = 1_000_000_000
_NS_PER_DAY = 86_400 * NS_PER_S
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.toordinal()
# Cache bounds, in entries (about 150 bytes each).
_MAX_DATES = 1_000_000
_MAX_RESTS = 100_000  # 1-minute bars need 1,440; 1-second bars 86,400
_MAX_TIMES = 200_000  # every second of a day, with ' ' or 'T' before it
_MAX_TAILS = 100_000  # fraction + offset: millisecond data has about 1,000
_TAIL_RE = re.compile(r"(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d\d):?(\d\d))?", re.ASCII)
_TIME_RE = re.compile(r"[ T](\d\d):(\d\d):(\d\d)", re.ASCII)
_LONG_FRACTION_RE = re.compile(r"[.,]\d{7,}", re.ASCII)  # fromisoformat would truncate these
_EXPECTED = "ISO 8601 'YYYY-MM-DD HH:MM:SS[.fffffffff][+HH:MM]' or an epoch integer"

TimestampParser = Callable[[str], int]


def make_timestamp_parser(first: str) -> TimestampParser:
    """Return a parser for the timestamp shape of ``first`` (epoch or ISO).

    Args:
        first: the file's first timestamp value, used only to pick the family.

    Returns:
        A function ``str -> int`` giving ns since the epoch (UTC); it raises
        ``ValueError`` naming the value for anything it cannot parse exactly.
    """
    if first.isascii() and first.isdigit():
        return _parse_epoch
    return _make_iso_parser()


def format_ns(ts_ns: int) -> str:
    """Return ``ts_ns`` (ns since the epoch) as ISO 8601 UTC, for messages.

    Returns:
        ``YYYY-MM-DDTHH:MM:SS[.fffffffff]Z``; the fraction appears only when
        non-zero, with all nine digits.
    """
    seconds, frac = divmod(ts_ns, NS_PER_S)
    text = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{frac:09d}Z" if frac else f"{text}Z"


def _parse_epoch(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"unparseable timestamp {text!r}, expected an epoch integer")
    value = int(text)
    if value < 10**11:
        return value * NS_PER_S
    if value < 10**14:
        return value * 1_000_000
    if value < 10**17:
        return value * 1_000
    return value


def _make_iso_parser() -> TimestampParser:
    caches = _IsoCaches()
    dates, rests, parse_uncached = caches.dates, caches.rests, caches.parse_uncached

    def parse(text: str) -> int:
        try:
            return dates[text[:10]] + rests[text[10:]]
        except KeyError:
            return parse_uncached(text)

    return parse


class _IsoCaches:
    """The caches of one ISO parser: date, rest (time of day + tail), time of day, tail.

    Every cached key was validated when it was computed, so any cached date
    followed by any cached rest is a valid timestamp. ``rests`` and ``tails``
    are bounded (sub-second data has too many distinct values); past the
    bound a rest is assembled from the time-of-day and tail caches.
    """

    __slots__ = ("dates", "rests", "tails", "times")

    def __init__(self) -> None:
        self.dates: dict[str, int] = {}
        self.rests: dict[str, int] = {}
        self.times: dict[str, int] = {}
        self.tails: dict[str, int] = {}

    def parse_uncached(self, text: str) -> int:
        """Parse ``text`` through the slower paths, filling the caches."""
        try:
            day = _lookup(self.dates, text[:10], _date_ns, _MAX_DATES)
            rest = _lookup(self.rests, text[10:], self._rest_ns, _MAX_RESTS)
        except ValueError:
            return _parse_fallback(text)
        return day + rest

    def _rest_ns(self, rest: str) -> int:
        tod = _lookup(self.times, rest[:9], _time_ns, _MAX_TIMES)
        return tod + _lookup(self.tails, rest[9:], _tail_ns, _MAX_TAILS)


def _lookup(cache: dict[str, int], key: str, compute: Callable[[str], int], limit: int) -> int:
    value = cache.get(key)
    if value is None:
        value = compute(key)
        if len(cache) < limit:
            cache[key] = value
    return value


def _date_ns(text: str) -> int:
    if len(text) != 10 or text[4] != "-" or text[7] != "-" or not text.isascii():
        raise ValueError(text)
    year, month, day = text[:4], text[5:7], text[8:]
    if not (year.isdigit() and month.isdigit() and day.isdigit()):
        raise ValueError(text)
    ordinal = date(int(year), int(month), int(day)).toordinal()
    return (ordinal - _EPOCH_ORDINAL) * _NS_PER_DAY


def _time_ns(text: str) -> int:
    if not text:
        return 0
    match = _TIME_RE.fullmatch(text)
    if match is None:
        raise ValueError(text)
    hour, minute, second = (int(group) for group in match.groups())
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(text)
    return ((hour * 60 + minute) * 60 + second) * NS_PER_S


def _tail_ns(text: str) -> int:
    # Fraction minus offset: local time minus its offset is UTC.
    match = _TAIL_RE.fullmatch(text)
    if match is None:
        raise ValueError(text)
    fraction, _, sign, off_hours, off_minutes = match.groups()
    frac_ns = int(fraction.ljust(9, "0")) if fraction else 0
    if sign is None:
        return frac_ns
    if int(off_hours) > 23 or int(off_minutes) > 59:
        raise ValueError(text)
    offset_ns = (int(off_hours) * 60 + int(off_minutes)) * 60 * NS_PER_S
    return frac_ns - offset_ns if sign == "+" else frac_ns + offset_ns


def _parse_fallback(text: str) -> int:
    try:
        if _LONG_FRACTION_RE.search(text):
            raise ValueError(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"unparseable timestamp {text!r}, expected {_EXPECTED}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1_000
