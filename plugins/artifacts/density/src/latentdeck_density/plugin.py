"""Built-in artifact plugin ``latentdeck.density`` (being built; registers nothing yet)."""

from __future__ import annotations
