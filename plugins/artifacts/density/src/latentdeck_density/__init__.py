"""Built-in artifact plugin ``latentdeck.density``."""
