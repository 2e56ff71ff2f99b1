"""The host's keyed path: a computation with a ``key`` answers one (epoch, request) as ``<folder>/<key>/``,
or, for a key ending in ``.*``, as the files ``<folder>/<stem><suffix>`` (:mod:`latentdeck.engine.keyfiles`).

:func:`key_of` turns (request, epoch) into the key (a template filled from the request, or a callable
``key(request, epoch)`` / ``key(request, epoch, ctx)``); :func:`from_disk` answers a complete folder (its
``result.json`` present) without computing; :func:`keyed` has ``compute`` write into ``ctx.folder`` (hidden,
temporary), stores its result as ``result.json`` and publishes the folder atomically, announcing each file
once (a file key: each file renamed to its stem plus its extension, then a hidden result file marks
the answer complete); :func:`answer` is both, for a computation that is already running (``ctx.answer`` in the epoch loop and
backfill). :mod:`latentdeck.engine.computations` (``run``) calls the same functions for HTTP and the CLI.
"""

from __future__ import annotations

import contextlib
import inspect
import shutil
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..kit import safepath
from ..kit.atomic import json_safe, read_json, write_json
from ..kit.errors import OnDemandError
from ..registry.namespace import ArtifactNameError, PLACEHOLDER, check_write
from ..types import ComputationResult
from .keyfiles import FILES, answer_folder, file_stem, missing_parents, publish, stored

RESULT = "result.json"  # beside a keyed computation's files: its answer, so a repeat answers the same payload


@dataclass
class Answer:
    """What one run of a computation gave: its files, whether this call made them, and its result."""

    folder: str | None = None
    files: list[str] = field(default_factory=list)
    created: bool = False
    payload: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    failed: str | None = None  # epoch loop: why it wrote nothing ("timeout" | "error"), None when it finished

    def as_json(self) -> dict[str, Any]:
        """The HTTP / CLI answer: ``{folder, files, created, payload, notes}``."""
        return json_safe({"folder": self.folder, "files": self.files, "created": self.created,
                          "payload": self.payload, "notes": self.notes})


def result_of(value: Any) -> ComputationResult:
    """A compute's return value as a :class:`ComputationResult` (a dict is its payload; None is empty)."""
    if isinstance(value, ComputationResult):
        return value
    if value is None:
        return ComputationResult()
    if isinstance(value, Mapping):
        return ComputationResult(payload=dict(value))
    raise TypeError(f"compute returned {type(value).__name__}; return a ComputationResult, a dict or None")


def key_of(spec, request: Any, epoch: int | None, ctx: Any = None) -> str:
    """The folder of one answer inside the spec's folder: its ``key`` filled from the request and ``epoch``
    (a callable ``key(request, epoch, ctx)`` also gets the run's context, for what only the run knows).
    A key ending in ``.*`` names the answer's file stem instead, and keeps its ``.*``."""
    if callable(spec.key):
        key = spec.key(request, epoch, ctx) if takes_context(spec.key) else spec.key(request, epoch)
    else:
        fields = {**request.model_dump(mode="json"), "epoch": epoch}
        key = PLACEHOLDER.sub(lambda m: _token(fields.get(m.group(1))), spec.key)
    stem = file_stem(key)
    try:
        if stem is not None:  # room for the hidden result file's name, the longest of the answer's
            head, _, last = stem.rpartition("/")
            check_write(spec.folder, f"{head}/_{last}.result.json" if head else f"_{last}.result.json", None)
            return check_write(spec.folder, stem, None).split("/", 1)[1] + FILES
        return check_write(spec.folder, key, None).split("/", 1)[1]
    except ArtifactNameError as exc:
        what = "file name" if stem is not None else "folder name"
        raise OnDemandError(f"{spec.name}: this request makes no safe {what} ({exc})", 422) from None


