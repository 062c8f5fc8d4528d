"""keras.ops for NumPy arrays: the functions custom metric and loss code calls, by Keras's names.

    from minidl import ops                      # instead of: from keras import ops
    error = ops.mean(ops.square(y_true - y_pred), axis=-1)

Each function takes what `keras.ops` takes (arrays, Python numbers and lists, `axis=`,
`keepdims=`) and returns a NumPy array with the dtype Keras would give it. Keras's dtype
rules are not NumPy's, and the difference is the usual source of silent float64:
- Python lists and numbers become float32 (floats) or int32 (ints), not float64/int64.
- A Python number next to an array takes the array's dtype (`x_f32 * 2.0` stays float32).
- Ints meeting floats give the float (`int32 + float32 -> float32`; NumPy says float64).
- Functions that need a float (mean, sqrt, divide, log, ...) turn ints into float32.

Most are plain NumPy functions that compute values. The ones a subclassed model's call()
combines layers with (add, subtract, multiply, divide, negative, maximum, minimum, matmul,
abs, clip, square, sqrt, exp, log, tanh, relu, sigmoid, softmax, sum, mean, reshape,
transpose, concatenate) also record themselves for backpropagation during a training step:
backprop.py has each with its derivative. A loss function written with them, or a Lambda
layer's function, is differentiated the same way (minidl/losses/wrapper.py, head.py).

Where they live (Keras's file names): core.py (conversion, cast and the dtype rules),
numpy.py (arithmetic, comparisons, reductions, shapes, making arrays, matmul), math.py
(top_k, in_top_k, logsumexp, extract_sequences), nn.py (keras.ops.nn's activations,
normalizations, cross-entropies, one_hot, multi_hot, psnr), nn_windows.py (conv, poolings,
dot_product_attention, depth_to_space, unfold/fold: the layers' maths; convolutions,
poolings and attention recorded with their backward), image.py (`minidl.ops.image`, as
keras.ops.image: resize, colour spaces, pads, crops, patches, affine transforms,
map_coordinates, gaussian_blur; plain values). backprop_nn.py records nn.py's activations,
cross-entropies, moments, normalizations and psnr, each with its derivative.
"""
from minidl.ops.core import (cast, convert_to_numpy, convert_to_tensor, ndim, result_type, shape,
                             size, stop_gradient)
from minidl.ops import image  # noqa: E402 (minidl.ops.image, as keras.ops.image)
from minidl.ops.math import extract_sequences, in_top_k, logsumexp, top_k
from minidl.ops.nn import (batch_normalization, layer_normalization, log_softmax, moments,
                           multi_hot, normalize, one_hot, polar, psnr, relu, rms_normalization,
                           sigmoid, softmax)
from minidl.ops.nn_windows import (adaptive_average_pool, adaptive_max_pool, average_pool,
                                   conv, conv_transpose, depth_to_space, depthwise_conv,
                                   dot_product_attention, fold, max_pool, separable_conv,
                                   space_to_depth, unfold)
from minidl.ops.numpy import (abs, absolute, add, all, amax, amin, any, arange, argmax, argmin,
                              argsort, broadcast_to, ceil, clip, concatenate, cos, count_nonzero,
                              cumprod, cumsum, divide, divide_no_nan, dot, equal, exp, expand_dims,
                              expm1, eye, flip, floor, floor_divide, full, full_like, greater,
                              greater_equal, isfinite, isinf, isnan, less, less_equal, linspace,
                              log, log10, log1p, log2, logical_and, logical_not, logical_or,
                              logical_xor, matmul, max, maximum, mean, min, minimum, mod, multiply,
                              nan_to_num, negative, norm, not_equal, ones, ones_like, power, prod,
                              reciprocal, repeat, reshape, round, sign, sin, sort, sqrt, square,
                              squeeze, stack, std, subtract, sum, take, take_along_axis, tanh,
                              tensordot, tile, transpose, true_divide, var, where, zeros,
                              zeros_like)  # noqa: A004 (Keras's names)

# The differentiable versions replace the plain ones of the same names (see backprop.py).
from minidl.ops.backprop import (abs, absolute, add, clip, concatenate, divide, exp,  # noqa: E402,F811,A004
                                 log, matmul, maximum, mean, minimum, multiply, negative, power,
                                 relu, reshape, sigmoid, softmax, sqrt, square, subtract, sum,
                                 tanh, transpose, where)
from minidl.ops.backprop_nn import (binary_crossentropy, categorical_crossentropy,  # noqa: E402
                                    celu, elu, gelu, glu, hard_shrink, hard_sigmoid, hard_silu,
                                    hard_swish, hard_tanh, leaky_relu, log_sigmoid, log_softmax,
                                    relu6, selu, silu, soft_shrink, softplus, softsign,
                                    sparse_categorical_crossentropy, sparse_plus, sparse_sigmoid,
                                    sparsemax, squareplus, swish, tanh_shrink, threshold)
from minidl.ops.backprop_nn import (batch_normalization, layer_normalization, moments,  # noqa: E402,F811
                                    normalize, psnr, rms_normalization)
