"""keras.applications: the classic ImageNet networks, layer for layer as Keras builds them,
so that Keras's ImageNet weights files load into them by name and order.

    base = minidl.applications.VGG16(include_top=False, weights=None, input_shape=(64, 64, 3))
    base.trainable = False                       # transfer learning: freeze the base,
    x = minidl.applications.vgg16.preprocess_input(images)   # preprocess as it was trained

weights: None (random), "imagenet" (Keras's file, downloaded once into minidl's cache:
minidl.utils.get_file, checked against Keras's hash) or the path of a weights file.
Each model's module (vgg16, resnet, densenet, xception, inception_v3, mobilenet, ...) has
its preprocess_input and decode_predictions; imagenet_utils.py has what they share.
"""
from minidl.applications import (densenet, efficientnet, imagenet_utils, inception_v3, mobilenet,
                                  mobilenet_v2, resnet, resnet50, resnet_v2, vgg16, vgg19,
                                  xception)
from minidl.applications.densenet import DenseNet121, DenseNet169, DenseNet201
from minidl.applications.efficientnet import (EfficientNetB0, EfficientNetB1, EfficientNetB2,
                                              EfficientNetB3, EfficientNetB4, EfficientNetB5,
                                              EfficientNetB6, EfficientNetB7)
from minidl.applications.inception_v3 import InceptionV3
from minidl.applications.mobilenet import MobileNet
from minidl.applications.mobilenet_v2 import MobileNetV2
from minidl.applications.resnet import ResNet50, ResNet101, ResNet152
from minidl.applications.resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2
from minidl.applications.vgg import VGG16, VGG19
from minidl.applications.xception import Xception

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "EfficientNetB0", "EfficientNetB1",
           "EfficientNetB2", "EfficientNetB3", "EfficientNetB4", "EfficientNetB5",
           "EfficientNetB6", "EfficientNetB7", "InceptionV3", "MobileNet", "MobileNetV2",
           "ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2",
           "ResNet152V2", "VGG16", "VGG19", "Xception", "densenet", "efficientnet",
           "imagenet_utils", "inception_v3", "mobilenet", "mobilenet_v2", "resnet", "resnet50",
           "resnet_v2", "vgg16", "vgg19", "xception"]
