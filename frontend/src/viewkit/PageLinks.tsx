"use client";
import Link from "next/link";
import { useViews } from "./ViewSlot";
import { pageUrl } from "./address";

/** Links to every plugin page view of a run (for the run page's head). */
export function PageLinks({ runId }: { runId: string }) {
  const views = useViews("page") ?? [];
  return <>{views.map((v) => (
    <Link key={v.name} href={pageUrl(runId, v.name)} className="btn"
      data-testid="view-page-link" data-view={v.name}>{v.title}</Link>
  ))}</>;
}
