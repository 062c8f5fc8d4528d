"""minidl's layers, one family per file; `minidl.layers.Dense` as `keras.layers.Dense`.

    base.py            Layer: the protocol (forward/backward) and __call__
    input_layer.py     Input, InputLayer;  symbolic.py: KerasTensor and Node (functional wiring)
    core.py            Dense, Activation
    einsum_dense.py    EinsumDense (Dense with any einsum: z = einsum(eq, x, W) + b)
    embedding.py       Embedding (token ids -> vectors; its gradient is rows: minidl/sparse.py)
    masking.py         Masking (padded time steps masked downstream: minidl/masks.py)
    convolutional.py   Conv2D, Conv1D, Conv3D (im2col + one matrix product)
    conv_transpose.py  Conv2DTranspose, Conv1DTranspose, Conv3DTranspose (Conv2D's input
                       gradient as a forward)
    depthwise.py       DepthwiseConv2D/1D, SeparableConv2D/1D (one kernel per channel, then 1x1)
    pooling.py         MaxPooling2D/1D/3D, AveragePooling2D/1D/3D,
                       GlobalAverage/GlobalMaxPooling2D/1D/3D
    reshaping.py       Flatten, Reshape, Permute, RepeatVector, Identity
    spatial.py         ZeroPadding1D/2D/3D, Cropping1D/2D/3D, UpSampling1D/2D/3D
    regularization.py  Dropout, AlphaDropout, SpatialDropout1D/2D/3D, GaussianNoise,
                       GaussianDropout, ActivityRegularization
    normalization.py   BatchNormalization, LayerNormalization, RMSNormalization
    group_normalization.py  GroupNormalization (per sample and group of channels),
                       UnitNormalization (x / ||x||)
    preprocessing.py   Normalization, Rescaling, Resizing, CenterCrop
    lookup.py          StringLookup, IntegerLookup, CategoryEncoding (tokens -> indices -> rows)
    text_vectorization.py  TextVectorization (text -> tokens -> a StringLookup)
    binning.py         Hashing (string_hash.py: TensorFlow's FarmHash64, SipHash), HashedCrossing,
                       Discretization
    augmentation.py    RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomCrop,
                       RandomContrast, RandomBrightness (image_sampling.py: their resampling)
    augmentation_color.py  AutoContrast, Solarization, RandomInvert, RandomGrayscale,
                       RandomPosterization, RandomColorDegeneration, RandomSharpness,
                       RandomGaussianBlur, Equalization, RandomSaturation, RandomHue,
                       RandomColorJitter
    augmentation_mix.py  MixUp, CutMix, RandomErasing (part of an image replaced)
    augmentation_geometry.py  RandomShear, RandomPerspective
    pipeline.py        Pipeline (layers in turn, as one layer)
    activations.py     Softmax, ReLU, LeakyReLU, ELU, PReLU
    merging.py         Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Dot
    recurrent.py       RNN(cell), SimpleRNN, LSTM, GRU (a cell stepped over time; BPTT)
    recurrent_cells.py SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells: one time step forward
                       and backward, dropout masks
    bidirectional.py   Bidirectional (a recurrent layer forwards, a copy backwards)
    conv_lstm.py       ConvLSTM2D, ConvLSTM1D (LSTMCell's gates on convolutions; RNN's loop)
    time_distributed.py  TimeDistributed (one layer on every time step: N*T rows, one call)
    wrapper.py         Wrapper (TimeDistributed's base: a layer holding `layer`),
                       SpectralNormalization (kernel / its largest singular value)
    lambda_layer.py    Lambda (a function of minidl.ops as a layer, differentiated on the tape)
    attention.py       MultiHeadAttention (softmax(q.k / sqrt(K)) @ v, head by head)
    dot_attention.py   Attention, AdditiveAttention (softmax(q.k) @ v without projections)
"""
from minidl.layers.activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from minidl.layers.base import Layer
from minidl.layers.attention import MultiHeadAttention
from minidl.layers.dot_attention import AdditiveAttention, Attention
from minidl.layers.input_layer import Input, InputLayer
from minidl.layers.input_spec import InputSpec
from minidl.layers.symbolic import KerasTensor
from minidl.layers.conv_transpose import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
from minidl.layers.convolutional import Conv1D, Conv2D, Conv3D
from minidl.layers.core import Activation, Dense
from minidl.layers.einsum_dense import EinsumDense
from minidl.layers.depthwise import (DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D,
                                     SeparableConv2D)
