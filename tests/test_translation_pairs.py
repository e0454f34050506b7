import datetime
from collections import Counter

import pytest

from rnnlab.errors import UserError
from rnnlab.tasks.translate.pairs import (
    DATE_FORMATS,
    TASKS,
    check_settings,
    make_pairs,
    number_words,
    source_text,
    source_tokens,
    target_text,
    write_date,
)

MONTHS = ["january", "february", "march", "april", "may", "june",
          "july", "august", "september", "october", "november", "december"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
# (task, min_len, max_len) windows each task can fill with 2,000 pairs
WINDOWS = [("dates", 6, 29), ("dates", 12, 16), ("reverse", 1, 8), ("reverse", 6, 6), ("numbers", 1, 12),
           ("numbers", 4, 6)]


@pytest.mark.parametrize("task", TASKS)
def test_pairs_are_fixed_by_the_seed(task: str) -> None:
    assert make_pairs(task, 500, 3, 10, 5, seed=1) == make_pairs(task, 500, 3, 10, 5, seed=1)
    assert make_pairs(task, 500, 3, 10, 5, seed=1) != make_pairs(task, 500, 3, 10, 5, seed=2)


@pytest.mark.parametrize(("task", "min_len", "max_len"), WINDOWS)
def test_sources_are_distinct_and_within_the_lengths(task: str, min_len: int, max_len: int) -> None:
    pairs = make_pairs(task, 2000, min_len, max_len, symbols=4, seed=0)
    sources = [tuple(source) for source, _ in pairs]
    assert len(pairs) == 2000
    assert len(set(sources)) == 2000
    assert all(min_len <= len(source) <= max_len for source in sources)
    assert all(token and not any(c.isspace() for c in token) for source in sources for token in source
               if task != "dates")


def test_asking_for_every_source_there_is_gives_them_all() -> None:
    pairs = make_pairs("reverse", 2 + 4 + 8, 1, 3, symbols=2, seed=0)
    binary = {"".join(source).replace("a", "0").replace("b", "1") for source, _ in pairs}
    assert binary == {format(i, "b").zfill(length) for length in (1, 2, 3) for i in range(2**length)}


def test_reverse_target_is_the_source_backwards() -> None:
    for source, target in make_pairs("reverse", 300, 1, 12, symbols=7, seed=3):
        assert target == source[::-1]
        assert set(source) <= set("abcdefg")


def test_reverse_with_many_symbols_names_them_t0_onwards() -> None:
    tokens = {token for source, _ in make_pairs("reverse", 500, 4, 6, symbols=40, seed=0) for token in source}
    assert tokens <= {f"t{k}" for k in range(40)} and len(tokens) == 40


def test_reverse_and_numbers_spread_pairs_evenly_over_lengths() -> None:
    lengths = Counter(len(source) for source, _ in make_pairs("reverse", 400, 1, 4, symbols=10, seed=0))
    assert lengths == {1: 10, 2: 100, 3: 145, 4: 145}  # length 1 and 2 give all they have
    digits = Counter(len(source) for source, _ in make_pairs("numbers", 300, 2, 4, symbols=0, seed=0))
    assert digits == {2: 90, 3: 105, 4: 105}


@pytest.mark.parametrize(
    ("number", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (15, "fifteen"),
        (40, "forty"),
        (101, "one hundred one"),
        (1000, "one thousand"),
        (1234, "one thousand two hundred thirty four"),
        (1000000, "one million"),
        (20000019, "twenty million nineteen"),
        (987654321012, "nine hundred eighty seven billion six hundred fifty four million three hundred twenty one "
                       "thousand twelve"),
    ],
)
def test_number_words(number: int, words: str) -> None:
    assert number_words(number) == words.split()


def test_numbers_pairs_are_digits_to_words_without_leading_zeros() -> None:
    for source, target in make_pairs("numbers", 500, 1, 12, symbols=0, seed=0):
        assert source == ["0"] or source[0] != "0"
        assert target == number_words(int("".join(source)))


def test_date_targets_are_iso_dates_and_names_match_them() -> None:
    for source, target in make_pairs("dates", 3000, 6, 29, symbols=0, seed=0):
        day = datetime.date.fromisoformat("".join(target))
        assert datetime.date(1950, 1, 1) <= day <= datetime.date(2049, 12, 31)
        words = "".join(source).replace(",", "").replace("-", " ").split()
        weekdays = [w for w in words if w in WEEKDAYS or w in [name[:3] for name in WEEKDAYS]]
        months = [w for w in words if w in MONTHS or w in [name[:3] for name in MONTHS]]
        assert all(WEEKDAYS[day.weekday()].startswith(w) for w in weekdays)
        assert all(MONTHS[day.month - 1].startswith(m) for m in months)
        assert str(day.year) in "".join(source) or f"{day.year % 100:02d}" in "".join(source)


def test_date_formats_cover_the_common_ways_of_writing_a_date() -> None:
    written = {write_date(date_format, datetime.date(1991, 3, 9)) for date_format in DATE_FORMATS}
    assert {"9 march 1991", "march 9, 1991", "the 9th of march 1991", "saturday, march 9, 1991",
            "sat 9 mar 1991", "09/03/1991", "9.3.1991", "1991.03.09", "mar 09 91"} <= written
    assert len(written) == len(DATE_FORMATS) >= 12
    assert write_date("{dth} {dth} {dth} {dth}", datetime.date(2001, 1, 1)) == "1st 1st 1st 1st"
    assert [write_date("{dth}", datetime.date(2001, 1, d)) for d in (2, 3, 11, 12, 13, 21, 22, 23, 31)] == [
        "2nd", "3rd", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]


def test_no_date_string_is_written_for_two_dates_or_by_two_formats() -> None:
    start = datetime.date(1991, 1, 1).toordinal()
    days = {datetime.date.fromordinal(start + i) for i in range(366 * 2)}  # includes the leap day of 1992
    days |= {datetime.date(year, 2, 28) for year in range(1950, 2050)}  # every two-digit year
    written = [write_date(date_format, day) for date_format in DATE_FORMATS for day in days]
    assert len(set(written)) == len(written)


def test_the_same_date_source_always_has_the_same_target() -> None:
    target_of: dict[str, str] = {}
    for seed in range(4):
        for source, target in make_pairs("dates", 5000, 6, 12, symbols=0, seed=seed):
            assert target_of.setdefault("".join(source), "".join(target)) == "".join(target)


def test_date_source_count_is_exact() -> None:
    # Only '9/3/91' (one-digit day and month, two-digit year) is 6 characters: 9 * 9 days a year, 100 years.
    pairs = make_pairs("dates", 8100, 6, 6, symbols=0, seed=0)
    assert len({tuple(source) for source, _ in pairs}) == 8100
    with pytest.raises(UserError, match="only 8100 distinct sources"):
        make_pairs("dates", 8101, 6, 6, symbols=0, seed=0)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (("dats", 1, 5, 4), "data.task='dats' is not a translation task; choose one of dates, reverse, numbers"),
        (("reverse", 6, 5, 4), "data.min_len=6 is greater than data.max_len=5"),
        (("reverse", 0, 5, 4), "data.min_len=0 is below 1"),
        (("reverse", 1, 5, 1), "reverse needs at least 2 symbols"),
        (("numbers", 1, 13, 4), "numbers have at most 12 digits"),
        (("dates", 1, 5, 4), r"no date format is written in 1-5 characters \(they take 6-29\)"),
        (("dates", 30, 40, 4), "no date format is written in 30-40 characters"),
    ],
)
def test_impossible_settings_are_user_errors_naming_the_cause(settings: tuple, message: str) -> None:
    with pytest.raises(UserError, match=message):
        check_settings(*settings)
    with pytest.raises(UserError, match=message):
        make_pairs(*settings[:1], 10, *settings[1:], seed=0)


