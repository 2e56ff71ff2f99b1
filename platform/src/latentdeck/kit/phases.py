"""Training phases a model reports (``ModelSpec.phases``), checked once and shared by every reader.

A phase is ``{"name", "label", "kind", "start", "end", "text"}`` in epochs counted from 1:
``kind: "span"`` covers epochs ``start..end`` (pretraining, q(c|x) held, an anneal window);
``kind: "moment"`` happens once, between epoch ``start - 1`` and epoch ``start`` (``end == start``;
the prior initialised before epoch 9). The host emits them as one ``model.phases`` event when a run
starts, the API returns them with a run (``GET /api/runs/{id}`` → ``phases``), and artifact
generators and on-demand computations read them (``ctx.phases``) so a verdict knows where training is.
"""

from __future__ import annotations

import logging
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..types import ResolvedRun

log = logging.getLogger(__name__)


class Phase(BaseModel):
    """One phase of a run's training, as a model plugin declares it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="a stable identifier, e.g. 'pretraining', 'prior_init', 'qc_held'")
    label: str = Field(description="a few words for an axis or a legend, e.g. 'pretraining (recon only)'")
    kind: Literal["span", "moment"] = Field("span", description="span: epochs start..end; moment: just before epoch start")
    start: int = Field(ge=1, description="first epoch of a span, or the epoch a moment comes before")
    end: int = Field(ge=1, description="last epoch of a span (start for a moment)")
    text: str = Field("", description="one or two sentences for people: what happens and why")

    @model_validator(mode="after")
    def _ordered(self) -> "Phase":
        if self.end < self.start:
            raise ValueError(f"phase {self.name!r} ends (epoch {self.end}) before it starts (epoch {self.start})")
        if self.kind == "moment" and self.end != self.start:
            raise ValueError(f"phase {self.name!r} is a moment: end must equal start")
        return self


def run_phases(model_spec, config: ResolvedRun | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The phases of a run from its model's ``phases(options, epochs)``: validated, sorted by start, clipped
    to the run's epochs. ``config``: the :class:`~latentdeck.types.ResolvedRun` (its parsed options are used
    as they are) or config.json's dict. A model without phases, or one whose hook raises or returns malformed
    records, has none (logged): phases explain training, they never stop a run or a page."""
    produce = getattr(model_spec, "phases", None)
    if produce is None:
        return []
    epochs = int(config.get("epochs") or 0)
    try:
        options = (config.model_options if isinstance(config, ResolvedRun)
                   else model_spec.options.model_validate(config.get("model_options") or {}))
        phases = [Phase.model_validate(p) for p in produce(options, epochs) or []]
    except Exception:
        log.exception("model %r: phases() failed; the run is shown without phases", getattr(model_spec, "name", "?"))
        return []
    kept = [p for p in phases if p.start <= max(epochs, 1)]
    for p in kept:
        if p.kind == "span":
            p.end = min(p.end, max(epochs, p.start))
    return [p.model_dump() for p in sorted(kept, key=lambda p: (p.start, p.kind != "moment", p.name))]


def phases_at(phases: list[dict[str, Any]], epoch: int) -> list[dict[str, Any]]:
    """The phases in force at ``epoch``: spans containing it and a moment just before it."""
    return [p for p in phases if p["start"] <= epoch <= p["end"]]


def pretraining_note(phases: list[dict[str, Any]], epoch: int, consequence: str) -> str | None:
    """A sentence for people when ``epoch`` lies in the model's ``pretraining`` phase (the mixture prior is
    not in use yet: when it starts, then ``consequence``), else None; shared by every plugin that shows
    something of the prior at an epoch (prior samples, decoded prior means, cluster scores)."""
    pretraining = next((p for p in phases_at(phases, epoch) if p["name"] == "pretraining"), None)
    if pretraining is None:
        return None
    init = next((p for p in phases if p["name"] == "prior_init" and p["start"] > epoch), None)
    when = (f"it is initialised from clusters of the codes before epoch {init['start']}" if init
            else f"the KL terms that train it switch on at epoch {pretraining['end'] + 1}")
    return (f"Epoch {epoch} is a pretraining epoch ({pretraining['start']}-{pretraining['end']}): the prior p(z|c) is "
            f"not in use yet ({when}); {consequence}.")


__all__ = ["Phase", "phases_at", "pretraining_note", "run_phases"]
