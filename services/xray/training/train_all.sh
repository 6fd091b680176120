#!/usr/bin/env bash
# One command to rebuild every chest X-ray model from the shared datasets:
#   services/xray/training/train_all.sh
# Creates .venv-train (CPU torch, pinned by constraints.txt) when missing, then: splits + cache, ChestNet
# (findings + CAM + attention U-Net + gate embedding), YOLOv8n detector, measurement heads, gate calibration, golden self-test
# record, model card. Runs niced with 2 threads; about 45-60 min on 2 shared cores.
set -euo pipefail
SVC="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="$(cd "$SVC/../.." && pwd)"
VENV="${XRAY_TRAIN_VENV:-$ROOT/.venv-train}"
cd "$SVC"

if [ ! -x "$VENV/bin/python" ]; then
  python3.11 -m venv "$VENV"
  wheel="$(ls /opt/wheels/torch-2.13.0+cpu-*.whl 2>/dev/null | head -1 || true)"
  "$VENV/bin/pip" install "${wheel:-torch==2.13.0}"
  "$VENV/bin/pip" install -c training/constraints.txt -r training/requirements.txt
fi
# The serving code the training scripts reuse (imaging, gate) raises the platform's errors.
"$VENV/bin/python" -c "import zhenxi_common" 2>/dev/null ||
  "$VENV/bin/pip" install -c training/constraints.txt -e "$ROOT/libs/common"

export YOLO_OFFLINE=1 OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 PYTHONHASHSEED=0
export YOLO_CONFIG_DIR="$SVC/training/cache/ultralytics_cfg"
PY=(nice -n 10 "$VENV/bin/python")
mkdir -p training/runs

"${PY[@]}" training/prepare.py
"${PY[@]}" training/train_chest.py --epochs "${CHEST_EPOCHS:-9}" --no-finish
"${PY[@]}" training/refit_head.py
"${PY[@]}" training/train_chest.py --finish-only
"${PY[@]}" training/train_seg.py --epochs "${SEG_EPOCHS:-8}"
"${PY[@]}" training/combine_export.py
"${PY[@]}" training/train_yolo.py --epochs "${YOLO_EPOCHS:-25}" --imgsz 512
"${PY[@]}" training/measurement_heads.py
"${PY[@]}" training/calibrate_gate.py
"${PY[@]}" training/make_golden.py
"${PY[@]}" training/write_card.py
echo "done: models in $SVC/models"
