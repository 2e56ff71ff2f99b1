"""On-demand samples over HTTP (the host's generic route for the plugin's ``sampling`` computation) and the
CLI (``latentdeck compute sampling``), the overlay listing, and sampling through backfill."""

from __future__ import annotations

import json
import shutil

import pytest
from fastapi.testclient import TestClient

from latentdeck.api.app import create_app
from latentdeck.kit.atomic import read_json
from latentdeck.engine.backfill import backfill
from latentdeck.cli import main as cli
from latentdeck.store.events import read_events
from latentdeck_sampling.samples import MAX_M, derived_seed

URL = "/api/runs/{}/compute/sampling"


def grid(client, run_id, body):
    """POST one sampling request; (status, the payload or the error detail)."""
    answer = client.post(URL.format(run_id), json=body)
    data = answer.json()
    return answer.status_code, (data["payload"] | {"created": data["created"], "files": data["files"]}
                                if answer.status_code == 200 else data)


@pytest.fixture
def client(plugin_manager, runs_dir):
    return TestClient(create_app(plugin_manager, runs_dir))


def samples_on_disk(run_dir):
    """Everything under samples/ by name: a file's bytes, None for a folder (a refusal leaves no empty one)."""
    folder = run_dir / "samples"
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else None
            for p in sorted(folder.rglob("*"))} if folder.exists() else {}


def test_on_demand_samples_are_persisted_before_the_answer_and_served_from_disk_after(trained_run, client):
    run_dir = trained_run("gmvae", artifacts=["recon_grid"])  # no per-epoch samples: everything here is on demand
    run_id = run_dir.name
    status, body = grid(client, run_id, {"idx": 5, "m": 64})
    assert status == 200, body
    stem = "samples/posterior_local_epoch_2_idx_5_m_64"  # the seed specification's names
    assert body["png"] == f"{stem}.png" and body["json"] == f"{stem}.json" and body["created"] is True
    assert body["files"] == [f"{stem}.json", f"{stem}.png"]  # each once
    config = read_json(run_dir / "config.json")
    assert body["seed"] == derived_seed(config["seed"], 2, "posterior_local", 5) and body["seed_source"] == "derived"
    assert body["kind"] == "posterior_local" and body["epoch"] == 2 and body["idx"] == 5 and body["m"] == 64
    assert body["distribution"] == "q(z|x)" and body["compute_ms"] > 0 and body["layout"]["columns"] == 8
    on_disk = read_json(run_dir / body["json"])
    assert {k: on_disk[k] for k in ("kind", "epoch", "idx", "m", "seed", "compute_ms")} == \
        {k: body[k] for k in ("kind", "epoch", "idx", "m", "seed", "compute_ms")}
    png = (run_dir / body["png"]).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and client.get(f"/api/runs/{run_id}/artifacts/{body['png']}").content == png
    assert sorted(samples_on_disk(run_dir)) == [".posterior_local_epoch_2_idx_5_m_64.result.json",  # the host's, hidden
                                                *(name.split("/", 1)[1] for name in body["files"])]
    # an answer asked for never moves a *_latest mirror: those are the per-epoch set's

    announced = [e["data"] for e in read_events(run_dir / "events.jsonl")
                 if e["type"] == "artifact.created" and e["data"]["generator"] == "sampling:on_demand"]
    assert [(a["name"], a["epoch"], a["kind"]) for a in announced] == [(name, 2, "samples") for name in body["files"]]

    log_size = (run_dir / "events.jsonl").stat().st_size
    _, again = grid(client, run_id, {"kind": "posterior_local", "idx": 5, "m": 64, "epoch": 2})
    assert again == body | {"created": False}
    assert (run_dir / body["png"]).read_bytes() == png
    assert (run_dir / "events.jsonl").stat().st_size == log_size  # served from disk: nothing new to announce


def test_the_same_request_gives_identical_bytes_and_another_seed_differs(trained_run, client):
    run_dir = trained_run("gmvae", artifacts=["recon_grid"])
    run_id = run_dir.name
    first = grid(client, run_id, {"kind": "prior_component", "component": 1, "m": 16})[1]
    png = (run_dir / first["png"]).read_bytes()
    shutil.rmtree(run_dir / "samples")
    second = grid(client, run_id, {"kind": "prior_component", "component": 1, "m": 16})[1]
    assert second["created"] is True and (run_dir / second["png"]).read_bytes() == png  # recomputed, byte-identical

    other = grid(client, run_id, {"kind": "prior_component", "component": 1, "m": 16, "seed": 7})[1]
    assert other["png"] == "samples/prior_component_epoch_2_c_1_m_16_seed_7.png" and other["seed"] == 7
    assert other["seed_source"] == "override" and (run_dir / other["png"]).read_bytes() != png
    same = grid(client, run_id, {"kind": "prior_component", "component": 1, "m": 16, "seed": first["seed"]})[1]
    assert same["png"] == first["png"] and same["created"] is False  # the derived seed given explicitly: the default names


