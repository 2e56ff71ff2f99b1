"""Built-in artifact plugin ``latentdeck.distortion`` (being built; registers nothing yet)."""

from __future__ import annotations
