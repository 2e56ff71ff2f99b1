"use client";
import { useState } from "react";
import type { ReactNode } from "react";

export function StatusBadge({ status }: { status: string | null | undefined }) {
  const s = status ?? "unknown";
  return <span className={`badge status-${s}`} data-testid="status">{s}</span>;
}

export function ErrorBox({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="callout error" role="alert">
      <strong>{title}</strong>
      {children ? <div>{children}</div> : null}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <strong>{title}</strong>
      {children ? <div>{children}</div> : null}
    </div>
  );
}

/** A button that asks before it acts, inline (no browser dialog). */
export function ConfirmButton({ label, question, confirmLabel, onConfirm, danger, testId }: {
  label: string; question: string; confirmLabel: string; onConfirm: () => Promise<void> | void; danger?: boolean; testId?: string;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!asking) {
    return <button type="button" className={danger ? "btn danger-outline" : "btn"} onClick={() => setAsking(true)} data-testid={testId}>{label}</button>;
  }
  return (
    <span className="confirm" role="group" aria-label={question}>
      <span>{question}</span>
      <button type="button" className={danger ? "btn danger" : "btn primary"} disabled={busy} data-testid={testId ? `${testId}-confirm` : undefined}
        onClick={async () => {
          setBusy(true);
          try {
            await onConfirm();
          } finally {
            setBusy(false);
            setAsking(false);
          }
        }}>{confirmLabel}</button>
      <button type="button" className="btn ghost" onClick={() => setAsking(false)}>Keep</button>
    </span>
  );
}

export function timeAgo(ts: number | null | undefined, now = Date.now() / 1000): string {
  if (!ts) return "–";
  const s = Math.max(0, now - ts);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(ts * 1000).toLocaleDateString();
}

export const fullTime = (ts: number | null | undefined) => (ts ? new Date(ts * 1000).toLocaleString() : "");
