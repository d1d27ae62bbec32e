"""A restricted unpickler for DEAP's ``.dat`` files: numpy arrays, dicts and scalars only."""

from __future__ import annotations

import io
import pickle

import numpy as np

# The only globals a pickled dict of numpy arrays needs. numpy 2 moved numpy.core to numpy._core;
# old pickles (DEAP's were written by Python 2) name the former.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): np._core.multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): np._core.multiarray.scalar,
    ("numpy.core.numeric", "_frombuffer"): np._core.numeric._frombuffer,
    ("numpy._core.numeric", "_frombuffer"): np._core.numeric._frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): __import__("codecs").encode,  # protocol-2 bytes written by Python 3
}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asked for an object other than numpy arrays, dicts and scalars."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refused to load {module}.{name}: only numpy arrays, dicts and scalars are "
                "allowed in a DEAP .dat file"
            ) from None


def safe_load(data: bytes):
    """Unpickle ``data`` (latin-1 strings, as DEAP's Python-2 pickles need) without running code."""
    return _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
