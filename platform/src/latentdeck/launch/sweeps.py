"""Sweeps: a named set of ordinary runs expanded from a grid or a seeded random search, with repeats.

A sweep request names a base config (or a preset), the fields to vary (dotted names, e.g.
``model_options.kld_weight``) and the seeds to repeat each setting with. Its members are counted from
the value lists' sizes (:func:`count_members`) as the request is parsed, so one over :data:`MAX_MEMBERS`
is refused before anything is expanded. :func:`prepare_sweep` then expands it and validates every member
completely with :func:`latentdeck.launch.prepare_run` before anything is written; :func:`start_sweep`
then writes the sweep record (``runs/sweeps/<id>.json``, a folder the run listing skips: it holds no
``summary.json``) before any member, creates every member all or nothing (:mod:`latentdeck.launch.sweep_creation`:
a full disk or any error leaves no record and no member), and only then starts them through the normal
start path, so the run queue orders them. Each member is an ordinary run whose config and summary carry
``sweep_id``.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import math
import os
import random
import re
import secrets
import stat
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..kit.atomic import read_json, write_json
from .config import MAX_SEED, set_dotted
from ..kit.errors import short_repr
from ..store.events import read_events
from . import ConfigError, check_disk, prepare_run, start_worker, validation_message
from ..registry import collect
from ..types import ResolvedRun
from ..store.runs import RunNotFound, RunStore, RunStoreError
from .sweep_creation import creation_abandoned, discard, place_all, recover, stage

SWEEPS_FOLDER = "sweeps"
SWEEP_ID_RE = re.compile(r"^sw-[A-Za-z0-9._-]{1,120}$")
MAX_MEMBERS = 256
# a count past this is named by its order of magnitude: 2 values in each of 50,000 fields (an 800 KB body)
# is 2^50000 members, whose exact digits would be slow to compute and useless to read
EXACT_COUNT_LIMIT = 10**18
# fields one sweep may vary: a grid of 50,000 one-value fields is one member, but each member would set (and
# name) every field, seconds of work; a field that keeps one value belongs in the base config
MAX_FIELDS = 64
FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*$")
# fields a sweep sets itself, or that make no sense to vary
RESERVED = {"seed", "sweep_id", "name", "preset"}


class SweepRequest(BaseModel):
    """What a person asks for when starting a sweep (``POST /api/sweeps``, ``latentdeck sweep``)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    name: str | None = Field(None, max_length=200, description="a label for the sweep (its members are named after it)")
    config: dict[str, Any] = Field(default_factory=dict, description="the base run config every member starts from")
    preset: str | None = Field(None, description="start the base config from a named preset (GET /api/presets)")
    grid: dict[str, list[Any]] | None = Field(
        None, description="{field: [values]}: one member per combination (cartesian product); dotted field names "
                          "reach nested fields, e.g. model_options.kld_weight")
    random: dict[str, list[Any]] | None = Field(
        None, description="{field: [values]}: `samples` members, each value drawn from its list (seeded)")
    samples: int | None = Field(None, ge=1, le=MAX_MEMBERS, description="how many random settings to draw (with random)")
    random_seed: int = Field(0, ge=0, le=MAX_SEED, description="seed of the random search's draws")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1, max_length=64,
                             description="each setting is trained once per seed (the run config's seed)")

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        # Before any field is validated (which copies every list): the count needs only the lists' lengths.
        # ConfigError is not a ValueError, so pydantic lets it through: the API answers it as 422 with the
        # same message as prepare_sweep and the CLI. Misshapen input counts as 1; field validation names it.
        if isinstance(data, dict):
            check_member_count(data.get("grid"), data.get("random"), data.get("samples"), data.get("seeds"))
            for kind in ("grid", "random"):
                if isinstance(data.get(kind), dict) and len(data[kind]) > MAX_FIELDS:
                    raise ConfigError(f"{kind} varies {len(data[kind]):,} fields; at most {MAX_FIELDS}: set a "
                                      "field that keeps one value in config instead")
        return data

    @model_validator(mode="after")
    def _shape(self) -> "SweepRequest":
        if self.grid is not None and self.random is not None:
            raise ValueError("give either grid or random, not both")
        if self.random is not None and self.samples is None:
            raise ValueError("random needs samples (how many settings to draw)")
        if self.random is None and self.samples is not None:
            raise ValueError("samples is only for random")
        for kind, space in (("grid", self.grid), ("random", self.random)):
            for field, values in (space or {}).items():
                if not FIELD_RE.match(field):
                    raise ValueError(f"{kind}: {short_repr(field)} is not a config field name (use dotted names, "
                                     "e.g. model_options.kld_weight)")
                if field in RESERVED:
                    raise ValueError(f"{kind}.{field}: a sweep sets {field} itself" +
                                     (" (use seeds)" if field == "seed" else ""))
                if not values:
                    raise ValueError(f"{kind}.{field}: give at least one value")
        if len(set(self.seeds)) != len(self.seeds) or any(not 0 <= s <= MAX_SEED for s in self.seeds):
            raise ValueError(f"seeds: distinct whole numbers 0..{MAX_SEED}")
        return self


