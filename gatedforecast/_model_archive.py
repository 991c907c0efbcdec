"""The model file as a container: a zip of ``model.json``, ``arrays.npz`` and
``weights.pt``, read within size caps and written atomically.

Nothing here knows what the members mean; :mod:`gatedforecast.persistence` passes
the caps in (so that raising one of its module constants takes effect at once).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import secrets
import stat
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

MODEL_JSON = "model.json"
ARRAYS = "arrays.npz"
WEIGHTS = "weights.pt"
MEMBERS = (MODEL_JSON, ARRAYS, WEIGHTS)
#: numpy dtype kinds stored in arrays.npz: bool, integers, floats, complex
NUMERIC_KINDS = "biufc"
#: the errors that reading a malformed file can raise from the code it calls
#: (numpy, pandas, torch, the constructors): reported as ModelFileError
MALFORMED = (
    ArithmeticError,
    AttributeError,
    LookupError,
    RuntimeError,
    TypeError,
    ValueError,
)


class ModelFileError(ValueError):
    """A model that cannot be saved safely, or a file that :func:`load_model` refuses."""


def check_path(path, function: str) -> None:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"{function} takes the path of a file, a str or an os.PathLike (such "
            f"as pathlib.Path); got {type(path).__qualname__}."
            + (
                " To load a model held in memory, write the bytes to a file first."
                if isinstance(path, (bytes, bytearray, memoryview))
                else ""
            )
        )


def too_large(source, name: str, what: str, caps: dict) -> ModelFileError:
    cap, constant = caps[name]
    return ModelFileError(
        f"{source}: {name} {what}, more than the {cap:,} bytes load_model reads "
        f"(gatedforecast.persistence.{constant}); it is refused before it is read. "
        "Raise that limit only to load a file you trust."
    )


def check_sizes(members: dict, source, caps: dict) -> None:
    """Refuse a member (as bytes) larger than its cap."""
    for name, data in members.items():
        if len(data) > caps[name][0]:
            raise too_large(source, name, f"holds {len(data):,} bytes", caps)


# ---------------------------------------------------------------------- the zip
def read_archive(path, caps: dict) -> dict:
    """The three members of the zip at ``path``, as bytes, each read only when
    its declared size is within its cap (``caps``: member -> (bytes, constant
    name)), and no further than the cap."""
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        limit = sum(cap for cap, _ in caps.values()) + 2**20
        if size > limit:
            raise ModelFileError(
                f"{path} holds {size:,} bytes, more than a model file within the "
                f"size limits of load_model ({limit:,} bytes); it is refused before "
                "it is read."
            )
        try:
            archive = zipfile.ZipFile(file)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
            raise ModelFileError(
                f"{path} is not a gatedforecast model file ({error}); model files "
                "are written by save_model."
            ) from None
        with archive:
            names = archive.namelist()
            unexpected = sorted(set(names) - set(MEMBERS))
            missing = sorted(set(MEMBERS) - set(names))
            if unexpected or missing or len(names) != len(MEMBERS):
                raise ModelFileError(
                    f"{path} is not a model file written by save_model: it should "
                    f"hold exactly {list(MEMBERS)}"
                    + (
                        f"; it has unexpected member(s) {unexpected}"
                        if unexpected
                        else ""
                    )
                    + (f"; it lacks {missing}" if missing else "")
                    + ". It is refused without reading it."
                )
            return {name: _read_member(archive, name, path, caps) for name in MEMBERS}


def _read_member(archive: zipfile.ZipFile, name: str, source, caps: dict) -> bytes:
    cap = caps[name][0]
    info = archive.getinfo(name)
    if info.file_size > cap:
        raise too_large(source, name, f"declares {info.file_size:,} bytes", caps)
    try:
        with archive.open(info) as member:
            data = member.read(cap + 1)
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        RuntimeError,  # encrypted, or an unknown compression method
        ValueError,
    ) as error:
        raise ModelFileError(
            f"{source}: {name} cannot be read ({error}); the file is damaged."
        ) from None
    if len(data) > cap:
        raise too_large(source, name, "holds more bytes than that", caps)
    return data


def _inner_zip(data: bytes, source, name: str, caps: dict) -> zipfile.ZipFile:
    """The zip archive that ``arrays.npz`` and ``weights.pt`` each are, refused when
    its members declare more bytes in all than the member's cap."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise ModelFileError(
            f"{source}: {name} is not the archive save_model writes ({error})"
        ) from None
    declared = sum(info.file_size for info in infos)
    if declared > caps[name][0]:
        archive.close()
        raise too_large(source, name, f"declares {declared:,} bytes of contents", caps)
    return archive


