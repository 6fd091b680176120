"""DICOM decoding: MONOCHROME1, 16-bit, VOI window, identifiers stripped, corrupt files refused."""
from __future__ import annotations

import io

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from app.dicom import decode_dicom, is_dicom
from app.errors import DicomInvalidError, NotChestXrayError
from app.imaging import load_image, prepare_gray


def make_dicom(pixels: np.ndarray, photometric: str = "MONOCHROME2", modality: str = "DX",
               window: tuple[float, float] | None = None, body_part: str = "CHEST", frames: int = 1) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.PatientName = "Zhang^San"
    ds.PatientID = "110101199001011234"
    ds.PatientBirthDate = "19900101"
    ds.InstitutionName = "Example Hospital"
    ds.Modality = modality
    ds.BodyPartExamined = body_part
    ds.ViewPosition = "PA"
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = pixels.shape[-2:]
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [0.2, 0.2]
    if window:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def twelve_bit(golden_gray: np.ndarray) -> np.ndarray:
    return golden_gray.astype(np.uint16) * 16  # 0..4080


def test_monochrome2_16_bit_decodes_and_keeps_no_identifiers(golden_gray):
    data = make_dicom(twelve_bit(golden_gray))
    assert is_dicom(data)
    d = decode_dicom(data, max_pixels=10**8)
    assert d.gray.shape == golden_gray.shape and d.gray.max() > 255
    assert d.pixel_spacing_mm == (0.2, 0.2)
    assert d.meta["Modality"] == "DX" and d.meta["ViewPosition"] == "PA"
    flat = repr(d.meta)
    for secret in ("Zhang", "110101199001011234", "19900101", "Example Hospital"):
        assert secret not in flat
    np.testing.assert_array_equal(prepare_gray(d.gray), prepare_gray(golden_gray.astype(np.float32) * 16))


def test_monochrome1_is_inverted(golden_gray):
    px = twelve_bit(golden_gray)
    inverted = (4080 - px).astype(np.uint16)
    m1 = decode_dicom(make_dicom(inverted, "MONOCHROME1"), 10**8).gray
    m2 = decode_dicom(make_dicom(px, "MONOCHROME2"), 10**8).gray
    assert np.corrcoef(m1.ravel(), m2.ravel())[0, 1] > 0.999


def test_voi_window_is_applied(golden_gray):
    px = twelve_bit(golden_gray)
    d = decode_dicom(make_dicom(px, window=(2000.0, 1000.0)), 10**8)
    # pixels below the window floor collapse to one value
    assert len(np.unique(d.gray[px < 1400])) == 1


def test_corrupt_and_non_chest_dicoms_are_refused(golden_gray):
    good = make_dicom(twelve_bit(golden_gray))
    with pytest.raises(DicomInvalidError):
        load_image(good[:2000], "x.dcm", "application/dicom")  # pixel data cut off
    with pytest.raises(DicomInvalidError):
        load_image(b"\0" * 128 + b"DICM" + b"\xff" * 300, "x.dcm", "application/dicom")
    with pytest.raises(NotChestXrayError):
        load_image(make_dicom(twelve_bit(golden_gray), modality="CT"), "ct.dcm", "application/dicom")
    with pytest.raises(NotChestXrayError):
        load_image(make_dicom(twelve_bit(golden_gray), body_part="HAND"), "hand.dcm", "application/dicom")
    stack = np.stack([twelve_bit(golden_gray)] * 2)
    with pytest.raises(NotChestXrayError):
        load_image(make_dicom(stack, frames=2), "series.dcm", "application/dicom")


def test_dicom_and_png_of_the_same_film_give_the_same_analysis(analyzer, golden_bytes, golden_gray):
    from_png = analyzer.analyze(golden_bytes, "g.png", "image/png")
    inverted = (4080 - twelve_bit(golden_gray)).astype(np.uint16)
    from_dcm = analyzer.analyze(make_dicom(inverted, "MONOCHROME1"), "g.dcm", "application/dicom")
    assert from_dcm["image"]["format"] == "dicom"
    assert "PatientName" not in repr(from_dcm)
    for a, b in zip(from_png["findings"], from_dcm["findings"]):
        assert a["label"] == b["label"]
        assert abs(a["probability"] - b["probability"]) < 0.05
    assert "left_lung_area_cm2" in from_dcm["measurements"]
