"""Network inspection on demand: layers, forward capture, channel inspect, conv step, kernels,
perturbations and top-K activations of a run's CNN at any epoch with a checkpoint.

Each ``GET`` computes its folder under ``runs/<id>/network/`` on the first request (persisted before
the response returns, ``artifact.created`` per new file in the run's event log) and reads it from disk
afterwards; the answer lists the files, which ``GET /api/runs/{id}/artifacts/{name}`` serves. The
work is the ``latentdeck.network`` plugin's :class:`latentdeck_network.inspection.Inspector`; the
CLI's ``latentdeck inspect`` calls the same methods through :func:`inspector`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from ..events import EventLog
from ..ondemand import EpochModels, OnDemandError

router = APIRouter(prefix="/api/runs/{run_id}/network", tags=["network"])

_MODELS = EpochModels(capacity=4)

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such run, epoch checkpoint or layer"},
    409: {"description": "the run has no checkpoint yet"},
    422: {"description": "an argument out of range (the message names the valid range) or a layer of the wrong kind"},
}

Epoch = Query(None, max_length=20, description="an epoch with a checkpoint, or 'latest' (default)")


def _at_least(low: int, description: str, high: int | None = None, default: Any = ...) -> Any:
    """A query parameter whose range is documented in the schema and checked by the inspector, which
    names the valid range for this run (e.g. ``use 0..63``) in its 422."""
    bounds = {"minimum": low, **({"maximum": high} if high is not None else {})}
    return Query(default, description=description, json_schema_extra=bounds)


Index = _at_least(0, "held-out index")
Layer = Query(max_length=200, description="a layer id from /layers (characters A-Z a-z 0-9 _ . -)")


class NetworkArtifact(BaseModel):
    """One computed (or re-read) folder of network artifacts."""

    folder: str = Field(description="the folder, relative to the run, e.g. 'network/forward/epoch_3/idx_0'")
    files: list[str] = Field(description="its files by artifact name (GET /api/runs/{run_id}/artifacts/{name})")
    created: bool = Field(description="true when this request computed the files, false when read from disk")
    payload: dict[str, Any] = Field(description="the folder's JSON content (see the plugin's README for fields)")


class LayerRow(BaseModel):
    id: str = Field(description="stable, path-safe layer id from the module name, e.g. 'trunk.layers.0'")
    module: str
    type: str
    shape: list[int] = Field(description="output shape without the batch: (C, H, W) or (D,)")
    kind: Literal["spatial", "vector"]
    order: int
    channels: int
    params: dict[str, Any]
    conv1_like: bool = Field(description="a Conv2d on the image with one input channel and a 3x3 kernel")
    has_kernels: bool


class LayerListing(BaseModel):
    epoch: int = Field(description="the epoch whose checkpoint was read")
    epochs: list[int] = Field(description="every epoch with a checkpoint")
    model: str
    input_shape: list[int]
    heldout_size: int = Field(description="held-out examples: idx takes 0..heldout_size-1")
    max_topk_subset: int
    max_topk_k: int
    layers: list[LayerRow]


def inspector(run_dir: Path, run_id: str, pm=None):
    """The network plugin's inspector for one run, announcing new files as ``artifact.created`` events."""
    try:
        from latentdeck_network.inspection import Inspector
    except ImportError:
        raise OnDemandError("network inspection needs the latentdeck.network plugin, which is not installed", 501) from None

    def announce(names: list[str], epoch: int) -> None:
        # EventLog appends under an exclusive lock and re-reads the last seq when another writer (the
        # run's worker, a backfill) appended meanwhile, so this is safe while the run still trains.
        with EventLog(Path(run_dir) / "events.jsonl", run_id) as log:
            for name in names:
                log.emit("artifact.created", {"name": name, "latest": None, "kind": "network", "epoch": epoch,
                                              "generator": "network"})

    return Inspector(run_dir, _MODELS, pm, announce)


def _inspector(request: Request, run_id: str):
    return inspector(request.app.state.store.run_dir(run_id), run_id, request.app.state.pm)


def _answer(result) -> dict[str, Any]:
    return {"folder": result.folder, "files": result.files, "created": result.created, "payload": result.payload}


