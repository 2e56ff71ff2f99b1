"""latentdeck plugin: Fashion-MNIST through torchvision, also from Debian's dataset-fashion-mnist."""
