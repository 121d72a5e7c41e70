"""One adapter per array library: each answers, for its arrays, what a display and ``%np`` ask.

``torch`` is the engine: it answers for torch tensors, and every other adapter shows its arrays as torch
tensors over the same memory (DLPack) or as the local shard (DTensor), with facts of its own.
"""
