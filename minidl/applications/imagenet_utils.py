"""What every ImageNet model of keras.applications shares: its input preprocessing, the
decoding of its 1000 class scores, the checks of its arguments and the loading of its
weights (keras/src/applications/imagenet_utils.py).

Each model expects its images preprocessed the way it was trained:
    "caffe" (VGG, ResNet):   RGB -> BGR, then each channel minus its ImageNet mean:
                             x[..., c] -= [103.939, 116.779, 123.68][c]     (no scaling)
    "tf" (MobileNetV2):      x / 127.5 - 1                                  (into [-1, 1])
    "torch":                 x / 255, then per channel (x - mean[c]) / std[c],
                             mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225]
"""
import json
import os
import warnings

import numpy as np

from minidl import activations, config
from minidl.file_utils import get_file

CLASS_INDEX = None  # {"0": ["n01440764", "tench"], ...}, read once by decode_predictions
CLASS_INDEX_PATH = ("https://storage.googleapis.com/download.tensorflow.org/"
                    "data/imagenet_class_index.json")
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"
WEIGHTS_ROOT = "https://storage.googleapis.com/tensorflow/keras-applications/"

CAFFE_MEAN = [103.939, 116.779, 123.68]  # B, G, R: ImageNet's mean pixel
TORCH_MEAN, TORCH_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def preprocess_input(x, data_format=None, mode="caffe"):
    """A batch of RGB images (0-255) as a model trained in `mode` expects them (see above).

    As Keras's, a float array is changed in place (and returned); any other array is
    first cast to floatx.
    """
    if mode not in {"caffe", "tf", "torch"}:
        raise ValueError("Expected mode to be one of `caffe`, `tf` or `torch`. "
                         f"Received: mode={mode}")
    if data_format is None:
        data_format = config.image_data_format()
    elif data_format not in {"channels_first", "channels_last"}:
        raise ValueError("Expected data_format to be one of `channels_first` or "
                         f"`channels_last`. Received: data_format={data_format}")
    if not isinstance(x, np.ndarray):  # a KerasTensor in a model, a tensor of ops
        return _preprocess_tensor_input(x, data_format, mode)
    if not issubclass(x.dtype.type, np.floating):
        x = x.astype(config.floatx(), copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    channels = 0 if x.ndim == 3 else 1  # channels_first: (C,H,W) or (N,C,H,W)
    if mode == "torch":
        x /= 255.0
        mean, std = TORCH_MEAN, TORCH_STD
    else:  # caffe: RGB -> BGR (a reversed view: the caller's array still changes below)
        flip = [slice(None)] * x.ndim
        flip[channels if data_format == "channels_first" else -1] = slice(None, None, -1)
        x = x[tuple(flip)]
        mean, std = CAFFE_MEAN, None
    for c in range(3):
        where = [slice(None)] * x.ndim
        where[channels if data_format == "channels_first" else -1] = c
        x[tuple(where)] -= mean[c]
        if std is not None:
            x[tuple(where)] /= std[c]
    return x


def _preprocess_tensor_input(x, data_format, mode):
    """preprocess_input written with minidl.ops, as Keras's for tensors: inside a functional
    model (`x = vgg16.preprocess_input(inputs)`, Chollet's DLwP ch. 8) it is a part of the
    graph, trained through and saved with the model."""
    from minidl import ops

    if mode == "tf":
        return x / 127.5 - 1.0
    channels = (0 if len(x.shape) == 3 else 1) if data_format == "channels_first" else -1
    if mode == "torch":
        x = x / 255.0
        mean, std = TORCH_MEAN, TORCH_STD
    else:  # caffe: the channels in reverse order (RGB -> BGR)
        index = [slice(None)] * len(x.shape)
        bgr = []
        for c in (2, 1, 0):
            index[channels] = c
            bgr.append(x[tuple(index)])
        x = ops.stack(bgr, axis=channels)
        mean, std = CAFFE_MEAN, None
    shape = [1] * len(x.shape)
    shape[channels] = 3
    x = x + np.reshape(-np.array(mean, x.dtype), shape)
    if std is not None:
        x = x / np.reshape(np.array(std, x.dtype), shape)
    return x


def decode_predictions(preds, top=5):
    """[(class id, name, score), ...] for each row of `preds` (N, 1000), best first.

    The class names come from Keras's imagenet_class_index.json, downloaded once into
    minidl's cache (minidl.utils.get_file).
    """
    global CLASS_INDEX
    preds = np.asarray(preds)
    if len(preds.shape) != 2 or preds.shape[1] != 1000:
        raise ValueError("`decode_predictions` expects a batch of predictions (i.e. a 2D "
                         "array of shape (samples, 1000)). Received array with shape: "
                         f"{preds.shape}")
    if CLASS_INDEX is None:
        path = get_file("imagenet_class_index.json", CLASS_INDEX_PATH, cache_subdir="models",
                        file_hash=CLASS_INDEX_HASH)
        with open(path) as f:
            CLASS_INDEX = json.load(f)
    results = []
    for pred in preds:
        best = pred.argsort()[-top:][::-1]
        result = [tuple(CLASS_INDEX[str(i)]) + (pred[i],) for i in best]
        result.sort(key=lambda item: item[2], reverse=True)
        results.append(result)
    return results


# -- the models' arguments -------------------------------------------------------------------
WEIGHTS_ERROR = ("The `weights` argument should be either `None` (random initialization), "
                 "'imagenet' (pre-training on ImageNet), or the path to the weights file to be "
                 "loaded.  Received: weights={weights}")
CLASSES_ERROR = ("If using `weights='imagenet'` with `include_top=True`, `classes` should be "
                 "1000.  Received classes={classes}")


def check_weights(weights, include_top, classes, weights_error=WEIGHTS_ERROR,
                  classes_error=CLASSES_ERROR):
    """Keras's checks of `weights` (None, "imagenet" or a file) and of `classes`, with the
    messages of the model's Keras module (most say it as above)."""
    if not (weights in {"imagenet", None} or os.path.exists(weights)):
        raise ValueError(weights_error.format(weights=weights))
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(classes_error.format(classes=classes))


def obtain_input_shape(input_shape, default_size, min_size, data_format, require_flatten,
                       weights=None):
    """The model's input shape (H, W, C), checked as Keras checks it.

    With the top (require_flatten) the shape must be fixed, and with ImageNet weights and
    the top it must be the default (224, 224, 3); without the top any H, W >= min_size, or
    (None, None, 3) when no shape is given.
    """
    if data_format != "channels_last":
        raise ValueError("minidl's applications take channels-last images only (as all its "
                         f"convolutions). Received: data_format={data_format}")
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        if input_shape[-1] not in {1, 3}:
            warnings.warn("This model usually expects 1 or 3 input channels. However, it was "
                          f"passed an input_shape with {input_shape[-1]} input channels.",
                          stacklevel=3)
        default_shape = (default_size, default_size, input_shape[-1])
    else:
        default_shape = (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and input_shape != default_shape:
            raise ValueError("When setting `include_top=True` and loading `imagenet` weights, "
                             f"`input_shape` should be {default_shape}.  Received: "
                             f"input_shape={input_shape}")
        return default_shape
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError("`input_shape` must be a tuple of three integers.")
        if input_shape[-1] != 3 and weights == "imagenet":
            raise ValueError(f"The input must have 3 channels; Received "
                             f"`input_shape={input_shape}`")
        if any(size is not None and size < min_size for size in input_shape[:2]):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: "
                             f"input_shape={input_shape}")
    else:
        input_shape = default_shape if require_flatten else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError("If `include_top` is True, you should specify a static "
                         f"`input_shape`. Received: input_shape={input_shape}")
    return input_shape


def correct_pad(inputs, kernel_size):
    """((top, bottom), (left, right)): the zero padding before a stride-2 convolution that
    centres its windows as "same" padding would on an even size."""
    size = inputs.shape[1:3]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    correct = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((correct[0] - adjust[0], correct[0]), (correct[1] - adjust[1], correct[1]))


def validate_activation(classifier_activation, weights):
    """With pretrained weights, the top can end in softmax or in nothing (its logits)."""
    if weights is None:
        return
    if activations.get(classifier_activation) not in {activations.get("softmax"),
                                                      activations.get(None)}:
        raise ValueError(
            "Only `None` and `softmax` activations are allowed for the "
            "`classifier_activation` argument when using pretrained weights, with "
            f"`include_top=True`; Received: classifier_activation={classifier_activation}")


def classifier(x, classes, classifier_activation, weights, pool_name=None):
    """The usual top: each channel's mean over the image, then Dense(classes), named
    "predictions" (softmax or nothing with pretrained weights)."""
    from minidl import layers

    x = layers.GlobalAveragePooling2D(name=pool_name)(x)
    validate_activation(classifier_activation, weights)
    return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)


