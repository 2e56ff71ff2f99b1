"""The GM-VAE through the HTTP API: the same launch path as the AE, its options schema, bad input,
and a short run that completes with every artifact."""

from __future__ import annotations

import pytest

GMVAE_OPTIONS = {"latent_dim": 4, "channels": [8, 8], "num_components": 4,
                 "categorical_kl_anneal": True, "categorical_kl_anneal_epochs": 2}


def wait_status(live, run_id, statuses, waiter, timeout=90.0):
    def check():
        summary = live.client.get(f"/api/runs/{run_id}").json()["summary"]
        return summary if summary["status"] in statuses else None
    return waiter(check, timeout=timeout, every=0.1, what=f"run {run_id} to become {statuses}")


def test_gmvae_run_over_http_completes_with_all_artifacts(serve_api, tiny_config, waiter):
    live = serve_api()
    config = {**tiny_config, "model": "gmvae", "model_options": GMVAE_OPTIONS, "projections": []}
    response = live.client.post("/api/runs", json=config)  # the AE's config, another model name
    assert response.status_code == 201, response.text
    body = response.json()
    run_id = body["summary"]["run_id"]
    assert body["config"]["model_options"]["kld_weight"] == 1.0  # defaults resolved and persisted
    summary = wait_status(live, run_id, {"completed", "failed", "cancelled"}, waiter)
    assert summary["status"] == "completed", summary
    metrics = summary["metrics"]
    assert metrics["epoch"] == 2 and metrics["cat_kl_weight"] == 1.0 and len(metrics["qc_argmax_counts"]) == 4

    names = {row["name"] for row in live.client.get(f"/api/runs/{run_id}/files").json()["files"]}
    for epoch in (1, 2):
        assert {f"mixture/mixture_health_epoch_{epoch}.json", f"reconstructions/recon_grid_epoch_{epoch}.png",
                f"checkpoints/epoch_{epoch}.pt"} <= names
    assert {"mixture/mixture_health_latest.json", "reconstructions/recon_grid_latest.png"} <= names
    health = live.client.get(f"/api/runs/{run_id}/artifacts/mixture/mixture_health_latest.json").json()
    assert health["epoch"] == 2 and health["components"] == 4 and sum(health["argmax_counts"]) == health["n"]


def test_components_publish_the_gmvae_options_with_defaults_and_descriptions(serve_api):
    live = serve_api()
    models = {row["name"]: row for row in live.client.get("/api/components").json()["models"]}
    gmvae = models["gmvae"]
    assert gmvae["provider"] == "latentdeck.gmvae"
    assert gmvae["capabilities"] == ["decoder", "gaussian_posterior", "latents", "mixture", "mixture_prior",
                                    "reconstruction"]
    properties = gmvae["options_schema"]["properties"]
    expected = {"num_components": 10, "kld_weight": 1.0, "categorical_kl_anneal": False,
                "categorical_kl_anneal_epochs": 10, "categorical_kl_max_weight": 1.0, "entropy_bonus_enable": False,
                "entropy_bonus_weight": 1.0, "entropy_bonus_epochs": 10}
    for field, default in expected.items():
        assert properties[field]["default"] == default, field
        assert properties[field]["description"], field
    assert properties["num_components"]["minimum"] == 2 and properties["kld_weight"]["minimum"] == 0.0


@pytest.mark.parametrize("options, field", [
    ({"num_components": 1}, "num_components"),
    ({"entropy_bonus_weight": -1}, "entropy_bonus_weight"),
    ({"categorical_kl_anneal": True, "categorical_kl_anneal_epochs": 5}, "categorical_kl_anneal_epochs"),
])
def test_bad_gmvae_options_are_a_422_naming_the_field(serve_api, tiny_config, runs_dir, options, field):
    live = serve_api()
    response = live.client.post("/api/runs", json={**tiny_config, "model": "gmvae", "model_options": options})
    assert response.status_code == 422
    assert f"model_options.{field}" in response.json()["detail"]
    assert not any(runs_dir.iterdir())


def test_entropy_options_on_the_ae_are_a_422_naming_the_field(serve_api, tiny_config):
    live = serve_api()
    response = live.client.post("/api/runs", json={**tiny_config, "model_options": {"entropy_bonus_enable": True}})
    assert response.status_code == 422
    assert "model_options.entropy_bonus_enable" in response.json()["detail"]
