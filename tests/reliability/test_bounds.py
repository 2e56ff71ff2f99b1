"""Issue 22 (4, second bullet): every number a run config can hold has a documented upper bound.

Before, ``limit`` 10^9, ``checkpoint_every`` 10^9, ``cancel_check_every`` 10^9, ``projection_every {"pca": 10^9}``
and ``optimizer.lr`` 1e308 were accepted with 201. The schema walk below covers the run config and the options
of every installed component that reaches one (``model_options``, ``artifact_options``, ``projection_options``,
``executor_options``, and the loss components' and datasets' options), so a numeric field added later without
a maximum fails this test."""

from __future__ import annotations

import math
from typing import Annotated, Any, Iterator

import pytest
from pydantic import BaseModel, Field, ValidationError

from latentdeck.launch.config import OptimizerConfig, RunConfig
from latentdeck.registry import collect
from latentdeck.types import NoOptions

# the component kinds whose options a run config carries (a computation's request is not part of a run config: only its options)
CONFIG_KINDS = ("models", "computations", "projections", "executors", "loss_components", "datasets")
NUMERIC = {"integer", "number"}


def unbounded(schema: dict[str, Any], root: dict[str, Any] | None = None, path: str = "",
              seen: frozenset[str] = frozenset()) -> Iterator[str]:
    """The path of every integer or number in ``schema`` (followed through ``$ref``, ``anyOf``, ``items``,
    ``prefixItems``, ``additionalProperties``, ``if``/``then``) that has no maximum."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if name not in seen:  # a recursive model is walked once
            yield from unbounded(root["$defs"][name], root, path, seen | {name})
    types = schema.get("type")
    types = set(types) if isinstance(types, list) else {types}
    bounded = any(k in schema for k in ("maximum", "exclusiveMaximum", "const", "enum"))
    if types & NUMERIC and not bounded:
        yield path or "(root)"
    for key, child in (schema.get("properties") or {}).items():
        yield from unbounded(child, root, f"{path}.{key}" if path else key, seen)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for index, child in enumerate(schema.get(key) or []):
            yield from unbounded(child, root, f"{path}[{key} {index}]" if key == "prefixItems" else path, seen)
    for key, suffix in (("items", "[]"), ("additionalProperties", ".*"), ("then", ""), ("else", "")):
        if isinstance(schema.get(key), dict):
            yield from unbounded(schema[key], root, path + suffix, seen)


def option_models(pm) -> dict[str, type[BaseModel]]:
    """``"<kind>.<name>" -> options model`` of every installed component whose options reach a run config."""
    models = {}
    for kind in CONFIG_KINDS:
        for name, spec in collect(pm, kind).items():
            options = getattr(spec, "options", NoOptions)
            if options is not NoOptions:
                models[f"{kind}.{name}"] = options
    return models


def test_the_walk_finds_an_unbounded_field():
    """The check itself can fail: a field without a maximum, nested or in a list, is reported."""

    class Inner(BaseModel):
        lr: float = Field(1.0, gt=0, le=10)
        betas: tuple[Annotated[float, Field(lt=1)], float] = (0.9, 0.9)

    class Loose(BaseModel):
        inner: Inner
        size: int | None = Field(None, le=5)
        counts: list[int] = []
        every: dict[str, float] = {}

    schema = Loose.model_json_schema()
    assert sorted(unbounded(schema)) == ["counts[]", "every.*", "inner.betas[prefixItems 1]"]
    bad = {**schema, "$defs": {"Inner": {"properties": {"lr": {"type": "number", "exclusiveMinimum": 0}}}}}
    assert sorted(unbounded(bad)) == ["counts[]", "every.*", "inner.lr"]


def test_every_numeric_run_config_field_has_a_maximum(serve_api):
    """The run config schema the launch form reads (with every model's options) and each component's
    options schema (GET /api/components): no integer or number without a maximum."""
    live = serve_api()
    config = live.client.get("/api/config/schema").json()
    components = live.client.get("/api/components").json()
    found = {"config": list(unbounded(config))}
    for name, defs in config["$defs"].items():
        found[f"config $defs.{name}"] = list(unbounded(defs, config))
    numeric = sum(1 for _ in _numeric_paths(config))
    for kind in CONFIG_KINDS:
        for row in components[kind]:
            schema = row["options_schema"]
            found[f"{kind}.{row['name']}"] = list(unbounded(schema))
            numeric += sum(1 for _ in _numeric_paths(schema))
    missing = {where: paths for where, paths in found.items() if paths}
    assert not missing, f"numeric fields without a maximum (add le=... with the reason in the description): {missing}"
    assert numeric >= 40, f"the walk saw only {numeric} numeric fields: is it still reading the schemas?"
    assert config["properties"]["limit"]["anyOf"][0]["maximum"] == 10_000_000


def _numeric_paths(schema: dict[str, Any]) -> Iterator[str]:
    """Every numeric node (bounded or not): the same walk with every maximum taken away."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("maximum", "exclusiveMaximum")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return unbounded(strip(schema))


def _float_fields(model: type[BaseModel]) -> list[str]:
    fields = []
    for name, prop in model.model_json_schema()["properties"].items():
        options = prop.get("anyOf", [prop])
        if any(option.get("type") == "number" for option in options):
            fields.append(name)
    return fields


def test_every_float_field_refuses_nan_and_infinity(plugin_manager):
    models = {"config": RunConfig, "config.optimizer": OptimizerConfig, **option_models(plugin_manager)}
    checked = 0
    for where, model in models.items():
        for name in _float_fields(model):
            for value in (math.nan, math.inf, -math.inf):
                with pytest.raises(ValidationError) as refused:
                    model.model_validate({name: value})
                assert any(err["loc"][:1] == (name,) for err in refused.value.errors()), (where, name, value)
                checked += 1
    assert checked >= 3 * 15, checked


# (body fields, the field named in the answer, the bound named in it)
OVER = {
    "limit": ({"limit": 10**9}, "limit", "10000000"),
    "checkpoint_every": ({"checkpoint_every": 10**9}, "checkpoint_every", "10000"),
    "cancel_check_every": ({"cancel_check_every": 10**9}, "cancel_check_every", "1000"),
    "projection_every": ({"projection_every": {"first-dims": 10**9}}, "projection_every.first-dims", "10000"),
    "optimizer.lr": ({"optimizer": {"lr": 1e308}}, "optimizer.lr", "10"),
}


@pytest.mark.parametrize("case", list(OVER))
def test_a_value_over_its_bound_is_refused_naming_the_field_and_the_bound(serve_api, runs_dir, tiny_config, case):
    fields, where, bound = OVER[case]
    live = serve_api()
    response = live.client.post("/api/runs", json={**tiny_config, **fields})
    assert response.status_code == 422, response.text[:300]
    detail = response.json()["detail"]
    assert f"{where}: Input should be less than or equal to {bound}" in detail, detail
    assert [p.name for p in runs_dir.iterdir() if not p.name.startswith(".")] == []


@pytest.mark.parametrize("case", list(OVER))
def test_the_bound_itself_is_accepted(plugin_manager, tiny_config, case):
    """The bound is inclusive: a config at it validates (no off-by-one in the other direction)."""
    fields, where, bound = OVER[case]
    at = {"limit": {"limit": 10_000_000}, "checkpoint_every": {"checkpoint_every": 10_000},
          "cancel_check_every": {"cancel_check_every": 1000},
          "projection_every": {"projection_every": {"first-dims": 10_000}},
          "optimizer.lr": {"optimizer": {"lr": 10.0}}}[case]
    RunConfig.model_validate({**tiny_config, **at})
