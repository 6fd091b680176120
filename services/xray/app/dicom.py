"""DICOM input: pixel data -> display-ready grayscale, with patient-identifying tags stripped.

Order of operations follows PS3.3 C.11: Modality LUT / rescale -> VOI LUT or window -> MONOCHROME1 inversion.
Only a small whitelist of technical attributes ever leaves this module; identifiers are never returned or logged.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from app.errors import DicomInvalidError, ImageTooLargeError, NotChestXrayError

# Attributes that identify a person (PS3.15 E.1 basic profile, the common ones) and are removed on read.
IDENTIFYING_KEYWORDS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientBirthTime", "PatientSex", "PatientAge",
    "OtherPatientIDs", "OtherPatientNames", "OtherPatientIDsSequence", "PatientAddress", "PatientTelephoneNumbers",
    "PatientMotherBirthName", "MilitaryRank", "EthnicGroup", "PatientComments", "PatientWeight", "PatientSize",
    "MedicalRecordLocator", "IssuerOfPatientID", "ReferringPhysicianName", "ReferringPhysicianAddress",
    "PerformingPhysicianName", "OperatorsName", "NameOfPhysiciansReadingStudy", "PhysiciansOfRecord",
    "RequestingPhysician", "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName", "StationName",
    "AccessionNumber", "StudyID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
    "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "StudyTime", "SeriesTime", "AcquisitionTime",
    "ContentTime", "DeviceSerialNumber", "RequestAttributesSequence", "AdmittingDiagnosesDescription",
)
# What we keep and may report: technical, non-identifying.
SAFE_KEYWORDS = ("Modality", "BodyPartExamined", "ViewPosition", "PhotometricInterpretation", "BitsStored",
                 "Rows", "Columns", "PixelSpacing", "ImagerPixelSpacing")
NOT_CHEST_MODALITIES = {"CT", "MR", "PT", "NM", "US", "OT", "SC", "XC", "ES", "MG", "IO", "PX", "OP", "SM"}
CHEST_BODY_PARTS = {"", "CHEST", "THORAX", "LUNG", "LUNGS", "TORSO", "HEART", "PORT CHEST", "CHEST_LAT", "CXR"}


@dataclass
class DicomImage:
    gray: np.ndarray                       # float32 (H, W), higher = brighter on display
    meta: dict = field(default_factory=dict)
    pixel_spacing_mm: tuple[float, float] | None = None


def is_dicom(data: bytes) -> bool:
    return len(data) >= 132 and data[128:132] == b"DICM"


def strip_identifiers(ds) -> None:
    """Remove identifying attributes and all private tags, in place."""
    for kw in IDENTIFYING_KEYWORDS:
        if kw in ds:
            delattr(ds, kw)
    ds.remove_private_tags()
    fm = getattr(ds, "file_meta", None)
    if fm is not None and "MediaStorageSOPInstanceUID" in fm:
        del fm.MediaStorageSOPInstanceUID


def _safe_meta(ds) -> dict:
    out = {}
    for kw in SAFE_KEYWORDS:
        v = ds.get(kw)
        if v is None or v == "":
            continue
        if kw.endswith("PixelSpacing"):
            try:
                out[kw] = [float(x) for x in v]
            except (TypeError, ValueError):
                continue
        elif isinstance(v, (int, float)):
            out[kw] = v
        else:
            out[kw] = str(v)[:32]
    return out


def decode_dicom(data: bytes, max_pixels: int) -> DicomImage:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=not is_dicom(data))
    except (InvalidDicomError, EOFError, ValueError, TypeError, AttributeError, KeyError, OSError) as e:
        raise DicomInvalidError("DICOM 文件无法解析。 The DICOM file could not be parsed.",
                                details={"reason": type(e).__name__}) from None
    strip_identifiers(ds)
    meta = _safe_meta(ds)
    modality = str(ds.get("Modality", "") or "").upper()
    if modality in NOT_CHEST_MODALITIES:
        raise NotChestXrayError(details={"reason": "modality", "modality": modality})
    body = str(ds.get("BodyPartExamined", "") or "").upper().strip()
    if body and body not in CHEST_BODY_PARTS:
        raise NotChestXrayError(details={"reason": "body_part", "body_part": body[:32]})
    if "PixelData" not in ds:
        raise DicomInvalidError("DICOM 文件不含图像。 The DICOM file has no pixel data.", details={"reason": "no_pixels"})
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if rows <= 0 or cols <= 0:
        raise DicomInvalidError(details={"reason": "no_dimensions"})
    if rows * cols > max_pixels:
        raise ImageTooLargeError(details={"pixels": rows * cols, "max_pixels": max_pixels})
    if frames > 1:
        raise NotChestXrayError("多帧 DICOM（如 CT 序列）不是胸片。 Multi-frame DICOM (e.g. a CT series) is not a radiograph.",
                                details={"reason": "multi_frame", "frames": frames})
    try:
        arr = ds.pixel_array
    except Exception as e:  # pydicom raises many types for broken/unsupported pixel data
        raise DicomInvalidError("无法解码 DICOM 像素数据。 The DICOM pixel data cannot be decoded.",
                                details={"reason": type(e).__name__,
                                         "transfer_syntax": str(getattr(ds.file_meta, "TransferSyntaxUID", ""))[:64]
                                         if hasattr(ds, "file_meta") else ""}) from None
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if arr.ndim == 3 and arr.shape[-1] in (3, 4) and photometric not in ("MONOCHROME1", "MONOCHROME2"):
        # colour DICOM (secondary capture photos): let the gate see the colour, as with PNG/JPEG
        raise NotChestXrayError(details={"reason": "colour_dicom", "photometric": photometric[:16]})
    if arr.ndim != 2:
        raise DicomInvalidError(details={"reason": "unexpected_shape", "shape": list(arr.shape)})
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    try:
        img = apply_modality_lut(arr, ds).astype(np.float32)
        if "WindowCenter" in ds or "VOILUTSequence" in ds:
            img = apply_voi_lut(img, ds).astype(np.float32)
    except (ValueError, TypeError, IndexError, KeyError) as e:
        raise DicomInvalidError(details={"reason": "lut", "error": type(e).__name__}) from None
    if photometric == "MONOCHROME1":
        img = img.max() - img
    if not np.isfinite(img).all():
        raise DicomInvalidError(details={"reason": "non_finite_pixels"})
    spacing = meta.get("PixelSpacing") or meta.get("ImagerPixelSpacing")
    return DicomImage(gray=img, meta=meta,
                      pixel_spacing_mm=(float(spacing[0]), float(spacing[1])) if spacing and len(spacing) == 2 else None)
