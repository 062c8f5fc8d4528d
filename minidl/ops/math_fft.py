"""keras.ops.math's Fourier transforms: fft, fft2, ifft2, rfft, irfft, stft, istft, and
view_as_complex / view_as_real. Plain values (no derivative is recorded).

Keras passes complex numbers as a pair (real, imag) of float arrays and returns them so:
`real, imag = ops.fft((x_real, x_imag))`. NumPy's FFT computes in float64 (complex128);
the results are rounded once to the inputs' float dtype. TensorFlow's float32 FFT computes
in complex64 with another algorithm, so the two agree to float32 rounding of the sums,
not bit for bit. Source: keras/src/ops/math.py, keras/src/backend/tensorflow/math.py.

Letters: L the signal's length, F frames, K = fft_length // 2 + 1 frequencies.
"""
import numpy as np

from minidl.ops.core import convert_to_tensor


def _complex(x):
    """The complex array of a (real, imag) pair, checked as Keras's TensorFlow backend does."""
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError("Input `x` should be a tuple of two tensors - real and imaginary."
                         f"Received: x={x}")
    real, imag = convert_to_tensor(x[0]), convert_to_tensor(x[1])
    if real.shape != imag.shape:
        raise ValueError("Input `x` should be a tuple of two tensors - real and imaginary."
                         "Both the real and imaginary parts should have the same shape. "
                         f"Received: x[0].shape = {real.shape}, x[1].shape = {imag.shape}")
    if real.dtype.kind != "f" or imag.dtype.kind != "f":
        raise ValueError("At least one tensor in input `x` is not of type float."
                         f"Received: x={x}.")
    return real + 1j * imag.astype(np.float64), real.dtype


def _pair(z, dtype):
    return z.real.astype(dtype), z.imag.astype(dtype)


def fft(x):
    """The discrete Fourier transform along the last axis of a (real, imag) pair.

    Formula: Y[..., k] = sum_n X[..., n] * exp(-2 pi i k n / N)
    """
    z, dtype = _complex(x)
    return _pair(np.fft.fft(z, axis=-1), dtype)


def fft2(x):
    """The 2-D discrete Fourier transform over the last two axes of a (real, imag) pair."""
    z, dtype = _complex(x)
    return _pair(np.fft.fft2(z, axes=(-2, -1)), dtype)


def ifft2(x):
    """The inverse of fft2: Y = conj(fft2(conj(X))) / (H * W), as Keras computes it."""
    z, dtype = _complex(x)
    return _pair(np.fft.ifft2(z, axes=(-2, -1)), dtype)


