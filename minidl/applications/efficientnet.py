"""EfficientNetB0 to B7 (Tan & Le, 2019), layer for layer as keras.applications builds them
(keras/src/applications/efficientnet.py), so that Keras's ImageNet weights files load.

The model takes raw pixels (0-255): its first layers rescale them to [0, 1] and normalise
them (a Normalization layer whose mean and variance come with the ImageNet weights).
Its block (MBConv) is MobileNetV2's inverted residual with a squeeze-and-excitation:
    x -> 1x1 conv to 6C (expand) -> BN -> swish -> kxk depthwise conv -> BN -> swish
      -> x * sigmoid(conv1x1(swish(conv1x1(global average of x))))   (channel weights)
      -> 1x1 conv to F (project) -> BN  (+ input, with dropout of whole samples, when the
                                         shape allows: stochastic depth)
B1 to B7 scale the widths (width_coefficient), the repeats (depth_coefficient) and the image.
"""
import math

from minidl import config, layers
from minidl.applications import imagenet_utils
from minidl.applications.imagenet_utils import decode_predictions  # noqa: F401  (re-exported)

WEIGHTS_ROOT = "https://storage.googleapis.com/keras-applications/"
HASHES = {  # Keras's files: (with the top, without it)
    "b0": ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    "b1": ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    "b2": ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    "b3": ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
    "b4": ("18c95ad55216b8f92d7e70b3a046e2fc", "ebc24e6d6c33eaebbd558eafbeedf1ba"),
    "b5": ("ace28f2a6363774853a83a0b21b9421a", "38879255a25d3c92d5e44e04ae6cec6f"),
    "b6": ("165f6e37dce68623721b423839de8be5", "9ecce42647a20130c1f39a5d4cb75743"),
    "b7": ("8c03f828fec3ef71311cd463b6759d99", "cbcfe4450ddf6f3ad90b1b398090fe4a"),
}
BLOCKS = (  # (kernel, repeats, filters in, filters out, expansion, strides) per stage;
    (3, 1, 32, 16, 1, 1),  # every block has a squeeze-and-excitation of ratio 0.25
    (3, 2, 16, 24, 6, 2),
    (5, 2, 24, 40, 6, 2),
    (3, 3, 40, 80, 6, 2),
    (5, 3, 80, 112, 6, 1),
    (5, 4, 112, 192, 6, 2),
    (3, 1, 192, 320, 6, 1),
)
SE_RATIO = 0.25
CONV_KERNEL_INITIALIZER = {"class_name": "VarianceScaling", "config": {
    "scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}}
DENSE_KERNEL_INITIALIZER = {"class_name": "VarianceScaling", "config": {
    "scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}}
IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225]


def EfficientNet(width_coefficient, depth_coefficient, default_size, dropout_rate=0.2,
                 drop_connect_rate=0.2, depth_divisor=8, activation="swish",
                 name="efficientnet", include_top=True, weights="imagenet", input_tensor=None,
                 input_shape=None, pooling=None, classes=1000,
                 classifier_activation="softmax", weights_name=None):
    """An EfficientNet whose widths are scaled by `width_coefficient` and repeats by
    `depth_coefficient`; `drop_connect_rate` is the last block's stochastic-depth rate (the
    b-th block of B has drop_connect_rate * b / B)."""
    imagenet_utils.check_weights(
        weights, include_top, classes,
        weights_error="The `weights` argument should be either `None` (random "
                      "initialization), `imagenet` (pre-training on ImageNet), or the path to "
                      "the weights file to be loaded.",
        classes_error='If using `weights="imagenet"` with `include_top` as true, `classes` '
                      "should be 1000")
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=default_size, min_size=32,
        data_format=config.image_data_format(), require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)

    def round_filters(filters, divisor=depth_divisor):
        """filters * width_coefficient, rounded to a multiple of divisor (never below 90%)."""
        filters *= width_coefficient
        new_filters = max(divisor, int(filters + divisor / 2) // divisor * divisor)
        return int(new_filters + divisor if new_filters < 0.9 * filters else new_filters)

    def round_repeats(repeats):
        return int(math.ceil(depth_coefficient * repeats))

    x = layers.Rescaling(1.0 / 255.0)(img_input)
    x = layers.Normalization(axis=3)(x)
    if weights == "imagenet":  # (as Keras's: its ImageNet files need this rescaling too)
        x = layers.Rescaling([1.0 / math.sqrt(stddev) for stddev in IMAGENET_STDDEV_RGB])(x)
    x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3), name="stem_conv_pad")(x)
    x = layers.Conv2D(round_filters(32), 3, strides=2, padding="valid", use_bias=False,
                      kernel_initializer=CONV_KERNEL_INITIALIZER, name="stem_conv")(x)
    x = layers.BatchNormalization(axis=3, name="stem_bn")(x)
    x = layers.Activation(activation, name="stem_activation")(x)
    b, total = 0, float(sum(round_repeats(stage[1]) for stage in BLOCKS))
    for i, (kernel, repeats, filters_in, filters_out, expansion, strides) in enumerate(BLOCKS):
        filters_in, filters_out = round_filters(filters_in), round_filters(filters_out)
        for j in range(round_repeats(repeats)):
            x = block(x, activation, drop_connect_rate * b / total,
                      name=f"block{i + 1}{chr(j + 97)}_",  # block1a_, block2a_, block2b_, ...
                      filters_in=filters_in if j == 0 else filters_out,
                      filters_out=filters_out, kernel_size=kernel,
                      strides=strides if j == 0 else 1, expand_ratio=expansion,
                      se_ratio=SE_RATIO)
            b += 1
    x = layers.Conv2D(round_filters(1280), 1, padding="same", use_bias=False,
                      kernel_initializer=CONV_KERNEL_INITIALIZER, name="top_conv")(x)
    x = layers.BatchNormalization(axis=3, name="top_bn")(x)
    x = layers.Activation(activation, name="top_activation")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name="top_dropout")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation,
                         kernel_initializer=DENSE_KERNEL_INITIALIZER, name="predictions")(x)
    else:
        x = imagenet_utils.pooled(x, pooling, "avg_pool", "max_pool")
    model = imagenet_utils.functional_model(input_tensor, img_input, x, name)
    suffix, index = (".h5", 0) if include_top else ("_notop.h5", 1)
    return imagenet_utils.load_weights(  # (Keras's file is named after the model's name)
        model, weights, "", name + suffix, HASHES.get(weights_name, (None, None))[index],
        root=WEIGHTS_ROOT)


