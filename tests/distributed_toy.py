"""A tiny shared-representation method (``sharding = "data"``) and a worker script to run it under torchrun.

    torchrun --standalone --nproc_per_node 2 tests/distributed_toy.py OUT_FOLDER

The method stands in for a generator-backed method (DCGM) without inventing one: one linear decoder shared by all
classes turns fixed per-image codes into images, and the loss is a mean over real samples, so averaging the
gradients of equal shares gives the gradient of the whole batch.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import ClassVar

import torch

from condensed_data.condense.driver import CondenseConfig, condense
from condensed_data.condense.method import Method, MethodConfig
from condensed_data.condense.registry import register
from condensed_data.testing import tiny_real_dataset

NAME = "toy-shared"


@dataclass
class ToyConfig(MethodConfig):
    lr: float = 0.05
    batch: int = 8


class SharedDecoder(Method):
    name: ClassVar[str] = NAME
    config_class: ClassVar[type[MethodConfig]] = ToyConfig
    sharding: ClassVar[str] = "data"

    def __init__(self, real, *, ipc, config=None, device="cpu", generator):
        super().__init__(real, ipc=ipc, config=config, device=device, generator=generator)
        k, shape = real.num_classes, real.image_shape
        self.codes = torch.randn((k * ipc, 4), generator=generator)
        self.decoder = torch.nn.Linear(4, math.prod(shape))
        with torch.no_grad():
            self.decoder.weight.copy_(torch.randn(self.decoder.weight.shape, generator=generator) * 0.1)
            self.decoder.bias.zero_()
        self.labels = torch.arange(k).repeat_interleave(ipc)

    def parameters(self):
        return list(self.decoder.parameters())

    def make_optimizer(self):
        return torch.optim.SGD(self.parameters(), lr=self.config.lr, momentum=0.5)

    def _images(self) -> torch.Tensor:
        return self.decoder(self.codes).view(-1, *self.real.image_shape)

    def loss(self, *, iteration, generator):
        k = self.real.num_classes
        real = self.real.sample_per_class(self.config.batch, generator=generator)  # the same draw everywhere
        share = real[:, self.shard_index :: self.shard_count].flatten(2)  # this process's share of every class
        centers = self._images().view(k, self.ipc, -1).mean(1, keepdim=True)
        return (share - centers).pow(2).sum(-1).mean()

    def synthetic(self):
        return self._images().detach().cpu(), self.labels.clone()


CONFIG = CondenseConfig(method=NAME, dataset="tiny", ipc=2, iterations=6, evaluate=False, checkpoint_every=3)


def real():
    return tiny_real_dataset(per_class=12, seed=0)


if __name__ == "__main__":
    torch.set_num_threads(1)
    register(NAME, SharedDecoder)
    condense(CONFIG, sys.argv[1], real=real(), progress=False)