@router.get("/layers", response_model=LayerListing, responses=ERRORS)
def list_layers(run_id: str, request: Request, epoch: str | None = Epoch) -> dict[str, Any]:
    """Every layer of the model at an epoch (ids are stable across epochs): the ids the other endpoints take."""
    return _inspector(request, run_id).layers(epoch)


@router.get("/forward", response_model=NetworkArtifact, responses=ERRORS)
def forward(run_id: str, request: Request, idx: int = Index,
            epoch: str | None = Epoch) -> dict[str, Any]:
    """One held-out example through the model: input, reconstruction, every layer's grid or vector image,
    summaries, latent vectors (``network/forward/epoch_<N>/idx_<i>/``)."""
    return _answer(_inspector(request, run_id).forward(epoch, idx))


@router.get("/inspect", response_model=NetworkArtifact, responses=ERRORS)
def inspect_channel(run_id: str, request: Request, idx: int = Index,
                    layer: str = Layer, ch: int = _at_least(0, "channel"),
                    x: int | None = _at_least(0, "probe column in the layer's map; give x and y together, or neither", default=None),
                    y: int | None = _at_least(0, "probe row in the layer's map; give x and y together, or neither", default=None),
                    epoch: str | None = Epoch) -> dict[str, Any]:
    """One channel of one layer for one example: its map, a heatmap and an overlay on the input; with a
    probe (x, y) also the value there and its receptive field in the input."""
    if (x is None) != (y is None):
        raise OnDemandError("give both x and y for a probe, or neither", 422)
    probe = (x, y) if x is not None and y is not None else None
    return _answer(_inspector(request, run_id).inspect(epoch, idx, layer, ch, probe))


@router.get("/conv_step", response_model=NetworkArtifact, responses=ERRORS)
def conv_step(run_id: str, request: Request, idx: int = Index,
              layer: str = Layer, out: int = _at_least(0, "output channel"),
              x: int = _at_least(0, "output column"), y: int = _at_least(0, "output row"),
              epoch: str | None = Epoch) -> dict[str, Any]:
    """One output value of a conv1-like layer by hand (patch x kernel, sum, bias, activation) next to the
    value the model computed."""
    return _answer(_inspector(request, run_id).conv_step(epoch, idx, layer, out, x, y))


@router.get("/kernels", response_model=NetworkArtifact, responses=ERRORS)
def kernels(run_id: str, request: Request, layer: str = Layer,
            out: int = _at_least(0, "output channel"), epoch: str | None = Epoch) -> dict[str, Any]:
    """A conv layer's kernel for one output channel: the 3x3 values (one input channel) or the L2 strength
    stencil and the 4 input channels that contribute most."""
    return _answer(_inspector(request, run_id).kernels(epoch, layer, out))


@router.get("/perturb", response_model=NetworkArtifact, responses=ERRORS)
def perturb(run_id: str, request: Request, idx: int = Index,
            key: str = Query(max_length=64, description="a decodable vector: see latent.json 'decodable' (z, mu, z_sample)"),
            dim: int = _at_least(0, "the dimension to move"),
            delta: float = Query(description="added to the dimension (finite, |delta| <= 1000)",
                                 json_schema_extra={"minimum": -1000, "maximum": 1000}),
            epoch: str | None = Epoch) -> dict[str, Any]:
    """The reconstruction after adding ``delta`` to one dimension of a latent vector."""
    return _answer(_inspector(request, run_id).perturb(epoch, idx, key, dim, delta))


@router.get("/topk", response_model=NetworkArtifact, responses=ERRORS)
def topk(run_id: str, request: Request, layer: str = Layer,
         ch: int = _at_least(0, "channel"), metric: Literal["max", "mean"] = Query("max"),
         n: int = _at_least(1, "scan held-out examples 0..n-1 (at most the split's size)", 10_000, 2000),
         k: int = _at_least(1, "how many to keep (at most n)", 64, 9), epoch: str | None = Epoch) -> dict[str, Any]:
    """The k held-out examples (of the first n) that excite a channel most, by max or mean activation."""
    return _answer(_inspector(request, run_id).topk(epoch, layer, ch, metric, n, k))
