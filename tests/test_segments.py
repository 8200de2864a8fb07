"""SMS part counting: GSM 03.38 septets and UCS-2 code units."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsclub_async._segments import GSM7_BASIC, GSM7_EXTENSION, Segments, segments

GSM_BASIC_TEXT = st.text(alphabet=sorted(GSM7_BASIC))
GSM_TEXT = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION))


@pytest.mark.parametrize(
    ("text", "encoding", "parts", "units", "per_part", "remaining"),
    [
        ("", "GSM-7", 1, 0, 160, 160),
        ("a" * 160, "GSM-7", 1, 160, 160, 0),
        ("a" * 161, "GSM-7", 2, 161, 153, 145),
        ("a" * 306, "GSM-7", 2, 306, 153, 0),
        ("a" * 307, "GSM-7", 3, 307, 153, 152),
        ("я" * 70, "UCS-2", 1, 70, 70, 0),
        ("я" * 71, "UCS-2", 2, 71, 67, 63),
        ("я" * 134, "UCS-2", 2, 134, 67, 0),
        ("я" * 135, "UCS-2", 3, 135, 67, 66),
        ("€", "GSM-7", 1, 2, 160, 158),
        ("a" * 159 + "€", "GSM-7", 2, 161, 153, 145),
        ("\f", "GSM-7", 1, 2, 160, 158),
        ("^{}\\[~]|€", "GSM-7", 1, 18, 160, 142),
        ("😀", "UCS-2", 1, 2, 70, 68),
        ("😀" * 35, "UCS-2", 1, 70, 70, 0),
        ("😀" * 35 + "a", "UCS-2", 2, 71, 67, 63),
        ("Привіт, світ", "UCS-2", 1, 12, 70, 58),
        ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ ¤¡ÄÖÑÜ§¿äöñüà", "GSM-7", 1, 45, 160, 115),
    ],
    ids=lambda value: repr(value)[:20] if isinstance(value, str) else None,
)
def test_table(
    text: str, encoding: str, parts: int, units: int, per_part: int, remaining: int
) -> None:
    """Known texts give the known encoding, part count and units."""
    result = segments(text)
    assert (result.encoding, result.parts, result.units) == (encoding, parts, units)
    assert (result.per_part, result.remaining) == (per_part, remaining)


@pytest.mark.parametrize(
    ("text", "forcing"),
    [
        ("Hello", ()),
        ("Ціна 5€", ("Ц", "і", "н", "а")),
        ("ok 😀 ok 😀", ("😀",)),
        ("ç", ("ç",)),  # only the capital Ç is in the GSM alphabet
        ("`", ("`",)),
        ("\t", ("\t",)),
        ("\x1b", ("\x1b",)),  # the escape itself is not a character
    ],
)
def test_ucs2_characters_are_distinct_in_order(text: str, forcing: tuple[str, ...]) -> None:
    """The characters that forced UCS-2 are listed once each, first seen first."""
    assert segments(text).ucs2_characters == forcing


def test_alphabet_sizes() -> None:
    """The default alphabet has 127 characters (128 less the escape), the extension 10."""
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


def test_lone_surrogate_does_not_crash() -> None:
    """A lone surrogate is one UCS-2 unit and forces UCS-2."""
    result = segments("a\ud800b")
    assert result == Segments("UCS-2", 1, 3, 70, 67, ("\ud800",))


def test_str_and_repr_are_readable() -> None:
    """str() summarises; repr() shows every field."""
    assert str(segments("a" * 200)) == "GSM-7, 2 parts, 200/306 septets, 106 left"
    assert str(segments("ї")) == "UCS-2, 1 part, 1/70 units, 69 left, forced by 'ї'"
    assert repr(segments("")) == (
        "Segments(encoding='GSM-7', parts=1, units=0, per_part=160, remaining=160,"
        " ucs2_characters=())"
    )


def test_segments_is_frozen() -> None:
    """The result cannot be changed."""
    result = segments("x")
    with pytest.raises(AttributeError):
        result.parts = 3  # type: ignore[misc]


@given(GSM_BASIC_TEXT)
def test_basic_gsm_counts_one_septet_per_character(text: str) -> None:
    """Default-alphabet text is GSM-7, one septet per character."""
    result = segments(text)
    assert result.encoding == "GSM-7"
    assert result.units == len(text)


@given(GSM_TEXT)
def test_gsm_units_count_extension_twice(text: str) -> None:
    """Every extension character costs exactly one extra septet."""
    extension = sum(character in GSM7_EXTENSION for character in text)
    assert segments(text).units == len(text) + extension


@given(st.text())
def test_invariants(text: str) -> None:
    """Parts follow the formula, units fit, and remaining fills the last part."""
    result = segments(text)
    single, multi = (160, 153) if result.encoding == "GSM-7" else (70, 67)
    if result.units <= single:
        assert (result.parts, result.per_part) == (1, single)
    else:
        assert result.parts == math.ceil(result.units / multi)
        assert result.per_part == multi
    assert result.remaining == result.parts * result.per_part - result.units
    assert 0 <= result.remaining < result.per_part or result.units == 0
    assert (result.encoding == "UCS-2") == bool(result.ucs2_characters)
    assert len(set(result.ucs2_characters)) == len(result.ucs2_characters)


@given(st.text())
def test_ucs2_units_are_utf16_code_units(text: str) -> None:
    """In UCS-2, units are UTF-16 code units (astral characters count two)."""
    result = segments(text)
    if result.encoding == "UCS-2":
        assert result.units == len(text.encode("utf-16-le", "surrogatepass")) // 2


@given(st.text(), st.text())
def test_parts_are_monotonic_in_length(text: str, more: str) -> None:
    """Appending text never makes a message take fewer parts (same encoding)."""
    shorter, longer = segments(text), segments(text + more)
    if shorter.encoding == longer.encoding:
        assert longer.parts >= shorter.parts
    assert longer.units >= shorter.units or shorter.encoding != longer.encoding


@given(st.integers(0, 2000))
def test_parts_monotonic_for_repeated_characters(length: int) -> None:
    """n copies of one character never take fewer parts than n-1 copies."""
    for character in ("a", "€", "я", "😀"):
        if length:
            assert segments(character * length).parts >= segments(character * (length - 1)).parts
