"""The plugin manager: load plugins from entry points, collect and validate what they provide.

Built-in plugins are entry points of the ``latentdeck`` distribution in the group
``latentdeck.plugins``, exactly like third-party ones. A built-in that fails to import is our bug and
raises; a third-party plugin that fails to import, or that provides a component whose name is taken,
is logged, skipped and listed as failed. ``LATENTDECK_LOAD_PLUGINS`` (comma-separated entry-point or
distribution names) restricts which third-party plugins load; an empty value loads none.
``LATENTDECK_DISABLE_PLUGINS`` (the same kind of names) turns plugins off, built-ins included: to replace a
built-in's explorer role with your own package's, for example.
"""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import logging
import os
from dataclasses import dataclass
from typing import Any, Iterable

import pluggy

from .. import hookspecs
from .records import record_problems
from .namespace import HOST_FOLDERS
from ..types import KINDS

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "latentdeck.plugins"
BUILTIN_DIST = "latentdeck"
_SPEC_MARK = f"{hookspecs.hookspec.project_name}_spec"  # what pluggy sets on a hookspec function
HOOK_NAMES = sorted(name for name in dir(hookspecs) if not name.startswith("_") and hasattr(getattr(hookspecs, name), _SPEC_MARK))
# Hooks of earlier releases, named in the refusal of a plugin that still implements them.
REPLACED_HOOKS = {"register_artifacts": "register_computations", "register_ondemand": "register_computations"}


class PluginError(Exception):
    """A plugin problem a person must fix (duplicate names, bad records)."""


class DuplicateComponentError(PluginError):
    def __init__(self, kind: str, name: str, first: str, second: str):
        self.kind, self.name, self.providers = kind, name, (first, second)
        super().__init__(
            f"{kind[:-1].replace('_', ' ')} {name!r} is provided by both {first!r} and {second!r}; "
            f"uninstall one of them or restrict plugins with LATENTDECK_LOAD_PLUGINS"
        )


@dataclass
class PluginInfo:
    name: str
    version: str | None
    builtin: bool
    status: str = "ok"  # ok | failed | disabled
    error: str | None = None
    dist: str | None = None


class LatentdeckPluginManager(pluggy.PluginManager):
    """pluggy's manager plus what we learned while loading (versions, failures)."""

    def __init__(self) -> None:
        pluggy.PluginManager.__init__(self, "latentdeck")
        self.infos: dict[str, PluginInfo] = {}


def _allowed_external(variable: str = "LATENTDECK_LOAD_PLUGINS") -> set[str] | None:
    raw = os.environ.get(variable)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _fail(pm: LatentdeckPluginManager, name: str, error: str) -> None:
    """Record that plugin ``name`` did not load; a built-in's problem is our bug and raises."""
    info = pm.infos.get(name) or PluginInfo(name, None, False)
    if info.builtin:
        raise PluginError(f"built-in plugin {name!r}: {error}")
    log.error("disabling plugin %s: %s", name, error)
    info.status, info.error = "failed", error
    pm.infos[name] = info


def _unknown_hooks(pm: LatentdeckPluginManager, plugin: Any) -> list[str]:
    return sorted(caller.name for caller in pm.get_hookcallers(plugin) or []
                  if not caller.has_spec() and any(not impl.optionalhook for impl in caller.get_hookimpls()))


def _register(pm: LatentdeckPluginManager, plugin: Any, info: PluginInfo) -> None:
    """Register one plugin, or list it as failed: a hook name latentdeck does not have (a typo such as
    ``register_artifact``) or an argument its hook does not take disables that plugin only."""
    name = info.name
    pm.infos[name] = info
    if pm.is_registered(plugin):  # the same module under another name (installed and passed in a test)
        pm.infos.pop(name)
        return
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        _fail(pm, name, f"PluginValidationError: {exc}")
        return
    unknown = _unknown_hooks(pm, plugin)
    if unknown:
        pm.unregister(name=name)
        hints = []
        for hook in unknown:
            close = [REPLACED_HOOKS[hook]] if hook in REPLACED_HOOKS else difflib.get_close_matches(hook, HOOK_NAMES, n=1)
            why = " (replaced by 'register_computations': return the same records from it; ArtifactSpec(...) and " \
                  "OnDemandSpec(...) still build ComputationSpec records)" if hook in REPLACED_HOOKS else ""
            hints.append(f"{hook!r}" + (why or (f" (did you mean {close[0]!r}?)" if close else "")))
        _fail(pm, name, f"{', '.join(hints)} {'is not a latentdeck hook' if len(hints) == 1 else 'are not latentdeck hooks'}; "
                        f"the hooks are: {', '.join(HOOK_NAMES)}")