from minidl.layers.embedding import Embedding
from minidl.layers.masking import Masking
from minidl.layers.merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply,
                                   Subtract, add, average, concatenate, dot, maximum, minimum,
                                   multiply, subtract)
from minidl.layers.normalization import BatchNormalization, LayerNormalization, RMSNormalization
from minidl.layers.group_normalization import GroupNormalization, UnitNormalization
from minidl.layers.augmentation import (RandomBrightness, RandomContrast, RandomCrop, RandomFlip,
                                        RandomRotation, RandomTranslation, RandomZoom)
from minidl.layers.augmentation_color import (AutoContrast, Equalization,
                                              RandomColorDegeneration, RandomColorJitter, RandomGaussianBlur,
                                              RandomGrayscale, RandomHue, RandomInvert,
                                              RandomPosterization, RandomSaturation,
                                              RandomSharpness, Solarization)
from minidl.layers.augmentation_mix import CutMix, MixUp, RandomErasing
from minidl.layers.augmentation_geometry import RandomPerspective, RandomShear
from minidl.layers.pipeline import Pipeline
from minidl.layers.preprocessing import CenterCrop, Normalization, Rescaling, Resizing
from minidl.layers.binning import Discretization, HashedCrossing, Hashing
from minidl.layers.lookup import CategoryEncoding, IntegerLookup, StringLookup
from minidl.layers.text_vectorization import TextVectorization
from minidl.layers.regularization import (ActivityRegularization, AlphaDropout, Dropout,
                                          GaussianDropout, GaussianNoise, SpatialDropout1D,
                                          SpatialDropout2D, SpatialDropout3D)
from minidl.layers.pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D,
                                   GlobalAveragePooling1D, GlobalAveragePooling2D,
                                   GlobalAveragePooling3D, GlobalMaxPooling1D,
                                   GlobalMaxPooling2D, GlobalMaxPooling3D, MaxPooling1D,
                                   MaxPooling2D, MaxPooling3D)
from minidl.layers.bidirectional import Bidirectional
from minidl.layers.recurrent import GRU, LSTM, RNN, SimpleRNN
from minidl.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D
from minidl.layers.recurrent_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from minidl.layers.lambda_layer import Lambda
from minidl.layers.time_distributed import TimeDistributed
from minidl.layers.wrapper import SpectralNormalization, Wrapper
from minidl.layers.reshaping import Flatten, Identity, Permute, RepeatVector, Reshape
from minidl.layers.spatial import (Cropping1D, Cropping2D, Cropping3D, UpSampling1D,
                                   UpSampling2D, UpSampling3D, ZeroPadding1D, ZeroPadding2D,
                                   ZeroPadding3D)

__all__ = ["Activation", "AveragePooling1D", "AveragePooling2D", "Conv1D", "Conv2D", "Dense",
           "Embedding", "Flatten", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
           "GlobalMaxPooling1D", "GlobalMaxPooling2D", "Input", "InputLayer", "KerasTensor",
           "Layer", "MaxPooling1D", "MaxPooling2D", "Reshape", "ZeroPadding2D"]
__all__ += ["BatchNormalization", "Dropout", "GaussianDropout", "GaussianNoise",
            "LayerNormalization", "Normalization", "Rescaling", "SpatialDropout1D",
            "SpatialDropout2D"]
__all__ += ["Add", "Average", "Concatenate", "Dot", "ELU", "LeakyReLU", "Maximum", "Minimum",
            "Multiply", "PReLU", "ReLU", "Softmax", "Subtract"]
