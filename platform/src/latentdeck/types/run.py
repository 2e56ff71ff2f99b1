"""The run: what a person asks for (:class:`RunConfig`) and what a run is once resolved (:class:`ResolvedRun`).

``RunConfig`` is a request (API body, CLI flags, ``--config`` file). Component-specific options (a model's
latent size, a loss weight, an artifact's grid size) live in ``model_options``, ``artifact_options``,
``projection_options`` and ``executor_options`` and are validated by each plugin's own options model, so
this record names no component.

``ResolvedRun`` is made once per run by ``prepare_run`` (the config with every default filled, the dataset
actually used, and every component's options parsed by its plugin), persisted as ``config.json``, and
read back once per process (``latentdeck.store.resolved.load_run``). Training, checkpoints and plugin
contexts receive it and read typed fields; ``run.config`` (and ``run[...]``) is config.json as stored.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Iterator, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_DATASET = "default"  # the available dataset with the lowest DatasetSpec.default_rank
MAX_SEED = 2**32 - 1  # numpy and UMAP take 32-bit seeds
MAX_THREADS = 256
# Every number in a run config has an upper bound (tests/reliability/test_bounds.py fails on one without):
# past these a run is a mistake (a typo, a fuzzer), and some would tie up the machine or overflow.
MAX_EPOCHS = 10_000  # epochs, and every "every N epochs" period (a longer period than the run never fires)
MAX_LIMIT = 10_000_000  # training examples: far above any dataset here (mnist has 60,000)
# Points on one map (viz_subset_size): all of Fashion-MNIST or MNIST, held-out plus training (10,000 + 60,000).
# A request above what its dataset and viz_split hold is refused by prepare_run, naming that maximum.
MAX_VIZ_SUBSET = 70_000
# Strict: a number must be a JSON number (never a bool or a string), an integer an integer, and every
# float finite. A config is refused whole before anything is written, never coerced or stored as null.
STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
Beta = Annotated[float, Field(ge=0, lt=1)]



def default_artifact_pipeline() -> str:
    """``artifact_pipeline`` when a config does not say: "inline" for now, or what ``$LATENTDECK_ARTIFACT_PIPELINE``
    names ("process" or "inline"; anything else is ignored). The pipeline process becomes the default once it
    passes the whole fault battery (a worker killed mid-write, a torn log, a full disk: issue 24's notes)."""
    chosen = os.environ.get("LATENTDECK_ARTIFACT_PIPELINE", "").strip().lower()
    return chosen if chosen in ("process", "inline") else "inline"


class OptimizerConfig(BaseModel):
    """Adam, as the specification asks; every knob is configurable."""

    model_config = STRICT

    name: str = Field("adam", pattern="^adam$", description="optimizer (Adam only)")
    lr: float = Field(1e-3, gt=0, le=10, description="learning rate, at most 10 (Adam diverges far below that)")
    betas: tuple[Beta, Beta] = Field((0.9, 0.999), strict=False, description="Adam's (beta1, beta2), each in [0, 1)")
    eps: float = Field(1e-8, gt=0, le=1, description="Adam's denominator term, at most 1 (larger turns Adam into SGD)")
    weight_decay: float = Field(0.0, ge=0, le=10, description="L2 penalty, at most 10 (larger only drives the weights to 0)")


class RunConfig(BaseModel):
    """What a person asks for when starting a run (API body, CLI flags, ``--config`` file)."""

    model_config = STRICT

    preset: str | None = Field(
        None, description="start from a named preset (GET /api/presets); the fields this request sets win")
    model: str | None = Field(None, description="model plugin name (see /api/components); default: the installed "
                                                "model with the lowest default_rank")
    model_options: dict[str, Any] = Field(
        default_factory=dict, description="options of the chosen model, validated by its plugin")
    dataset: str = Field(
        DEFAULT_DATASET,
        description="dataset plugin name; 'default' = mnist when its files are present, else mnist-5k")
    data_dir: str | None = Field(None, description="dataset folder (default $LATENTDECK_DATA_DIR or ~/.cache/latentdeck/data)")
    limit: int | None = Field(
        None, ge=1, le=MAX_LIMIT,
        description="train on N training examples: a seeded, class-stratified subset (each class keeps its "
                    "share; the same seed gives the same subset; the indices are recorded in config.json "
                    "as train_subset), never simply the first N; at most 10,000,000 (a limit at or above the "
                    "split's size trains on all of it)")
    epochs: int = Field(10, ge=1, le=MAX_EPOCHS, description="training epochs, at most 10,000")
    batch_size: int = Field(128, ge=1, le=65_536, description="examples per batch, at most 65,536 (more than "
                                                             "the held-out splits hold)")
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    seed: int = Field(0, ge=0, le=MAX_SEED, description="seed for weights, shuffling and visualization indices")
    checkpoint_every: int = Field(1, ge=1, le=MAX_EPOCHS, description="save a checkpoint every N epochs (the last "
                                                                      "epoch always); at most the epochs maximum, 10,000")
    viz_subset_size: int = Field(
        512, ge=1, le=MAX_VIZ_SUBSET,
        description="examples used by per-epoch artifacts (see viz_split), at most 70,000 (all of Fashion-MNIST with "
                    "viz_split all) and at most what the dataset's split holds (a larger request is refused, naming "
                    "the maximum; the default 512 is cut to a smaller split silently)")
    viz_indices: list[Annotated[int, Field(ge=0, le=10_000_000)]] | None = Field(
        None, max_length=MAX_VIZ_SUBSET, description="distinct held-out indices for artifacts (each below the held-out "
                                             "split's size); chosen from the seed at run start when empty")
    viz_split: Literal["heldout", "train", "all"] = Field(
        "heldout", description="where the visualization subset comes from: heldout (never trained on), train, or "
                               "all (held-out first, then training digits; mnist-5k with viz_subset_size 5000 shows all "
                               "5,000). Each point records whether the run trained on it")
    viz_train_indices: list[Annotated[int, Field(ge=0, le=10_000_000)]] | None = Field(
        None, max_length=MAX_VIZ_SUBSET, description="distinct training-split indices of the subset (viz_split train/all); "
                                             "chosen at run start when empty")
    artifacts: list[str] | None = Field(
        None, description="artifact generators to run each epoch (default: every one the model supports)")
    projections: list[str] | None = Field(
        None, description="projection methods computed per epoch (default: every installed one, e.g. pca, umap)")
    projection_every: dict[str, Annotated[int, Field(ge=0, le=MAX_EPOCHS)]] = Field(
        default_factory=dict,
        description="per method, project every N epochs (default 1; the last epoch always); 0 = never during "
                    "training, only on demand with backfill; at most the epochs maximum, 10,000. Example: {\"umap\": 5}")
    projection_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="options per projection method, validated by its plugin")
    artifact_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="options per artifact generator, validated by its plugin")
    executor: str | None = Field(None, description="executor plugin that starts the worker; default: the installed "
                                                   "executor with the lowest default_rank")
    executor_options: dict[str, Any] = Field(
        default_factory=dict, description="options of the chosen executor, validated by its plugin (the ray "
                                          "executor: num_cpus, num_gpus, cancel_grace_s)")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="where training runs: auto = a CUDA GPU when PyTorch sees one, else the CPU; cuda is "
                            "refused when no GPU is there (this machine for a run trained here; an executor "
                            "that trains elsewhere, such as ray, checks its own nodes). The device used is "
                            "recorded in run.started, train.metrics and summary.json")
    num_threads: int | None = Field(None, ge=1, le=MAX_THREADS, description="torch threads in the worker (default: all cores)")
    progress_interval_s: float = Field(
        0.25, ge=0.0, le=60.0, description="minimum seconds between train.progress events")
    cancel_check_every: int = Field(5, ge=1, le=1000, description="check the cancel flag every N batches, at most "
                                                                  "1,000 (more only delays a cancel)")
    generator_budget_s: float = Field(
        120.0, ge=0.1, le=3600.0, description="seconds each artifact generator or projection fit may take per epoch "
        "(and in a backfill); one that takes longer is abandoned with artifact.failed (reason timeout) and the run "
        "goes on without its files for that epoch")
    artifact_pipeline: Literal["process", "inline"] = Field(
        default_factory=default_artifact_pipeline, description="where the per-epoch artifacts are computed: "
        "process ($LATENTDECK_ARTIFACT_PIPELINE=process makes it the default) = in one pipeline process "
        "beside training (spawned at run start, fed the epoch's weights, epoch N+1 trains while epoch N's maps "
        "are computed); inline (the default for now) = between epochs in the training process, heavy computations "
        "in a background thread")
    name: str | None = Field(None, max_length=200, description="free-text label shown in listings")
    sweep_id: str | None = Field(
        None, pattern=r"^sw-[A-Za-z0-9._-]{1,120}$",
        description="the sweep this run belongs to (set by POST /api/sweeps and `latentdeck sweep`)")

    @field_validator("model", "dataset", "executor")
    @classmethod
    def _non_empty(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("viz_indices", "viz_train_indices")
    @classmethod
    def _distinct(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("must not repeat an index")
        return value

    @field_validator("model_options", "projection_options", "artifact_options", "executor_options")
    @classmethod
    def _finite(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Plugin options are validated by each plugin later; non-finite numbers never get that far."""
        where = _non_finite(value)
        if where is not None:
            raise ValueError(f"{where}: must be a finite number (NaN and Infinity are not accepted)")
        return value

    @model_validator(mode="after")
    def _viz_lists_match_the_split(self) -> "RunConfig":
        if self.viz_train_indices and self.viz_split == "heldout":
            raise ValueError("viz_train_indices lists training digits, but viz_split is 'heldout': set viz_split to "
                             "'train' or 'all', or leave viz_train_indices out")
        if self.viz_indices and self.viz_split == "train":
            raise ValueError("viz_indices lists held-out digits, but viz_split is 'train': set viz_split to 'all', "
                             "or leave viz_indices out")
        return self


def _non_finite(value: Any, path: str = "") -> str | None:
    """The dotted path of the first NaN/Infinity inside ``value`` (None when there is none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "value"
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return None
    for key, child in items:
        found = _non_finite(child, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


@dataclass(frozen=True, eq=False)
class ResolvedRun(Mapping[str, Any]):
    """One run, resolved once: the validated config plus the parsed options of every component it uses.

    - ``settings``: the :class:`RunConfig`, with ``model``, ``executor`` and ``dataset`` named (never a
      default left to resolve) and the optimizer parsed (``settings.optimizer.lr``);
    - ``model_options``: the model plugin's options model (also the source of the loss weights:
      ``ModelSpec.loss_weights(run.model_options, schedule)``);
    - ``artifact_options`` / ``projection_options``: ``{name: options model}`` for every installed artifact
      generator and projection, the run's values over each plugin's defaults;
    - ``executor_options``: the executor plugin's options model;
    - ``data_dir``: the dataset folder; ``train_subset``: the training examples ``limit`` chose (set when
      training starts; None before, and when the run trains on the whole split);
    - ``config``: ``config.json`` as stored (read-only), for plugins that read it by key. The record reads
      like it: ``run["seed"]``, ``run.get("preset")``, ``dict(run)``.

    A run changes only when training starts (the visualization indices and ``train_subset`` are chosen then):
    :meth:`with_fields` returns the new record, which is persisted before the first epoch.
    """

    run_id: str
    settings: RunConfig
    model_options: BaseModel
    executor_options: BaseModel
    data_dir: Path
    config: Mapping[str, Any]
    artifact_options: Mapping[str, BaseModel] = field(default_factory=dict)
    projection_options: Mapping[str, BaseModel] = field(default_factory=dict)
    train_subset: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        for name in ("config", "artifact_options", "projection_options"):  # read-only views of private copies
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    # -- read like config.json -------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self.config[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.config)

    def __len__(self) -> int:
        return len(self.config)

    def __reduce__(self):  # read-only views do not pickle: rebuild from plain copies (copy, deepcopy, processes)
        return (type(self), (self.run_id, self.settings, self.model_options, self.executor_options, self.data_dir,
                             dict(self.config), dict(self.artifact_options), dict(self.projection_options),
                             None if self.train_subset is None else dict(self.train_subset)))

    def __repr__(self) -> str:
        return f"ResolvedRun(run_id={self.run_id!r}, model={self.model!r}, dataset={self.dataset!r}, epochs={self.epochs})"

    # -- the fields read most ----------------------------------------------------------------------
    @property
    def model(self) -> str:
        return str(self.settings.model)

    @property
    def dataset(self) -> str:
        return self.settings.dataset

    @property
    def executor(self) -> str:
        return str(self.settings.executor)

    @property
    def epochs(self) -> int:
        return self.settings.epochs

    @property
    def seed(self) -> int:
        return self.settings.seed

    def with_fields(self, **fields: Any) -> "ResolvedRun":
        """This run with config fields set (``viz_indices``, ``viz_train_indices``, ``train_subset``, a sweep
        member's ``run_id``), already valid: the host chooses them when training starts or a sweep is made."""
        known = {k: v for k, v in fields.items() if k in RunConfig.model_fields}
        return replace(self, config={**self.config, **fields}, settings=self.settings.model_copy(update=known),
                       train_subset=fields.get("train_subset", self.train_subset),
                       run_id=str(fields.get("run_id", self.run_id)))
