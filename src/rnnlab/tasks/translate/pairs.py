"""Source/target pairs for the toy translation tasks: human dates -> ISO, reversing a sequence, digits -> words.

Every task's sources form a space that can be counted exactly and indexed (the i-th source of a given length),
so `make_pairs` draws distinct indices instead of rejecting duplicate samples open-endedly, and when asked for
more pairs than exist it fails at once, saying how many there are.
"""

from __future__ import annotations

import bisect
import datetime
import functools
import random
import string
from collections.abc import Callable
from dataclasses import dataclass

from rnnlab.errors import UserError

TASKS = ("dates", "reverse", "numbers")
Pair = tuple[list[str], list[str]]  # (source tokens, target tokens)

MAX_NUMBER_DIGITS = 12  # up to 999 billion
# Exactly 100 years, so a two-digit year names exactly one of them ('91' is 1991, '07' is 2007).
FIRST_DATE = datetime.date(1950, 1, 1)
LAST_DATE = datetime.date(2049, 12, 31)

_MONTHS = ("january", "february", "march", "april", "may", "june",
           "july", "august", "september", "october", "november", "december")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # date.weekday() order

# Day before month wherever both are numbers. Each format has its own words, separators or field widths,
# so no string is written by two different dates (tests check this over whole years).
DATE_FORMATS = (
    "{d} {month} {yyyy}",  # 9 march 1991
    "{month} {d}, {yyyy}",  # march 9, 1991
    "{month} {dth} {yyyy}",  # march 9th 1991
    "the {dth} of {month} {yyyy}",  # the 9th of march 1991
    "{weekday}, {month} {d}, {yyyy}",  # saturday, march 9, 1991
    "{weekday} {dth} {month} {yyyy}",  # saturday 9th march 1991
    "{wd} {d} {mon} {yyyy}",  # sat 9 mar 1991
    "{wd}, {dd} {mon} {yyyy}",  # sat, 09 mar 1991
    "{d} {mon} {yy}",  # 9 mar 91
    "{mon} {dd} {yy}",  # mar 09 91
    "{dd}-{mon}-{yy}",  # 09-mar-91
    "{dd}/{mm}/{yyyy}",  # 09/03/1991
    "{d}/{m}/{yy}",  # 9/3/91
    "{d}.{m}.{yyyy}",  # 9.3.1991
    "{yyyy}.{mm}.{dd}",  # 1991.03.09
    "{yyyy}/{mm}/{dd}",  # 1991/03/09
)

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ((10**9, "billion"), (10**6, "million"), (10**3, "thousand"), (1, ""))


@dataclass(frozen=True)
class _Bucket:
    """`size` distinct sources, and the pair made from the source at an index in [0, size)."""

    size: int
    pair: Callable[[int], Pair]


def check_settings(task: str, min_len: int, max_len: int, symbols: int) -> None:
    """Raise UserError for settings no pair of `task` can satisfy (lengths count source tokens)."""
    _check_task(task)
    if min_len < 1:
        raise UserError(f"data.min_len={min_len} is below 1; every source has at least one token, "
                        "set data.min_len >= 1")
    if min_len > max_len:
        raise UserError(f"data.min_len={min_len} is greater than data.max_len={max_len}; "
                        "set data.min_len <= data.max_len")
    if task == "reverse" and symbols < 2:
        raise UserError(f"reverse needs at least 2 symbols, got data.symbols={symbols}; set data.symbols >= 2")
    if task == "numbers" and max_len > MAX_NUMBER_DIGITS:
        raise UserError(f"numbers have at most {MAX_NUMBER_DIGITS} digits (billions), got data.max_len={max_len}; "
                        f"set data.max_len <= {MAX_NUMBER_DIGITS}")
    if task == "dates" and not _date_groups(min_len, max_len):
        shortest, longest = _date_length_range()
        raise UserError(f"no date format is written in {min_len}-{max_len} characters (they take "
                        f"{shortest}-{longest}); set data.min_len/data.max_len to overlap {shortest}-{longest}")