def _float_signal(x, name):
    x = convert_to_tensor(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError("Invalid input type. Expected `float32` or `float64`. "
                        f"Received: input type={x.dtype} (in `{name}`)")
    return x


def rfft(x, fft_length=None):
    """The Fourier transform of a real signal along the last axis: the K = n // 2 + 1
    non-negative frequencies, as (real, imag). fft_length n crops or zero-pads the signal
    (default: its length).

    Formula: Y[..., k] = sum_{t < n} x[..., t] * exp(-2 pi i k t / n),  k = 0 .. n // 2
    """
    x = _float_signal(x, "rfft")
    return _pair(np.fft.rfft(x.astype(np.float64), n=fft_length, axis=-1), x.dtype)


def irfft(x, fft_length=None):
    """The inverse of rfft: a real signal of length fft_length (default 2 * (K - 1)) from
    the (real, imag) pair of its K non-negative frequencies."""
    z, dtype = _complex(x)
    return np.fft.irfft(z, n=fft_length, axis=-1).astype(dtype)


# -- short-time Fourier transforms -----------------------------------------------------------
def _window(window, sequence_length, fft_length, dtype):
    """The window padded on both sides to fft_length, or None (tf.signal's periodic hann and
    hamming windows: 0.5 - 0.5 cos(2 pi t / len) and 0.54 - 0.46 cos(2 pi t / len))."""
    if window is None:
        return None
    if isinstance(window, str):
        t = np.arange(sequence_length) / sequence_length
        a = 0.5 if window == "hann" else 0.54
        values = a - (1 - a) * np.cos(2 * np.pi * t)
    else:
        values = np.asarray(convert_to_tensor(window), np.float64)
    if values.ndim != 1 or values.shape[-1] != sequence_length:
        raise ValueError("The shape of `window` must be equal to [sequence_length]."
                         f"Received: window shape={values.shape}")
    left = (fft_length - sequence_length) // 2
    return np.pad(values, (left, fft_length - sequence_length - left)).astype(dtype)


def _check_stride_and_window(sequence_stride, window):
    if not isinstance(sequence_stride, int) or sequence_stride <= 0:
        raise ValueError("`sequence_stride` must be a positive integer. "
                         f"Received: sequence_stride={sequence_stride}")
    if isinstance(window, str) and window not in {"hann", "hamming"}:
        raise ValueError('If a string is passed to `window`, it must be one of `"hann"`, '
                         f'`"hamming"`. Received: window={window}')


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """The short-time Fourier transform along the last axis: the rfft of each windowed frame.

    Args:
        x: (..., L) float32 or float64 signal.
        sequence_length: the window's length (at most fft_length; centered in the frame).
        sequence_stride: the step between frames.
        fft_length: each frame's length and FFT size.
        window: "hann", "hamming" (periodic), an array of sequence_length values, or None.
        center: reflect-pad x by fft_length // 2 on both sides, so that frame f is centered
            at f * sequence_stride.
    Returns:
        (real, imag), each (..., F, K) with F = 1 + (L' - fft_length) // sequence_stride.
    Formula: Y[..., f, k] = sum_t w[t] * x[..., f * stride + t] * exp(-2 pi i k t / fft_length)
    """
    _check_stride_and_window(sequence_stride, window)
    x = _float_signal(x, "stft")
    if fft_length < sequence_length:
        raise ValueError("`fft_length` must equal or larger than `sequence_length`. "
                         f"Received: sequence_length={sequence_length}, fft_length={fft_length}")
    if center:
        pad = [(0, 0)] * (x.ndim - 1) + [(fft_length // 2, fft_length // 2)]
        x = np.pad(x, pad, mode="reflect")
    w = _window(window, sequence_length, fft_length, x.dtype)
    frames = np.lib.stride_tricks.sliding_window_view(x, fft_length, axis=-1)
    frames = frames[..., ::sequence_stride, :]  # (..., F, fft_length)
    if w is not None:
        frames = frames * w
    return _pair(np.fft.rfft(frames.astype(np.float64), axis=-1), x.dtype)  # (..., F, K)


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann",
          center=True):
    """The inverse of stft: each frame's irfft, windowed again and overlap-added, divided
    by the sum of the squared windows over each sample (tf.signal.inverse_stft with
    inverse_stft_window_fn), then the center padding cut off.

    Args:
        x: the (real, imag) pair stft returned, each (..., F, K).
        length: the signal's length to return (default: all of it, less the center padding).
        (the others as in stft.)
    Returns:
        (..., L) the signal.
    Formula: x[t] = sum_f v[t - f*stride] * irfft(Y[f])[t - f*stride],
             v = w / sum_j w[(t mod stride) + j*stride]**2   (the squared windows overlapping)
    """
    _check_stride_and_window(sequence_stride, window)
    z, dtype = _complex(x)
    frames = np.fft.irfft(z, n=fft_length, axis=-1).astype(dtype)  # (..., F, fft_length)
    w = _window(window, sequence_length, fft_length, dtype)
    if w is not None:
        overlaps = -(-fft_length // sequence_stride)
        squares = np.pad(w * w, (0, overlaps * sequence_stride - fft_length))
        denominator = np.tile(squares.reshape(overlaps, sequence_stride).sum(axis=0), overlaps)
        denominator = denominator[:fft_length]
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 where no window overlaps
            frames = frames * np.where(denominator == 0, 0, w / denominator).astype(dtype)
    count = frames.shape[-2]
    signal = np.zeros(frames.shape[:-2] + ((count - 1) * sequence_stride + fft_length,), dtype)
    for f in range(count):  # overlap-add
        signal[..., f * sequence_stride:f * sequence_stride + fft_length] += frames[..., f, :]
    start = fft_length // 2 if center else 0
    if length is not None:
        end = start + length
    elif center:
        end = -(fft_length // 2)
    else:
        end = signal.shape[-1]
    return signal[..., start:end]


def view_as_complex(x):
    """A complex64 array from a real (..., 2) array of (real, imag) pairs."""
    x = convert_to_tensor(x)
    if x.ndim < 1 or x.shape[-1] != 2:
        raise ValueError("Last dimension of input must be size 2 (real and imaginary). "
                         f"Received shape: {x.shape}")
    return x[..., 0].astype(np.complex64) + 1j * x[..., 1].astype(np.complex64)


def view_as_real(x):
    """A real (..., 2) array of (real, imag) pairs from a complex array."""
    x = convert_to_tensor(x)
    return np.stack((np.real(x), np.imag(x)), axis=-1)
