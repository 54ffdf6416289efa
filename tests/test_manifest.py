import json

import pytest

from condensed_data.artifact.manifest import FORMAT_VERSION, Evaluation, FileEntry, Manifest, ManifestError, Recipe


def example_dict():
    return Manifest.example().to_dict()


def test_round_trip_is_exact():
    m = Manifest.example().replace(
        files={"images.safetensors": FileEntry(sha256="sha256:" + "1" * 64, size=10)},
        evaluation=(
            Evaluation(
                arch="convnet",
                test_set="digits/test",
                models=2,
                accuracy_mean=0.5,
                accuracy_std=0.1,
                accuracies=(0.4, 0.6),
                protocol={"epochs": 3},
            ),
        ),
    )
    again = Manifest.from_json(m.to_json())
    assert again == m
    assert again.to_json() == m.to_json()
    assert json.loads(m.to_json())["format_version"] == FORMAT_VERSION
    assert list(json.loads(m.to_json()))[:3] == ["format_version", "library_version", "kind"]


@pytest.mark.parametrize(
    "field", ["kind", "method", "source", "classes", "images_per_class", "image_shape", "recipe", "seed"]
)
def test_missing_required_field_is_named(field):
    data = example_dict()
    del data[field]
    with pytest.raises(ManifestError, match=f"missing required field '{field}'"):
        Manifest.from_dict(data)


def test_missing_nested_field_is_named():
    data = example_dict()
    del data["source"]["fingerprint"]
    with pytest.raises(ManifestError, match="'source.fingerprint'"):
        Manifest.from_dict(data)


def test_unknown_fields_rejected_at_any_depth():
    data = example_dict()
    data["colour"] = "blue"
    with pytest.raises(ManifestError, match="unknown field 'colour'"):
        Manifest.from_dict(data)
    data = example_dict()
    data["recipe"]["warmup"] = 3
    with pytest.raises(ManifestError, match="unknown field 'recipe.warmup'"):
        Manifest.from_dict(data)


def test_newer_format_version_says_upgrade():
    data = example_dict()
    data["format_version"] = FORMAT_VERSION + 1
    data["future_field"] = 1  # a newer format may carry fields we do not know: the version error comes first
    with pytest.raises(ManifestError, match="pip install -U condensed-data"):
        Manifest.from_dict(data)


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("images_per_class",), 0, "images_per_class must be >= 1"),
        (("images_per_class",), "3", "images_per_class must be of type int"),
        (("images_per_class",), True, "images_per_class must be of type int"),
        (("kind",), "pickle", "kind must be one of"),
        (("label_kind",), "fuzzy", "label_kind must be one of"),
        (("image_shape",), [1, 8], "image_shape must have 3 entries"),
        (("source", "fingerprint"), "md5:abc", "source.fingerprint must be 'sha256:'"),
        (("recipe", "std"), [0.0], "recipe.std must be positive"),
        (("classes",), ["a", "a"], "classes must be unique"),
        (("files",), {"../evil": {"sha256": "sha256:" + "0" * 64, "size": 1}}, "not a relative path"),
    ],
)
def test_invalid_values_are_named(path, value, message):
    data = example_dict()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ManifestError, match=message):
        Manifest.from_dict(data)


def test_recipe_channels_must_match_image_shape():
    with pytest.raises(ManifestError, match="recipe.mean has 3 channels"):
        Manifest.example().replace(recipe=Recipe(mean=(0.1, 0.2, 0.3), std=(1.0, 1.0, 1.0)))


def test_evaluation_accuracies_are_fractions():
    with pytest.raises(ManifestError, match="fraction"):
        Evaluation(arch="convnet", test_set="x", models=1, accuracy_mean=83.5, accuracy_std=0.1)


def test_invalid_json_text():
    with pytest.raises(ManifestError, match="not valid JSON"):
        Manifest.from_json("{not json")
    with pytest.raises(ManifestError, match="must hold a JSON object"):
        Manifest.from_json("[1, 2]")


def test_version_1_manifests_still_load():
    data = example_dict()
    data["format_version"] = 1
    assert Manifest.from_dict(data).format_version == 1
    assert "provenance" not in data  # written only when there is one


