"""latentdeck executor that hands runs to Ray (``pip install \x27latentdeck[ray]\x27``)."""
