import numpy as np
import torch
from helpers import tiny_manifest
from PIL import Image

from condensed_data.artifact.card import preview_grid, render_card, save_preview
from condensed_data.artifact.manifest import Evaluation


def _front_matter(text):
    assert text.startswith("---\n")
    return text.split("---\n")[1]


def test_card_metadata_and_body():
    m = tiny_manifest().replace(
        evaluation=(
            Evaluation(
                arch="convnet",
                test_set="digits/test",
                models=2,
                accuracy_mean=0.8123,
                accuracy_std=0.01,
                accuracies=(0.8023, 0.8223),
                protocol={"epochs": 300},
            ),
        )
    )
    text = render_card(m, repo_id="org/digits-dm-ipc2")
    meta = _front_matter(text)
    assert 'task_categories: ["image-classification"]' in meta
    assert '"ipc-2"' in meta and '"dataset-distillation"' in meta and '"dm"' in meta
    assert "condensed:" in meta and "  images_per_class: 2" in meta
    assert "81.23 ± 1.00 %" in text
    assert 'CondensedDataset.from_pretrained("org/digits-dm-ipc2")' in text
    assert "![preview](preview.png)" in text


def test_card_without_evaluation_says_how_to_add_one():
    assert "condensed-data evaluate" in render_card(tiny_manifest())


def test_preview_grid_places_one_row_per_class(tmp_path):
    images = torch.zeros(6, 1, 4, 4)
    images[2:4] = 1.0  # class 1 is white
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    grid = np.asarray(preview_grid(images, labels, 3, scale=1, pad=1))
    assert grid.shape == (3 * 5 + 1, 2 * 5 + 1, 3)
    assert (grid[6:10, 1:5] == 255).all()  # row 1, first image: white
    assert (grid[1:5, 1:5] == 0).all()  # row 0: black
    save_preview(tmp_path / "p.png", images, labels, ["a", "b", "c"])
    assert Image.open(tmp_path / "p.png").size[1] == 3 * (4 * 2 + 1) + 1


def test_huggingface_hub_parses_the_card():
    from huggingface_hub import DatasetCard

    data = DatasetCard(render_card(tiny_manifest(), repo_id="org/x")).data.to_dict()
    assert data["task_categories"] == ["image-classification"]
    assert "ipc-2" in data["tags"] and data["source_datasets"] == ["digits"]
    assert data["condensed"]["images_per_class"] == 2 and data["condensed"]["label_kind"] == "hard"
