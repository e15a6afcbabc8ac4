"""Small-cell suppression: which cells of an additive group of counts to hide, primary and complementary.

Shared by the API's privacy layer (``api.privacy``) and the follow-up's results (``evaluation.followup``).
"""

from __future__ import annotations

from typing import Iterable


def small(n: int | None, threshold: int) -> bool:
    return n is not None and 0 < n < threshold


def suppress_group(counts: dict[str, int], threshold: int, hidden: Iterable[str] = (), remainder: int = 0) -> set[str]:
    """Keys of an additive group of counts (its total shown) to hide: the small ones (and ``hidden``, hidden for
    another reason), then the smallest others until no hidden one can be worked out (``protected``).
    ``remainder``: people in the total that no cell counts (never shown: an unknown like a hidden cell)."""
    out = set(hidden) | {k for k, n in counts.items() if small(n, threshold)}
    while not protected([counts[k] for k in out], threshold, remainder):
        others = sorted((n or 0, str(k), k) for k, n in counts.items() if k not in out and (n or 0) > 0)
        if not others:
            break
        out.add(others[0][2])
    return out


def protected(hidden: list[int | None], threshold: int, remainder: int = 0) -> bool:
    """Whether hidden cells of one additive group are safe, their sum being known (the total less the shown
    cells): none at all, or at least two that together count at least the threshold and at least one more
    than there are of them (each hidden cell counts at least one, which an attacker knows)."""
    unknown = [n for n in hidden if (n or 0) > 0] + ([remainder] if remainder > 0 else [])  # never shown
    if not unknown:
        return True
    return len(unknown) >= 2 and sum(unknown) >= max(threshold, len(unknown) + 1)
