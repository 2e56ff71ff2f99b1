"""The view record of the contract (re-exported by :mod:`latentdeck.types`): where a plugin's UI view is
mounted and the ES module it ships."""

from __future__ import annotations

from dataclasses import dataclass

# Where a plugin's view is mounted in the UI (``ViewSpec.mount``):
MOUNTS = {
    "run-panel": "a panel on the run page (/runs/<id>), below the loss curves",
    "explorer-side": "a panel beside the latent explorer's map (/runs/<id>/latent), told the shown epoch, "
                     "projection, focus and hover",
    "explorer-layer": "drawn with the explorer's map (receives the camera and the points, as explorer-side)",
    "page": "a page of its own at /runs/<id>/view/?name=<view>",
}


@dataclass(frozen=True)
class ViewSpec:
    """A view a plugin ships: an ES module the UI loads at run time and mounts in one slot (:data:`MOUNTS`).

    ``module`` is the path of the built JavaScript module inside the plugin's package (for example
    ``str(Path(__file__).parent / "views" / "mixture-health.js")``); the host serves it at
    ``/api/views/<name>.js`` and never any other file. The module's default export is a React component
    receiving the view props of SPEC.md ("Views"); it imports React and the view kit from the page
    (``window.__latentdeck``), never a copy of its own. ``computations``: the artifact or on-demand
    computations whose files it shows (listed for people; the view is told the run's whole file index).
    ``title``: the panel heading people see. ``order``: position among the views of one mount (lower first).
    """

    name: str
    module: str
    mount: str
    title: str = ""
    computations: tuple[str, ...] = ()
    description: str = ""
    order: int = 100
