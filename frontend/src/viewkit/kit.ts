// The view kit: the page's modules a plugin's view imports as "@latentdeck/view-kit" (the bundler maps the
// import to window.__latentdeck, so a view uses the page's own copies: one React, one API client, the shared
// charts). Every page that mounts views has it; the latent explorer adds "@latentdeck/view-kit/explorer"
// (explorerKit.ts). Adding here is adding to the contract.
export { api, ApiError } from "@/lib/api";
export type { OnDemandResult } from "@/lib/api";
export { loadJson, useRunJson } from "@/lib/latent/files";
export { fmt } from "@/lib/overlays";
export type { Phase } from "@/lib/phases";
export { LineChart } from "@/components/LineChart";
export { Empty, ErrorBox } from "@/components/ui";
export type { ViewProps, ViewRow, ViewRun, ExplorerLink, Compute, MapPath, Mount, FileRow } from "./contract";
export { epochsOf, fileOf, filesByEpoch, useFilesByEpoch } from "./files";
export type { FileQuery } from "./files";
/** the shared class names (ui.module.css): toolbar, fieldLabel, seg, ticks, warn, howto */
export { default as ui } from "./ui.module.css";
