"""CLI (over both wings): one thin function per ``condensed-data`` command, and :func:`main`, which dispatches.

The commands: condense, evaluate, info, show, push, pull, export, import, prior, methods (the parser is
:mod:`condensed_data.cli.parser`). Heavy imports (torch, the training side, the Hub) happen inside the commands, so
``--help`` is quick. A path argument is a folder or a Hub id by :func:`condensed_data.hub.locate`'s rule
(``local-dir:PATH`` / ``hf-hub:ORG/NAME`` force either).

>>> main(["methods"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re
import sys
from typing import TYPE_CHECKING, Any

from condensed_data.cli.parser import build_parser

if TYPE_CHECKING:
    from condensed_data.hub import HubOptions

__all__ = ["main"]


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


def _hub_options(args: argparse.Namespace) -> HubOptions:
    """The Hub settings a command was given (``--revision``, ``--cache-dir``, ``--token``, ``--force-download``)."""
    from condensed_data.hub import HubOptions

    return HubOptions(
        revision=getattr(args, "revision", None),
        cache_dir=getattr(args, "cache_dir", None),
        token=getattr(args, "token", None),
        force_download=getattr(args, "force_download", False),
    )


def _slug(dataset: str) -> str:
    """A folder-name-safe form of a dataset name (``folder:/data/pets?size=64`` -> ``pets``)."""
    name = dataset.split("?")[0].rstrip("/").rsplit("/", 1)[-1].split(":")[-1] or "dataset"
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
        name = {"condensed": label, "random-real": "random real", "full-real": "full real train"}[e.subject]
        print(
            f"  {name:<22} {e.arch:<10} {100 * e.accuracy_mean:6.2f} ± {100 * e.accuracy_std:4.2f} %  "
            f"({e.models} models, {e.labels} labels)"
        )


def _soft_options(args: argparse.Namespace) -> dict[str, Any]:
    """``CondenseConfig`` options of ``--labels soft``; an error when a teacher option comes without it."""
    given = {
        "temperature": args.temperature,
        "teacher_arch": args.teacher_arch,
        "teacher_epochs": args.teacher_epochs,
    }
    given = {k: v for k, v in given.items() if v is not None}
    if given and args.labels != "soft":
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ValueError(f"{flags} describe(s) the teacher of soft labels: add --labels soft, or drop them")
    return {"labels": args.labels, **given}


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
        validation=args.validation,
        **_soft_options(args),
    )
    result = condense(
        config, output, overwrite=args.overwrite, resume=args.resume, data_root=args.data_root, download=args.download
    )
    if not result.main_process:
        return 0  # the main process of a multi-process run reports
    m = result.manifest
    tiles = f" decoding into {m.items_per_class * m.num_classes} (factor {m.factor})" if m.decode else ""
    print(
        f"wrote {result.folder} ({m.images_per_class * m.num_classes} images{tiles}, {m.method.name}, "
        f"{m.source.name}, {m.label_kind} labels)"
    )
    if result.evaluations:
        e = result.evaluations[0]
        scored = "validation" if config.validation else "test"
        print(
            f"{scored} accuracy on {e.test_set} ({e.protocol.get('epochs')} epochs, precision "
            f"{e.protocol.get('precision')}):"
        )
        _print_evaluations(result.evaluations + result.baseline, f"condensed ({m.method.name})")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import dataclasses

    from condensed_data.artifact.folder import write_manifest
    from condensed_data.data import load_dataset
    from condensed_data.dataset.condensed import CondensedDataset
    from condensed_data.evaluate import protocol, ranking
    from condensed_data.hub import is_hub_cache

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
    images, stored = ds.tensors()
    labels = ranking.recipe_labels(stored, m.recipe, m.num_classes)  # the recipe says hard or soft targets
    common = {"config": config, "seed": args.seed, "device": args.device, "progress": True, "normalization": m.recipe}
    results = protocol.evaluate(images, labels, test, archs=_archs(args), **common)
    if args.baseline or args.ranking:
        train = load_dataset(m.source.name, m.source.split, root=args.data_root, download=args.download)
        labeller = _set_labeller(m, train, args) if labels.dim() == 2 else None
        results += protocol.evaluate_random_real(
            train, test, ipc=m.images_per_class, archs=_archs(args), labeller=labeller, **common
        )
    print(f"test accuracy on {results[0].test_set} ({config.epochs} epochs):")
    if args.ranking:
        for arch in _archs(args):
            r = ranking.rank(
                images, labels, train, test, ipc=m.images_per_class, real_epochs=args.real_epochs, labeller=labeller,
                known=results, **{**common, "config": dataclasses.replace(config, arch=arch)},
            )  # fmt: skip
            results += [e for e in r.evaluations() if all(e is not k for k in results)]
            print(f"  DD-Ranking on {arch} ({r.labels} labels): IOR {r.ior:+.4f}, HLR {r.hlr:+.4f} (fractions)")
    _print_evaluations(results, f"condensed ({m.method.name})")
    if args.write:
        replaced = {(r.arch, r.subject, r.labels) for r in results}
        kept = [e for e in m.evaluation if (e.arch, e.subject, e.labels) not in replaced]
        write_manifest(ds.folder, dataclasses.replace(m, evaluation=tuple(kept + results)))
        print(f"recorded in {ds.folder / 'condensed.json'}")
    return 0


def _set_labeller(m, train, args: argparse.Namespace):
    """Labels random real images as the soft-label set ``m`` was labelled: by its recorded teacher (None: the set
    records none, and the baseline keeps hard labels, recorded as such)."""
    from condensed_data.condense import soft_labels

    if m.teacher is None:
        if args.ranking:
            raise ValueError(
                "the set's soft labels record no teacher (imported, or learned with the set), so random real images "
                "cannot be labelled the same way, as IOR requires; evaluate it without --ranking"
            )
        logging.getLogger(__name__).warning("no teacher recorded: the random-real baseline trains on hard labels")
        return None
    device = args.device
    net = soft_labels.teacher_network(train, m.teacher, device=device)
    options = {"temperature": m.teacher.temperature, "mean": m.recipe.mean, "std": m.recipe.std, "device": device}
    return lambda images: soft_labels.soft_labels(net, images, **options)


def _print_summary(m) -> None:
    print(f"kind:             {m.kind} (format {m.format_version}, condensed-data {m.library_version})")
    print(f"method:           {m.method.name} {m.method.distribution} {m.method.version}".rstrip())
    print(
        f"source:           {m.source.name}/{m.source.split}, {m.source.num_samples} images, {m.source.fingerprint[:19]}..."
    )
    print(f"classes:          {m.num_classes} ({', '.join(m.classes)})")
    print(f"images per class: {m.images_per_class}; image shape {list(m.image_shape)}; {m.label_kind} labels")
    if m.decode:
        print(f"multi-formation:  factor {m.factor} ({m.decode.resize}): {m.items_per_class} items per class")
    print(
        f"recipe:           normalize mean={list(m.recipe.mean)} std={list(m.recipe.std)}, {m.recipe.augmentation}, "
        f"{m.recipe.arch}, {m.recipe.epochs} epochs, lr {m.recipe.lr}, {m.recipe.targets} targets"
    )
    if m.provenance is not None:
        p = m.provenance
        experiment = "" if p.experiment is None else f", experiment {p.experiment}"
        print(f"imported:         {p.format} from {p.source} ({p.value_space} space{experiment})")
    if m.teacher is not None:
        t = m.teacher
        print(f"teacher:          {t.arch}, {t.epochs} epochs, seed {t.seed}, temperature {t.temperature:g}")
    for e in m.evaluation:
        print(
            f"evaluation:       {e.subject:<11} {e.labels:<4} {e.arch:<10} {100 * e.accuracy_mean:.2f} ± "
            f"{100 * e.accuracy_std:.2f} % ({e.models} models)"
        )
    print(f"files:            {', '.join(f'{k} ({v.size} B)' for k, v in m.files.items())}")


def _cmd_info(args: argparse.Namespace) -> int:
    from condensed_data.hub import fetch_manifest

    m = fetch_manifest(args.path, _hub_options(args))
    if args.json:
        print(m.to_json(), end="")
        return 0
    _print_summary(m)
    return 0


def _cmd_push(args: argparse.Namespace) -> int:
    from condensed_data.hub import push_to_hub

    private = True if args.private else None
    result = push_to_hub(args.path, args.repo_id, _hub_options(args), private=private, commit_message=args.message)
    print(f"pushed {args.path} to {result.repo_id} ({result.revision}): {result.commit_url}")
    return 0


def _cmd_pull(args: argparse.Namespace) -> int:
    from condensed_data.dataset.condensed import CondensedDataset
    from condensed_data.hub import download

    folder = download(args.repo_id, _hub_options(args))
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
    from condensed_data.hub import locate
    from condensed_data.interop.export import export_tensors, export_webdataset

    where = locate(args.path)
    name = where.name.rstrip("/")
    # beside a local set; under out/ for a Hub set
    default = f"out/{name.rsplit('/', 1)[-1]}-{args.to}" if where.is_hub else f"{name}-{args.to}"
    output = args.output or default
    if args.to == "tensors":
        m = export_tensors(args.path, output, overwrite=args.overwrite)
        print(f"wrote {output} ({m.num_classes * m.images_per_class} images, kind tensors)")
        return 0
    if args.to in ("ddranking", "imagefolder", "parquet"):
        from condensed_data.interop import export as exports

        write = {
            "ddranking": exports.export_ddranking,
            "imagefolder": exports.export_imagefolder,
            "parquet": exports.export_parquet,
        }[args.to]
        write(args.path, output, overwrite=args.overwrite)
        what = {
            "ddranking": "images.pt, labels.pt, lr.pt for DD-Ranking (torch.load)",
            "imagefolder": "8-bit PNG files, one folder per class",
            "parquet": "the 8-bit Parquet view, for datasets.load_dataset",
        }[args.to]
        print(f"wrote {output} ({what})")
        return 0
    if args.shard_size is None:
        raise ValueError("--to webdataset needs --shard-size N (samples per shard)")
    m = export_webdataset(
        args.path, output, shard_size=args.shard_size, image_format=args.format, overwrite=args.overwrite
    )
    shards = sorted(f for f in m.files if f.endswith(".tar"))
    print(f"wrote {output} ({len(shards)} shards of up to {args.shard_size} samples, {args.format} images)")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from condensed_data.data import list_datasets, load_dataset, require_in_memory
    from condensed_data.data.catalog import IMAGEFOLDER_PREFIX
    from condensed_data.interop.importers import DatasetInfo, fit_zca, import_set

    dataset, zca, real = args.dataset, None, None
    if args.dataset in list_datasets() or args.dataset.startswith(IMAGEFOLDER_PREFIX):
        # a dataset this library loads: its classes, size, fingerprint and statistics describe the import; one known
        # by name but not on this machine is described by its published statistics, unless ZCA needs its images
        try:
            real = load_dataset(args.dataset, "train", root=args.data_root)
        except FileNotFoundError:
            if args.space == "zca" or args.dataset.startswith(IMAGEFOLDER_PREFIX):
                raise
    if real is not None:
        dataset = DatasetInfo(real.name, tuple(real.classes), len(real), real.fingerprint(), real.mean, real.std)
        if args.space == "zca":
            whole = require_in_memory(real, "--space zca", "--space pixels, or a dataset loaded in memory")
            zca = fit_zca(whole.images, epsilon=args.zca_epsilon, fitted_on=f"{real.name}/train")
    elif args.space == "zca":
        raise ValueError(
            f"--space zca inverts a ZCA fitted on the real train split, and {args.dataset!r} is not a dataset this "
            f"library loads ({', '.join(list_datasets())}, imagefolder:PATH)"
        )
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    m = import_set(
        args.format,
        args.source,
        dataset=dataset,
        output=args.output,
        space=args.space,
        mean=args.mean,
        std=args.std,
        experiment=args.experiment,
        factor=args.factor,
        classes=classes,
        zca=zca,
        hub=_hub_options(args),
        overwrite=args.overwrite,
    )
    print(
        f"wrote {args.output} ({m.num_classes} classes, {m.label_kind} labels, from {args.format} in {args.space} "
        f"space; provenance in condensed.json)"
    )
    for model, accs in m.provenance.reported.items():
        print(f"  the original code recorded for {model}: {', '.join(f'{a:.4g}' for a in accs)}")
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
    if args.options:
        known = {f.name for f in dataclasses.fields(config)}
        unknown = sorted({key for key, _ in args.options} - known)
        if unknown:
            raise ValueError(
                f"unknown prior option(s) {unknown} for --kind {args.kind}; known: {', '.join(sorted(known))}"
            )
        config = dataclasses.replace(config, **dict(args.options))
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
    width = max(len(i.name) for i in infos)
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
    "import": _cmd_import,
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
