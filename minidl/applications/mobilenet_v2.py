"""MobileNetV2 (Sandler et al., 2018), layer for layer as keras.applications builds it
(keras/src/applications/mobilenet_v2.py), with the same layer names, so that Keras's
ImageNet weights files load into it.

Its inverted residual block widens, filters each channel on its own, and narrows again:
    x -> 1x1 conv to t*C channels -> BN -> ReLU6            (expand; t = 6, none in block 0)
      -> 3x3 depthwise conv (stride s) -> BN -> ReLU6       (each channel on its own)
      -> 1x1 conv to F channels -> BN                       (project; no activation)
      (+ x, when s = 1 and F = C)
ReLU6 is min(max(x, 0), 6). `alpha` scales every width (the filters are rounded to
multiples of 8, as Keras's _make_divisible).
"""
from minidl import config, layers
from minidl.applications import imagenet_utils
from minidl.applications.imagenet_utils import decode_predictions  # noqa: F401  (re-exported)
from minidl.backend import is_keras_tensor

SIZES = (96, 128, 160, 192, 224)  # the image sizes Keras has ImageNet weights for
ALPHAS = (0.35, 0.50, 0.75, 1.0, 1.3, 1.4)  # the widths Keras has ImageNet weights for
BLOCKS = (  # (filters, stride, expansion) of blocks 0 to 16
    (16, 1, 1),
    (24, 2, 6), (24, 1, 6),
    (32, 2, 6), (32, 1, 6), (32, 1, 6),
    (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6),
    (96, 1, 6), (96, 1, 6), (96, 1, 6),
    (160, 2, 6), (160, 1, 6), (160, 1, 6),
    (320, 1, 6),
)


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet",
                input_tensor=None, pooling=None, classes=1000,
                classifier_activation="softmax", name=None):
    """MobileNetV2: a stride-2 convolution, 17 inverted residual blocks, a 1x1 convolution to
    1280 channels and the top.

    Args: VGG16's, and `alpha`, the width multiplier (1.0: the paper's network). The input
    is 224x224x3 by default (96, 128, 160 or 192 square as well); preprocess images with
    minidl.applications.mobilenet_v2.preprocess_input ("tf" mode: into [-1, 1]).
    """
    imagenet_utils.check_weights(
        weights, include_top, classes,
        weights_error="The `weights` argument should be either `None` (random "
                      "initialization), `imagenet` (pre-training on ImageNet), or the path to "
                      "the weights file to be loaded.  Received `weights={weights}`",
        classes_error='If using `weights="imagenet"` with `include_top` as true, `classes` '
                      "should be 1000. Received `classes={classes}`")
    if input_shape is not None and input_tensor is not None:
        if not is_keras_tensor(input_tensor):
            raise ValueError(f"input_tensor is not a Keras tensor; Received "
                             f"`input_tensor={input_tensor}`")
        if input_tensor.shape[2] != input_shape[1]:
            raise ValueError("input_tensor.shape[2] must equal input_shape[1]; Received "
                             f"`input_tensor.shape={input_tensor.shape}`, "
                             f"`input_shape={input_shape}`")
    if input_shape is None and input_tensor is not None:
        rows, cols = (input_tensor.shape[1:3] if is_keras_tensor(input_tensor)
                      else (None, None))
    elif input_shape is None:
        rows, cols = None, None
    else:
        rows, cols = input_shape[0], input_shape[1]
    default_size = rows if rows == cols and rows in SIZES else 224
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=32,
        data_format=config.image_data_format(), require_flatten=include_top, weights=weights)
    rows, cols = input_shape[0], input_shape[1]
    if weights == "imagenet":
        if alpha not in ALPHAS:
            raise ValueError("If imagenet weights are being loaded, alpha must be one of "
                             "`0.35`, `0.50`, `0.75`, `1.0`, `1.3` or `1.4` only; Received "
                             f"`alpha={alpha}`")
        rows = imagenet_utils.weights_size(rows, cols, SIZES)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)

    x = layers.Conv2D(make_divisible(32 * alpha, 8), kernel_size=3, strides=(2, 2),
                      padding="same", use_bias=False, name="Conv1")(img_input)
    x = batch_norm("bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(BLOCKS):
        x = inverted_res_block(x, expansion=expansion, stride=stride, alpha=alpha,
                               filters=filters, block_id=block_id)
    last_block_filters = make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_block_filters, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = batch_norm("Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    if include_top:
        x = imagenet_utils.classifier(x, classes, classifier_activation, weights)
    else:
        x = imagenet_utils.pooled(x, pooling)
    name = name if name is not None else f"mobilenetv2_{alpha:0.2f}_{rows}"
    model = imagenet_utils.functional_model(input_tensor, img_input, x, name)
    top = "" if include_top else "_no_top"
    return imagenet_utils.load_weights(
        model, weights, "mobilenet_v2",
        f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}{top}.h5")


def batch_norm(name):
    return layers.BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.999, name=name)


def inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    """One inverted residual block (see the module), named as Keras names it."""
    in_channels = inputs.shape[-1]
    pointwise_filters = make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_"
    if block_id:
        x = layers.Conv2D(expansion * in_channels, kernel_size=1, padding="same",
                          use_bias=False, activation=None, name=f"{prefix}expand")(x)
        x = batch_norm(f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3),
                                 name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(kernel_size=3, strides=stride, activation=None, use_bias=False,
                               padding="same" if stride == 1 else "valid",
                               name=f"{prefix}depthwise")(x)
    x = batch_norm(f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(pointwise_filters, kernel_size=1, padding="same", use_bias=False,
                      activation=None, name=f"{prefix}project")(x)
    x = batch_norm(f"{prefix}project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def make_divisible(v, divisor, min_value=None):
    """v rounded to the nearest multiple of divisor (at least min_value, and never below
    0.9 v): the channel counts of a network of width alpha."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def preprocess_input(x, data_format=None):
    """MobileNetV2's preprocessing: x / 127.5 - 1 ("tf" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")
