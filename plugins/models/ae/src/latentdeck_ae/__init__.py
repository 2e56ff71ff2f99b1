"""The supervised autoencoder plugin for latentdeck."""
