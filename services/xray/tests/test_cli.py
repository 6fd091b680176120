from __future__ import annotations

import json

import numpy as np
from PIL import Image

from app.cli import main
from conftest import GOLDEN, encode


def test_cli_prints_one_line_per_image_and_writes_masks_at_input_size(tmp_path, capsys, golden_gray):
    wide = tmp_path / "wide.png"
    wide.write_bytes(encode(np.asarray(Image.fromarray(golden_gray).resize((600, 480)))))
    rc = main([str(GOLDEN), str(wide), "--masks", str(tmp_path / "masks")])
    lines = capsys.readouterr().out.strip().splitlines()
    assert rc == 0 and len(lines) == 2
    first, second = (json.loads(x) for x in lines)
    assert len(first["findings"]) == 14 and "masks" in first and "measurements" in first
    for stem, size in ((GOLDEN.stem, (512, 512)), ("wide", (600, 480))):
        for organ in ("left_lung", "right_lung", "heart"):
            m = Image.open(tmp_path / "masks" / stem / f"{organ}.png")
            assert m.size == size
            assert np.asarray(m).max() == 255
    assert second["image"]["width"] == 600


def test_cli_reports_refused_images_and_exits_2(tmp_path, capsys):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    txt = tmp_path / "notes.txt"
    txt.write_text("not an image")
    rc = main([str(GOLDEN), str(junk), str(txt)])
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert rc == 2 and len(lines) == 3
    assert "findings" in lines[0]
    assert lines[1]["error"]["code"] == "image_unreadable"
    assert lines[2]["error"]["code"] == "unsupported_media_type"
