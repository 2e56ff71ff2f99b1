// The explorer's part of the view kit, "@latentdeck/view-kit/explorer": what the latent explorer's views share
// with the map (its colours, the page's component matching, point keys, digit thumbnails, the files' types).
// Only the explorer page installs it (LatentView), so a run page does not load the explorer's code.
export { cssRgb, viridis, categoryColour, gradientCss } from "@/lib/latent/colour";
export type { RGB } from "@/lib/latent/colour";
export { useMapping } from "@/lib/latent/componentMapping";
export { byMatchedDigit, componentColour, componentLegend, componentName, mappingOf, percent } from "@/lib/latent/matching";
export type { ClusterScores, ComponentMapping, ComponentMatch } from "@/lib/latent/matching";
export { pointKey } from "@/lib/latent/points";
export type { ProjectionDoc, SheetDoc } from "@/lib/latent/points";
export type { NeighboursDoc } from "@/lib/latent/gating";
// the in-memory shape of every artifact read through loadJson / useRunJson (lib/artifacts.ts): 1-D arrays are typed
// arrays, 2-D arrays a Matrix ({data, rows, cols}, row-major)
export type { Matrix, TypedArray } from "@/lib/artifacts";
export { Thumb } from "@/components/latent/ExplorerSide";
