"""How designs are ranked; the public page /about/scoring explains the same formulas.

A raw mean lets one enthusiastic 5.0 beat a hundred votes averaging 4.6. Two corrections:

- the **Bayesian average** starts every design with ``weight`` imaginary votes at the prior
  (the mean of every vote cast on every design), so few votes pull little;
- the **Wilson lower bound** of the share of voters who would buy is the least that share
  probably is (95 % confidence), so 2 of 2 does not beat 80 of 100.

The rank combines them on a 0-1 scale: ``(1 - w) * bayes / 5 + w * wilson``.
"""

from __future__ import annotations

import math

#: z for a 95 % two-sided confidence interval.
Z_95 = 1.959963984540054
#: The prior before anyone has voted anywhere: the middle of the 0-5 scale.
NEUTRAL_PRIOR = 2.5


def bayesian_average(score_sum: int, count: int, prior_mean: float, weight: int) -> float:
    return (weight * prior_mean + score_sum) / (weight + count) if weight + count else prior_mean


def wilson_lower_bound(positive: int, count: int, z: float = Z_95) -> float:
    if count == 0:
        return 0.0
    p = positive / count
    z2 = z * z
    centre = p + z2 / (2 * count)
    margin = z * math.sqrt((p * (1 - p) + z2 / (4 * count)) / count)
    return max(0.0, (centre - margin) / (1 + z2 / count))


def rank_score(bayes: float, buy_lower_bound: float, buy_weight: float) -> float:
    return (1 - buy_weight) * (bayes / 5) + buy_weight * buy_lower_bound
