"""AudioSet models usable without TensorFlow: Google's YAMNet (Apache-2.0 weights) in PyTorch.

See :mod:`effnet_trm.audioset.yamnet` (the model), :mod:`effnet_trm.audioset.fetch` (where the weights
come from) and :mod:`effnet_trm.audioset.tensor_bundle` (the TensorFlow checkpoint reader). Names are
imported lazily, so that ``python -m effnet_trm.audioset.fetch`` / ``.yamnet`` run cleanly.
"""

from importlib import import_module

_EXPORTS = {
    "YAMNet": "yamnet",
    "YAMNetOutput": "yamnet",
    "load_yamnet": "yamnet",
    "yamnet_class_names": "yamnet",
    "YAMNetUnavailable": "fetch",
    "yamnet_folder": "fetch",
    "TensorBundleError": "tensor_bundle",
    "read_tensor_bundle": "tensor_bundle",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
