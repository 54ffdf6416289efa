"""The built-in condensation methods of condensed-data, one module per paper.

They are registered through entry points (group ``condensed_data.methods``) in condensed-data's own
``pyproject.toml``, exactly as a third-party plugin registers its methods. Plugins import the core, never each
other.
"""
