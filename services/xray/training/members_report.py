"""Collect issue 17's second findings round (a strong-augmentation member, which networks to serve together, heads,
flip TTA) into models/findings_members_metrics.json for the model card (numbers come from the runs, never typed):

    members_report.py --run _strongaug --explore runs/members_explore_final.json \
        --latency runs/latency_*.txt --test runs/eval_served_test_members.json --test-names before after \
        --served-before m1+m2 --chosen m1+m2+sa --adopted yes|no --note "..."

``--latency`` files are `bench/xray_speed.py --latency-only` outputs named ``latency_<graph>_<i>.txt`` (alternated
runs); their ``total`` p50 and CPU time per analysis are kept per graph.

A later round that only re-chooses among existing members adds itself to the same file, beside the second round:

    members_report.py --followup third_round --val runs/eval_served_val_ens3.json --test runs/eval_served_test.json \
        --names m1+sa m1+m2+sa --latency runs/latency_*.txt --adopted yes --note "..."

``--val`` / ``--test`` are eval_served.py outputs scoring the graph served before and the candidate, in that order
(``eval_served.py --flip`` scores one graph without and with flip TTA, so a TTA round is recorded the same way).
``--test-arrays`` (the --test run's .npz; only when adopted): its last graph's served test scores become the card's
headline table (models/chestnet_metrics.json, through ``retrain_report.update_chestnet_metrics``).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from retrain_report import update_chestnet_metrics, write_report  # noqa: E402


def latency(files: list[Path]) -> dict:
    out: dict[str, dict] = {}
    for f in sorted(files):
        graph = f.stem[len("latency_"):].rsplit("_", 1)[0]
        text = f.read_text()
        total = re.search(r"^total\s+([\d.]+)\s+([\d.]+)", text, re.M)
        chest = re.search(r"^chest_model\s+([\d.]+)\s+([\d.]+)", text, re.M)
        cpu = re.search(r"CPU time per analysis ([\d.]+) ms.*?load avg ([\d.]+)", text)
        if not total:
            continue
        e = out.setdefault(graph, {"total_p50_ms": [], "chest_p50_ms": [], "cpu_ms": [], "load": []})
        e["total_p50_ms"].append(float(total.group(1)))
        e["chest_p50_ms"].append(float(chest.group(1)) if chest else None)
        e["cpu_ms"].append(float(cpu.group(1)) if cpu else None)
        e["load"].append(float(cpu.group(2)) if cpu else None)
    return out


def followup(args) -> None:
    """Record a round that re-chose the served members from eval_served.py runs (validation, then test read once)."""
    path = HERE.parent / "models" / "findings_members_metrics.json"
    data = json.loads(path.read_text())
    entry: dict = {"names": args.names, "latency": latency(args.latency), "adopted": args.adopted == "yes",
                   "note": args.note}
    for part, f in (("validation", args.val), ("test", args.test)):
        if f is None:
            continue
        t = json.loads(f.read_text())
        cands = list(t["candidates"].values())
        if len(cands) != len(args.names):
            raise SystemExit(f"{f}: {len(cands)} graphs scored, {len(args.names)} names given")
        # "candidates", as the second round's test record, so the card writes both rounds' test tables alike.
        entry[part] = {"films": t["films"], "films_nih14": t["films_nih14"], "load_avg": t.get("load_avg"),
                       "candidates": {n: {k: c[k] for k in ("served_nih14", "served_mixed", "network_nih14",
                                                             "network_mixed") if k in c}
                                      for n, c in zip(args.names, cands)}}
    data[args.followup] = entry
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print("wrote", args.followup, "to", path)
    if args.test_arrays is not None:
        if args.adopted != "yes":
            raise SystemExit("--test-arrays rewrites the served model's test table: only for an adopted candidate")
        val = entry["validation"]["candidates"][args.names[-1]]["served_nih14"]["mean"]
        update_chestnet_metrics(args.test_arrays, val, args.served_graph)
        print("updated chestnet_metrics.json from", args.test_arrays)


def main() -> None:
    if "--followup" in sys.argv:
        fp = argparse.ArgumentParser()
        fp.add_argument("--followup", required=True, help="key of this round in findings_members_metrics.json")
        fp.add_argument("--val", type=Path, required=True)
        fp.add_argument("--test", type=Path, default=None)
        fp.add_argument("--names", nargs="+", required=True, help="served before, then the candidate")
        fp.add_argument("--latency", type=Path, nargs="*", default=[])
        fp.add_argument("--adopted", choices=["yes", "no"], required=True)
        fp.add_argument("--note", default="")
        fp.add_argument("--test-arrays", type=Path, default=None,
                        help="eval_served.py --test .npz: the last graph's served scores -> chestnet_metrics.json")
        fp.add_argument("--served-graph", default=None, help="what is served now, in words (chestnet_metrics.json)")
        followup(fp.parse_args())
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True, help="train_chest.py --tag of the new member")
    ap.add_argument("--explore", type=Path, required=True, help="members_explore.py output (validation)")
    ap.add_argument("--member-names", nargs="*", default=[], help="NAME=description, for the card")
    ap.add_argument("--latency", type=Path, nargs="*", default=[])
    ap.add_argument("--test", type=Path, default=None, help="eval_served.py --test output (read once, after)")
    ap.add_argument("--test-names", nargs="*", default=None)
    ap.add_argument("--served-before", required=True)
    ap.add_argument("--chosen", required=True)
    ap.add_argument("--adopted", choices=["yes", "no"], required=True)
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    hist = json.loads((HERE / "runs" / f"chest_history{args.run}.json").read_text())
    ex = json.loads(args.explore.read_text())
    out = {
        "run": {"tag": args.run, "args": {k: hist["args"][k] for k in ("epochs", "batch", "frozen_blocks", "smooth",
                                                                      "strong_aug", "no_view_weights", "val_from")},
                "epochs": [{"epoch": h["epoch"], "val_nih14": round(h["val_mean_auroc"], 4),
                            "val_mixed": round(h["val_mixed_mean_auroc"], 4), "train_s": h.get("train_s")}
                           for h in hist["history"]]},
        "members": dict(m.split("=", 1) for m in args.member_names),
        "validation": {"films": ex["films"], "films_nih14": ex["films_nih14"], "load_avg": ex.get("load_avg"),
                       "results": ex["results"]},
        "served_before": args.served_before, "chosen": args.chosen,
        "latency": latency(args.latency),
    }
    if args.test:
        t = json.loads(args.test.read_text())
        names = args.test_names or [Path(k).parent.name for k in t["candidates"]]
        out["test"] = {"films": t["films"], "load_avg": t.get("load_avg"),
                       "candidates": {n: {k: c[k] for k in ("served_nih14", "network_nih14") if k in c}
                                      for n, c in zip(names, t["candidates"].values())}}
    write_report(out, args.adopted == "yes", args.note, "findings_members_metrics.json")


if __name__ == "__main__":
    main()
