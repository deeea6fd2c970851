"""AudioSet models usable without TensorFlow: Google's YAMNet (Apache-2.0 weights) in PyTorch.

See :mod:`effnet_trm.audioset.yamnet` (the model), :mod:`effnet_trm.audioset.fetch` (where the weights
come from) and :mod:`effnet_trm.audioset.tensor_bundle` (the TensorFlow checkpoint reader).
"""

from .fetch import YAMNetUnavailable, yamnet_folder
from .tensor_bundle import TensorBundleError, read_tensor_bundle
from .yamnet import YAMNet, YAMNetOutput, load_yamnet, yamnet_class_names

__all__ = ["YAMNet", "YAMNetOutput", "YAMNetUnavailable", "TensorBundleError", "load_yamnet",
           "read_tensor_bundle", "yamnet_class_names", "yamnet_folder"]
