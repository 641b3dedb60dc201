"""Collective algorithms NCCL offers for an all-reduce (ring by default)."""

from envelope_xl.checks import Names

ALGORITHMS: Names[str] = Names(
    "collective algorithm", {"ring": "ring", "tree": "tree"}, {"tree": ["double-binary-tree", "binary-tree"]}
)
