import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from fastapi.testclient import TestClient  # noqa: E402

from latentdeck.api.app import create_app  # noqa: E402
from latentdeck.launch import prepare_run  # noqa: E402
from latentdeck.registry import make_plugin_manager  # noqa: E402
from latentdeck.store import RunStore  # noqa: E402
from latentdeck.engine.training import execute_run  # noqa: E402


def test_nearest_on_demand(runs_dir, tiny_config):
    import latentdeck.testing as testing
    from latentdeck_nearest import plugin

    pm = make_plugin_manager(plugins=[testing, plugin])
    store = RunStore(runs_dir)
    stored = prepare_run(pm, {**tiny_config, "epochs": 1, "projections": [], "artifacts": ["recon_grid"]})
    store.create(stored)
    assert execute_run(store.run_dir(stored["run_id"]), pm=pm) == "completed"
    client = TestClient(create_app(pm, runs_dir))
    url = f"/api/runs/{stored['run_id']}/compute/nearest"
    answer = client.post(url, json={"idx": 2, "k": 5})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["folder"] == "nearest/epoch_1/idx_2_k_5" and body["created"] is True
    rows = body["payload"]["neighbours"]
    assert [row["rank"] for row in rows] == [0, 1, 2, 3, 4]
    assert [row["distance"] for row in rows] == sorted(row["distance"] for row in rows)
    png = client.get(f"/api/runs/{stored['run_id']}/artifacts/nearest/epoch_1/idx_2_k_5/strip.png")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    assert client.post(url, json={"idx": 2, "k": 5}).json()["created"] is False
    bad = client.post(url, json={"idx": 2, "k": 99})
    assert bad.status_code == 422 and "k" in bad.json()["detail"]
    assert client.post(url, json={"idx": 99999}).status_code == 422
