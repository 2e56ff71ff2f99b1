import { LaunchForm } from "@/components/LaunchForm";

export default function LaunchPage() {
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Start a run</h1>
          <p className="muted">Choose a model and a dataset; every option below comes from the installed plugins, with its default.</p>
        </div>
      </div>
      <LaunchForm />
    </>
  );
}
