"""The options model of components that take none (shared by the contract's records)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class NoOptions(BaseModel):
    """Options model for components that take none."""

    model_config = ConfigDict(extra="forbid")
