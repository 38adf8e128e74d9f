"""Laws of the query language: printing round-trips, parsing is total and points at errors."""

from __future__ import annotations

import string
from dataclasses import dataclass

import pytest
from _recipe_graphs import settings_for
from hypothesis import given
from hypothesis import strategies as st

from cmpy._errors import QuerySyntaxError
from cmpy._query import Query, parse_query

SETTINGS = settings_for(300)

ALNUM = string.ascii_letters + string.digits
TAG_FIRST = ALNUM + "*?["
TAG_REST = TAG_FIRST + "_.+-/:@]"
VAR_FIRST = ALNUM
VAR_REST = ALNUM + "_+-"


def _printable(c: str) -> bool:
    """Not a lone surrogate (which a terminal cannot show in a failure report)."""
    return not 0xD800 <= ord(c) <= 0xDFFF


def _word(first: str, rest: str, max_rest: int = 8) -> st.SearchStrategy[str]:
    return st.builds(str.__add__, st.sampled_from(first), st.text(rest, max_size=max_rest))


tags = _word(TAG_FIRST, TAG_REST)
variation_names = _word(VAR_FIRST, VAR_REST)
# a wildcard value is anything a word can hold: no white space, no comma
value_chars = st.characters().filter(lambda c: not c.isspace() and c != "," and _printable(c))
values = st.text(value_chars, min_size=1, max_size=6)
variations = st.one_of(variation_names, st.builds(lambda n, v: f"{n}.{v}", variation_names, values))
# what can never appear in a tag or a variation name (and does not change a word's kind)
bad_chars = st.characters().filter(
    lambda c: not c.isspace() and c not in TAG_REST and c not in ",_-." and _printable(c)
)
separators = st.text(" ,", min_size=1, max_size=3)


def _unique(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(strategy, unique=True, max_size=4).map(tuple)


queries = st.builds(Query, _unique(tags), _unique(tags), _unique(variations), _unique(variations))


@dataclass(frozen=True)
class Word:
    """One word of a query: its kind, its text, and where its name part starts."""

    kind: str  # "tag", "excluded", "variation", "excluded_variation"
    body: str

    @property
    def text(self) -> str:
        prefix = {"tag": "", "excluded": "-", "variation": "_", "excluded_variation": "-_"}
        return prefix[self.kind] + self.body

    @property
    def name_span(self) -> tuple[int, int]:
        """The positions (within ``text``) where a character must be valid."""
        offset = len(self.text) - len(self.body)
        end = len(self.body)
        if self.kind in ("variation", "excluded_variation"):
            end = len(self.body.partition(".")[0])
        return offset, offset + end


words = st.one_of(
    st.builds(Word, st.just("tag"), tags),
    st.builds(Word, st.just("excluded"), tags),
    st.builds(Word, st.just("variation"), variations),
    st.builds(Word, st.just("excluded_variation"), variations),
)


def _expected(ws: list[Word]) -> Query:
    def of(kind: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w.body for w in ws if w.kind == kind))

    return Query(of("tag"), of("excluded"), of("variation"), of("excluded_variation"))


@st.composite
def texts(draw: st.DrawFn, seps: st.SearchStrategy[str] = separators) -> tuple[str, list[Word]]:
    """A query text of random words joined by random separators (maybe leading/trailing)."""
    ws = draw(st.lists(words, max_size=6))
    lead = draw(st.one_of(st.just(""), seps))
    trail = draw(st.one_of(st.just(""), seps))
    parts = [lead]
    for i, w in enumerate(ws):
        if i:
            parts.append(draw(seps))
        parts.append(w.text)
    parts.append(trail)
    return "".join(parts), ws


@SETTINGS
@given(queries)
def test_str_round_trips(query: Query) -> None:
    """Printing a query and parsing it back gives the same query."""
    assert parse_query(str(query)) == query


@SETTINGS
@given(texts(st.text(" ,\t\n\u00a0\u2003", min_size=1, max_size=3)))
def test_parse_groups_words_by_kind(case: tuple[str, list[Word]]) -> None:
    """Any mix of words and separators (white space, commas) parses to its words, by kind,
    first occurrence first; and the parse is deterministic and canonical."""
    text, ws = case
    parsed = parse_query(text)
    assert parsed == _expected(ws)
    assert parse_query(text) == parsed
    assert parse_query(str(parsed)) == parsed
    assert str(parse_query(str(parsed))) == str(parsed)


@SETTINGS
@given(st.text(st.sampled_from(TAG_REST + " ,_-.!#=é\t"), max_size=20))
def test_parse_is_total(text: str) -> None:
    """Parsing any text either gives a query that round-trips or raises QuerySyntaxError."""
    try:
        parsed = parse_query(text)
    except QuerySyntaxError as exc:
        assert exc.query == text
        assert 0 <= exc.start < exc.end <= len(text)
        return
    assert parse_query(str(parsed)) == parsed


@st.composite
def broken(draw: st.DrawFn) -> tuple[str, int]:
    """A valid query text with one bad character put into a tag or a variation name."""
    before = draw(st.lists(words, max_size=3))
    after = draw(st.lists(words, max_size=3))
    word = draw(words)
    lo, hi = word.name_span
    at = draw(st.integers(lo, hi))
    bad = draw(bad_chars)
    mangled = word.text[:at] + bad + word.text[at:]
    prefix = "".join(w.text + draw(separators) for w in before)
    suffix = "".join(draw(separators) + w.text for w in after)
    return prefix + mangled + suffix, len(prefix) + at


@SETTINGS
@given(broken())
def test_bad_character_is_pointed_at(case: tuple[str, int]) -> None:
    """A character that cannot appear in a tag or a variation name raises QuerySyntaxError
    whose start is that character, whose message quotes the query and puts a caret under it."""
    text, position = case
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(text)
    exc = info.value
    assert exc.start == position
    assert exc.query == text
    message = str(exc)
    assert text in message
    lines = message.splitlines()
    # the quoted query is the line that ends with it; the caret line follows it
    # (the query itself may start with a caret)
    at = next(i for i, line in enumerate(lines) if line.endswith(text) and line.strip() == text.strip())
    quoted, caret = lines[at], lines[at + 1]
    assert caret.index("^") == quoted.index(text) + position
    assert repr(text[position]) in exc.reason


@SETTINGS
@given(
    st.lists(words, max_size=3),
    st.sampled_from(["-", "_", "-_", "_{}.", "-_{}."]),
    variation_names,
    separators,
)
def test_dangling_sign_or_dot_is_pointed_at(
    before: list[Word], form: str, name: str, sep: str
) -> None:
    """A lone ``-`` or ``_``, or ``_name.`` without a value, is reported at the sign or the dot."""
    prefix = "".join(w.text + sep for w in before)
    word = form.format(name)
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(prefix + word + sep)
    expected = {"-": 0, "_": 0, "-_": 1}.get(word, len(word) - 1)
    assert info.value.start == len(prefix) + expected
