"""VGG16 and VGG19 (Simonyan & Zisserman, 2015), layer for layer as keras.applications builds
them (keras/src/applications/vgg16.py, vgg19.py): the same layer names, so that Keras's
ImageNet weights files load into them.

Five blocks of 3x3 convolutions ("same" padding, relu), each ending in a 2x2 max pooling
that halves the image; then, with the top, Flatten -> Dense(4096) -> Dense(4096) ->
Dense(classes). VGG16 has 2, 2, 3, 3, 3 convolutions per block, VGG19 2, 2, 4, 4, 4.
"""
from minidl import config, layers
from minidl.applications import imagenet_utils
from minidl.applications.imagenet_utils import decode_predictions  # noqa: F401  (re-exported)

FILTERS = (64, 128, 256, 512, 512)  # per block
HASHES = {  # Keras's files: (with the top, without it)
    "vgg16": ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
    "vgg19": ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"),
}


def VGG(convolutions, weights_name, name, include_top=True, weights="imagenet", input_tensor=None,
        input_shape=None, pooling=None, classes=1000, classifier_activation="softmax"):
    """A VGG network with `convolutions[b]` convolutions in block b (see the module);
    `weights_name` ("vgg16", "vgg19") names Keras's ImageNet weights files."""
    imagenet_utils.check_weights(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape, default_size=224, min_size=32, data_format=config.image_data_format(),
        require_flatten=include_top, weights=weights)
    img_input = imagenet_utils.image_input(input_tensor, input_shape)
    x = img_input
    for block, (filters, count) in enumerate(zip(FILTERS, convolutions), start=1):
        for i in range(1, count + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same",
                              name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.pooled(x, pooling)
    model = imagenet_utils.functional_model(input_tensor, img_input, x, name)
    top = "" if include_top else "_notop"
    return imagenet_utils.load_weights(
        model, weights, weights_name,
        f"{weights_name}_weights_tf_dim_ordering_tf_kernels{top}.h5",
        HASHES[weights_name][0 if include_top else 1])


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg16"):
    """VGG16: 13 convolutions and 3 dense layers; input 224x224x3 with the top.

    Args (as every keras.applications model):
        include_top: the three dense layers at the end (then the input must be 224x224x3).
        weights: None (random), "imagenet" (Keras's file, downloaded once) or a file's path.
        input_tensor: a KerasTensor to use as the input.
        input_shape: (H, W, 3) without the top, H and W at least 32.
        pooling: without the top, None (the last block's maps), "avg" or "max" (a vector).
        classes, classifier_activation: the top's last Dense layer.
    Preprocess images with `minidl.applications.vgg16.preprocess_input` ("caffe" mode).
    """
    return VGG((2, 2, 3, 3, 3), "vgg16", name, include_top, weights, input_tensor,
               input_shape, pooling, classes, classifier_activation)


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax", name="vgg19"):
    """VGG19: 16 convolutions and 3 dense layers (VGG16's arguments)."""
    return VGG((2, 2, 4, 4, 4), "vgg19", name, include_top, weights, input_tensor,
               input_shape, pooling, classes, classifier_activation)


def preprocess_input(x, data_format=None):
    """VGG's preprocessing: RGB -> BGR, minus ImageNet's mean pixel ("caffe" mode)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")
