// The line chart rendered to markup (node's test runner through tsx, with react-dom/server): no NaN in
// any attribute for constant, single-point, empty and non-finite series; phases drawn as bands and markers
// named on hover; the legend reports the selected epoch's values.
import assert from "node:assert/strict";
import { test } from "node:test";
import { renderToStaticMarkup } from "react-dom/server";
import type { Phase } from "@/lib/phases";
import { LineChart, RunPhasesContext } from "./LineChart";
import type { Series } from "./LineChart";

const flat = (y: number, n: number): Series => ({ label: "weight", points: Array.from({ length: n }, (_, i) => ({ x: i + 1, y })) });

function render(series: Series[], extra: Partial<Parameters<typeof LineChart>[0]> = {}): string {
  return renderToStaticMarkup(<LineChart title="t" series={series} maxEpoch={5} testId="c" {...extra} />);
}

test("no NaN or Infinity reaches the SVG, whatever the series", () => {
  const cases: [string, Series[], number][] = [
    ["constant 0", [flat(0, 5)], 5],
    ["constant 1", [flat(1, 5)], 5],
    ["single point", [flat(0.3, 1)], 5],
    ["single point at 0", [flat(0, 1)], 5],
    ["empty", [{ label: "e", points: [] }], 5],
    ["non-finite values", [{ label: "n", points: [{ x: 1, y: NaN }, { x: 2, y: Infinity }, { x: NaN, y: 1 }] }], 5],
    ["no planned epochs", [flat(2, 1)], NaN],
  ];
  for (const [name, series, maxEpoch] of cases) {
    const html = render(series, { maxEpoch });
    assert.ok(!/NaN|Infinity/.test(html), `${name}: ${html.match(/.{60}(NaN|Infinity).{20}/)?.[0]}`);
  }
});

test("a constant 0 series is a horizontal path through the middle of the plot", () => {
  const html = render([flat(0, 5)]);
  const d = /<path d="([^"]+)"/.exec(html)?.[1] ?? "";
  const ys = [...d.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((x) => Number(x[1]));
  assert.equal(ys.length, 5, d);
  assert.ok(ys.every((y) => y === ys[0]), `flat: ${ys}`);
  assert.equal(ys[0], 77, "0 sits halfway between -1 and 1");
  assert.match(html, />-1.0<.*>-0.5<.*>0<.*>0.5<.*>1.0</, "ticks -1 .. 1");
});

test("phases: a band per span (labelled where it fits), a marker per moment, each named in a title", () => {
  const phases: Phase[] = [
    { name: "pretraining", label: "pretraining", kind: "span", start: 1, end: 3, text: "KL weights 0" },
    { name: "prior_init", label: "prior initialised", kind: "moment", start: 4, end: 4, text: "from a GMM" },
  ];
  const html = render([flat(1, 5)], { phases });
  assert.match(html, /data-testid="phase-band" data-phase="pretraining" data-from="0" data-to="3"/);
  assert.match(html, /<title>pretraining \(epochs 1–3\): KL weights 0<\/title>/);
  assert.match(html, /class="phase-label">pretraining</);
  assert.match(html, /data-testid="phase-moment" data-phase="prior_init" data-x="3"/);
  assert.match(html, /<title>prior initialised \(before epoch 4\): from a GMM<\/title>/);
  assert.ok(!/phase-/.test(render([flat(1, 5)])), "no phases, no marks");
  const long: Phase[] = [{ ...phases[0], label: "pretraining (reconstruction only)", end: 2 }];
  assert.match(render([flat(1, 5)], { phases: long }), /class="phase-label">pretraining</, "the words before the parenthesis, where the whole label does not fit");
  assert.ok(!render([flat(1, 20)], { phases: long, maxEpoch: 20 }).includes("phase-label"), "no label where none fits");
  const overlapping: Phase[] = [{ ...phases[0], end: 4 }, { ...phases[0], name: "bonus", label: "bonus", start: 1, end: 5 }, { ...phases[0], name: "late", label: "late", start: 5, end: 5 }];
  const ys = [...render([flat(1, 5)], { phases: overlapping }).matchAll(/y="([\d.]+)" class="phase-label"/g)].map((m) => m[1]);
  assert.deepEqual(ys, ["18", "28", "18"], "overlapping spans label in rows of their own; a later one reuses the first row");
  const withStrip = render([flat(1, 5)], { phases: overlapping });
  const gridTop = Math.min(...[...withStrip.matchAll(/y1="([\d.]+)" y2="[\d.]+" class="grid"/g)].map((m) => Number(m[1])));
  assert.ok(gridTop >= 30, `the plot starts below the two label rows (baselines 18 and 28) (top grid line at ${gridTop})`);
  assert.match(withStrip, /viewBox="0 0 320 190"/, "the chart grows by the strip instead of squeezing the plot");
});

test("the legend shows the value at the selected epoch (default: the last) and a marker line at it", () => {
  const series: Series[] = [{ label: "loss", points: [{ x: 1, y: 3 }, { x: 2, y: 2 }, { x: 3, y: 1.5 }] }];
  const latest = render(series);
  assert.match(latest, /data-value="1.5"/);
  assert.ok(!latest.includes("chart-selected"), "no marker without a selection");
  const picked = render(series, { selectedEpoch: 2 });
  assert.match(picked, /data-value="2"/);
  assert.match(picked, /data-testid="legend-epoch">epoch 2</);
  assert.match(picked, /data-testid="chart-selected"/);
  assert.match(render(series, { selectedEpoch: 7 }), /data-value=""/, "an epoch the series did not log shows –");
});

test("charts inside a run page take the run's phases from RunPhasesContext; their own phases win", () => {
  const phases: Phase[] = [{ name: "pretraining", label: "pretraining", kind: "span", start: 1, end: 2, text: "" }];
  const inside = (extra: Partial<Parameters<typeof LineChart>[0]> = {}) => renderToStaticMarkup(
    <RunPhasesContext.Provider value={phases}><LineChart title="t" series={[flat(1, 3)]} maxEpoch={3} {...extra} /></RunPhasesContext.Provider>);
  assert.match(inside(), /data-phase="pretraining"/);
  assert.ok(!inside({ phases: [] }).includes("data-phase"), "an explicit empty list draws none");
});
