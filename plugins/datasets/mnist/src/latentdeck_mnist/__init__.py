"""latentdeck plugin: the full MNIST dataset (60,000 train / 10,000 held-out) through torchvision."""
