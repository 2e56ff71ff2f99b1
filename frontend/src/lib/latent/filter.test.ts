// Unit tests of the filter's confidence ranges (conf:<0.5, conf:0.5-0.8, conf:>=0.9), added for the
// cross-filter histograms; the older keys' tests are in latent.test.ts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { describeFilter, inRange, matchFilter, parseFilter, parseRange, unavailableKey } from "./filter";

const points = { indices: [0, 1, 2, 3, 4, 5], labels: [4, 4, 9, 4, 9, 1], confidence: [0.2, 0.5, 0.79999, 0.8, 0.95, 1] };
const hits = (text: string) => [...matchFilter(parseFilter(text), points)!];

test("confidence ranges parse to bounds with the right ends included", () => {
  assert.deepEqual(parseRange("0.5-0.8"), { min: 0.5, max: 0.8, minIncluded: true, maxIncluded: false, text: "0.5-0.8" });
  assert.equal(parseRange("0.50-.8")!.text, "0.5-0.8", "one canonical spelling");
  assert.equal(parseRange("0.9-1")!.max, Infinity, "a range reaching 1 keeps 1");
  assert.equal(parseRange("<=0.5")!.maxIncluded, true);
  assert.equal(parseRange(">0.5")!.minIncluded, false);
  for (const bad of ["0.8-0.5", "0.5-0.5", "1.5-2", "<2", "0.5", "a-b", "<", "-0.2-0.3", "0.5-"]) assert.equal(parseRange(bad), null, bad);
  assert.ok(inRange(0.5, parseRange("0.5-0.8")!) && !inRange(0.8, parseRange("0.5-0.8")!), "[0.5, 0.8)");
});

test("conf terms match by range, combine with other terms, negate and list", () => {
  assert.deepEqual(hits("conf:<0.5"), [0]);
  assert.deepEqual(hits("conf:<=0.5"), [0, 1]);
  assert.deepEqual(hits("conf:0.5-0.8"), [1, 2], "0.8 itself is in the next bin");
  assert.deepEqual(hits("conf:0.9-1"), [4, 5], "the last bin holds 1");
  assert.deepEqual(hits("confidence:>=0.8 label:9"), [4]);
  assert.deepEqual(hits("conf:!0.5-0.8"), [0, 3, 4, 5]);
  assert.deepEqual(hits("!conf:<0.5,>=0.9"), [1, 2, 3]);
  assert.deepEqual(hits("conf:<0.5,0.8-0.9"), [0, 3], "any of several ranges");
  assert.deepEqual(hits("label:4 pred:!9"), [], "existing keys unchanged: no prediction column matches nothing");
});

test("a malformed or unavailable conf term says what to write", () => {
  const bad = parseFilter("label:4 conf:0.8-0.5");
  assert.match(bad.error!, /conf takes ranges between 0 and 1: conf:<0.5/);
  assert.deepEqual(bad.errorAt, [8, 20]);
  assert.match(parseFilter("conf:0.5").error!, /ranges/);
  assert.match(parseFilter("conf:").error!, /ranges/);
  assert.match(parseFilter("!conf:!<0.5").error!, /"!" twice/);
  assert.match(parseFilter("colour:red").error!, /use label, pred, comp, conf or idx/);
  const noSheet = { indices: [0], labels: [1] };
  assert.deepEqual([...matchFilter(parseFilter("conf:<0.5"), noSheet)!], []);
  assert.match(unavailableKey(parseFilter("conf:<0.5"), noSheet)!, /reconstruction thumbnails/);
  assert.equal(unavailableKey(parseFilter("conf:<0.5"), points), null);
});

test("conf terms read as words", () => {
  assert.equal(describeFilter(parseFilter("label:4 conf:0.5-0.8")), "label is 4 and 0.5 ≤ conf < 0.8");
  assert.equal(describeFilter(parseFilter("conf:<0.5,>=0.9")), "conf < 0.5 or conf ≥ 0.9");
  assert.equal(describeFilter(parseFilter("conf:!0.9-1")), "not (conf ≥ 0.9)");
  assert.equal(describeFilter(parseFilter("conf:>0.3")), "conf > 0.3");
});
