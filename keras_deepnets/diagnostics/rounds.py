"""Interleaved timing rounds of two sides (ours, then a peer's, round after round), summarised
as medians and spreads. A shared 2-core VM drifts by 20-30 % within minutes, and our side has
spread about twice as much from round to round as PyTorch's (docs/performance.md), so one
best round per side says little: the figure to judge is the median over rounds, with its
range beside it. Standard library only."""

import statistics


def spread(values):
    """{"median", "min", "max"} of a list of figures. (export/runtimes.py keeps its own copy:
    that file runs by path in runtime processes that have no keras_deepnets to import.)"""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def compare(ours, peer):
    """Two sides' images/s, one figure per round in round order (ours[i] and peer[i] ran back
    to back): each side's spread, the spread of the per-round ratios ours[i] / peer[i] (paired,
    so a slow minute of the machine cancels), and the best-against-best ratio."""
    if len(ours) != len(peer) or not ours:
        raise ValueError(f"compare needs one figure per round on each side; got {len(ours)} "
                         f"and {len(peer)}.")
    return {"ours": spread(ours), "peer": spread(peer),
            "ratio": spread([a / b for a, b in zip(ours, peer)]),
            "best_ratio": max(ours) / max(peer), "rounds": len(ours)}


def _cell(figures, digits=1):
    return (f"{figures['median']:.{digits}f} ({figures['min']:.{digits}f}-"
            f"{figures['max']:.{digits}f})")


def markdown(comparisons, peer_name="PyTorch"):
    """A Markdown table, a row per {case: `compare(...)`}: median (min-max) of each side and of
    the per-round ratio, then best against best."""
    lines = [f"| step | ours img/s, median (min-max) | {peer_name} img/s, median (min-max) | "
             "ratio per round, median (min-max) | best vs best |", "|---|---:|---:|---:|---:|"]
    for case, c in comparisons.items():
        lines.append(f"| {case} | {_cell(c['ours'])} | {_cell(c['peer'])} | "
                     f"{_cell(c['ratio'], 2)}x | {c['best_ratio']:.2f}x |")
    return "\n".join(lines)
