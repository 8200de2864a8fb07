"""How many SMS parts a text takes: GSM 03.38 (GSM-7) or UCS-2 encoding.

A text is sent in the GSM 7-bit default alphabet when every character is in it
(or in its extension table, whose characters cost two septets: the escape and
the character). Any other character switches the whole text to UCS-2, which
counts UTF-16 code units, so an emoji outside the Basic Multilingual Plane
costs two.

A single part carries 160 septets or 70 UCS-2 units; a concatenated message
spends a user data header in every part, leaving 153 septets or 67 units each.

Example:
    >>> segments("Hello").parts
    1
    >>> str(segments("Hi €5"))
    'GSM-7, 1 part, 6/160 septets, 154 left'
    >>> segments("Привіт 😀").units
    9
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "Segments",
    "segments",
]

Encoding = Literal["GSM-7", "UCS-2"]

#: The GSM 03.38 default alphabet in code-point order, 0x00..0x7F, with 0x1B
#: (the escape to the extension table) left out: it is not a character.
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

#: The GSM 03.38 extension table: each costs two septets (escape + character).
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

_GSM7_SINGLE = 160
_GSM7_MULTI = 153
_UCS2_SINGLE = 70
_UCS2_MULTI = 67
_BMP_LIMIT = 0xFFFF


@dataclass(frozen=True, slots=True)
class Segments:
    """The SMS part count of one text.

    Attributes:
        encoding: ``"GSM-7"`` when every character is in the GSM 03.38 alphabet
            or its extension table, else ``"UCS-2"``.
        parts: How many SMS the text is billed and sent as; an empty text is
            one part, as gateways bill it.
        units: Septets for GSM-7 (extension characters count two), UTF-16 code
            units for UCS-2 (characters outside the BMP count two).
        per_part: Units one part holds: 160 or 153 (GSM-7), 70 or 67 (UCS-2).
        remaining: Units still free in the last part.
        ucs2_characters: The distinct characters, in order of first
            appearance, that forced UCS-2; empty for GSM-7.
    """

    encoding: Encoding
    parts: int
    units: int
    per_part: int
    remaining: int
    ucs2_characters: tuple[str, ...] = ()

    def __str__(self) -> str:
        noun = "part" if self.parts == 1 else "parts"
        unit = "septets" if self.encoding == "GSM-7" else "units"
        capacity = self.parts * self.per_part
        text = (
            f"{self.encoding}, {self.parts} {noun}, {self.units}/{capacity} {unit},"
            f" {self.remaining} left"
        )
        if self.ucs2_characters:
            text += f", forced by {''.join(self.ucs2_characters)!r}"
        return text


def segments(text: str) -> Segments:
    """Count the SMS parts ``text`` takes.

    Args:
        text: The message text. Any ``str`` is accepted, including lone
            surrogates (each counts as one UCS-2 unit).

    Returns:
        The encoding, part count, units used and units left in the last part.

    Example:
        >>> segments("a" * 161).parts
        2
        >>> segments("{}").units
        4
    """
    septets = 0
    forcing: dict[str, None] = {}
    for character in text:
        if character in GSM7_BASIC:
            septets += 1
        elif character in GSM7_EXTENSION:
            septets += 2
        else:
            forcing.setdefault(character)
    if not forcing:
        return _split("GSM-7", septets, _GSM7_SINGLE, _GSM7_MULTI, ())
    units = sum(2 if ord(character) > _BMP_LIMIT else 1 for character in text)
    return _split("UCS-2", units, _UCS2_SINGLE, _UCS2_MULTI, tuple(forcing))


def _split(
    encoding: Encoding, units: int, single: int, multi: int, forcing: tuple[str, ...]
) -> Segments:
    if units <= single:
        return Segments(encoding, 1, units, single, single - units, forcing)
    parts = -(-units // multi)
    return Segments(encoding, parts, units, multi, parts * multi - units, forcing)
