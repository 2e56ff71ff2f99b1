import { LatentView } from "@/components/LatentView";

export function generateStaticParams() {
  return [{ id: "_" }];
}

export default function LatentPage() {
  return <LatentView />;
}
