"""Tip images: WebP + JPEG at several widths, EXIF gone, and hostile files refused before decoding."""
import io

import pytest
from PIL import Image

from app.errors import (ImageFileTooLargeError, ImageTooManyPixelsError, ImageTooSmallError, ImageUnreadableError,
                        UnsupportedImageTypeError)
from app.images import process_image

from factories import gif, jpeg_with_exif, png, png_bomb

LIMITS = dict(max_bytes=2_000_000, max_pixels=24_000_000, widths=(320, 640, 1280), min_side=32)


def test_variants_in_webp_and_jpeg_without_exif():
    out = process_image(jpeg_with_exif(900, 600), **LIMITS)
    # Orientation 6 is applied to the pixels: the stored image is portrait.
    assert (out.width, out.height) == (600, 900)
    got = {(v.width, v.format) for v in out.variants}
    assert got == {(320, "webp"), (320, "jpeg"), (600, "webp"), (600, "jpeg")}   # never upscaled past 600
    for v in out.variants:
        img = Image.open(io.BytesIO(v.data))
        assert img.format == {"webp": "WEBP", "jpeg": "JPEG"}[v.format]
        assert img.size == (v.width, v.height)
        assert not img.getexif(), v
        assert b"SecretCameraMaker" not in v.data


def test_transparent_png_keeps_alpha_in_webp_and_is_flattened_in_jpeg():
    out = process_image(png(400, 300), **LIMITS)
    modes = {v.format: Image.open(io.BytesIO(v.data)).mode for v in out.variants}
    assert modes["jpeg"] == "RGB" and modes["webp"] == "RGBA"


@pytest.mark.parametrize("data,error", [
    (png_bomb(), ImageTooManyPixelsError),
    (jpeg_with_exif()[:400], ImageUnreadableError),
    (b"this is not an image at all", ImageUnreadableError),
    (b"", ImageUnreadableError),
    (gif(), UnsupportedImageTypeError),
    (png(20, 20, "RGB"), ImageTooSmallError),
])
def test_hostile_or_broken_files_are_refused(data, error):
    with pytest.raises(error):
        process_image(data, **LIMITS)


def test_oversized_file_is_refused_before_decoding():
    with pytest.raises(ImageFileTooLargeError):
        process_image(b"\xff\xd8" + b"0" * 3_000_000, **LIMITS)
