import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from latentdeck.testing import client, run_tiny  # noqa: E402
from latentdeck_nearest import plugin  # noqa: E402  (works whether the package is installed or not)


def test_nearest_on_demand(runs_dir):
    run = run_tiny([plugin], {"epochs": 1, "projections": [], "artifacts": ["recon_grid"]}, runs_dir=runs_dir)
    url = f"/api/runs/{run.run_id}/compute/nearest"
    with client([plugin], runs_dir) as http:
        answer = http.post(url, json={"idx": 2, "k": 5})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["folder"] == "nearest/epoch_1/idx_2_k_5" and body["created"] is True
        rows = body["payload"]["neighbours"]
        assert [row["rank"] for row in rows] == [0, 1, 2, 3, 4]
        assert [row["distance"] for row in rows] == sorted(row["distance"] for row in rows)
        png = http.get(f"/api/runs/{run.run_id}/artifacts/nearest/epoch_1/idx_2_k_5/strip.png")
        assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
        assert http.post(url, json={"idx": 2, "k": 5}).json()["created"] is False
        bad = http.post(url, json={"idx": 2, "k": 99})
        assert bad.status_code == 422 and "k" in bad.json()["detail"]
        assert http.post(url, json={"idx": 99999}).status_code == 422
