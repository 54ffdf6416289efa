"""The representation contract and the one matching loop, on the built-in representations and on toy ones."""

from pathlib import Path
from typing import ClassVar

import pytest
import torch
from condensed_data_plugins.dm import DM

from condensed_data.condense.matching import MatchingMethod, PixelConfig, PixelMethod
from condensed_data.condense.objectives import mean_embedding_loss
from condensed_data.condense.representations import GeneratorCodes, Pixels, Representation
from condensed_data.models.generator import ConditionalGenerator, ConditionalGeneratorConfig
from condensed_data.seeding import make_generator
from condensed_data.sources.tensors import save_tensors
from condensed_data.testing import check_method, tiny_real_dataset


def _generator_codes(real, ipc=2):
    config = ConditionalGeneratorConfig(num_classes=real.num_classes, image_shape=tuple(real.image_shape),
                                        latent_dim=8, embed_dim=4, width=8)  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = ConditionalGenerator(config)
    return GeneratorCodes(real, ipc=ipc, generator_model=model, lr_codes=0.1, lr_generator=0.01,
                          generator=make_generator(0))  # fmt: skip


@pytest.fixture(params=["pixels", "generator"])
def representation(request):
    real = tiny_real_dataset(classes=3)
    if request.param == "pixels":
        return Pixels(real, ipc=2, init="real", lr=1.0, generator=make_generator(0))
    return _generator_codes(real)


def test_a_block_of_classes_is_the_matching_rows_of_the_whole_set(representation):
    whole, labels = representation.images(range(3))
    assert labels.tolist() == [0, 0, 1, 1, 2, 2]
    block, block_labels = representation.images(range(1, 3))
    assert block_labels.tolist() == [1, 1, 2, 2]
    torch.testing.assert_close(block, whole[2:])
    assert block.requires_grad  # differentiable: the matching loop back-propagates through it


def test_pixels_are_the_denormalized_images_and_groups_cover_every_parameter(representation):
    images, labels = representation.pixels()
    assert images.device.type == "cpu" and not images.requires_grad and labels.tolist() == [0, 0, 1, 1, 2, 2]
    torch.testing.assert_close(representation.real.normalize(images), representation.images(range(3))[0].detach())
    grouped = [p for group in representation.param_groups() for p in group["params"]]
    assert sorted(map(id, grouped)) == sorted(map(id, representation.parameters()))
    assert all("lr" in group for group in representation.param_groups())


def test_pixels_refuse_an_unknown_init():
    with pytest.raises(ValueError, match="init must be one of 'real', 'medoids', 'noise', got 'zeros'"):
        Pixels(tiny_real_dataset(), ipc=1, init="zeros", lr=1.0, generator=make_generator(0))


# -- a representation that decodes to more images than it stores (as multi-formation will) ---------------------
class Mirrored(Representation):
    """``ipc`` stored images per class, each served twice: as is and mirrored (2 * ipc images per class)."""

    kind: ClassVar[str] = "tensors"
    sharding: ClassVar[str] = "classes"

    def __init__(self, real, *, ipc, device="cpu", generator):
        super().__init__(real, ipc=ipc, device=torch.device(device))
        self.stored = real.sample_per_class(ipc, generator=generator).flatten(0, 1).requires_grad_(True)

    def parameters(self):
        return [self.stored]

    def generate(self, classes):  # pixel space; the base class normalizes it for images()
        stored, labels = self.stored[self.rows(classes)], self.labels[self.rows(classes)]
        k = len(classes)
        pairs = torch.stack([stored, stored.flip(-1)], dim=1).unflatten(0, (k, self.ipc))  # (K, ipc, 2, C, H, W)
        return pairs.flatten(0, 2), labels.unflatten(0, (k, self.ipc)).repeat_interleave(2, dim=1).flatten()

    def export(self, folder: Path) -> None:
        save_tensors(folder, *self.pixels())


