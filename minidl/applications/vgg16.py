"""keras.applications.vgg16: VGG16 and its preprocessing (the model is in vgg.py)."""
from minidl.applications.vgg import VGG16, decode_predictions, preprocess_input

__all__ = ["VGG16", "decode_predictions", "preprocess_input"]
