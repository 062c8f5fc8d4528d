"""ResNet50, 101 and 152 (He et al., 2015) and their V2 versions (2016), layer for layer as
keras.applications builds them (keras/src/applications/resnet.py, resnet_v2.py), with the
same layer names, so that Keras's ImageNet weights files load into them.

A residual block adds its input back to what its three convolutions make of it:
    y = relu(x + bn(conv1x1(relu(bn(conv3x3(relu(bn(conv1x1(x)))))))))      (V1)
a 1x1 convolution and a BatchNormalization on the shortcut when the shape changes. V2
normalises first ("pre-activation"): y = x + conv1x1(relu(bn(conv3x3(relu(bn(conv1x1(
relu(bn(x))))))))). The stem: a 7x7 stride-2 convolution and a 3x3 stride-2 max pooling.
"""
from minidl import config, layers
from minidl.applications import imagenet_utils
from minidl.applications.imagenet_utils import decode_predictions  # noqa: F401  (re-exported)

EPSILON = 1.001e-5  # every BatchNormalization's
HASHES = {  # Keras's files: (with the top, without it)
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": ("3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": ("6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": ("a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
}


def batch_norm(name):
    return layers.BatchNormalization(axis=3, epsilon=EPSILON, name=name)


def ResNet(stack_fn, preact, use_bias, include_top=True, weights="imagenet",
           input_tensor=None, input_shape=None, pooling=None, classes=1000,
           classifier_activation="softmax", name="resnet", weights_name=None):
    """The stem, `stack_fn`'s residual stacks, and the top (or a pooling) of a ResNet."""
    imagenet_utils.check_weights(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=224, min_size=32, data_format=config.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = batch_norm("conv1_bn")(x)
        x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = stack_fn(x)
    if preact:
        x = batch_norm("post_bn")(x)
        x = layers.Activation("relu", name="post_relu")(x)
    if include_top:
        x = imagenet_utils.classifier(x, classes, classifier_activation, weights, "avg_pool")
    else:
        x = imagenet_utils.pooled(x, pooling, "avg_pool", "max_pool")
    model = imagenet_utils.functional_model(input_tensor, img_input, x, name)
    top = "" if include_top else "_notop"
    return imagenet_utils.load_weights(
        model, weights, "resnet", f"{weights_name}_weights_tf_dim_ordering_tf_kernels{top}.h5",
        HASHES[weights_name][0 if include_top else 1])


# -- V1: conv -> batch norm -> relu, the shortcut added before the last relu ----------------
def residual_block_v1(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """1x1 (filters) -> kernel_size (filters) -> 1x1 (4 * filters), plus the shortcut."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = batch_norm(f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = batch_norm(f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, kernel_size, padding="SAME", name=f"{name}_2_conv")(x)
    x = batch_norm(f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = batch_norm(f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack_residual_blocks_v1(x, filters, blocks, stride1=2, name=None):
    """`blocks` V1 blocks; the first changes the shape (stride1, a convolution shortcut)."""
    x = residual_block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


# -- V2: batch norm -> relu -> conv ("pre-activation"), nothing after the addition ------------
def residual_block_v2(x, filters, kernel_size=3, stride=1, conv_shortcut=False, name=None):
    """bn, relu, then 1x1 -> kernel_size (strided) -> 1x1 (4 * filters), plus the shortcut."""
    preact = batch_norm(f"{name}_preact_bn")(x)
    preact = layers.Activation("relu", name=f"{name}_preact_relu")(preact)
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride,
                                 name=f"{name}_0_conv")(preact)
    else:
        shortcut = layers.MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = layers.Conv2D(filters, 1, strides=1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = batch_norm(f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = layers.Conv2D(filters, kernel_size, strides=stride, use_bias=False,
                      name=f"{name}_2_conv")(x)
    x = batch_norm(f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return layers.Add(name=f"{name}_out")([shortcut, x])


def stack_residual_blocks_v2(x, filters, blocks, stride1=2, name=None):
    """`blocks` V2 blocks; the first has a convolution shortcut, the last the stride."""
    x = residual_block_v2(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = residual_block_v2(x, filters, name=f"{name}_block{i}")
    return residual_block_v2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def stages(stack, blocks, v2):
    """The four stages of residual blocks (64, 128, 256, 512 filters), `blocks[s]` in stage
    s, conv2 to conv5; V1 strides each stage's first block but conv2's, V2 each one's last
    but conv5's."""
    def stack_fn(x):
        strides = (2, 2, 2, 1) if v2 else (1, 2, 2, 2)
        for stage, (filters, count, stride) in enumerate(zip((64, 128, 256, 512), blocks,
                                                             strides), start=2):
            x = stack(x, filters, count, stride1=stride, name=f"conv{stage}")
        return x
    return stack_fn


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax", name="resnet50"):
    """ResNet50: stages of 3, 4, 6, 3 residual blocks; input 224x224x3 with the top.
    VGG16's arguments; preprocess images with minidl.applications.resnet.preprocess_input."""
    stack_fn = stages(stack_residual_blocks_v1, (3, 4, 6, 3), v2=False)
    return ResNet(stack_fn, False, True, include_top, weights, input_tensor, input_shape,
                  pooling, classes, classifier_activation, name, "resnet50")


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax", name="resnet101"):
    """ResNet101: stages of 3, 4, 23, 3 residual blocks; input 224x224x3 with the top.
    VGG16's arguments; preprocess images with minidl.applications.resnet.preprocess_input."""
    stack_fn = stages(stack_residual_blocks_v1, (3, 4, 23, 3), v2=False)
    return ResNet(stack_fn, False, True, include_top, weights, input_tensor, input_shape,
                  pooling, classes, classifier_activation, name, "resnet101")


def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax", name="resnet152"):
    """ResNet152: stages of 3, 8, 36, 3 residual blocks; input 224x224x3 with the top.
    VGG16's arguments; preprocess images with minidl.applications.resnet.preprocess_input."""
    stack_fn = stages(stack_residual_blocks_v1, (3, 8, 36, 3), v2=False)
    return ResNet(stack_fn, False, True, include_top, weights, input_tensor, input_shape,
                  pooling, classes, classifier_activation, name, "resnet152")


def ResNet50V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax", name="resnet50v2"):
    """ResNet50V2: stages of 3, 4, 6, 3 pre-activation residual blocks;
    input 224x224x3 with the top.
    VGG16's arguments; preprocess images with minidl.applications.resnet_v2.preprocess_input."""
    stack_fn = stages(stack_residual_blocks_v2, (3, 4, 6, 3), v2=True)
    return ResNet(stack_fn, True, True, include_top, weights, input_tensor, input_shape,
                  pooling, classes, classifier_activation, name, "resnet50v2")


def ResNet101V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax", name="resnet101v2"):
    """ResNet101V2: stages of 3, 4, 23, 3 pre-activation residual blocks;
    input 224x224x3 with the top.
    VGG16's arguments; preprocess images with minidl.applications.resnet_v2.preprocess_input."""
    stack_fn = stages(stack_residual_blocks_v2, (3, 4, 23, 3), v2=True)
    return ResNet(stack_fn, True, True, include_top, weights, input_tensor, input_shape,
                  pooling, classes, classifier_activation, name, "resnet101v2")


def ResNet152V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax", name="resnet152v2"):
    """ResNet152V2: stages of 3, 8, 36, 3 pre-activation residual blocks;
    input 224x224x3 with the top.
    VGG16's arguments; preprocess images with minidl.applications.resnet_v2.preprocess_input."""
    stack_fn = stages(stack_residual_blocks_v2, (3, 8, 36, 3), v2=True)
    return ResNet(stack_fn, True, True, include_top, weights, input_tensor, input_shape,
                  pooling, classes, classifier_activation, name, "resnet152v2")


def preprocess_input(x, data_format=None):
    """ResNet's (V1) preprocessing: RGB -> BGR, minus ImageNet's mean pixel ("caffe")."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")

