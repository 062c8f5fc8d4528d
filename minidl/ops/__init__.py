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
map_coordinates, gaussian_blur; plain values), ctc.py (ctc_loss, recorded, and greedy
ctc_decode). backprop_nn.py records nn.py's activations, cross-entropies, moments,
normalizations and psnr, each with its derivative.

keras.ops.numpy's other functions are split by kind: numpy_elementwise.py (trigonometric
and hyperbolic functions, cbrt, logaddexp, hypot, fmod, trunc, signbit, bitwise ops,
isclose/allclose, ...), numpy_shapes.py (split, hstack/vstack, pad, moveaxis, swapaxes,
ravel, roll, flips, rot90, tril/triu, diag, diagonal, trace, meshgrid, ...),
numpy_products.py (einsum, outer, inner, vdot, kron, cross), numpy_statistics.py (median,
quantile, percentile, average, ptp, the nan* reductions, bincount, digitize, searchsorted,
unique, nonzero, histogram, diff, ...), numpy_making.py (identity, tri, empty, array, copy,
logspace, windows, ...). linalg.py is keras.ops.linalg (inv, det, solve, cholesky, qr, svd,
eig, eigh, lstsq, lu_factor, ...); its functions are names here too, as in keras.ops.
backprop_numpy.py records those that carry a gradient, each with its derivative: the
trigonometric and hyperbolic functions, cbrt, exp2, expm1, log1p, log2, log10, fabs,
deg2rad, rad2deg, copy, arctan2, hypot, logaddexp, logaddexp2, einsum, outer, inner, vdot,
kron, cross, stack, split, array_split, hstack, vstack, dstack, append, pad, moveaxis,
swapaxes, ravel, roll, flipud, fliplr, rot90, tril, triu, diag, diagflat, diagonal, trace,
get_item, diff, trapezoid, average, ptp, nansum, nanmean, median, quantile, percentile,
inv, det, logdet (keras.ops.math's), solve.

The rest of keras.ops.core and keras.ops.math: core.py also holds unstack, slice,
slice_update, scatter, scatter_update, saturate_cast, is_tensor and dtype; core_flow.py the
control flow as plain Python loops (cond, switch, while_loop, fori_loop, scan, map,
vectorized_map, associative_scan: their bodies' ops are recorded, so gradients flow); math.py
the segment reductions (segment_sum/max/min/prod), erf, erfc, erfinv, rsqrt and cdist;
math_fft.py fft, fft2, ifft2, rfft, irfft, stft, istft, view_as_complex and view_as_real
((real, imag) pairs, as Keras's); einops.py rearrange. backprop_core.py records unstack,
slice, slice_update, scatter, scatter_update, the segment reductions, erf, erfc, erfinv and
rsqrt with TensorFlow's gradients, gives custom_gradient (your grad_fn as one op's backward),
and puts cdist and the Fourier transforms on the tape to be refused by name at backward.
"""
from minidl.ops.core import (cast, convert_to_numpy, convert_to_tensor, dtype, is_tensor, ndim,
                             result_type, saturate_cast, scatter, scatter_update, shape, size,
                             slice, slice_update, stop_gradient, unstack)  # noqa: A004
from minidl.ops.core_flow import (associative_scan, cond, fori_loop, map, scan,  # noqa: A004
                                  switch, vectorized_map, while_loop)
from minidl.ops import image  # noqa: E402 (minidl.ops.image, as keras.ops.image)
from minidl.ops.ctc import ctc_decode, ctc_loss
from minidl.ops.math import (cdist, erf, erfc, erfinv, extract_sequences, in_top_k, logsumexp,
                             rsqrt, segment_max, segment_min, segment_prod, segment_sum, top_k)
from minidl.ops.einops import rearrange
from minidl.ops.math_fft import (fft, fft2, ifft2, irfft, istft, rfft, stft, view_as_complex,
                                 view_as_real)
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
from minidl.ops.backprop import (abs, absolute, add, cast, clip, concatenate,  # noqa: E402,F811,A004
                                 convert_to_tensor, divide, exp,
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

# keras.ops.numpy's other functions, and keras.ops.linalg's (plain values) ...
from minidl.ops import linalg  # noqa: E402
from minidl.ops.linalg import (cholesky, cholesky_inverse, det, eig, eigh, inv, jvp,  # noqa: E402
                               logdet, lstsq, lu_factor, matrix_rank, pinv, qr, slogdet,
                               solve, solve_triangular, svd)
from minidl.ops.numpy_elementwise import (allclose, angle, arccos, arccosh, arcsin,  # noqa: E402
                                          arcsinh, arctan, arctan2, arctanh, bitwise_and,
                                          bitwise_invert, bitwise_left_shift, bitwise_not,
                                          bitwise_or, bitwise_right_shift, bitwise_xor, cbrt,
                                          conj, conjugate, cosh, deg2rad, exp2, fabs, fmax,
                                          fmin, fmod, gcd, heaviside, hypot, i0, imag, isclose,
                                          isneginf, isposinf, isreal, lcm, ldexp, left_shift,
                                          logaddexp, logaddexp2, nextafter, rad2deg, real,
                                          right_shift, signbit, sinc, sinh, tan, trunc)
from minidl.ops.numpy_making import (array, bartlett, blackman, copy, empty,  # noqa: E402
                                     empty_like, geomspace, hamming, hanning, identity,
                                     kaiser, logspace, tri, vander, vectorize)
from minidl.ops.numpy_products import cross, einsum, inner, kron, outer, vdot  # noqa: E402
from minidl.ops.numpy_shapes import (append, array_split, diag, diagflat, diagonal,  # noqa: E402
                                     dsplit, dstack, fliplr, flipud, get_item, hsplit, hstack,
                                     meshgrid, moveaxis, pad, ravel, roll, rot90, split,
                                     swapaxes, trace, tril, triu, unravel_index, view, vsplit,
                                     vstack)
from minidl.ops.numpy_statistics import (argpartition, average, bincount, corrcoef,  # noqa: E402
                                         correlate, diff, digitize, histogram, isin, median,
                                         nanargmax, nanargmin, nancumprod, nancumsum, nanmax,
                                         nanmean, nanmedian, nanmin, nanpercentile, nanprod,
                                         nanquantile, nanstd, nansum, nanvar, nonzero,
                                         percentile, ptp, quantile, searchsorted, select,
                                         trapezoid, unique)

# ... and the differentiable versions of those that carry a gradient (backprop_numpy.py).
from minidl.ops.backprop_numpy import (append, arccos, arccosh, arcsin, arcsinh,  # noqa: E402,F811
                                       arctan, arctan2, arctanh, array_split, average, cbrt,
                                       copy, cos, cosh, cross, deg2rad, det, diag, diagflat,
                                       diagonal, diff, dstack, einsum, exp2, expm1, fabs,
                                       fliplr, flipud, get_item, hstack, hypot, inner, inv,
                                       kron, log1p, log2, log10, logaddexp, logaddexp2, logdet,
                                       median,
                                       moveaxis, nanmean, nansum, outer, pad, percentile, ptp,
                                       quantile, rad2deg, ravel, roll, rot90, sin, sinh, solve,
                                       split, stack, swapaxes, tan, trace, trapezoid, tril,
                                       triu, vdot, vstack)
from minidl.ops.backprop_numpy import dot, tensordot  # noqa: E402,F811 (recorded)
from minidl.ops.backprop_numpy import (amax, amin, broadcast_to, cumsum,  # noqa: E402,F811
                                       expand_dims, flip, reciprocal, repeat, squeeze, tile,
                                       true_divide)
from minidl.ops.backprop_numpy import amax as max, amin as min  # noqa: E402,F811,A004
from minidl.ops.backprop_numpy import take_indices as take  # noqa: E402,F811
from minidl.ops.backprop_core import (custom_gradient, erf, erfc, erfinv,  # noqa: E402,F811,A004
                                      rsqrt, scatter, scatter_update, segment_max, segment_min,
                                      segment_prod, segment_sum, slice, slice_update, unstack)
from minidl.ops.backprop_core import (cdist, fft, fft2, ifft2, irfft, istft,  # noqa: E402,F811
                                      rfft, stft, view_as_complex, view_as_real)  # (refused)
from minidl.ops.backprop_numpy import logsumexp, std, var  # noqa: E402,F811


# keras.ops.nn.gelu and keras.ops.gelu are one function: the submodules' names reach the
# recorded ops in a training step (submodules.py).
from minidl.ops.submodules import link as _link  # noqa: E402

_link(globals())

# ... and every op takes symbolic tensors too: on a functional model's KerasTensors it adds a
# node to the graph (symbolic.py, layers/operation.py).
from minidl.ops.symbolic import link as _link_symbolic  # noqa: E402

_link_symbolic(globals())
