"""The committed ONNX models, run for real on the committed NIH fixture (and on JSRT when the data is present)."""
from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.inference import ChestModel, Detector, ModelIntegrityError, MODELS_DIR

LABELS = ["Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
          "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia"]


def test_selftest_matches_the_recorded_golden_outputs(analyzer):
    st = analyzer.selftest()
    assert st["ok"], st["problems"]


def test_analysis_shape_findings_thresholds_and_masks(analyzer, golden_bytes):
    out = analyzer.analyze(golden_bytes, "g.png", "image/png")
    assert [f["label"] for f in out["findings"]] == LABELS
    for f in out["findings"]:
        assert 0.0 <= f["probability"] <= 1.0 and 0.0 < f["threshold"] < 1.0
        assert f["positive"] == (f["probability"] >= f["threshold"])
        if f["positive"]:
            hm = f["heatmap"]
            png = base64.b64decode(hm["overlay_png_base64"])
            assert Image.open(io.BytesIO(png)).size == (256, 256)
            assert 0.0 <= hm["outside_lung_fraction"] <= 1.0
    assert 0.0 <= out["abnormal"]["probability"] <= 1.0
    m = out["measurements"]
    assert 0.3 < m["cardiothoracic_ratio"] < 0.8
    assert m["left_lung_area_px"] > 0.05 * 512 * 512 and m["right_lung_area_px"] > 0.05 * 512 * 512
    masks = {k: np.asarray(Image.open(io.BytesIO(base64.b64decode(v)))) > 0 for k, v in out["masks"].items()}
    assert all(v.shape == (512, 512) for v in masks.values())
    # anatomy: the patient's left lung is on the image right; the heart sits between the lungs
    xs = {k: np.where(v)[1].mean() for k, v in masks.items()}
    assert xs["right_lung"] < xs["heart"] < xs["left_lung"]
    for d in out["detections"]:
        x1, y1, x2, y2 = d["box"]
        assert 0 <= x1 < x2 <= 512 and 0 <= y1 < y2 <= 512 and 0 < d["score"] <= 1


def test_batch_of_several_images_equals_one_by_one(analyzer, golden_bytes, golden_gray):
    from conftest import encode
    flipped = encode(np.ascontiguousarray(golden_gray[:, ::-1]))
    one = [analyzer.analyze(b, "x.png", "image/png") for b in (golden_bytes, flipped)]
    many = analyzer.analyze_many([(golden_bytes, "x.png", "image/png"), (flipped, "x.png", "image/png")])
    for a, b in zip(one, many):
        for fa, fb in zip(a["findings"], b["findings"]):
            assert abs(fa["probability"] - fb["probability"]) < 1e-3


@pytest.mark.parametrize("batching", [True, False], ids=["dynamic-batching", "thread-per-request"])
def test_the_async_model_stage_gives_the_same_answers(analyzer, golden_bytes, batching):
    import asyncio

    async def one():
        p = await asyncio.to_thread(analyzer.prepare, golden_bytes, "g.png", "image/png")
        return analyzer.finish(p, await analyzer.run_models(p))

    async def go():
        try:
            return await asyncio.gather(*(one() for _ in range(4)))
        finally:
            await analyzer.aclose()

    was, analyzer.batching = analyzer.batching, batching
    before = analyzer.batcher.items_run
    try:
        ref = analyzer.analyze(golden_bytes, "g.png", "image/png")
        got = asyncio.run(go())
    finally:
        analyzer.batching = was
    assert (analyzer.batcher.items_run - before == 4) is batching
    for r in got:
        assert [f["probability"] for f in r["findings"]] == pytest.approx(
            [f["probability"] for f in ref["findings"]], abs=1e-3)


def test_a_tampered_model_is_refused(tmp_path):
    bad = tmp_path / "chestnet.onnx"
    bad.write_bytes((MODELS_DIR / "chestnet.onnx").read_bytes()[:-10] + b"0123456789")
    (tmp_path / "chestnet.json").write_text((MODELS_DIR / "chestnet.json").read_text())
    with pytest.raises(ModelIntegrityError):
        ChestModel(bad)


def test_thresholds_are_stored_beside_the_models():
    meta = json.loads((MODELS_DIR / "chestnet.json").read_text())
    assert set(meta["thresholds"]) == set(LABELS) | {"abnormal"}
    det = json.loads((MODELS_DIR / "detector.json").read_text())
    assert 0 < det["score_threshold"] < 1


