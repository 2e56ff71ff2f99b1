"""Decoded samples: M decodes of z ~ q(z|x_i) around a held-out example, or of z ~ p(z|c) of one component.

One grid per call of :func:`sample`, the computation ``sampling`` asked for one grid (``POST
/api/runs/{id}/compute/sampling``, ``latentdeck compute sampling``, and the epoch loop's default set through
``ctx.answer``): one path, so a sample grid is the same bytes whoever asked for it.

What is sampled follows the model's declared capabilities (no model names):

- ``posterior_local`` on a model with ``gaussian_posterior`` (forward returns ``mu``, ``logvar``; ``gmvae``):
  ``z = mu(x_i) + exp(logvar(x_i) / 2) * eps``, ``distribution: "q(z|x)"``.
- ``posterior_local`` on a model with a deterministic encoder (e.g. ``ae``): there is no posterior to
  sample, so this is a *labelled* isotropic neighbourhood ``z = encode(x_i) + sigma * eps`` with
  ``sigma = neighbourhood_scale * latent_rms`` (the RMS spread of the visualization subset's latents
  per dimension, rounded to 4 significant digits), ``distribution: "isotropic_neighbourhood"``.
- ``prior_component`` on a model with ``mixture_prior`` (forward returns ``prior_mu``, ``prior_logvar`` (K, d)):
  ``z = prior_mu[c] + exp(prior_logvar[c] / 2) * eps``, ``distribution: "p(z|c)"``. A model without a
  prior is refused (422).

``eps`` is ``torch.randn(m, d)`` from a generator seeded with :func:`derived_seed` (a hash of the run
seed, the epoch, the kind and the key, so the m=16 grid is the first 16 of the m=64 grid) unless the
request gives a seed.

Files: the seed specification's names, a grid's two files keyed by their stem (:func:`sample_key`, a key
``<stem>.*``), kept by the host (computed into a temporary folder, each file renamed to the stem plus its
extension, then the host's hidden ``.<stem>.result.json`` that marks the grid complete; announced once; a
repeat is served from disk without computing)::

    samples/posterior_local_epoch_<N>_idx_<i>_m_<M>[_seed_<s>].png|.json
    samples/prior_component_epoch_<N>_c_<c>_m_<M>[_seed_<s>].png|.json

``_seed_<s>`` only for a seed that differs from the derived one (giving the derived seed lands on the same
names). The per-epoch set adds the ``*_latest`` mirrors ``samples/<kind>_latest_<idx|c>_<k>_m_<M>.png|.json``
(:mod:`latentdeck_sampling.plugin`).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from latentdeck import ComputationResult
from latentdeck.kit import OnDemandError, dumps, png_bytes, pretraining_note, single_threaded

GENERATOR = "sampling"  # the per-epoch generator's name (its options live in artifact_options.sampling)
MAX_M = 256  # samples per request: a 16 x 16 grid
MAX_SEED = 2**32 - 1
KINDS = ("posterior_local", "prior_component")
PAD = 2
BACKGROUND = 32

Kind = Literal["posterior_local", "prior_component"]


class SamplingOptions(BaseModel):
    """``artifact_options.sampling``: the small set sampled after every epoch, and the AE's neighbourhood."""

    model_config = ConfigDict(extra="forbid")

    m: int = Field(16, ge=1, le=MAX_M, description="samples per grid in the per-epoch set")
    posterior_count: int = Field(4, ge=0, le=64, description="posterior-local grids per epoch: the first N of "
                                 "config.json viz_indices (ignored when posterior_indices is given)")
    posterior_indices: list[Annotated[int, Field(ge=0, le=10_000_000)]] | None = Field(
        None, description="held-out indices (each 0..10,000,000, like viz_indices) to sample around each epoch "
                          "(default: the first posterior_count viz indices)")
    components: list[Annotated[int, Field(ge=0, le=255)]] | None = Field(
        None, description="mixture components (each 0..255: a model has at most 256) to sample each epoch "
                          "(default: all K; [] for none)")
    neighbourhood_scale: float = Field(
        0.25, gt=0, le=10, allow_inf_nan=False, description="models with a deterministic encoder: sigma of the "
                                                            "isotropic neighbourhood, in units of the latents' RMS spread")


