"""Decoding: which bytes GradeWatch accepts as CSV text, and the refusal messages for the rest."""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_LATIN_GUESSES = frozenset({
    "cp1252", "latin_1", "iso8859_15", "iso8859_1", "cp1250", "iso8859_2", "mac_roman",
    "cp850", "cp437", "iso8859_9", "cp1254", "iso8859_3", "iso8859_4", "cp1257", "ascii",
})

_FILE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive or an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel or Word file (.xls/.doc)"),
)

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Every byte but the ASCII ones _CONTROL_CHARS matches: deleting these from an ASCII file leaves
# its control characters (bytes.translate is several times faster than a regex search).
_NOT_CONTROL_BYTES = bytes(b for b in range(256) if not _CONTROL_CHARS.match(chr(b)) or b > 0x7f)

SAVE_AS_CSV = "Open it in your spreadsheet and use 'Save as' → 'CSV UTF-8', then upload that file."

class CsvRejected(ValueError):
    """The file as a whole cannot be used. The message says why and what to do."""

def decode_text(raw: bytes) -> str:
    """Decode an upload, or refuse it with a message that names the problem."""
    encoding, text = checked_encoding(raw)
    return text if text is not None else raw.decode(encoding)

def checked_encoding(raw: bytes) -> tuple[str, str | None]:
    """The codec of an upload (``utf-8-sig``, ``cp1252`` or ``latin-1``), or CsvRejected.

    A file that is ASCII (after an optional UTF-8 BOM), as most exports are, is checked on its
    bytes without being decoded, and the text comes back as None; otherwise the text that had to
    be decoded to check it comes back too.
    """
    if not raw or raw.isspace():  # the same test as ``not raw.strip()``, without a copy
        raise CsvRejected("The file is empty. " + SAVE_AS_CSV)
    for signature, kind in _FILE_SIGNATURES:
        if raw.startswith(signature):
            raise CsvRejected(f"This file is {kind}, not a CSV text file. " + SAVE_AS_CSV)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4096]:
        raise CsvRejected(
            "This file is UTF-16 text or binary data, not UTF-8 or Latin-1 text. " + SAVE_AS_CSV
        )
    body = raw[len(codecs.BOM_UTF8):] if raw.startswith(codecs.BOM_UTF8) else raw
    if body.isascii():
        if body.translate(None, _NOT_CONTROL_BYTES):
            raise CsvRejected(_CONTROL_MESSAGE)
        return "utf-8-sig", None
    try:
        encoding, text = "utf-8-sig", raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        encoding, text = _decode_latin(raw)
    if _CONTROL_CHARS.search(text):
        raise CsvRejected(_CONTROL_MESSAGE)
    return encoding, text

_CONTROL_MESSAGE = (
    "This file contains control characters that do not occur in CSV text: it is not "
    "UTF-8 or Latin-1 text. " + SAVE_AS_CSV
)

def _decode_latin(raw: bytes) -> tuple[str, str]:
    guess = from_bytes(raw[:262_144]).best()
    encoding = guess.encoding if guess is not None else None
    if encoding is not None and encoding not in _LATIN_GUESSES:
        raise CsvRejected(
            f"This file is encoded as {encoding}, which GradeWatch does not read; it accepts "
            "UTF-8 and Latin-1 / Windows-1252. " + SAVE_AS_CSV
        )
    try:
        return "cp1252", raw.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1", raw.decode("latin-1")
