"""The launch form says which datasets are available here: Fashion-MNIST once Debian's package (small IDX files
in its layout here) is installed, and what to install while it is not."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import expect

from latentdeck.kit.datasets import write_idx
from latentdeck_fashion_mnist import plugin as fashion

pytestmark = pytest.mark.slow


def _debian_layout(folder):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 20), ("t10k", 10)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))


def test_the_form_marks_fashion_mnist_available_once_installed(serve_api, page, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTDECK_DATA_DIR", str(tmp_path / "data"))
    debian = tmp_path / "usr" / "share" / "datasets" / "fashion-mnist"
    monkeypatch.setattr(fashion, "DEBIAN_DIR", debian)
    live = serve_api()
    page.goto(live.url + "/")
    page.select_option("#f-dataset", "fashion-mnist")
    expect(page.get_by_test_id("dataset-unavailable")).to_contain_text("apt-get install dataset-fashion-mnist")
    expect(page.locator("#f-dataset option[value='fashion-mnist']")).to_have_text("fashion-mnist — unavailable")

    _debian_layout(debian)  # `apt-get install dataset-fashion-mnist`, in miniature
    page.reload()
    page.select_option("#f-dataset", "fashion-mnist")
    expect(page.get_by_test_id("dataset-available")).to_contain_text("Available here")
    expect(page.locator("#f-dataset option[value='fashion-mnist']")).to_have_text("fashion-mnist — available")
    expect(page.get_by_test_id("dataset-unavailable")).to_have_count(0)
