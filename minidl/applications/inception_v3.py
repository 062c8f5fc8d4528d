"""InceptionV3 (Szegedy et al., 2015), layer for layer as keras.applications builds it
(keras/src/applications/inception_v3.py), so that Keras's ImageNet weights files load into it.

Every convolution is `conv2d_bn`: Conv2D (no bias) -> BatchNormalization (no scale) -> relu.
An Inception block runs several branches side by side on the same input (1x1, 5x5 or
factorised 7x7 as 1x7 then 7x1, two 3x3 in a row, a pooling then 1x1) and concatenates their
channels ("mixed0" ... "mixed10"); two reduction blocks halve the image with stride-2 branches.
The input is 299x299x3 with the top (at least 75x75 without).
"""
from minidl import config, layers
from minidl.applications import imagenet_utils
from minidl.applications.imagenet_utils import decode_predictions  # noqa: F401  (re-exported)

HASHES = ("9a0d58056eeedaa3f26cb7ebd46da564", "bcbd6486424b2319ff4ef7d526e38f63")


def InceptionV3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="inception_v3"):
    """InceptionV3: VGG16's arguments; the input 299x299x3 by default. Preprocess images with
    minidl.applications.inception_v3.preprocess_input ("tf" mode: into [-1, 1])."""
    imagenet_utils.check_weights(
        weights, include_top, classes,
        weights_error="The `weights` argument should be either `None` (random "
                      "initialization), `imagenet` (pre-training on ImageNet), or the path to "
                      "the weights file to be loaded; Received: weights={weights}",
        classes_error='If using `weights="imagenet"` with `include_top=True`, `classes` '
                      "should be 1000. Received classes={classes}")
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=299, min_size=75, data_format=config.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)

    x = conv2d_bn(img_input, 32, 3, 3, strides=(2, 2), padding="valid")  # the stem
    x = conv2d_bn(x, 32, 3, 3, padding="valid")
    x = conv2d_bn(x, 64, 3, 3)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = conv2d_bn(x, 80, 1, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, 3, padding="valid")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    for i, pool_filters in enumerate((32, 64, 64)):  # 35x35: mixed0, 1, 2
        x = block_5x5(x, pool_filters, f"mixed{i}")
    x = reduction_a(x)  # mixed3: 35x35 -> 17x17
    for i, filters in enumerate((128, 160, 160, 192), start=4):  # 17x17: mixed4 to 7
        x = block_7x7(x, filters, f"mixed{i}")
    x = reduction_b(x)  # mixed8: 17x17 -> 8x8
    for i in range(2):  # 8x8: mixed9, 10
        x = block_3x3_split(x, i)
    if include_top:
        x = imagenet_utils.classifier(x, classes, classifier_activation, weights, "avg_pool")
    else:
        x = imagenet_utils.pooled(x, pooling)
    model = imagenet_utils.functional_model(input_tensor, img_input, x, name)
    top = "" if include_top else "_notop"
    return imagenet_utils.load_weights(
        model, weights, "inception_v3",
        f"inception_v3_weights_tf_dim_ordering_tf_kernels{top}.h5",
        HASHES[0 if include_top else 1])


def conv2d_bn(x, filters, num_row, num_col, padding="same", strides=(1, 1), name=None):
    """Conv2D (num_row x num_col, no bias) -> BatchNormalization (scale=False) -> relu."""
    x = layers.Conv2D(filters, (num_row, num_col), strides=strides, padding=padding,
                      use_bias=False, name=None if name is None else f"{name}_conv")(x)
    x = layers.BatchNormalization(axis=3, scale=False,
                                  name=None if name is None else f"{name}_bn")(x)
    return layers.Activation("relu", name=name)(x)


def average_pool_branch(x, filters):
    """A 3x3 average pooling (stride 1, "same"), then a 1x1 conv2d_bn."""
    branch = layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(x)
    return conv2d_bn(branch, filters, 1, 1)


