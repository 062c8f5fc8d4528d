"""Attention (Luong's dot product) and AdditiveAttention (Bahdanau's), as Keras 3.15 computes
them (keras/src/layers/attention/attention.py, additive_attention.py).

    y = Attention()([query, value])              # value is the key too
    y = AdditiveAttention()([query, value, key])

No projections (MultiHeadAttention, attention.py, has them): the query and the key are compared
as they are, and the values are averaged with the softmax of the scores.

    S = q @ k^T                         "dot"     (N,Tq,Tv)
    S = c * sum_d tanh(s * (q + k))     "concat"  (each query step with each key step)
    S = sum_d s_d * tanh(q + k)         AdditiveAttention
    A = softmax(S, over Tv);   y = dropout(A) @ v;   y = 0 on masked query steps

Shapes: N batch, Tq query steps, Tv value (and key) steps, D query and key features,
Dv value features.
"""
import numpy as np

from minidl import activations, masks as riding_masks
from minidl.layers import call_arguments
from minidl.layers.attention import (_call_symbolic_with_options, _call_with_options,
                                    _current_options, _options, causal_mask)
from minidl.layers.base import Layer
from minidl.layers.regularization import Dropout
from minidl.layers.symbolic import KerasTensor


def _softmax_backward(dA, A):
    """dS = A * (dA - sum_s dA*A), over the last axis (the value steps)."""
    return A * (dA - (dA * A).sum(axis=-1, keepdims=True))


