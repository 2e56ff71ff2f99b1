"""UMAP projection of the latents (2-D and 3-D), warm-started from the previous epoch."""
