"""Metric, its state variables, and the running sums and means every other metric builds on.

A metric keeps its state in Variables made by `add_weight` (Keras's `total` and `count`,
a confusion matrix's counts...), changes them in `update_state(y_true, y_pred,
sample_weight=None)` and reads them in `result()`; `fit` calls `reset_state()` at the start
of every epoch and every evaluate. The same three methods are what a Keras user writes in a
subclass, so subclassed metrics and the built-in ones run through the same code.

Shapes: N samples; values are (N,) per-sample numbers or (N, ...) with more axes.
Source: keras/src/metrics/metric.py and reduction_metrics.py.
"""
import numpy as np

from minidl import config, initializers, masks, naming
from minidl.variable import Variable


class MetricVariable(Variable):
    """A metric's state: a non-trainable Variable that reads as its value in arithmetic.

    Keras users write `self.total.assign(self.total + x)` and `return self.total / self.count`,
    so the variable works as an array in `+ - * / **`, comparisons, `float()` and NumPy calls.
    """

    def __init__(self, value, name, path):
        super().__init__(value, name, trainable=False)
        self.path = path  # "precision/true_positives", as Keras names metric variables

    def assign_add(self, delta):
        self.assign(self.value + np.asarray(delta, self.dtype))

    def assign_sub(self, delta):
        self.assign(self.value - np.asarray(delta, self.dtype))

    def __array__(self, dtype=None, copy=None):
        return np.array(self.value, dtype=dtype, copy=True if copy is None else copy)

    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def __getitem__(self, index):
        return self.value[index]

    def __len__(self):
        return len(self.value)

    def __add__(self, other): return self.value + other  # noqa: E704 (one line per operator)
    def __radd__(self, other): return other + self.value  # noqa: E704
    def __sub__(self, other): return self.value - other  # noqa: E704
    def __rsub__(self, other): return other - self.value  # noqa: E704
    def __mul__(self, other): return self.value * other  # noqa: E704
    def __rmul__(self, other): return other * self.value  # noqa: E704
    def __truediv__(self, other): return self.value / other  # noqa: E704
    def __rtruediv__(self, other): return other / self.value  # noqa: E704
    def __pow__(self, other): return self.value ** other  # noqa: E704
    def __neg__(self): return -self.value  # noqa: E704
    def __lt__(self, other): return self.value < other  # noqa: E704
    def __le__(self, other): return self.value <= other  # noqa: E704
    def __gt__(self, other): return self.value > other  # noqa: E704
    def __ge__(self, other): return self.value >= other  # noqa: E704

    def __repr__(self):
        return (f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, "
                f"value={self.value}>")


class Metric:
    """Base class: state made by `add_weight`, then update_state / result / reset_state.

    Args (Keras's order):
        dtype: the dtype of the computations and the result. Default: floatx ("float32").
        name: the metric's name, the key in `fit`'s logs. Default: the snake_case class
            name, numbered per process as Keras numbers them ("precision", "precision_1").
    """

    def __init__(self, dtype=None, name=None):
        self.name = name or naming.auto_name(naming.to_snake_case(type(self).__name__))
        self.dtype = np.dtype(dtype or config.floatx()).name
        self._variables = []

    def add_weight(self, shape=(), initializer="zeros", dtype=None, name=None):
        """A new state variable of `shape` (default floatx), filled by `initializer`."""
        if "_variables" not in vars(self):
            raise RuntimeError("You forgot to call `super().__init__()` in the `__init__()` "
                               "method. Go add it!")
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        value = initializers.get(initializer)(shape, dtype=dtype or config.floatx())
        variable = MetricVariable(np.asarray(value), name, path=f"{self.name}/{name}")
        self._variables.append(variable)
        return variable

    add_variable = add_weight  # Keras's newer name for the same thing

    @property
    def variables(self):
        """Every state variable: this metric's, then those of metrics it holds as attributes."""
        variables = list(self._variables)
        for value in vars(self).values():
            if isinstance(value, Metric):
                variables.extend(value.variables)
        return variables

    def update_state(self, *args, **kwargs):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def reset_state(self):
        """Set every state variable to zeros (Keras's default, whatever its initializer)."""
        for variable in self.variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))

    def __call__(self, *args, **kwargs):
        """update_state(...), then result()."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        """A new metric from get_config()'s dict, as Keras's (keras/src/metrics/metric.py)."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def same_rank(x1, x2, expand_rank_1=True):
    """Squeeze or expand a trailing axis of 1 when the ranks differ by one (Keras's rule).

    Labels (N,) against outputs (N,1) become (N,1): broadcasting them instead would
    silently compare every label with every prediction, an (N,N) matrix.
    Source: keras/src/losses/loss.py::squeeze_or_expand_to_same_rank.
    """
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            return x1, x2[:, None]
        return x1[..., 0], x2
    if x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            return x1[:, None], x2
        return x1, x2[..., 0]
    return x1, x2


