"""keras.applications.resnet_v2: the pre-activation ResNets (built in resnet.py) and their
preprocessing, x / 127.5 - 1 ("tf" mode, unlike V1's "caffe")."""
from minidl.applications import imagenet_utils
from minidl.applications.imagenet_utils import decode_predictions
from minidl.applications.resnet import ResNet50V2, ResNet101V2, ResNet152V2

__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2", "decode_predictions",
           "preprocess_input"]


def preprocess_input(x, data_format=None):
    """ResNetV2's preprocessing: x / 127.5 - 1 ("tf" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")
