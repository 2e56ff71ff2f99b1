"use client";
// A plugin page's short address: /runs/<id>/<view>/ (the page's own route before pages became plugin views, e.g. an
// old bookmark) answers the not-found page, which sends it on to /runs/<id>/view/?name=<view> (the query kept) when
// a loaded plugin offers a page view of that name; any other address stays "no page here".
import { useEffect } from "react";
import { useRouter } from "next/navigation";
import { useViews } from "./ViewSlot";
import { pageUrl, shortPageAddress } from "./address";


/** On the not-found page: replace a plugin page's short address by its page (renders nothing). */
export function PageAddressRedirect() {
  const router = useRouter();
  const views = useViews("page");
  useEffect(() => {
    if (!views || typeof window === "undefined") return;
    const page = shortPageAddress(window.location.pathname);
    if (!page || !views.some((v) => v.name === page.name)) return;
    router.replace(pageUrl(page.runId, page.name, window.location.search));
  }, [views, router]);
  return null;
}
