"""DenseNet121, 169 and 201 (Huang et al., 2017), layer for layer as keras.applications
builds them (keras/src/applications/densenet.py), so that Keras's ImageNet weights files load.

In a dense block every layer sees the channels of all the layers before it:
    x = concatenate([x, conv3x3(relu(bn(conv1x1(relu(bn(x))))))])    32 new channels each
and a transition between blocks halves the channels (1x1 convolution) and the image (2x2
average pooling). The stem is ResNet's: a 7x7 stride-2 convolution and a 3x3 max pooling.
"""
from minidl import config, layers
from minidl.applications import imagenet_utils
from minidl.applications.imagenet_utils import decode_predictions  # noqa: F401  (re-exported)

EPSILON = 1.001e-5  # every BatchNormalization's
GROWTH_RATE = 32  # the channels each conv_block adds
HASHES = {  # blocks per dense block: (name, hash with the top, hash without)
    (6, 12, 24, 16): ("densenet121", "9d60b8095a5708f2dcce2bca79d332c7",
                      "30ee3e1110167f948a6b9946edeeb738"),
    (6, 12, 32, 32): ("densenet169", "d699b8f76981ab1b30698df4c175e90b",
                      "b8c4d4c20dd625c148057b9ff1c1176b"),
    (6, 12, 48, 32): ("densenet201", "1ceb130c1ea1b78c3bf6114dbdfd8807",
                      "c13680b51ded0fb44dff2d8f86ac8bb1"),
}


def batch_norm(name):
    return layers.BatchNormalization(axis=3, epsilon=EPSILON, name=name)


def conv_block(x, growth_rate, name):
    """bn -> relu -> 1x1 conv (4 * growth_rate) -> bn -> relu -> 3x3 conv (growth_rate),
    its output concatenated to its input."""
    x1 = batch_norm(f"{name}_0_bn")(x)
    x1 = layers.Activation("relu", name=f"{name}_0_relu")(x1)
    x1 = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(x1)
    x1 = batch_norm(f"{name}_1_bn")(x1)
    x1 = layers.Activation("relu", name=f"{name}_1_relu")(x1)
    x1 = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False,
                       name=f"{name}_2_conv")(x1)
    return layers.Concatenate(axis=3, name=f"{name}_concat")([x, x1])


def dense_block(x, blocks, name):
    for i in range(blocks):
        x = conv_block(x, GROWTH_RATE, name=f"{name}_block{i + 1}")
    return x


def transition_block(x, reduction, name):
    """bn -> relu -> 1x1 conv to `reduction` of the channels -> 2x2 average pooling."""
    x = batch_norm(f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[3] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def DenseNet(blocks, include_top=True, weights="imagenet", input_tensor=None,
             input_shape=None, pooling=None, classes=1000, classifier_activation="softmax",
             name="densenet"):
    """A DenseNet with `blocks[b]` conv_blocks in dense block b."""
    imagenet_utils.check_weights(
        weights, include_top, classes,
        weights_error="The `weights` argument should be either `None` (random "
                      "initialization), `imagenet` (pre-training on ImageNet), or the path to "
                      "the weights file to be loaded.",
        classes_error='If using `weights` as `"imagenet"` with `include_top` as true, '
                      "`classes` should be 1000")
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=224, min_size=32, data_format=config.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = batch_norm("conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, count in enumerate(blocks, start=2):  # conv2 .. conv5, pool2 .. pool4 between
        x = dense_block(x, count, name=f"conv{stage}")
        if stage < 5:
            x = transition_block(x, 0.5, name=f"pool{stage}")
    x = batch_norm("bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    if include_top:
        x = imagenet_utils.classifier(x, classes, classifier_activation, weights, "avg_pool")
    else:
        x = imagenet_utils.pooled(x, pooling, "avg_pool", "max_pool")
    model = imagenet_utils.functional_model(input_tensor, img_input, x, name)
    weights_name, with_top, without_top = HASHES[tuple(blocks)]
    top = "" if include_top else "_notop"
    return imagenet_utils.load_weights(
        model, weights, "densenet", f"{weights_name}_weights_tf_dim_ordering_tf_kernels{top}.h5",
        with_top if include_top else without_top)


def DenseNet121(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet121"):
    """DenseNet121: dense blocks of 6, 12, 24, 16 layers (VGG16's arguments). Preprocess
    images with minidl.applications.densenet.preprocess_input ("torch" mode)."""
    return DenseNet([6, 12, 24, 16], include_top, weights, input_tensor, input_shape,
                    pooling, classes, classifier_activation, name=name)


def DenseNet169(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet169"):
    """DenseNet169: dense blocks of 6, 12, 32, 32 layers (VGG16's arguments)."""
    return DenseNet([6, 12, 32, 32], include_top, weights, input_tensor, input_shape,
                    pooling, classes, classifier_activation, name=name)


def DenseNet201(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax",
                name="densenet201"):
    """DenseNet201: dense blocks of 6, 12, 48, 32 layers (VGG16's arguments)."""
    return DenseNet([6, 12, 48, 32], include_top, weights, input_tensor, input_shape,
                    pooling, classes, classifier_activation, name=name)


def preprocess_input(x, data_format=None):
    """DenseNet's preprocessing: x / 255, then per channel minus mean, over std ("torch")."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")
