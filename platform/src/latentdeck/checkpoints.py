"""Checkpoints: tensors and primitives only (``weights_only=True`` loads them), metadata in JSON beside.

``checkpoints/epoch_<N>.pt`` holds ``{"model": state_dict, "optimizer": state_dict}``;
``checkpoints/epoch_<N>.json`` says which epoch, model and metrics; ``latest.pt``/``latest.json``
mirror the newest.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from .atomic import copy_atomic, read_json, write_bytes, write_json


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded into the run's model; the message names the file."""


def save_checkpoint(run_dir: Path, epoch: int, model, optimizer, meta: dict[str, Any]) -> str:
    import torch

    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    folder = Path(run_dir) / "checkpoints"
    write_bytes(folder / f"epoch_{epoch}.pt", buffer.getvalue())
    write_json(folder / f"epoch_{epoch}.json", {"epoch": epoch, **meta})
    copy_atomic(folder / f"epoch_{epoch}.pt", folder / "latest.pt")
    copy_atomic(folder / f"epoch_{epoch}.json", folder / "latest.json")
    return f"checkpoints/epoch_{epoch}.pt"


def load_model(run_dir: Path, pm=None, epoch: int | None = None, device: str = "cpu"):
    """Rebuild a run's model from ``config.json`` and a checkpoint (the latest by default), in eval mode, on
    ``device`` (the CPU by default: artifacts and on-demand computations run there). The checkpoint's tensors
    are mapped onto it, so a run trained on a GPU loads on a CPU-only machine and the reverse."""
    from .devices import load_state, torch_device
    from .plugins import collect, get_plugin_manager

    pm = pm or get_plugin_manager()
    run_dir = Path(run_dir)
    config = read_json(run_dir / "config.json")
    model_spec = collect(pm, "models")[config["model"]]
    dataset_spec = collect(pm, "datasets")[config["dataset"]]
    options = model_spec.options.model_validate(config["model_options"])
    model = model_spec.build(options, dataset_spec)
    name = "latest" if epoch is None else f"epoch_{epoch}"
    try:
        state = load_state(run_dir / "checkpoints" / f"{name}.pt", device)
        model.load_state_dict(state["model"])
    except FileNotFoundError:
        raise
    except Exception as exc:  # truncated, random, empty, a pickle weights_only refuses, another model's weights
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CheckpointError(f"checkpoints/{name}.pt cannot be loaded: it is damaged or does not fit this run's "
                              f"model ({type(exc).__name__}: {detail[:160]})") from exc
    if device != "cpu":
        model.to(torch_device(device))
    model.eval()
    return model, read_json(run_dir / "checkpoints" / f"{name}.json")


def checkpoint_epochs(run_dir: Path) -> list[int]:
    """Epochs with a saved checkpoint (``checkpoints/epoch_<N>.pt``), ascending."""
    found = []
    for path in (Path(run_dir) / "checkpoints").glob("epoch_*.pt"):
        match = re.fullmatch(r"epoch_(\d+)\.pt", path.name)
        if match:
            found.append(int(match.group(1)))
    return sorted(found)
