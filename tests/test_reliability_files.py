"""Model files: what save_model writes always loads, with the permissions a new file
gets; load_model raises ModelFileError for every malformed file, and bounds its work
(member sizes, nesting, network shapes) before it trusts anything in the file."""

from __future__ import annotations

import datetime
import io
import json
import os
import stat
import tracemalloc
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FAST
from dateutil import tz as dateutil_tz

from gatedforecast import (
    GRUForecaster,
    ModelFileError,
    load_model,
    persistence,
    save_model,
)
from gatedforecast.persistence import ARRAYS, MODEL_JSON, WEIGHTS

SMALL = {**FAST, "max_epochs": 2, "window_length": 6, "random_state": 0}


def _monthly(n=40):
    index = pd.period_range("2000-01", periods=n, freq="M")
    return pd.Series(10 + np.sin(np.arange(n) / 2), index=index, name="y")


@pytest.fixture(scope="module")
def forecaster():
    return GRUForecaster(**SMALL).fit(_monthly(), fh=[1, 2])


@pytest.fixture
def saved(forecaster, tmp_path):
    return forecaster.save_model(tmp_path / "model.gfm")


def _members(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write(path, members: dict) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _edit_json(path, edit) -> None:
    members = _members(path)
    document = json.loads(members[MODEL_JSON])
    edit(document)
    members[MODEL_JSON] = json.dumps(document).encode()
    _write(path, members)


def _edit_npz(path, edit) -> None:
    """Rewrite arrays.npz, a zip of .npy members, with ``edit(dict of bytes)``."""
    members = _members(path)
    inner = _members(io.BytesIO(members[ARRAYS]))
    edit(inner)
    buffer = io.BytesIO()
    _write(buffer, inner)
    members[ARRAYS] = buffer.getvalue()
    _write(path, members)


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _edit_weights(path, edit) -> None:
    members = _members(path)
    weights = torch.load(io.BytesIO(members[WEIGHTS]), weights_only=True)
    edit(weights)
    buffer = io.BytesIO()
    torch.save(weights, buffer)
    members[WEIGHTS] = buffer.getvalue()
    _write(path, members)


# ---------------------------------------------------------------- item 8: time zones
def _fit_in_zone(tz):
    index = pd.date_range("2020-01-01", periods=30, freq="D", tz=tz)
    y = pd.Series(5 + np.sin(np.arange(30) / 2), index=index)
    return GRUForecaster(**SMALL).fit(y, fh=[1, 2])


@pytest.mark.parametrize(
    "tz",
    [
        dateutil_tz.tzoffset(None, 3600),
        dateutil_tz.tzoffset("CET", 3600),
        dateutil_tz.tzutc(),
        datetime.timezone(datetime.timedelta(hours=-3), "Custom"),
        datetime.timezone(datetime.timedelta(hours=5, minutes=30)),
    ],
    ids=repr,
)
def test_a_fixed_offset_zone_is_stored_as_that_zone(tz, tmp_path):
    original = _fit_in_zone(tz)
    loaded = load_model(original.save_model(tmp_path / "model.gfm"))
    assert repr(loaded.cutoff.tz) == repr(tz)
    assert loaded.cutoff.equals(original.cutoff)
    forecast = loaded.predict()
    pd.testing.assert_series_equal(forecast, original.predict())
    assert repr(forecast.index.tz) == repr(tz)


class _PlusTwo(datetime.tzinfo):
    """A zone with no name pandas knows, and not of a fixed-offset class."""

    def utcoffset(self, dt):
        return datetime.timedelta(hours=2)

    def dst(self, dt):
        return datetime.timedelta(0)

    def tzname(self, dt):
        return "P2"


@pytest.mark.parametrize(
    ("tz", "why"),
    [
        (_PlusTwo(), "has no zone name"),
        (dateutil_tz.tzlocal(), "local zone of this machine"),
    ],
    ids=["custom tzinfo", "tzlocal"],
)
def test_a_zone_load_could_not_restore_is_refused_at_save(tz, why, tmp_path):
    forecaster = _fit_in_zone(tz)
    with pytest.raises(
        ModelFileError, match=rf"time zone .*{why}.*tz_convert\('UTC'\)"
    ):
        forecaster.save_model(tmp_path / "model.gfm")
    assert list(tmp_path.iterdir()) == []


def test_save_writes_nothing_that_load_would_refuse(forecaster, tmp_path):
    diverged = GRUForecaster(**SMALL).fit(_monthly(), fh=[1, 2])
    with torch.no_grad():
        diverged.network_.head.bias.fill_(float("inf"))
    with pytest.raises(ModelFileError, match="did not write.*non-finite weights"):
        diverged.save_model(tmp_path / "model.gfm")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- item 9: file modes
@pytest.fixture
def umask():
    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_a_new_file_gets_the_mode_the_umask_gives(mask, umask, forecaster, tmp_path):
    umask(mask)
    path = forecaster.save_model(tmp_path / "model.gfm")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_overwriting_a_file_keeps_its_mode(umask, forecaster, tmp_path):
    umask(0o077)
    path = tmp_path / "model.gfm"
    path.write_bytes(b"old")
    path.chmod(0o640)
    save_model(forecaster, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert load_model(path).predict().equals(forecaster.predict())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gfm"]


# ---------------------------------------------------------------- item 14: error types
@pytest.mark.parametrize("path", [None, 3, b"PK\x03\x04 model bytes"], ids=repr)
def test_load_and_save_take_a_path_or_raise_type_error(path, forecaster):
    with pytest.raises(TypeError, match=r"a str or an os\.PathLike"):
        load_model(path)
    with pytest.raises(TypeError, match=r"a str or an os\.PathLike"):
        save_model(forecaster, path)


def test_load_says_when_bytes_were_passed_for_a_path():
    with pytest.raises(TypeError, match="got bytes.*write the bytes to a file first"):
        load_model(b"PK\x03\x04")


def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such.gfm"):
        load_model(tmp_path / "no-such.gfm")


def _nest(path, depth):
    """Replace a state value with a list nested ``depth`` levels deep, written as
    text (json.dumps itself would recurse)."""
    members = _members(path)
    document = json.loads(members[MODEL_JSON])
    document["state"]["deep"] = "PLACEHOLDER"
    text = json.dumps(document).replace('"PLACEHOLDER"', "[" * depth + "]" * depth)
    members[MODEL_JSON] = text.encode()
    _write(path, members)


def _scaler_state_in_a_list(document):
    scaler = document["state"]["_engine"]["state"]["scaler"]
    scaler["state"] = [scaler["state"]]


def _set_state(name, value):
    return lambda p: _edit_json(p, lambda d: d["state"].update({name: value}))


MALFORMED = {
    "a list for the scaler's state (AttributeError)": (
        lambda p: _edit_json(p, _scaler_state_in_a_list),
        r"state of SeriesScaler .* is not a mapping",
    ),
    "a huge period ordinal (OverflowError)": (
        _set_state(
            "_last_index", [{"__gf__": "period", "ordinal": 10**30, "freq": "M"}]
        ),
        r"damaged or was not written by save_model: OverflowError",
    ),
    "a huge timestamp (OverflowError)": (
        _set_state(
            "_last_index",
            [{"__gf__": "timestamp", "value": 10**30, "unit": "ns", "tz": None}],
        ),
        r"damaged or was not written by save_model: (OverflowError|OutOfBounds)",
    ),
    "huge datetime index values (OverflowError)": (
        _set_state(
            "_cutoff",
            {
                "__gf__": "index",
                "kind": "datetime",
                "values": [10**30],
                "unit": "ns",
                "tz": None,
                "freq": None,
                "name": None,
            },
        ),
        r"damaged or was not written by save_model: OverflowError",
    ),
    "JSON nested 5,000 deep (RecursionError)": (
        lambda p: _nest(p, 5000),
        # Python's own limit comes first where its parser is recursive (3.11), ours
        # where it is not
        "model.json is nested more (deeply than Python can read|than 64 levels)",
    ),
    "JSON nested 100 deep": (
        lambda p: _nest(p, 100),
        "model.json is nested more than 64 levels deep",
    ),
    "'self' among the parameters (TypeError)": (
        lambda p: _edit_json(p, lambda d: d["params"].update({"self": 1})),
        r"unknown parameters \['self'\]",
    ),
    "a list for the document": (
        lambda p: _edit_json(p, lambda d: (d.clear(), d.update({"format": []}))),
        "is not a gatedforecast-model file",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_every_malformed_file_raises_model_file_error(case, saved):
    change, match = MALFORMED[case]
    change(saved)
    with pytest.raises(ModelFileError, match=match):
        load_model(saved)


# ------------------------------------------------- item 16: bounded work before trust
def test_an_unknown_top_level_key_is_refused(saved):
    _edit_json(saved, lambda d: d.update({"padding": "x" * 1000}))
    with pytest.raises(ModelFileError, match=r"unknown keys \['padding'\]"):
        load_model(saved)


def test_an_unknown_key_in_an_encoded_value_is_refused(saved):
    def edit(document):
        document["state"]["_last_index"][0]["padding"] = "x"

    _edit_json(saved, edit)
    with pytest.raises(
        ModelFileError, match=r"'period' value .*unknown keys \['padding'\]"
    ):
        load_model(saved)


def test_an_attribute_hiding_a_method_is_refused(saved):
    _set_state("predict", 1)(saved)
    with pytest.raises(ModelFileError, match="invalid attribute 'predict'"):
        load_model(saved)


@pytest.mark.parametrize("version", [True, 0, -1, 1.0, "1", None])
def test_an_invalid_format_version_is_refused(version, saved):
    _edit_json(saved, lambda d: d.update({"format_version": version}))
    with pytest.raises(ModelFileError, match="invalid format version"):
        load_model(saved)


def test_json_declared_larger_than_its_cap_is_refused_unread(saved, monkeypatch):
    # 200 kB of spaces compress to a few hundred bytes; the zip declares 200 kB
    members = _members(saved)
    members[MODEL_JSON] = members[MODEL_JSON] + b" " * 200_000
    _write(saved, members)
    assert saved.stat().st_size < 20_000
    monkeypatch.setattr(persistence, "MAX_JSON_BYTES", 100_000)
    with pytest.raises(
        ModelFileError, match=r"model.json declares [\d,]+ bytes.*MAX_JSON_BYTES"
    ):
        load_model(saved)
    monkeypatch.undo()
    load_model(saved)  # within the default cap, the padding is only whitespace


def test_arrays_declared_larger_than_their_cap_are_refused_unread(saved, monkeypatch):
    # 800 kB of zeros, compressed to about 1 kB inside arrays.npz
    _edit_npz(saved, lambda inner: inner.update({"a999.npy": _npy(np.zeros(100_000))}))
    assert saved.stat().st_size < 20_000
    monkeypatch.setattr(persistence, "MAX_ARRAYS_BYTES", 400_000)
    with pytest.raises(
        ModelFileError,
        match="arrays.npz declares [\\d,]+ bytes of contents.*MAX_ARRAYS",
    ):
        load_model(saved)


def test_weights_declared_larger_than_their_cap_are_refused_unread(saved, monkeypatch):
    members = _members(saved)
    inner = io.BytesIO(members[WEIGHTS])
    with zipfile.ZipFile(inner, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data/99", b"\0" * 400_000)
    members[WEIGHTS] = inner.getvalue()
    _write(saved, members)
    assert saved.stat().st_size < 20_000
    monkeypatch.setattr(persistence, "MAX_WEIGHTS_BYTES", 200_000)
    with pytest.raises(
        ModelFileError,
        match="weights.pt declares [\\d,]+ bytes of contents.*MAX_WEIGHTS",
    ):
        load_model(saved)


def test_a_member_over_its_cap_is_refused_at_save(forecaster, tmp_path, monkeypatch):
    monkeypatch.setattr(persistence, "MAX_JSON_BYTES", 1000)
    with pytest.raises(ModelFileError, match="did not write.*MAX_JSON_BYTES"):
        forecaster.save_model(tmp_path / "model.gfm")
    assert list(tmp_path.iterdir()) == []


def test_an_array_header_larger_than_its_data_allocates_nothing(saved):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10_000_000,)}
    )
    npy = header.getvalue() + np.zeros(2).tobytes()
    _edit_npz(saved, lambda inner: inner.update({"a0.npy": npy}))
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=r"declares shape \(10000000,\)"):
            load_model(saved)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # the header's 80 MB were never allocated


def test_a_non_array_npz_member_is_refused(saved):
    _edit_npz(saved, lambda inner: inner.update({"a99": b"raw bytes, not .npy"}))
    with pytest.raises(ModelFileError, match="'a99' is not a .npy array"):
        load_model(saved)


def test_an_array_the_document_does_not_use_is_refused_unread(saved):
    # 8 MB of zeros, compressed to about 8 kB, under a key model.json never names
    _edit_npz(saved, lambda inner: inner.update({"a99.npy": _npy(np.zeros(10**6))}))
    assert saved.stat().st_size < 40_000
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="'a99', which model.json does not"):
            load_model(saved)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000


