"""Hinge losses as metrics: the losses' per-sample values (minidl/losses/hinge.py), averaged by
Mean. Labels of a batch that are all 0 or 1 are read as -1 or 1, as by the losses.

As Keras's, these take y_true as given: labels (N,) against outputs (N,1) broadcast.
Source: keras/src/metrics/hinge_metrics.py.
"""
from minidl import losses
from minidl.metrics.base import MeanMetricWrapper


class Hinge(MeanMetricWrapper):
    """The hinge loss over every sample seen.

    Formula:  hinge = mean_n mean_c max(1 - y_nc * p_nc, 0)
    """

    def __init__(self, name="hinge", dtype=None):
        super().__init__(fn=losses.hinge, name=name, dtype=dtype)
        self._direction = "down"


class SquaredHinge(MeanMetricWrapper):
    """The squared hinge loss over every sample seen.

    Formula:  squared_hinge = mean_n mean_c max(1 - y_nc * p_nc, 0)**2
    """

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(fn=losses.squared_hinge, name=name, dtype=dtype)
        self._direction = "down"


class CategoricalHinge(MeanMetricWrapper):
    """The categorical hinge loss over every sample seen.

    Formula:  categorical_hinge = mean_n max(max_c (1 - y_nc) p_nc - sum_c y_nc p_nc + 1, 0)
    """

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(fn=losses.categorical_hinge, name=name, dtype=dtype)
        self._direction = "down"
