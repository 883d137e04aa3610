"""keras_deepnets.diagnostics.rounds: the median over interleaved rounds, not one best round,
and the ratio paired per round (figures of ResNet-20 b128 bfloat16 rounds measured on
2026-12-05)."""

import pytest

from keras_deepnets.diagnostics import rounds

# Ours and PyTorch's images/s in 4 interleaved rounds (round i of each side back to back).
OURS = [889.0, 1068.0, 950.0, 1001.0]
PEER = [951.0, 1044.0, 1000.0, 990.0]


def test_the_median_and_the_paired_ratio_not_the_best_round():
    c = rounds.compare(OURS, PEER)
    assert c["ours"] == {"median": (950.0 + 1001.0) / 2, "min": 889.0, "max": 1068.0}
    assert c["peer"]["median"] == (990.0 + 1000.0) / 2
    ratios = sorted(a / b for a, b in zip(OURS, PEER))
    assert c["ratio"]["median"] == pytest.approx((ratios[1] + ratios[2]) / 2)
    assert c["ratio"]["min"] == pytest.approx(889.0 / 951.0)
    assert c["best_ratio"] == pytest.approx(1068.0 / 1044.0) and c["rounds"] == 4
    # Best against best reads ahead where the median of the rounds reads behind.
    assert c["best_ratio"] > 1.0 > c["ratio"]["median"]


def test_the_table_shows_median_range_and_best():
    table = rounds.markdown({"resnet20 b128 bfloat16": rounds.compare(OURS, PEER)})
    row = table.splitlines()[2]
    assert row == ("| resnet20 b128 bfloat16 | 975.5 (889.0-1068.0) | 995.0 (951.0-1044.0) | "
                   "0.98 (0.93-1.02)x | 1.02x |")


def test_unpaired_rounds_are_refused():
    with pytest.raises(ValueError, match="one figure per round on each side; got 2 and 1"):
        rounds.compare([1.0, 2.0], [1.0])