def write_atomically(path: Path, members: dict) -> None:
    """Write the zip to a new file beside ``path``, then move it over ``path``: a
    failed save leaves no file behind, and an existing file whole. The file gets
    the mode of the file it replaces, or the mode any new file gets (``0o666``
    less the umask): the kernel applies the umask when the file is created."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            handle = os.open(temporary, flags, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with (
            os.fdopen(handle, "wb") as file,
            zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        ):
            for name, data in members.items():
                archive.writestr(name, data)
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------- members
def parse_json(data: bytes, source, max_depth: int):
    """The document in ``model.json``, refused when nested deeper than
    ``max_depth`` lists and objects."""
    try:
        document = json.loads(data)
    except RecursionError:
        raise ModelFileError(
            f"{source}: {MODEL_JSON} is nested more deeply than Python can read"
        ) from None
    except ValueError as error:  # not JSON, not UTF-8, an integer too long
        raise ModelFileError(f"{source}: {MODEL_JSON} is not JSON ({error})") from None
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            raise ModelFileError(
                f"{source}: {MODEL_JSON} is nested more than {max_depth} levels "
                "deep; save_model writes far fewer."
            )
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return document


def parse_arrays(data: bytes, source, used: set, caps: dict) -> dict:
    """The arrays of ``arrays.npz`` that model.json refers to (``used``); any other
    member is refused unread. Each member must be a ``.npy`` array of a numeric
    dtype whose header's shape matches the size the zip declares for it, checked
    before the array is allocated, and then read into it in place."""

    def refuse(detail):
        return ModelFileError(
            f"{source}: {ARRAYS} holds something other than plain numeric arrays "
            f"({detail}); it is refused."
        )

    arrays = {}
    with _inner_zip(data, source, ARRAYS, caps) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise refuse(f"the member {info.filename!r:.80} is not a .npy array")
            key = info.filename[: -len(".npy")]
            if key not in used:
                raise ModelFileError(
                    f"{source}: {ARRAYS} holds the array {key!r:.80}, which "
                    f"{MODEL_JSON} does not use; it is refused unread."
                )
            try:
                with archive.open(info) as member:
                    arrays[key] = _read_npy(member, info, refuse)
            except ModelFileError:
                raise
            except (*MALFORMED, zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
                raise refuse(e) from None
    return arrays


def _read_npy(member, info: zipfile.ZipInfo, refuse) -> np.ndarray:
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise refuse(f"{info.filename} has npy format version {version}")
    if dtype.hasobject or dtype.kind not in NUMERIC_KINDS:
        raise refuse(
            f"{info.filename} has dtype {dtype}; object arrays could only be "
            "restored by unpickling, which could run code"
        )
    size = int(np.prod(shape, dtype=object)) * dtype.itemsize
    available = info.file_size - member.tell()
    if size != available:
        raise refuse(
            f"{info.filename} declares shape {shape} but holds {available} bytes "
            "of data"
        )
    buffer = np.empty(size, dtype=np.uint8)
    view, done = memoryview(buffer), 0
    while done < size:
        count = member.readinto(view[done:])
        if not count:
            raise refuse(f"{info.filename} ends before its data")
        done += count
    return buffer.view(dtype).reshape(shape, order="F" if fortran else "C")


def parse_weights(data: bytes, source, caps: dict) -> dict:
    """The tensors of ``weights.pt``: read by torch's ``weights_only`` loader once
    the archive's declared sizes are within the cap, then refused unless they are
    named groups of dense, finite floating-point tensors."""
    _inner_zip(data, source, WEIGHTS, caps).close()
    try:
        weights = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except (*MALFORMED, pickle.UnpicklingError, EOFError) as error:
        raise ModelFileError(
            f"{source}: {WEIGHTS} holds something other than tensors ({error}); it "
            "is refused, as reading it could run code."
        ) from None
    groups = weights.values() if isinstance(weights, dict) else [None]
    for group in groups:
        tensors = group.items() if isinstance(group, dict) else [(None, None)]
        for key, tensor in tensors:
            if (
                not isinstance(key, str)
                or type(tensor) is not torch.Tensor
                or tensor.layout is not torch.strided
                or not tensor.is_floating_point()
            ):
                raise ModelFileError(
                    f"{source}: {WEIGHTS} holds something other than named groups "
                    "of floating-point tensors; it is refused."
                )
            if not torch.isfinite(tensor).all():
                raise ModelFileError(
                    f"{source}: {WEIGHTS} holds non-finite weights (NaN or inf) in "
                    f"{key!r:.80}; a network with them cannot predict."
                )
    return weights


def pack(document: dict, arrays: dict, weights: dict) -> dict:
    """The three members, as bytes, of a document with its arrays and weights."""
    text = json.dumps(document, indent=1, allow_nan=True)
    arrays_file = io.BytesIO()
    np.savez(arrays_file, **arrays)
    weights_file = io.BytesIO()
    torch.save(weights, weights_file)
    return {
        MODEL_JSON: text.encode("utf-8"),
        ARRAYS: arrays_file.getvalue(),
        WEIGHTS: weights_file.getvalue(),
    }
