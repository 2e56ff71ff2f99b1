"""Suite-wide test settings (tests/, plugins/*/tests/, examples/).

No test server warms UMAP in the background unless a test asks for it: the local executor's warm
fork server is one per process, and while a warm-up some earlier test started is still compiling,
every later server in the same pytest process would (correctly) keep its new runs waiting for it.
The warm-worker tests start the fork server themselves (``LATENTDECK_WARMUP=import``).

Runs the suite trains compute their per-epoch artifacts inline (the default) even where the machine running it
makes the pipeline process its default: a pipeline process costs each of the suite's hundreds of tiny runs a few
seconds of imports; the tests of the process ask for it (``artifact_pipeline: process``). Set before any server or
worker starts, so the processes the suite spawns inherit it.
"""

import os

import pytest

os.environ["LATENTDECK_ARTIFACT_PIPELINE"] = "inline"


@pytest.fixture(autouse=True)
def _no_background_warm_up(monkeypatch):
    monkeypatch.setenv("LATENTDECK_WARMUP", "off")
