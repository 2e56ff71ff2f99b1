"""Cluster quality artifacts (being built: see plugins/artifacts/clusters/README.md)."""

from latentdeck import hookimpl


@hookimpl
def register_artifacts():
    return []
