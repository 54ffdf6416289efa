"""Loading wing: formats other than our own artifact.

* :mod:`.webdataset`: the webdataset shard format (writing, the shard index, safe reading).
* :mod:`.export`: ``condensed-data export``: any artifact to webdataset shards or to plain tensors.
* :mod:`.importers`: ``condensed-data import``: a set in another project's format to an artifact, value space made
  explicit, provenance recorded; :mod:`.readers` holds one reader per format, :mod:`.safe_torch` the one restricted
  ``torch.load`` (``weights_only=True``).
"""
