"""Training wing: making a condensed set.

* :mod:`.method`: the method contract (:class:`Method`, :class:`MethodConfig`).
* :mod:`.representations`: what a method optimizes and how it becomes images (pixels, generator + codes,
  diffusion latents).
* :mod:`.matching`: the one matching loop (random networks, DSA, objective, regularizers) the recipes build on;
  :mod:`.pretrained`: networks trained a few epochs on the real data (trained feature pools, teachers), cached.
* :mod:`.objectives`: how real and synthetic features are compared (DM, ATOM, ECHO) and DCGM's regularizers.
* :mod:`.augment`: differentiable Siamese augmentation (DSA).
* :mod:`.registry`: methods and objectives by name, from entry points (:mod:`.plugin_registry`: one group's
  registry; :mod:`.entry_points`: reading and importing entry points).
* :mod:`.driver`: :func:`condense`, which runs any method and writes the artifact, in named steps;
  :mod:`.config`: what a run is (:class:`CondenseConfig`) and produced; :mod:`.loop`: the optimization loop;
  :mod:`.checkpoint`: checkpoints (atomic writes, resume) and stop signals.
* :mod:`.processes`: several processes through Accelerate (class- or data-sharded).
* :mod:`.priors`: training the generative priors DCGM and LD3M start from.
* :mod:`.soft_labels`: labelling a set's items with a teacher's tempered probabilities (``labels="soft"``).

Exports are resolved on first use, so ``import condensed_data.condense.registry`` stays light.

>>> from condensed_data.condense import CondenseConfig, condense, get_method
"""

from typing import TYPE_CHECKING

from condensed_data._lazy import exports

if TYPE_CHECKING:
    from condensed_data.condense.driver import (
        CondensationError,
        CondensationInterrupted,
        CondenseConfig,
        CondenseResult,
        condense,
    )
    from condensed_data.condense.method import Method, MethodConfig
    from condensed_data.condense.objectives import Objective
    from condensed_data.condense.registry import (
        get_method,
        get_objective,
        list_methods,
        list_objectives,
        lookup,
        method_info,
        register,
        register_objective,
        unregister,
        unregister_objective,
    )

__all__ = [
    "CondensationError",
    "CondensationInterrupted",
    "CondenseConfig",
    "CondenseResult",
    "Method",
    "MethodConfig",
    "Objective",
    "condense",
    "get_method",
    "get_objective",
    "list_methods",
    "list_objectives",
    "lookup",
    "method_info",
    "register",
    "register_objective",
    "unregister",
    "unregister_objective",
]
_EXPORTS = {
    **dict.fromkeys(
        ["CondenseConfig", "CondenseResult", "CondensationError", "CondensationInterrupted", "condense"],
        "condensed_data.condense.driver",
    ),
    **dict.fromkeys(["Method", "MethodConfig"], "condensed_data.condense.method"),
    "Objective": "condensed_data.condense.objectives",
    **dict.fromkeys(
        [
            "get_method",
            "get_objective",
            "list_methods",
            "list_objectives",
            "lookup",
            "method_info",
            "register",
            "register_objective",
            "unregister",
            "unregister_objective",
        ],
        "condensed_data.condense.registry",
    ),
}
__getattr__, __dir__ = exports(__name__, _EXPORTS)
