"""Measurements, plausibility and CAM restriction on hand-made masks (no models)."""
from __future__ import annotations

import numpy as np
import pytest

from app.heatmap import chest_region, overlay_png, restrict
from app.measurements import binarize, lung_plausibility, measure, resize_masks


def chest_masks(s: int = 256) -> np.ndarray:
    m = np.zeros((3, s, s), bool)
    m[1, 40:200, 30:110] = True    # right lung = image left
    m[0, 40:200, 150:230] = True   # left lung = image right
    m[2, 120:200, 90:170] = True   # heart
    return m


def test_ctr_and_areas():
    m = chest_masks()
    out = measure(m, 1024, 512, pixel_spacing_mm=(0.2, 0.2))
    assert out["cardiothoracic_ratio"] == pytest.approx(80 / 200, abs=1e-3)
    assert out["heart_width_px"] == pytest.approx(80 * 4, abs=0.5)
    assert out["left_lung_area_px"] == 160 * 80 * 4 * 2
    assert out["left_lung_area_cm2"] == pytest.approx(160 * 80 * 8 * 0.04 / 100, abs=0.1)
    assert out["cardiomegaly_by_ctr"] is False


def test_plausibility_flags_swapped_or_missing_lungs():
    m = chest_masks()
    assert lung_plausibility(m)["plausible"]
    swapped = m[[1, 0, 2]]
    assert "lung_sides" in lung_plausibility(swapped)["reasons"]
    empty = np.zeros_like(m)
    assert not lung_plausibility(empty)["plausible"]


def test_binarize_keeps_largest_component_and_resize_keeps_input_size():
    p = np.zeros((3, 64, 64), np.float32)
    p[0, 10:40, 10:30] = 0.9
    p[0, 50:52, 50:52] = 0.9  # speck
    b = binarize(p)
    assert b[0].sum() == 30 * 20
    full = resize_masks(b, 300, 200)
    assert full.shape == (3, 200, 300)


def test_binarize_takes_one_threshold_per_organ():
    p = np.zeros((3, 32, 32), np.float32)
    p[:, 4:20, 4:20] = 0.52
    p[:, 8:12, 8:12] = 0.9
    b = binarize(p, (0.55, 0.5, 0.5))
    assert b[0].sum() == 16 and b[1].sum() == b[2].sum() == 256
    assert np.array_equal(binarize(p, 0.5), binarize(p, (0.5, 0.5, 0.5)))
    with pytest.raises(ValueError):
        binarize(p, (0.5, 0.5))


def test_cam_is_kept_inside_the_chest_and_outside_attention_is_measured():
    m = chest_masks()
    region = chest_region(m)
    cam = np.zeros((8, 8), np.float32)
    cam[0, 0] = 10.0  # attention on the top-left corner, outside the chest
    heat, outside = restrict(cam, region)
    assert outside > 0.5
    assert heat[~region].max() == 0
    cam2 = np.zeros((8, 8), np.float32)
    cam2[3:6, 1:3] = 10.0  # over the right lung
    heat2, outside2 = restrict(cam2, region)
    assert outside2 < 0.5 and heat2.max() == pytest.approx(1.0)
    png = overlay_png(np.full((300, 200), 128, np.uint8), heat2)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
