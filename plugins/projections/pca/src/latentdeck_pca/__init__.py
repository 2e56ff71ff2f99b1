"""PCA projection of the latents (2-D and 3-D), with axis signs that do not flip between epochs."""
