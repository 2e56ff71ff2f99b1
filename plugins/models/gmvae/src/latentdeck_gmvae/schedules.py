"""Per-epoch weights of the optional GM-VAE controls (pure functions of the options and the epoch).

Epochs count from 1; W is the window length in epochs.

- categorical KL weight (``categorical_kl_anneal``): ``max * (e - 1) / (W - 1)`` for ``e <= W``
  (0 in epoch 1, ``max`` in epoch W), ``max`` after; ``W = 1`` gives ``max`` from epoch 1.
  Disabled: 1 (the specification's plain loss).
- entropy bonus weight (``entropy_bonus_enable``): ``w * (1 - (e - 1) / (W - 1))`` for ``e <= W``
  (``w`` in epoch 1, 0 in epoch W), 0 after; ``W = 1`` gives ``w`` in epoch 1 only. Disabled: 0.
"""

from __future__ import annotations


def categorical_kl_weight(options, schedule) -> float:
    if not options.categorical_kl_anneal:
        return 1.0
    window, top = options.categorical_kl_anneal_epochs, options.categorical_kl_max_weight
    if window == 1 or schedule.epoch >= window:
        return float(top)
    return top * (schedule.epoch - 1) / (window - 1)


def entropy_bonus_weight(options, schedule) -> float:
    if not options.entropy_bonus_enable:
        return 0.0
    window, start = options.entropy_bonus_epochs, options.entropy_bonus_weight
    if schedule.epoch > window:
        return 0.0
    if window == 1:
        return float(start)
    return start * (1 - (schedule.epoch - 1) / (window - 1))
