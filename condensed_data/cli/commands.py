"""The ``condensed-data`` command line: condense, evaluate, info, show, push, pull, export, methods.

Heavy imports (torch, the training side) happen inside the commands, so ``--help`` is quick.

>>> build_parser().parse_args(["condense", "--dataset", "digits", "--ipc", "1"]).ipc
1
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from typing import Any

__all__ = ["main", "build_parser"]

logger = logging.getLogger("condensed_data")


def _parse_option(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE (e.g. lr_img=0.5), got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def _options(pairs: list[tuple[str, Any]], *, objective: str | None = None) -> dict[str, Any]:
    """Method options from ``--set`` pairs; a dotted key ``a.b=v`` sets ``options["a"]["b"]``."""
    options: dict[str, Any] = {}
    if objective is not None:
        options["objective"] = objective
    for key, value in pairs:
        *parents, leaf = key.split(".")
        target = options
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ValueError(f"--set {key}=...: {part!r} is not a group of options")
        target[leaf] = value
    return options


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
        help="real dataset: fashion-mnist, digits, or imagefolder:PATH (PATH/train/<class>/*, PATH/test/...)",
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
        "--precision", default="fp32", choices=["auto", "fp32", "bf16"], help="autocast while condensing (default fp32)"
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    p.add_argument("--data-root", default=None, help="folder holding the real dataset's files")
    p.add_argument("--download", action="store_true", help="download the real dataset through torchvision if missing")
    p.add_argument("--no-eval", action="store_true", help="skip the final evaluation")
    p.add_argument("--no-baseline", action="store_true", help="skip the random-real baseline")
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
        help="write an artifact as webdataset shards (a new artifact of kind webdataset)",
        description="Write a condensed set as tar shards (.npy or .png images, .cls labels, .json metadata per "
        "sample) under data/train-NNNNNN.tar, with a manifest listing every shard's sha256. Stream it with "
        "CondensedIterableDataset, or read it with plain webdataset.",
    )
    p.add_argument("path", help="artifact folder or Hub id")
    p.add_argument(
        "--to",
        required=True,
        choices=["webdataset", "tensors"],
        help="target storage (tensors: images.safetensors, e.g. a generator- or diffusion-backed set materialized once)",
    )
    p.add_argument("--shard-size", type=int, default=None, help="samples per shard (webdataset; required there)")
    p.add_argument(
        "--format",
        default="npy",
        choices=["npy", "png"],
        help="image encoding: npy (float32, exact; default) or png (8-bit, quantized to 1/255 of the pixel range)",
    )
    p.add_argument("--output", "-o", default=None, help="new artifact folder (default PATH-webdataset)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")

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

    sub.add_parser(
        "methods",
        help="list registered methods and objectives with their distribution and version",
        description="List the methods and objectives found through the condensed_data.methods and "
        "condensed_data.objectives entry points (and registered at runtime).",
    )
    return parser


def _slug(dataset: str) -> str:
    """A folder-name-safe form of a dataset name (``imagefolder:/data/pets`` -> ``pets``)."""
    name = dataset.rstrip("/").rsplit("/", 1)[-1].split(":")[-1] or "dataset"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name)


def _eval_config(args: argparse.Namespace):
    from condensed_data.evaluate.protocol import EvalConfig

    return EvalConfig(
        epochs=args.eval_epochs,
        models=args.eval_models,
        precision=args.eval_precision,
        arch=args.eval_arch.split(",")[0],
    )


def _archs(args: argparse.Namespace) -> list[str]:
    return [a.strip() for a in args.eval_arch.split(",") if a.strip()]


def _print_evaluations(evaluations, label: str) -> None:
    for e in evaluations:
        name = label if e.subject == "condensed" else "random real"
        print(
            f"  {name:<22} {e.arch:<10} {100 * e.accuracy_mean:6.2f} ± {100 * e.accuracy_std:4.2f} %  ({e.models} models)"
        )


def _cmd_condense(args: argparse.Namespace) -> int:
    from condensed_data.condense.driver import CondenseConfig, condense

    if args.eval_models < 1 and not args.no_eval:
        raise ValueError("--eval-models must be >= 1 (use --no-eval to skip evaluation)")
    recipe = args.method if args.objective is None else f"{args.method}-{args.objective}"
    output = args.output or f"out/{_slug(args.dataset)}-{recipe}-ipc{args.ipc}"
    config = CondenseConfig(
        method=args.method,
        dataset=args.dataset,
        ipc=args.ipc,
        iterations=args.iterations,
        seed=args.seed,
        options=_options(args.options, objective=args.objective),
        precision=args.precision,
        checkpoint_every=args.checkpoint_every,
        eval_every=args.eval_every,
        eval=_eval_config(args),
        eval_archs=tuple(_archs(args)),
        evaluate=not args.no_eval,
        baseline=not args.no_baseline,
        device=args.device,
    )
    result = condense(
        config, output, overwrite=args.overwrite, resume=args.resume, data_root=args.data_root, download=args.download
    )
    if not result.main_process:
        return 0  # the main process of a multi-process run reports
    m = result.manifest
    print(f"wrote {result.folder} ({m.images_per_class * m.num_classes} images, {m.method.name}, {m.source.name})")
    if result.evaluations:
        e = result.evaluations[0]
        print(
            f"test accuracy on {e.test_set} ({e.protocol.get('epochs')} epochs, precision {e.protocol.get('precision')}):"
        )
        _print_evaluations(result.evaluations + result.baseline, f"condensed ({m.method.name})")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import dataclasses

    from condensed_data.artifact.folder import write_manifest
    from condensed_data.data import load_dataset
    from condensed_data.dataset.condensed import CondensedDataset
    from condensed_data.evaluate.protocol import evaluate, evaluate_random_real
    from condensed_data.hub.client import is_hub_cache

    ds = CondensedDataset.from_pretrained(args.path)
    if args.write and is_hub_cache(ds.folder):
        raise ValueError(
            f"--write would edit {ds.folder}, a huggingface_hub cache snapshot (shared, read-only copies of a Hub "
            f"revision): copy it to a folder of your own first (`cp -rL {ds.folder} my-set`), then "
            "`condensed-data evaluate my-set --write` (and `condensed-data push my-set ORG/NAME` to publish)"
        )
    m = ds.manifest
    config = _eval_config(args)
    test = load_dataset(m.source.name, "test", root=args.data_root, download=args.download)
    images, labels = ds.tensors()
    results = evaluate(
        images, labels, test, config=config, archs=_archs(args), seed=args.seed, device=args.device, progress=True,
        normalization=m.recipe,
    )  # fmt: skip
    if args.baseline:
        train = load_dataset(m.source.name, m.source.split, root=args.data_root, download=args.download)
        results += evaluate_random_real(
            train,
            test,
            ipc=m.images_per_class,
            config=config,
            archs=_archs(args),
            seed=args.seed,
            device=args.device,
            progress=True,
            normalization=m.recipe,
        )
    print(f"test accuracy on {results[0].test_set} ({config.epochs} epochs):")
    _print_evaluations(results, f"condensed ({m.method.name})")
    if args.write:
        kept = [e for e in m.evaluation if not any(e.arch == r.arch and e.subject == r.subject for r in results)]
        write_manifest(ds.folder, dataclasses.replace(m, evaluation=tuple(kept + results)))
        print(f"recorded in {ds.folder / 'condensed.json'}")
    return 0


def _print_summary(m) -> None:
    print(f"kind:             {m.kind} (format {m.format_version}, condensed-data {m.library_version})")
    print(f"method:           {m.method.name} {m.method.distribution} {m.method.version}".rstrip())
    print(
        f"source:           {m.source.name}/{m.source.split}, {m.source.num_samples} images, {m.source.fingerprint[:19]}..."
    )
    print(f"classes:          {m.num_classes} ({', '.join(m.classes)})")
    print(f"images per class: {m.images_per_class}; image shape {list(m.image_shape)}; {m.label_kind} labels")
    print(
        f"recipe:           normalize mean={list(m.recipe.mean)} std={list(m.recipe.std)}, {m.recipe.augmentation}, "
        f"{m.recipe.arch}, {m.recipe.epochs} epochs, lr {m.recipe.lr}"
    )
    for e in m.evaluation:
        print(
            f"evaluation:       {e.subject:<11} {e.arch:<10} {100 * e.accuracy_mean:.2f} ± {100 * e.accuracy_std:.2f} % ({e.models} models)"
        )
    print(f"files:            {', '.join(f'{k} ({v.size} B)' for k, v in m.files.items())}")


def _cmd_info(args: argparse.Namespace) -> int:
    from condensed_data.hub.client import fetch_manifest

    m = fetch_manifest(args.path, revision=args.revision, cache_dir=args.cache_dir, token=args.token)
    if args.json:
        print(m.to_json(), end="")
        return 0
    _print_summary(m)
    return 0


def _cmd_push(args: argparse.Namespace) -> int:
    from condensed_data.hub.client import push_to_hub

    result = push_to_hub(
        args.path,
        args.repo_id,
        private=True if args.private else None,
        commit_message=args.message,
        token=args.token,
        revision=args.revision,
    )
    print(f"pushed {args.path} to {result.repo_id} ({result.revision}): {result.commit_url}")
    return 0


def _cmd_pull(args: argparse.Namespace) -> int:
    from condensed_data.dataset.condensed import CondensedDataset
    from condensed_data.hub.client import download

    folder = download(
        args.repo_id,
        revision=args.revision,
        cache_dir=args.cache_dir,
        token=args.token,
        force_download=args.force_download,
    )
    ds = CondensedDataset(folder)  # verifies every checksum and opens the data
    print(folder)
    _print_summary(ds.manifest)
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from condensed_data.artifact.card import save_preview
    from condensed_data.dataset.condensed import CondensedDataset

    ds = CondensedDataset.from_pretrained(args.path)
    images, labels = ds.tensors()
    save_preview(args.output, images, labels, ds.classes, per_class=args.per_class, scale=args.scale)
    print(f"wrote {args.output}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from condensed_data.hub.client import is_hub_id
    from condensed_data.interop.export import export_tensors, export_webdataset

    local = not args.path.startswith("hf-hub:") and (Path(args.path).exists() or not is_hub_id(args.path))
    name = args.path.removeprefix("local-dir:").removeprefix("hf-hub:").rstrip("/")
    default = f"{name}-{args.to}" if local else f"out/{name.rsplit('/', 1)[-1]}-{args.to}"
    output = args.output or default
    if args.to == "tensors":
        m = export_tensors(args.path, output, overwrite=args.overwrite)
        print(f"wrote {output} ({m.num_classes * m.images_per_class} images, kind tensors)")
        return 0
    if args.shard_size is None:
        raise ValueError("--to webdataset needs --shard-size N (samples per shard)")
    m = export_webdataset(
        args.path, output, shard_size=args.shard_size, image_format=args.format, overwrite=args.overwrite
    )
    shards = sorted(f for f in m.files if f.endswith(".tar"))
    print(f"wrote {output} ({len(shards)} shards of up to {args.shard_size} samples, {args.format} images)")
    return 0


def _cmd_prior(args: argparse.Namespace) -> int:
    from condensed_data.condense.priors import LDMPriorConfig, PriorConfig, train_gan_prior, train_ldm_prior
    from condensed_data.data import load_dataset

    options = {"batch_size": args.batch_size}
    if args.kind == "gan":
        if args.autoencoder_iterations is not None:
            raise ValueError("--autoencoder-iterations applies to --kind ldm only")
        if args.iterations is not None:
            options["iterations"] = args.iterations
        train, config, method = train_gan_prior, PriorConfig(**options), "dcgm"
    else:
        if args.iterations is not None:
            options["denoiser_iterations"] = args.iterations
        if args.autoencoder_iterations is not None:
            options["autoencoder_iterations"] = args.autoencoder_iterations
        train, config, method = train_ldm_prior, LDMPriorConfig(**options), "ld3m"
    output = args.output or f"out/priors/{_slug(args.dataset)}-{args.kind}"
    real = load_dataset(args.dataset, "train", root=args.data_root)
    folder = train(real, output, config=config, seed=args.seed, device=args.device, overwrite=args.overwrite)
    print(f"wrote {folder}; condense from it with: condensed-data condense --method {method} --set prior={folder}")
    return 0


def _cmd_methods(args: argparse.Namespace) -> int:
    from condensed_data.condense.registry import method_info, objective_info

    sections = [("methods (--method NAME)", method_info(load=True))]
    sections.append(("objectives (--objective NAME)", objective_info(load=True)))
    width = max((len(i.name) for _, infos in sections for i in infos), default=0)
    for n, (title, infos) in enumerate(sections):
        if n:
            print()
        print(f"{title}:")
        if not infos:
            print("  none registered")
        for i in infos:
            status = f"  ERROR: {i.error}" if i.error else ""
            print(f"{i.name:<{width}}  {i.distribution} {i.version}{'  (built-in)' if i.builtin else ''}{status}")
    return 0


_COMMANDS = {
    "condense": _cmd_condense,
    "evaluate": _cmd_evaluate,
    "info": _cmd_info,
    "show": _cmd_show,
    "push": _cmd_push,
    "pull": _cmd_pull,
    "export": _cmd_export,
    "prior": _cmd_prior,
    "methods": _cmd_methods,
}


def _process_rank() -> int:
    """This process's rank when started by torchrun / accelerate launch (0 otherwise)."""
    return int(os.environ.get("RANK", "0") or 0)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 success, 2 bad input or a failed run, 128+N stopped by signal N)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    rank = _process_rank()
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(
        level=level if rank == 0 else logging.ERROR,  # one process speaks for a multi-process run
        format="%(levelname)s %(name)s: %(message)s"
        if rank == 0
        else f"[process {rank}] %(levelname)s %(name)s: %(message)s",
    )
    if args.version:
        from condensed_data._version import __version__

        print(f"condensed-data {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    from condensed_data.runtime import tune_cpu_allocator

    tune_cpu_allocator()
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, FileExistsError, FileNotFoundError, ImportError, RuntimeError, OSError) as exc:
        stopped = getattr(exc, "signum", None)  # CondensationInterrupted: a checkpoint was written
        if stopped is not None:
            if rank == 0:
                print(f"condensed-data {args.command}: {exc}", file=sys.stderr)
            return 128 + int(stopped)
        if args.verbose:
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        # Errors every process meets alike (a refused checkpoint, NaN) are reported once; others by every process.
        if rank == 0 or not _shared_error(exc):
            prefix = "" if rank == 0 else f"[process {rank}] "
            print(f"{prefix}condensed-data {args.command}: error: {message}", file=sys.stderr)
        return 2


def _shared_error(exc: BaseException) -> bool:
    condense = sys.modules.get("condensed_data.condense.driver")
    if isinstance(exc, FileExistsError):
        return True
    return condense is not None and isinstance(exc, condense.CondensationError)
