"""Built-in artifact plugin ``latentdeck.distortion``."""