def takes_context(key) -> bool:
    """Whether a callable ``key`` takes the run context as a third argument (``key(request, epoch, ctx)``)."""
    try:
        parameters = list(inspect.signature(key).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return True
    return len([p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]) >= 3


def _token(value: Any) -> str:
    """A request value as a folder-name part: numbers as written, None as 'none', other text made safe."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    return "".join(c if c.isalnum() or c in "_.-" else "-" for c in text)[:120] or "empty"


def answer(spec, ctx: Any, request: Any) -> Answer:
    """One keyed answer of ``spec`` at ``ctx.epoch`` from inside a computation already running (``ctx.answer``):
    the epoch loop and backfill answer the requests of a per-epoch set through the same path as a person's
    request, so each is served from disk when present, else computed, published and announced once."""
    if spec.key is None:
        raise TypeError(f"computation {spec.name!r} has no key: ctx.answer needs one")
    asked = getattr(request, "epoch", None)
    if asked is not None and asked != ctx.epoch:
        raise ValueError(f"ctx.answer answers at the context's epoch {ctx.epoch}, not {asked}: use ctx.load(epoch)")
    key = key_of(spec, request, ctx.epoch, ctx)
    found = from_disk(spec, ctx, key)
    return found if found is not None else keyed(spec, ctx, request, key)


def keyed(spec, ctx: Any, request: Any, key: str) -> Answer:
    """Compute into a temporary folder, publish it with its ``result.json`` atomically, announce once (a file
    key: publish its files and then its hidden result file, :func:`latentdeck.engine.keyfiles.publish`)."""
    if file_stem(key) is not None:
        files, kept_result, created = publish(spec, ctx, key, lambda: _kept(spec.compute(ctx, request)))
        return _answer(spec, key, files, created, kept_result)
    kept: dict[str, Any] = {}

    def produce(tmp: Path) -> None:
        ctx.folder = tmp
        kept["result"] = _kept(spec.compute(ctx, request))
        write_json(tmp / RESULT, kept["result"])

    made = missing_parents(ctx.run_dir / spec.folder / key)
    ctx.key = key  # the compute names its published files with it (ctx.answer_file)
    try:
        try:
            files, created = ctx.persist(key, produce, ctx.epoch)
        except BaseException:
            for parent in made:  # a refused or failed request leaves no empty folder behind
                with contextlib.suppress(OSError):
                    parent.rmdir()
            raise
        finally:
            ctx.folder = None
        if "result" not in kept:  # a folder made before the host kept results: compute the answer, keep the files
            kept["result"] = _heal(spec, ctx, request, key)
    finally:
        ctx.key = None
    return _answer(spec, key, files, created, kept["result"])


def _heal(spec, ctx: Any, request: Any, key: str) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=".latentdeck-result-"))
    try:
        ctx.folder = tmp
        kept = _kept(spec.compute(ctx, request))
    finally:
        ctx.folder = None
        shutil.rmtree(tmp, ignore_errors=True)
    with ctx.fence.held() if ctx.fence is not None else nullcontext():
        write_json(ctx.run_dir / spec.folder / key / RESULT, kept, root=ctx.run_dir)
    return kept


def from_disk(spec, ctx: Any, key: str) -> Answer | None:
    """The stored answer of ``<folder>/<key>/`` when it is complete on disk (folder and ``result.json``); for a
    file key, of its files when its hidden result file and every file it lists are there."""
    stem = file_stem(key)
    if stem is not None:
        found = stored(spec, ctx, stem)
        return None if found is None else _answer(spec, key, found[0], False, found[1])
    name = f"{spec.folder}/{key}"
    if safepath.entry_mode(ctx.run_dir, f"{name}/{RESULT}") is None:
        return None
    files = safepath.list_tree(ctx.run_dir, name)  # a link or special file there is refused, not served
    return _answer(spec, key, files, False, read_json(ctx.run_dir / name / RESULT, root=ctx.run_dir))


def _kept(value: Any) -> dict[str, Any]:
    """A compute's return value as the host keeps it: ``{payload, notes}``, JSON-safe."""
    result = result_of(value)
    return {"payload": json_safe(dict(result.payload)), "notes": list(result.notes)}


def _answer(spec, key: str, files: list[str], created: bool, kept: dict[str, Any]) -> Answer:
    stem = file_stem(key)
    name = f"{spec.folder}/{key}" if stem is None else answer_folder(spec.folder, stem)
    return Answer(name, list(files), created, dict(kept.get("payload") or {}), list(kept.get("notes") or []))