def derived_seed(run_seed: int, epoch: int, kind: str, key: int) -> int:
    """The default seed of a grid: the first 4 bytes of sha256("<run seed>:<epoch>:<kind>:<key>"), big-endian."""
    digest = hashlib.sha256(f"{run_seed}:{epoch}:{kind}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def key_field(kind: str) -> str:
    return "idx" if kind == "posterior_local" else "component"


def _key_token(kind: str) -> str:
    return "idx" if kind == "posterior_local" else "c"


def grid_template(kind: str, key: int, m: int) -> str:
    """``<kind>_{tag}_<idx|c>_<k>_m_<M>`` (no extension): a grid's names, ``{tag}`` = ``epoch_<N>`` | ``latest``."""
    return f"{kind}_{{tag}}_{_key_token(kind)}_{key}_m_{m}"


def grid_stem(kind: str, key: int, m: int, epoch: int, seed_override: int | None = None) -> str:
    """``posterior_local_epoch_<N>_idx_<i>_m_<M>`` / ``prior_component_epoch_<N>_c_<c>_m_<M>`` (+ ``_seed_<s>``):
    the stem of one grid's ``.png`` and ``.json``."""
    name = grid_template(kind, key, m).replace("{tag}", f"epoch_{epoch}")
    return name if seed_override is None else f"{name}_seed_{seed_override}"


def seed_override(request: "SampleRequest", run_seed: int, epoch: int) -> int | None:
    """The request's seed when it differs from the derived one, else None (the derived seed's folder)."""
    if request.seed is None or request.seed == derived_seed(run_seed, epoch, request.kind, request.key):
        return None
    return request.seed


def sample_key(request: "SampleRequest", epoch: int, ctx) -> str:
    """The computation's key, ``<grid_stem>.*``: the grid's files by stem (the run's seed tells a derived seed
    from an override)."""
    override = seed_override(request, int(ctx.config["seed"]), epoch)
    return f"{grid_stem(request.kind, request.key, request.m, epoch, override)}.*"


# --- drawing -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Drawn:
    """Latents to decode (m, d) and what they were drawn from (JSON fields)."""

    z: Any
    fields: dict[str, Any]


def latent_rms(latents) -> float:
    """sqrt(mean over dimensions of the per-dimension variance), rounded to 4 significant digits."""
    import torch

    latents = torch.as_tensor(latents, dtype=torch.float64)
    value = float(latents.var(0, unbiased=False).mean().sqrt()) if len(latents) > 1 else 1.0
    return float(f"{value:.4g}") if value > 0 else 1.0


def draw_posterior_local(model, capabilities, x, eps, neighbourhood_scale: float, rms: float | None) -> Drawn:
    """``z`` around example ``x`` (1, c, h, w) for standard-normal ``eps`` (m, d)."""
    if "gaussian_posterior" in capabilities:
        outputs = model(x)
        mu, std = outputs["mu"][0], (0.5 * outputs["logvar"][0]).exp()
        return Drawn(mu + std * eps, {
            "distribution": "q(z|x)", "description": "z ~ q(z|x_i) = N(mu, diag(exp(logvar))) of the model's encoder",
            "center": mu.tolist(), "std_mean": float(std.mean())})
    center = model.encode(x)[0]
    assert rms is not None, "a deterministic encoder needs the latents' RMS spread to scale its neighbourhood"
    sigma = float(f"{neighbourhood_scale * rms:.4g}")
    return Drawn(center + sigma * eps, {
        "distribution": "isotropic_neighbourhood",
        "description": f"the encoder is deterministic (no q(z|x)): z = encode(x_i) + sigma * eps, an isotropic "
                       f"neighbourhood with sigma = {neighbourhood_scale} x latent RMS {rms} = {sigma}",
        "center": center.tolist(), "sigma": sigma, "neighbourhood_scale": neighbourhood_scale, "latent_rms": rms})


def draw_prior_component(model, x_any, component: int, eps) -> Drawn:
    """``z ~ p(z|c)`` from the prior parameters the model's forward returns (``prior_mu``, ``prior_logvar``)."""
    outputs = model(x_any)
    prior_mu, prior_logvar = outputs["prior_mu"], outputs["prior_logvar"]
    mu, std = prior_mu[component], (0.5 * prior_logvar[component]).exp()
    return Drawn(mu + std * eps, {
        "distribution": "p(z|c)", "description": "z ~ p(z|c) = N(prior_mu[c], diag(exp(prior_logvar[c])))",
        "components": int(prior_mu.shape[0]), "center": mu.tolist(), "std_mean": float(std.mean())})


def grid_image(images) -> tuple[Any, dict[str, Any]]:
    """Tile decodes (m, c, h, w) in [0, 1] into a square-ish grayscale uint8 grid; the array and its layout."""
    import numpy as np

    m, c, h, w = images.shape
    columns = math.ceil(math.sqrt(m))
    rows = math.ceil(m / columns)
    canvas = np.full((pad_len(rows, h), pad_len(columns, w)), BACKGROUND, dtype=np.uint8)
    pixels = (images.mean(1).clamp(0, 1) * 255).round().byte().numpy()  # (m, h, w)
    for i in range(m):
        r, col = divmod(i, columns)
        top, left = PAD + r * (h + PAD), PAD + col * (w + PAD)
        canvas[top:top + h, left:left + w] = pixels[i]
    return canvas, {"columns": columns, "rows": rows, "pad": PAD, "tile": [h, w],
                               "order": "row-major, sample 0 top-left"}


def pad_len(count: int, size: int) -> int:
    return PAD + count * (size + PAD)


def render(model, capabilities, kind: str, key: int, m: int, seed: int, epoch: int, *, x=None, label: int | None = None,
           neighbourhood_scale: float = 0.25, rms: float | None = None) -> tuple[Any, dict[str, Any]]:
    """Draw and decode one grid (model in eval mode); returns the uint8 grid and the JSON payload.

    ``x`` is the example for ``posterior_local`` (1, c, h, w); ``prior_component`` needs any example of
    the dataset's shape in ``x`` (only to read the prior the forward returns).
    """
    import torch

    started = time.perf_counter()
    with torch.no_grad():
        d = model.encode(x).shape[1]
        eps = torch.randn(m, d, generator=torch.Generator().manual_seed(seed))  # (m, d)
        if kind == "posterior_local":
            drawn = draw_posterior_local(model, capabilities, x, eps, neighbourhood_scale, rms)
        else:
            drawn = draw_prior_component(model, x, key, eps)
        decodes = model.decode(drawn.z.float())
    grid, layout = grid_image(decodes)
    payload = {"kind": kind, "epoch": epoch, key_field(kind): key, "m": m, "seed": seed, **drawn.fields,
               "latent_dim": d, "layout": layout}
    if label is not None:
        payload["label"] = label
    payload["compute_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return grid, payload


# --- one grid (per epoch, API and CLI) ----------------------------------------------------------------------

class SampleRequest(BaseModel):
    """Which grid to decode: exactly one of ``idx`` (posterior_local) or ``component`` (prior_component)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Kind = Field("posterior_local", description="posterior_local: z ~ q(z|x_idx) (an isotropic neighbourhood for "
                                                      "deterministic encoders); prior_component: z ~ p(z|c) (mixture models)")
    idx: int | None = Field(None, ge=0, description="held-out index of the example (posterior_local)")
    component: int | None = Field(None, ge=0, description="mixture component c (prior_component)")
    m: int = Field(16, ge=1, le=MAX_M, description=f"samples in the grid (1..{MAX_M})")
    epoch: int | None = Field(None, ge=1, description="an epoch with a checkpoint (default: the newest)")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="explicit seed (default: derived from the run seed, "
                                                                  "epoch, kind and key)")

    @model_validator(mode="after")
    def _one_key(self):
        name, other = ("idx", "component") if self.kind == "posterior_local" else ("component", "idx")
        if getattr(self, name) is None:
            raise ValueError(f"kind {self.kind} needs {name!r} (the "
                             f"{'held-out index of an example' if name == 'idx' else 'mixture component'})")
        if getattr(self, other) is not None:
            raise ValueError(f"kind {self.kind} takes {name!r}, not {other!r}")
        return self

    @property
    def key(self) -> int:
        return self.idx if self.kind == "posterior_local" else self.component  # type: ignore[return-value]


_RMS: dict[tuple[str, int, float], float] = {}


def _sampling_options(config: dict[str, Any]) -> SamplingOptions:
    return SamplingOptions.model_validate((config.get("artifact_options") or {}).get(GENERATOR, {}))


def _viz_rms(loaded, run_dir: Path) -> float:
    """The RMS latent spread of the run's visualization subset at this epoch (cached per checkpoint)."""
    import torch

    key = (str(Path(run_dir).resolve()), loaded.epoch,
           (Path(run_dir) / "checkpoints" / f"epoch_{loaded.epoch}.pt").stat().st_mtime)
    if key not in _RMS:
        viz = loaded.viz_subset()  # the subset the per-epoch generator used
        with torch.no_grad(), single_threaded():
            _RMS[key] = latent_rms(loaded.encode(viz.x))
    return _RMS[key]


def sample(ctx, request: SampleRequest) -> ComputationResult:
    """One grid at ``ctx.epoch`` (the host resolved the request's epoch), written into ``ctx.folder``: the PNG as
    ``grid.png``, its JSON as ``grid.json`` (the host publishes them as ``samples/<stem>.png|.json``). The payload is
    the grid's JSON plus ``png`` and ``json`` (their run names) and, at a pretraining epoch of a prior sample,
    ``phase_note``; ``notes`` carries that and the sentence about a component that holds almost no data. A
    problem is an :class:`OnDemandError` (4xx) naming it, and then nothing is published."""
    loaded = ctx.load(ctx.epoch)
    epoch, kind, key, m = loaded.epoch, request.kind, request.key, request.m
    override = seed_override(request, int(loaded.config["seed"]), epoch)
    seed = override if override is not None else derived_seed(int(loaded.config["seed"]), epoch, kind, key)
    names = {"png": ctx.answer_file("grid.png"), "json": ctx.answer_file("grid.json")}
    rms = None
    if kind == "posterior_local":  # the epoch loop has the subset's latents; asked for later, encode them
        rms = latent_rms(loaded.latents) if loaded.latents is not None else _viz_rms(loaded, Path(ctx.run_dir))
    grid, payload = compute_grid(loaded, kind, key, m, seed, "override" if override is not None else "derived",
                                 names["png"], rms)
    folder = Path(ctx.folder)
    (folder / "grid.png").write_bytes(png_bytes(grid))
    (folder / "grid.json").write_text(dumps(payload) + "\n")
    note = (payload.get("component_weight") or {}).get("note")
    phase_note = prior_phase_note(loaded.phases, epoch) if kind == "prior_component" else None
    extra = {"phase_note": phase_note} if phase_note else {}
    return ComputationResult(notes=tuple(n for n in (phase_note, note) if n),
                             payload={**payload, **extra, "png": names["png"], "json": names["json"]})


def prior_phase_note(phases: list[dict[str, Any]], epoch: int) -> str | None:
    """Why prior samples of a pretraining epoch show nothing: the prior is not in use (or not initialised) yet."""
    return pretraining_note(phases, epoch, "these samples decode points of an untrained prior and look blank or "
                                           "alike. Pick a later epoch to see what a component has learnt")


def prior_components(ctx) -> int | None:
    """K when the model of ``ctx`` (a run context at an epoch) declares ``mixture_prior`` (read from the
    ``prior_mu`` its forward returns), else None."""
    import torch

    if "mixture_prior" not in ctx.model_spec.capabilities:
        return None
    images, _ = ctx.heldout_split()
    with torch.no_grad(), single_threaded():
        return int(ctx.model(images[:1])["prior_mu"].shape[0])


def compute_grid(ctx, kind: str, key: int, m: int, seed: int, seed_source: str, png_name: str,
                 rms: float | None) -> tuple[Any, dict[str, Any]]:
    """Check the key against the run of ``ctx`` (held-out range, K, a prior at all), then :func:`render` the
    grid (a uint8 array) and its JSON payload for the context's epoch."""
    with single_threaded():
        return _compute_grid(ctx, kind, key, m, seed, seed_source, png_name, rms)


def _compute_grid(ctx, kind, key, m, seed, seed_source, png_name, rms):
    model, capabilities, config, epoch = ctx.model, ctx.model_spec.capabilities, ctx.config, ctx.epoch
    if kind == "posterior_local":
        x, label = ctx.heldout_example(key)
    else:
        components = prior_components(ctx)
        if components is None:
            raise OnDemandError(
                f"model {config['model']!r} has no prior p(z|c) to sample (it does not declare the "
                "mixture_prior capability): prior-component samples need a mixture model such as gmvae; "
                "use kind posterior_local instead", 422)
        if key >= components:
            raise OnDemandError(f"component {key} does not exist: this {config['model']} has "
                                f"K={components} components, use 0..{components - 1}", 422)
        images, _ = ctx.heldout_split()
        x, label = images[:1], None
    grid, payload = render(model, capabilities, kind, key, m, seed, epoch, x=x, label=label,
                           neighbourhood_scale=_sampling_options(config).neighbourhood_scale, rms=rms)
    payload.update(seed_source=seed_source, seed_rule="sha256(f'{run_seed}:{epoch}:{kind}:{key}')[:4], big-endian",
                   model=config["model"], png=png_name)
    if kind == "prior_component" and "mixture" in capabilities:
        from latentdeck.kit import component_weight

        payload["component_weight"] = component_weight(model, images[config["viz_indices"]], key)
    return grid, payload



