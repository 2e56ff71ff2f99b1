"""Checkpoints: tensors and primitives only (``weights_only=True`` loads them), metadata in JSON beside.

``checkpoints/epoch_<N>.pt`` holds ``{"model": state_dict, "optimizer": state_dict}``;
``checkpoints/epoch_<N>.json`` says which epoch, model and metrics; ``latest.pt``/``latest.json``
mirror the newest.

The pair is one unit: the ``.json`` is written after the ``.pt`` and marks it complete. A ``.pt`` whose
``.json`` is missing (a worker killed between the two writes) or damaged is not a checkpoint: readers
(:func:`checkpoint_epochs`) leave it out, :func:`checkpoint_units` says why, and :func:`load_model`
refuses it with a :class:`CheckpointError` naming the ``.pt``.

Every file is reached from the run folder without following links (:mod:`latentdeck.kit.safepath`): a linked
``checkpoints/`` is refused (:class:`~latentdeck.kit.safepath.UnsafePath`, 409), and a ``.pt`` or ``.json`` that
is a link or a FIFO is not a checkpoint (a :class:`CheckpointError` naming it, never a blocked read).
"""

from __future__ import annotations

import io
import re
import stat
from pathlib import Path
from typing import Any

from ..kit import safepath
from ..kit.atomic import copy_atomic, read_json, write_bytes, write_json
from . import devices  # torch_device is looked up when called: tests swap it
from .. import registry as plugin_registry  # get_plugin_manager is looked up when called: tests swap it
from ..registry import collect
from ..store.resolved import load_run

# Heavy imports (torch) sit inside the functions that use them, on purpose: importing this module stays cheap.


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded into the run's model; the message names the file."""


def save_checkpoint(run_dir: Path, epoch: int, model, optimizer, meta: dict[str, Any]) -> str:
    import torch

    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    folder = Path(run_dir) / "checkpoints"
    write_bytes(folder / f"epoch_{epoch}.pt", buffer.getvalue(), root=run_dir)
    # last: it marks the .pt complete
    write_json(folder / f"epoch_{epoch}.json", {"epoch": epoch, **meta}, root=run_dir)
    copy_atomic(folder / f"epoch_{epoch}.pt", folder / "latest.pt", root=run_dir)
    copy_atomic(folder / f"epoch_{epoch}.json", folder / "latest.json", root=run_dir)
    return f"checkpoints/epoch_{epoch}.pt"


def read_checkpoint_meta(run_dir: Path, name: str) -> dict[str, Any]:
    """The metadata of ``checkpoints/<name>.pt`` (``name``: ``epoch_<N>`` or ``latest``); a missing or
    damaged ``<name>.json``, or one describing another epoch, is a :class:`CheckpointError` naming the .pt."""
    path = Path(run_dir) / "checkpoints" / f"{name}.json"
    try:
        meta = read_json(path, root=run_dir)
    except safepath.UnsafePath as exc:  # a link or a FIFO: never followed, never waited on
        raise CheckpointError(f"checkpoints/{name}.pt is not used: {exc}") from None
    except FileNotFoundError:
        raise CheckpointError(f"checkpoints/{name}.pt is incomplete: its metadata checkpoints/{name}.json is "
                              "missing (the save was interrupted)") from None
    except (OSError, ValueError) as exc:  # not JSON, not UTF-8, not a regular file
        raise CheckpointError(f"checkpoints/{name}.pt is incomplete: its metadata checkpoints/{name}.json is "
                              f"damaged ({type(exc).__name__}: {str(exc)[:120]})") from None
    match = re.fullmatch(r"epoch_(\d+)", name)
    epoch = meta.get("epoch") if isinstance(meta, dict) else None
    if not isinstance(epoch, int) or isinstance(epoch, bool) or (match and epoch != int(match.group(1))):
        wanted = f"epoch {match.group(1)}" if match else "a whole-number epoch"
        raise CheckpointError(f"checkpoints/{name}.pt is incomplete: its metadata checkpoints/{name}.json is "
                              f"damaged (it does not say {wanted})")
    return meta


def load_model(run_dir: Path, pm=None, epoch: int | None = None, device: str = "cpu"):
    """Rebuild a run's model from its resolved run (:func:`latentdeck.store.resolved.load_run`) and a checkpoint
    (the latest by default), in eval mode, on ``device`` (the CPU by default: artifacts and on-demand computations
    run there). The checkpoint's tensors are mapped onto it, so a run trained on a GPU loads on a CPU-only machine
    and the reverse."""
    pm = pm or plugin_registry.get_plugin_manager()
    run_dir = Path(run_dir)
    run = load_run(run_dir, pm)  # parsed once per process (a RunRecordError, 409, names what is not installed)
    model = collect(pm, "models")[run.model].build(run.model_options, collect(pm, "datasets")[run.dataset])
    name = "latest" if epoch is None else f"epoch_{epoch}"
    meta = read_checkpoint_meta(run_dir, name)  # first: a .pt without valid metadata is not loaded at all
    try:
        with safepath.open_reader(run_dir, f"checkpoints/{name}.pt") as handle:  # no link, no FIFO
            state = devices.load_state(handle, device)
        model.load_state_dict(state["model"])
    except safepath.UnsafePath as exc:
        raise CheckpointError(f"checkpoints/{name}.pt is not used: {exc}") from None
    except FileNotFoundError:
        raise
    except Exception as exc:  # truncated, random, empty, a pickle weights_only refuses, another model's weights
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CheckpointError(f"checkpoints/{name}.pt cannot be loaded: it is damaged or does not fit this run's "
                              f"model ({type(exc).__name__}: {detail[:160]})") from exc
    if device != "cpu":
        model.to(devices.torch_device(device))
    model.eval()
    return model, meta


def checkpoint_units(run_dir: Path) -> tuple[list[int], dict[int, str]]:
    """``(epochs, incomplete)``: the epochs whose ``epoch_<N>.pt`` has valid metadata, ascending, and
    ``{epoch: why}`` for each ``.pt`` without (the reason names the file)."""
    complete, incomplete = [], {}
    try:
        entries = safepath.list_folder(run_dir, "checkpoints")  # a linked checkpoints/ is refused, not listed
    except FileNotFoundError:
        entries = []
    for filename, mode in entries:
        match = re.fullmatch(r"epoch_(\d+)\.pt", filename)
        if not match:
            continue
        number = int(match.group(1))
        if not stat.S_ISREG(mode):
            incomplete[number] = str(safepath.refusal(safepath.shown(run_dir, ["checkpoints", filename]), mode, "file"))
            continue
        try:
            read_checkpoint_meta(run_dir, f"epoch_{number}")
        except CheckpointError as exc:
            incomplete[number] = str(exc)
        else:
            complete.append(number)
    return sorted(complete), dict(sorted(incomplete.items()))


def checkpoint_epochs(run_dir: Path) -> list[int]:
    """Epochs with a complete checkpoint (``checkpoints/epoch_<N>.pt`` and valid ``epoch_<N>.json``), ascending."""
    return checkpoint_units(run_dir)[0]