def _load_entry_points(pm: LatentdeckPluginManager) -> None:
    allowed = _allowed_external()
    disabled = _allowed_external("LATENTDECK_DISABLE_PLUGINS") or set()
    seen: dict[str, str] = {}
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist else None
        version = ep.dist.version if ep.dist else None
        builtin = dist == BUILTIN_DIST
        if not builtin and allowed is not None and ep.name not in allowed and dist not in allowed:
            continue
        if ep.name in disabled or (dist in disabled and not builtin):
            pm.infos[ep.name] = PluginInfo(ep.name, version, builtin, "disabled",
                                           "turned off by LATENTDECK_DISABLE_PLUGINS", dist)
            continue
        if ep.name in seen:
            pm.infos[f"{ep.name} ({dist})"] = PluginInfo(
                ep.name, version, builtin, "failed",
                f"entry-point name {ep.name!r} is already used by distribution {seen[ep.name]!r}", dist)
            log.error("skipping plugin %s from %s: name already used by %s", ep.name, dist, seen[ep.name])
            continue
        seen[ep.name] = dist or "?"
        try:
            module = ep.load()
        except Exception as exc:
            if builtin:
                raise
            log.exception("skipping third-party plugin %s: it failed to import", ep.name)
            pm.infos[ep.name] = PluginInfo(ep.name, version, False, "failed", f"{type(exc).__name__}: {exc}", dist)
            continue
        _register(pm, module, PluginInfo(ep.name, version, builtin, dist=dist))


def _load_extra_modules(pm: LatentdeckPluginManager) -> None:
    """Modules named in ``LATENTDECK_EXTRA_PLUGINS`` (comma-separated import paths) load as plugins:
    a plugin under development, or the test helpers, without installing a distribution."""
    for module_name in filter(None, (m.strip() for m in os.environ.get("LATENTDECK_EXTRA_PLUGINS", "").split(","))):
        if pm.has_plugin(module_name):
            continue
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            log.exception("skipping extra plugin module %s: it failed to import", module_name)
            pm.infos[module_name] = PluginInfo(module_name, None, False, "failed", f"{type(exc).__name__}: {exc}")
            continue
        _register(pm, module, PluginInfo(module_name, None, False))


def make_plugin_manager(entrypoints: bool = True, plugins: Iterable[Any] = ()) -> LatentdeckPluginManager:
    """A fresh manager: entry-point plugins (unless ``entrypoints=False``) plus ``plugins`` given here.

    Objects in ``plugins`` are registered under their ``__name__`` (or class name) and treated as
    third-party: tests use this to add plugins without installing them. One that is already loaded
    (an installed plugin's module) is not registered twice. Every record is checked here
    (:func:`latentdeck.registry.records.record_problems`); a third-party plugin with a problem is disabled and
    listed as failed with the reason, the others load.
    """
    pm = LatentdeckPluginManager()
    pm.add_hookspecs(hookspecs)
    if entrypoints:
        _load_entry_points(pm)
        _load_extra_modules(pm)
    for plugin in plugins:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        if pm.has_plugin(name):
            continue
        _register(pm, plugin, PluginInfo(name, None, False))
    pm.check_pending()  # never raises now: a plugin with an unknown hook was not kept
    _drop_broken_records(pm)
    _drop_external_duplicates(pm)
    _drop_folder_conflicts(pm)
    _drop_role_conflicts(pm)
    return pm


@functools.lru_cache(maxsize=1)
def get_plugin_manager() -> LatentdeckPluginManager:
    """The process-wide manager, built on first use."""
    return make_plugin_manager()


