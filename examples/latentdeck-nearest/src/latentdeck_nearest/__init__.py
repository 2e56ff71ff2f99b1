"""Example third-party latentdeck plugin: nearest training digits in latent space, on demand."""
