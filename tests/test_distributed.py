"""Data-parallel training with torch.distributed (gloo, two processes here).

Two worker processes (this file run as a script, as ``torchrun`` would start
them: ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT`` in the
environment) fit the same estimators as one process does here; their forecasts
must equal the one-process forecasts within float tolerance and each other's
exactly.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gatedforecast import GRUForecaster, GRURegressor, LSTMForecaster
from gatedforecast.distributed import data_parallel

ROOT = Path(__file__).resolve().parents[1]


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(40)
    frames = []
    for key in range(3):
        values = 10 + key + np.sin(t / 3 + key) + 0.1 * rng.standard_normal(40)
        index = pd.MultiIndex.from_product(
            [[f"s{key}"], pd.RangeIndex(40)], names=["series", "time"]
        )
        frames.append(pd.DataFrame({"y": values}, index=index))
    return pd.concat(frames)


def _regression_data():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((33, 5, 2))
    y = X[:, -1, 0] + 0.5 * X[:, :, 1].mean(axis=1)
    return X, y


def fits(**common) -> dict[str, np.ndarray]:
    """The forecasts of a few small fits, by name: a panel with early stopping
    on a validation set, an ensemble with calibrated intervals, and a regressor
    whose last batch (one window) leaves the second process an empty share."""
    out = {}
    panel = _panel()
    lstm = LSTMForecaster(
        window_length=6,
        hidden_sizes=8,
        ensemble_size=1,
        batch_size=8,
        max_epochs=6,
        validation_size=0.2,
        patience=2,
        random_state=0,
        **common,
    ).fit(panel, fh=[1, 2, 3])
    out["panel"] = lstm.predict().to_numpy()
    out["panel_history"] = lstm.history_[["train_loss", "val_loss"]].to_numpy()
    series = panel.loc["s0"]["y"]
    gru = GRUForecaster(
        window_length=5,
        hidden_sizes=6,
        ensemble_size=3,
        batch_size=5,
        max_epochs=3,
        random_state=1,
        **common,
    ).fit(series, fh=[1, 2])
    out["ensemble"] = gru.predict().to_numpy()
    out["ensemble_interval"] = gru.predict_interval(coverage=0.8).to_numpy()
    X, y = _regression_data()
    regressor = GRURegressor(
        hidden_sizes=6,
        batch_size=7,
        max_epochs=3,
        steps_per_epoch=None,
        validation_size=4,
        ensemble_size=1,
        lr_schedule="onecycle",
        random_state=2,
        **common,
    ).fit(X, y)
    out["regressor"] = regressor.predict(X)
    return out


def _worker(out: str) -> None:
    """One process of the two-process run: the fits, an unseeded fit, and a fit
    on data that differs between the processes (refused on every process)."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(os.environ.get("TEST_BACKEND", "gloo"))
    rank = dist.get_rank()
    results = fits(distributed=True)
    unseeded = GRUForecaster(
        window_length=5, hidden_sizes=4, ensemble_size=1, max_epochs=2
    ).fit(_panel().loc["s0"]["y"], fh=[1])
    results["unseeded"] = unseeded.predict().to_numpy()
    dropout = GRUForecaster(
        window_length=5, hidden_sizes=4, dropout=0.3, max_epochs=2, random_state=0
    ).fit(_panel().loc["s0"]["y"], fh=[1])
    results["dropout_shuffling_state"] = dropout._engine.rng_state.numpy()
    y = _panel().loc["s0"]["y"]
    noise = np.random.default_rng(5).standard_normal(len(y))
    # another length, or the same length and other values, in each process
    for name, data in [
        ("mismatch", y.iloc[: 30 + rank]),
        ("mismatch_values", y + rank * noise),
    ]:
        try:
            GRUForecaster(window_length=5, hidden_sizes=4, max_epochs=1).fit(
                data, fh=[1]
            )
            message = ""
        except ValueError as error:
            message = str(error)
        results[name] = np.array(message)
    np.savez(out, **results)
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_processes(folder: Path, backend: str = "gloo") -> list[dict]:
    """The results of the two worker processes, by rank."""
    port = str(_free_port())
    workers = []
    for rank in range(2):
        env = {
            **os.environ,
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": "1",
            "TEST_BACKEND": backend,
        }
        command = [sys.executable, __file__, str(folder / f"rank{rank}.npz")]
        workers.append(
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
        )
    for worker in workers:
        output, _ = worker.communicate(timeout=300)
        assert worker.returncode == 0, output.decode()[-3000:]
    return [dict(np.load(folder / f"rank{r}.npz")) for r in range(2)]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    return _two_processes(tmp_path_factory.mktemp("distributed"))


