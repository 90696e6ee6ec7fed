"""The networks: architectures only, no I/O and no training.

Every model takes float32 ``[N, 1, 28, 28]`` with ink = 1.0 on background = 0.0;
normalisation lives inside the network so that exported ONNX files and the browser
need no preprocessing beyond that.
"""
from __future__ import annotations

import torch
from torch import nn

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


class Normalize(nn.Module):
    """Shift and scale ink-on-black pixels to zero mean, unit variance (MNIST statistics)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - MNIST_MEAN) / MNIST_STD


class MaskDropout(nn.Module):
    """Dropout as a uniform random mask: what ``nn.Dropout`` computes, in less than half its time on the CPU
    (``torch.rand`` is vectorised, Bernoulli sampling is not); the identity in eval mode."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        return x * (torch.rand_like(x) >= self.p).to(x.dtype).mul_(1 / (1 - self.p))


def conv_block(c_in: int, c_out: int, kernel: int, pool: bool) -> list[nn.Module]:
    """Convolution (same padding), batch norm, ReLU, and an optional 2x2 max-pool."""
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return layers


Stages = tuple[tuple[int, ...], ...]
SHALLOW: Stages = ((16,), (32,), (64,))       # one convolution per size: the first reader, and the ensemble's shape


class Reader(nn.Module):
    """Small, cheap CNN: conv blocks at 28, 14 and 7 px (``stages``: the output widths at each size, a 2x2
    max-pool after the first two sizes), then one linear layer on the whole 7x7 map.

    The default puts the depth where it costs least: one convolution at 28 px, two at 14 and two at 7, 4.5 MFLOP
    per image, so generators can afford to call it millions of times. It read the most validation digits of the
    shapes tried on full MNIST (``bench/FULL_MNIST.md``). ``kernel`` is the first convolution's size. The last
    block is not pooled: a 2x2 pool of a 7x7 map would drop its last row and column (keeping it measured +0.3).
    """

    def __init__(self, stages: Stages = ((8,), (16, 24), (40, 48)), kernel: int = 3, dropout: float = 0.2) -> None:
        super().__init__()
        layers: list[nn.Module] = [Normalize()]
        channels = 1
        for size, widths in enumerate(stages):
            for i, width in enumerate(widths):
                pool = i == len(widths) - 1 and size < len(stages) - 1
                layers += conv_block(channels, width, kernel if channels == 1 else 3, pool)
                channels = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), MaskDropout(dropout), nn.Linear(channels * 7 * 7, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class Judge(nn.Module):
    """An unlike classifier: 5x5 convolutions, no batch norm, ELU, average pooling, a wide hidden layer."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            Normalize(),
            nn.Conv2d(1, 20, 5, padding=2),
            nn.ELU(),
            nn.AvgPool2d(2),
            nn.Conv2d(20, 40, 5, padding=2),
            nn.ELU(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(40 * 7 * 7, 128),
            nn.ELU(),
            MaskDropout(0.4),
            nn.Linear(128, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Perceptron(nn.Module):
    """A plain multilayer perceptron: no convolutions, so it reads digits unlike every CNN here (a panel member)."""

    def __init__(self, hidden: tuple[int, int] = (256, 128), dropout: float = 0.2) -> None:
        super().__init__()
        h1, h2 = hidden
        self.net = nn.Sequential(Normalize(), nn.Flatten(), nn.Linear(28 * 28, h1), nn.ReLU(), MaskDropout(dropout),
                                 nn.Linear(h1, h2), nn.ReLU(), nn.Linear(h2, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Encoder(nn.Module):
    """Four strided conv blocks and a dense layer down to the latent vector."""

    def __init__(self, latent: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(inplace=True),   # 14
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(inplace=True),  # 7
            nn.Conv2d(64, 64, 3, stride=2, padding=1), nn.ReLU(inplace=True),  # 4
            nn.Conv2d(64, 64, 3, stride=1, padding=1), nn.ReLU(inplace=True),  # 4
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, latent),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """A dense layer and four transposed-conv blocks from the latent vector back to 28x28 pixels in [0, 1]."""

    def __init__(self, latent: int = 10, width: int = 64) -> None:
        super().__init__()
        self.width = width
        self.dense = nn.Sequential(nn.Linear(latent, width * 4 * 4), nn.ReLU(inplace=True))
        self.net = nn.Sequential(
            nn.ConvTranspose2d(width, width, 3, stride=1, padding=1), nn.ReLU(inplace=True),                 # 4
            nn.ConvTranspose2d(width, width, 3, stride=2, padding=1), nn.ReLU(inplace=True),                 # 7
            nn.ConvTranspose2d(width, width // 2, 3, stride=2, padding=1, output_padding=1),                # 14
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(width // 2, 1, 3, stride=2, padding=1, output_padding=1),                     # 28
            nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.dense(z).view(-1, self.width, 4, 4))


class Autoencoder(nn.Module):
    """Convolutional autoencoder with a 10-d latent space (seed 002's shape)."""

    def __init__(self, latent: int = 10) -> None:
        super().__init__()
        self.encoder = Encoder(latent)
        self.decoder = Decoder(latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class VariationalAutoencoder(nn.Module):
    """A VAE: the encoder gives a Gaussian over the latent vector, and training pulls those towards N(0, I).

    Latents near the prior decode to digit-like strokes, which is what latent-space
    generators need. ``forward`` decodes the mean latent (a deterministic reconstruction).
    """

    def __init__(self, latent: int = 16, width: int = 96) -> None:
        super().__init__()
        self.latent = latent
        self.encoder = Encoder(2 * latent)
        self.decoder = Decoder(latent, width)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of the latent Gaussian of each image."""
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        return mean, log_var

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(x)[0])


def count_flops(model: nn.Module) -> int:
    """Multiply-adds x 2 of conv and linear layers for one 28x28 image (norm and activations ignored)."""
    flops = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal flops
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            kernel = module.kernel_size[0] * module.kernel_size[1]
            macs = (output.numel() * per_output if isinstance(module, nn.Conv2d)
                    else inputs[0].numel() * module.out_channels * kernel)
            flops += 2 * macs
        elif isinstance(module, nn.Linear):
            flops += 2 * module.in_features * module.out_features

    counted = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, counted)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    model.train(was_training)
    for handle in handles:
        handle.remove()
    return flops


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
