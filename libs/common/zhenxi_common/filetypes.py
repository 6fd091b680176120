"""What an uploaded file is, from its first bytes: never from its name or the client's declared type.

One reader for every service that takes uploads (ocr, xray, report); each decides which kinds it accepts."""
from __future__ import annotations

HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"heif", b"mif1", b"msf1"})


def sniff(data: bytes) -> str | None:
    """``jpeg``, ``png``, ``webp``, ``heic``, ``pdf``, ``dicom`` (the ``DICM`` tag after the 128-byte preamble),
    ``other_image`` (GIF, BMP, TIFF: images none of the services reads), or None when the bytes say nothing known."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return "heic"
    if head.lstrip()[:5] == b"%PDF-":
        return "pdf"
    if len(data) >= 132 and data[128:132] == b"DICM":
        return "dicom"
    if head[:6] in (b"GIF87a", b"GIF89a") or head[:2] == b"BM" or head[:4] in (b"II*\x00", b"MM\x00*"):
        return "other_image"
    return None
