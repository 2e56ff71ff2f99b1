"use client";
// The epoch timeline: a scrubber over every persisted epoch, play / pause, and live follow (the newest
// epoch is shown as soon as its files are announced).
import { useEffect } from "react";
import type { Feed } from "@/lib/latent/files";
import type { Phase } from "@/lib/phases";
import { phasesAt } from "@/lib/phases";
import s from "./Explorer.module.css";
import ui from "@/viewkit/ui.module.css";

export const PLAY_STEP_MS = 1400;

export function Timeline({ epochs, shown, follow, playing, feed, onPick, onFollow, onPlay, phases = [] }: {
  epochs: number[]; shown: number | null; follow: boolean; playing: boolean; feed: Feed;
  onPick: (epoch: number) => void; onFollow: (on: boolean) => void; onPlay: (on: boolean) => void;
  /** the run's training phases (run detail): drawn as a strip under the scrubber and named for the shown epoch */
  phases?: Phase[];
}) {
  const at = shown === null ? -1 : epochs.indexOf(shown);
  useEffect(() => {
    if (!playing) return;
    const timer = setTimeout(() => {
      if (at < 0 || at >= epochs.length - 1) onPlay(false);
      else onPick(epochs[at + 1]);
    }, at >= epochs.length - 1 ? 0 : PLAY_STEP_MS);
    return () => clearTimeout(timer);
  }, [playing, at, epochs, onPick, onPlay]);

  if (epochs.length === 0) return null;
  const first = epochs[0], last = epochs[epochs.length - 1];
  return (
    <div data-testid="timeline">
      <div className={s.timeline}>
        <button type="button" className="btn" data-testid="timeline-play" disabled={epochs.length < 2}
          aria-pressed={playing}
          onClick={() => {
            if (!playing && at === epochs.length - 1) onPick(epochs[0]); // play again from the start
            onPlay(!playing);
          }}>{playing ? "❚❚ pause" : "▶ play"}</button>
        <span className="mono small">epoch <b data-testid="timeline-epoch">{shown ?? "–"}</b> / {last}</span>
        <input type="range" min={0} max={Math.max(epochs.length - 1, 0)} step={1} value={Math.max(at, 0)}
          aria-label="epoch" data-testid="timeline-scrubber" disabled={epochs.length < 2}
          onChange={(e) => { onPlay(false); onPick(epochs[Number(e.target.value)]); }} />
        <label className="small" style={{ display: "inline-flex", gap: "0.3rem", alignItems: "center" }}>
          <input type="checkbox" checked={follow} onChange={(e) => onFollow(e.target.checked)} data-testid="timeline-follow" />
          follow the newest epoch
        </label>
        <span className={`${s.live} ${feed === "live" ? s.liveOn : ""}`} data-testid="timeline-feed" data-state={feed}>
          <i />{feed === "live" ? "live: new epochs appear as they are written" : feed === "reconnecting" ? "reconnecting…"
            : feed === "loading" ? "connecting…" : "run finished"}
        </span>
      </div>
      <PhaseStrip phases={phases} epochs={epochs} shown={shown} onPick={(e) => { onPlay(false); onPick(e); }} />
      {epochs.length > 1 ? (
        <div className={ui.ticks}><span>{first}</span><span className="muted">{epochs.length} epochs with this projection</span><span>{last}</span></div>
      ) : null}
    </div>
  );
}

/** The run's phases along the epochs that have files: spans as labelled bands, moments as ticks, the
 * shown epoch's phases named in words. A click on a band shows its first epoch with files. */
function PhaseStrip({ phases, epochs, shown, onPick }: {
  phases: Phase[]; epochs: number[]; shown: number | null; onPick: (epoch: number) => void;
}) {
  if (!phases.length || !epochs.length) return null;
  const lo = Math.min(epochs[0], 1), hi = Math.max(epochs[epochs.length - 1], lo + 1);
  // epoch e occupies [e - 1, e] on the strip: a span covers its epochs, a moment sits on its left edge
  const pct = (x: number) => `${(100 * (x - (lo - 1))) / (hi - (lo - 1))}%`;
  const spans = phases.filter((p) => p.kind === "span");
  const rows: Phase[][] = [];
  for (const p of spans) {
    const row = rows.find((r) => r.every((q) => q.end < p.start || q.start > p.end));
    if (row) row.push(p); else rows.push([p]);
  }
  const now = shown === null ? [] : phasesAt(phases, shown);
  const firstWithFiles = (p: Phase) => epochs.find((e) => e >= p.start && e <= p.end) ?? null;
  const moments = phases.filter((p) => p.kind === "moment");
  return (
    <div className={s.phases} data-testid="timeline-phases">
      {moments.length ? (
        <div className={s.phaseRow}>
          {moments.map((p) => (
            <span key={p.name} className={s.phaseMoment} style={{ left: pct(p.start - 1) }} data-testid={`phase-${p.name}`}
              title={`${p.label}, before epoch ${p.start}: ${p.text}`}><b>◆</b>{p.label}</span>
          ))}
        </div>
      ) : null}
      {rows.map((row, i) => (
        <div key={i} className={s.phaseRow}>
          {row.map((p) => {
            const target = firstWithFiles(p);
            return (
              <button key={p.name} type="button" className={s.phaseBand} data-testid={`phase-${p.name}`}
                style={{ left: pct(p.start - 1), width: `calc(${pct(p.end)} - ${pct(p.start - 1)})` }}
                title={`${p.label} (epochs ${p.start}–${p.end}): ${p.text}`} disabled={target === null}
                onClick={() => target !== null && onPick(target)}>{p.label}</button>
            );
          })}
          {i === 0 && shown !== null ? <i className={s.phaseNow} style={{ left: `calc(${pct(shown - 0.5)} - 1px)` }} /> : null}
        </div>
      ))}
      <div className="small muted" data-testid="timeline-phase-now">
        {shown === null ? null : now.length
          ? <>epoch {shown}: {now.map((p) => p.kind === "moment" ? `just after “${p.label}”` : p.label).join(" · ")}</>
          : <>epoch {shown}: no special phase (the model&apos;s plain loss)</>}
      </div>
    </div>
  );
}
