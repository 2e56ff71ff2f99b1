import assert from "node:assert/strict";
import { test } from "node:test";
import { pageUrl, shortPageAddress } from "./address";

test("a short address names the run and the page; the core's own pages and other shapes are not one", () => {
  assert.deepEqual(shortPageAddress("/runs/20261129-000234-6e5bb6/inspector/"), { runId: "20261129-000234-6e5bb6", name: "inspector" });
  assert.deepEqual(shortPageAddress("/runs/a%20b/inspector"), { runId: "a b", name: "inspector" });
  for (const path of ["/runs/x/view/", "/runs/x/latent/", "/runs/x/", "/runs/x/a/b/", "/runs/x/Upper/", "/sweeps/x/inspector/"]) {
    assert.equal(shortPageAddress(path), null, path);
  }
});

test("a page's address keeps the query after the view's name and never a second name", () => {
  assert.equal(pageUrl("r 1", "inspector"), "/runs/r%201/view/?name=inspector");
  assert.equal(pageUrl("r", "inspector", "?epoch=2&name=other&idx=0"), "/runs/r/view/?name=inspector&epoch=2&idx=0");
});
