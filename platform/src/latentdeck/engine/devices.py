"""Where a run trains: the CPU or a CUDA GPU (run config ``device``: ``auto`` | ``cpu`` | ``cuda``).

``auto`` takes CUDA when PyTorch sees a GPU on the machine the worker runs on, else the CPU. Only the
training step runs there (the model, its batches, the held-out metrics and the model plugin's own
steps). Checkpoints are loaded onto the device at hand with ``map_location`` (:func:`load_state`),
and artifacts and on-demand computations run on the CPU from a CPU copy of the model
(:func:`cpu_model`), so a run trained on a GPU replays, backfills and answers on-demand requests on a
CPU-only lab, and its artifacts never depend on the device it trained on.
"""

from __future__ import annotations

import copy
from typing import Any

# Heavy imports (torch) sit inside the functions that use them, on purpose: importing this module stays cheap.

CHOICES = ("auto", "cpu", "cuda")


class DeviceUnavailable(ValueError):
    """``device: cuda`` on a machine where PyTorch sees no CUDA GPU; the message says what to do."""


def cuda_available() -> bool:
    """Whether PyTorch sees a CUDA GPU here. The server asks only for ``device: cuda``; ``auto`` is resolved
    in the worker, whose own process then uses CUDA."""
    import torch

    return bool(torch.cuda.is_available())


def unavailable_message(where: str = "this machine") -> str:
    import torch

    build = f"PyTorch {torch.__version__}, built " + (
        f"for CUDA {torch.version.cuda}" if torch.version.cuda else "without CUDA")
    return (f"device: 'cuda' was asked for, but PyTorch sees no CUDA GPU on {where} ({build}); set device to "
            "'auto' (CUDA when there is a GPU, else the CPU) or 'cpu'")


def resolve(requested: str | None) -> str:
    """The device a run uses for ``requested`` (None, as in configs written before the field: ``auto``)."""
    requested = requested or "auto"
    if requested not in CHOICES:
        raise ValueError(f"device: {requested!r} is not one of {', '.join(CHOICES)}")
    if requested == "cpu":
        return "cpu"
    if cuda_available():
        return "cuda"
    if requested == "cuda":
        raise DeviceUnavailable(unavailable_message())
    return "cpu"


def check_requested(requested: str | None) -> None:
    """Refuse ``cuda`` where PyTorch sees none (before a run is written); ``auto`` and ``cpu`` always pass."""
    if requested == "cuda" and not cuda_available():
        raise DeviceUnavailable(unavailable_message())


def torch_device(name: str):
    """The ``torch.device`` for a resolved name (one place, so tests can map ``cuda`` onto the CPU)."""
    import torch

    return torch.device(name)


def load_state(path, device: str = "cpu") -> dict[str, Any]:
    """A checkpoint's tensors, mapped onto ``device`` whatever device they were saved from."""
    import torch

    return torch.load(path, map_location=torch_device(device), weights_only=True)


def cpu_model(model, device: str):
    """The model for artifact generators: itself on the CPU, else a CPU copy (the run's weights untouched)."""
    if device == "cpu":
        return model

    return copy.deepcopy(model).to("cpu")
