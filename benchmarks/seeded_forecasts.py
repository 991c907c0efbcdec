"""Seeded fits whose forecasts must not change when the code is restructured.

A refactoring keeps every forecast bit-identical unless a change is deliberate and
named. This script fits small seeded models that cover the package's paths (GRU
and LSTM forecasters: direct, a roll-out beyond the head, recursive with
validation and patience, MC dropout, the quantile head, the "auto" defaults with
the robust scaler, a ragged global panel, ``global_model=False``, covariates,
``update`` with and without training and with a revision, pretrain and
fine-tune; both regressors on 2-D and 3-D ``X`` with a warm start) and saves
their forecasts, quantiles, intervals and training losses. Run it on two
checkouts and compare::

    PYTHONPATH=<old checkout> python benchmarks/seeded_forecasts.py save old.npz
    PYTHONPATH=<new checkout> python benchmarks/seeded_forecasts.py save new.npz
    python benchmarks/seeded_forecasts.py compare old.npz new.npz

``compare`` prints the arrays that differ (exactly, NaN equal to NaN) and exits
with 1 when any does. Use one torch thread (``OMP_NUM_THREADS=1``) for both runs.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd


def fits() -> dict:
    """The seeded fits' outputs by name."""
    from sktime.datasets import load_airline

    from gatedforecast import (
        GRUForecaster,
        GRURegressor,
        LSTMForecaster,
        LSTMRegressor,
        make_windows,
    )

    warnings.filterwarnings("ignore")

    out = {}
    y = load_airline()
    FH = list(range(1, 13))
    ALPHA = [0.05, 0.1, 0.5, 0.9, 0.95]
    base = dict(hidden_sizes=6, max_epochs=4, random_state=0, device="cpu")

    def record(name, f, fh=FH, X=None, intervals=True):
        out[f"{name}/pred"] = f.predict(fh=fh, X=X).to_numpy()
        if intervals:
            out[f"{name}/q"] = f.predict_quantiles(fh=fh, X=X, alpha=ALPHA).to_numpy()
            out[f"{name}/int"] = f.predict_interval(
                fh=fh, X=X, coverage=[0.8, 0.99]
            ).to_numpy()
        if hasattr(f, "history_"):
            out[f"{name}/hist"] = f.history_[["train_loss", "val_loss"]].to_numpy(
                dtype=float
            )

    for cls in (GRUForecaster, LSTMForecaster):
        n = cls.__name__
        f = cls(window_length=24, **base).fit(y, fh=FH)
        record(f"{n}/direct", f)
        record(f"{n}/direct_long", f, fh=list(range(1, 30)))
        f = cls(
            window_length=24,
            strategy="recursive",
            validation_size=0.2,
            patience=2,
            **base,
        ).fit(y, fh=FH)
        record(f"{n}/recursive", f)
        f = cls(
            window_length=12,
            dropout=0.2,
            interval_method="mc_dropout",
            n_samples=20,
            scaler="standard",
            **base,
        ).fit(y, fh=FH)
        record(f"{n}/mc", f)
        f = cls(
            window_length=12,
            interval_method="quantile",
            quantiles=(0.1, 0.5, 0.9),
            horizon=6,
            **base,
        ).fit(y, fh=FH)
        record(f"{n}/quantile", f)
        record(f"{n}/quantile_long", f, fh=list(range(1, 20)))

    # default auto settings (seasonal baseline, auto window), robust scaler
    f = GRUForecaster(
        hidden_sizes=5, max_epochs=3, random_state=1, scaler="robust"
    ).fit(y, fh=FH)
    record("auto_robust", f)

    # panel, ragged, global
    rng = np.random.default_rng(0)
    frames = []
    for k, n in (("a", 60), ("b", 45), ("c", 70)):
        idx = pd.period_range("2000-01", periods=n, freq="M")
        mi = pd.MultiIndex.from_arrays([[k] * n, idx], names=["id", "t"])
        frames.append(pd.DataFrame({"v": np.cumsum(rng.normal(size=n)) + 10}, index=mi))
    panel = pd.concat(frames)
    f = GRUForecaster(window_length=12, **base).fit(panel, fh=[1, 2, 3])
    record("panel", f, fh=[1, 2, 3])
    fl = GRUForecaster(window_length=12, global_model=False, **base).fit(
        panel, fh=[1, 2, 3]
    )
    record("panel_local", fl, fh=[1, 2, 3])

    # X covariates
    Xall = pd.DataFrame(
        {
            "x1": np.sin(np.arange(len(y) + 12) / 3),
            "x2": np.arange(len(y) + 12) / 100.0,
        },
        index=pd.period_range(y.index[0], periods=len(y) + 12, freq="M"),
    )
    f = LSTMForecaster(window_length=12, horizon=4, **base).fit(
        y, X=Xall.iloc[: len(y)], fh=FH
    )
    record("exog", f, X=Xall)

    # update with update_params True and False, revision
    y_fit, y_new = y.iloc[:-12], y.iloc[-12:]
    f = GRUForecaster(window_length=12, update_epochs=2, **base).fit(y_fit, fh=FH)
    record("upd0", f)
    f.update(y_new.iloc[:6], update_params=True)
    record("upd1", f)
    f.update(y_new.iloc[6:], update_params=False)
    record("upd2", f)
    rev = y_new.iloc[-3:] * 1.1
    f.update(rev, update_params=False)
    record("upd3", f)

    # pretrain + fit
    fp = GRUForecaster(window_length=12, fine_tune_epochs=2, **base)
    fp.pretrain(panel, fh=[1, 2, 3])
    fp.fit(panel.loc["a"], fh=[1, 2, 3])
    record("pretrain_ft", fp, fh=[1, 2, 3])
    fp2 = GRUForecaster(window_length=12, **base)
    fp2.pretrain(panel, fh=[1, 2, 3])
    fp2.pretrain(panel.loc[["b", "c"]], fh=[1, 2, 3])
    fp2.fit(panel.loc["b"], fh=[1, 2, 3])
    record("pretrain_apply", fp2, fh=[1, 2, 3])
    out["pretrain_hist"] = fp2.pretrained_history_[["train_loss"]].to_numpy(dtype=float)

    # regressors
    series = np.sin(np.arange(300) / 5) + np.arange(300) / 100
    X2, y2 = make_windows(series, window_length=10)
    for cls in (GRURegressor, LSTMRegressor):
        n = cls.__name__
        r = cls(
            hidden_sizes=5,
            max_epochs=4,
            random_state=0,
            validation_size=0.2,
            device="cpu",
        ).fit(X2[:200], y2[:200])
        out[f"{n}/2d"] = r.predict(X2[200:])
        X3 = np.stack([X2, X2**2], axis=-1)
        y3 = np.stack([y2, -y2], axis=1)
        r = cls(
            hidden_sizes=(5, 4),
            max_epochs=3,
            random_state=2,
            device="cpu",
            warm_start=True,
            dropout=0.1,
        ).fit(X3[:200], y3[:200])
        out[f"{n}/3d"] = r.predict(X3[200:])
        r.fit(X3[:200], y3[:200])
        out[f"{n}/3d_warm"] = r.predict(X3[200:])
        out[f"{n}/hist"] = r.history_[["train_loss"]].to_numpy(dtype=float)
    return out


def compare(old: str, new: str) -> int:
    """Print the arrays of two saved runs that differ; 1 when any does."""
    a, b = np.load(old), np.load(new)
    if set(a.files) != set(b.files):
        print("different arrays saved:", sorted(set(a.files) ^ set(b.files)))
        return 1
    bad = [k for k in a.files if not np.array_equal(a[k], b[k], equal_nan=True)]
    print("differ:", bad if bad else "none", f"({len(a.files)} arrays)")
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "save":
        out = fits()
        np.savez(argv[1], **out)
        print(len(out), "arrays saved to", argv[1])
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        return compare(argv[1], argv[2])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
