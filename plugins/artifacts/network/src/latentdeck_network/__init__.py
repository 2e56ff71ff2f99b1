"""Built-in artifact plugin ``latentdeck.network``."""
