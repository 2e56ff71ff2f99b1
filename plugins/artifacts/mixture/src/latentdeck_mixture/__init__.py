"""Mixture health artifacts for models with mixture responsibilities (built-in plugin ``latentdeck.mixture``)."""