def mean_over_inner_axes(values):
    """(N, ...) -> (N,): the mean over every axis but the first, in the values' dtype."""
    if values.ndim < 2:
        return values
    return values.mean(axis=tuple(range(1, values.ndim)), dtype=values.dtype)


def per_sample_weighted(values, sample_weight, reduce=np.mean):
    """Weighted per-sample values and the weights that count them, as Keras's Mean sees them.

    Formula (w broadcast against the values' leading axes):
        values reduced (by `reduce`) over the axes w does not have;  values = values * w
        values and w reduced to one number per sample (a scalar w weights the batch's mean)
    Source: keras/src/metrics/reduction_metrics.py::reduce_to_samplewise_values.
    """
    values, sample_weight = same_rank(values, sample_weight)
    if values.ndim > sample_weight.ndim:
        values = reduce(values, axis=tuple(range(sample_weight.ndim, values.ndim)),
                        dtype=values.dtype)
    if sample_weight.shape != values.shape:
        sample_weight = np.broadcast_to(sample_weight, values.shape)
    values = values * sample_weight
    if sample_weight.ndim > 1:
        sample_weight = reduce(sample_weight, axis=tuple(range(1, sample_weight.ndim)),
                               dtype=values.dtype)
    if values.ndim > 1:
        values = reduce(values, axis=tuple(range(1, values.ndim)), dtype=values.dtype)
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of every value seen.

    Formula:  total += sum_n w_n * v_n      result = total
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_weight(name="total", dtype=self.dtype)

    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, self.dtype)
        if sample_weight is not None:
            weight = np.asarray(sample_weight, self.dtype)
            values, _ = per_sample_weighted(values, weight, reduce=np.sum)
        self.total.assign_add(values.sum(dtype=self.dtype))

    def result(self):
        return self.total.numpy()


class Mean(Metric):
    """The (weighted) mean of every value seen; `fit` tracks its loss with one.

    Formula:  total += sum_n w_n * v_n;   count += sum_n w_n   (w_n = 1 without weights)
              result = total / count      (0 while count is 0)
    Values with more axes, (N, ...), count one mean value per sample. The loss tracker calls
    update_state(batch_loss, sample_weight=batch_size), so the epoch loss is sum_b n_b*L_b / N.
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_weight(name="total", dtype=self.dtype)
        self.count = self.add_weight(name="count", dtype=self.dtype)

    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, self.dtype)
        if sample_weight is None:
            values = mean_over_inner_axes(values)  # (N,)
            count = len(values) if values.ndim else 1
        else:
            weight = np.asarray(sample_weight, self.dtype)
            values, weight = per_sample_weighted(values, weight)  # (N,), (N,)
            count = weight.sum() if weight.ndim else weight
        self.total.assign_add(values.sum() if values.ndim else values)
        self.count.assign_add(count)

    def result(self):
        """total / count, 0 when nothing was counted (Keras's divide_no_nan)."""
        total, count = self.total.value, self.count.value
        return total / count if count != 0 else np.zeros((), self.dtype)


class MeanMetricWrapper(Mean):
    """The mean of a per-sample function `fn(y_true, y_pred, **kwargs)` over every sample.

    Args:
        fn: the function, returning one value per sample (N,) or values (N, ...).
        name: the metric's name (default: auto-named "mean_metric_wrapper").
        dtype: the dtype of the state and the result.
        **kwargs: passed on to `fn`.
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        """A mask riding on y_pred (minidl/masks.py) counts the real steps only: it joins
        the sample weights as 0s and 1s (keras/src/metrics/reduction_metrics.py)."""
        mask = masks.mask_of(y_pred)
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        if mask is not None:
            weight = masks.as_weights(mask, np.dtype(self.dtype), "sum")  # (N,T)
            if sample_weight is not None:
                weight, sw = same_rank(weight, np.asarray(sample_weight, self.dtype))
                weight = sw * weight
            sample_weight = weight
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}
