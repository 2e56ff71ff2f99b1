"""Built-in artifact plugin ``latentdeck.sampling``."""
