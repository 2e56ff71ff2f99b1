import { RunView } from "@/components/RunView";

// The export holds this page once, for the placeholder id "_"; the server maps /runs/<id>/ onto it
// and RunView reads the real id from the address.
export function generateStaticParams() {
  return [{ id: "_" }];
}

export default function RunPage() {
  return <RunView />;
}
