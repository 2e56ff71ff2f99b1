import { test } from "node:test";
import assert from "node:assert/strict";
import type { ArtifactType, RunFile, RunFiles } from "./api";
import { artifactGroups, explorerTypes } from "./runFiles";

const ROLES: Record<string, string[]> = { sheets: ["input-thumbnails", "reconstruction-thumbnails"], graph: ["neighbours"], grids: ["overlay"], scores: ["cluster-scores"] };
const type = (name: string): ArtifactType =>
  ({ name, kind: "computations", provider: `pkg-${name}`, runs: "every_epoch", askable: false, folder: name, view: "json", description: "", overlay: false, roles: ROLES[name] ?? [] });
const row = (name: string, artifact: string, epoch: number | null, role: string | null = null): RunFile =>
  ({ name, url: "", folder: name.split("/")[0], artifact, kind: "computations", epoch, latest: false, method: null, dims: null, fields: {}, role, size: 1, mtime: 0 });

// made-up providers: the run page asks the role, never the plugin
const listing: RunFiles = {
  run_id: "r", checkpoints: [1, 2], artifacts: ["sheets", "graph", "grids", "scores", "quality"].map(type),
  files: [
    row("sheets/inputs.json", "sheets", null, "input-thumbnails"), row("sheets/inputs.png", "sheets", null),
    row("sheets/recons_2.json", "sheets", 2, "reconstruction-thumbnails"),
    row("graph/pca_2.json", "graph", 2, "neighbours"),
    row("grids/pca_2.json", "grids", 2, "overlay"), row("grids/pca_2.png", "grids", 2),
    row("scores/s_2.json", "scores", 2, "cluster-scores"),
    row("quality/q_2.json", "quality", 2),
  ],
};

test("the types that provide a role the explorer draws are left to it, whichever plugin provides them", () => {
  assert.deepEqual([...explorerTypes(listing)].sort(), ["graph", "grids", "sheets"]);
  const shown = artifactGroups(listing).map((g) => g.name).filter((n) => !explorerTypes(listing).has(n));
  assert.deepEqual(shown, ["scores", "quality"], "cluster scores only colour the map: they do not count");
  assert.equal(explorerTypes({ ...listing, artifacts: listing.artifacts.map((t) => ({ ...t, roles: [] })) }).size, 0, "no role, nothing left out");
  assert.deepEqual([...explorerTypes({ ...listing, files: [] })].sort(), ["graph", "grids", "sheets"], "known before any file is written");
});

test("the run's files are grouped per type: per epoch, and files of no epoch", () => {
  const sheets = artifactGroups(listing).find((g) => g.name === "sheets")!;
  assert.deepEqual(sheets.other, ["sheets/inputs.json", "sheets/inputs.png"]);
  assert.deepEqual(sheets.epochs, [{ epoch: 2, files: ["sheets/recons_2.json"] }]);
});