__all__ += ["Bidirectional", "GRU", "LSTM", "SimpleRNN"]
__all__ += ["ActivityRegularization", "Cropping1D", "Cropping2D", "Cropping3D", "Identity",
            "Permute", "RepeatVector", "UpSampling1D", "UpSampling2D", "UpSampling3D",
            "ZeroPadding1D", "ZeroPadding3D"]
__all__ += ["Conv1DTranspose", "Conv2DTranspose", "DepthwiseConv1D", "DepthwiseConv2D",
            "SeparableConv1D", "SeparableConv2D"]
__all__ += ["Masking"]
__all__ += ["InputSpec"]
__all__ += ["CenterCrop", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip",
            "RandomRotation", "RandomTranslation", "RandomZoom", "Resizing"]
__all__ += ["CategoryEncoding", "Discretization", "HashedCrossing", "Hashing", "IntegerLookup",
            "StringLookup", "TextVectorization"]
__all__ += ["Lambda", "TimeDistributed"]
__all__ += ["MultiHeadAttention"]
__all__ += ["AdditiveAttention", "Attention"]
__all__ += ["AlphaDropout"]
__all__ += ["GroupNormalization", "UnitNormalization"]
__all__ += ["GRUCell", "LSTMCell", "RNN", "SimpleRNNCell", "StackedRNNCells"]
__all__ += ["AveragePooling3D", "Conv3D", "GlobalAveragePooling3D", "GlobalMaxPooling3D",
            "MaxPooling3D", "SpatialDropout3D"]
__all__ += ["EinsumDense"]
__all__ += ["RMSNormalization"]
__all__ += ["SpectralNormalization", "Wrapper"]
__all__ += ["ConvLSTM1D", "ConvLSTM2D"]
__all__ += ["AutoContrast", "RandomGrayscale", "RandomInvert", "Solarization"]
__all__ += ["RandomColorDegeneration", "RandomPosterization", "RandomSharpness"]
__all__ += ["MixUp", "RandomErasing"]
__all__ += ["Equalization", "RandomGaussianBlur"]
__all__ += ["RandomShear"]
__all__ += ["RandomHue", "RandomSaturation"]
__all__ += ["CutMix"]
__all__ += ["RandomPerspective"]
__all__ += ["RandomColorJitter"]
__all__ += ["Pipeline"]

# Keras's other names for the same classes (keras/src/layers/__init__.py)
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution1DTranspose, Convolution2DTranspose = Conv1DTranspose, Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D = MaxPooling1D, MaxPooling2D, AveragePooling1D, \
    AveragePooling2D
MaxPool3D, AvgPool3D = MaxPooling3D, AveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalMaxPool3D, GlobalAvgPool3D = GlobalMaxPooling3D, GlobalAveragePooling3D
__all__ += ["AvgPool1D", "AvgPool2D", "Convolution1D", "Convolution1DTranspose", "Convolution2D",
            "Convolution2DTranspose", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D",
            "GlobalMaxPool2D", "MaxPool1D", "MaxPool2D", "SeparableConvolution1D",
            "SeparableConvolution2D"]
__all__ += ["AvgPool3D", "Convolution3D", "GlobalAvgPool3D", "GlobalMaxPool3D", "MaxPool3D"]
__all__ += ["Conv3DTranspose", "Convolution3DTranspose"]
__all__ += ["add", "average", "concatenate", "dot", "maximum", "minimum", "multiply", "subtract"]


def serialize(layer):
    """The layer as the dict Keras writes for it (`keras.layers.serialize`): its class and
    `get_config()`, for a layer of one's own that holds another in its config."""
    from minidl.saving.serialization import serialize_keras_object

    return serialize_keras_object(layer)


def deserialize(config, custom_objects=None):
    """The layer a `serialize` dict (minidl's or Keras's) describes, as keras.layers's."""
    from minidl.saving.serialization import deserialize_keras_object

    obj = deserialize_keras_object(config, custom_objects=custom_objects)
    if not isinstance(obj, Layer):
        raise ValueError("`keras.layers.deserialize` was passed a `config` object that is "
                         f"not a `keras.layers.Layer`. Received: {config}")
    return obj


__all__ += ["deserialize", "serialize"]
