"""Shared fixtures: small series and fast forecaster settings."""

import numpy as np
import pandas as pd
import pytest

FAST = {"hidden_sizes": 8, "max_epochs": 3, "batch_size": 16, "device": "cpu"}


@pytest.fixture
def airline():
    from sktime.datasets import load_airline

    return load_airline()


@pytest.fixture
def sine():
    """A noiseless sine with period 12 on a monthly index."""
    t = np.arange(240)
    index = pd.period_range("2000-01", periods=t.size, freq="M")
    return pd.Series(10 + 3 * np.sin(2 * np.pi * t / 12), index=index, name="sine")


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread_per_worker():
    """pytest-xdist runs one worker per core; torch's own threads on top of them
    oversubscribe the cores and make tiny networks many times slower."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
