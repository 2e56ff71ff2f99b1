"use client";
// Small multiples: every member's 2-D map (one projection, one epoch) side by side with linked cameras, so
// a sweep's effect on the latent space is seen at a glance. Each map is the member's own projection file,
// scaled to its own extent and coloured by label; pan or zoom one and the others follow.
import dynamic from "next/dynamic";
import Link from "next/link";
import { useMemo, useState } from "react";
import type { SweepMember } from "@/lib/api";
import { projectionName, resolveView } from "@/lib/latent/catalogue";
import { useCatalogue, useRunJson } from "@/lib/latent/files";
import { colourBuffer } from "@/lib/latent/points";
import type { ProjectionDoc } from "@/lib/latent/points";
import { pointRadiusPx, scalingOf, toWorld } from "@/lib/latent/scaling";
import { paramOf, shortName, valueText } from "@/lib/sweeps";
import { CameraLink } from "./latent/camera";
import s from "./latent/Explorer.module.css";

const ScatterCanvas = dynamic(() => import("./latent/ScatterCanvas"), { ssr: false, loading: () => <div className={s.canvasBox} /> });
const NONE = new Set<string>();
export const MAX_MAPS = 12; // browsers keep about 16 WebGL contexts alive at once

function MemberMap({ member, params, method, epoch, camera, id }: {
  member: SweepMember; params: string[]; method: string; epoch: number; camera: CameraLink; id: string;
}) {
  const loaded = useRunJson<ProjectionDoc>(member.run_id, member.epochs_completed >= epoch ? projectionName(method, 2, epoch) : null);
  const doc = loaded?.doc ?? null;
  const scaling = useMemo(() => (doc ? scalingOf(doc.method, 2, doc.bounds) : null), [doc]);
  const positions = useMemo(() => (doc && scaling ? toWorld(doc.coords, 2, scaling) : new Float32Array(0)), [doc, scaling]);
  const colours = useMemo(() => (doc ? colourBuffer(doc, { by: "label", sheet: null, hidden: NONE, focus: null, filter: null, mapping: null }) : new Uint8Array(0)), [doc]);
  const title = params.map((p) => `${shortName(p)} ${valueText(paramOf(member, p))}`).join(" · ");
  return (
    <figure style={{ margin: 0 }} data-testid="sweep-map" data-run-id={member.run_id} data-drawn={doc ? "true" : "false"}>
      <figcaption className="small" style={{ marginBottom: "0.2rem" }}>
        <b>{title || member.run_id}</b> <span className="muted">seed {member.seed}</span>{" "}
        <Link href={`/runs/${encodeURIComponent(member.run_id)}/latent/?method=${method}&epoch=${epoch}`} className="small">open</Link>
      </figcaption>
      {doc && scaling ? (
        <ScatterCanvas id={id} testId={id} dims={2} positions={positions} colours={colours} radiusPx={Math.max(1.4, pointRadiusPx(doc.n, 2) * 0.7)}
          scaling={scaling} fitKey={`${method}:2`} resetToken={0} camera={camera} transitionMs={0} fit="extent" label={`${title}: ${method} 2-D, epoch ${epoch}`} />
      ) : (
        <div className={s.canvasBox} style={{ height: 220, minHeight: 0 }}>
          <p className="muted small" style={{ padding: "0.8rem" }}>{member.epochs_completed < epoch ? `not at epoch ${epoch} yet (${member.epochs_completed} done)`
            : loaded?.error ? `no ${method} 2-D map at epoch ${epoch}` : "loading…"}</p>
        </div>
      )}
    </figure>
  );
}

export function SweepMaps({ members, params }: { members: SweepMember[]; params: string[] }) {
  // the projections the first member wrote (every member of a sweep shares the config's projections)
  const { catalogue } = useCatalogue(members[0]?.run_id ?? null, "completed");
  const methods = resolveView(catalogue, { method: "", dims: 2, epoch: null }).methods.filter((m) => catalogue.projections.get(m)?.has(2));
  const [picked, setPicked] = useState<string | null>(null);
  const method = picked && methods.includes(picked) ? picked : methods.includes("pca") ? "pca" : methods[0] ?? "";
  const most = Math.max(0, ...members.map((m) => m.epochs_completed ?? 0));
  const common = Math.min(...members.map((m) => m.epochs_completed ?? 0));
  const [chosen, setChosen] = useState<number | null>(null);
  const epoch = chosen ?? (common > 0 ? common : most);
  const camera = useMemo(() => new CameraLink(), []);
  const shown = members.slice(0, MAX_MAPS);
  if (most === 0 || !method) return null;
  return (
    <section className="panel" data-testid="sweep-maps" data-epoch={epoch}>
      <h3 style={{ marginTop: 0 }}>Latent maps side by side</h3>
      <div className="filters">
        <label>projection{" "}
          <select value={method} onChange={(e) => setPicked(e.target.value)} style={{ width: "auto" }} data-testid="sweep-maps-method">
            {methods.map((m) => <option key={m} value={m}>{m}</option>)}</select></label>
        <label>epoch{" "}
          <select value={epoch} onChange={(e) => setChosen(Number(e.target.value))} style={{ width: "auto" }} data-testid="sweep-maps-epoch">
            {Array.from({ length: most }, (_, i) => i + 1).map((e) => <option key={e} value={e}>{e}{e === common ? " (every member has it)" : ""}</option>)}
          </select></label>
        <span className="note">Each map is that run&apos;s own {method.toUpperCase()} of its visualization subset, coloured by label and scaled to its
          own extent; pan or zoom one and the others follow.{members.length > MAX_MAPS ? ` Showing the first ${MAX_MAPS} of ${members.length} runs.` : ""}</span>
      </div>
      <div className={s.multiples}>
        {shown.map((m, i) => <MemberMap key={m.run_id} member={m} params={params} method={method} epoch={epoch} camera={camera} id={`sweep-map-${i}`} />)}
      </div>
    </section>
  );
}
