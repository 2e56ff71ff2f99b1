"""Cluster quality: how well a model's components (or classifier) agree with the digits, per epoch."""