def pooled(x, pooling, avg_name=None, max_name=None):
    """Without the top: the last feature maps (pooling=None), or a vector of each channel's
    mean ("avg") or max ("max") over the image."""
    from minidl import layers

    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=max_name)(x)
    return x


def weights_size(rows, cols, sizes):
    """The image size of the ImageNet weights to load: the input's, if it is square and one
    of the `sizes` Keras has weights for, else 224, with Keras's warning (MobileNets)."""
    if rows == cols and rows in sizes:
        return rows
    warnings.warn(f"`input_shape` is undefined or non-square, or `rows` is not in "
                  f"{list(sizes)}. Weights for input shape (224, 224) will be loaded as the "
                  "default.", stacklevel=3)
    return 224


def image_input(input_tensor, input_shape):
    """The model's Input: a new one of `input_shape`, or the KerasTensor given."""
    from minidl.backend import is_keras_tensor
    from minidl.layers import Input

    if input_tensor is None:
        return Input(shape=input_shape)
    if not is_keras_tensor(input_tensor):
        raise ValueError("minidl's applications take as `input_tensor` a KerasTensor (from "
                         f"Input or a layer). Received: input_tensor={input_tensor!r}")
    return input_tensor


def functional_model(input_tensor, img_input, outputs, name):
    """Model(inputs, outputs): the inputs are those `input_tensor` comes from, if given."""
    from minidl.layers.symbolic import get_source_inputs
    from minidl.models import Model

    inputs = get_source_inputs(input_tensor) if input_tensor is not None else img_input
    return Model(inputs, outputs, name=name)


def load_weights(model, weights, folder, file_name, file_hash=None, root=WEIGHTS_ROOT):
    """ImageNet weights (Keras's file `root + folder/file_name`, downloaded once into
    minidl's cache and checked against its hash), or the weights file at `weights`; none for
    None."""
    if weights == "imagenet":
        origin = f"{root}{folder}/{file_name}" if folder else f"{root}{file_name}"
        weights = get_file(file_name, origin, cache_subdir="models", file_hash=file_hash)
    if weights is not None:
        model.load_weights(weights)
    return model
