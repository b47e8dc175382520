"""The transform operation RandomGaussianNoise (registered in plugin.py)."""

import torch


class RandomGaussianNoise:
    """Adds Gaussian noise of standard deviation ``std`` to a float image tensor, with probability ``p``."""

    def __init__(self, std: float = 0.05, p: float = 0.5):
        self.std, self.p = std, p

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if torch.rand(()) >= self.p:
            return image
        return image + torch.randn_like(image) * self.std

    def __repr__(self) -> str:
        return f"RandomGaussianNoise(std={self.std}, p={self.p})"
