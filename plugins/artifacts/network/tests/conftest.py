"""What the network tests share: an asker of the network computations through the host's one path."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import ValidationError
from latentdeck.engine.computations import run
from latentdeck.kit import OnDemandError
from latentdeck.testing import asking_context


class _Net:
    """Asks the network computations through the host's one path (``computations.run``, as HTTP and the CLI do),
    with the Inspector's argument order; a fresh context per request. ``computed`` counts computes."""

    def __init__(self, run_dir, pm, heard, models=None):
        self.run_dir, self.pm, self.heard, self.models, self.computed = run_dir, pm, heard, models, 0

    def ask(self, op, **fields):
        ctx = asking_context(self.run_dir, f"network-{op}", pm=self.pm, heard=self.heard, models=self.models)
        spec = ctx.spec
        try:
            request = spec.request.model_validate(fields)
        except ValidationError as exc:
            raise OnDemandError(f"invalid request: {exc.errors()[0]['msg']}", 422) from None

        def counted(c, r):
            self.computed += 1
            return spec.compute(c, r)
        return run(dataclasses.replace(spec, compute=counted), ctx, request)

    def load(self, epoch):
        return asking_context(self.run_dir, "network-forward", pm=self.pm, models=self.models).load(epoch)

    def layers(self, epoch):
        return self.ask("layers", epoch=epoch).payload

    def forward(self, epoch, idx):
        return self.ask("forward", epoch=epoch, idx=idx)

    def inspect(self, epoch, idx, layer, ch, probe=None):
        return self.ask("inspect", epoch=epoch, idx=idx, layer=layer, ch=ch,
                        **({"x": probe[0], "y": probe[1]} if probe is not None else {}))

    def conv_step(self, epoch, idx, layer, out, x, y):
        return self.ask("conv-step", epoch=epoch, idx=idx, layer=layer, out=out, x=x, y=y)

    def kernels(self, epoch, layer, out):
        return self.ask("kernels", epoch=epoch, layer=layer, out=out)

    def perturb(self, epoch, idx, key, dim, delta):
        return self.ask("perturb", epoch=epoch, idx=idx, key=key, dim=dim, delta=delta)

    def topk(self, epoch, layer, ch, metric, n, k):
        return self.ask("topk", epoch=epoch, layer=layer, ch=ch, metric=metric, n=n, k=k)


@pytest.fixture
def inspector_for(plugin_manager):
    """``inspector_for(run_dir) -> (asker, announced)``: announced collects (name, epoch) of announced files."""
    def make(run_dir):
        announced: list[tuple[str, int]] = []
        return _Net(run_dir, plugin_manager, announced), announced
    return make


@pytest.fixture
def network_asker():
    """The asker class itself, for a test that builds one with its own plugin manager or model cache."""
    return _Net
