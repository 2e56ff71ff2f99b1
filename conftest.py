"""Suite-wide test settings (tests/, plugins/*/tests/, examples/).

No test server warms UMAP in the background unless a test asks for it: the local executor's warm
fork server is one per process, and while a warm-up some earlier test started is still compiling,
every later server in the same pytest process would (correctly) keep its new runs waiting for it.
The warm-worker tests start the fork server themselves (``LATENTDECK_WARMUP=import``).
"""

import pytest


@pytest.fixture(autouse=True)
def _no_background_warm_up(monkeypatch):
    monkeypatch.setenv("LATENTDECK_WARMUP", "off")
