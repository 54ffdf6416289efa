"""Loading wing: formats other than our own artifact.

* :mod:`.webdataset`: the webdataset shard format (writing, the shard index, safe reading).
* :mod:`.export`: ``condensed-data export``: any artifact to webdataset shards or to plain tensors.
"""
