"""Loss components shared by several models (built-in plugin ``latentdeck.basic``)."""
