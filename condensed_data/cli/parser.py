"""CLI (over both wings): the argument parser of ``condensed-data``, its subcommands and their options.

Only ``argparse`` here, nothing heavy, so ``--help`` is quick; :mod:`condensed_data.cli.commands` runs what is parsed.

>>> build_parser().parse_args(["condense", "--dataset", "digits", "--ipc", "1"]).ipc
1
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["build_parser", "IMPORT_FORMATS"]

# condensed_data.interop.readers.FORMATS, spelled here so that --help imports nothing heavy (a test keeps them equal)
IMPORT_FORMATS = ("mtt", "dc", "datadam", "idc", "kip", "imagefolder", "parquet")


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers (one per channel), got {text!r}") from None


def _parse_option(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE (e.g. lr_img=0.5), got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def _eval_args(p: argparse.ArgumentParser, *, models: int, epochs: int) -> None:
    g = p.add_argument_group("evaluation protocol")
    g.add_argument(
        "--eval-models", type=int, default=models, help=f"networks trained per architecture (default {models})"
    )
    g.add_argument("--eval-epochs", type=int, default=epochs, help=f"training epochs per network (default {epochs})")
    g.add_argument("--eval-arch", default="convnet", help="comma-separated architectures (default convnet)")
    g.add_argument(
        "--eval-precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="auto: bf16 autocast where the hardware has native bf16 (default)",
    )


def _hub_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Hugging Face Hub (for an org/name id)")
    g.add_argument("--revision", default=None, help="branch, tag or commit sha (default main)")
    g.add_argument("--cache-dir", default=None, help="huggingface_hub cache folder (default HF_HUB_CACHE)")
    g.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or `hf auth login`)")


def _holdout(text: str) -> int | float:
    """``--validation``: an integer (images per class) or a fraction."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected images per class (e.g. 100) or a fraction of each class (e.g. 0.1), got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``condensed-data``."""
    parser = argparse.ArgumentParser(
        prog="condensed-data", description="Dataset condensation for PyTorch data pipelines."
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "condense",
        help="condense a dataset into a small synthetic set",
        description="Condense a real dataset with a registered method and write an artifact folder.",
    )
    p.add_argument("--method", default="dm", help="method name (see `condensed-data methods`; default dm)")
    p.add_argument(
        "--dataset",
        default="fashion-mnist",
        help="real dataset: a name (fashion-mnist, mnist, cifar10, cifar100, svhn, tiny-imagenet, digits), "
        "imagefolder:PATH (PATH/train/<class>/*, PATH/test/..., read into memory), or read lazily for data that does "
        "not fit in memory: folder:PATH (the same layout), shards:PATH (class-bucketed webdataset shards) or "
        "hf:NAME[:CONFIG] (a Hugging Face dataset); reading options after '?', e.g. 'folder:PATH?size=64&workers=4'",
    )
    p.add_argument("--ipc", type=int, default=10, help="images per class (default 10)")
    p.add_argument(
        "--objective",
        default=None,
        help="how features are compared: dm, atom, echo or a plugin's (see `condensed-data methods`; default: the "
        "method's own); e.g. --method dm --objective echo",
    )
    p.add_argument("--iterations", type=int, default=None, help="optimization iterations (default: the method's own)")
    p.add_argument("--seed", type=int, default=0, help="base seed of every random draw (default 0)")
    p.add_argument(
        "--set",
        dest="options",
        action="append",
        type=_parse_option,
        default=[],
        metavar="KEY=VALUE",
        help="override a method option, e.g. --set lr_img=0.5 or --set objective_options.power=2 (repeatable)",
    )
    p.add_argument("--output", "-o", default=None, help="artifact folder (default out/DATASET-METHOD[-OBJECTIVE]-ipcN)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument("--resume", action="store_true", help="continue from the output's checkpoint if present")
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=100,
        help="iterations between checkpoints (default 100; 0: none, but SIGINT/SIGTERM still write one)",
    )
    p.add_argument(
        "--eval-every", type=int, default=0, help="evaluate one network every N iterations (default 0: only at the end)"
    )
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16"],
        help="auto (default): the real images' embeddings in the fastest kernels measured for the device (bf16 where "
        "native, else faster float32 kernels on CPUs); fp32: PyTorch's stock kernels throughout; bf16: autocast "
        "over the whole loss",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    p.add_argument("--data-root", default=None, help="folder holding the real dataset's files")
    p.add_argument("--download", action="store_true", help="download the real dataset through torchvision if missing")
    p.add_argument("--no-eval", action="store_true", help="skip the final evaluation")
    p.add_argument("--no-baseline", action="store_true", help="skip the random-real baseline")
    p.add_argument(
        "--validation",
        type=_holdout,
        default=0,
        metavar="N",
        help="hold N images per class (or a fraction, e.g. 0.1) out of the train split, condense the rest and "
        "evaluate on the held-out images instead of the test split: how hyperparameters are chosen (default 0: no "
        "hold-out, evaluate on the test split)",
    )
    g = p.add_argument_group("labels")
    g.add_argument(
        "--labels",
        default="hard",
        choices=["hard", "soft"],
        help="hard: each item's class (default); soft: a teacher trained on the real data labels every item with "
        "softmax(logits / temperature), stored as (N, K) probabilities, trained on as soft targets",
    )
    g.add_argument("--temperature", type=float, default=None, help="soft labels: the teacher's temperature (default 4)")
    g.add_argument("--teacher-arch", default=None, help="soft labels: the teacher's network (default convnet)")
    g.add_argument(
        "--teacher-epochs",
        type=int,
        default=None,
        help="soft labels: the teacher's epochs on the real data (default 20)",
    )
    _eval_args(p, models=3, epochs=1000)

    p = sub.add_parser(
        "evaluate",
        help="train fresh networks on a condensed set and test them on real data",
        description="Evaluate an artifact with the reference protocol; --write records the result.",
    )
    p.add_argument("path", help="artifact folder or Hub id")
    p.add_argument(
        "--baseline", action="store_true", help="also evaluate random real images at the same images per class"
    )
    p.add_argument(
        "--ranking",
        action="store_true",
        help="DD-Ranking's metrics: improvement over random real images trained the same way (IOR) and hard-label "
        "recovery (HLR), as fractions; adds the random-real, the set's hard-label and the full-real runs",
    )
    p.add_argument(
        "--real-epochs",
        type=int,
        default=50,
        help="--ranking: epochs of the run on the whole real train split (default 50; cached on disk)",
    )
    p.add_argument("--write", action="store_true", help="record the results in the artifact's manifest")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--data-root", default=None, help="folder holding the real dataset's files")
    p.add_argument("--download", action="store_true", help="download the real dataset through torchvision if missing")
    _eval_args(p, models=3, epochs=1000)

    p = sub.add_parser(
        "info",
        help="print an artifact's manifest summary",
        description="Print what an artifact holds. For a Hub id only condensed.json is downloaded.",
    )
    p.add_argument("path", help="artifact folder or Hub id")
    p.add_argument("--json", action="store_true", help="print the whole manifest as JSON")
    _hub_args(p)

    p = sub.add_parser(
        "push",
        help="upload an artifact to a Hub dataset repository (one commit)",
        description="Validate an artifact folder, then upload it with its dataset card and preview in one commit. "
        "The server is HF_ENDPOINT (default huggingface.co).",
    )
    p.add_argument("path", help="artifact folder")
    p.add_argument("repo_id", help="Hub dataset repository, org/name (created if missing)")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--message", "-m", default=None, help="commit message")
    p.add_argument("--token", default=None, help="Hub token with write access (default: HF_TOKEN or `hf auth login`)")
    p.add_argument("--revision", default=None, help="branch to commit to (default main)")

    p = sub.add_parser(
        "pull",
        help="download a condensed set from the Hub and verify it",
        description="Download a condensed set into huggingface_hub's cache, verify every checksum, and print its "
        "local folder (first line) and a summary.",
    )
    p.add_argument("repo_id", help="Hub dataset repository, org/name")
    _hub_args(p)
    p.add_argument("--force-download", action="store_true", help="download every file again even if cached")

    p = sub.add_parser(
        "show", help="write a preview grid PNG of an artifact", description="Write a grid PNG, one row per class."
    )
    p.add_argument("path", help="artifact folder or Hub id")
    p.add_argument("--output", "-o", default="preview.png", help="PNG file to write (default preview.png)")
    p.add_argument("--per-class", type=int, default=10, help="images per row (default 10)")
    p.add_argument("--scale", type=int, default=2, help="pixel scale factor (default 2)")

    p = sub.add_parser(
        "export",
        help="write an artifact as webdataset shards, stored tensors, or for other tools (DD-Ranking, image folders, Parquet)",
        description="--to webdataset: tar shards (.npy or .png images, .cls labels, .json metadata per "
        "sample) under data/train-NNNNNN.tar, with a manifest listing every shard's sha256; stream it with "
        "CondensedIterableDataset, or read it with plain webdataset. --to tensors: images.safetensors (a generator "
        "or diffusion set materialized once). --to ddranking: images.pt (class-contiguous, normalized with the "
        "recipe's mean/std), labels.pt (hard labels, or soft-label logits) and lr.pt, read by DD-Ranking with "
        "torch.load. --to imagefolder: one folder of 8-bit PNG files per class. --to parquet: the 8-bit Parquet "
        "view alone (data/train-*.parquet + README.md), for datasets.load_dataset.",
    )
    p.add_argument("path", help="artifact folder or Hub id")
    p.add_argument(
        "--to",
        required=True,
        choices=["webdataset", "tensors", "ddranking", "imagefolder", "parquet"],
        help="target storage (tensors: images.safetensors, e.g. a generator- or diffusion-backed set materialized "
        "once; ddranking, imagefolder, parquet: plain folders for other tools)",
    )
    p.add_argument("--shard-size", type=int, default=None, help="samples per shard (webdataset; required there)")
    p.add_argument(
        "--format",
        default="npy",
        choices=["npy", "png"],
        help="image encoding: npy (float32, exact; default) or png (8-bit, quantized to 1/255 of the pixel range)",
    )
    p.add_argument("--output", "-o", default=None, help="new folder (default PATH-TARGET, e.g. PATH-webdataset)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")

    p = sub.add_parser(
        "import",
        help="turn a distilled set in another project's format into an artifact (never unpickles)",
        description="Read a distilled set published in another format (MTT/DATM tensors, DC/DSA/DM res_*.pt, DataDAM, "
        "IDC, KIP .npz, image folders, Parquet) and write an artifact of kind tensors, stored in pixel space, with "
        "its provenance (format, files, sha256, experiment) in the manifest. .pt files are read with "
        "torch.load(weights_only=True) only: a file that needs unpickling is refused. SOURCE is a file, a folder, "
        "or hf-hub:ORG/NAME::PATH (a file or folder in a Hub dataset repository).",
    )
    p.add_argument("format", choices=IMPORT_FORMATS, help="the format of SOURCE")
    p.add_argument("source", help="file, folder, or hf-hub:ORG/NAME::PATH/IN/REPO")
    p.add_argument(
        "--dataset",
        required=True,
        help="the real dataset it was condensed from: fashion-mnist, digits, imagefolder:PATH (loaded: classes, "
        "statistics, fingerprint), or cifar10, cifar100, mnist (known statistics), or any name",
    )
    p.add_argument("--output", "-o", required=True, help="the new artifact folder")
    p.add_argument(
        "--space",
        default="pixel",
        choices=["pixel", "normalized", "zca"],
        help="how the stored values are to be read: pixel (as is; default), normalized (x*std+mean is applied), "
        "zca (the whitening is inverted with a ZCA fitted on the real train split; --dataset must be loadable)",
    )
    p.add_argument(
        "--mean", type=_floats, default=None, help="per-channel mean of a normalized set, e.g. 0.49,0.48,0.45"
    )
    p.add_argument("--std", type=_floats, default=None, help="per-channel std of a normalized set")
    p.add_argument("--zca-epsilon", type=float, default=0.1, help="epsilon of the ZCA fit (default 0.1, as MTT)")
    p.add_argument("--experiment", type=int, default=-1, help="dc: which experiment (default -1, the last)")
    p.add_argument("--factor", type=int, default=None, help="idc: the multi-formation factor (2 or 3)")
    p.add_argument("--classes", default=None, help="comma-separated class names (default: the dataset's)")
    p.add_argument("--data-root", default=None, help="folder holding the real dataset's files")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    _hub_args(p)

    p = sub.add_parser(
        "prior",
        help="train a generative prior (a class-conditional generator or latent diffusion model) on a real dataset",
        description="Train a small class-conditional generative model on the real data. --kind gan: a GAN saved as "
        "config.json + model.safetensors, for --method dcgm --set prior=FOLDER. --kind ldm: an autoencoder and a "
        "class-conditional denoiser saved in diffusers layout, for --method ld3m --set prior=FOLDER.",
    )
    p.add_argument("--kind", default="gan", choices=["gan", "ldm"], help="gan (default) or ldm")
    p.add_argument("--dataset", default="fashion-mnist", help="real dataset (as for condense)")
    p.add_argument("--output", "-o", default=None, help="folder to write (default out/priors/DATASET-KIND)")
    p.add_argument(
        "--iterations", type=int, default=None, help="generator steps (gan, default 4000) or denoiser steps (ldm, 5000)"
    )
    p.add_argument(
        "--autoencoder-iterations", type=int, default=None, help="ldm: autoencoder steps before the denoiser (1500)"
    )
    p.add_argument("--batch-size", type=int, default=64, help="images per step (default 64)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
    p.add_argument("--data-root", default=None, help="folder holding the real dataset's files")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument(
        "--set",
        dest="options",
        action="append",
        type=_parse_option,
        default=[],
        metavar="KEY=VALUE",
        help="override a prior option (PriorConfig for gan, LDMPriorConfig for ldm), e.g. --set width=128 for a "
        "wider generator (repeatable)",
    )

    sub.add_parser(
        "methods",
        help="list registered methods and objectives with their distribution and version",
        description="List the methods and objectives found through the condensed_data.methods and "
        "condensed_data.objectives entry points (and registered at runtime).",
    )
    return parser
