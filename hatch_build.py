"""Wheel build hook: ship the built web UI (``frontend/out``) inside the package as ``latentdeck/_ui``,
so ``pip install .`` (not editable) serves the whole lab, as TensorBoard and MLflow ship their UIs.

It also checks that every plugin view (``plugins/*/*/frontend/<view>.tsx``) has its bundle in the plugin's
package (``views/<view>.js``, git-ignored, carried by ``[tool.hatch.build] artifacts``); one missing is warned
about, as the UI would be.

The export must exist before the build (``scripts/setup.sh`` builds it; ``npm --prefix frontend run
build`` does too); without it the wheel is built without a UI and says so.
"""

from __future__ import annotations

from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel" or version == "editable":
            return  # an editable install serves the repository's frontend/out directly
        out = Path(self.root) / "frontend" / "out"
        if (out / "index.html").is_file():
            build_data["force_include"][str(out)] = "latentdeck/_ui"
        else:
            self.app.display_warning("frontend/out is not built: this wheel has no web UI "
                                     "(run scripts/setup.sh with Node.js installed, then build again)")
        root = Path(self.root)
        missing = [str(source.relative_to(root)) for source in sorted(root.glob("plugins/*/*/frontend/*.tsx"))
                   if source.stem.islower() and not any((source.parents[1] / "src").glob(f"*/views/{source.stem}.js"))]
        if missing:
            self.app.display_warning(f"plugin views not bundled: {', '.join(missing)}; this wheel lacks them "
                                     "(run scripts/setup.sh with Node.js installed, then build again)")