class MirroredDM(PixelMethod):
    name: ClassVar[str] = "mirrored-dm"
    representation_class: ClassVar[type[Representation]] = Mirrored

    def build_representation(self, generator):
        return Mirrored(self.real, ipc=self.ipc, device=self.device, generator=generator)


def _mirrored(**options):
    options = {"batch_real": 4, "dsa_strategy": "none", **options}
    return MirroredDM(tiny_real_dataset(), ipc=2, config=PixelConfig(**options), generator=make_generator(0))


def test_the_loop_groups_any_number_of_images_per_class():
    method = _mirrored()
    net_seed, g = make_generator(5), make_generator(5)
    loss = method.loss(iteration=0, generator=g)
    # the same draws by hand: the network from the run's stream, the real batch from the iteration's own stream;
    # class means over the 4 (not 2) images per class
    net = method.random_network(net_seed)
    drawn = method.real.sample_per_class(4, generator=method.real_batches.generator(0))
    real = method.real.normalize(drawn.flatten(0, 1))
    syn, _ = method.representation.images(range(3))
    expected = mean_embedding_loss(net.embed(real).unflatten(0, (3, -1)), net.embed(syn).unflatten(0, (3, -1)))
    torch.testing.assert_close(loss, expected)
    assert method.synthetic()[0].shape[0] == 12  # 3 classes x 2 stored x 2 served


def test_a_recipe_over_a_new_representation_honours_the_method_contract():
    assert MirroredDM.kind == "tensors" and MirroredDM.sharding == "classes"  # from its representation
    with pytest.raises(AssertionError, match="expected 6 images"):
        check_method(MirroredDM, options={"batch_real": 4})  # a tensors artifact is ipc per class: this one is not


# -- regularizers belong to the loop, so every recipe may use them --------------------------------------------
def test_regularizers_add_weighted_terms_to_any_recipe():
    real = tiny_real_dataset()

    def loss(**options):
        method = DM(real, ipc=2, config=DM.config_class(batch_real=4, **options), generator=make_generator(0))
        return method, method.loss(iteration=0, generator=make_generator(1))

    base, base_loss = loss()
    assert set(base.terms) == {"match"}
    weighted, weighted_loss = loss(lambda_intra=2.0, lambda_inter=0.5)
    t = weighted.terms
    assert set(t) == {"match", "intra", "inter"} and t["match"] == pytest.approx(base.terms["match"], rel=1e-6)
    assert float(weighted_loss.detach()) == pytest.approx(t["match"] + 2.0 * t["intra"] + 0.5 * t["inter"], rel=1e-5)


def test_relative_regularizer_weights_mean_fractions_of_the_match_term():
    """regularizer_weights="relative": at the step, each term is the stated fraction of |match| (the sign is its own:
    the inter-class term is negative), and its gradient is the raw term's scaled by the detached ratio."""
    real = tiny_real_dataset()
    cfg = DM.config_class(batch_real=4, lambda_intra=0.1, lambda_inter=0.2, regularizer_weights="relative")
    method = DM(real, ipc=2, config=cfg, generator=make_generator(0))
    loss = method.loss(iteration=0, generator=make_generator(1))
    t = method.terms
    assert t["intra"] > 0 > t["inter"] and abs(t["intra"]) != pytest.approx(t["match"])
    assert float(loss.detach()) == pytest.approx(t["match"] * (1 + 0.1 - 0.2), rel=1e-5)
    with pytest.raises(ValueError, match="regularizer_weights must be 'absolute' or 'relative'"):
        DM.config_class(regularizer_weights="fraction")


def test_inter_class_regularizer_cannot_be_split_by_classes():
    method = DM(tiny_real_dataset(), ipc=1, config=DM.config_class(lambda_inter=1.0), generator=make_generator(0))
    with pytest.raises(ValueError, match="lambda_inter couples the classes"):
        method.shard(0, 2)


def test_matching_method_is_abstract_over_its_representation():
    with pytest.raises(TypeError, match="build_representation"):
        MatchingMethod(tiny_real_dataset(), ipc=1, generator=make_generator(0))
