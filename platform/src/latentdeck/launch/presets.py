"""Presets: named run configs from plugins (``register_presets``), applied under a request's own fields.

A request that names a preset (``{"preset": "gmvae-clusters", "seed": 1}``, ``latentdeck train
--preset NAME``, the launch form) starts from the preset's fields; every field the request sets
itself wins, key by key inside nested dicts (``model_options``, ``optimizer`` ...). The resolved
config records ``preset`` so a run says where it came from. Presets change no default.
"""

from __future__ import annotations

import difflib
from typing import Any, Mapping

from pydantic import ValidationError

from .config import RunConfig
from ..registry import collect


class PresetError(ValueError):
    """The request names a preset that is not installed, or the preset itself is invalid."""


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` on top; dicts present in both are merged key by key (``over`` wins)."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model_options": {"k": 1}}`` -> ``{"model_options.k": 1}`` (lists and scalars are leaves)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out


def find(pm, name: str):
    presets = collect(pm, "presets")
    spec = presets.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, presets, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise PresetError(f"unknown preset {name!r}.{hint} Available: {', '.join(sorted(presets)) or 'none'} "
                          "(GET /api/presets or `latentdeck presets`).")
    return spec


def apply_preset(pm, request: RunConfig) -> RunConfig:
    """The request with its preset's fields under the ones it set itself; unchanged without a preset."""
    if not request.preset:
        return request
    spec = find(pm, request.preset)
    explicit = request.model_dump(mode="json", exclude_unset=True)
    merged = deep_merge(spec.config, explicit)
    merged["preset"] = spec.name
    try:
        return RunConfig.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise PresetError(f"preset {spec.name!r} with this request is not a valid run config: {problems}") from None
