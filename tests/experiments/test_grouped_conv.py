"""The grouped-convolution probe (experiments/grouped_conv.py): every candidate computes Keras's
grouped convolution, and a grouped network converts to full-integer TFLite and runs on LiteRT
with Keras's predictions."""

from keras_deepnets.experiments import grouped_conv


def test_candidates_agree_with_keras_and_int8_conversion_works():
    rows = grouped_conv.time_candidates(shape=(1, 6, 6, 16), groups=4, repeats=1)
    assert {(r["candidate"], r["dtype"]) for r in rows} == {
        (c, d) for c in grouped_conv.CANDIDATES for d in ("float32", "bfloat16")}
    for row in rows:
        if row["candidate"] != "dense":  # the dense one is a different convolution
            limit = 1e-4 if row["dtype"] == "float32" else 0.1
            assert row["max_abs_diff"] <= limit, row
    int8 = grouped_conv.tflite_int8(groups=4, channels=16, size=16)
    assert int8["converted"], int8["error"]
    assert int8["relative_error"] <= 0.1  # int8 rounding, not a different network
