"""The in-process CLI: one JSON object per photo per line, exit 2 when any photo was refused."""
import json

from app.cli import main
from factories import encode, report, requires_cjk_font

pytestmark = requires_cjk_font


def test_cli_prints_one_line_per_photo_and_exit_code(tmp_path, capsys):
    img, truth = report(seed=21, layout="classic", distortion="clean", panel="coagulation")
    good = tmp_path / "good.jpg"
    good.write_bytes(encode(img))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    code = main([str(good), str(bad)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 2 and len(lines) == 2
    first, second = json.loads(lines[0]), json.loads(lines[1])
    assert {i["code"] for i in first["indicators"]} & {g["code"] for g in truth["indicators"]}
    assert second["error"]["code"] == "image_unreadable"


def test_cli_fhir(tmp_path, capsys):
    img, _ = report(seed=22, layout="hl_letters", distortion="clean", panel="thyroid")
    good = tmp_path / "t.jpg"
    good.write_bytes(encode(img))
    assert main([str(good), "--format", "fhir"]) == 0
    bundle = json.loads(capsys.readouterr().out.strip())
    assert bundle["resourceType"] == "Bundle" and bundle["entry"]
    obs = bundle["entry"][0]["resource"]
    assert obs["resourceType"] == "Observation" and obs["code"]["coding"]
