"""``GET /api/runs/{id}/files``: one listing of a run's files with the keys parsed from the declared
patterns (artifact, kind, epoch, latest, method, dims, fields), and the OpenAPI artifact-name pattern
made from the declared folders."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from latentdeck import ComputationSpec, hookimpl
from latentdeck.api.app import create_app


@pytest.fixture
def client(plugin_manager, runs_dir):
    return TestClient(create_app(plugin_manager, runs_dir))


def by_name(listing):
    return {row["name"]: row for row in listing["files"]}


def test_files_carry_their_parsed_keys(trained_run, client):
    run_dir = trained_run("ae", projections=["pca", "first-dims"])
    (run_dir / "density").mkdir(exist_ok=True)
    (run_dir / "density" / "posterior_2d_epoch_1_zzz.json").write_text("{}")
    (run_dir / "density" / "notes.txt").write_text("not declared")
    answer = client.get(f"/api/runs/{run_dir.name}/files")
    assert answer.status_code == 200, answer.text
    listing = answer.json()
    assert listing["checkpoints"] == [1, 2]
    files = by_name(listing)

    pca2 = files["projections/latent_2d_epoch_2.json"]  # PCA's historical 2-D name
    assert (pca2["kind"], pca2["artifact"], pca2["method"], pca2["dims"], pca2["epoch"], pca2["latest"]) == (
        "projections", "pca", "pca", 2, 2, False)
    pca3 = files["projections/latent_3d_latest_pca.json"]
    assert (pca3["method"], pca3["dims"], pca3["epoch"], pca3["latest"]) == ("pca", 3, None, True)
    first = files["projections/latent_2d_epoch_1_first-dims.json"]
    assert (first["method"], first["dims"], first["epoch"]) == ("first-dims", 2, 1)

    recon = files["reconstructions/recon_grid_epoch_1.png"]
    assert (recon["kind"], recon["artifact"], recon["folder"], recon["epoch"]) == ("computations", "recon_grid", "reconstructions", 1)
    assert recon["size"] > 0 and recon["url"] == f"/api/runs/{run_dir.name}/artifacts/reconstructions/recon_grid_epoch_1.png"

    density = files["density/posterior_2d_epoch_1_zzz.json"]
    assert (density["artifact"], density["epoch"], density["method"]) == ("density", 1, "zzz")
    assert density["fields"]["family"] == "posterior" and density["role"] == "overlay"
    assert recon["role"] is None
    assert files["density/notes.txt"]["kind"] == "undeclared" and files["density/notes.txt"]["artifact"] is None
    assert files["checkpoints/epoch_2.pt"]["kind"] == "checkpoints" and files["checkpoints/epoch_2.pt"]["epoch"] == 2

    types = {row["name"]: row for row in listing["artifacts"]}
    assert types["density"]["overlay"] is True and types["density"]["folder"] == "density"
    assert types["density"]["roles"] == ["overlay"] and types["knn"]["roles"] == ["neighbours"]  # before it has files
    assert types["recon_grid"]["roles"] == []
    assert types["sampling"]["askable"] and types["sampling"]["runs"] == "every_epoch"  # listed before it has ever run

    only = client.get(f"/api/runs/{run_dir.name}/files", params={"folder": "projections", "epoch": 1}).json()
    assert only["files"] and {(r["folder"], r["epoch"]) for r in only["files"]} == {("projections", 1)}


def test_an_on_demand_answer_appears_with_its_keys(trained_run, client):
    run_dir = trained_run("ae", artifacts=["recon_grid"])
    made = client.post(f"/api/runs/{run_dir.name}/compute/sampling", json={"idx": 4, "m": 4})
    assert made.status_code == 200, made.text
    files = by_name(client.get(f"/api/runs/{run_dir.name}/files", params={"folder": "samples"}).json())
    row = files["samples/posterior_local_epoch_2_idx_4_m_4.json"]  # the seed specification's name
    assert (row["kind"], row["artifact"], row["epoch"]) == ("computations", "sampling", 2)
    assert row["fields"]["kind"] == "posterior_local" and row["fields"]["idx"] == 4 and row["fields"]["m"] == 4
    assert sorted(files) == [f"samples/posterior_local_epoch_2_idx_4_m_4.{ext}" for ext in ("json", "png")]  # result hidden
    assert (run_dir / "samples/.posterior_local_epoch_2_idx_4_m_4.result.json").is_file()


def test_an_older_run_s_flat_sample_files_stay_listed(trained_run, client):
    run_dir = trained_run("ae", artifacts=["recon_grid"])
    (run_dir / "samples").mkdir()
    for name in ("posterior_local_epoch_2_idx_4_m_4.json", "posterior_local_epoch_2_idx_4_m_4_seed_9.png",
                 "prior_component_latest_c_1_m_16.png"):  # what releases before keyed grids wrote: the same names
        (run_dir / "samples" / name).write_text("{}")
    files = by_name(client.get(f"/api/runs/{run_dir.name}/files", params={"folder": "samples"}).json())
    flat = files["samples/posterior_local_epoch_2_idx_4_m_4.json"]
    assert (flat["artifact"], flat["epoch"], flat["fields"]["idx"], flat["fields"]["m"]) == ("sampling", 2, 4, 4)
    assert files["samples/posterior_local_epoch_2_idx_4_m_4_seed_9.png"]["fields"]["seed_override"] == 9
    mirror = files["samples/prior_component_latest_c_1_m_16.png"]
    assert mirror["latest"] is True and mirror["fields"]["component"] == 1 and mirror["artifact"] == "sampling"


def test_bad_listing_requests_are_refused(client, trained_run):
    assert client.get("/api/runs/20260101-000000-abcdef/files").status_code == 404
    run_dir = trained_run("ae", artifacts=["recon_grid"])
    answer = client.get(f"/api/runs/{run_dir.name}/files", params={"epoch": "01"})
    assert answer.status_code == 422 and "epoch" in answer.json()["detail"]


def test_openapi_name_pattern_follows_the_declared_folders(plugin_manager_with, runs_dir):
    import types

    module = types.ModuleType("outside_folder_plugin")
    module.register_computations = hookimpl(lambda: [ComputationSpec(
        "outside-thing", compute=print, folder="outside_thing", files=("thing_{tag}.json",))])
    pm = plugin_manager_with(module)
    schema = TestClient(create_app(pm, runs_dir)).get("/openapi.json").json()
    parameters = schema["paths"]["/api/runs/{run_id}/artifacts/{name}"]["get"]["parameters"]
    pattern = next(p for p in parameters if p["name"] == "name")["schema"]["pattern"]
    for name in ("outside_thing/thing_latest.json", "atlas/atlas_inputs.json", "walks/a/b.json",
                 "checkpoints/epoch_1.pt", "projections/latent_2d_epoch_1.json", "config.json"):
        assert re.match(pattern, name), name
    for name in ("elsewhere/x.json", "worker.json", "outside_thing", "../config.json"):
        assert not re.match(pattern, name), name
