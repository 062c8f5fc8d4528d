"""MobileNet (Howard et al., 2017), layer for layer as keras.applications builds it
(keras/src/applications/mobilenet.py), so that Keras's ImageNet weights files load into it.

A 3x3 stride-2 convolution, then 13 depthwise-separable blocks:
    3x3 depthwise conv (each channel on its own; stride 2 in blocks 2, 4, 6, 12) -> BN ->
    ReLU6 -> 1x1 conv (mixing the channels) -> BN -> ReLU6
`alpha` scales every width, `depth_multiplier` the depthwise outputs per channel. The top is
a 1x1 convolution over the pooled features (with dropout before it), reshaped to (classes,).
"""
from minidl import config, layers
from minidl.applications import imagenet_utils
from minidl.applications.imagenet_utils import decode_predictions  # noqa: F401  (re-exported)

SIZES = (128, 160, 192, 224)  # the image sizes Keras has ImageNet weights for
ALPHAS = {1.0: "1_0", 0.75: "7_5", 0.50: "5_0", 0.25: "2_5"}  # ... and widths, as it names them
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
          (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))  # (filters, stride), blocks 1-13


def MobileNet(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3, include_top=True,
              weights="imagenet", input_tensor=None, pooling=None, classes=1000,
              classifier_activation="softmax", name=None):
    """MobileNet: VGG16's arguments, and `alpha` (width), `depth_multiplier` and `dropout`
    (before the top's convolution). Preprocess images with
    minidl.applications.mobilenet.preprocess_input ("tf" mode: into [-1, 1])."""
    imagenet_utils.check_weights(
        weights, include_top, classes,
        weights_error="The `weights` argument should be either `None` (random "
                      "initialization), 'imagenet' (pre-training on ImageNet), or the path to "
                      "the weights file to be loaded. Received weights={weights}")
    rows = None if input_shape is None else input_shape[0]
    cols = None if input_shape is None else input_shape[1]
    default_size = rows if rows == cols and rows in SIZES else 224
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=32,
        data_format=config.image_data_format(), require_flatten=include_top, weights=weights)
    rows, cols = input_shape[0], input_shape[1]
    if weights == "imagenet":
        if depth_multiplier != 1:
            raise ValueError("If imagenet weights are being loaded, depth multiplier must be "
                             f"1.  Received depth_multiplier={depth_multiplier}")
        if alpha not in ALPHAS:
            raise ValueError("If imagenet weights are being loaded, alpha can be one of"
                             f"`0.25`, `0.50`, `0.75` or `1.0` only.  Received alpha={alpha}")
        rows = imagenet_utils.weights_size(rows, cols, SIZES)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = conv_block(img_input, 32, alpha, strides=(2, 2))
    for block_id, (filters, stride) in enumerate(BLOCKS, start=1):
        x = depthwise_conv_block(x, filters, alpha, depth_multiplier, strides=(stride, stride),
                                 block_id=block_id)
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, (1, 1), padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Activation(activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.pooled(x, pooling)
    name = name if name is not None else f"mobilenet_{alpha:0.2f}_{rows}"
    model = imagenet_utils.functional_model(input_tensor, img_input, x, name)
    top = "" if include_top else "_no_top"
    return imagenet_utils.load_weights(
        model, weights, "mobilenet", f"mobilenet_{ALPHAS.get(alpha)}_{rows}_tf{top}.h5")


def conv_block(inputs, filters, alpha, kernel=(3, 3), strides=(1, 1)):
    """The first convolution: Conv2D (no bias) -> BN -> ReLU6."""
    x = layers.Conv2D(int(filters * alpha), kernel, padding="same", use_bias=False,
                      strides=strides, name="conv1")(inputs)
    x = layers.BatchNormalization(axis=-1, name="conv1_bn")(x)
    return layers.ReLU(6.0, name="conv1_relu")(x)


def depthwise_conv_block(inputs, pointwise_conv_filters, alpha, depth_multiplier=1,
                         strides=(1, 1), block_id=1):
    """3x3 depthwise conv -> BN -> ReLU6 -> 1x1 conv -> BN -> ReLU6 (see the module); a
    stride-2 block pads one row and column at the bottom and right first."""
    x = inputs
    if strides != (1, 1):
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
    x = layers.DepthwiseConv2D((3, 3), padding="same" if strides == (1, 1) else "valid",
                               depth_multiplier=depth_multiplier, strides=strides,
                               use_bias=False, name=f"conv_dw_{block_id}")(x)
    x = layers.BatchNormalization(axis=-1, name=f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = layers.Conv2D(int(pointwise_conv_filters * alpha), (1, 1), padding="same",
                      use_bias=False, strides=(1, 1), name=f"conv_pw_{block_id}")(x)
    x = layers.BatchNormalization(axis=-1, name=f"conv_pw_{block_id}_bn")(x)
    return layers.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


def preprocess_input(x, data_format=None):
    """MobileNet's preprocessing: x / 127.5 - 1 ("tf" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")
