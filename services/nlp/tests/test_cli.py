import json

from app.cli import main


def _lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_triage_text(capsys):
    assert main(["triage", "胸口疼，出冷汗"]) == 0
    (out,) = _lines(capsys)
    assert out["urgency"] == "emergency"


def test_triage_file_one_json_per_line(tmp_path, capsys):
    f = tmp_path / "q.txt"
    f.write_text("拉肚子三天\n\n😀\n嗓子疼\n", encoding="utf-8")
    assert main(["triage", "--file", str(f)]) == 0
    rows = _lines(capsys)
    assert len(rows) == 3
    assert rows[1]["understood"] is False and rows[2]["departments"][0]["id"] == "ent"


def test_triage_error_is_json(capsys):
    assert main(["triage", "x" * 3000]) == 2
    assert _lines(capsys)[0]["error"]["code"] == "text_too_long"


def test_interpret_file(tmp_path, capsys):
    f = tmp_path / "r.json"
    f.write_text(json.dumps({"indicators": [{"code": "HGB", "value": 88}, {"code": "MCV", "value": 68}],
                             "sex": "female"}), encoding="utf-8")
    assert main(["interpret", str(f)]) == 0
    out = _lines(capsys)[0]
    assert "microcytic_anemia" in {p["id"] for p in out["patterns"]}


def test_interpret_bad_files(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main(["interpret", str(bad)]) == 2
    assert _lines(capsys)[0]["error"]["code"] == "file_unreadable"
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps([{"code": "NOPE", "value": 1}]), encoding="utf-8")
    assert main(["interpret", str(unknown)]) == 2
    assert _lines(capsys)[0]["error"]["code"] == "unknown_indicators"
