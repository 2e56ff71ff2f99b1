"""Layer discovery and capture for any ``nn.Module`` model: forward hooks over its named leaf modules.

A layer is a leaf module (no children) that runs during ``forward(x)`` and returns a tensor shaped
(b, C, H, W) (``kind="spatial"``) or (b, D) (``kind="vector"``). Its id is the module's qualified
name made path-safe (``trunk.layers.0``): it comes from the architecture, so it is the same at every
epoch. Hooks clone what they keep, because in-place modules (``ReLU(inplace=True)``) overwrite their
producer's output afterwards.

Importing this module imports torch; the plugin's registration module never does.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

# Modules that map each value to one value at the same position: they keep a receptive field as is.
ELEMENTWISE = (nn.BatchNorm2d, nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh,
               nn.Dropout, nn.Dropout2d, nn.Identity)
WINDOWED = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


def layer_id(module_name: str) -> str:
    """The path-safe, stable id of a module name (characters outside ``[A-Za-z0-9_.-]`` become ``_``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", module_name) or "model"


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def module_params(module: nn.Module) -> dict[str, Any]:
    """The hyper-parameters a person reads next to a layer (conv geometry, feature counts)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        return {"in_channels": module.in_channels, "out_channels": module.out_channels,
                "kernel_size": list(_pair(module.kernel_size)), "stride": list(_pair(module.stride)),
                "padding": list(_pair(module.padding)), "dilation": list(_pair(module.dilation)),
                "groups": module.groups, "bias": module.bias is not None}
    if isinstance(module, nn.Linear):
        return {"in_features": module.in_features, "out_features": module.out_features, "bias": module.bias is not None}
    if isinstance(module, nn.BatchNorm2d):
        return {"num_features": module.num_features, "eps": module.eps}
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        return {"kernel_size": list(_pair(module.kernel_size)), "stride": list(_pair(module.stride)),
                "padding": list(_pair(module.padding))}
    return {}


@dataclass
class Call:
    """One leaf module's call in one forward pass."""

    name: str
    module: nn.Module
    order: int
    output: torch.Tensor | None  # a clone, or None when not kept
    shape: tuple[int, ...]  # output shape without the batch dimension
    in_ptr: int  # data_ptr of the first input: traces which call produced it
    out_ptr: int
    input: torch.Tensor | None = None  # a clone of the first input, when asked for

    @property
    def id(self) -> str:
        return layer_id(self.name)

    @property
    def kind(self) -> str:
        return "spatial" if len(self.shape) == 3 else "vector"


@dataclass
class Capture:
    """A forward pass with the calls of every layer, in the order they ran."""

    x: torch.Tensor
    outputs: dict[str, Any]
    calls: list[Call] = field(default_factory=list)

    def by_id(self) -> dict[str, Call]:
        return {call.id: call for call in self.calls}


class _Stop(Exception):
    """Raised by a hook to end a forward pass once the wanted layer has run."""


_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def _model_lock(model: nn.Module) -> threading.Lock:
    """One lock per model object: hooks are per module, so two captures must not overlap."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(model, threading.Lock())


def leaf_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, module) for name, module in model.named_modules() if name and not list(module.children())]


def capture(model: nn.Module, x: torch.Tensor, keep: set[str] | None = None, inputs: set[str] = frozenset(),
            stop_after: str | None = None) -> Capture:
    """Run ``model(x)`` in eval mode without gradients, recording every layer call.

    ``keep``: layer ids whose outputs are kept (None keeps all); ``inputs``: layer ids whose input is
    kept too; ``stop_after``: end the pass right after that layer ran (``outputs`` is then empty).
    A module called more than once is recorded at its first call.
    """
    calls: list[Call] = []
    seen: set[str] = set()

    def hook(name: str):
        lid = layer_id(name)

        def record(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            if lid in seen or not isinstance(output, torch.Tensor) or output.dim() not in (2, 4):
                return
            seen.add(lid)
            first = args[0] if args and isinstance(args[0], torch.Tensor) else None
            calls.append(Call(
                name=name, module=module, order=len(calls),
                output=output.detach().clone() if keep is None or lid in keep else None,
                shape=tuple(output.shape[1:]), in_ptr=first.data_ptr() if first is not None else -1,
                out_ptr=output.data_ptr(),
                input=first.detach().clone() if first is not None and lid in inputs else None))
            if lid == stop_after:
                raise _Stop

        return record

    outputs: dict[str, Any] = {}
    with _model_lock(model):
        handles = [module.register_forward_hook(hook(name)) for name, module in leaf_modules(model)]
        model.eval()
        try:
            with torch.no_grad():
                try:
                    result = model(x)
                    outputs = result if isinstance(result, dict) else {"output": result}
                except _Stop:
                    pass
        finally:
            for handle in handles:
                handle.remove()
    return Capture(x=x, outputs=outputs, calls=calls)


def layer_rows(cap: Capture) -> list[dict[str, Any]]:
    """``layers.json`` rows: id, module name, type, shape, kind, order, parameters and what a layer supports."""
    rows = []
    for call in cap.calls:
        rows.append({
            "id": call.id, "module": call.name, "type": type(call.module).__name__, "shape": list(call.shape),
            "kind": call.kind, "order": call.order, "channels": call.shape[0],
            "params": module_params(call.module),
            "conv1_like": is_conv1_like(cap, call), "has_kernels": isinstance(call.module, nn.Conv2d),
        })
    return rows


def producer(cap: Capture, call: Call) -> Call | None:
    """The latest call before ``call`` whose output is ``call``'s input (in-place modules included)."""
    for earlier in reversed(cap.calls[:call.order]):
        if earlier.out_ptr == call.in_ptr:
            return earlier
    return None


def path_from_input(cap: Capture, call: Call) -> tuple[list[Call] | None, str]:
    """The chain of calls from the model's input to ``call`` (input first), or (None, why not)."""
    chain = [call]
    current = call
    while current.in_ptr != cap.x.data_ptr():
        before = producer(cap, current)
        if before is None:
            return None, f"cannot trace the input of {current.name} back to the image"
        chain.append(before)
        current = before
    return chain[::-1], ""


def is_conv1_like(cap: Capture, call: Call) -> bool:
    """A Conv2d reading the image itself, with one input channel, a 3x3 kernel and zero padding."""
    module = call.module
    return (isinstance(module, nn.Conv2d) and module.in_channels == 1 and _pair(module.kernel_size) == (3, 3)
            and module.groups == 1 and module.padding_mode == "zeros" and call.in_ptr == cap.x.data_ptr())


def receptive_field(cap: Capture, call: Call, x: int, y: int) -> dict[str, Any]:
    """The input rectangle that position (x, y) of ``call``'s output can see, clamped to the input.

    Walks the chain from the image: windowed modules (Conv2d, pooling) widen the interval by
    ``[a*s - p, b*s - p + d*(k-1)]``; element-wise ones keep it; anything else (a Linear, a reshape,
    a transposed convolution) mixes positions, so the field is ``unavailable`` with the reason.
    """
    chain, why = path_from_input(cap, call)
    if chain is None:
        return {"status": "unavailable", "reason": why}
    for step in chain:
        if not isinstance(step.module, WINDOWED + ELEMENTWISE):
            return {"status": "unavailable",
                    "reason": f"{step.name} ({type(step.module).__name__}) lies between the image and this layer "
                              "and mixes positions, so no input rectangle corresponds to one output position"}
    x0, x1, y0, y1 = x, x, y, y
    for step in reversed(chain):
        module = step.module
        if isinstance(module, WINDOWED):
            (kh, kw), (sh, sw), (ph, pw) = _pair(module.kernel_size), _pair(module.stride), _pair(module.padding)
            dh, dw = _pair(getattr(module, "dilation", 1))
            x0, x1 = x0 * sw - pw, x1 * sw - pw + dw * (kw - 1)
            y0, y1 = y0 * sh - ph, y1 * sh - ph + dh * (kh - 1)
    _, _, height, width = cap.x.shape
    clamp = {"x0": max(0, x0), "y0": max(0, y0), "x1": min(width - 1, x1), "y1": min(height - 1, y1)}
    return {"status": "ok", "bounds": clamp, "unclamped": {"x0": x0, "y0": y0, "x1": x1, "y1": y1},
            "clamped": clamp != {"x0": x0, "y0": y0, "x1": x1, "y1": y1},
            "size": [y1 - y0 + 1, x1 - x0 + 1], "input_shape": [height, width],
            "path": [step.id for step in chain]}
