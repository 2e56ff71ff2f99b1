"""Nearest training digits, on demand: for one digit (held-out or training), the ``k`` training digits whose
latents are closest to its latent, with their input images side by side.

The latent is the model's ``encode(x)`` — ``z`` for the AE, ``mu`` of q(z|x) for the GM-VAE — the same one
the per-epoch kNN files use. The search set is the run's training split as the run trained on it (every
example, or the ``limit`` subset recorded in ``config.json: train_subset``); above ``TRAIN_CAP`` examples an
evenly spaced pick of ``TRAIN_CAP`` of them (by position in that list, so a class-ordered dataset keeps its
class mix). Distances are exact Euclidean distances in float64 over every searched example (no index:
10,000 x d is a few milliseconds); a training digit asked about is never its own neighbour.

The encoded training split is kept in memory per checkpoint (run folder, epoch, checkpoint mtime), so a
second digit of the same epoch costs one encode and one distance pass. Each answer is one folder (the spec's
``key``): the host writes it once and serves it from disk afterwards::

    neighbors/train/epoch_<N>/<split>_<idx>_k_<k>/nearest.json, strip.png
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ComputationResult
from latentdeck.kit import OnDemandError, dumps

FOLDER = "neighbors"  # the knn artifact's folder; these files live under its train/ sub-folder
KEY = "train/epoch_{epoch}/{split}_{idx}_k_{k}"  # one answer's folder inside FOLDER
FILES = tuple(f"train/epoch_{{epoch:int}}/{{split}}_{{idx:int}}_k_{{k:int}}/{name}"
              for name in ("nearest.json", "strip.png"))
MAX_K = 32
TRAIN_CAP = 10_000  # searched training examples at most: a 60,000-digit MNIST encodes in seconds, not a minute
ENCODE_CHUNK = 1_000  # examples per forward pass (the one-thread lock is released between chunks)
PAD = 2
CACHE_CAPACITY = 4  # checkpoints whose encoded training split is kept (10,000 x 16 floats = 1.3 MB each)

Split = Literal["heldout", "train"]


class NearestTrainRequest(BaseModel):
    """One digit (by dataset index and split) at one epoch, and how many nearest training digits to return."""

    model_config = ConfigDict(extra="forbid", strict=True)  # a number must be a JSON number (no "1", no true)

    idx: int = Field(ge=0, le=10_000_000, description="dataset index of the digit asked about (in split)")
    split: Split = Field("heldout", description="split of that digit: heldout or train")
    k: int = Field(8, ge=1, le=MAX_K, description=f"how many nearest training digits, 1..{MAX_K}")
    epoch: Annotated[int, Field(ge=1, le=10_000)] | Literal["latest"] | None = Field(
        None, description="an epoch with a checkpoint, or latest (default: the newest)")


@dataclass(frozen=True)
class TrainLatents:
    """The searched training examples of one checkpoint, encoded."""

    indices: Any  # (n,) int64 dataset indices in the training split
    latents: Any  # (n, d) float64
    labels: Any  # (n,) int64
    of: int  # examples in the training split
    trained_on: int  # examples the run optimised on
    encode_ms: float


_CACHE: OrderedDict[tuple, TrainLatents] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_KEY_LOCKS: dict[tuple, threading.Lock] = {}
_TRAIN: dict[tuple[str, str], Any] = {}


def trained_indices(config: dict[str, Any], n_train: int) -> list[int]:
    """The training-split indices the run optimised on, ascending: ``train_subset.indices`` when ``limit`` chose
    a subset, the first ``limit`` for a run made before that record existed, else every example (the host's
    rule for the visualization subset's ``trained`` flag)."""
    subset = config.get("train_subset") or {}
    if subset.get("indices") is not None:
        return sorted({int(i) for i in subset["indices"]})
    limit = config.get("limit")
    return list(range(int(limit) if limit and limit < n_train else n_train))


def searched_indices(trained: list[int], cap: int | None = None) -> list[int]:
    """``trained`` itself, or an evenly spaced pick of ``cap`` (default ``TRAIN_CAP``) of its entries (first and
    last included)."""
    import numpy as np

    cap = TRAIN_CAP if cap is None else cap
    if len(trained) <= cap:
        return list(trained)
    picks = np.linspace(0, len(trained) - 1, cap).round().astype(np.int64)  # distinct: spacing > 1
    return [trained[int(i)] for i in picks]


def _train_split(loaded):
    key = (loaded.config["dataset"], str(loaded.config["data_dir"]))
    with _CACHE_LOCK:
        if key not in _TRAIN:
            if len(_TRAIN) >= 2:
                _TRAIN.pop(next(iter(_TRAIN)))
            _TRAIN[key] = loaded.dataset_spec.load(Path(loaded.config["data_dir"]), "train")
        return _TRAIN[key]


def _stopped(ctx) -> None:
    fence = getattr(ctx, "fence", None)
    if fence is not None and fence.reason is not None:
        raise OnDemandError(f"nearest-train was stopped: {fence.reason}", 409)


def train_latents(ctx, loaded) -> tuple[TrainLatents, bool]:
    """The encoded searched training examples of this checkpoint and whether they came from memory."""
    import numpy as np
    import torch

    from latentdeck.kit import single_threaded, to_float_images

    checkpoint = Path(ctx.run_dir) / "checkpoints" / f"epoch_{loaded.epoch}.pt"
    key = (str(Path(ctx.run_dir).resolve()), loaded.epoch, checkpoint.stat().st_mtime)
    with _CACHE_LOCK:
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:  # two first requests for one checkpoint encode it once
        with _CACHE_LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return _CACHE[key], True
        started = time.perf_counter()
        train = _train_split(loaded)
        n_train = len(train.labels)
        trained = trained_indices(loaded.config, n_train)
        chosen = torch.as_tensor(searched_indices(trained), dtype=torch.long)
        shape = tuple(loaded.dataset_spec.image_shape)
        parts = []
        for start in range(0, len(chosen), ENCODE_CHUNK):
            _stopped(ctx)
            x = to_float_images(train.images[chosen[start:start + ENCODE_CHUNK]], shape)
            with torch.no_grad(), single_threaded():
                parts.append(loaded.model.encode(x).double().numpy())
        latents = np.concatenate(parts) if parts else np.zeros((0, 1))
        entry = TrainLatents(chosen.numpy().astype(np.int64), latents, train.labels[chosen].long().numpy(),
                             n_train, len(trained), round((time.perf_counter() - started) * 1000, 2))
        with _CACHE_LOCK:
            _CACHE[key] = entry
            while len(_CACHE) > CACHE_CAPACITY:
                _KEY_LOCKS.pop(_CACHE.popitem(last=False)[0], None)
        return entry, False


def query_example(loaded, split: str, idx: int):
    """Image (1, c, h, w) in [0, 1] and label of the digit asked about; 422 naming idx when out of range."""
    from latentdeck.kit import to_float_images

    if split == "heldout":
        images, labels = loaded.heldout_split()
        n = len(images)
        if idx >= n:
            raise OnDemandError(f"idx {idx} is outside the held-out split of {loaded.config['dataset']}: "
                                f"use 0..{n - 1}", 422)
        return images[idx:idx + 1], int(labels[idx])
    train = _train_split(loaded)
    n = len(train.labels)
    if idx >= n:
        raise OnDemandError(f"idx {idx} is outside the training split of {loaded.config['dataset']}: "
                            f"use 0..{n - 1}", 422)
    return to_float_images(train.images[idx:idx + 1], tuple(loaded.dataset_spec.image_shape)), int(train.labels[idx])


def nearest(latents, query, indices, k: int, exclude: int | None = None):
    """Positions of the ``k`` rows of ``latents`` nearest to ``query`` (Euclidean, float64), nearest first, ties
    by dataset index; the row whose dataset index is ``exclude`` is skipped. Returns (positions, distances)."""
    import numpy as np

    diff = np.asarray(latents, dtype=np.float64) - np.asarray(query, dtype=np.float64)[None, :]
    distances = np.sqrt((diff * diff).sum(1))  # (n,)
    keep = np.ones(len(distances), dtype=bool) if exclude is None else np.asarray(indices) != exclude
    candidates = np.flatnonzero(keep)
    order = candidates[np.lexsort((np.asarray(indices)[candidates], distances[candidates]))][:k]
    return order, distances[order]


def _outputs(loaded, x) -> dict[str, Any]:
    """Per row: (prediction, component, confidence) from the model's own heads when it has them."""
    import torch

    capabilities = loaded.model_spec.capabilities
    if not ({"classifier", "mixture"} & set(capabilities)):
        return {"predicted_by": None, "rows": [(None, None, None)] * len(x)}
    with torch.no_grad():
        out = loaded.model(x)
    probs_p = torch.softmax(out["logits"].double(), 1) if "classifier" in capabilities and "logits" in out else None
    probs_c = out["qc"].double() if "mixture" in capabilities and "qc" in out else None
    by = "classifier" if probs_p is not None else ("mixture" if probs_c is not None else None)
    shown = probs_p if probs_p is not None else probs_c
    rows = []
    for i in range(len(x)):
        rows.append((int(probs_p[i].argmax()) if probs_p is not None else None,
                     int(probs_c[i].argmax()) if probs_c is not None else None,
                     round(float(shown[i].max()), 6) if shown is not None else None))
    return {"predicted_by": by, "rows": rows}


def strip_png(images) -> tuple[bytes, dict[str, Any]]:
    """Images (n, c, h, w) in [0, 1] side by side, ``PAD`` px apart, as a grayscale PNG, with its layout."""
    from latentdeck.kit import image_strip

    return image_strip(images, PAD, "left to right, nearest first")


def compute(ctx, request: NearestTrainRequest) -> ComputationResult:
    """One answer, written into ``ctx.folder`` (the host publishes it as ``neighbors/<KEY>/``)."""
    loaded = ctx.load(ctx.epoch)  # the epoch the host resolved; 422 without latents
    x_query, label = query_example(loaded, request.split, request.idx)
    folder = f"{FOLDER}/{KEY.format(epoch=loaded.epoch, split=request.split, idx=request.idx, k=request.k)}"
    payload, png = _answer(ctx, loaded, request, x_query, label, folder)
    (ctx.folder / "strip.png").write_bytes(png)
    (ctx.folder / "nearest.json").write_text(dumps(payload) + "\n")
    return ComputationResult(payload=payload)


def _answer(ctx, loaded, r: NearestTrainRequest, x_query, label: int, folder: str):
    import numpy as np
    import torch

    from latentdeck.kit import single_threaded, to_float_images

    started = time.perf_counter()
    searched, from_memory = train_latents(ctx, loaded)
    with torch.no_grad(), single_threaded():
        query = loaded.model.encode(x_query)[0].double().numpy()
    self_in = r.split == "train" and bool((searched.indices == r.idx).any())
    available = len(searched.indices) - int(self_in)
    if available < 1:
        raise OnDemandError("the run's training split holds no other example to compare with", 422)
    k = min(r.k, available)
    order, distances = nearest(searched.latents, query, searched.indices, k, r.idx if self_in else None)
    idx = [int(i) for i in searched.indices[order]]
    train = _train_split(loaded)
    shape = tuple(loaded.dataset_spec.image_shape)
    images = to_float_images(train.images[torch.as_tensor(idx, dtype=torch.long)], shape)  # (k, c, h, w)
    with single_threaded():
        heads = _outputs(loaded, torch.cat([x_query, images]))
    png, layout = strip_png(images)
    n, cap = len(searched.indices), TRAIN_CAP
    capped = searched.trained_on > n
    which = (f"{n:,} of the {searched.trained_on:,} training digits the run trained on (an evenly spaced pick: at most "
             f"{cap:,} are searched)" if capped else f"all {n:,} training digits the run trained on")
    latent = loaded.model_spec.latent_name
    prediction, component, confidence = heads["rows"][0]
    return {
        "kind": "nearest_train", "epoch": loaded.epoch, "model": loaded.config["model"], "latent": latent,
        "latent_dim": int(query.shape[0]), "metric": "euclidean",
        "query": {"split": r.split, "idx": r.idx, "label": label, "prediction": prediction, "component": component,
                  "confidence": confidence},
        "k": k, "k_requested": r.k, "predicted_by": heads["predicted_by"],
        "searched": {"split": "train", "n": n, "of": searched.of, "trained_on": searched.trained_on, "cap": cap,
                     "capped": capped, "self_excluded": self_in,
                     "text": f"{which}, encoded with the epoch-{loaded.epoch} checkpoint ({latent})"
                             + ("; the digit itself is left out" if self_in else "")},
        "neighbors": [{"rank": rank, "idx": i, "split": "train", "label": int(searched.labels[p]),
                       "distance": round(float(d), 6), "prediction": heads["rows"][rank + 1][0],
                       "component": heads["rows"][rank + 1][1], "confidence": heads["rows"][rank + 1][2]}
                      for rank, (i, p, d) in enumerate(zip(idx, order, distances))],
        "strip": {"png": f"{folder}/strip.png", **layout},
        "train_latents": "from memory" if from_memory else "computed", "encode_ms": searched.encode_ms,
        "compute_ms": round((time.perf_counter() - started) * 1000, 2),
    }, png