def block(inputs, activation="swish", drop_rate=0.0, name="", filters_in=32, filters_out=16,
          kernel_size=3, strides=1, expand_ratio=1, se_ratio=0.0, id_skip=True):
    """One MBConv block with squeeze-and-excitation (see the module)."""
    filters = filters_in * expand_ratio
    x = inputs
    if expand_ratio != 1:
        x = layers.Conv2D(filters, 1, padding="same", use_bias=False,
                          kernel_initializer=CONV_KERNEL_INITIALIZER,
                          name=f"{name}expand_conv")(x)
        x = layers.BatchNormalization(axis=3, name=f"{name}expand_bn")(x)
        x = layers.Activation(activation, name=f"{name}expand_activation")(x)
    if strides == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, kernel_size),
                                 name=f"{name}dwconv_pad")(x)
    x = layers.DepthwiseConv2D(kernel_size, strides=strides,
                               padding="valid" if strides == 2 else "same", use_bias=False,
                               depthwise_initializer=CONV_KERNEL_INITIALIZER,
                               name=f"{name}dwconv")(x)
    x = layers.BatchNormalization(axis=3, name=f"{name}bn")(x)
    x = layers.Activation(activation, name=f"{name}activation")(x)
    if 0 < se_ratio <= 1:  # squeeze (average each channel) and excite (weight each channel)
        se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
        se = layers.Reshape((1, 1, filters), name=f"{name}se_reshape")(se)
        se = layers.Conv2D(max(1, int(filters_in * se_ratio)), 1, padding="same",
                           activation=activation, kernel_initializer=CONV_KERNEL_INITIALIZER,
                           name=f"{name}se_reduce")(se)
        se = layers.Conv2D(filters, 1, padding="same", activation="sigmoid",
                           kernel_initializer=CONV_KERNEL_INITIALIZER,
                           name=f"{name}se_expand")(se)
        x = layers.multiply([x, se], name=f"{name}se_excite")
    x = layers.Conv2D(filters_out, 1, padding="same", use_bias=False,
                      kernel_initializer=CONV_KERNEL_INITIALIZER, name=f"{name}project_conv")(x)
    x = layers.BatchNormalization(axis=3, name=f"{name}project_bn")(x)
    if id_skip and strides == 1 and filters_in == filters_out:
        if drop_rate > 0:  # stochastic depth: the whole block dropped for some samples
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = layers.add([x, inputs], name=f"{name}add")
    return x


