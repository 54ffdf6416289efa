import pickle

import pytest
import torch
from helpers import make_artifact, tiny_manifest, tiny_tensors
from safetensors.torch import save_file

from condensed_data import CondensedDataset
from condensed_data.artifact.folder import ArtifactError, save_artifact
from condensed_data.sources.tensors import save_tensors


@pytest.fixture
def artifact(tmp_path):
    make_artifact(tmp_path / "a", classes=3, ipc=2)
    return tmp_path / "a"


def test_items_are_like_torchvision(artifact):
    ds = CondensedDataset.from_pretrained(artifact)
    images, labels = tiny_tensors(classes=3, ipc=2)
    assert len(ds) == 6
    image, label = ds[3]
    assert isinstance(label, int) and label == 1
    assert image.dtype == torch.float32 and image.shape == (1, 8, 8)
    assert torch.equal(image, images[3])
    assert ds[-1][1] == 2
    assert ds.classes == ["c0", "c1", "c2"]
    assert ds.class_to_idx == {"c0": 0, "c1": 1, "c2": 2}
    assert ds.targets == [0, 0, 1, 1, 2, 2]
    assert ds.recipe.mean == (0.5,) and ds.recipe.epochs == 1000
    assert ds.manifest.images_per_class == 2
    with pytest.raises(IndexError):
        ds[6]


def test_transforms_are_applied(artifact):
    ds = CondensedDataset(artifact, transform=lambda x: x * 0 + 7, target_transform=lambda y: y + 10)
    image, label = ds[0]
    assert torch.all(image == 7) and label == 10


def test_local_dir_prefix_and_missing_path(artifact, tmp_path):
    assert len(CondensedDataset.from_pretrained(f"local-dir:{artifact}")) == 6
    with pytest.raises(FileNotFoundError, match="neither an existing folder nor a Hub id"):
        CondensedDataset.from_pretrained(str(tmp_path / "does" / "not" / "exist"))


def _double(x):
    return x * 2


def test_picklable_and_dataloader_with_workers(artifact):
    ds = CondensedDataset(artifact, transform=_double)
    clone = pickle.loads(pickle.dumps(ds))
    assert torch.equal(clone[2][0], ds[2][0])
    loader = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=False, num_workers=2)
    batches = list(loader)
    images = torch.cat([b[0] for b in batches])
    labels = torch.cat([b[1] for b in batches])
    assert images.shape == (6, 1, 8, 8)
    assert torch.equal(images, tiny_tensors(classes=3, ipc=2)[0] * 2)
    assert labels.tolist() == ds.targets


def test_distributed_sampler_gives_each_rank_its_share_of_the_items(artifact):
    """Two ranks, each a DataLoader (one with a worker process) over CondensedDataset with a DistributedSampler:
    together they see every item exactly once with its own label, and set_epoch reshuffles."""
    ds = CondensedDataset(artifact)
    expected = {tuple(ds[i][0].flatten().tolist()): ds[i][1] for i in range(len(ds))}

    def epoch(rank: int, number: int) -> list[tuple]:
        sampler = torch.utils.data.DistributedSampler(ds, num_replicas=2, rank=rank, shuffle=True, seed=1)
        sampler.set_epoch(number)
        loader = torch.utils.data.DataLoader(ds, batch_size=2, sampler=sampler, num_workers=rank)
        return [
            (tuple(x.flatten().tolist()), int(y))
            for images, labels in loader
            for x, y in zip(images, labels, strict=True)
        ]

    first = [epoch(rank, 0) for rank in range(2)]
    assert len(first[0]) == len(first[1]) == 3
    seen = first[0] + first[1]
    assert sorted(image for image, _ in seen) == sorted(expected)  # every item once, none twice
    assert all(expected[image] == label for image, label in seen)  # each with its own label
    assert [epoch(rank, 1) for rank in range(2)] != first  # a new epoch, a new order


def test_soft_labels(tmp_path):
    images, _ = tiny_tensors(classes=3, ipc=2)
    soft = torch.softmax(torch.randn(6, 3, generator=torch.Generator().manual_seed(1)), dim=1)
    save_artifact(tmp_path / "s", tiny_manifest(label_kind="soft"), lambda d: save_tensors(d, images, soft))
    ds = CondensedDataset(tmp_path / "s")
    assert torch.allclose(ds[1][1], soft[1])
    assert ds.targets == soft.argmax(1).tolist()


def test_labels_out_of_range_are_refused(tmp_path):
    labels = torch.tensor([0, 0, 1, 1, 2, 5])
    make_artifact(tmp_path / "a", labels=labels)
    with pytest.raises(ArtifactError, match=r"labels must lie in \[0, 2\]"):
        CondensedDataset(tmp_path / "a")


def test_shape_mismatch_is_refused(tmp_path):
    images = torch.rand(6, 3, 8, 8)
    save_artifact(tmp_path / "a", tiny_manifest(), lambda d: save_tensors(d, images, torch.zeros(6, dtype=torch.long)))
    with pytest.raises(ArtifactError, match=r"images have shape \[6, 3, 8, 8\]"):
        CondensedDataset(tmp_path / "a")


def test_truncated_safetensors_without_verification(tmp_path):
    make_artifact(tmp_path / "a")
    path = tmp_path / "a" / "images.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ArtifactError, match="not a readable safetensors file"):
        CondensedDataset(tmp_path / "a", verify=False)


def test_missing_tensor_key(tmp_path):
    def write(d):
        save_file({"images": torch.rand(6, 1, 8, 8)}, str(d / "images.safetensors"))

    save_artifact(tmp_path / "a", tiny_manifest(), write)
    with pytest.raises(ArtifactError, match="lacks tensor"):
        CondensedDataset(tmp_path / "a")


def test_tensors_returns_the_whole_set_without_transforms(artifact):
    ds = CondensedDataset(artifact, transform=_double)
    images, labels = ds.tensors()
    expected, expected_labels = tiny_tensors(classes=3, ipc=2)
    assert torch.equal(images, expected) and torch.equal(labels, expected_labels)
    images[0] += 1  # a copy: the dataset is unchanged
    assert torch.equal(ds[0][0], expected[0] * 2)
