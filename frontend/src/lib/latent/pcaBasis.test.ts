// Unit tests of the PCA basis wording (npm run test:unit; tests/test_ui_unit.py runs them).
import assert from "node:assert/strict";
import { test } from "node:test";
import { basisEpoch, pcaVarianceText } from "./pcaBasis";
import type { PcaBasis } from "./pcaBasis";
import type { ProjectionDoc } from "./points";

function doc(epoch: number, basis?: Partial<PcaBasis>, method = "pca"): ProjectionDoc {
  return {
    epoch, method, dims: 2, n: 0, latent: "z", latent_dim: 16, indices: new Int32Array(0), labels: new Int32Array(0), coords: { data: new Float32Array(0), rows: 0, cols: 2 }, bounds: [],
    explained_variance_ratio: [0.3, 0.11],
    params: basis ? { basis: { source: "own", carried_for: 0, variance_ratio: 0.41, own_variance_ratio: 0.41,
                               min_variance_share: 0.9, pull: null, ...basis } } : {},
  };
}

test("a carried basis names the epoch it comes from, counted back through the projected epochs", () => {
  const carried = doc(9, { source: "carried", carried_for: 2, variance_ratio: 0.382, own_variance_ratio: 0.41, pull: 0 });
  assert.equal(basisEpoch(carried, [1, 3, 5, 7, 9]), 5, "two projections back, not two epochs back");
  assert.equal(basisEpoch(carried, [9, 8, 7, 6]), 7, "order of the list does not matter");
  const text = pcaVarianceText(carried, [5, 6, 7, 8, 9]);
  assert.match(text ?? "", /^PCA basis of epoch 7, aligned/);
  assert.match(text ?? "", /keep 38\.2% of the latent variance/);
  assert.match(text ?? "", /own principal axes would keep 41\.0%/);
  assert.match(text ?? "", /at least 90\.0% of that/);
  assert.doesNotMatch(text ?? "", /turned/);
});

test("a file that names its basis epoch is believed over counting back", () => {
  const named = doc(9, { source: "carried", carried_for: 2, from_epoch: 4, variance_ratio: 0.382, own_variance_ratio: 0.41, pull: 0 });
  assert.equal(basisEpoch(named, [5, 6, 7, 8, 9]), 4, "from_epoch, not two projected epochs back");
  assert.match(pcaVarianceText(named, [5, 6, 7, 8, 9]) ?? "", /^PCA basis of epoch 4, aligned/);
});

test("a carried basis that had to turn says so, with what it keeps and would have kept", () => {
  const pulled = doc(3, { source: "carried", carried_for: 2, variance_ratio: 0.585, own_variance_ratio: 0.649,
                          pull: 0.25, carried_variance_ratio: 0.5795 });
  assert.equal(pcaVarianceText(pulled, [1, 2, 3]),
    "PCA basis of epoch 1, aligned to this epoch's codes and turned toward this epoch's own axes to keep 90.0% of their "
    + "variance: these 2 axes keep 58.5% of the latent variance (this epoch's own principal axes would keep 64.9%; "
    + "without the turn 58.0%).");
});

test("an unknown lineage or a missing epoch never names a wrong epoch", () => {
  const unknown = doc(4, { source: "carried", carried_for: null, variance_ratio: 0.4 });
  assert.equal(basisEpoch(unknown, [1, 2, 3, 4]), null);
  assert.match(pcaVarianceText(unknown, [1, 2, 3, 4]) ?? "", /^PCA basis of an earlier epoch, aligned/);
  const tooFar = doc(2, { source: "carried", carried_for: 3, variance_ratio: 0.4 });
  assert.equal(basisEpoch(tooFar, [1, 2]), null);
});

test("an own basis says so, and a refresh says why the map may turn", () => {
  assert.equal(pcaVarianceText(doc(3, {}), [1, 2, 3]), "PCA basis of this epoch (epoch 3): these 2 axes keep 41.0% of the latent variance.");
  const replaced = pcaVarianceText(doc(3, { carried_variance_ratio: 0.33 }), [1, 2, 3]) ?? "";
  assert.match(replaced, /would keep only 33\.0%, and no turn toward this epoch's axes kept 90\.0%/);
});

test("files without a basis keep the old sentence; other methods get none", () => {
  assert.equal(pcaVarianceText(doc(1), [1]), "PCA keeps 41.0% of the latent variance in these 2 axes.");
  assert.equal(pcaVarianceText(doc(1, undefined, "umap"), [1]), null);
});