def _records(pm: pluggy.PluginManager, kind: str) -> list[tuple[str, Any]]:
    """(provider name, record) pairs for one kind, in provider-name order, validated."""
    hook_name, record_type = KINDS[kind]
    pairs: list[tuple[str, Any]] = []
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        provider = pm.get_name(impl.plugin) or repr(impl.plugin)
        for record in impl.function() or []:
            if not isinstance(record, record_type):
                raise PluginError(
                    f"plugin {provider!r}: {hook_name}() returned {type(record).__name__}, "
                    f"expected {record_type.__name__}")
            problems = record_problems(record)
            if problems:
                raise PluginError(f"plugin {provider!r}: {record_type.__name__} {record.name!r:.60}: {'; '.join(problems)}")
            pairs.append((provider, record))
    return sorted(pairs, key=lambda pair: (pair[1].name, pair[0]))


def collect(pm: pluggy.PluginManager, kind: str) -> dict[str, Any]:
    """``{name: record}`` for one kind; raises :class:`DuplicateComponentError` naming both providers."""
    if kind not in KINDS:
        raise KeyError(f"unknown component kind {kind!r}; known kinds: {', '.join(KINDS)}")
    found: dict[str, Any] = {}
    provider_of: dict[str, str] = {}
    for provider, record in _records(pm, kind):
        if record.name in found:
            raise DuplicateComponentError(kind, record.name, provider_of[record.name], provider)
        found[record.name] = record
        provider_of[record.name] = provider
    return found


def default_name(pm: pluggy.PluginManager, kind: str) -> str | None:
    """The component of ``kind`` a config that names none uses: the lowest ``default_rank``, then by name;
    when none declares a rank, the only one installed (None when there are several or none)."""
    records = collect(pm, kind)
    ranked = sorted((record.default_rank, name) for name, record in records.items()
                    if getattr(record, "default_rank", None) is not None)
    if ranked:
        return ranked[0][1]
    return next(iter(records)) if len(records) == 1 else None


def records_of_kinds(pm: pluggy.PluginManager, kinds: Iterable[str]) -> list[tuple[str, Any]]:
    """(kind, record) for every record of ``kinds``, by kind then name."""
    return [(kind, record) for kind in kinds for record in collect(pm, kind).values()]


def per_epoch(pm: pluggy.PluginManager) -> dict[str, Any]:
    """``{name: ComputationSpec}`` of the computations the epoch loop (and backfill) runs."""
    return {name: spec for name, spec in collect(pm, "computations").items() if spec.per_epoch}


def askable(pm: pluggy.PluginManager) -> dict[str, Any]:
    """``{name: ComputationSpec}`` of the computations a person can ask for (a route and a CLI entry each)."""
    return {name: spec for name, spec in collect(pm, "computations").items() if spec.askable}


def providers(pm: pluggy.PluginManager, kind: str) -> dict[str, str]:
    """``{component name: providing plugin name}`` for one kind."""
    return {record.name: provider for provider, record in _records(pm, kind)}


def _disable(pm: LatentdeckPluginManager, name: str, error: str) -> None:
    pm.unregister(name=name)
    _fail(pm, name, error)


def _drop_broken_records(pm: LatentdeckPluginManager) -> None:
    """A plugin whose registry hook raises or returns a record that fails its checks is disabled
    (a built-in raises: :func:`_fail`)."""
    for kind, (hook_name, record_type) in KINDS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            provider = pm.get_name(impl.plugin)
            if provider is None:
                continue
            try:
                records = impl.function() or []
                for record in records:
                    if not isinstance(record, record_type):
                        raise PluginError(f"{hook_name}() returned {record!r:.80}, expected a named {record_type.__name__}")
                    problems = record_problems(record)
                    if problems:
                        raise PluginError(f"{hook_name}(): {record_type.__name__} {record.name!r:.60}: {'; '.join(problems)}")
            except Exception as exc:
                if _is_builtin(pm, provider):
                    raise
                _disable(pm, provider, exc.args[0] if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}")


