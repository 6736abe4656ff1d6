"""Quantize an exported model folder's ONNX graph to dynamic int8 and re-check it.

  var/venv-model/bin/python models/quantize_minilm.py <folder> [--max-drop 0.005]

What is quantized (onnxruntime.quantization.quantize_dynamic, weights int8, activations
quantized per batch at run time):
- every encoder MatMul (attention projections and feed-forward layers);
- the word-piece embedding Gather (30522 x 384: 47 MB in fp32, 12 MB in int8), without which the
  graph could not stay under the 30 MB the repository allows for a committed model.
The pooler and classifier stay fp32 Gemm nodes: the retrainer rewrites exactly those weights
(services' onnx-head module walks Gemm -> Tanh -> Gemm back from `logits`).

Then, with the same onnxruntime version as onnxruntime-node (requirements-minilm.txt):
- SST-2 dev accuracy of fp32 and int8; the int8 graph is kept only if it loses at most
  --max-drop (default 0.5 points), else the fp32 graph stays and the script fails loudly;
- parity.json is rewritten from the int8 graph's outputs (the Node check compares against it),
  keeping the fp32 PyTorch values as `fp32_logits` for the record;
- model-card.json gains the quantization block and both accuracies.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert_tokenizer import BertTokenizer  # noqa: E402
from train import sha256_file  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def restore_gemm_head(path: str, gemms: list[str]) -> None:
    """Folds each `<gemm>_MatMul` + `<gemm>_Add` pair back into one Gemm (transB = 0: the
    MatMul's weight is stored [in, out]), so the head is the Gemm -> Tanh -> Gemm the
    retrainer rewrites."""
    model = onnx.load(path)
    nodes = list(model.graph.node)
    for name in gemms:
        mm = next(n for n in nodes if n.name == f"{name}_MatMul")
        add = next(n for n in nodes if n.name == f"{name}_Add")
        bias = next(i for i in add.input if i != mm.output[0])
        gemm = onnx.helper.make_node(
            "Gemm", [mm.input[0], mm.input[1], bias], list(add.output), name=name, alpha=1.0, beta=1.0, transB=0
        )
        at = nodes.index(mm)
        nodes = [n for n in nodes if n is not mm and n is not add]
        nodes.insert(at, gemm)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.save(model, path)


def quantize_weights_only(src: str, dst: str) -> list[str]:
    """int8 storage, fp32 compute: every 2-D weight a MatMul multiplies by (per output column)
    and every embedding table a Gather reads (per row) becomes int8 + a float scale, followed by
    a DequantizeLinear node. Activations are never quantized, so a text's outputs do not depend
    on the batch it is scored in (dynamic quantization's do: it quantizes each activation
    tensor with one scale for the whole batch). onnxruntime folds the DequantizeLinear of a
    constant at session start (session.disable_quant_qdq=1, which the engine sets), so the
    graph runs at fp32 speed from 23 MB on disk."""
    model = onnx.load(src)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    targets: dict[str, int] = {}
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in inits and len(inits[node.input[1]].dims) == 2:
            targets[node.input[1]] = 1
        elif node.op_type == "Gather" and node.input[0] in inits and len(inits[node.input[0]].dims) == 2:
            targets[node.input[0]] = 0
    new_nodes = []
    for name, axis in sorted(targets.items()):
        w = onnx.numpy_helper.to_array(inits[name]).astype(np.float32)
        scale = np.abs(w).max(axis=1 - axis) / 127.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        shape = (1, -1) if axis == 1 else (-1, 1)
        q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
        graph.initializer.remove(inits[name])
        graph.initializer.extend(
            [
                onnx.numpy_helper.from_array(q, f"{name}_int8"),
                onnx.numpy_helper.from_array(scale, f"{name}_scale"),
                onnx.numpy_helper.from_array(np.zeros(scale.shape, np.int8), f"{name}_zero"),
            ]
        )
        new_nodes.append(
            onnx.helper.make_node(
                "DequantizeLinear", [f"{name}_int8", f"{name}_scale", f"{name}_zero"], [name],
                name=f"{name}_dequantize", axis=axis,
            )
        )
    nodes = new_nodes + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, dst)
    return sorted(targets)


def session(path: str) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS", "2"))
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # As the engine: DequantizeLinear of constants folded at load (weight-only int8)
    so.add_session_config_entry("session.disable_quant_qdq", "1")
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run(sess: ort.InferenceSession, seqs: list[list[int]], batch: int = 64):
    order = np.argsort([len(s) for s in seqs], kind="stable")
    logits = np.zeros((len(seqs), 2), np.float32)
    cls = None
    for s in range(0, len(order), batch):
        idx = order[s : s + batch]
        L = max(len(seqs[i]) for i in idx)
        ids = np.zeros((len(idx), L), np.int64)
        mask = np.zeros((len(idx), L), np.int64)
        for r, i in enumerate(idx):
            ids[r, : len(seqs[i])] = seqs[i]
            mask[r, : len(seqs[i])] = 1
        lg, c = sess.run(["logits", "cls_embedding"], {"input_ids": ids, "attention_mask": mask})
        if cls is None:
            cls = np.zeros((len(seqs), c.shape[1]), np.float32)
        logits[idx] = lg
        cls[idx] = c
    return logits, cls


def accuracy(logits: np.ndarray, labels: list[int]) -> float:
    return float((logits.argmax(1) == np.asarray(labels)).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--max-drop", type=float, default=0.005)
    ap.add_argument(
        "--mode",
        choices=["weights", "dynamic"],
        default="weights",
        help="weights: int8 storage, fp32 compute (batch-independent; the default); dynamic: "
        "quantize_dynamic's int8 MatMul (faster, but a text's outputs depend on its batch)",
    )
    args = ap.parse_args()
    folder = args.folder
    fp32 = os.path.join(folder, "onnx", "model.onnx")
    work = os.path.join(folder, "onnx", "model.fp32.onnx")
    shutil.move(fp32, work)
    t0 = time.time()
    head = [n.name for n in onnx.load(work).graph.node if n.op_type == "Gemm"]
    assert len(head) == 2, f"expected the pooler and classifier Gemm nodes, got {head}"
    if args.mode == "weights":
        quantized = quantize_weights_only(work, fp32)
        print(f"[quantize] int8 weights: {len(quantized)} tensors", flush=True)
    else:
        quantize_dynamic(
            work,
            fp32,
            op_types_to_quantize=["MatMul", "Gather"],
            weight_type=QuantType.QInt8,
            per_channel=True,
            # quantize_dynamic first rewrites every Gemm as MatMul + Add (named <gemm>_MatMul,
            # <gemm>_Add); the head's are left fp32 here and folded back into Gemm nodes below.
            nodes_to_exclude=[f"{name}_MatMul" for name in head],
            extra_options={"MatMulConstBOnly": True},
        )
        restore_gemm_head(fp32, head)
    onnx.checker.check_model(onnx.load(fp32))
    print(
        f"[quantize] {os.path.getsize(work) / 1e6:.1f} MB fp32 -> {os.path.getsize(fp32) / 1e6:.1f} MB int8 "
        f"({time.time() - t0:.0f}s)",
        flush=True,
    )
    heads = [n.op_type for n in onnx.load(fp32).graph.node if n.op_type in ("Gemm", "Tanh")]
    assert heads == ["Gemm", "Tanh", "Gemm"], f"head must stay fp32 Gemm -> Tanh -> Gemm, got {heads}"

    tok = BertTokenizer(os.path.join(REPO, "data/bert-base-uncased-vocab.txt"))
    texts, labels = [], []
    with open(os.path.join(REPO, "data/sst2/dev.tsv"), encoding="utf-8") as f:
        for line in f.read().split("\n")[1:]:
            if line:
                t, y = line.rsplit("\t", 1)
                texts.append(t)
                labels.append(int(y))
    seqs = [tok.encode(t) for t in texts]
    acc_fp32 = accuracy(run(session(work), seqs)[0], labels)
    q = session(fp32)
    acc_int8 = accuracy(run(q, seqs)[0], labels)
    print(f"[quantize] SST-2 dev accuracy fp32 {acc_fp32:.4f}, int8 {acc_int8:.4f}", flush=True)
    if acc_fp32 - acc_int8 > args.max_drop:
        shutil.move(work, fp32)
        raise SystemExit(
            f"int8 loses {100 * (acc_fp32 - acc_int8):.2f} points (> {100 * args.max_drop:.2f}); "
            "fp32 graph kept"
        )
    os.remove(work)

    ppath = os.path.join(folder, "parity.json")
    with open(ppath, encoding="utf-8") as f:
        parity = json.load(f)
    for case in parity["cases"]:
        lg, c = run(q, [case["input_ids"]])
        case["fp32_logits"] = case["logits"]
        case["logits"] = [float(x) for x in lg[0]]
        case["cls_embedding"] = [float(x) for x in c[0]]
    parity["outputs_from"] = f"int8 graph in onnxruntime {ort.__version__} (Python)"
    with open(ppath, "w", encoding="utf-8") as f:
        json.dump(parity, f, ensure_ascii=False)
        f.write("\n")

    cpath = os.path.join(folder, "model-card.json")
    with open(cpath) as f:
        card = json.load(f)
    card["files"]["onnx_sha256"] = sha256_file(fp32)
    card["files"]["parity"] = "parity.json (int8 graph outputs; fp32 PyTorch logits kept as fp32_logits)"
    card["quantization"] = {
        "mode": args.mode,
        "method": (
            "int8 weights (symmetric, per output column of each MatMul, per row of each embedding "
            "table) + DequantizeLinear; fp32 compute (models/quantize_minilm.py)"
            if args.mode == "weights"
            else "onnxruntime.quantization.quantize_dynamic (int8 MatMul and Gather, per channel)"
        ),
        "onnxruntime": ort.__version__,
        "kept_fp32": "pooler and classifier (Gemm), biases, LayerNorm",
        "sst2_dev_accuracy_fp32": round(acc_fp32, 6),
        "sst2_dev_accuracy_int8": round(acc_int8, 6),
        "max_drop_allowed": args.max_drop,
    }
    with open(cpath, "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    print(f"[quantize] {fp32}: {os.path.getsize(fp32) / 1e6:.1f} MB, parity.json and model card updated")


if __name__ == "__main__":
    main()