def test_the_per_epoch_mirror_never_moves_back_to_an_older_epoch(trained_run, plugin_manager):
    run_dir = trained_run("gmvae", artifact_options={"sampling": {"posterior_count": 1, "components": [], "m": 4}})
    i = read_json(run_dir / "config.json")["viz_indices"][0]
    mirror = run_dir / f"samples/posterior_local_latest_idx_{i}_m_4.json"
    assert read_json(mirror)["epoch"] == 2
    for old in (run_dir / "samples").glob("*epoch_1_*"):
        old.unlink()
    result = backfill(run_dir, plugin_manager, epochs=[1], artifacts=["sampling"])
    assert f"samples/posterior_local_epoch_1_idx_{i}_m_4.json" in result["written"]
    assert read_json(mirror)["epoch"] == 2  # backfill of epoch 1 kept the newer epoch's mirror


@pytest.mark.parametrize("model, body, status, message", [
    ("gmvae", {"idx": 64}, 422, r"index 64 is outside the held-out split of tiny-digits: use 0..63"),
    ("gmvae", {"idx": -1}, 422, "idx: Input should be greater than or equal to 0"),
    ("gmvae", {"kind": "prior_component", "component": 3}, 422, "K=3 components, use 0..2"),
    ("gmvae", {"idx": 1, "m": 0}, 422, "m: Input should be greater than or equal to 1"),
    ("gmvae", {"idx": 1, "m": 100000}, 422, f"m: Input should be less than or equal to {MAX_M}"),
    ("gmvae", {"idx": 1, "epoch": 7}, 404, "epoch 7 has no checkpoint; epochs with checkpoints: 1, 2"),
    ("gmvae", {"idx": 1, "seed": -3}, 422, "seed: Input should be greater than or equal to 0"),
    ("gmvae", {"idx": 1, "colour": "red"}, 422, "colour: unknown field"),
    ("gmvae", {"idx": "1"}, 422, "idx: Input should be a valid integer"),
    ("gmvae", {"kind": "prior_component"}, 422, "needs 'component'"),
    ("gmvae", {"idx": 1, "component": 1}, 422, "takes 'idx', not 'component'"),
    ("gmvae", {"kind": "anything", "idx": 1}, 422, "kind"),
    ("ae", {"kind": "prior_component", "component": 0}, 422, "model 'ae' has no prior p(z|c)"),
])
def test_bad_requests_name_the_problem_and_write_nothing(trained_run, client, model, body, status, message):
    run_dir = trained_run(model, epochs=2, artifacts=["recon_grid"])
    answer = client.post(URL.format(run_dir.name), json=body)
    assert answer.status_code == status and message in answer.json()["detail"], answer.text
    assert samples_on_disk(run_dir) == {}
    assert not [p for p in run_dir.rglob(".*.tmp")]


def test_unknown_run_is_404(client):
    assert client.post(URL.format("20260101-000000-abcdef"), json={"idx": 1}).status_code == 404
    assert client.get("/api/runs/20260101-000000-abcdef/files").status_code == 404


def test_ae_posterior_local_is_a_labelled_neighbourhood(trained_run, client):
    run_dir = trained_run("ae", artifacts=["recon_grid"])
    _, body = grid(client, run_dir.name, {"idx": 0, "m": 9})
    assert body["distribution"] == "isotropic_neighbourhood" and body["sigma"] > 0
    assert body["neighbourhood_scale"] == 0.25 and "no q(z|x)" in body["description"]


