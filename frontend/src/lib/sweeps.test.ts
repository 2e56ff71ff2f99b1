import assert from "node:assert/strict";
import { test } from "node:test";
import type { SweepMember } from "@/lib/api";
import { heldGroups, poolingText } from "./sweeps";

const member = (lr: number, dim: number, seed: number, acc: number) =>
  ({ run_id: `r${lr}${dim}${seed}`, seed, params: { "optimizer.lr": lr, "model_options.latent_dim": dim }, final: { acc } }) as unknown as SweepMember;

test("a parameter's groups hold the other varied fields fixed: the mean is over seeds only", () => {
  const members = [member(0.1, 2, 0, 0.5), member(0.1, 2, 1, 0.7), member(0.1, 8, 0, 0.9), member(0.1, 8, 1, 0.95),
    member(0.01, 2, 0, 0.4)];
  const params = ["optimizer.lr", "model_options.latent_dim"];
  const groups = heldGroups(members, "optimizer.lr", params, (m) => (m.final as Record<string, number>).acc);
  assert.deepEqual(groups.map((g) => [g.held, g.x, g.values]), [
    ["latent_dim=2", 0.1, [0.5, 0.7]], ["latent_dim=8", 0.1, [0.9, 0.95]], ["latent_dim=2", 0.01, [0.4]]]);
  assert.equal(poolingText("optimizer.lr", params), "bar: mean ± sd over seeds with latent_dim held fixed (one line per setting)");
  assert.equal(poolingText("optimizer.lr", ["optimizer.lr"]), "bar: mean ± sd over seeds");
  assert.equal(heldGroups(members, "seed", params, (m) => (m.final as Record<string, number>).acc).length, 5);
});
