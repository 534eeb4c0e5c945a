"""Plain text and Markdown: exact encodings first, guessing last, binaries rejected."""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

from assistant.errors import UnreadableContent

UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode(data: bytes) -> tuple[str, str]:
    """Decode bytes, preferring exact codecs over guessing: BOMs, UTF-8, then GB18030 (a superset of GBK)."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(name), name
    for name in ("utf-8", "gb18030"):
        try:
            return data.decode(name), name
        except UnicodeDecodeError:
            continue
    best = from_bytes(data).best()
    if best is None:
        raise UnicodeDecodeError("unknown", data[:1], 0, 1, "no text encoding fits")
    return str(best), best.encoding


def reject_binary(data: bytes) -> None:
    """NUL bytes outside UTF-16 mean a binary file (an image, an archive) saved under a text suffix."""
    if b"\x00" in data[:4096] and not data.startswith(UTF16_BOMS):
        raise UnreadableContent("it looks like a binary file, not text")


def read_text(data: bytes) -> tuple[str, str]:
    reject_binary(data)
    try:
        return decode(data)
    except UnicodeDecodeError as exc:
        raise UnreadableContent("its text encoding is not recognised (save it as UTF-8)") from exc
