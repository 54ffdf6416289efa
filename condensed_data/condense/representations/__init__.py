"""Training wing: representations, what a method optimizes and how it becomes images (see :mod:`.base`).

* :class:`Pixels`: artifact kind ``tensors``, sharded by classes; DM, ATOM, ECHO.
* :class:`GeneratorCodes`: kind ``generator``, data-parallel (a shared generator); DCGM.
* :class:`DiffusionLatents`: kind ``latent-diffusion``, sharded by classes; LD3M.
"""

from condensed_data.condense.representations.base import Representation
from condensed_data.condense.representations.generator import GeneratorCodes
from condensed_data.condense.representations.latent_diffusion import DiffusionLatents, two_stage
from condensed_data.condense.representations.pixels import Pixels

__all__ = ["Representation", "Pixels", "GeneratorCodes", "DiffusionLatents", "two_stage"]
