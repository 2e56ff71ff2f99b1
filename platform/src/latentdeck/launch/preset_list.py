"""Presets as the API (``GET /api/presets``) and the CLI (``latentdeck presets``) list them: each preset's
fields, the default each one changes and why, and whether it resolves here (its model or dataset may be
missing). Listing asks no executor anything (a cluster's check may contact it)."""

from __future__ import annotations

from typing import Any, Mapping

from ..registry import collect, default_name, providers
from . import ConfigError, prepare_run
from .config import RunConfig
from .presets import PresetError, flatten


def _defaults(pm, config: Mapping[str, Any]) -> dict[str, Any]:
    """Flattened defaults of the run config and of the preset's model options."""
    defaults = flatten(RunConfig().model_dump(mode="json"))
    defaults.update(model=default_name(pm, "models"), executor=default_name(pm, "executors"))
    model = collect(pm, "models").get(config.get("model") or defaults["model"])
    if model is not None:
        defaults.update(flatten(model.options().model_dump(mode="json"), "model_options."))
    return defaults


def describe(pm, spec, provider: str) -> dict[str, Any]:
    """A preset as the API and the CLI list it: its fields and, for each, the default and why it changes."""
    defaults = _defaults(pm, spec.config)
    changes = [{"field": key, "value": value, "default": defaults.get(key), "why": spec.why.get(key, "")}
               for key, value in flatten(spec.config).items()]
    error = None
    try:
        prepare_run(pm, {"preset": spec.name}, check_executor=False)  # listing contacts no executor
    except (ConfigError, PresetError) as exc:  # e.g. its model or dataset is not installed here
        error = str(exc)
    return {"name": spec.name, "title": spec.title, "description": spec.description, "provider": provider,
            "order": spec.order, "config": dict(spec.config), "changes": changes, "error": error}


def list_presets(pm) -> list[dict[str, Any]]:
    owners = providers(pm, "presets")
    specs = sorted(collect(pm, "presets").values(), key=lambda s: (s.order, s.name))
    return [describe(pm, spec, owners.get(spec.name, "?")) for spec in specs]
