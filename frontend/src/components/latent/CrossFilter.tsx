"use client";
// Cross-filter histograms under the map (as embedding explorers draw them): label, prediction, component and
// confidence counts of the map's points. With a search or a focus, each bar's dark part is the selected
// points and its pale part all of them ("of the 4s, these are predicted 9"). A click writes the bar's term
// into the search box (lib/latent/crossfilter.ts toggleTerm), so the filter is always the box's text.
import { useMemo } from "react";
import type { MouseEvent } from "react";
import { categoryColour, confidenceT, cssRgb, viridis } from "@/lib/latent/colour";
import type { RGB } from "@/lib/latent/colour";
import { useMapping } from "@/lib/latent/componentMapping";
import { categoryBars, confidenceBars, confidenceColumn, selectionOf, termState, toggleTerm } from "@/lib/latent/crossfilter";
import type { Bar, ChartKey } from "@/lib/latent/crossfilter";
import { SHORT } from "@/lib/latent/filter";
import { byMatchedDigit, componentColour, componentName } from "@/lib/latent/matching";
import type { ProjectionDoc, SheetDoc } from "@/lib/latent/points";
import s from "./CrossFilter.module.css";

interface Chart {
  key: ChartKey;
  title: string;
  note?: string;
  bars: Bar[];
  name: (term: string) => string;
  colour: (term: string) => RGB;
}

const binName = (term: string) => term.replace("-", "–");

export function CrossFilter({ doc, reconstructions, matched, focus, classes, filterText, setFilterText }: {
  doc: ProjectionDoc;
  /** the reconstruction thumbnail sheet of the shown epoch (confidence), when there is one */
  reconstructions: SheetDoc | null;
  /** subset positions matching the search (null: no search) and the focused set (null: no focus) */
  matched: ReadonlySet<number> | null;
  focus: ReadonlySet<number> | null;
  classes: string[];
  filterText: string;
  setFilterText: (text: string) => void;
}) {
  const { mapping } = useMapping();
  const selected = useMemo(() => selectionOf(matched, focus), [matched, focus]);
  const confidence = useMemo(() => confidenceColumn(doc, reconstructions), [doc, reconstructions]);
  const charts = useMemo(() => {
    const digit = (t: string) => classes[Number(t)] ?? t;
    const out: Chart[] = [{ key: "label", title: "label", bars: categoryBars(doc.labels, selected), name: digit, colour: (t) => categoryColour(Number(t)) }];
    if (doc.predicted) out.push({ key: "predicted", title: "prediction", bars: categoryBars(doc.predicted, selected), name: digit, colour: (t) => categoryColour(Number(t)) });
    if (doc.component) {
      out.push({ key: "component", title: "component", note: mapping ? "named by matched digit" : undefined,
        bars: categoryBars(doc.component, selected, (v) => byMatchedDigit(mapping, v)),
        name: (t) => componentName(mapping, Number(t), classes), colour: (t) => componentColour(mapping, Number(t)) });
    }
    if (confidence) {
      out.push({ key: "confidence", title: "confidence", note: `${confidence.source}; a uniform guess is ${confidence.floor.toFixed(2)}`, bars: confidenceBars(confidence.values, confidence.floor, selected),
        name: binName, colour: (t) => viridis(confidenceT(Number(t.split("-")[0]) + 0.05, confidence.floor)) });
    }
    return out;
  }, [doc, selected, confidence, mapping, classes]);

  const what = matched && focus ? "match the search and lie in the focus" : matched ? "match the search" : "are in the focus";
  return (
    <section className={s.box} data-testid="crossfilter" data-selected={selected?.size ?? ""}>
      <p className={s.caption}>
        {selected ? <><b>{selected.size} of {doc.n} points</b> {what}: the dark part of each bar counts them, the pale part all {doc.n}. </>
          : <>Counts of the {doc.n} points on the map. </>}
        <span className="muted">Click a bar to filter the map by it (the term goes into the search box); shift- or ctrl-click adds a value; click a chosen bar to remove it.</span>
      </p>
      <div className={s.charts}>
        {charts.map((c) => <ChartView key={c.key} chart={c} selecting={selected !== null} filterText={filterText} setFilterText={setFilterText} />)}
        {!confidence ? <p className={s.missing} data-testid="xf-no-confidence">No confidence chart: this epoch has no reconstruction thumbnail sheet with q(c|x) or softmax.</p> : null}
      </div>
    </section>
  );
}

function ChartView({ chart, selecting, filterText, setFilterText }: {
  chart: Chart; selecting: boolean; filterText: string; setFilterText: (text: string) => void;
}) {
  const { chosen, dropped } = termState(filterText, chart.key);
  const most = Math.max(1, ...chart.bars.map((b) => b.total));
  const click = (e: MouseEvent, term: string) => setFilterText(toggleTerm(filterText, chart.key, term, e.shiftKey || e.ctrlKey || e.metaKey));
  return (
    <div className={s.chart} data-testid={`xf-${chart.key}`}>
      <h4>{chart.title}{chart.note ? <span> · {chart.note}</span> : null}</h4>
      {chart.bars.map((b) => {
        const rgb = chart.colour(b.term);
        const on = chosen.has(b.term);
        const term = `${SHORT[chart.key]}:${b.term}`;
        const count = selecting && b.total > 0 ? `${b.selected} of ${b.total}` : String(b.total);
        return (
          <button key={b.term} type="button" className={`${s.row} ${dropped.has(b.term) ? s.dropped : ""}`} aria-pressed={on}
            data-value={b.term} data-total={b.total} data-selected={b.selected}
            title={`${chart.title} ${chart.name(b.term)}: ${selecting ? `${b.selected} of ${b.total} points selected` : `${b.total} points`}\n`
              + (on ? `click: remove ${b.term} from the filter` : `click: filter by ${term} · shift/ctrl-click: add ${b.term} to the filter`)}
            onMouseDown={(e) => { if (e.shiftKey) e.preventDefault(); /* no text selection on shift-click */ }}
            onClick={(e) => click(e, b.term)}>
            <span className={s.name}>{chart.name(b.term)}</span>
            <span className={s.track}>
              <i className={s.all} style={{ width: `${(100 * b.total) / most}%`, background: `rgba(${rgb.map(Math.round).join(", ")}, ${selecting ? 0.22 : 1})`,
                borderColor: cssRgb(rgb) }} />
              {selecting ? <i className={s.part} style={{ width: `${(100 * b.selected) / most}%`, background: cssRgb(rgb) }} /> : null}
            </span>
            <span className={s.count}>{count}</span>
          </button>
        );
      })}
    </div>
  );
}
