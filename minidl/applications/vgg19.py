"""keras.applications.vgg19: VGG19 and its preprocessing (the model is in vgg.py)."""
from minidl.applications.vgg import VGG19, decode_predictions, preprocess_input

__all__ = ["VGG19", "decode_predictions", "preprocess_input"]
