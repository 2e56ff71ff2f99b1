"""A bulky per-epoch artifact for the pipeline battery (issue 24, item 3): ``bulky`` writes one large JSON file,
``bulky/bulky_{tag}.json`` (``numbers`` integers, about 8 bytes each), so its atomic write takes long enough for a
test to kill the pipeline process while the hidden temporary file is being written.

Loaded into a test's own plugin manager with ``plugin_manager_with(battery_pipelineplugin)``; the pipeline process
imports it by name (this folder is on the test process's ``sys.path``, which the process inherits).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ComputationSpec, hookimpl


class BulkyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    numbers: int = Field(4_000_000, ge=1, le=50_000_000)


def generate(ctx, request=None) -> None:
    count = ctx.options.numbers
    ctx.save_json("bulky", "bulky_{tag}.json", {"epoch": ctx.epoch, "count": count,
                                                 "numbers": list(range(1_000_000, 1_000_000 + count))})


@hookimpl
def register_computations():
    return [ComputationSpec(name="bulky", compute=generate, folder="bulky", files=("bulky_{tag}.json",),
                            options=BulkyOptions, description="a large JSON file per epoch (pipeline battery)")]