def _drop_external_duplicates(pm: LatentdeckPluginManager) -> None:
    """A third-party component that reuses a taken name disables its plugin (built-ins win)."""
    for kind in KINDS:
        while True:
            try:
                collect(pm, kind)
                break
            except DuplicateComponentError as exc:
                culprits = [p for p in exc.providers if not _is_builtin(pm, p)]
                if not culprits:
                    raise
                _disable(pm, culprits[-1], str(exc))


WRITER_KINDS = ("computations",)  # records that declare a run folder they write


def _folder_claims(pm: pluggy.PluginManager) -> list[tuple[str, str, str]]:
    """(folder, provider, record name) for every declared artifact folder: built-ins first, then by name."""
    claims = [(record.folder, provider, record.name) for kind in WRITER_KINDS for provider, record in _records(pm, kind)]
    return sorted(claims, key=lambda c: (not _is_builtin(pm, c[1]), c[1], c[2]))


def declared_folders(pm: pluggy.PluginManager) -> dict[str, str]:
    """``{folder: owner}``: the host's folders and every folder an installed plugin declared."""
    owners = dict(HOST_FOLDERS)
    for folder, provider, _ in _folder_claims(pm):
        owners.setdefault(folder, provider)
    return owners


def _drop_folder_conflicts(pm: LatentdeckPluginManager) -> None:
    """A folder belongs to one plugin: a third-party plugin claiming a folder the host or another plugin
    owns is disabled, naming both (built-ins keep theirs); two built-ins claiming one folder raise."""
    while True:
        owners: dict[str, tuple[str, str]] = {f: (owner, "") for f, owner in HOST_FOLDERS.items()}
        clash = None
        for folder, provider, name in _folder_claims(pm):
            owner = owners.setdefault(folder, (provider, name))
            if owner[0] != provider:
                clash = (folder, provider, name, owner)
                break
        if clash is None:
            return
        folder, provider, name, (owner, owner_record) = clash
        _disable(pm, provider, f"{name!r} declares folder {folder!r}, which {owner!r}"
                               f"{f' ({owner_record!r})' if owner_record else ''} already writes; a folder belongs "
                               "to one plugin: choose another folder name")


def _drop_role_conflicts(pm: LatentdeckPluginManager) -> None:
    """The explorer reads each role (``ComputationSpec.provides``) from one computation, ``overlay`` excepted: a
    third-party plugin providing a role another plugin provides is disabled, naming both (disable the other to
    replace it: ``LATENTDECK_DISABLE_PLUGINS``); two built-ins providing one role raise."""
    while True:
        owners: dict[str, tuple[str, str]] = {}
        clash = None
        for _, provider, name in _folder_claims(pm):
            for role in set(collect(pm, "computations")[name].roles().values()) - {"overlay"}:
                owner = owners.setdefault(role, (provider, name))
                if owner[0] != provider and clash is None:
                    clash = (role, provider, name, owner)
        if clash is None:
            return
        role, provider, name, (owner, owner_record) = clash
        if _is_builtin(pm, provider):
            raise PluginError(f"built-ins {owner!r} and {provider!r} both provide the explorer's {role!r}")
        _disable(pm, provider, f"{name!r} provides the explorer's {role!r}, which {owner!r} ({owner_record!r}) "
                               "already provides; disable that plugin to replace it")


def _is_builtin(pm: LatentdeckPluginManager, name: str) -> bool:
    info = pm.infos.get(name)
    return bool(info and info.builtin)


def list_plugins(pm: LatentdeckPluginManager, all: bool = False) -> list[dict[str, Any]]:
    """One dict per plugin: name, version, builtin, status, error, hooks, provides.

    Built-ins are listed only with ``all=True`` (like ``datasette plugins --all``); failed plugins
    are always listed.
    """
    rows = []
    provided: dict[str, dict[str, list[str]]] = {}
    for kind in KINDS:
        for provider, record in _records(pm, kind):
            provided.setdefault(provider, {}).setdefault(kind, []).append(record.name)
    for name, info in sorted(pm.infos.items()):
        if info.builtin and not all and info.status == "ok":
            continue
        plugin = pm.get_plugin(name)
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or []) if plugin is not None else []
        rows.append({
            "name": name, "version": info.version, "builtin": info.builtin, "status": info.status,
            "error": info.error, "hooks": hooks, "provides": provided.get(name, {}),
        })
    return rows