def EfficientNetB0(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax",
                   name="efficientnetb0"):
    """EfficientNetB0: the base network, 224x224 images by default. VGG16's arguments;
    it takes raw pixels (0-255), its preprocess_input returns them as they are."""
    return EfficientNet(1.0, 1.0, 224, 0.2, name=name, include_top=include_top,
                        weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                        pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name="b0")


def EfficientNetB1(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax",
                   name="efficientnetb1"):
    """EfficientNetB1: B0's widths x1.0, repeats x1.1, 240x240 images, dropout 0.2."""
    return EfficientNet(1.0, 1.1, 240, 0.2, name=name, include_top=include_top,
                        weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                        pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name="b1")


def EfficientNetB2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax",
                   name="efficientnetb2"):
    """EfficientNetB2: B0's widths x1.1, repeats x1.2, 260x260 images, dropout 0.3."""
    return EfficientNet(1.1, 1.2, 260, 0.3, name=name, include_top=include_top,
                        weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                        pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name="b2")


def EfficientNetB3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax",
                   name="efficientnetb3"):
    """EfficientNetB3: B0's widths x1.2, repeats x1.4, 300x300 images, dropout 0.3."""
    return EfficientNet(1.2, 1.4, 300, 0.3, name=name, include_top=include_top,
                        weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                        pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name="b3")


def EfficientNetB4(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax",
                   name="efficientnetb4"):
    """EfficientNetB4: B0's widths x1.4, repeats x1.8, 380x380 images, dropout 0.4."""
    return EfficientNet(1.4, 1.8, 380, 0.4, name=name, include_top=include_top,
                        weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                        pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name="b4")


def EfficientNetB5(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax",
                   name="efficientnetb5"):
    """EfficientNetB5: B0's widths x1.6, repeats x2.2, 456x456 images, dropout 0.4."""
    return EfficientNet(1.6, 2.2, 456, 0.4, name=name, include_top=include_top,
                        weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                        pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name="b5")


def EfficientNetB6(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax",
                   name="efficientnetb6"):
    """EfficientNetB6: B0's widths x1.8, repeats x2.6, 528x528 images, dropout 0.5."""
    return EfficientNet(1.8, 2.6, 528, 0.5, name=name, include_top=include_top,
                        weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                        pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name="b6")


def EfficientNetB7(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax",
                   name="efficientnetb7"):
    """EfficientNetB7: B0's widths x2.0, repeats x3.1, 600x600 images, dropout 0.5."""
    return EfficientNet(2.0, 3.1, 600, 0.5, name=name, include_top=include_top,
                        weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                        pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name="b7")


def preprocess_input(x, data_format=None):
    """EfficientNet's preprocessing is inside the model: x is returned as it is."""
    return x
