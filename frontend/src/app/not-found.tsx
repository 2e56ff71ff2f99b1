import Link from "next/link";
import { PageAddressRedirect } from "@/viewkit/PageAddress";

export default function NotFound() {
  return (
    <div className="panel">
      <PageAddressRedirect />
      <div className="empty">
        <strong>There is no page at this address.</strong>
        <div>Go to the <Link href="/">launch page</Link>, the <Link href="/runs/">runs</Link> or the <Link href="/plugins/">plugins</Link>.</div>
      </div>
    </div>
  );
}
