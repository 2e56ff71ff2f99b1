"""Built-in plugin ``latentdeck.network``: inspect a trained CNN on demand (no per-epoch generator).

The work happens in :mod:`latentdeck_network.inspection` (forward capture, channel inspect, single
conv step, kernels, perturbations, top-K), which the API (``/api/runs/{id}/network/...``) and the
CLI (``latentdeck inspect``) call when a person asks; nothing runs after each epoch, so this module
implements no hook and imports nothing heavy.
"""

from __future__ import annotations
