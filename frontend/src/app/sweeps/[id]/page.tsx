import { SweepView } from "@/components/SweepView";

// Exported once for the placeholder id "_"; the server maps /sweeps/<id>/ onto it and SweepView reads
// the real id from the address.
export function generateStaticParams() {
  return [{ id: "_" }];
}

export default function SweepPage() {
  return <SweepView />;
}
