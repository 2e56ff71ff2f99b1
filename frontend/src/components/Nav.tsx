"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";

function toggleTheme() {
  const root = document.documentElement;
  const dark = root.dataset.theme ? root.dataset.theme === "dark" : window.matchMedia("(prefers-color-scheme: dark)").matches;
  const next = dark ? "light" : "dark";
  root.dataset.theme = next;
  try {
    localStorage.setItem("latentdeck-theme", next);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
}

const LINKS = [
  { href: "/", label: "Launch", active: (p: string) => p === "/" },
  { href: "/runs/", label: "Runs", active: (p: string) => p.startsWith("/runs") },
  { href: "/sweeps/", label: "Sweeps", active: (p: string) => p.startsWith("/sweeps") },
  { href: "/plugins/", label: "Plugins", active: (p: string) => p.startsWith("/plugins") },
];

export function Nav() {
  const pathname = usePathname() || "/";
  return (
    <header className="topbar">
      {/* no prefetch: a page loads only its own code (the lab is local, a click fetches the next page at once) */}
      <Link href="/" className="brand" prefetch={false}>latent<span>deck</span></Link>
      <nav>
        {LINKS.map((l) => (
          <Link key={l.href} href={l.href} prefetch={false} className={l.active(pathname) ? "active" : undefined}>{l.label}</Link>
        ))}
        <a href="/docs">API docs</a>
      </nav>
      <button type="button" className="btn ghost theme-toggle" onClick={toggleTheme} aria-label="Switch light/dark theme" title="Switch light/dark theme">◐</button>
    </header>
  );
}