class Attention(Layer):
    """Dot-product attention, Keras's Attention (Luong-style).

    Called as `layer([query, value])` or `layer([query, value, key])`, with the options
    `mask=[query_mask, value_mask]`, `return_attention_scores=False`, `training=None`,
    `use_causal_mask=False`; masks riding on the inputs (minidl/masks.py) are used when no
    `mask` is given.

    Args:
        use_scale: whether a scalar weight `scale` (initially 1) multiplies the scores.
        score_mode: "dot" (q . k) or "concat" (sum of tanh(q + k), with a scalar weight
            `concat_score_weight`, initially 1).
        dropout: the rate of dropout on the attention weights (while training).
        seed: an integer gives the dropout its own generator.

    Formula (m: the value mask AND the causal mask, True where a step may be attended to):
        S = (q @ k^T) * s                               "dot"    (N,Tq,Tv)
        S = c * sum_d tanh(s * (q[:,:,None] + k[:,None]))  "concat" (N,Tq,Tv)
        S = where(m, S, S - 1e9)                        masked scores pushed down
        A = softmax(S);   Ad = dropout(A);   y = Ad @ v (N,Tq,Dv)
        y = where(query_mask, y, 0)
    The returned scores are Ad, the weights after dropout, as Keras returns them.
    Keras subtracts 1e9 from a masked score instead of replacing it, so its gradient still
    reaches the score (keras/src/layers/attention/attention.py::_apply_scores), and a row
    whose steps are all masked is a softmax of the scores minus 1e9 (in float32 that is
    about uniform), not zeros.
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError("Invalid value for argument score_mode. Expected one of "
                             f"{{'dot', 'concat'}}. Received: score_mode={score_mode}")
        self._dropout_layer = Dropout(dropout, seed=seed, name="dropout")  # checks the rate
        self.use_scale, self.score_mode, self.dropout, self.seed = (use_scale, score_mode,
                                                                    dropout, seed)
        self.supports_masking = True

    # -- calling: Keras's signature, on top of Layer.__call__ -----------------------------------
    def __call__(self, inputs, mask=None, training=None, return_attention_scores=False,
                 use_causal_mask=False):
        self._validate_inputs(inputs, mask)
        options = {"mask": mask, "use_causal_mask": bool(use_causal_mask),
                   "return_attention_scores": bool(return_attention_scores)}
        if any(isinstance(t, KerasTensor) for t in list(inputs) + list(mask or [])):
            return self._symbolic(list(inputs), options)
        if mask is not None:
            options["mask"] = [None if m is None else np.asarray(m).astype(bool) for m in mask]
        outputs = _call_with_options(self, list(inputs), training, options)
        if mask is not None:  # Keras sets the query mask on the output from the given masks too
            riding_masks.set_masks(outputs, self._output_masks(options["mask"], options))
        return outputs

    def _validate_inputs(self, inputs, mask=None):
        """Keras's _validate_inputs, with its messages."""
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{name} layer must be called on a list of inputs, namely "
                             f"[query, value] or [query, value, key]. Received: inputs={inputs}.")
        if not 2 <= len(inputs) <= 3:
            raise ValueError(f"{name} layer accepts inputs list of length 2 or 3, namely "
                             "[query, value] or [query, value, key]. "
                             f"Received length: {len(inputs)}.")
        if mask is not None:
            if not isinstance(mask, (list, tuple)):
                raise ValueError(f"{name} layer mask must be a list, namely "
                                 f"[query_mask, value_mask]. Received: mask={mask}.")
            if not 2 <= len(mask) <= 3:
                raise ValueError(f"{name} layer accepts mask list of length 2 or 3. "
                                 f"Received: inputs={inputs}, mask={mask}.")

    def _symbolic(self, inputs, options):
        mask = options["mask"]
        if mask is not None and not all(m is None or isinstance(m, KerasTensor) for m in mask):
            raise ValueError(
                f"In a functional model, {type(self).__name__}'s masks must be KerasTensors "
                "(made from the model's inputs) or None, not arrays. Received: mask="
                f"{[type(m).__name__ for m in mask]}")
        outputs, node = _call_symbolic_with_options(self, inputs, options)
        if mask is not None:  # tensors by keyword: inputs of the node too (call_arguments.py)
            node.call_args, node.call_kwargs = [inputs], {"mask": list(mask), **node.call_kwargs}
            node.input_tensors = call_arguments.keras_tensors(node.call_args, node.call_kwargs)
        return outputs

    def check_input_shape(self, shape):
        query_shape, value_shape, key_shape = (list(shape) + [shape[1]])[:3]
        for name, s in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(s) != 3:
                raise ValueError(f"minidl's {type(self).__name__} takes (batch, steps, "
                                 f"features) inputs: `{name}` must have 3 axes. "
                                 f"Received: {name}.shape={tuple(s)}")
        if value_shape[1] != key_shape[1]:
            raise ValueError("`value` and `key` must have the same number of steps. Received: "
                             f"value_shape={tuple(value_shape)}, key_shape={tuple(key_shape)}")
        if query_shape[-1] != key_shape[-1]:
            raise ValueError("The last axis of `query` and `key` must be equal (their features "
                             f"are compared). Received: query_shape={tuple(query_shape)}, "
                             f"key_shape={tuple(key_shape)}")

    def build(self, input_shape):
        self.scale = self.add_weight((), "ones", "scale") if self.use_scale else None
        self.concat_score_weight = (self.add_weight((), "ones", "concat_score_weight")
                                    if self.score_mode == "concat" else None)

    def compute_output_shape(self, input_shape):
        query_shape, value_shape = input_shape[0], input_shape[1]
        output = tuple(query_shape[:-1]) + (value_shape[-1],)
        if _options.__dict__.get("stack") and _current_options()["return_attention_scores"]:
            return [output, tuple(query_shape[:-1]) + (value_shape[1],)]
        return output

    def _output_masks(self, mask, options):
        query_mask = None if not mask else mask[0]
        return [query_mask, None] if options["return_attention_scores"] else query_mask

    def compute_mask(self, inputs, mask):
        """The query's mask rides on the output (Keras's compute_mask: mask[0])."""
        return self._output_masks(mask, _current_options())

    # -- the maths --------------------------------------------------------------------------------
    def scores(self, q, k):
        """S (N,Tq,Tv) and what scores_backward needs."""
        s = None if self.scale is None else self.scale.value
        if self.score_mode == "dot":
            P = q @ k.transpose(0, 2, 1)  # (N,Tq,D)@(N,D,Tv) -> (N,Tq,Tv)
            return (P if s is None else P * s), P
        u = q[:, :, None, :] + k[:, None, :, :]  # (N,Tq,1,D)+(N,1,Tv,D) -> (N,Tq,Tv,D)
        t = np.tanh(u if s is None else s * u)  # (N,Tq,Tv,D)
        c = self.concat_score_weight.value
        return c * t.sum(axis=-1), (u, t)  # (N,Tq,Tv)

    def scores_backward(self, dS, q, k, saved, grads):
        """dq (N,Tq,D), dk (N,Tv,D) from dS (N,Tq,Tv); the weights' gradients into grads."""
        if self.score_mode == "dot":
            P = saved
            dP = dS
            if self.scale is not None:
                grads[self.scale] = (dS * P).sum()  # ()
                dP = dS * self.scale.value  # (N,Tq,Tv)
            dq = dP @ k  # (N,Tq,Tv)@(N,Tv,D) -> (N,Tq,D)
            dk = dP.transpose(0, 2, 1) @ q  # (N,Tv,Tq)@(N,Tq,D) -> (N,Tv,D)
            return dq, dk
        u, t = saved
        c = self.concat_score_weight.value
        grads[self.concat_score_weight] = (dS * t.sum(axis=-1)).sum()  # ()
        dz = (c * dS)[..., None] * (1 - t * t)  # (N,Tq,Tv,D): tanh' = 1 - t^2
        du = dz
        if self.scale is not None:
            grads[self.scale] = (dz * u).sum()  # ()
            du = dz * self.scale.value  # (N,Tq,Tv,D)
        return du.sum(axis=2), du.sum(axis=1)  # (N,Tq,D), (N,Tv,D)

    def forward(self, xs, training=False, mask=None):
        options = _current_options()
        q, v = xs[0], xs[1]
        k = xs[2] if len(xs) == 3 else v
        given = options["mask"] if options["mask"] is not None else mask
        query_mask = given[0] if given else None
        value_mask = given[1] if given else None
        S, saved = self.scores(q, k)  # (N,Tq,Tv)
        m = None if value_mask is None else value_mask[:, None, :]  # (N,1,Tv)
        if options["use_causal_mask"]:
            causal = causal_mask(q.shape[1], k.shape[1])  # (1,Tq,Tv)
            m = causal if m is None else m & causal
        if m is not None:
            S = np.where(m, S, S - S.dtype.type(1e9))  # (N,Tq,Tv): Keras's max_value
        A = activations.softmax(S, axis=-1)  # (N,Tq,Tv)
        Ad, drop_cache = self._dropout_layer.forward(A, training=training)  # (N,Tq,Tv)
        y = Ad @ v  # (N,Tq,Tv)@(N,Tv,Dv) -> (N,Tq,Dv)
        qm = None if query_mask is None else query_mask[:, :, None]  # (N,Tq,1)
        if qm is not None:
            y = np.where(qm, y, y.dtype.type(0))  # (N,Tq,Dv)
        cache = (q, v, k, len(xs), saved, A, Ad, drop_cache, qm)
        if options["return_attention_scores"]:
            return [y, Ad], cache
        return y, cache

    def backward(self, dy, cache, need_dx=True):
        q, v, k, n_inputs, saved, A, Ad, drop_cache, qm = cache
        dscores = None
        if isinstance(dy, list):
            dy, dscores = dy
        if qm is not None:
            dy = np.where(qm, dy, dy.dtype.type(0))  # (N,Tq,Dv)
        dAd = dy @ v.transpose(0, 2, 1)  # (N,Tq,Dv)@(N,Dv,Tv) -> (N,Tq,Tv)
        dv = Ad.transpose(0, 2, 1) @ dy  # (N,Tv,Tq)@(N,Tq,Dv) -> (N,Tv,Dv)
        if dscores is not None:
            dAd = dAd + dscores  # the returned scores reached the loss too
        dA, _ = self._dropout_layer.backward(dAd, drop_cache)  # (N,Tq,Tv)
        dS = _softmax_backward(dA, A)  # (N,Tq,Tv); S - 1e9 passes dS on unchanged
        grads = {}
        dq, dk = self.scores_backward(dS, q, k, saved, grads)
        if not need_dx:
            return None, grads
        if n_inputs == 2:  # the key was the value
            return [dq, dv + dk], grads
        return [dq, dv, dk], grads

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale,
                "score_mode": self.score_mode, "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Additive attention, Keras's AdditiveAttention (Bahdanau-style).

    Called as Attention is. Args:
        use_scale: whether a weight `scale` of shape (D,) (glorot_uniform) weighs the features.
        dropout: the rate of dropout on the attention weights (while training).
        seed: an integer gives the dropout its own generator.

    Formula (masks, softmax, dropout and the output as in Attention):
        S = sum_d s_d * tanh(q[:,:,None,d] + k[:,None,:,d])     (N,Tq,Tv);  s = 1 without scale
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        dim = input_shape[0][-1]
        self.scale = (self.add_weight((dim,), "glorot_uniform", "scale")
                      if self.use_scale else None)
        self.concat_score_weight = None

    def scores(self, q, k):
        u = q[:, :, None, :] + k[:, None, :, :]  # (N,Tq,1,D)+(N,1,Tv,D) -> (N,Tq,Tv,D)
        t = np.tanh(u)  # (N,Tq,Tv,D)
        weighted = t if self.scale is None else self.scale.value * t  # (N,Tq,Tv,D)*(D,)
        return weighted.sum(axis=-1), t  # (N,Tq,Tv)

    def scores_backward(self, dS, q, k, t, grads):
        dt = dS[..., None]  # (N,Tq,Tv,1)
        if self.scale is not None:
            grads[self.scale] = (dt * t).sum(axis=(0, 1, 2))  # (D,)
            dt = dt * self.scale.value  # (N,Tq,Tv,D)
        du = dt * (1 - t * t)  # (N,Tq,Tv,D): tanh' = 1 - t^2
        return du.sum(axis=2), du.sum(axis=1)  # (N,Tq,D), (N,Tv,D)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]  # as Keras's get_config
        return config
