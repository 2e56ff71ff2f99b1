"use client";
// The epoch timeline: a scrubber over every persisted epoch, play / pause, and live follow (the newest
// epoch is shown as soon as its files are announced).
import { useEffect } from "react";
import type { Feed } from "@/lib/latent/files";
import s from "./Explorer.module.css";

export const PLAY_STEP_MS = 1400;

export function Timeline({ epochs, shown, follow, playing, feed, onPick, onFollow, onPlay }: {
  epochs: number[]; shown: number | null; follow: boolean; playing: boolean; feed: Feed;
  onPick: (epoch: number) => void; onFollow: (on: boolean) => void; onPlay: (on: boolean) => void;
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
      {epochs.length > 1 ? (
        <div className={s.ticks}><span>{first}</span><span className="muted">{epochs.length} epochs with this projection</span><span>{last}</span></div>
      ) : null}
    </div>
  );
}
