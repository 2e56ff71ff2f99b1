"""Built-in artifact plugin ``latentdeck.network`` (being built; registers nothing yet)."""

from __future__ import annotations
