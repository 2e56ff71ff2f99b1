import { NetworkView } from "@/components/NetworkView";

export function generateStaticParams() {
  return [{ id: "_" }];
}

export default function NetworkPage() {
  return <NetworkView />;
}
