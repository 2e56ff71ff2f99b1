"""The engine: the training loop, the artifact engine, backfill, on-demand computations, checkpoints.

It works for any registered model, dataset, projection and generator; it imports the registry, the
store and the kit, never the launch code, the API or the CLI (see SPEC.md "Architecture").
"""
