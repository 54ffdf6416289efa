"""The objective contract test (condensed_data.testing.check_objective): passes on the built-ins, and on a broken
objective fails with a message that names the broken rule."""

from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch

from condensed_data.condense.objectives import MeanEmbedding, Objective, mean_embedding_loss
from condensed_data.condense.registry import get_objective
from condensed_data.testing import check_objective


@pytest.mark.parametrize("name", ["dm", "atom", "echo"])
def test_builtin_objectives_pass(name, single_thread):
    check_objective(get_objective(name))  # through the registry, as a plugin's objective is found


def test_options_are_used(single_thread):
    check_objective(get_objective("echo"), options={"kernel": "linear", "multipliers": (1, 2)})
    with pytest.raises(ValueError, match="power must be > 0"):
        check_objective(get_objective("atom"), options={"power": 0})


@dataclass(frozen=True)
class TupleLess(MeanEmbedding):
    name: ClassVar[str] = "tupleless"

    def features(self, net, images):
        return net.embed(images)


@dataclass(frozen=True)
class BatchMean(MeanEmbedding):
    """Centres features on the batch mean: not per sample, so chunking the real batch changes them."""

    name: ClassVar[str] = "batchmean"

    def features(self, net, images):
        e = net.embed(images)
        return (e - e.mean(0),)


@dataclass(frozen=True)
class PerClass(MeanEmbedding):
    name: ClassVar[str] = "perclass"

    def compare(self, real, syn):
        return (real[0].mean(1) - syn[0].mean(1)).pow(2).sum(1)


@dataclass(frozen=True)
class Detached(MeanEmbedding):
    name: ClassVar[str] = "detached"

    def compare(self, real, syn):
        return mean_embedding_loss(real[0], syn[0].detach())


@dataclass(frozen=True)
class FrozenFeatures(MeanEmbedding):
    name: ClassVar[str] = "frozenfeatures"

    def features(self, net, images):
        with torch.no_grad():
            return (net.embed(images),)


@dataclass(frozen=True)
class Offset(MeanEmbedding):
    name: ClassVar[str] = "offset"

    def compare(self, real, syn):
        return mean_embedding_loss(real[0], syn[0]) + syn[0].pow(2).mean()


@dataclass(frozen=True)
class Noisy(MeanEmbedding):
    name: ClassVar[str] = "noisy"

    def compare(self, real, syn):
        return mean_embedding_loss(real[0], syn[0]) * (1 + torch.rand(()))


@dataclass(frozen=True)
class Lossy(Objective):
    """to_dict() forgets an option."""

    name: ClassVar[str] = "lossy"
    scale: float = 1.0

    def compare(self, real, syn):
        return self.scale * mean_embedding_loss(real[0], syn[0])

    def to_dict(self):
        return {}


class Unnamed(MeanEmbedding):
    name = "Not A Name"


class Plain:
    pass


@pytest.mark.parametrize(
    "cls, options, message",
    [
        (Plain, None, "must subclass condensed_data.condense.objectives.Objective"),
        (Unnamed, None, r"Unnamed.name must be a lower-case identifier"),
        (Lossy, {"scale": 2.0}, "Lossy's options do not round-trip"),
        (TupleLess, None, r"features\(\) must return a non-empty tuple of tensors, got Tensor"),
        (BatchMean, None, r"features\(\) is not per-sample"),
        (PerClass, None, r"compare\(\) must return a scalar tensor, got torch.Size\(\[3\]\)"),
        (Noisy, None, "on the same features: hidden randomness"),
        (Detached, None, "does not reach the synthetic features"),
        (FrozenFeatures, None, r"does not reach the synthetic images through features\(\)"),
        (Offset, None, r"compare\(x, x\) is .* expected 0; pass identical_is_zero=False"),
    ],
)
def test_broken_objectives_fail_with_the_rule_they_break(cls, options, message, single_thread):
    with pytest.raises(AssertionError, match=message):
        check_objective(cls, options=options)


def test_identical_is_zero_can_be_waived(single_thread):
    check_objective(Offset, identical_is_zero=False)