@pytest.fixture(scope="module")
def one_process():
    torch.set_num_threads(1)
    return fits()


@pytest.mark.parametrize(
    "name",
    ["panel", "panel_history", "ensemble", "ensemble_interval", "regressor"],
)
def test_two_gloo_processes_forecast_as_one_process_does(
    two_processes, one_process, name
):
    for rank in range(2):
        np.testing.assert_allclose(
            two_processes[rank][name], one_process[name], rtol=1e-4, atol=1e-5
        )
    # every process ends with the same fitted estimator
    np.testing.assert_array_equal(two_processes[0][name], two_processes[1][name])


@pytest.mark.skipif(
    not (torch.cuda.device_count() >= 2 and torch.distributed.is_nccl_available()),
    reason="needs two CUDA devices and NCCL",
)
def test_two_nccl_processes_on_two_gpus_forecast_as_one_process_does(
    tmp_path, one_process
):
    results = _two_processes(tmp_path, "nccl")
    for name in ("panel", "ensemble", "regressor"):
        for rank in range(2):
            np.testing.assert_allclose(
                results[rank][name], one_process[name], rtol=1e-3, atol=1e-4
            )
        np.testing.assert_array_equal(results[0][name], results[1][name])


def test_an_unseeded_fit_trains_one_network_on_every_process(two_processes):
    np.testing.assert_array_equal(
        two_processes[0]["unseeded"], two_processes[1]["unseeded"]
    )


def test_with_dropout_every_process_still_draws_the_same_order(two_processes):
    # the masks come from each process's own generator, not the shuffling one
    np.testing.assert_array_equal(
        two_processes[0]["dropout_shuffling_state"],
        two_processes[1]["dropout_shuffling_state"],
    )


@pytest.mark.parametrize("case", ["mismatch", "mismatch_values"])
def test_processes_fitting_different_data_are_refused_on_every_process(
    two_processes, case
):
    for rank in range(2):
        message = str(two_processes[rank][case])
        assert "do not train the same problem" in message
        assert "distributed=False" in message


def test_without_a_process_group_auto_trains_in_this_process_alone():
    y = _panel().loc["s0"]["y"]
    params = dict(window_length=5, hidden_sizes=4, max_epochs=2, random_state=0)
    auto = GRUForecaster(**params).fit(y, fh=[1, 2]).predict()
    alone = GRUForecaster(distributed=False, **params).fit(y, fh=[1, 2]).predict()
    pd.testing.assert_series_equal(auto, alone)
    assert data_parallel("auto", torch.device("cpu")) is None


def test_distributed_true_without_a_process_group_names_the_fix():
    y = _panel().loc["s0"]["y"]
    forecaster = GRUForecaster(window_length=5, max_epochs=1, distributed=True)
    with pytest.raises(ValueError, match="needs an initialised torch.distributed"):
        forecaster.fit(y, fh=[1])
    with pytest.raises(TypeError, match='distributed must be "auto", True or False'):
        GRUForecaster(distributed="yes").fit(y, fh=[1])


if __name__ == "__main__":
    _worker(sys.argv[1])
