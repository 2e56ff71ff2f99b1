"""Built-in plugin ``latentdeck.network``: inspect a trained CNN on demand (no per-epoch generator).

The work happens in :mod:`latentdeck_network.inspection` (forward capture, channel inspect, single
conv step, kernels, perturbations, top-K); :mod:`latentdeck_network.requests` offers each operation as
an on-demand computation ``network-<operation>`` with its request model, writing under ``network/``.
Nothing heavy is imported until one is asked for.
"""

from __future__ import annotations

from pathlib import Path

from latentdeck import ComputationSpec, ViewSpec, hookimpl

from .requests import FILES, FOLDER, KEYS, OPERATIONS

# Operations that run the model over the whole held-out split: worth a worker of the run's executor
# (a Ray node) rather than the server's own process. The others touch one example.
HEAVY = frozenset({"topk"})


@hookimpl
def register_computations():
    return [ComputationSpec(name=f"network-{op}", runs="on_demand", request=request, compute=compute, key=KEYS[op],
                            folder=FOLDER, files=FILES[op], description=(request.__doc__ or "").strip(), heavy=op in HEAVY)
            for op, (request, compute) in OPERATIONS.items()]


@hookimpl
def register_views():
    return [ViewSpec(name="network", module=str(Path(__file__).parent / "views" / "network.js"), mount="page",
                     title="Network", computations=tuple(f"network-{op}" for op in OPERATIONS), order=10,
                     description="one held-out example through the trained CNN, layer by layer, down to one neuron: "
                                 "channel maps with their receptive field, one conv step by hand, kernels, top "
                                 "activations and a latent perturbation")]
