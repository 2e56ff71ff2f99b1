"""The examples prove the platform: built as wheels and installed with ``pip install --no-deps
--target`` (no editable install, nothing in latentdeck changed), a real server loads them, trains a tiny
run that writes the artifact example's files into its own folder, serves the on-demand example's
computation, finds both through the API, and reports a broken package while the lab keeps working.
The browser half (the generic views on the run page, /plugins) is tests/e2e/test_examples_ui.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "helpers"))

from installed_lab import installed_lab  # noqa: E402


def test_installed_examples_work_without_touching_the_host(tmp_path, tiny_config):
    with installed_lab(tmp_path) as lab:
        plugins = {row["name"]: row for row in lab.client.get("/api/plugins").json()}
        assert plugins["latent_stats"]["status"] == "ok" and plugins["latent_stats"]["version"] == "0.1.0"
        assert plugins["nearest"]["status"] == "ok" and plugins["nearest"]["provides"] == {"ondemand": ["nearest"], "views": ["nearest-panel"]}
        bundle = lab.client.get("/api/views/nearest-panel.js")  # the view's ES module, carried in the wheel
        assert bundle.status_code == 200 and "nearest-panel-run" in bundle.text
        broken = plugins["broken_example"]
        assert broken["status"] == "failed" and "a_module_nobody_installed_xyz" in broken["error"]

        run_id = lab.train({**tiny_config, "projections": [], "artifacts": ["recon_grid", "latent_stats"]})
        listing = lab.client.get(f"/api/runs/{run_id}/files").json()
        files = {row["name"]: row for row in listing["files"]}
        assert "latent_stats/latent_stats_epoch_2.json" in files  # written by the worker, in its own folder
        answer = lab.client.post(f"/api/runs/{run_id}/compute/nearest", json={"idx": 1, "k": 4})
        assert answer.status_code == 200, answer.text
        assert answer.json()["folder"] == "nearest/epoch_2/idx_1_k_4"
        strip = lab.client.get(f"/api/runs/{run_id}/artifacts/nearest/epoch_2/idx_1_k_4/strip.png")
        assert strip.status_code == 200 and strip.content[:4] == b"\x89PNG"
        assert lab.client.post(f"/api/runs/{run_id}/compute/nearest", json={"idx": 1, "k": 0}).status_code == 422
        listing = lab.client.get(f"/api/runs/{run_id}/files").json()
        types = {row["name"]: row for row in listing["artifacts"]}
        assert types["latent_stats"]["view"] == "metric_series" and types["nearest"]["view"] == "table"
        assert types["nearest"]["kind"] == "ondemand"
        stats_epochs = {row["epoch"] for row in listing["files"] if row["artifact"] == "latent_stats" and row["epoch"]}
        assert stats_epochs == {1, 2}
        strip_row = next(row for row in listing["files"] if row["name"] == "nearest/epoch_2/idx_1_k_4/strip.png")
        assert (strip_row["artifact"], strip_row["kind"], strip_row["epoch"]) == ("nearest", "ondemand", 2)
        assert "/api/runs/{run_id}/compute/nearest" in lab.client.get("/openapi.json").json()["paths"]