def make_pairs(task: str, count: int, min_len: int, max_len: int, symbols: int, seed: int) -> list[Pair]:
    """`count` pairs with distinct sources of min_len..max_len tokens, in an order fixed by `seed`.

    reverse and numbers spread the pairs evenly over the source lengths (a length with fewer sources than its
    share gives them all); dates are drawn uniformly from every (format, date) written within the lengths.
    """
    check_settings(task, min_len, max_len, symbols)
    buckets = _buckets(task, min_len, max_len, symbols)
    available = sum(bucket.size for bucket in buckets)
    if count > available:
        settings = f"lengths {min_len}-{max_len}" + (f" and {symbols} symbols" if task == "reverse" else "")
        widen = "min_len/max_len" + (" or symbols" if task == "reverse" else "")
        raise UserError(f"{task} with {settings} has only {available} distinct sources, fewer than the {count} "
                        f"pairs asked for; lower the dataset sizes or widen {widen}")
    rng = random.Random(seed)
    quotas = _even_quotas(count, [bucket.size for bucket in buckets])
    pairs = [
        bucket.pair(index)
        for bucket, quota in zip(buckets, quotas)
        for index in _distinct_indices(rng, bucket.size, quota)
    ]
    rng.shuffle(pairs)
    return pairs


def source_tokens(task: str, text: str) -> list[str]:
    """Tokenise a user's source the way `make_pairs` writes sources (e.g. 'March 9, 1991' or '1,234')."""
    _check_task(task)
    if task == "dates":
        return list(" ".join(text.lower().split()))
    if task == "reverse":
        return text.split()
    digits = "".join(text.replace(",", "").split())
    if not (digits.isascii() and digits.isdigit()):
        raise UserError(f"numbers translates whole numbers written in digits, got '{text}'; give e.g. 1234")
    return list(str(int(digits)))  # '007' -> ['7']: sources never have leading zeros


def source_text(task: str, tokens: list[str]) -> str:
    """The source string of `tokens`, as a user would type it (the inverse of `source_tokens`)."""
    _check_task(task)
    return " ".join(tokens) if task == "reverse" else "".join(tokens)


def target_text(task: str, tokens: list[str]) -> str:
    """The target string of `tokens`: '1991-03-09' for dates, space-separated words or symbols otherwise."""
    _check_task(task)
    return "".join(tokens) if task == "dates" else " ".join(tokens)


def number_words(number: int) -> list[str]:
    """English words of 0 <= number < 10**12, without 'and' or hyphens: 1234 -> one thousand two hundred thirty four."""
    if number == 0:
        return ["zero"]
    words = []
    for scale, name in _SCALES:
        group = number // scale % 1000
        if group:
            words += _words_below_thousand(group) + ([name] if name else [])
    return words


def write_date(date_format: str, day: datetime.date) -> str:
    """`day` written in one of DATE_FORMATS, e.g. 'the 9th of march 1991'."""
    month, weekday = _MONTHS[day.month - 1], _WEEKDAYS[day.weekday()]
    return date_format.format(
        d=day.day, dd=f"{day.day:02d}", dth=f"{day.day}{_ordinal_suffix(day.day)}",
        m=day.month, mm=f"{day.month:02d}", month=month, mon=month[:3],
        weekday=weekday, wd=weekday[:3], yyyy=day.year, yy=f"{day.year % 100:02d}",
    )


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise UserError(f"data.task='{task}' is not a translation task; choose one of {', '.join(TASKS)}")


def _buckets(task: str, min_len: int, max_len: int, symbols: int) -> list[_Bucket]:
    if task == "dates":
        return [_dates_bucket(min_len, max_len)]
    if task == "reverse":
        return [_reverse_bucket(length, symbols) for length in range(min_len, max_len + 1)]
    return [_numbers_bucket(digits) for digits in range(min_len, max_len + 1)]


