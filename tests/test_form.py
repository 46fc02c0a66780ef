import pytest

from composer.errors import FormError
from composer.form import (PHRASE_TYPES, Phrase, form_bars, format_form, parse_form, parse_key, parse_partial_form,
                           phrase_type_of)


def test_parse_and_format_round_trip():
    phrases = parse_form("i4A8B8A8B8b4B8o4")
    assert phrases[0] == Phrase("i", 4)
    assert [p.label for p in phrases] == list("iABABbBo")
    assert form_bars(phrases) == 52
    assert format_form(phrases) == "i4A8B8A8B8b4B8o4"


def test_multi_digit_lengths_and_whitespace():
    assert parse_form("  A12b3 ") == (Phrase("A", 12), Phrase("b", 3))


@pytest.mark.parametrize("text, fragment", [
    ("", "empty form"),
    ("A8B?", "position 3"),
    ("A8?4", "position 3 ('?')"),
    ("48", "position 1 ('4')"),
    ("A0", "has 0 bars"),
    ("A99", "has 99 bars"),
    ("A8B", "end of string"),
])
def test_malformed_forms_point_at_the_problem(text, fragment):
    with pytest.raises(FormError) as err:
        parse_form(text)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_too_long_song_is_refused():
    with pytest.raises(FormError, match="at most"):
        parse_form("A64" * 9)


def test_phrase_types():
    assert [PHRASE_TYPES[phrase_type_of(c)] for c in "ABCXiobx"] == ["A", "B", "M", "M", "i", "o", "x", "x"]
    assert Phrase("A", 4).has_melody and not Phrase("i", 4).has_melody


def test_partial_form_syntax():
    p = parse_partial_form("i4A8?16o4")
    assert p.n_bars == 32 and not p.open_end and not p.is_complete
    assert parse_partial_form("A8B8*").open_end
    assert parse_partial_form("i4A8B8o4").is_complete
    for bad, where in [("A8B?", "position 3"), ("A8*B4", "position 3"), ("A8#B8", "position 3"),
                       ("i4A0", "position 3"), ("?", "position 1")]:
        with pytest.raises(FormError, match=where):
            parse_partial_form(bad)
    with pytest.raises(FormError):
        parse_partial_form("   ")


def test_parse_key():
    assert parse_key("A minor") == (9, 1)
    assert parse_key("C# major") == (1, 0)
    assert parse_key("Eb") == (3, 0)
    assert parse_key("f#m") == (6, 1)
    assert parse_key("Bb min") == (10, 1)
    assert parse_key("C\u266f minor") == (1, 1) and parse_key("B\u266d") == (10, 0)
    for bad in ("H major", "C lydian", "", "\u266d"):   # a flat sign is no tonic (it once read as B)
        with pytest.raises(FormError, match="unknown key"):
            parse_key(bad)
