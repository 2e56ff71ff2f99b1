"""The network plugin's on-demand computations: one request model and one ``compute`` per operation.

Ranges that depend on the run (held-out size, channels, layer ids) are checked by the
:class:`latentdeck_network.inspection.Inspector`, whose 4xx names the valid range for that run. Each operation
but ``layers`` has a ``key`` (:data:`KEYS`): the host keeps its answer as ``network/<key>/`` and serves a repeat
from disk.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from latentdeck import ComputationResult

from .folders import inspect_key, perturb_key

FOLDER = "network"
FILES = {  # each operation's own files (network-layers answers a payload and writes none)
    "layers": (),
    "forward": ("forward/epoch_{epoch}/idx_{idx:int}/{file}", "forward/epoch_{epoch}/idx_{idx:int}/layer_{layer}/{file}"),
    "inspect": ("inspect/epoch_{epoch}/idx_{idx:int}/layer_{layer}/ch_{ch:int}/{file}",
                "inspect/epoch_{epoch}/idx_{idx:int}/layer_{layer}/ch_{ch:int}_probe_x_{x:int}_y_{y:int}/{file}"),
    "conv-step": ("conv_step/epoch_{epoch}/idx_{idx:int}/layer_{layer}/out_{out:int}/x_{x:int}_y_{y:int}/{file}",),
    "kernels": ("kernels/epoch_{epoch}/layer_{layer}/out_{out:int}/{file}",),
    "perturb": ("perturb/epoch_{epoch}/idx_{idx:int}/vector_{key}/dim_{dim:int}/delta_{delta}/{file}",),
    "topk": ("topk/epoch_{epoch}/layer_{layer}/ch_{ch:int}/metric_{metric}/subset_{n:int}/k_{k:int}/{file}",),
}
Epoch = Field(None, description="an epoch with a checkpoint (default: the newest)")
NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"  # a layer id or vector key: one safe folder-name part, as the key uses it
Layer = Field(max_length=200, pattern=NAME, description="a layer id from network-layers (characters A-Z a-z 0-9 _ . -)")


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # a number must be a JSON number (no true, no "1")
    epoch: int | None = Epoch


class LayersRequest(_Request):
    """Every layer of the model at an epoch (ids are stable across epochs)."""


class ForwardRequest(_Request):
    """One held-out example through the model: every layer's grid or vector image, summaries, latents."""
    idx: int = Field(ge=0, description="held-out index")


class InspectRequest(_Request):
    """One channel of one layer for one example; with a probe (x, y) also its receptive field."""
    idx: int = Field(ge=0, description="held-out index")
    layer: str = Layer
    ch: int = Field(ge=0, description="channel")
    x: int | None = Field(None, ge=0, description="probe column in the layer's map (give x and y together)")
    y: int | None = Field(None, ge=0, description="probe row in the layer's map (give x and y together)")

    @model_validator(mode="after")
    def _probe_pair(self):
        if (self.x is None) != (self.y is None):
            raise ValueError("give both x and y for a probe, or neither")
        return self


class ConvStepRequest(_Request):
    """One output value of a conv1-like layer by hand next to the value the model computed."""
    idx: int = Field(ge=0, description="held-out index")
    layer: str = Layer
    out: int = Field(ge=0, description="output channel")
    x: int = Field(ge=0, description="output column")
    y: int = Field(ge=0, description="output row")


class KernelsRequest(_Request):
    """A conv layer's kernel for one output channel."""
    layer: str = Layer
    out: int = Field(ge=0, description="output channel")


class PerturbRequest(_Request):
    """The reconstruction after adding delta to one dimension of a latent vector."""
    idx: int = Field(ge=0, description="held-out index")
    key: str = Field(max_length=64, pattern=NAME, description="a decodable vector: see latent.json 'decodable' (z, mu, z_sample)")
    dim: int = Field(ge=0, description="the dimension to move")
    delta: float = Field(ge=-1000, le=1000, allow_inf_nan=False, description="added to the dimension (|delta| <= 1000)")


class TopkRequest(_Request):
    """The k held-out examples (of the first n) that excite a channel most."""
    layer: str = Layer
    ch: int = Field(ge=0, description="channel")
    metric: Literal["max", "mean"] = "max"
    n: int = Field(2000, ge=1, le=10_000, description="scan held-out examples 0..n-1 (at most the split's size)")
    k: int = Field(9, ge=1, le=64, description="how many to keep (at most n)")


def _inspector(ctx):
    from .inspection import Inspector

    return Inspector(ctx)


def layers(ctx, r: LayersRequest) -> ComputationResult:
    return ComputationResult(payload=_inspector(ctx).layers(ctx.epoch), files=(), created=False)


def forward(ctx, r: ForwardRequest) -> ComputationResult:
    return ComputationResult(payload=_inspector(ctx).forward(ctx.epoch, r.idx))


def inspect(ctx, r: InspectRequest) -> ComputationResult:
    probe = (r.x, r.y) if r.x is not None and r.y is not None else None
    return ComputationResult(payload=_inspector(ctx).inspect(ctx.epoch, r.idx, r.layer, r.ch, probe))


def conv_step(ctx, r: ConvStepRequest) -> ComputationResult:
    return ComputationResult(payload=_inspector(ctx).conv_step(ctx.epoch, r.idx, r.layer, r.out, r.x, r.y))


def kernels(ctx, r: KernelsRequest) -> ComputationResult:
    return ComputationResult(payload=_inspector(ctx).kernels(ctx.epoch, r.layer, r.out))


def perturb(ctx, r: PerturbRequest) -> ComputationResult:
    return ComputationResult(payload=_inspector(ctx).perturb(ctx.epoch, r.idx, r.key, r.dim, r.delta))


def topk(ctx, r: TopkRequest) -> ComputationResult:
    return ComputationResult(payload=_inspector(ctx).topk(ctx.epoch, r.layer, r.ch, r.metric, r.n, r.k))


# Each answer's folder inside network/ (the host keeps it: served from disk on a repeat); layers writes nothing.
KEYS = {
    "layers": None, "forward": "forward/epoch_{epoch}/idx_{idx}", "inspect": inspect_key,
    "conv-step": "conv_step/epoch_{epoch}/idx_{idx}/layer_{layer}/out_{out}/x_{x}_y_{y}",
    "kernels": "kernels/epoch_{epoch}/layer_{layer}/out_{out}", "perturb": perturb_key,
    "topk": "topk/epoch_{epoch}/layer_{layer}/ch_{ch}/metric_{metric}/subset_{n}/k_{k}",
}
OPERATIONS = {
    "layers": (LayersRequest, layers), "forward": (ForwardRequest, forward), "inspect": (InspectRequest, inspect),
    "conv-step": (ConvStepRequest, conv_step), "kernels": (KernelsRequest, kernels),
    "perturb": (PerturbRequest, perturb), "topk": (TopkRequest, topk),
}
