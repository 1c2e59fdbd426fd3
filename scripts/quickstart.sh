#!/usr/bin/env bash
# The main job, end to end and offline: set up, build a tiny smoke model, run C2-Eval on it.
# Every number printed here comes from a random-weight model and means nothing; the commands are the
# ones you run on real models (see README.md, "Use it on real models").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
OUT=${1:-quickstart-out}
C2=.venv/bin/c2

$C2 tiny-model --out "$OUT/tiny-model"
$C2 eval run --model "$OUT/tiny-model" --limit 20 --ks 10,20,40 --paths 4 --out "$OUT/eval"