def _reverse_bucket(length: int, symbols: int) -> _Bucket:
    """Sequences of `length` symbols; index i spells i in base `symbols`."""
    names = string.ascii_lowercase[:symbols] if symbols <= 26 else [f"t{k}" for k in range(symbols)]

    def pair(index: int) -> Pair:
        tokens = []
        for _ in range(length):
            index, digit = divmod(index, symbols)
            tokens.append(names[digit])
        return tokens, tokens[::-1]

    return _Bucket(symbols**length, pair)


def _numbers_bucket(digits: int) -> _Bucket:
    """Whole numbers of `digits` digits (0 counts as one digit; no leading zeros)."""
    first = 0 if digits == 1 else 10 ** (digits - 1)

    def pair(index: int) -> Pair:
        return list(str(first + index)), number_words(first + index)

    return _Bucket(10**digits - first, pair)


def _dates_bucket(min_len: int, max_len: int) -> _Bucket:
    """Every (format, date) written in min_len..max_len characters, indexed group after group."""
    groups = _date_groups(min_len, max_len)
    starts = [0]
    for _, days in groups:
        starts.append(starts[-1] + len(days))

    def pair(index: int) -> Pair:
        group = bisect.bisect_right(starts, index) - 1
        date_format, days = groups[group]
        day = days[index - starts[group]]
        return list(write_date(date_format, day)), list(day.isoformat())

    return _Bucket(starts[-1], pair)


def _date_groups(min_len: int, max_len: int) -> list[tuple[str, list[datetime.date]]]:
    """(format, dates) for each format and date shape whose written length lies in min_len..max_len."""
    return [(date_format, days) for date_format in DATE_FORMATS for days in _dates_by_shape()
            if min_len <= len(write_date(date_format, days[0])) <= max_len]


@functools.cache
def _dates_by_shape() -> tuple[list[datetime.date], ...]:
    """All dates in range, grouped so that each format writes every date of a group in the same length.

    The length depends only on whether the day has one or two digits, the month and the weekday (years always
    have four or two digits, ordinal suffixes always two letters).
    """
    groups: dict[tuple[bool, int, int], list[datetime.date]] = {}
    for ordinal in range(FIRST_DATE.toordinal(), LAST_DATE.toordinal() + 1):
        day = datetime.date.fromordinal(ordinal)
        groups.setdefault((day.day >= 10, day.month, day.weekday()), []).append(day)
    return tuple(groups.values())


@functools.cache
def _date_length_range() -> tuple[int, int]:
    lengths = [len(write_date(date_format, days[0])) for date_format in DATE_FORMATS for days in _dates_by_shape()]
    return min(lengths), max(lengths)


def _even_quotas(count: int, sizes: list[int]) -> list[int]:
    """Split `count` (<= sum(sizes)) as evenly as the sizes allow; small buckets give all they have."""
    quotas = [0] * len(sizes)
    left = count
    for rank, i in enumerate(sorted(range(len(sizes)), key=sizes.__getitem__)):
        quotas[i] = min(sizes[i], -(-left // (len(sizes) - rank)))
        left -= quotas[i]
    return quotas


def _distinct_indices(rng: random.Random, size: int, count: int) -> list[int]:
    """`count` distinct indices in [0, size), even when size is too large to list."""
    if 2 * count > size:  # dense: sample the whole range, which is at most twice the request
        return rng.sample(range(size), count)
    chosen: dict[int, None] = {}  # at least half of all indices are free, so each draw is new with p >= 1/2
    while len(chosen) < count:
        chosen[rng.randrange(size)] = None
    return list(chosen)


def _words_below_thousand(number: int) -> list[str]:
    hundreds, rest = divmod(number, 100)
    words = [_ONES[hundreds], "hundred"] if hundreds else []
    if rest >= 20:
        return words + [_TENS[rest // 10]] + ([_ONES[rest % 10]] if rest % 10 else [])
    return words + ([_ONES[rest]] if rest else [])


def _ordinal_suffix(day: int) -> str:
    if 11 <= day <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
