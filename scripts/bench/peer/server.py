"""The peer of `npm run bench:peer`: "the usual serving stack" for a sentiment model.

FastAPI + uvicorn + transformers' pipeline("sentiment-analysis") on PyTorch (CPU), the design
this project grew from. Test tooling, not product: it serves the same fine-tuned weights as the
gateway, in Hugging Face's PyTorch layout (var/cache/models/sentiment-minilm-hf, written by
models/export_hf.py), with the gateway's request shape:

  POST /v1/predict  {"texts": ["..."]}
    -> {"model": {...}, "latency_ms": ..., "results": [{"label", "probabilities", "confidence"}]}
  GET  /health      200 once the model is loaded (uvicorn accepts connections only then)

Run it from var/venv-peer (scripts/bench/peer/requirements-peer.txt):

  var/venv-peer/bin/python scripts/bench/peer/server.py --model var/cache/models/sentiment-minilm-hf \
      [--port 8000] [--workers 1] [--threads 0]

or with uvicorn's own command line (settings then come from the environment):

  PEER_MODEL_DIR=... var/venv-peer/bin/uvicorn server:app --app-dir scripts/bench/peer \
      --host 127.0.0.1 --port 8000 --workers 1

PEER_MODEL_DIR: the model folder. PEER_TORCH_THREADS: torch.set_num_threads per worker; 0 (the
default) means one per available core, what PyPI's torch does by default (Debian's build was
seen starting with 1 thread, its OpenMP reporting omp_get_max_threads() == 1: so it is set).
PEER_SERIALIZE: 1 (the default) runs one pipeline call at a time per worker: the handler is a
plain `def`, so FastAPI runs it on its thread pool, and a lock keeps concurrent requests from
running forwards side by side (each forward already uses every core, and the fast tokenizer is
not safe to reconfigure from several threads at once); 0 drops the lock. It listens on loopback
only.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from contextlib import asynccontextmanager
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from fastapi import FastAPI, HTTPException  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402
from transformers import pipeline  # noqa: E402

HOST = "127.0.0.1"
MAX_LENGTH = 128
MAX_TEXTS = 64


class PredictRequest(BaseModel):
    texts: list[str] = Field(min_length=1, max_length=MAX_TEXTS)


class State:
    classifier: Any = None
    model_name: str = ""
    lock = threading.Lock()
    serialize = True


def check_model_dir(folder: str) -> None:
    """Fails early, with the reason, where transformers would fail late or obscurely."""
    for name in ("config.json", "model.safetensors"):
        if not os.path.isfile(os.path.join(folder, name)):
            sys.exit(f"[peer] {folder}: no {name} (a Hugging Face PyTorch model folder is needed)")
    from safetensors import safe_open

    with safe_open(os.path.join(folder, "model.safetensors"), framework="pt") as f:
        metadata = f.metadata()
    # transformers 4.44 reads metadata["format"] and fails with an AttributeError without it.
    if not metadata or metadata.get("format") != "pt":
        sys.exit(
            f"[peer] {folder}/model.safetensors has no __metadata__ {{\"format\": \"pt\"}} in its "
            "header, which transformers requires; re-export it with that metadata"
        )


@asynccontextmanager
async def lifespan(_app: FastAPI):
    folder = os.environ.get("PEER_MODEL_DIR", "")
    if not folder:
        sys.exit("[peer] PEER_MODEL_DIR is not set (the Hugging Face model folder)")
    check_model_dir(folder)
    threads = int(os.environ.get("PEER_TORCH_THREADS", "0")) or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    State.serialize = os.environ.get("PEER_SERIALIZE", "1") != "0"
    State.classifier = pipeline(
        "sentiment-analysis",
        model=folder,
        tokenizer=folder,
        device=-1,
        truncation=True,
        max_length=MAX_LENGTH,
    )
    State.model_name = os.path.basename(os.path.normpath(folder))
    State.classifier(["warm-up"], top_k=None)
    print(
        f"[peer] pid {os.getpid()}: {folder} loaded, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, serialize={State.serialize}",
        file=sys.stderr,
        flush=True,
    )
    yield
    State.classifier = None


app = FastAPI(title="Sentiment peer (FastAPI + transformers pipeline)", lifespan=lifespan)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


def classify(texts: list[str]) -> list[list[dict[str, Any]]]:
    # top_k=None: every label's score (the gateway answers both probabilities too).
    if State.serialize:
        with State.lock:
            return State.classifier(texts, top_k=None)
    return State.classifier(texts, top_k=None)


@app.post("/v1/predict")
def predict(request: PredictRequest) -> dict[str, Any]:
    if any(not text.strip() for text in request.texts):
        raise HTTPException(status_code=400, detail="texts: empty or whitespace-only text")
    started = time.perf_counter()
    scored = classify(request.texts)
    latency_ms = (time.perf_counter() - started) * 1000
    results = []
    for scores in scored:
        best = max(scores, key=lambda s: s["score"])
        results.append(
            {
                "label": best["label"],
                "probabilities": {s["label"]: s["score"] for s in scores},
                "confidence": best["score"],
            }
        )
    return {
        "model": {"name": State.model_name, "version": "hf-pytorch"},
        "latency_ms": latency_ms,
        "results": results,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.environ.get("PEER_MODEL_DIR"), help="Hugging Face model folder")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (1, as usual)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads per worker; 0: one per core")
    ap.add_argument("--no-serialize", action="store_true", help="let pipeline calls run side by side")
    args = ap.parse_args()
    if not args.model:
        ap.error("--model (or PEER_MODEL_DIR) is required")
    check_model_dir(args.model)
    # Workers are separate processes: they read their settings from the environment.
    os.environ["PEER_MODEL_DIR"] = os.path.abspath(args.model)
    os.environ["PEER_TORCH_THREADS"] = str(args.threads)
    os.environ["PEER_SERIALIZE"] = "0" if args.no_serialize else "1"
    import uvicorn

    uvicorn.run(
        "server:app",
        app_dir=os.path.dirname(os.path.abspath(__file__)),
        host=HOST,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
