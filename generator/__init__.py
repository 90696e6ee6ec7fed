"""Digit Dreams: train small MNIST models, run the gallery experiments, assemble the static site."""