def new_sweep_id() -> str:
    return "sw-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def count_members(grid: Any, random_space: Any, samples: Any, seeds: Any) -> str | None:
    """How many members a request makes, in words, when over :data:`MAX_MEMBERS` (else None), from the
    sizes alone: a grid's list lengths multiplied (or random's ``samples``), times the number of seeds.
    Takes raw request values, so it can run before validation; a value of the wrong shape counts as 1."""
    sizes: list[int] = []
    if isinstance(grid, dict) and random_space is None:
        sizes += [len(values) for values in grid.values() if isinstance(values, list) and values]
    elif isinstance(random_space, dict) and grid is None:
        if isinstance(samples, int) and not isinstance(samples, bool) and samples > 0:
            sizes.append(samples)
    if isinstance(seeds, list) and seeds:
        sizes.append(len(seeds))
    count = 1
    for size in sizes:
        count *= size
        if count > EXACT_COUNT_LIMIT:  # stop multiplying: the exact figure could have thousands of digits
            return f"about 10^{int(sum(math.log10(n) for n in sizes))}"
    return f"{count:,}" if count > MAX_MEMBERS else None


def check_member_count(grid: Any, random_space: Any, samples: Any, seeds: Any) -> None:
    """ConfigError (422, CLI exit 2) naming the count and the limit when the request makes too many members."""
    count = count_members(grid, random_space, samples, seeds)
    if count is not None:
        raise ConfigError(f"the sweep has {count} members (settings x seeds); at most {MAX_MEMBERS}: "
                          "vary fewer values or use random with fewer samples or fewer seeds")


def parse_request(body: SweepRequest | dict[str, Any]) -> SweepRequest:
    """The validated request; ConfigError (422) naming what is wrong, the member count first."""
    if isinstance(body, SweepRequest):
        return body
    try:
        return SweepRequest.model_validate(body)
    except ValidationError as exc:
        raise ConfigError(f"invalid sweep: {validation_message(exc)}") from None


def settings(request: SweepRequest) -> list[dict[str, Any]]:
    """The parameter settings (``{field: value}``), before seeds: grid order, or the seeded draws."""
    if request.grid:
        fields = list(request.grid)
        return [dict(zip(fields, combo)) for combo in itertools.product(*(request.grid[f] for f in fields))]
    if request.random:
        rng = random.Random(request.random_seed)
        return [{f: rng.choice(values) for f, values in request.random.items()} for _ in range(request.samples or 0)]
    return [{}]


def prepare_sweep(pm, body: SweepRequest | dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the sweep record, every member's config to persist); ConfigError (422) before anything is written."""
    body = parse_request(body)
    # counted again from the sizes before settings() expands (SweepRequest.model_construct skips validators)
    check_member_count(body.grid, body.random, body.samples, body.seeds)
    plan = [(setting, seed) for setting in settings(body) for seed in body.seeds]
    sweep_id = new_sweep_id()
    name = body.name or sweep_id
    members, configs = [], []
    for index, (setting, seed) in enumerate(plan):
        request = copy.deepcopy(body.config)
        if body.preset is not None:
            request["preset"] = body.preset
        for field, value in setting.items():
            try:
                set_dotted(request, field, copy.deepcopy(value))
            except ValueError as exc:
                raise ConfigError(f"{field}: {exc}") from None
        label = ", ".join(f"{f.rsplit('.', 1)[-1]}={short_repr(v)}" for f, v in setting.items())
        request.update(seed=seed, sweep_id=sweep_id, name=f"{name} [{label + ', ' if label else ''}seed={seed}]"[:200])
        try:
            stored = prepare_run(pm, request)
        except ConfigError as exc:
            where = ", ".join(f"{f}={short_repr(v)}" for f, v in setting.items())
            raise ConfigError(f"sweep member {index + 1} ({where + ', ' if where else ''}seed={seed}): {exc}") from None
        if any(c["run_id"] == stored["run_id"] for c in configs):
            stored = stored.with_fields(run_id=stored["run_id"][:-6] + secrets.token_hex(3))
        configs.append(stored)
        members.append({"run_id": stored["run_id"], "params": setting, "seed": seed})
    record = {
        "sweep_id": sweep_id, "name": name, "created_at": round(time.time(), 3),
        "kind": "grid" if body.grid else "random" if body.random else "seeds",
        "params": list((body.grid or body.random or {}).keys()), "seeds": body.seeds,
        "request": body.model_dump(mode="json"), "members": members,
    }
    return record, configs


class SweepStore:
    """``<runs>/sweeps/<sweep_id>.json``: the sweep records beside the runs (never followed through links)."""

    def __init__(self, runs: RunStore):
        self.runs = runs
        self.folder = runs.root / SWEEPS_FOLDER

    def path(self, sweep_id: str) -> Path:
        if not isinstance(sweep_id, str) or not SWEEP_ID_RE.match(sweep_id):
            raise RunNotFound(f"{short_repr(sweep_id)} is not a valid sweep id; list sweeps with GET /api/sweeps "
                              "or `latentdeck sweeps`")
        path = self.folder / f"{sweep_id}.json"
        if os.path.islink(self.folder) or not _plain_file(path):
            raise RunNotFound(f"no sweep {sweep_id!r} in {self.folder}; list sweeps with GET /api/sweeps")
        return path

    def write(self, record: dict[str, Any]) -> None:
        if os.path.islink(self.folder):
            raise RunStoreError(f"{self.folder} is a symbolic link; sweeps are written only inside the runs folder")
        self.folder.mkdir(exist_ok=True)
        write_json(self.folder / f"{record['sweep_id']}.json", record, root=self.runs.root)  # no link followed

    def remove(self, sweep_id: str) -> None:
        """Remove a record (one whose creation failed or was abandoned); never through a link."""
        if not os.path.islink(self.folder):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.folder / f"{sweep_id}.json")

    def read(self, sweep_id: str) -> dict[str, Any]:
        record = read_json(self.path(sweep_id), root=self.runs.root)
        if creation_abandoned(record):
            discard(self.runs, self, sweep_id)
            raise RunNotFound(f"no sweep {sweep_id!r}: its creation was interrupted (the process creating it "
                              "ended before its members existed), so nothing of it was kept; start it again")
        return record

    def list(self) -> list[dict[str, Any]]:
        """Every sweep record, newest first; creations a crash interrupted are cleaned up on the way
        (:func:`latentdeck.launch.sweep_creation.recover`)."""
        recover(self.runs)
        if os.path.islink(self.folder) or not self.folder.is_dir():
            return []
        rows = []
        for entry in os.scandir(self.folder):
            stem = entry.name.removesuffix(".json")
            if entry.name.endswith(".json") and SWEEP_ID_RE.match(stem) and _plain_file(Path(entry.path)):
                try:
                    record = read_json(entry.path, root=self.runs.root)
                except (OSError, ValueError):
                    continue
                if creation_abandoned(record):
                    discard(self.runs, self, stem)
                    continue
                rows.append(record)
        return sorted(rows, key=lambda r: (r.get("created_at") or 0, r["sweep_id"]), reverse=True)


