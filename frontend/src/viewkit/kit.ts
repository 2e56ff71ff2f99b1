// The view kit: the page's modules a plugin's view imports as "@latentdeck/view-kit" (the bundler maps the
// import to window.__latentdeck, so a view uses the page's own copies: one React, one API client, the
// explorer's colours and component matching, the shared charts). Adding here is adding to the contract.
export { api, ApiError } from "@/lib/api";
export type { OnDemandResult } from "@/lib/api";
export { loadJson, useRunJson } from "@/lib/latent/files";
export { cssRgb, viridis, categoryColour, gradientCss } from "@/lib/latent/colour";
export type { RGB } from "@/lib/latent/colour";
export { useMapping } from "@/lib/latent/componentMapping";
export { byMatchedDigit, componentColour, componentLegend, componentName, mappingOf, percent } from "@/lib/latent/matching";
export type { ClassifierScores, ClusterQuality, ComponentMapping, MixtureScores } from "@/lib/latent/matching";
export { fmt } from "@/lib/overlays";
export type { Phase } from "@/lib/phases";
export { LineChart } from "@/components/LineChart";
export { Empty, ErrorBox } from "@/components/ui";
export type { ViewProps, ViewRow, ViewRun, ExplorerLink, Compute, MapPath, Mount } from "./contract";
export { pointKey } from "@/lib/latent/points";
export type { AtlasDoc, ProjectionDoc } from "@/lib/latent/points";
export type { KnnDoc } from "@/lib/latent/gating";
export { Thumb } from "@/components/latent/ExplorerSide";
export { epochsOf } from "./files";
