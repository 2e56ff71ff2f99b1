"""Latent walks on the map: decode a path through the latent space and place it on a 2-D projection."""