def block_5x5(x, pool_filters, name):
    """Branches 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | pool -> 1x1, concatenated."""
    branch1x1 = conv2d_bn(x, 64, 1, 1)
    branch5x5 = conv2d_bn(conv2d_bn(x, 48, 1, 1), 64, 5, 5)
    branch3x3dbl = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3)
    branch_pool = average_pool_branch(x, pool_filters)
    return layers.concatenate([branch1x1, branch5x5, branch3x3dbl, branch_pool], axis=3,
                              name=name)


def reduction_a(x):
    """Stride-2 branches 3x3 | 1x1 -> 3x3 -> 3x3 | max pool, concatenated ("mixed3")."""
    branch3x3 = conv2d_bn(x, 384, 3, 3, strides=(2, 2), padding="valid")
    branch3x3dbl = conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3, strides=(2, 2), padding="valid")
    branch_pool = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    return layers.concatenate([branch3x3, branch3x3dbl, branch_pool], axis=3, name="mixed3")


def block_7x7(x, filters, name):
    """Branches 1x1 | 1x1 -> 1x7 -> 7x1 | 1x1 -> (7x1 -> 1x7) twice | pool -> 1x1: a 7x7
    window factorised into two thin ones; `filters` inside the branches, 192 out of each."""
    branch1x1 = conv2d_bn(x, 192, 1, 1)
    branch7x7 = conv2d_bn(x, filters, 1, 1)
    branch7x7 = conv2d_bn(branch7x7, filters, 1, 7)
    branch7x7 = conv2d_bn(branch7x7, 192, 7, 1)
    branch7x7dbl = conv2d_bn(x, filters, 1, 1)
    for rows, cols, out in ((7, 1, filters), (1, 7, filters), (7, 1, filters), (1, 7, 192)):
        branch7x7dbl = conv2d_bn(branch7x7dbl, out, rows, cols)
    branch_pool = average_pool_branch(x, 192)
    return layers.concatenate([branch1x1, branch7x7, branch7x7dbl, branch_pool], axis=3,
                              name=name)


def reduction_b(x):
    """Stride-2 branches 1x1 -> 3x3 | 1x1 -> 1x7 -> 7x1 -> 3x3 | max pool ("mixed8")."""
    branch3x3 = conv2d_bn(x, 192, 1, 1)
    branch3x3 = conv2d_bn(branch3x3, 320, 3, 3, strides=(2, 2), padding="valid")
    branch7x7x3 = conv2d_bn(x, 192, 1, 1)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 1, 7)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 7, 1)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 3, 3, strides=(2, 2), padding="valid")
    branch_pool = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    return layers.concatenate([branch3x3, branch7x7x3, branch_pool], axis=3, name="mixed8")


def block_3x3_split(x, i):
    """Branches 1x1 | 1x1 -> (1x3 | 3x1) | 1x1 -> 3x3 -> (1x3 | 3x1) | pool -> 1x1, where
    (a | b) are two convolutions of the same input side by side ("mixed9", "mixed10")."""
    branch1x1 = conv2d_bn(x, 320, 1, 1)
    branch3x3 = conv2d_bn(x, 384, 1, 1)
    branch3x3 = layers.concatenate(
        [conv2d_bn(branch3x3, 384, 1, 3), conv2d_bn(branch3x3, 384, 3, 1)], axis=3,
        name=f"mixed9_{i}")
    branch3x3dbl = conv2d_bn(conv2d_bn(x, 448, 1, 1), 384, 3, 3)
    branch3x3dbl = layers.concatenate(
        [conv2d_bn(branch3x3dbl, 384, 1, 3), conv2d_bn(branch3x3dbl, 384, 3, 1)], axis=3)
    branch_pool = average_pool_branch(x, 192)
    return layers.concatenate([branch1x1, branch3x3, branch3x3dbl, branch_pool], axis=3,
                              name=f"mixed{9 + i}")


def preprocess_input(x, data_format=None):
    """InceptionV3's preprocessing: x / 127.5 - 1 ("tf" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")
