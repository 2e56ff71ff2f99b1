"""Plugins and components: what is installed, what each component accepts, and the run config schema.

The UI builds its launch form from ``/api/components`` (each component's options JSON schema) and
``/api/config/schema``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from .. import __version__
from ..launch.config import RunConfig, default_data_dir
from ..registry.status import plugin_rows
from ..registry import collect, default_name, providers
from ..launch.preset_list import list_presets
from ..registry.records import VIEW_NAME
from ..types import KINDS, NoOptions

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["plugins"])


class LastError(BaseModel):
    message: str
    at: float = Field(description="when, in seconds since the epoch")
    run_id: str | None
    epoch: int | None = None
    reason: str = Field(description="error (it raised) | timeout (over its time budget)")
    component: str = Field(description="the plugin's component that failed")


class ComponentHealth(BaseModel):
    failures: int
    over_budget: int


class PluginHealth(BaseModel):
    failures: int = Field(description="times one of its components raised at run time (all runs in this runs folder)")
    over_budget: int = Field(description="times one of its components ran past its time budget and was stopped")
    components: dict[str, ComponentHealth] = Field(description="the counts per component that failed")
    last_error: LastError | None


class PluginRow(BaseModel):
    name: str
    version: str | None
    builtin: bool
    status: str = Field(description="ok | failed (to load)")
    error: str | None
    hooks: list[str]
    provides: dict[str, list[str]] = Field(description="kind -> component names")
    health: PluginHealth = Field(description="runtime failures counted since they were last cleared "
                                             "(`latentdeck plugins --clear-failures`)")


class Health(BaseModel):
    status: str
    version: str


@router.get("/plugins", response_model=list[PluginRow])
def get_plugins(request: Request) -> list[dict[str, Any]]:
    """Every plugin, built-in or not, including third-party plugins that failed to load (with the error), and
    each one's ``health``: how often its components raised or ran past their budget, with the last error."""
    return plugin_rows(request.app.state.pm, request.app.state.store.root, all=True)


def _availability(spec: Any) -> dict[str, Any]:
    try:
        found = spec.availability(default_data_dir())
        return {"ok": bool(found.ok), "reason": found.reason}
    except Exception as exc:  # a plugin bug must not take the listing down
        log.exception("availability() of dataset %s raised", spec.name)
        return {"ok": False, "reason": f"availability check failed: {type(exc).__name__}: {exc}"}


def describe(kind: str, provider: str, spec: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": spec.name, "provider": provider, "description": spec.description,
        "options_schema": getattr(spec, "options", NoOptions).model_json_schema(),
    }
    if kind == "models":
        row["capabilities"] = sorted(spec.capabilities)
    if kind in ("computations", "loss_components"):
        row["requires"] = sorted(spec.requires)
    if kind == "computations":
        row.update(folder=spec.folder, files=list(spec.files), view=spec.view, overlay=spec.overlay, runs=spec.runs,
                   heavy=spec.heavy, budget_s=spec.budget_s, after=sorted(spec.after),
                   request_schema=spec.request.model_json_schema() if spec.request is not None else None)
    if kind == "datasets":
        row["availability"] = _availability(spec)
        row.update(num_classes=spec.num_classes, image_shape=list(spec.image_shape),
                   class_names=list(spec.class_names), source=spec.source)
    if kind == "projections":
        row["dims"] = list(spec.dims)
    if kind == "views":
        row.update(mount=spec.mount, title=spec.title or spec.name, computations=list(spec.computations),
                   order=spec.order, url=f"/api/views/{spec.name}.js")
    return row


@router.get("/components")
def get_components(request: Request) -> dict[str, list[dict[str, Any]]]:
    """``{kind: [component]}`` for every kind: name, provider, description, ``options_schema`` (JSON
    schema of its options), plus ``capabilities`` (models), ``requires`` (computations, loss components),
    for computations ``folder``/``files`` (the declared folder and file patterns), ``overlay``, ``runs``
    (``every_epoch`` | N | ``on_demand``), ``heavy``, ``budget_s``, ``after`` and ``request_schema`` (null when
    it cannot be asked for), ``availability
    (datasets, checked in the default data folder) and, for views, ``mount``/``title``/``computations``/
    ``order``/``url`` (where ``GET`` serves the view's module). Presets are named configs,
    not components: ``/api/presets`` lists them."""
    pm = request.app.state.pm
    result = {}
    for kind in (k for k in KINDS if k != "presets"):
        owners = providers(pm, kind)
        result[kind] = [describe(kind, owners.get(name, "?"), spec) for name, spec in collect(pm, kind).items()]
    return result