def test_asking_for_more_pairs_than_sources_exist_says_how_many_exist() -> None:
    with pytest.raises(UserError, match="reverse with lengths 1-2 and 2 symbols has only 6 distinct sources, fewer "
                                        "than the 7 pairs asked for; lower the dataset sizes or widen"):
        make_pairs("reverse", 7, 1, 2, symbols=2, seed=0)
    with pytest.raises(UserError, match="numbers with lengths 1-2 has only 100 distinct sources"):
        make_pairs("numbers", 101, 1, 2, symbols=0, seed=0)


@pytest.mark.parametrize("task", TASKS)
def test_source_text_and_tokens_round_trip(task: str) -> None:
    for source, _ in make_pairs(task, 200, 1, 12, symbols=30, seed=0):
        assert source_tokens(task, source_text(task, source)) == source


def test_user_sources_are_tokenised_like_generated_ones() -> None:
    assert source_tokens("dates", "  March 9,  1991 ") == list("march 9, 1991")
    assert source_tokens("numbers", "1,234 567") == list("1234567")
    assert source_tokens("numbers", "007") == ["7"]
    assert source_tokens("reverse", " a  b\tc ") == ["a", "b", "c"]
    with pytest.raises(UserError, match="numbers translates whole numbers written in digits, got '12a'"):
        source_tokens("numbers", "12a")


def test_target_text_joins_targets_for_reading() -> None:
    assert target_text("dates", list("1991-03-09")) == "1991-03-09"
    assert target_text("numbers", number_words(1234)) == "one thousand two hundred thirty four"
    assert target_text("reverse", ["c", "b", "a"]) == "c b a"