def test_files_list_density_distortion_and_samples_with_their_keys(trained_run, client):
    run_dir = trained_run("gmvae", artifacts=["recon_grid"])
    (run_dir / "density").mkdir()
    for name in ("posterior_2d_epoch_1_pca.json", "prior_empirical_2d_epoch_2_umap.json", "prior_2d_latest_pca.json",
                 "notes.txt"):
        (run_dir / "density" / name).write_text("{}")
    (run_dir / "distortion").mkdir()
    (run_dir / "distortion/metric_ratio_2d_epoch_2_pca.json").write_text("{}")
    grid(client, run_dir.name, {"idx": 4, "m": 4})
    grid(client, run_dir.name, {"kind": "prior_component", "component": 0, "m": 4, "seed": 3})

    listing = client.get(f"/api/runs/{run_dir.name}/files").json()
    overlays = sorted(t["folder"] for t in listing["artifacts"] if t["overlay"])
    assert overlays == ["density", "distortion", "samples"]  # from the generators' declarations
    assert listing["checkpoints"] == [1, 2]
    rows = {row["name"]: row for row in listing["files"]}
    one = rows["density/posterior_2d_epoch_1_pca.json"]
    assert (one["artifact"], one["epoch"], one["method"], one["fields"]) == ("density", 1, "pca", {"family": "posterior"})
    two = rows["distortion/metric_ratio_2d_epoch_2_pca.json"]
    assert (two["artifact"], two["epoch"], two["fields"]["metric"]) == ("distortion", 2, "metric_ratio")
    assert two["url"].endswith("/artifacts/distortion/metric_ratio_2d_epoch_2_pca.json")
    mirror = rows["density/prior_2d_latest_pca.json"]
    assert mirror["latest"] is True and mirror["epoch"] is None and mirror["fields"] == {"family": "prior"}
    assert rows["density/notes.txt"]["kind"] == "undeclared"
    samples = {(r["fields"]["kind"], r["fields"].get("idx"), r["fields"].get("component"), r["fields"]["m"],
                r["fields"].get("seed_override"))
               for r in listing["files"] if r["artifact"] == "sampling" and r["epoch"] == 2 and r["name"].endswith(".json")}
    assert samples == {("posterior_local", 4, None, 4, None), ("prior_component", None, 0, 4, 3)}
    names = [row["name"] for row in listing["files"] if row["name"].startswith("samples/")]
    assert len(names) == len(set(names)) == 4  # two grids' .png and .json, each once; the host's result is hidden
    only = client.get(f"/api/runs/{run_dir.name}/files", params={"epoch": 1, "folder": "density"}).json()
    assert [row["name"] for row in only["files"]] == ["density/posterior_2d_epoch_1_pca.json"]


def test_backfill_writes_the_default_set_through_the_generator(trained_run, plugin_manager):
    run_dir = trained_run("gmvae", artifact_options={"sampling": {"posterior_count": 1, "m": 4}})
    made = {name: data for name, data in samples_on_disk(run_dir).items() if data is not None}  # files only
    assert len(made) == 2 * (1 + 3) * 3 + (1 + 3) * 2  # epochs x grids x (png, json, hidden result) + mirrors
    shutil.rmtree(run_dir / "samples")
    result = backfill(run_dir, plugin_manager, artifacts=["sampling"])
    written = [n for n in result["written"] if n.startswith("samples/")]
    assert set(written) == {f"samples/{n}" for n in made if not n.startswith(".")}  # the hidden results: never announced
    assert len(written) == len(made) - 2 * (1 + 3) + (1 + 3) * 2  # each epoch's grids once; the mirrors once per epoch
    again = {name: data for name, data in samples_on_disk(run_dir).items() if data is not None}
    assert again.keys() == made.keys()  # latest mirrors included
    for name, data in made.items():
        if name.endswith(".png"):
            assert again[name] == data, name  # byte-identical grids
        elif name.endswith(".result.json"):
            assert {**json.loads(again[name])["payload"], "compute_ms": 0} == \
                {**json.loads(data)["payload"], "compute_ms": 0}, name
        else:
            assert {**json.loads(again[name]), "compute_ms": 0} == {**json.loads(data), "compute_ms": 0}, name


def test_a_person_s_grid_is_the_per_epoch_answer(trained_run, client, plugin_manager):
    run_dir = trained_run("gmvae", artifacts=["recon_grid"], artifact_options={"sampling": {"posterior_count": 1,
                                                                                             "components": [], "m": 4}})
    i = read_json(run_dir / "config.json")["viz_indices"][0]
    asked = grid(client, run_dir.name, {"idx": i, "m": 4, "epoch": 1})[1]
    assert asked["created"] is True
    result = backfill(run_dir, plugin_manager, epochs=[1], artifacts=["sampling"])
    answer = f"samples/posterior_local_epoch_1_idx_{i}_m_4"
    assert not [n for n in result["written"] if n.startswith(answer)]  # served from disk, not computed again
    assert sorted(result["written"]) == [f"samples/posterior_local_latest_idx_{i}_m_4.{ext}" for ext in ("json", "png")]
    assert read_json(run_dir / f"samples/posterior_local_latest_idx_{i}_m_4.json")["png"] == f"{answer}.png"


@pytest.fixture
def cli_env(plugin_manager):
    from latentdeck.registry import get_plugin_manager

    get_plugin_manager.cache_clear()  # the CLI's manager, with the tiny dataset (LATENTDECK_EXTRA_PLUGINS)
    yield
    get_plugin_manager.cache_clear()


