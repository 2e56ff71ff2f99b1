import { PluginsList } from "@/components/PluginsList";

export default function PluginsPage() {
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Plugins</h1>
          <p className="muted">Everything in latentdeck is a plugin: models, losses, datasets, projections, artifacts and executors.</p>
        </div>
      </div>
      <PluginsList />
    </>
  );
}
