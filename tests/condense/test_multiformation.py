"""Multi-formation (``factor``): the decode rule, the representation, the artifact and what loading serves."""

import json

import pytest
import torch
from condensed_data_plugins.atom import ATOM
from condensed_data_plugins.dm import DM
from condensed_data_plugins.echo import ECHO

from condensed_data.artifact.manifest import Decode, Manifest, ManifestError
from condensed_data.condense.config import CondenseConfig
from condensed_data.condense.driver import condense
from condensed_data.condense.representations import Pixels
from condensed_data.condense.representations.pixels import kmeans_medoids
from condensed_data.dataset import CondensedDataset
from condensed_data.evaluate.protocol import EvalConfig
from condensed_data.interop.export import export_tensors, export_webdataset
from condensed_data.seeding import make_generator
from condensed_data.sources.decode import decode_tiles, encode_tiles
from condensed_data.sources.tensors import IMAGES_FILE
from condensed_data.testing import check_method, tiny_real_dataset

# -- the decode rule ----------------------------------------------------------------------------------------------


def test_each_tile_becomes_one_item_in_row_major_order():
    stored = torch.zeros(2, 1, 6, 6)
    for r in range(2):
        for q in range(2):
            stored[1, 0, 3 * r : 3 * r + 3, 3 * q : 3 * q + 3] = 1 + 2 * r + q  # tile (r, q) of image 1 holds 1+2r+q
    items = decode_tiles(stored, 2)
    assert items.shape == (8, 1, 6, 6)
    assert items[:4].abs().max() == 0  # image 0's items
    # A constant tile decodes to a constant image (bilinear resize keeps constants): item 4 + 2r + q.
    torch.testing.assert_close(items[4:].flatten(1).mean(1), torch.tensor([1.0, 2.0, 3.0, 4.0]))
    torch.testing.assert_close(items[4:].flatten(1).std(1), torch.zeros(4))


def test_decoding_is_differentiable_and_commutes_with_normalization():
    stored = torch.rand(3, 2, 8, 8, requires_grad=True)
    decode_tiles(stored, 2).sum().backward()
    assert stored.grad is not None and stored.grad.abs().sum() > 0
    mean, std = torch.tensor([0.3, 0.5]).view(1, 2, 1, 1), torch.tensor([0.2, 0.4]).view(1, 2, 1, 1)
    x = stored.detach()
    torch.testing.assert_close(decode_tiles((x - mean) / std, 2), (decode_tiles(x, 2) - mean) / std)


def test_a_factor_too_large_for_the_images_is_a_named_error():
    with pytest.raises(ValueError, match="factor 9 is too large for 8x8 images"):
        decode_tiles(torch.rand(1, 1, 8, 8), 9)
    with pytest.raises(ValueError, match="cannot fill stored images of 4 tiles"):
        encode_tiles(torch.rand(3, 1, 8, 8), 2)


def test_encoding_smooth_images_into_tiles_decodes_back_close_to_them():
    smooth = torch.nn.functional.interpolate(torch.rand(8, 1, 4, 4), size=(16, 16), mode="bilinear")
    back = decode_tiles(encode_tiles(smooth, 2), 2)
    assert (back - smooth).abs().mean() < 0.05  # only the tiles' lower resolution is lost


# -- the representation -------------------------------------------------------------------------------------------


def test_pixels_with_a_factor_store_ipc_images_and_serve_ipc_times_factor_squared_items():
    real = tiny_real_dataset(classes=3, per_class=12)
    pixels = Pixels(real, ipc=2, init="real", lr=1.0, factor=2, generator=make_generator(0))
    assert pixels.normalized.shape == (6, 1, 8, 8)
    images, labels = pixels.images(range(3))
    assert images.shape == (24, 1, 8, 8) and labels.tolist() == [c for c in range(3) for _ in range(8)]
    block, block_labels = pixels.images(range(1, 3))
    torch.testing.assert_close(block, images[8:])
    assert block_labels.tolist() == labels[8:].tolist()
    items, item_labels = pixels.pixels()
    torch.testing.assert_close(real.normalize(items), images.detach())
    assert pixels.decode == Decode(factor=2)


def test_real_init_with_a_factor_puts_downsized_real_images_of_the_class_in_the_tiles():
    real = tiny_real_dataset(classes=3, per_class=12)
    pixels = Pixels(real, ipc=1, init="real", lr=1.0, factor=2, generator=make_generator(0))
    drawn = real.sample_per_class(4, generator=make_generator(0)).flatten(0, 1)  # the same draw
    torch.testing.assert_close(real.denormalize(pixels.normalized.detach()), encode_tiles(drawn, 2))


def test_medoid_init_picks_distinct_real_images_of_each_class_nearest_the_cluster_centres():
    real = tiny_real_dataset(classes=2, per_class=12)
    chosen = kmeans_medoids(real, 3, generator=make_generator(0))
    assert chosen.shape == (2, 3, 1, 8, 8)
    for c in range(2):
        own = real.images[real.indices_of(c)].flatten(1)
        for image in chosen[c]:
            assert (own == image.flatten()).all(dim=1).any()  # a real image of class c
        assert len({tuple(x.flatten().tolist()) for x in chosen[c]}) == 3
    torch.testing.assert_close(chosen, kmeans_medoids(real, 3, generator=make_generator(0)))  # deterministic
    # One centre per class: its medoid is the image nearest the class mean.
    one = kmeans_medoids(real, 1, generator=make_generator(1))
    own = real.images[real.indices_of(0)].flatten(1)
    nearest = own[torch.cdist(own.mean(0, keepdim=True), own).argmin()]
    torch.testing.assert_close(one[0, 0].flatten(), nearest)