def test_mask_thresholds_come_from_the_sidecar_and_shape_the_served_masks(golden_gray, tmp_path):
    import shutil
    from app.imaging import prepare_gray
    from app.measurements import binarize
    work = prepare_gray(golden_gray)
    served = ChestModel()
    meta = json.loads((MODELS_DIR / "chestnet.json").read_text())
    assert served.mask_thresholds == tuple(float((meta.get("mask_thresholds") or {}).get(o, 0.5))
                                           for o in ("left_lung", "right_lung", "heart"))
    shutil.copy(MODELS_DIR / "chestnet.onnx", tmp_path / "chestnet.onnx")
    meta["mask_thresholds"] = {"left_lung": 0.8, "right_lung": 0.2, "heart": 0.5}
    (tmp_path / "chestnet.json").write_text(json.dumps(meta))
    other = ChestModel(tmp_path / "chestnet.onnx")
    a, b = served.run([work])[0], other.run([work])[0]
    assert np.array_equal(a.masks, b.masks)
    assert np.array_equal(b.binary_masks, binarize(b.masks, (0.8, 0.2, 0.5)))
    assert b.binary_masks[0].sum() < a.binary_masks[0].sum() and b.binary_masks[1].sum() > a.binary_masks[1].sum()


def test_the_segnet_branch_and_the_findings_network_compute_their_shared_frozen_layers_once(tmp_path):
    """SegNet and the findings networks keep the same frozen ImageNet stem and early blocks; the served graph lets
    ONNX Runtime merge them (training/swap_segnet.py shares the weights), so fewer convolutions run than the file
    holds. A graft that copied the weights under new names would run every one of them."""
    import onnx
    import onnxruntime as ort
    path = MODELS_DIR / "chestnet.onnx"
    raw = sum(n.op_type == "Conv" for n in onnx.load(str(path)).graph.node)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # as served (inference.open_session)
    so.optimized_model_filepath = str(tmp_path / "opt.onnx")
    ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    optimized = sum(n.op_type == "Conv" for n in onnx.load(str(tmp_path / "opt.onnx")).graph.node)
    assert optimized <= raw - 10, (raw, optimized)


def test_segmentation_dice_on_held_out_jsrt(datasets):
    """Real masks from SCR on a few JSRT test-split images (data never committed)."""
    import cv2
    from app.imaging import prepare_gray
    from app.measurements import resize_masks
    split = Path(__file__).resolve().parent.parent / "models" / "splits" / "jsrt.csv"
    names = [r["image"] for r in csv.DictReader(open(split)) if r["split"] == "test"][:4]
    model = ChestModel()
    works = [prepare_gray(cv2.imread(str(datasets / "cxr_jsrt_scr" / n), cv2.IMREAD_GRAYSCALE)) for n in names]
    for name, out, w in zip(names, model.run(works), works):
        masks = resize_masks(out.binary_masks, w.shape[1], w.shape[0])
        for k, organ in enumerate(("left_lung", "right_lung", "heart")):
            gt = cv2.imread(str(datasets / "cxr_jsrt_scr" / "masks" / organ / Path(name).name), 0) > 127
            dice = 2 * (masks[k] & gt).sum() / (masks[k].sum() + gt.sum())
            assert dice > 0.75, (name, organ, dice)


