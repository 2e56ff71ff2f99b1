"""Latent-space k-nearest-neighbour artifacts, one file per projection method."""