def test_medoid_init_refuses_more_medoids_than_images():
    with pytest.raises(ValueError, match="init='medoids' needs 20 images of class 'class0', it has 12"):
        Pixels(tiny_real_dataset(per_class=12), ipc=5, init="medoids", lr=1.0, factor=2, generator=make_generator(0))


@pytest.mark.parametrize("cls", [DM, ATOM, ECHO])
def test_every_pixel_method_honours_the_contract_with_a_factor(cls):
    check_method(cls, ipc=1, options={"factor": 2, "batch_real": 4, "init": "medoids"})


# -- the artifact and loading -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiled_set(tmp_path_factory):
    real = tiny_real_dataset(classes=3, per_class=12)
    cfg = CondenseConfig(method="dm", dataset="tiny", ipc=2, iterations=3, options={"factor": 2, "batch_real": 4},
                         checkpoint_every=0, evaluate=False)  # fmt: skip
    folder = tmp_path_factory.mktemp("tiled") / "set"
    result = condense(cfg, folder, real=real, progress=False)
    return folder, result


def test_the_artifact_stores_the_compact_images_and_the_decode_rule(tiled_set):
    from safetensors.torch import load_file

    folder, result = tiled_set
    manifest = json.loads((folder / "condensed.json").read_text())
    assert manifest["format_version"] == 3 and manifest["decode"] == {"factor": 2, "resize": "bilinear"}
    assert manifest["images_per_class"] == 2
    stored = load_file(str(folder / IMAGES_FILE))
    assert stored["images"].shape == (6, 1, 8, 8) and stored["labels"].shape == (24,)


def test_the_dataset_serves_the_decoded_items_deterministically(tiled_set):
    folder, _ = tiled_set
    ds = CondensedDataset(folder)
    assert len(ds) == 3 * 2 * 4 and ds.manifest.items_per_class == 8
    images, labels = ds.tensors()
    for i in (0, 5, 23):
        image, label = ds[i]
        torch.testing.assert_close(image, images[i])
        assert label == int(labels[i]) == i // 8
    torch.testing.assert_close(CondensedDataset(folder).tensors()[0], images)


def test_the_evaluation_trains_on_the_decoded_items(tmp_path, monkeypatch):
    import condensed_data.condense.driver as driver

    seen = {}

    def spy(images, labels, test, **kwargs):
        seen["shape"] = tuple(images.shape)
        return []

    monkeypatch.setattr(driver, "evaluate", spy)
    real = tiny_real_dataset(classes=3, per_class=12)
    cfg = CondenseConfig(method="dm", dataset="tiny", ipc=1, iterations=1, options={"factor": 2, "batch_real": 4},
                         checkpoint_every=0, baseline=False, eval=EvalConfig(epochs=1, models=1))  # fmt: skip
    condense(cfg, tmp_path / "set", real=real, test=real, progress=False)
    assert seen["shape"] == (12, 1, 8, 8)


def test_labels_that_do_not_match_the_items_are_a_named_error(tiled_set, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    from condensed_data.artifact.folder import ArtifactError

    folder, _ = tiled_set
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    tensors = load_file(str(copy / IMAGES_FILE))
    save_file({"images": tensors["images"], "labels": tensors["labels"][:6]}, str(copy / IMAGES_FILE))
    with pytest.raises(
        ArtifactError, match=r"6 stored images decode \(decode.factor 2\) into 24 items, but there are 6"
    ):
        CondensedDataset(copy, verify=False)


def test_exports_write_the_items_without_a_decode_rule(tiled_set, tmp_path):
    folder, _ = tiled_set
    items = CondensedDataset(folder).tensors()[0]
    for export in (export_tensors, lambda source, out: export_webdataset(source, out, shard_size=10)):
        manifest = export(folder, tmp_path / export.__name__)
        assert manifest.decode is None and manifest.images_per_class == 8
        torch.testing.assert_close(CondensedDataset(tmp_path / export.__name__).tensors()[0], items, atol=1e-6, rtol=0)


# -- the manifest -------------------------------------------------------------------------------------------------


def test_a_decode_block_round_trips_and_older_manifests_still_load():
    m = Manifest.example().replace(decode=Decode(factor=3))
    assert Manifest.from_json(m.to_json()) == m and m.items_per_class == 9
    old = json.loads(Manifest.example().to_json())
    old["format_version"] = 2
    assert Manifest.from_dict(old).decode is None and "decode" not in Manifest.example().to_dict()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"decode": Decode(factor=2), "format_version": 2}, "decode needs format_version >= 3"),
        ({"decode": Decode(factor=2), "kind": "generator"}, "decode .multi-formation. applies to artifacts of kind"),
    ],
)
def test_a_decode_block_where_it_cannot_apply_is_refused(changes, message):
    with pytest.raises(ManifestError, match=message):
        Manifest.example().replace(**changes)


def test_a_factor_below_two_or_an_unknown_resize_is_refused():
    with pytest.raises(ManifestError, match="decode.factor must be >= 2"):
        Decode(factor=1)
    with pytest.raises(ManifestError, match="decode.resize must be 'bilinear'"):
        Decode(factor=2, resize="nearest")


def test_the_card_says_how_many_images_the_set_trains_on(tiled_set):
    folder, _ = tiled_set
    card = (folder / "README.md").read_text()
    assert "multi_formation_factor: 2" in card
    assert "decoded into 4 training images, so the set trains on 24 images (8 per class)" in card