def _lie_about_size(path, name: str, size: int) -> None:
    """Write the zip with ``name`` stored uncompressed, then make its central
    directory entry declare ``size`` bytes."""
    members = _members(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    raw = bytearray(path.read_bytes())
    entry = raw.index(b"PK\x01\x02")  # the first central directory entry
    while True:
        length = int.from_bytes(raw[entry + 28 : entry + 30], "little")
        if raw[entry + 46 : entry + 46 + length].decode() == name:
            break
        entry = raw.index(b"PK\x01\x02", entry + 4)
    raw[entry + 20 : entry + 28] = size.to_bytes(4, "little") * 2
    path.write_bytes(bytes(raw))


def test_a_member_whose_header_understates_its_size_is_refused(saved):
    _lie_about_size(saved, MODEL_JSON, 100)
    with pytest.raises(ModelFileError, match="model.json cannot be read"):
        load_model(saved)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(value, saved):
    def edit(weights):
        (network,) = weights.values()
        network["head.bias"][0] = value

    _edit_weights(saved, edit)
    with pytest.raises(ModelFileError, match="non-finite weights.*'head.bias'"):
        load_model(saved)


def _set_spec(**changes):
    def edit(document):
        document["state"]["network_"]["spec"].update(changes)

    return edit


@pytest.mark.parametrize(
    "changes",
    [
        {"horizon": 2_000_000},
        {"hidden_sizes": [1000]},
        {"hidden_sizes": [8, 8]},
        {"n_targets": 3},
    ],
    ids=repr,
)
def test_a_network_that_does_not_match_its_weights_is_never_built(changes, saved):
    _edit_json(saved, _set_spec(**changes))
    with pytest.raises(ModelFileError, match="do not match the network described"):
        load_model(saved)


@pytest.mark.parametrize(
    "changes",
    [
        {"horizon": 0},
        {"horizon": True},
        {"hidden_sizes": []},
        {"hidden_sizes": [-8]},
        {"dropout": 1.5},
        {"cell": "transformer"},
        {"extra": 1},
    ],
    ids=repr,
)
def test_an_invalid_network_description_is_refused(changes, saved):
    _edit_json(saved, _set_spec(**changes))
    with pytest.raises(ModelFileError, match="network|hidden_sizes|horizon|dropout"):
        load_model(saved)
