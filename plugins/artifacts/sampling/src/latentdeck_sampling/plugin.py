"""Built-in artifact plugin ``latentdeck.sampling`` (being built; registers nothing yet)."""

from __future__ import annotations
