"""OCR engine: pure pre/post-processing, shipped-model checks, and that nothing is ever downloaded."""
import numpy as np
import pytest

from app import inference


def test_rec_batches_group_similar_widths():
    ratios = [1.5, 9.0, 1.6, 2.0, 8.5, 1.4, 30.0]
    batches = inference.rec_batches(ratios, max_batch=24, max_pad=1.3)
    assert sorted(i for b in batches for i in b) == list(range(len(ratios)))
    for b in batches:
        rs = [ratios[i] for i in b]
        assert max(rs) <= 1.3 * max(min(rs), 1.0)
    assert inference.rec_batches([2.0] * 50, max_batch=24, max_pad=1.3)[0] == list(range(24))


def test_rec_preprocess_pads_only_to_the_widest():
    crops = [np.full((20, 40, 3), 255, np.uint8), np.zeros((24, 96, 3), np.uint8)]
    batch, ratios, max_ratio = inference.rec_preprocess(crops)
    assert batch.shape == (2, 3, 48, 192) and batch.dtype == np.float32
    assert ratios == [2.0, 4.0] and max_ratio == 4.0
    assert batch[0, :, :, :96].max() == pytest.approx(1.0) and batch[0, :, :, 96:].max() == 0.0
    assert batch[1].min() == pytest.approx(-1.0)


def test_rotate_quads_180_is_an_involution():
    q = np.float32([[[10, 20], [110, 20], [110, 50], [10, 50]]])
    r = inference.rotate_quads_180(q, 200, 100)
    assert r[0, 0].tolist() == [89, 49]  # new top-left is the old bottom-right, mirrored
    assert np.allclose(inference.rotate_quads_180(r, 200, 100), q)


def test_ctc_log_likelihood_sums_every_alignment():
    """Against brute force over every frame path that collapses (repeats merged, blanks dropped) to the labels."""
    import itertools

    rng = np.random.default_rng(0)
    probs = rng.random((5, 4))
    probs /= probs.sum(axis=1, keepdims=True)

    def collapse(path):
        out, prev = [], None
        for c in path:
            if c != prev and c != 0:
                out.append(c)
            prev = c
        return out

    for labels in ([1], [1, 2], [1, 1], [2, 3, 1], [1, 1, 1]):
        total = sum(np.prod([probs[t, c] for t, c in enumerate(path)])
                    for path in itertools.product(range(4), repeat=5) if collapse(path) == labels)
        assert inference.ctc_log_likelihood(probs, labels) == pytest.approx(np.log(total))


def test_cls_samples_are_the_widest_lines():
    quads = np.float32([[[0, 0], [w, 0], [w, 10], [0, 10]] for w in (5, 50, 20, 40)])
    assert inference.pick_cls_samples(quads, 2) == [1, 3]


def test_shipped_models_match_the_package_manifest():
    d = inference.rapidocr_model_dir()
    for name in (inference.DET_MODEL, inference.REC_MODEL, inference.CLS_MODEL):
        assert len(inference.verify_model(d / name)) == 64


def test_engine_loads_and_reads_without_any_download(monkeypatch):
    import cv2
    import rapidocr.utils.download_file as dl

    def refuse(*a, **k):
        raise AssertionError("rapidocr tried to download a model")

    monkeypatch.setattr(dl.DownloadFile, "run", classmethod(lambda cls, *a, **k: refuse()))
    engine = inference.OcrEngine(inference.EngineOptions(threads=1))
    img = np.full((120, 520, 3), 255, np.uint8)
    cv2.putText(img, "HGB 112 g/L", (10, 80), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (0, 0, 0), 3)
    page = engine.run([img])[0]
    text = " ".join(line.text for line in page.lines)
    assert "112" in text and "HGB" in text.replace(" ", "")
    assert set(page.timings_ms) == {"det", "cls", "rec"}
    assert engine.providers[-1] == "CPUExecutionProvider"
