"""Loading wing: the architectures a Source rebuilds from an artifact's config (no training code here).

* :mod:`.generator`: the class-conditional generator of ``generator`` artifacts (DCGM) and its safetensors I/O.
* :mod:`.diffusion`: latent diffusion models in diffusers layout and LD3M's skip-blended DDIM sampler
  (imports ``diffusers`` only when a model is loaded).
"""
