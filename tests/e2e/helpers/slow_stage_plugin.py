"""A test plugin: an artifact generator that only waits, so a browser test can watch the run page
between epochs (``artifact_options: {"slow-stage": {"seconds": 3}}``). Loaded in workers through
``LATENTDECK_EXTRA_PLUGINS`` with this folder on ``PYTHONPATH``."""

import time

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ComputationSpec, hookimpl


class SlowOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(0.0, ge=0, le=30)


@hookimpl
def register_computations():
    return [ComputationSpec(name="slow-stage", compute=lambda ctx, request=None: time.sleep(ctx.options.seconds), options=SlowOptions,
                         folder="slow_stage", files=("nothing_{tag}.json",), description="waits (tests only)")]
