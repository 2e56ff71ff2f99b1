"""Sprite atlases of the visualization subset: input digits once per run, reconstructions per epoch."""