def test_provenance_round_trip_and_version():
    from condensed_data.artifact.manifest import Provenance, SourceInfo

    provenance = Provenance(
        format="dc",
        source="res_DM_CIFAR10_ConvNet_1ipc.pt",
        files={"res_DM_CIFAR10_ConvNet_1ipc.pt": "sha256:" + "2" * 64},
        value_space="normalized",
        transform={"mean": [0.5], "std": [0.25]},
        experiment=4,
        reported={"ConvNet": [0.26, 0.27]},
    )
    unknown = SourceInfo(name="cifar10", split="train", num_samples=0, fingerprint="")
    m = Manifest.example().replace(provenance=provenance, source=unknown)
    again = Manifest.from_json(m.to_json())
    assert again == m and again.provenance.experiment == 4
    data = m.to_dict()
    data["format_version"] = 1
    with pytest.raises(ManifestError, match="provenance needs format_version >= 2"):
        Manifest.from_dict(data)
    with pytest.raises(ManifestError, match="only an imported set"):
        Manifest.example().replace(source=unknown)
    data = m.to_dict()
    data["provenance"]["files"] = {"x.pt": "md5:1"}
    with pytest.raises(ManifestError, match=r"provenance.files\['x.pt'\]"):
        Manifest.from_dict(data)


def _soft_manifest() -> Manifest:
    from condensed_data.artifact.manifest import Teacher

    m = Manifest.example()
    run = Evaluation(arch="convnet", test_set="digits/test", models=1, accuracy_mean=0.5, accuracy_std=0.0)
    return m.replace(
        label_kind="soft",
        teacher=Teacher(arch="convnet", epochs=20, seed=0, temperature=4.0),
        recipe=Recipe(mean=m.recipe.mean, std=m.recipe.std, targets="soft"),
        evaluation=(
            Evaluation(**{**run.__dict__, "labels": "soft"}),
            Evaluation(**{**run.__dict__, "subject": "random-real", "labels": "soft"}),
            Evaluation(**{**run.__dict__, "subject": "full-real"}),
        ),
    )


def test_soft_labels_round_trip_with_their_teacher_and_targets():
    m = _soft_manifest()
    data = json.loads(m.to_json())
    assert data["teacher"] == {"arch": "convnet", "epochs": 20, "seed": 0, "temperature": 4.0}
    assert data["recipe"]["targets"] == "soft"
    assert [(e["subject"], e["labels"]) for e in data["evaluation"]] == [
        ("condensed", "soft"), ("random-real", "soft"), ("full-real", "hard")
    ]  # fmt: skip
    assert Manifest.from_json(m.to_json()) == m
    assert "teacher" not in Manifest.example().to_dict()  # written only for a set that has one


def test_soft_label_fields_are_validated_by_name():
    m = _soft_manifest()
    with pytest.raises(ManifestError, match="label_kind is 'hard'"):
        m.replace(label_kind="hard")
    with pytest.raises(ManifestError, match="recipe.targets must be 'hard'"):
        Recipe(mean=(0.3,), std=(0.4,), targets="probabilities")
    with pytest.raises(ManifestError, match="evaluation.labels"):
        Evaluation(arch="convnet", test_set="x", models=1, accuracy_mean=0.5, accuracy_std=0.0, labels="mixed")
    with pytest.raises(ManifestError, match="evaluation.subject must be one of"):
        Evaluation(arch="convnet", test_set="x", models=1, accuracy_mean=0.5, accuracy_std=0.0, subject="real")
    data = m.to_dict()
    data["teacher"]["epochs"] = 0
    with pytest.raises(ManifestError, match="teacher.epochs must be >= 1"):
        Manifest.from_dict(data)


def test_soft_label_manifests_written_before_targets_keep_training_on_soft_labels():
    """An imported soft-label set written before recipe.targets and evaluation[].labels trained (and was evaluated)
    on its soft labels; its random-real baseline on hard ones."""
    data = _soft_manifest().to_dict()
    del data["teacher"]
    del data["recipe"]["targets"]
    data["evaluation"] = data["evaluation"][:2]
    for e in data["evaluation"]:
        del e["labels"]
    old = Manifest.from_dict(data)
    assert old.recipe.targets == "soft"
    assert [(e.subject, e.labels) for e in old.evaluation] == [("condensed", "soft"), ("random-real", "hard")]
    hard = example_dict()
    assert Manifest.from_dict(hard).recipe.targets == "hard"
