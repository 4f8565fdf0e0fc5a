"""The plan's ``.joblib`` scalers, read without ever running code from the file.

    from gx1.scaler_io import scaler_from_bytes, scaler_to_bytes
    scaler = scaler_from_bytes(blob, "seq_scaler.joblib")   # InputError naming the file on anything else

A joblib file is a pickle, and unpickling a pickle runs whatever callables it names. These files come
with bundles and contract folders that people pass around, so they are read through an allow-list
unpickler: scikit-learn's ``StandardScaler``, joblib's array wrapper (numeric dtypes only: an object
array would make joblib unpickle a nested, unrestricted pickle), and numpy's dtype/array/scalar
reconstruction. Any other global refuses the file before it is built. The result is then checked
(finite mean, positive finite scale, one length) and rebuilt from its numbers, so no attribute the
file set survives.
"""
from __future__ import annotations

import io
import pickle

import numpy as np
from joblib.numpy_pickle import NumpyArrayWrapper, NumpyUnpickler
from sklearn.preprocessing import StandardScaler

from gx1.common import InputError, printable

ALLOWED_GLOBALS = frozenset({
    ("sklearn.preprocessing._data", "StandardScaler"),
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
})
MAX_FEATURES = 4096


class _Refused(Exception):
    """The pickle names something outside the allow-list."""


class AllowListUnpickler(NumpyUnpickler):
    """joblib's unpickler, restricted to ALLOWED_GLOBALS and to numeric arrays."""

    dispatch = NumpyUnpickler.dispatch.copy()

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise _Refused(f"it names {module}.{name}, which is not on the allow-list")
        return super().find_class(module, name)

    def load_build(self):
        target, state = self.stack[-2], self.stack[-1]
        if isinstance(target, NumpyArrayWrapper):
            dtype = state.get("dtype") if isinstance(state, dict) else None
            if not isinstance(dtype, np.dtype) or dtype.hasobject:
                raise _Refused(f"an array of dtype {dtype!r} (only numeric arrays are allowed)")
        NumpyUnpickler.load_build(self)

    dispatch[pickle.BUILD[0]] = load_build

    def persistent_load(self, pid):
        raise _Refused("it uses persistent ids")


def scaler_from_bytes(blob: bytes, what: str) -> StandardScaler:
    """A fitted StandardScaler from joblib bytes, through the allow-list; InputError naming ``what`` otherwise."""
    if blob[:2] in (b"\x1f\x8b", b"x\x9c", b"x\x01", b"x\xda") or blob[:3] == b"BZh" or blob[:4] == b"\xfd7zX":
        raise InputError(f"{what} is a compressed joblib file: gx1 reads only uncompressed scalers (rerun gx1.contract)")
    try:
        obj = AllowListUnpickler("", io.BytesIO(blob), ensure_native_byte_order=True).load()
    except _Refused as exc:
        raise InputError(f"{what} refused: {printable(exc)} (a scaler file holds a StandardScaler and numeric arrays only)") from None
    except Exception as exc:  # noqa: BLE001 - any malformed pickle is bad input, reported by name
        raise InputError(f"{what} is not a readable joblib scaler ({type(exc).__name__}: {printable(exc)[:200]})") from None
    return _rebuilt(obj, what)


def _rebuilt(obj: object, what: str) -> StandardScaler:
    if type(obj) is not StandardScaler:
        raise InputError(f"{what} holds a {type(obj).__name__}, not a StandardScaler")
    state = vars(obj)
    n = state.get("n_features_in_")
    if type(n) is not int or not 1 <= n <= MAX_FEATURES:
        raise InputError(f"{what}: n_features_in_ {n!r} is not an int in [1, {MAX_FEATURES}]")
    arrays = {}
    for key in ("mean_", "var_", "scale_"):
        value = state.get(key)
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.shape != (n,):
            raise InputError(f"{what}: {key} is not a float array of {n} values")
        if not np.isfinite(value).all():
            raise InputError(f"{what}: {key} holds non-finite values (refit the scalers with gx1.contract)")
        arrays[key] = np.array(value, dtype=np.float64)
    if not (arrays["scale_"] > 0).all():
        raise InputError(f"{what}: scale_ holds zeros or negative values (refit the scalers with gx1.contract)")
    scaler = StandardScaler()
    scaler.n_features_in_ = n
    scaler.mean_, scaler.var_, scaler.scale_ = arrays["mean_"], arrays["var_"], arrays["scale_"]
    seen = state.get("n_samples_seen_")
    numeric = isinstance(seen, (int, float, np.integer, np.floating)) and not isinstance(seen, bool)
    scaler.n_samples_seen_ = np.float64(seen) if numeric and np.isfinite(seen) else np.float64(0)
    return scaler


def scaler_to_bytes(scaler: StandardScaler) -> bytes:
    """joblib bytes of a scaler (uncompressed): what ``scaler_from_bytes`` reads back."""
    import joblib
    buffer = io.BytesIO()
    joblib.dump(scaler, buffer)
    return buffer.getvalue()
