"""Checks on text before it becomes a memory: decodable, visible, not empty, not oversized."""

from __future__ import annotations

import unicodedata

from cairn.core.errors import InvalidInput

BOM = "\ufeff"
VISIBLE = frozenset("LNPS")  # letters, numbers, punctuation, symbols (emoji are symbols)


def decode_utf8(data: bytes, where: str = "input") -> str:
    """Decode bytes as strict UTF-8, naming the first bad byte if there is one."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start:exc.start + 1].hex()
        raise InvalidInput(f"The {where} is not valid UTF-8 (byte 0x{bad} at offset {exc.start}).",
                           hint="Save it as UTF-8 and try again; nothing was stored.") from exc


def has_visible(text: str) -> bool:
    """Whether ``text`` shows anything: zero-width spaces, byte-order marks, control and format
    characters and whitespace alone show nothing."""
    return any(unicodedata.category(ch)[0] in VISIBLE for ch in text)


def check_text(text: str, max_bytes: int, what: str = "Memory text", setting: str = "memory.max_text_bytes") -> str:
    """Return ``text`` stripped of surrounding whitespace (and a leading byte-order mark), or raise
    naming what is wrong."""
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be a string, not {type(text).__name__}.")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"{what} is not valid UTF-8 (it holds undecodable bytes at position {exc.start}).",
                           hint="Pass the text as UTF-8; nothing was stored.") from exc
    if size > max_bytes:
        raise InvalidInput(f"{what} is {size:,} bytes; the limit is {max_bytes:,} bytes ({setting}).",
                           hint=f"Shorten it, or raise {setting} in the settings.")
    cleaned = text.strip().removeprefix(BOM).strip()
    if not cleaned:
        raise InvalidInput(f"{what} is empty.", hint="Give some text to remember.")
    if "\x00" in cleaned:
        raise InvalidInput(f"{what} contains a NUL character.")
    if not has_visible(cleaned):
        raise InvalidInput(f"{what} has no visible characters (only spaces, zero-width or control characters).",
                           hint="Give some text to remember; nothing was stored.")
    return cleaned
