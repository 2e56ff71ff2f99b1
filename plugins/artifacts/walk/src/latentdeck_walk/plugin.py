"""Built-in plugin ``latentdeck.walk``: latent walks on demand (no per-epoch generator).

The work is :class:`latentdeck_walk.walk.Walker`, which the API (``POST /api/runs/{id}/walks``) and the
CLI (``latentdeck walk``) call when a person asks; nothing runs after each epoch, so this module
implements no hook and imports nothing heavy.
"""

from __future__ import annotations
