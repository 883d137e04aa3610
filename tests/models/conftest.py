"""Fixtures of the layer tests: `policy`, Keras's global dtype policy for one test."""

import keras
import pytest


@pytest.fixture
def policy(request):
    """Sets the dtype policy named by an indirect parametrization, restores the previous one."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(request.param)
    yield request.param
    keras.config.set_dtype_policy(previous)
