"""The numerics behind the network artifacts, as small functions of tensors (no files, no runs).

- :func:`conv_step`: one output value of a conv1-like layer by hand (patch x kernel, sum, bias), and
  the element-wise modules that follow it (batch norm, activation) by hand too.
- :func:`aggregate_kernel`: a multi-channel 3x3 kernel's strength stencil (L2 over input channels)
  and its top contributing input channels.
- :func:`latent_vectors`: the per-example vectors a model's forward returns, which of them its
  decoder reads, and a deterministic sample z of q(z|x) when the model has mu and logvar.
- :func:`delta_tag` / :func:`parse_delta_tag`: a path-safe, reversible name for a perturbation.
- :func:`channel_scores`: per-image max or mean of one channel, for top-K.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .folders import MAX_ABS_DELTA, delta_tag, parse_delta_tag
from .layers import Call, Capture, _pair

CONV_STEP_TOLERANCE = 1e-5


def _elementwise_step(module: nn.Module, channel: int, value: float) -> tuple[str, str, float] | None:
    """(type, formula, output) of an element-wise module applied to ``value`` at ``channel``, or None."""
    if isinstance(module, nn.BatchNorm2d):
        mean, var = float(module.running_mean[channel]), float(module.running_var[channel])
        gamma = float(module.weight.detach()[channel]) if module.weight is not None else 1.0
        beta = float(module.bias.detach()[channel]) if module.bias is not None else 0.0
        out = (value - mean) / math.sqrt(var + module.eps) * gamma + beta
        return "BatchNorm2d", (f"(v - {mean:.6g}) / sqrt({var:.6g} + {module.eps:g}) * {gamma:.6g} + {beta:.6g}"), out
    if isinstance(module, nn.ReLU):
        return "ReLU", "max(0, v)", max(0.0, value)
    if isinstance(module, nn.LeakyReLU):
        slope = module.negative_slope
        return "LeakyReLU", f"v if v > 0 else {slope:g} * v", value if value > 0 else slope * value
    if isinstance(module, nn.Sigmoid):
        return "Sigmoid", "1 / (1 + exp(-v))", 1.0 / (1.0 + math.exp(-value))
    if isinstance(module, nn.Tanh):
        return "Tanh", "tanh(v)", math.tanh(value)
    return None


def conv_step(cap: Capture, call: Call, out_channel: int, x: int, y: int) -> dict[str, Any]:
    """Output (out_channel, y, x) of the conv1-like ``call`` by hand, next to the value the model produced.

    The patch is the 3x3 window of the layer's own input (kept by the capture) at rows
    ``y*s - p + i`` and columns ``x*s - p + j``; positions outside the image are the zero padding.
    Then the element-wise modules that read this output (in order) are applied by hand as well.
    """
    module: nn.Conv2d = call.module
    assert call.input is not None and call.output is not None, "capture the conv layer's input and output"
    image = call.input[0, 0].double()  # (H, W)
    height, width = image.shape
    (sh, sw), (ph, pw), (dh, dw) = _pair(module.stride), _pair(module.padding), _pair(module.dilation)
    kernel = module.weight[out_channel, 0].detach().double()  # (3, 3)
    patch = torch.zeros(3, 3, dtype=torch.float64)
    positions, padded = [], []
    for i in range(3):
        for j in range(3):
            row, col = y * sh - ph + i * dh, x * sw - pw + j * dw
            inside = 0 <= row < height and 0 <= col < width
            if inside:
                patch[i, j] = image[row, col]
            positions.append([row, col])
            padded.append(not inside)
    products = patch * kernel
    pre_bias = float(products.sum())
    bias = float(module.bias.detach()[out_channel]) if module.bias is not None else 0.0
    computed = pre_bias + bias
    captured = float(call.output[0, out_channel, y, x])
    steps, value = [], computed
    follower = _next_elementwise(cap, call)
    while follower is not None:
        step = _elementwise_step(follower.module, out_channel, value)
        if step is None or follower.output is None:
            break
        kind, formula, value = step
        steps.append({"layer_id": follower.id, "type": kind, "formula": formula, "value_computed": value,
                      "value_captured": float(follower.output[0, out_channel, y, x])})
        follower = _next_elementwise(cap, follower)
    return {
        "layer_id": call.id, "out_channel": out_channel, "x": x, "y": y,
        "stride": [sh, sw], "padding": [ph, pw],
        "input_patch": patch.tolist(), "patch_positions": positions, "patch_padded": padded,
        "kernel": kernel.tolist(), "products": products.tolist(),
        "pre_bias_sum": pre_bias, "bias": bias, "has_bias": module.bias is not None,
        "value_computed": computed, "value_captured": captured, "abs_diff": abs(computed - captured),
        "tolerance": CONV_STEP_TOLERANCE, "agree": abs(computed - captured) <= CONV_STEP_TOLERANCE,
        "activation": {
            "mode": " -> ".join(["conv"] + [s["type"] for s in steps]) if steps else "identity",
            "note": "value_computed/value_captured are the conv output before any activation; the steps apply "
                    "the element-wise layers that follow it in the model, by hand and as captured",
            "steps": steps,
            "final_computed": steps[-1]["value_computed"] if steps else computed,
            "final_captured": steps[-1]["value_captured"] if steps else captured,
        },
    }


def _next_elementwise(cap: Capture, call: Call) -> Call | None:
    """The call that reads ``call``'s output next, when it keeps the shape (batch norm, activation).

    Stops at the first reader, or where a new tensor takes over the same memory (its first reader
    was then a module we did not see as a tensor input, and the address means something else).
    """
    for later in cap.calls[call.order + 1:]:
        if later.in_ptr == call.out_ptr:
            return later if later.shape == call.shape else None
        if later.out_ptr == call.out_ptr:
            return None
    return None


def aggregate_kernel(weights: torch.Tensor, top: int) -> dict[str, Any]:
    """Strength stencil of one output channel's kernel ``weights`` (C_in, kh, kw).

    ``values[i][j] = sqrt(sum_c weights[c, i, j]^2)`` (L2 over input channels);
    ``in_channel_l2[c] = sqrt(sum_ij weights[c, i, j]^2)``; ``top`` input channels by that norm,
    descending (ties: lower channel first), each with its kh x kw slice.
    """
    w = weights.detach().double()
    stencil = w.pow(2).sum(0).sqrt()
    per_channel = w.pow(2).flatten(1).sum(1).sqrt()
    order = sorted(range(w.shape[0]), key=lambda c: (-float(per_channel[c]), c))[:top]
    return {
        "values": stencil.tolist(), "in_channel_l2": per_channel.tolist(),
        "top": [{"in_channel": c, "l2": float(per_channel[c]), "values": w[c].tolist()} for c in order],
    }


def sample_seed(run_seed: int, index: int) -> int:
    """The seed of the noise of ``z_sample`` for one held-out example: the same at every epoch."""
    return (int(run_seed) * 1_000_003 + int(index)) % (2 ** 63)


def latent_vectors(model, cap: Capture, capabilities: frozenset[str], run_seed: int, index: int
                   ) -> tuple[dict[str, torch.Tensor], list[str], dict[str, Any] | None]:
    """(vectors, decodable keys, sampling context) of one example's forward outputs.

    ``vectors``: every per-example vector the forward returned (shape (1, n), model parameters
    excluded), ``qc`` renamed ``qc_probs``; plus ``z_sample = mu + exp(logvar / 2) * eps`` with
    ``eps`` from a seeded generator when ``mu`` and ``logvar`` are present. ``decodable``: the keys
    equal to ``encode(x)`` (what the decoder reads in eval mode) and ``z_sample``.
    """
    vectors: dict[str, torch.Tensor] = {}
    for key, value in cap.outputs.items():
        if isinstance(value, torch.Tensor) and not isinstance(value, nn.Parameter) and value.dim() == 2 \
                and value.shape[0] == 1:
            vectors["qc_probs" if key == "qc" else key] = value[0].detach()
    decodable: list[str] = []
    sampling = None
    if {"latents", "decoder"} <= capabilities:
        with torch.no_grad():
            encoded = model.encode(cap.x)[0]
        decodable = [key for key, value in vectors.items() if value.shape == encoded.shape and torch.equal(value, encoded)]
        if "mu" in vectors and "logvar" in vectors and vectors["mu"].shape == encoded.shape:
            seed = sample_seed(run_seed, index)
            eps = torch.randn(vectors["mu"].shape, generator=torch.Generator().manual_seed(seed))
            vectors["z_sample"] = vectors["mu"] + (0.5 * vectors["logvar"]).exp() * eps
            decodable.append("z_sample")
            sampling = {"sample_id": f"heldout:{index}:seed={seed}", "seed": seed,
                        "formula": "z_sample = mu + exp(logvar / 2) * eps, eps = torch.randn(d) from "
                                   "torch.Generator().manual_seed(seed)",
                        "seed_rule": "run seed * 1000003 + held-out index (mod 2^63): the same noise at every epoch"}
    return vectors, decodable, sampling


def channel_scores(maps: torch.Tensor, metric: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-image score of (n, H, W) ``maps``: ``max`` (with the argmax's flat position) or ``mean``."""
    flat = maps.flatten(1)
    if metric == "max":
        scores, where = flat.max(1)  # first maximum in row-major order
        return scores, where
    return flat.mean(1), None


__all__ = ["MAX_ABS_DELTA", "aggregate_kernel", "channel_scores", "conv_step", "delta_tag", "latent_vectors", "parse_delta_tag",
           "sample_seed"]