def config_schema(models: dict[str, Any], default_model: str | None = None,
                  executors: dict[str, Any] | None = None, default_executor: str | None = None) -> dict[str, Any]:
    """The run config's JSON schema with each installed model's options: ``model`` lists the model
    names, and one ``if model == <name> then model_options is <name>'s options`` rule per model (the
    options schemas, with their defaults and descriptions, under ``$defs/model_options.<name>``)."""
    schema = RunConfig.model_json_schema()
    defs = schema.setdefault("$defs", {})
    rules = []
    for name, spec in sorted(models.items()):
        options = getattr(spec, "options", NoOptions).model_json_schema(ref_template="#/$defs/{model}")
        defs.update(options.pop("$defs", {}))
        key = f"model_options.{name}"
        defs[key] = options
        rules.append({"if": {"properties": {"model": {"const": name}}, "required": ["model"]},
                      "then": {"properties": {"model_options": {"$ref": f"#/$defs/{key}"}}}})
    schema["properties"]["model"] = {"type": "string", "enum": sorted(models), "default": default_model,
                                     "title": "Model", "description": schema["properties"]["model"].get("description", "")}
    if executors:  # a choice among the installed executors (each one's options: GET /api/components)
        schema["properties"]["executor"] = {
            "type": "string", "enum": sorted(executors), "default": default_executor, "title": "Executor",
            "description": schema["properties"]["executor"].get("description", "") + ". " + "; ".join(
                f"{name}: {spec.description}" for name, spec in sorted(executors.items()) if spec.description)}
    schema["allOf"] = rules
    return schema


@router.get("/config/schema")
def get_config_schema(request: Request) -> dict[str, Any]:
    """JSON schema of the run config (the body of ``POST /api/runs``), with every installed model's
    options (fields, defaults, descriptions) tied to the ``model`` they apply to."""
    pm = request.app.state.pm
    return config_schema(collect(pm, "models"), default_name(pm, "models"), collect(pm, "executors"),
                         default_name(pm, "executors"))


class PresetChange(BaseModel):
    field: str = Field(description="dotted run config field, e.g. 'model_options.pretrain_epochs'")
    value: Any
    default: Any = Field(description="the field's default without the preset")
    why: str = Field(description="why the preset sets it")


class PresetRow(BaseModel):
    name: str
    title: str
    description: str
    provider: str
    order: int
    config: dict[str, Any] = Field(description="the run config fields the preset sets")
    changes: list[PresetChange]
    error: str | None = Field(description="why the preset cannot start a run here (e.g. its model is not installed)")


@router.get("/presets", response_model=list[PresetRow])
def get_presets(request: Request) -> list[dict[str, Any]]:
    """Named run configs from the plugins, in display order. Start one with ``{"preset": name}`` in
    ``POST /api/runs`` (fields given beside it win) or ``latentdeck train --preset NAME``."""
    return list_presets(request.app.state.pm)


@router.get("/views/{name}.js", response_class=FileResponse, responses={
    200: {"content": {"text/javascript": {}}, "description": "the view's ES module"},
    404: {"description": "no loaded plugin declares this view, or its module is not built"}})
def get_view_module(name: str, request: Request) -> FileResponse:
    """The ES module of a view a loaded plugin declares (``ViewSpec.module``), found by the view's name: never
    a path from the request, and never a view of a plugin that failed to load (it is not registered)."""
    views = collect(request.app.state.pm, "views")
    if not VIEW_NAME.match(name) or name not in views:
        known = ", ".join(sorted(views)) or "none"
        raise HTTPException(404, f"no loaded plugin declares a view {name[:64]!r}; the views are: {known}")
    module = Path(views[name].module)
    if not module.is_file():
        owner = providers(request.app.state.pm, "views").get(name, "?")
        raise HTTPException(404, f"view {name!r} of plugin {owner!r} is not built ({module.name} is missing from "
                                 "its package): run ./lab or scripts/setup.sh (which bundles every plugin's views "
                                 "with esbuild), or reinstall the plugin's wheel")
    return FileResponse(module, media_type="text/javascript", headers={"cache-control": "no-cache"})


@router.get("/health", response_model=Health)
def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}
