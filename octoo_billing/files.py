"""Telling what a file is by its content: the kinds of file the app accepts somewhere (their signature, their
"magic number"), and where a PNG or a JPG really ends, so that nothing hidden after it goes unnoticed.

Used by the uploads that check files by their content: supporting documents (invoicing.uploads) and the
company logo (customers.company).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileKind:
    content_type: str
    label: str
    extensions: tuple[str, ...]
    signature: bytes
    pillow_format: str = ""  # the format Pillow reads and writes, for images


PDF_KIND = FileKind("application/pdf", "PDF", (".pdf",), b"%PDF-")
PNG_KIND = FileKind("image/png", "PNG image", (".png",), b"\x89PNG\r\n\x1a\n", "PNG")
JPG_KIND = FileKind("image/jpeg", "JPG image", (".jpg", ".jpeg"), b"\xff\xd8\xff", "JPEG")


def png_end(content: bytes) -> int | None:
    """Where the PNG starting at byte 0 ends (just after its IEND chunk), walking chunk by chunk; None if broken."""
    position = len(PNG_KIND.signature)
    while position + 12 <= len(content):
        length = int.from_bytes(content[position : position + 4], "big")
        chunk_type = content[position + 4 : position + 8]
        if length > 0x7FFFFFFF or not chunk_type.isalpha():
            return None
        position += 12 + length
        if chunk_type == b"IEND":
            return position if position <= len(content) else None
    return None


def jpeg_end(content: bytes) -> int | None:
    """Where the JPG starting at byte 0 ends (just after its EOI marker), walking segment by segment and through
    the compressed scans (where ``FF`` is always followed by ``00`` or a restart marker); None if broken."""
    position, size = 2, len(content)
    while position < size:
        if content[position] != 0xFF:
            return None
        while position < size and content[position] == 0xFF:  # fill bytes
            position += 1
        if position >= size:
            return None
        marker = content[position]
        position += 1
        if marker == 0xD9:  # end of image
            return position
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            continue
        if position + 2 > size:
            return None
        length = int.from_bytes(content[position : position + 2], "big")
        if length < 2:
            return None
        position += length
        if marker == 0xDA:  # start of scan: compressed data up to the next real marker
            while True:
                position = content.find(b"\xff", position)
                if position < 0 or position + 1 >= size:
                    return None
                following = content[position + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    position += 2
                elif following == 0xFF:
                    position += 1
                else:
                    break
    return None
