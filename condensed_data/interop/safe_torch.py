"""Loading wing: the one place that reads a ``torch.save`` file, and it never runs code from it.

:func:`load_tensors_only` calls ``torch.load(..., weights_only=True)``: PyTorch's restricted unpickler, which builds
only tensors, plain containers (dict, list, tuple, OrderedDict), numbers and strings. The only other types allowed
are numpy scalars and dtypes (:data:`NUMPY_GLOBALS`), because the DC/DSA/DM reference code stores its accuracies as
``numpy.float64``; they are data, not code. Anything else (a custom class, a function, a module) is refused with
:class:`UnsafeFileError`, whose message names the file, the global that was found and how to convert the file.
No flag turns full unpickling on. ``tests/test_never_unpickles.py`` checks that this is the only ``torch.load`` in the
loading wing and that it passes ``weights_only=True``.

>>> load_tensors_only("images_best.pt")  # doctest: +SKIP
tensor([...])
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["UnsafeFileError", "NUMPY_GLOBALS", "load_tensors_only"]


class UnsafeFileError(ValueError):
    """A file that cannot be read without running code from it (or is not a ``torch.save`` file at all)."""


def _numpy_globals() -> list[Any]:
    """numpy's scalar reconstructor and dtype classes, under the names numpy 1 and numpy 2 pickle them with."""
    scalar = np._core.multiarray.scalar if hasattr(np, "_core") else np.core.multiarray.scalar
    found: list[Any] = [scalar, (scalar, "numpy.core.multiarray.scalar"), np.dtype]
    for name in ("Float64DType", "Float32DType", "Float16DType", "Int64DType", "Int32DType", "BoolDType"):
        cls = getattr(getattr(np, "dtypes", None), name, None)
        if cls is not None:
            found.append(cls)
    return found


# The explicit list of non-torch globals a file may name: numpy scalars and dtypes (no code runs to build them).
NUMPY_GLOBALS = tuple(_numpy_globals())

_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


def load_tensors_only(path: str | os.PathLike) -> Any:
    """Read a ``torch.save`` file with the restricted unpickler (tensors, containers, numbers, numpy scalars).

    Args:
        path: The ``.pt`` / ``.pth`` file.

    Raises:
        UnsafeFileError: The file names a class or function outside the allowed list, or is not a readable
            ``torch.save`` file; the message names the file, what was found and how to convert it.
        FileNotFoundError: No such file.

    >>> content = load_tensors_only("res_DM_CIFAR10_ConvNet_10ipc.pt")  # doctest: +SKIP
    >>> sorted(content)  # doctest: +SKIP
    ['accs_all_exps', 'data']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        with torch.serialization.safe_globals(list(NUMPY_GLOBALS)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - the restricted unpickler's refusal, or a file it cannot parse
        if "weights only" not in str(exc).lower() and type(exc).__name__ != "UnpicklingError":
            raise UnsafeFileError(
                f"{path}: not a readable torch.save file ({_first_line(exc)}); it may be truncated or in another "
                "format: download it again, or check the FORMAT argument"
            ) from None
        found = _GLOBAL.search(str(exc))
        what = f"the class or function {found.group(1)}" if found else f"something else ({_first_line(exc)})"
        raise UnsafeFileError(
            f"{path}: refused, it needs unpickling {what}, and loading it would run code from the file. "
            "condensed-data reads only tensors, lists, dicts, numbers and numpy scalars (torch.load with "
            "weights_only=True), and no option turns full unpickling on. To convert it, in a Python session you "
            "trust, load it with the code that wrote it and save the plain tensors, torch.save(images, "
            "'FOLDER/images_best.pt') and torch.save(labels, 'FOLDER/labels_best.pt'), then run "
            "`condensed-data import mtt FOLDER ...`"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
