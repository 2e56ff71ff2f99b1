"""Regression tests for faults an independent battery found on a real server (issue 13): every bad
request gets a 4xx that names the problem, never a bare 500, and nothing is written for it."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from latentdeck.api import create_app


def raw_request(url: str, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request sent byte for byte (no client-side normalisation or JSON encoding)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def post_raw(live, path: str, text: str) -> tuple[int, dict]:
    status, _, body = raw_request(live.url, "POST", path, text.encode(), {"content-type": "application/json"})
    return status, json.loads(body)


# --- NaN / Infinity (finding 4) -----------------------------------------------------------------

@pytest.mark.parametrize("text, field", [
    ('{"epochs": NaN}', "epochs"),
    ('{"optimizer": {"lr": NaN}}', "optimizer.lr"),
    ('{"optimizer": {"lr": Infinity}}', "optimizer.lr"),
    ('{"progress_interval_s": Infinity}', "progress_interval_s"),
    ('{"model_options": {"class_weight": -Infinity}}', "model_options: class_weight"),
])
def test_non_finite_numbers_are_a_422_naming_the_field(serve_api, runs_dir, text, field):
    live = serve_api()
    status, body = post_raw(live, "/api/runs", text)
    assert status == 422, body
    assert field in body["detail"], body
    assert json.dumps(body, allow_nan=False)  # the answer itself is valid JSON
    assert not any(runs_dir.iterdir()), "nothing may be written for a refused config"


# --- invalid configs are refused before anything is written (finding 6) --------------------------

BAD_CONFIGS = [
    ({"seed": 2 ** 64}, "seed"),
    ({"seed": -1}, "seed"),
    ({"viz_indices": [1_000_000_000_000]}, "viz_indices"),
    ({"viz_indices": [3, 3]}, "viz_indices"),
    ({"model_options": {"channels": [-1, 64]}}, "channels"),
    ({"model_options": {"channels": [0, 0]}}, "channels"),
    ({"model_options": {"channels": []}}, "channels"),
    ({"model": "gmvae", "model_options": {"channels": [8, -3], "latent_dim": 2}}, "channels"),
    ({"optimizer": {"betas": [2, 5]}}, "betas"),
    ({"optimizer": {"betas": [0.9, 1.0]}}, "betas"),
    ({"num_threads": 1_000_000}, "num_threads"),
    ({"epochs": True}, "epochs"),
    ({"epochs": "1"}, "epochs"),
    ({"epochs": 2.5}, "epochs"),
    ({"progress_interval_s": False}, "progress_interval_s"),
    ({"batch_size": "64"}, "batch_size"),
    ({"name": 5}, "name"),
]


@pytest.mark.parametrize("change, field", BAD_CONFIGS, ids=[json.dumps(c) for c, _ in BAD_CONFIGS])
def test_invalid_configs_are_refused_before_anything_is_written(serve_api, runs_dir, tiny_config, change, field):
    live = serve_api()
    config = {**tiny_config, **change}
    if "model_options" in change:
        config["model_options"] = {**tiny_config["model_options"], **change["model_options"]}
        if change.get("model") == "gmvae":
            config["model_options"] = change["model_options"]
    response = live.client.post("/api/runs", json=config)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"], response.json()
    assert not any(runs_dir.iterdir()), "nothing may be written for a refused config"


def test_valid_edge_values_still_start(serve_api, runs_dir, tiny_config, waiter):
    live = serve_api()
    config = {**tiny_config, "seed": 2 ** 32 - 1, "optimizer": {"lr": 1e-3, "betas": [0, 0.5]},
              "viz_indices": [0, 5, 63], "progress_interval_s": 0, "epochs": 1}
    response = live.client.post("/api/runs", json=config)
    assert response.status_code == 201, response.text
    run_id = response.json()["summary"]["run_id"]
    summary = waiter(lambda: (s := live.client.get(f"/api/runs/{run_id}").json()["summary"])["status"]
                     in ("completed", "failed") and s, timeout=90, what="the run to end")
    assert summary["status"] == "completed", summary


# --- overlong names (finding 5) ---------------------------------------------------------------------

def test_overlong_names_are_a_4xx(trained_run, serve_api, tmp_path):
    run_id = trained_run().name
    ui = tmp_path / "ui"
    (ui / "runs" / "_").mkdir(parents=True)
    (ui / "index.html").write_text("launch")
    (ui / "runs" / "_" / "index.html").write_text("run page")
    live = serve_api(ui_dir=ui)
    long = "a" * 5000
    for name, body in (("network-kernels", {"layer": long, "out": 0}), ("network-inspect", {"idx": 0, "layer": long, "ch": 0}),
                       ("network-topk", {"layer": long, "ch": 0}), ("walk", {"from_idx": 0, "to_idx": 1, "method": long})):
        answer = live.client.post(f"/api/runs/{run_id}/compute/{name}", json=body)
        assert 400 <= answer.status_code < 500 and len(answer.text) < 2000, (name, answer.status_code)
    cases = [
        f"/runs/{long}/",
        f"/runs/{long}/latent/",
        f"/{long}",
        f"/api/runs/{long}",
        f"/api/runs/{run_id}/artifacts/reconstructions/" + "/".join(["seg"] * 400) + "/x.png",
        f"/api/runs/{run_id}/artifacts/reconstructions/{'b' * 300}.png",
    ]
    for path in cases:
        status, _, body = raw_request(live.url, "GET", path)
        assert 400 <= status < 500, (path[:80], status, body[:300])
    assert live.client.get(f"/api/runs/{run_id}").status_code == 200  # and the server is fine


# --- the 422 answer never echoes megabytes; bodies have a size limit (finding 10) -------------------

def test_a_huge_bad_field_is_not_echoed_back(serve_api, runs_dir):
    live = serve_api()
    big = "x" * 900_000  # under the body limit, far over the name's 200 characters
    response = live.client.post("/api/runs", json={"name": big})
    assert response.status_code == 422
    assert len(response.content) < 4096, len(response.content)
    assert "name" in response.json()["detail"]
    assert not any(runs_dir.iterdir())


def test_request_bodies_have_a_size_limit(serve_api, runs_dir):
    live = serve_api()
    big = json.dumps({"name": "x" * (2 << 20)}).encode()
    status, _, body = raw_request(live.url, "POST", "/api/runs", big, {"content-type": "application/json"})
    assert status == 413, body[:200]
    assert b"limit" in body
    # the same without a Content-Length (chunked): counted while it arrives
    def chunks():
        for start in range(0, len(big), 65536):
            yield big[start:start + 65536]
    response = live.client.post("/api/runs", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413, response.text[:200]
    assert not any(runs_dir.iterdir())
    assert live.client.get("/api/health").status_code == 200


@pytest.mark.parametrize("text", ['{"epochs": 1', "[]", '"x"', "not json", '{"a": ' * 5000])
def test_malformed_bodies_are_a_4xx(serve_api, runs_dir, text):
    live = serve_api()
    status, _, body = raw_request(live.url, "POST", "/api/runs", text.encode(), {"content-type": "application/json"})
    assert 400 <= status < 500, (status, body[:300])
    assert not any(runs_dir.iterdir())


# --- a corrupt checkpoint is a 4xx that says so, and the connection stays usable (finding 2) -----

CORRUPTIONS = {
    "truncated": lambda data: data[: len(data) // 2],
    "random": lambda data: bytes((i * 7919) % 251 for i in range(len(data))),
    "empty": lambda data: b"",
}


@pytest.mark.parametrize("kind", [*CORRUPTIONS, "wrong_keys"])
def test_a_corrupt_checkpoint_is_a_clear_4xx(trained_run, serve_api, kind):
    run_dir = trained_run()
    run_id = run_dir.name
    checkpoint = run_dir / "checkpoints" / "epoch_2.pt"
    if kind == "wrong_keys":
        import torch

        torch.save({"weights": {"a": torch.zeros(2)}}, checkpoint)
    else:
        checkpoint.write_bytes(CORRUPTIONS[kind](checkpoint.read_bytes()))
    live = serve_api()
    requests = [
        ("POST", f"/api/runs/{run_id}/compute/sampling", {"idx": 0, "m": 4, "epoch": 2}),
        ("POST", f"/api/runs/{run_id}/compute/network-layers", {"epoch": 2}),
        ("POST", f"/api/runs/{run_id}/compute/network-forward", {"idx": 0, "epoch": 2}),
        ("POST", f"/api/runs/{run_id}/compute/network-kernels", {"layer": "trunk.layers.0", "out": 0, "epoch": 2}),
    ]
    for method, path, body in requests:
        response = live.client.request(method, path, json=body)
        assert response.status_code == 409, (path, response.status_code, response.text)
        assert "epoch_2.pt" in response.json()["detail"], response.text
        # the same connection keeps working after the refusal
        assert live.client.get(f"/api/runs/{run_id}").status_code == 200
    # epoch 1 is intact and still served
    assert live.client.post(f"/api/runs/{run_id}/compute/network-layers", json={"epoch": 1}).status_code == 200


# --- schema conformance (finding 9) -----------------------------------------------------------------

def test_request_limits_enforced_in_code_are_in_the_schema(plugin_manager, tmp_path):
    """Each on-demand computation's route takes its request model as the body: its ranges are in the schema."""
    schema = create_app(plugin_manager, tmp_path / "runs", ui_dir=tmp_path / "none").openapi()

    def field(name: str, key: str) -> dict:
        body = schema["paths"][f"/api/runs/{{run_id}}/compute/{name}"]["post"]["requestBody"]
        ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        properties = schema["components"]["schemas"][ref]["properties"]
        value = properties[key]
        return next((option for option in value.get("anyOf", []) if option.get("type") == "integer"), value)

    for name in ("network-forward", "network-inspect", "network-conv-step", "network-perturb", "sampling"):
        assert field(name, "idx").get("minimum") == 0, name
    delta = field("network-perturb", "delta")
    assert delta.get("minimum") == -1000 and delta.get("maximum") == 1000
    for name, key in (("network-inspect", "ch"), ("network-kernels", "out"), ("network-conv-step", "out"),
                      ("network-perturb", "dim"), ("network-topk", "ch"), ("network-conv-step", "x"),
                      ("network-conv-step", "y")):
        assert field(name, key).get("minimum") == 0, (name, key)
    assert field("sampling", "m").get("maximum") == 256
    assert "together" in schema["components"]["schemas"]["InspectRequest"]["properties"]["x"]["description"]


def test_the_documented_422_matches_what_the_server_sends(plugin_manager, tmp_path, serve_api):
    schema = create_app(plugin_manager, tmp_path / "runs", ui_dir=tmp_path / "none").openapi()
    error = schema["components"]["schemas"]["HTTPValidationError"]
    assert error["properties"]["detail"]["type"] == "string"
    assert error["properties"]["errors"]["type"] == "array"
    live = serve_api()
    body = live.client.post("/api/runs/x/compute/network-forward", json={"idx": "a"}).json()
    assert isinstance(body["detail"], str) and isinstance(body["errors"], list)


def test_unsupported_methods_are_405(serve_api, tmp_path):
    ui = tmp_path / "ui"
    ui.mkdir()
    (ui / "index.html").write_text("launch")
    for live in (serve_api(), serve_api(ui_dir=ui)):
        for method, path in (("TRACE", "/api/runs"), ("PUT", "/api/runs"), ("PATCH", "/api/health"),
                             ("DELETE", "/api/plugins")):
            status, headers, body = raw_request(live.url, method, path)
            assert status == 405, (method, path, status, body[:200])
        status, _, body = raw_request(live.url, "GET", "/api/no-such-thing")
        assert status == 404 and b"detail" in body
