"""The Gaussian-mixture VAE plugin for latentdeck."""
