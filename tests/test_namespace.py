"""The artifact namespace: a writer refuses escaping, malformed, undeclared or host folders with an
exception (never an ``assert``, which ``python -O`` removes)."""

from __future__ import annotations

import pytest

from latentdeck.artifacts import ArtifactContext
from latentdeck.namespace import ArtifactNameError, check_write, folder_problem, name_problem


def context(run_dir, folders=None) -> ArtifactContext:
    return ArtifactContext(run_id="r", run_dir=run_dir, epoch=2, config={}, model=None, model_spec=None,
                           dataset_spec=None, viz=None, outputs={}, generator="g", folders=folders)


@pytest.mark.parametrize("folder, template, expected", [
    ("../escape", "x_{tag}.json", "'..'"),
    ("/abs", "x_{tag}.json", "relative"),
    ("stats", "../../x_{tag}.json", "'..'"),
    ("stats", "x.json", "{tag} placeholder"),
    ("checkpoints", "x_{tag}.json", "belongs to the host"),
    ("config.json", "x_{tag}.json", "the run's own files"),
    (".hidden", "x_{tag}.json", "hidden"),
    ("a/b", "x_{tag}.json", "one top-level name"),
])
def test_context_refuses_unsafe_names_with_an_exception(tmp_path, folder, template, expected):
    ctx = context(tmp_path)
    with pytest.raises(ArtifactNameError, match=expected.replace("{", r"\{").replace("}", r"\}")):
        ctx.save_json(folder, template, {})
    assert not any(tmp_path.parent.glob("x_*")) and list(tmp_path.iterdir()) == []


def test_context_writes_only_into_its_declared_folders(tmp_path):
    ctx = context(tmp_path, folders=frozenset({"stats"}))
    assert ctx.save_json("stats", "per_dim/s_{tag}.json", {"a": 1}) == "stats/per_dim/s_epoch_2.json"
    assert (tmp_path / "stats/per_dim/s_latest.json").is_file()
    with pytest.raises(ArtifactNameError, match="not a folder this writer declared \\(stats\\)"):
        ctx.save_json("density", "x_{tag}.json", {})
    with pytest.raises(ArtifactNameError, match="'..'"):
        ctx.save_run_file("stats", "../x.json", {})
    with pytest.raises(ArtifactNameError, match="plain name without"):
        ctx.save_run_file("stats", "x_{tag}.json", {})


def test_name_and_folder_rules():
    assert name_problem("reconstructions/recon_grid_latest.png") is None
    assert "1024" in name_problem("a/" + "b" * 1100)
    assert "255" in name_problem("a/" + "b" * 300)
    assert folder_problem("quality") is None and folder_problem("events.jsonl")
    assert check_write("quality", "q_epoch_1.json", frozenset({"quality"})) == "quality/q_epoch_1.json"
