"""Xception (Chollet, 2017), layer for layer as keras.applications builds it
(keras/src/applications/xception.py), so that Keras's ImageNet weights files load into it.

Depthwise-separable convolutions (SeparableConv2D: each channel filtered on its own, then a
1x1 convolution mixes them) in residual blocks:
    entry flow:   two 3x3 convolutions, then 3 blocks of
                  [relu] -> sepconv -> BN -> relu -> sepconv -> BN -> 3x3 max pool (stride 2)
                  plus a strided 1x1 convolution (and BN) of the block's input
    middle flow:  8 blocks of 3 x (relu -> sepconv 728 -> BN), plus the block's input
    exit flow:    one more entry-flow block (728, 1024 filters), then two sepconv -> BN -> relu
The input is 299x299x3 with the top (at least 71x71 without).
"""
from minidl import config, layers
from minidl.applications import imagenet_utils
from minidl.applications.imagenet_utils import decode_predictions  # noqa: F401  (re-exported)

HASHES = ("0a58e3b7378bc2990ea3b43d5981f1f6", "b0042744bf5b25fce3cb969f33bebb97")


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="xception"):
    """Xception: VGG16's arguments; the input 299x299x3 by default. Preprocess images with
    minidl.applications.xception.preprocess_input ("tf" mode: into [-1, 1])."""
    imagenet_utils.check_weights(
        weights, include_top, classes,
        weights_error="The `weights` argument should be either `None` (random "
                      "initialization), 'imagenet' (pre-training on ImageNet), or the path to "
                      "the weights file to be loaded.")
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=299, min_size=71, data_format=config.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)

    x = layers.Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name="block1_conv1")(img_input)
    x = layers.BatchNormalization(axis=-1, name="block1_conv1_bn")(x)
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = layers.BatchNormalization(axis=-1, name="block1_conv2_bn")(x)
    x = layers.Activation("relu", name="block1_conv2_act")(x)
    x = downsampling_block(x, (128, 128), "block2", relu_first=False)
    x = downsampling_block(x, (256, 256), "block3")
    x = downsampling_block(x, (728, 728), "block4")
    for block in range(5, 13):
        x = middle_block(x, f"block{block}")
    x = downsampling_block(x, (728, 1024), "block13")
    for i, filters in enumerate((1536, 2048), start=1):
        x = layers.SeparableConv2D(filters, (3, 3), padding="same", use_bias=False,
                                   name=f"block14_sepconv{i}")(x)
        x = layers.BatchNormalization(axis=-1, name=f"block14_sepconv{i}_bn")(x)
        x = layers.Activation("relu", name=f"block14_sepconv{i}_act")(x)
    if include_top:
        x = imagenet_utils.classifier(x, classes, classifier_activation, weights, "avg_pool")
    else:
        x = imagenet_utils.pooled(x, pooling)
    model = imagenet_utils.functional_model(input_tensor, img_input, x, name)
    top = "" if include_top else "_notop"
    return imagenet_utils.load_weights(
        model, weights, "xception", f"xception_weights_tf_dim_ordering_tf_kernels{top}.h5",
        HASHES[0 if include_top else 1])


def downsampling_block(x, filters, name, relu_first=True):
    """Two separable convolutions and a stride-2 max pooling, plus a strided 1x1 convolution
    of the input (the shortcut, made first, as Keras makes it)."""
    residual = layers.Conv2D(filters[1], (1, 1), strides=(2, 2), padding="same",
                             use_bias=False)(x)
    residual = layers.BatchNormalization(axis=-1)(residual)
    for i, f in enumerate(filters, start=1):
        if i > 1 or relu_first:  # (block 2, right after the stem's relu, starts without)
            x = layers.Activation("relu", name=f"{name}_sepconv{i}_act")(x)
        x = layers.SeparableConv2D(f, (3, 3), padding="same", use_bias=False,
                                   name=f"{name}_sepconv{i}")(x)
        x = layers.BatchNormalization(axis=-1, name=f"{name}_sepconv{i}_bn")(x)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name=f"{name}_pool")(x)
    return layers.add([x, residual])


def middle_block(x, name):
    """Three times relu -> separable convolution (728) -> BN, plus the block's input."""
    residual = x
    for i in range(1, 4):
        x = layers.Activation("relu", name=f"{name}_sepconv{i}_act")(x)
        x = layers.SeparableConv2D(728, (3, 3), padding="same", use_bias=False,
                                   name=f"{name}_sepconv{i}")(x)
        x = layers.BatchNormalization(axis=-1, name=f"{name}_sepconv{i}_bn")(x)
    return layers.add([x, residual])


def preprocess_input(x, data_format=None):
    """Xception's preprocessing: x / 127.5 - 1 ("tf" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")
