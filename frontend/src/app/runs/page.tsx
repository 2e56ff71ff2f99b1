import { RunsBrowser } from "@/components/RunsBrowser";

export default function RunsPage() {
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Runs</h1>
          <p className="muted">Every run in the run store, newest first. Open one to watch it live or replay it.</p>
        </div>
      </div>
      <RunsBrowser />
    </>
  );
}
