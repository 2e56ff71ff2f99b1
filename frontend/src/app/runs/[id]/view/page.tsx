import { Suspense } from "react";
import { PluginPage } from "@/viewkit/PluginPage";

export function generateStaticParams() {
  return [{ id: "_" }];
}

export default function ViewPage() {
  // the view's name is in the address (?name=): read on the client, inside a Suspense boundary
  return <Suspense fallback={<p className="muted">Loading…</p>}><PluginPage /></Suspense>;
}
