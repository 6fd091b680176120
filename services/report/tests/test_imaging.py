"""Derived X-ray images: a DICOM film gets the same mask and nodule-box overlay as a PNG (pydicom reads it), and
heatmaps already at report size are stored as xray sent them."""
from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from zhenxi_common.testing import signed

from app import imaging

from conftest import sample

CXR = "cxr_nih_00000075_000.png"


def _dicom(grey: np.ndarray, photometric: str = "MONOCHROME2") -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.BodyPartExamined = "DX", "CHEST"
    ds.Rows, ds.Columns = grey.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.PixelData = (grey.astype(np.uint16) * 16).tobytes()     # 12-bit values, as a detector writes them
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _mask(shape: tuple[int, int], rows: slice, cols: slice) -> str:
    m = np.zeros(shape, np.uint8)
    m[rows, cols] = 255
    buf = io.BytesIO()
    Image.fromarray(m).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def test_dicom_film_gets_the_mask_and_box_overlay():
    grey = np.asarray(Image.open(io.BytesIO(sample(CXR))).convert("L"))
    h, w = grey.shape
    masks = {"heart": _mask(grey.shape, slice(h // 2, h // 2 + 60), slice(w // 2 - 40, w // 2 + 40))}
    box = [40.0, 40.0, 120.0, 120.0]
    png = imaging.overlay(_dicom(grey), masks, [{"label": "Nodule", "box": box}])
    assert png is not None and png.startswith(b"\x89PNG")
    out = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert out.shape[:2] == (min(h, imaging.MAX_SIDE), min(w, imaging.MAX_SIDE))
    heart = out[h // 2 + 10:h // 2 + 50, w // 2 - 30:w // 2 + 30]
    assert (heart[..., 0] > heart[..., 1] + 20).mean() > 0.9       # tinted red where the heart mask is
    outside = out[h - 60:h - 20, 20:60]
    assert (abs(outside[..., 0] - outside[..., 1]) < 3).all()        # grey film elsewhere
    assert tuple(out[40, 80]) == imaging.BOX_COLOUR                  # the nodule box's top edge


def test_monochrome1_dicom_is_shown_inverted():
    grey = np.asarray(Image.open(io.BytesIO(sample(CXR))).convert("L"))
    normal = np.asarray(Image.open(io.BytesIO(imaging.overlay(_dicom(grey), {}, []))).convert("L")).astype(int)
    inverted = np.asarray(Image.open(io.BytesIO(imaging.overlay(_dicom(grey, "MONOCHROME1"), {}, [])))
                          .convert("L")).astype(int)
    assert np.corrcoef(normal.ravel(), inverted.ravel())[0, 1] < -0.99


def test_unreadable_film_has_no_overlay():
    assert imaging.overlay(b"\0" * 128 + b"DICM" + b"\0" * 64, {}, []) is None


def test_heatmap_at_report_size_is_stored_as_sent_and_a_larger_one_is_scaled():
    small = Image.new("RGB", (300, 200), (200, 30, 30))
    buf = io.BytesIO()
    small.save(buf, format="PNG")
    assert imaging.heatmap(base64.b64encode(buf.getvalue()).decode()) == buf.getvalue()
    big = Image.new("RGB", (1024, 800), (200, 30, 30))
    buf = io.BytesIO()
    big.save(buf, format="PNG")
    out = Image.open(io.BytesIO(imaging.heatmap(base64.b64encode(buf.getvalue()).decode())))
    assert out.size == (512, 400)


def test_sweep_deletes_replaced_derived_files_nothing_refers_to(client):
    """After an X-ray re-run replaced its derived images, a file no row refers to is deleted; content another row
    of the same user still refers to (here: that user's uploaded film) is kept."""
    engine = client.app.state.reports.engine
    store = engine.store
    uid = "sweep-user"
    r = client.post("/v1/reports", files=[("xray", (CXR, sample(CXR), "image/png"))], auth=signed(uid))
    assert r.status_code == 202, r.text
    film = store.put(uid, sample(CXR))                       # the same content as the upload row: still referenced
    orphan = store.put(uid, b"\x89PNG\r\n\x1a\n an old heatmap no row refers to")
    client.portal.call(engine._sweep, uid, {film.sha256, orphan.sha256})
    assert store.path_for(uid, film.sha256).exists()
    assert not store.path_for(uid, orphan.sha256).exists()