def _plain_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except (OSError, ValueError):
        return False


def start_sweep(store: RunStore, pm, record: dict[str, Any], configs: list[dict[str, Any]], deferred=None) -> list[dict[str, Any]]:
    """Write the sweep record, create every member all or nothing (a full disk: :class:`DiskFull`, 507, and
    nothing written), then start them in order (through the run queue when given)."""
    sweeps = SweepStore(store)
    check_disk(pm, [stored for stored in configs if isinstance(stored, ResolvedRun)], store.root)
    staging = stage(store, sweeps, record, configs)
    place_all(store, sweeps, record, staging, [stored["run_id"] for stored in configs])
    return [_start_created(store, pm, stored, deferred) for stored in configs]


def _start_created(store: RunStore, pm, stored: dict[str, Any], deferred) -> dict[str, Any]:
    """:func:`latentdeck.launch.start_run` for a member already created: a failed start fails that run."""
    executor = collect(pm, "executors")[stored["executor"]]
    if deferred is not None:
        deferred.submit(stored["run_id"], executor)
        return store.summary(stored["run_id"])
    return start_worker(store, stored["run_id"], executor) or store.summary(stored["run_id"])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def best_metrics(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Per metric over the epochs: the highest accuracy, the lowest of everything else (losses)."""
    best: dict[str, Any] = {}
    for metrics in history:
        for key, value in metrics.items():
            if not _is_number(value) or key in ("epoch", "epochs", "threads", "train_seconds", "step"):
                continue
            higher = "accuracy" in key
            if key not in best or (value > best[key] if higher else value < best[key]):
                best[key] = value
    return best


def metric_history(run_dir: Path) -> list[dict[str, Any]]:
    """Each epoch's numeric ``train.metrics`` (top-level numbers only), in order."""
    rows = []
    for event in read_events(run_dir / "events.jsonl"):
        if event.get("type") == "train.metrics":
            data = event.get("data") or {}
            rows.append({k: v for k, v in data.items() if _is_number(v)})
    return rows


def sweep_detail(store: RunStore, record: dict[str, Any], with_history: bool = True) -> dict[str, Any]:
    """The record with each member's status, final and best metrics (and per-epoch history)."""
    members = []
    counts: dict[str, int] = {}
    for member in record.get("members", []):
        row = {**member, "status": "missing", "epochs_completed": 0, "epochs": None, "final": None, "best": None}
        try:
            run_dir = store.run_dir(member["run_id"])
            summary = read_json(run_dir / "summary.json")
            history = metric_history(run_dir)
        except (RunStoreError, OSError, ValueError):
            history = []
        else:
            row.update(status=summary.get("status"), epochs_completed=summary.get("epochs_completed", 0),
                       epochs=summary.get("epochs"), reason=summary.get("reason"),
                       final=history[-1] if history else None, best=best_metrics(history) or None)
        if with_history:
            row["history"] = history
        counts[row["status"]] = counts.get(row["status"], 0) + 1
        members.append(row)
    return {**{k: v for k, v in record.items() if k != "members"}, "members": members, "counts": counts}