def test_detector_finds_a_jsrt_nodule_somewhere_in_the_test_split(datasets):
    """Not every nodule is found (sensitivity is reported in the bench); at least one must be."""
    import cv2
    from app.imaging import prepare_gray
    split = Path(__file__).resolve().parent.parent / "models" / "splits" / "jsrt.csv"
    rows = {r["image"]: r for r in csv.DictReader(open(datasets / "cxr_jsrt_scr" / "labels.csv"))}
    names = [r["image"] for r in csv.DictReader(open(split)) if r["split"] == "test"
             and rows[r["image"]]["label"] == "nodule"][:8]
    det = Detector()
    hits = 0
    for n in names:
        r = rows[n]
        work = prepare_gray(cv2.imread(str(datasets / "cxr_jsrt_scr" / n), cv2.IMREAD_GRAYSCALE))
        gx1, gy1, gx2, gy2 = (float(r[k]) for k in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"))
        for d in det.run([work], conf=0.05)[0]:
            cx, cy = (d["box"][0] + d["box"][2]) / 2, (d["box"][1] + d["box"][3]) / 2
            if gx1 <= cx <= gx2 and gy1 <= cy <= gy2:
                hits += 1
                break
    assert hits >= 1


# ---------------------------------------------------------------------------------------------------------------
# Detector views (lung box, mirror), fusion across views, and the lung-region filter (issue 17).

def test_fusing_views_averages_scores_and_a_box_seen_once_counts_half():
    from app.inference import fuse_views
    a = {"score": 0.8, "box": [100.0, 100.0, 140.0, 140.0]}
    a_mirror = {"score": 0.6, "box": [102.0, 101.0, 141.0, 139.0]}
    lone = {"score": 0.5, "box": [300.0, 300.0, 330.0, 330.0]}
    fused = fuse_views([[a, lone], [a_mirror]], iou=0.3)
    assert len(fused) == 2
    assert fused[0]["score"] == pytest.approx(0.7)
    assert 100.0 < fused[0]["box"][0] < 102.0  # score-weighted mean of the two boxes
    assert fused[1]["score"] == pytest.approx(0.25) and fused[1]["box"] == lone["box"]


def test_lung_box_and_region():
    from app.inference import lung_box, lung_region
    lung = np.zeros((200, 200), bool)
    lung[40:160, 30:80] = True
    lung[40:160, 120:170] = True
    assert lung_box(lung, 0.0) == (30, 40, 170, 160)
    assert lung_box(lung, 0.1) == (16, 28, 184, 172)
    assert lung_box(np.zeros((50, 60), bool), 0.1) == (0, 0, 60, 50)
    hull = lung_region(lung, "hull")
    assert hull[100, 100] and not hull[10, 100] and not hull[100, 190]  # the mediastinum is in, outside is out
    assert lung_region(np.zeros((50, 60), bool), "hull") is None


@pytest.mark.parametrize("flip", [False, True])
def test_training_crops_map_lesion_boxes_onto_the_served_view(flip):
    """Issue 17: the detector is trained on crops of the view it is served on (train_yolo.py --view served). The
    box mapping used for the training labels must land on the same pixels as the served view: a bright square in the
    working image is inside its mapped box on the canvas (mirrored or not), and nothing bright is outside it."""
    from app.inference import view_canvas
    work = np.full((512, 512), 40, np.uint8)
    work[200:230, 300:340] = 250  # the "lesion", right of centre
    box = (60, 50, 470, 480)  # a lung box; the view is taller than wide, so it is padded left and right
    canvas, to_canvas = view_canvas(work, box, flip, 448)
    assert canvas.shape == (448, 448)
    x1, y1, x2, y2 = to_canvas([300, 200, 340, 230])
    bright = np.argwhere(canvas > 200)
    assert bright[:, 1].min() >= x1 - 1.5 and bright[:, 1].max() <= x2 + 0.5
    assert bright[:, 0].min() >= y1 - 1.5 and bright[:, 0].max() <= y2 + 0.5
    assert (canvas[int(y1) + 2:int(y2) - 2, int(x1) + 2:int(x2) - 2] > 200).all()
    centre_x = (x1 + x2) / 2
    assert (centre_x < 224) == flip  # the mirror puts the right-hand lesion on the left
    # a box sticking out of the crop is clipped to the crop's part of the canvas (the grey padding stays out)
    left_pad = (448 - round((box[2] - box[0]) * 448 / (box[3] - box[1]))) // 2
    cx1, _, cx2, _ = to_canvas([0, 100, 80, 130])
    assert cx2 > cx1
    assert min(cx1, cx2) >= left_pad - 1 and max(cx1, cx2) <= 448 - left_pad + 1
    ux1, _, ux2, _ = to_canvas([0, 100, 80, 130], clip=False)
    assert ux2 - ux1 > cx2 - cx1


def test_a_second_round_of_hard_negatives_adds_to_the_first(tmp_path):
    """Issue 17: ``train_yolo.py --mine`` adds the served detector's false positives to the rounds already listed
    (a file from before rounds were recorded is round 1) instead of replacing them; a box found again is kept once and
    still counts among the film's top 3."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))
    import hard_negatives as hn
    old = tmp_path / "hn.csv"
    old.write_text("image,score,x1,y1,x2,y2\r\na.png,0.2,10,10,30,30\r\nb.png,0.1,50,50,70,70\r\n")
    listed = hn.read(old)
    assert [r["round"] for r in listed] == [1, 1]
    mined = {"a.png": [(0.3, [11, 11, 31, 31]), (0.2, [100, 100, 120, 120]), (0.1, [200, 200, 220, 220]),
                       (0.09, [300, 300, 320, 320])],
             "c.png": [(0.5, [5, 5, 25, 25])]}
    rows, added = hn.add_round(listed, mined, per_image=3)
    assert added == 3
    assert rows[:2] == listed
    assert [(r["image"], r["box"][0], r["round"]) for r in rows[2:]] == [("a.png", 100, 2), ("a.png", 200, 2),
                                                                         ("c.png", 5, 2)]
    hn.write(old, rows)
    assert hn.read(old) == rows
    again, added = hn.add_round(rows, {"c.png": [(0.4, [6, 6, 26, 26])]})
    assert added == 0 and again == rows


def _work_and_lungs(datasets, name):
    import cv2
    from app.analyzer import work_lungs
    from app.imaging import prepare_gray
    work = prepare_gray(cv2.imread(str(datasets / "cxr_jsrt_scr" / name), cv2.IMREAD_GRAYSCALE))
    return work, work_lungs(ChestModel().run([work])[0], work.shape)


def test_detections_outside_the_lungs_are_dropped_and_boxes_stay_in_the_image(datasets):
    rows = [r for r in csv.DictReader(open(datasets / "cxr_jsrt_scr" / "labels.csv")) if r["label"] == "nodule"][:3]
    det = Detector()
    assert det.needs_lungs and len(det.views) == 2 and det.region
    from app.inference import lung_region
    for r in rows:
        work, lung = _work_and_lungs(datasets, r["image"])
        out = det.run([work], conf=0.01, lungs=[lung])[0]
        region = lung_region(lung, det.region)
        for d in out:
            x1, y1, x2, y2 = d["box"]
            assert 0 <= x1 < x2 <= work.shape[1] and 0 <= y1 < y2 <= work.shape[0]
            assert region[int((y1 + y2) / 2), int((x1 + x2) / 2)]
        # a lung mask that covers only the top rows leaves nothing below them
        top = np.zeros_like(lung)
        top[:60, :] = True
        for d in det.run([work], conf=0.01, lungs=[top])[0]:
            assert (d["box"][1] + d["box"][3]) / 2 < 60


def test_size_prior_down_weights_boxes_smaller_than_the_nodules(datasets, tmp_path):
    """Issue 17: the sidecar's ``size_prior`` ({"min_side": px, "factor": f}) multiplies the fused score of a box whose
    shorter side is below min_side by f (training/nodule_prior_explore.py); larger boxes keep theirs."""
    import shutil
    from app.inference import MODELS_DIR
    meta = json.loads((MODELS_DIR / "detector.json").read_text())
    meta["inference"].pop("size_prior", None)
    shutil.copy(MODELS_DIR / "detector.onnx", tmp_path / "plain.onnx")
    (tmp_path / "plain.json").write_text(json.dumps(meta))
    r = next(r for r in csv.DictReader(open(datasets / "cxr_jsrt_scr" / "labels.csv")) if r["label"] == "nodule")
    work, lung = _work_and_lungs(datasets, r["image"])
    plain = Detector(tmp_path / "plain.onnx").run([work], conf=0.01, lungs=[lung])[0]
    sides = sorted(min(d["box"][2] - d["box"][0], d["box"][3] - d["box"][1]) for d in plain)
    min_side = float(np.median(sides))
    assert sides[0] < min_side <= sides[-1]
    meta["inference"]["size_prior"] = {"min_side": min_side, "factor": 0.5}
    shutil.copy(MODELS_DIR / "detector.onnx", tmp_path / "prior.onnx")
    (tmp_path / "prior.json").write_text(json.dumps(meta))
    prior = Detector(tmp_path / "prior.onnx").run([work], conf=0.01, lungs=[lung])[0]
    assert len(plain) < 20  # no box lost to the 20-box cap
    by_box = {tuple(round(v, 2) for v in d["box"]): d["score"] for d in prior}
    small = 0
    for d in plain:
        side = min(d["box"][2] - d["box"][0], d["box"][3] - d["box"][1])
        expected = d["score"] * (0.5 if side < min_side else 1.0)
        small += side < min_side
        if expected >= 0.01:
            assert by_box.pop(tuple(round(v, 2) for v in d["box"])) == pytest.approx(expected)
    assert small >= 1 and not by_box


def test_served_detector_down_weights_boxes_between_the_lungs(datasets):
    """Issue 17: inside the lungs' hull but off the lung masks (the mediastinum, the heart, below the domes) a box's
    fused score is multiplied by the sidecar's ``off_lungs`` factor (< 1): on JSRT validation most boxes there were
    false positives, but on JSRT train the detector found real nodules there, so they are kept, ranked lower."""
    from app.inference import lung_region
    det = Detector()
    factor = det.off_lungs_factor
    assert 0 < factor < 1
    rows = [r for r in csv.DictReader(open(datasets / "cxr_jsrt_scr" / "labels.csv")) if r["label"] == "nodule"][:6]
    between, conf = 0, 0.02  # low enough that the retrained detector leaves boxes off the masks on these films
    for r in rows:
        work, lung = _work_and_lungs(datasets, r["image"])
        on = lung_region(lung, f"dilate{det.off_lungs_dilate}")
        det.off_lungs_factor = 1.0
        plain = det.run([work], conf=conf, lungs=[lung])[0]
        assert len(plain) < 20  # no box lost to the 20-box cap, which the re-ranking could change
        det.off_lungs_factor = factor
        served = {tuple(round(x, 3) for x in d["box"]): d["score"] for d in det.run([work], conf=conf, lungs=[lung])[0]}
        for d in plain:
            key = tuple(round(x, 3) for x in d["box"])
            cx, cy = int((d["box"][0] + d["box"][2]) / 2), int((d["box"][1] + d["box"][3]) / 2)
            if on[cy, cx]:
                assert served[key] == pytest.approx(d["score"])
            else:
                between += 1
                if d["score"] * factor >= conf:
                    assert served[key] == pytest.approx(d["score"] * factor)
                else:
                    assert key not in served
    assert between > 0  # these films do have boxes off the masks


def test_views_in_a_batch_equal_views_one_by_one(datasets):
    rows = [r for r in csv.DictReader(open(datasets / "cxr_jsrt_scr" / "labels.csv")) if r["label"] == "nodule"][:2]
    det = Detector()
    pairs = [_work_and_lungs(datasets, r["image"]) for r in rows]
    together = det.run([w for w, _ in pairs], conf=0.05, lungs=[l for _, l in pairs])
    for (w, l), t in zip(pairs, together):
        alone = det.run([w], conf=0.05, lungs=[l])[0]
        assert [round(d["score"], 3) for d in alone] == [round(d["score"], 3) for d in t]


def test_chest_test_time_views_average_the_probabilities(golden_gray):
    from app.imaging import prepare_gray
    from app.inference import TTA_VIEWS
    work = prepare_gray(golden_gray)
    plain = ChestModel()
    assert plain.tta_views == ["flip"]  # the committed sidecar serves flip TTA (issue 17, fifth round)
    plain.tta_views = []
    tta = ChestModel()
    tta.tta_views = ["crop90"]
    crop = plain.run([TTA_VIEWS["crop90"](work)])[0]
    orig, both = plain.run([work])[0], tta.run([work])[0]
    k = plain.labels.index("Effusion")
    assert both.probs[k] == pytest.approx((orig.probs[k] + crop.probs[k]) / 2, abs=1e-4)
    assert np.array_equal(both.binary_masks, orig.binary_masks)  # masks come from the original view


def _chest_with_sidecar_tta(tmp_path: Path, tta: dict | None) -> ChestModel:
    """The committed chest graph read with a copy of its sidecar whose ``tta`` key is ``tta`` (None = no key)."""
    d = tmp_path / ("tta" if tta else "plain")
    d.mkdir()
    (d / "chestnet.onnx").symlink_to(MODELS_DIR / "chestnet.onnx")
    meta = json.loads((MODELS_DIR / "chestnet.json").read_text())
    meta.pop("tta", None)
    if tta is not None:
        meta["tta"] = tta
    (d / "chestnet.json").write_text(json.dumps(meta))
    return ChestModel(d / "chestnet.onnx")


def _count_batches(model: ChestModel) -> list[int]:
    sizes: list[int] = []
    run = model.session.run

    def spy(names, feeds):
        sizes.append(int(feeds["image"].shape[0]))
        return run(names, feeds)
    model.session = type("Spy", (), {"run": staticmethod(spy)})()
    return sizes


def test_flip_tta_from_the_sidecar_averages_the_film_and_its_mirror(tmp_path, golden_gray):
    """Flip TTA (issue 17, fifth round): with ``"tta": {"views": ["flip"]}`` in chestnet.json the findings
    probabilities are the mean of the film's and its mirror's, in one batch of 2; the mirror's CAMs are mirrored back
    and averaged; masks, the embedding (the gate's input) and the CTR head come from the original film only. Without
    the key the graph runs once, on the film."""
    from app.imaging import prepare_gray
    work = prepare_gray(golden_gray)
    mirror = np.ascontiguousarray(work[:, ::-1])
    plain, tta = _chest_with_sidecar_tta(tmp_path, None), _chest_with_sidecar_tta(tmp_path, {"views": ["flip"]})
    assert plain.tta_views == [] and tta.tta_views == ["flip"]
    heads = plain.measurement_heads
    plain.measurement_heads = {}
    orig_net, mirr_net = plain.run([work])[0], plain.run([mirror])[0]
    plain.measurement_heads = heads
    plain_sizes, tta_sizes = _count_batches(plain), _count_batches(tta)
    orig, both = plain.run([work])[0], tta.run([work])[0]
    assert plain_sizes == [1] and tta_sizes == [2]  # without the key: one pass; with it: one batched call of 2

    assert np.array_equal(both.masks, orig.masks) and np.array_equal(both.binary_masks, orig.binary_masks)
    assert np.array_equal(both.embedding, orig.embedding)
    for k, name in enumerate(plain.labels):
        if name in heads:  # the CTR head reads the original film's masks: unchanged by TTA
            assert both.probs[k] == pytest.approx(orig.probs[k], abs=1e-6)
            np.testing.assert_allclose(both.cams[k], orig.cams[k], atol=1e-6)
            continue
        assert orig.probs[k] == pytest.approx(orig_net.probs[k], abs=1e-6)  # no key: the single-view output
        assert both.probs[k] == pytest.approx((orig_net.probs[k] + mirr_net.probs[k]) / 2, abs=1e-5)
        np.testing.assert_allclose(both.cams[k], (orig_net.cams[k] + mirr_net.cams[k][:, ::-1]) / 2, atol=1e-4)
    assert not np.allclose(both.probs, orig.probs, atol=1e-3)  # the mirror does move this film's probabilities


def test_the_nodule_finding_takes_the_detectors_best_box_when_it_is_higher(golden_gray):
    from app.imaging import prepare_gray
    chest = ChestModel()
    assert set(chest.detector_heads) == {"Nodule"}
    k, other = chest.labels.index("Nodule"), chest.labels.index("Mass")
    work = prepare_gray(golden_gray)
    out = chest.run([work])[0]
    network, cam = float(out.probs[k]), out.cams[k].copy()
    chest.apply_detector_heads(out, None, work.shape)
    chest.apply_detector_heads(out, {"score": network / 2, "box": [10.0, 10.0, 40.0, 40.0]}, work.shape)
    assert out.probs[k] == pytest.approx(network) and np.array_equal(out.cams[k], cam)  # the network wins
    # a box in the upper right of the image, scored above the network: probability and heat map follow the box
    H, W = work.shape
    chest.apply_detector_heads(out, {"score": 0.93, "box": [0.8 * W, 0.2 * H, 0.86 * W, 0.26 * H]}, work.shape)
    assert out.probs[k] == pytest.approx(0.93)
    h, w = out.cams.shape[1:]
    iy, ix = np.unravel_index(int(np.argmax(out.cams[k])), (h, w))
    assert ix >= int(0.8 * w) - 1 and iy <= int(0.26 * h) + 1
    assert out.probs[other] == pytest.approx(chest.run([work])[0].probs[other])


def test_analysis_reports_the_nodule_head_as_served(analyzer, golden_bytes):
    p = analyzer.prepare(golden_bytes, "g.png", "image/png")
    raw = analyzer.infer([p])[0]
    from app.analyzer import work_lungs
    plain = analyzer.chest.run([p.work])[0]
    _, best = analyzer.detector.run_scored([p.work], lungs=[work_lungs(plain, p.work.shape)])
    k = analyzer.labels.index("Nodule")
    expected = max(float(plain.probs[k]), best[0]["score"] if best[0] else 0.0)
    assert raw.chest.probs[k] == pytest.approx(expected, abs=1e-4)