def test_cli_compute_sampling_and_overlays_use_the_same_files(trained_run, runs_dir, cli_env, capsys):
    run_dir = trained_run("gmvae", artifacts=["recon_grid"])
    args = ["--runs-dir", str(runs_dir)]
    assert cli(["compute", "sampling", run_dir.name, "--set", "idx=3", "--set", "m=8", *args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    png = result["payload"]["png"]
    assert png == "samples/posterior_local_epoch_2_idx_3_m_8.png" and (run_dir / png).is_file() and result["created"]
    assert cli(["compute", "sampling", run_dir.name, "--set", "idx=3", "--set", "m=8", *args]) == 0
    out = capsys.readouterr().out
    assert "samples/posterior_local_epoch_2_idx_3_m_8.png" in out and "from disk" in out
    assert cli(["compute", "sampling", run_dir.name, "--set", "kind=prior_component", "--set", "component=0",
                "--set", "m=4", "--set", "epoch=1", *args]) == 0
    assert "computed" in capsys.readouterr().out

    assert cli(["compute", "sampling", run_dir.name, "--set", "kind=prior_component", "--set", "component=9", *args]) == 2
    assert "use 0..2" in capsys.readouterr().err
    assert cli(["compute", "sampling", run_dir.name, "--set", "idx=1", "--set", "m=999", *args]) == 2
    err = capsys.readouterr().err
    assert "m: Input should be less than or equal to 256" in err and "--set field=value" in err
    assert cli(["compute", "sampling", run_dir.name, *args]) == 2
    assert "needs 'idx'" in capsys.readouterr().err
    assert cli(["compute", "sampling", run_dir.name, "--set", "idx", *args]) == 2
    assert "use --set field=value" in capsys.readouterr().err
    assert cli(["compute", "nope", run_dir.name, *args]) == 2
    assert "installed:" in capsys.readouterr().err and not (run_dir / "nope").exists()

    assert cli(["overlays", run_dir.name, *args]) == 0
    out = capsys.readouterr().out
    assert "epoch 1: 0 density, 0 distortion, 1 samples" in out and "samples/posterior_local_epoch_2_idx_3_m_8.json" in out
    assert cli(["overlays", run_dir.name, "--epoch", "2", "--json", *args]) == 0
    assert [row["epoch"] for row in json.loads(capsys.readouterr().out)["epochs"]] == [2]


def test_a_component_with_almost_no_data_is_said_so_by_the_cli_and_the_api(trained_run, runs_dir, cli_env, capsys,
                                                                           client, monkeypatch):
    import latentdeck.kit

    note = "Component 1 holds almost no data at this epoch (weight 0.0000)"
    monkeypatch.setattr(latentdeck.kit, "component_weight",
                        lambda model, images, c: {"p": 0.0, "argmax_share": 0.0, "note": note if c == 1 else None})
    run_dir = trained_run("gmvae", artifacts=["recon_grid"])
    args = ["--runs-dir", str(runs_dir), "--set", "kind=prior_component", "--set", "m=4"]
    assert cli(["compute", "sampling", run_dir.name, "--set", "component=1", *args]) == 0
    assert f"note: {note}" in capsys.readouterr().out
    assert cli(["compute", "sampling", run_dir.name, "--set", "component=0", *args]) == 0
    assert "note:" not in capsys.readouterr().out
    answer = client.post(URL.format(run_dir.name), json={"kind": "prior_component", "component": 1, "m": 4}).json()
    assert answer["notes"] == [note] and answer["payload"]["component_weight"]["note"] == note


def test_unknown_computation_is_a_404_naming_the_installed_ones(trained_run, client):
    run_dir = trained_run("ae", epochs=1, artifacts=["recon_grid"])
    answer = client.post(f"/api/runs/{run_dir.name}/compute/nope", json={})
    assert answer.status_code == 404 and "sampling" in answer.json()["detail"] and "walk" in answer.json()["detail"]


def test_prior_samples_of_a_pretraining_epoch_say_the_prior_is_not_in_use_yet(trained_run, client):
    run_dir = trained_run("gmvae", epochs=2, artifacts=["recon_grid"], model_options={
        "latent_dim": 4, "channels": [8, 8], "num_components": 3, "pretrain_epochs": 1})
    answer = client.post(URL.format(run_dir.name), json={"kind": "prior_component", "component": 0, "m": 4, "epoch": 1})
    assert answer.status_code == 200, answer.text
    note = answer.json()["payload"]["phase_note"]
    assert "Epoch 1 is a pretraining epoch (1-1)" in note and "switch on at epoch 2" in note
    assert note in answer.json()["notes"]
    later = client.post(URL.format(run_dir.name), json={"kind": "prior_component", "component": 0, "m": 4, "epoch": 2}).json()
    assert "phase_note" not in later["payload"]  # after pretraining the prior is in use: no note
    local = client.post(URL.format(run_dir.name), json={"kind": "posterior_local", "idx": 0, "m": 4, "epoch": 1}).json()
    assert "phase_note" not in local["payload"]  # samples around an example do not come from the prior
