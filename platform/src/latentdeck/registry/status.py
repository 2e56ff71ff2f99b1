"""Each plugin's status for ``GET /api/plugins``, ``latentdeck plugins`` and ``/plugins``: how it loaded
(:func:`latentdeck.registry.list_plugins`) and its runtime failures (:mod:`latentdeck.registry.health`'s record,
whose components are mapped here to the plugins that provide them now)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..types import KINDS
from .health import read
from . import list_plugins, providers

# kinds a record written by an earlier release may name: their components are computations now
RENAMED_KINDS = {"artifacts": "computations", "ondemand": "computations"}


def _kind(key: str) -> str:
    kind = key.partition("/")[0]
    return RENAMED_KINDS.get(kind, kind)


def per_plugin(pm: Any, runs_dir: Path | str | None) -> dict[str, dict[str, Any]]:
    """``{plugin: {"failures", "over_budget", "components": {name: counts}, "last_error"}}`` for the
    plugins of ``pm`` whose components failed (``last_error`` also names its ``component``)."""
    record = read(runs_dir) if runs_dir is not None else {}
    owners = {kind: providers(pm, kind) for kind in {_kind(key) for key in record} if kind in KINDS}  # others: gone
    found: dict[str, dict[str, Any]] = {}
    for key, entry in sorted(record.items()):
        name = key.partition("/")[2]
        plugin = owners.get(_kind(key), {}).get(name)
        if plugin is None or not isinstance(entry, dict):
            continue
        health = found.setdefault(plugin, {"failures": 0, "over_budget": 0, "components": {}, "last_error": None})
        failures, over = int(entry.get("failures", 0)), int(entry.get("over_budget", 0))
        health["failures"] += failures
        health["over_budget"] += over
        counts = health["components"].setdefault(name, {"failures": 0, "over_budget": 0})
        counts["failures"] += failures
        counts["over_budget"] += over
        last = entry.get("last_error")
        if isinstance(last, dict) and (health["last_error"] is None or last.get("at", 0) >= health["last_error"]["at"]):
            health["last_error"] = {**last, "component": name}
    return found


def healthy() -> dict[str, Any]:
    return {"failures": 0, "over_budget": 0, "components": {}, "last_error": None}


def plugin_rows(pm: Any, runs_dir: Path | str | None, all: bool = False) -> list[dict[str, Any]]:
    """:func:`latentdeck.registry.list_plugins` rows with ``health`` (runtime failures from ``runs_dir``).
    A built-in is listed without ``all`` when it failed to load or at run time."""
    health = per_plugin(pm, runs_dir)
    rows = []
    for row in list_plugins(pm, all=True):
        row["health"] = health.get(row["name"], healthy())
        if all or not row["builtin"] or row["status"] != "ok" or row["health"]["failures"] or row["health"]["over_budget"]:
            rows.append(row)
    return rows


def describe_failures(health: dict[str, Any]) -> str:
    """``3 failures, 1 over budget; last: recon (run X, epoch 2): ValueError: ...``"""
    parts = [f"{health['failures']} failure{'s' if health['failures'] != 1 else ''} at run time"]
    if health["over_budget"]:
        parts.append(f"{health['over_budget']} over budget")
    text = ", ".join(parts)
    last = health.get("last_error")
    if last:
        where = ", ".join(x for x in (f"run {last['run_id']}" if last.get("run_id") else "",
                                      f"epoch {last['epoch']}" if last.get("epoch") is not None else "") if x)
        text += f"; last: {last['component']}" + (f" ({where})" if where else "") + f": {last['message'].splitlines()[0] if last['message'] else ''}"
    return text


def strict_problems(rows: list[dict[str, Any]]) -> list[str]:
    """One line per plugin that failed to load or at run time (``latentdeck plugins --strict``)."""
    problems = []
    for row in rows:
        if row["status"] != "ok":
            problems.append(f"{row['name']} failed to load: {row['error']}")
        health = row.get("health") or healthy()
        if health["failures"] or health["over_budget"]:
            problems.append(f"{row['name']}: {describe_failures(health)}")
    return problems
