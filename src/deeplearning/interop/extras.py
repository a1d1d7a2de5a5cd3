"""The optional packages the conversions need, imported on first use with one clear line
where they are missing: NumPy stays the library's only runtime dependency."""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRAS = {"torch": "torch", "onnx": "interop", "onnxruntime": "interop", "safetensors": "interop"}
"""The extra (``pip install -e ".[extra]"``) that installs each optional package."""


def require(package: str, who: str) -> ModuleType:
    """``import package``, or an ImportError that names the extra which installs it.

    Parameters
    ----------
    package : str
        A key of `EXTRAS`: ``"torch"``, ``"onnx"``, ``"onnxruntime"`` or ``"safetensors"``.
    who : str
        The function that needs it, for the message.
    """
    try:
        return importlib.import_module(package)
    except ImportError:
        extra = EXTRAS[package]
        raise ImportError(
            f"{who} needs {package}, which is not installed: python -m pip install -e "
            f'".[{extra}]" from a clone, or python -m pip install {package}'
        ) from None
