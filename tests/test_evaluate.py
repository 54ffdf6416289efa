import pytest
import torch

from condensed_data.artifact.manifest import Recipe
from condensed_data.evaluate.protocol import EvalConfig, evaluate, evaluate_random_real, train_network
from condensed_data.testing import tiny_real_dataset

FAST = EvalConfig(arch="convnet-d1", epochs=20, models=2, augmentation="none", precision="fp32")


@pytest.fixture(scope="module")
def data():
    return tiny_real_dataset(per_class=10, seed=0), tiny_real_dataset(per_class=30, seed=1)


def test_config_validation():
    with pytest.raises(ValueError, match="epochs"):
        EvalConfig(epochs=0)
    with pytest.raises(ValueError, match="precision"):
        EvalConfig(precision="fp8")


def test_learns_a_separable_set(data):
    train, test = data
    [result] = evaluate(train.images, train.labels, test, config=FAST, seed=0)
    assert result.models == 2 and len(result.accuracies) == 2
    assert result.accuracy_mean > 0.9
    assert result.accuracy_mean == pytest.approx(sum(result.accuracies) / 2)
    assert result.protocol["epochs"] == 20 and result.protocol["precision"] == "fp32"
    assert result.test_set == "tiny/train" and result.subject == "condensed"


def test_same_seed_same_result_and_seed_matters(data):
    train, test = data
    a = evaluate(train.images, train.labels, test, config=FAST, seed=3)[0].accuracies
    b = evaluate(train.images, train.labels, test, config=FAST, seed=3)[0].accuracies
    assert a == b
    nets = [
        train_network(
            train.images,
            train.labels,
            num_classes=3,
            mean=train.mean,
            std=train.std,
            config=FAST,
            generator=torch.Generator().manual_seed(s),
        )
        for s in (0, 1)
    ]
    assert not torch.equal(nets[0].classifier.weight, nets[1].classifier.weight)


def test_dsa_and_bf16_paths_train(data):
    train, test = data
    cfg = EvalConfig(arch="convnet-d1", epochs=20, models=1, precision="bf16")
    [result] = evaluate(train.images, train.labels, test, config=cfg, seed=0)
    assert result.protocol["precision"] == "bf16"
    assert result.protocol["augmentation"] == "color_crop_cutout_flip_scale_rotate"
    assert result.accuracy_mean > 0.8


def test_random_real_draws_a_subset_per_model(data, monkeypatch):
    train, test = data
    import condensed_data.evaluate.protocol as ev

    seen = []
    real_train = ev.train_network

    def spy(images, labels, **kw):
        seen.append(images.clone())
        return real_train(images, labels, **kw)

    monkeypatch.setattr(ev, "train_network", spy)
    [result] = evaluate_random_real(train, test, ipc=2, config=FAST, seed=0)
    assert result.subject == "random-real" and result.models == 2
    assert [s.shape[0] for s in seen] == [6, 6]
    assert not torch.equal(seen[0], seen[1])


def test_bad_sets_are_refused(data):
    train, test = data
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        evaluate(train.images, train.labels + 5, test, config=FAST)
    bad = train.images.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        evaluate(bad, train.labels, test, config=FAST)


def test_normalization_is_the_recipe_not_the_test_sets_own(data):
    """A test set built with other statistics is still normalized the way the set was condensed."""
    from condensed_data.data import RealDataset

    train, test = data
    own = RealDataset(test.images, test.labels, classes=test.classes, name="tiny", split="test",
                      mean=(0.9,), std=(2.0,))  # fmt: skip
    recipe = (train.mean, train.std)
    as_train = RealDataset(test.images, test.labels, classes=test.classes, name="tiny", split="test",
                           mean=train.mean, std=train.std)  # fmt: skip
    a = evaluate(train.images, train.labels, own, config=FAST, seed=0, normalization=recipe)[0].accuracies
    b = evaluate(train.images, train.labels, as_train, config=FAST, seed=0)[0].accuracies
    c = evaluate(train.images, train.labels, own, config=FAST, seed=0)[0].accuracies
    assert a == b
    assert a != c  # the default really is the test set's own statistics
    # The manifest's Recipe is accepted as it is (what the driver passes), with the same result as its (mean, std).
    as_recipe = Recipe(mean=tuple(train.mean), std=tuple(train.std), epochs=7)
    assert evaluate(train.images, train.labels, own, config=FAST, seed=0, normalization=as_recipe)[0].accuracies == a
