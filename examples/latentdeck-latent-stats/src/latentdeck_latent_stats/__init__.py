"""Example third-party latentdeck plugin."""
