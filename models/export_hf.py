"""Write the fine-tuned MiniLM as a Hugging Face PyTorch folder (BertForSequenceClassification).

  var/venv-model/bin/python models/export_hf.py --checkpoint <finetuned.pt> \
      --tokenizer-from models/sentiment-minilm --out var/cache/models/sentiment-minilm-hf

Not part of the product (the services serve the int8 ONNX graph): the folder is what the peer
benchmark (scripts/bench/peer.ts: FastAPI + uvicorn + transformers' pipeline on PyTorch) serves,
so both stacks answer with the same fine-tuned weights. It maps finetune_minilm.py's module
names back to Hugging Face's; the token-type row folded into the position rows stays folded
(token_type_embeddings are zero), which is exact for single-segment inputs.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import struct

import numpy as np
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from finetune_minilm import HF_LAYER_NAMES  # noqa: E402



def write_safetensors(path: str, tensors: dict[str, np.ndarray]) -> None:
    # transformers requires {"format": "pt"} in the header's metadata
    header: dict = {"__metadata__": {"format": "pt"}}
    offset, blobs = 0, []
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--tokenizer-from", required=True, help="model folder with tokenizer.json and config.json")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    sd = {k: v.detach().float().numpy() for k, v in torch.load(args.checkpoint).items()}
    H = sd["pos.weight"].shape[1]
    t = {
        "bert.embeddings.word_embeddings.weight": sd["word.emb.weight"],
        "bert.embeddings.position_embeddings.weight": sd["pos.weight"],
        "bert.embeddings.token_type_embeddings.weight": np.zeros((2, H), np.float32),
        "bert.embeddings.LayerNorm.weight": sd["emb_ln.weight"],
        "bert.embeddings.LayerNorm.bias": sd["emb_ln.bias"],
        "bert.pooler.dense.weight": sd["pooler.weight"],
        "bert.pooler.dense.bias": sd["pooler.bias"],
        "classifier.weight": sd["classifier.weight"],
        "classifier.bias": sd["classifier.bias"],
    }
    layers = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
    for i in range(layers):
        for ours, theirs in HF_LAYER_NAMES.items():
            for p in ("weight", "bias"):
                t[f"bert.encoder.layer.{i}.{theirs}.{p}"] = sd[f"blocks.{i}.{ours}.{p}"]
    os.makedirs(args.out, exist_ok=True)
    write_safetensors(os.path.join(args.out, "model.safetensors"), t)
    with open(os.path.join(args.tokenizer_from, "config.json")) as f:
        config = json.load(f)
    config = {k: v for k, v in config.items() if k != "onnx_outputs"}
    config["type_vocab_size"] = 2
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        src = os.path.join(args.tokenizer_from, name)
        if os.path.exists(src):
            shutil.copy(src, os.path.join(args.out, name))
    vocab = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data/bert-base-uncased-vocab.txt")
    shutil.copy(vocab, os.path.join(args.out, "vocab.txt"))
    print(f"[export-hf] {args.out}: {layers} layers, hidden {H}")


if __name__ == "__main__":
    main()
