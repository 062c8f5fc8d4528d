"""Attention layers: MultiHeadAttention (the Transformer's), Attention (Luong's dot product) and
AdditiveAttention (Bahdanau's), as Keras 3.15 computes them on TensorFlow. The last two, which
have no projections, are in dot_attention.py.

    y = MultiHeadAttention(num_heads=2, key_dim=16)(x, x)            # self-attention
    y = Attention()([query, value])                                  # called on a list

Each row of the query asks "which steps of the value matter to me?": a score per (query step,
value step), a softmax over the value steps, and the weighted sum of the values.

    scores = q . k              (Tq,Tv)       A = softmax(scores) over Tv      y = A @ v

Masks (minidl/masks.py) say which value steps are real: a masked score gets a large negative
number before the softmax, so its weight is 0. Keras's layers each do this their own way
(named in each class); the values differ only when a whole row is masked.

Shapes: N batch, Tq query steps, Tv value (and key) steps, D features, H heads, K key_dim,
V value_dim, O output features.
"""
import math
import threading

import numpy as np

from minidl import activations, constraints, naming, regularizers
from minidl.layers import call_arguments
from minidl.layers.base import Layer
from minidl.layers.regularization import Dropout
from minidl.layers.symbolic import KerasTensor

_options = threading.local()  # .stack: the call options (masks, flags) of the calls running


def _current_options():
    return _options.stack[-1]


def _call_with_options(layer, inputs, training, options):
    """Layer.__call__ on `inputs`, with the call's options readable by `forward`."""
    stack = _options.__dict__.setdefault("stack", [])
    stack.append(options)
    try:
        return Layer.__call__(layer, inputs, training=training)
    finally:
        stack.pop()


def _call_symbolic_with_options(layer, inputs, options):
    """The call on KerasTensors: a node of the functional graph that keeps the call's flags
    (Keras writes them in the call's kwargs); returns the outputs and the node."""
    stack = _options.__dict__.setdefault("stack", [])
    stack.append(options)
    try:
        outputs = layer._call_symbolic(inputs)
    finally:
        stack.pop()
    node = layer._inbound_nodes[-1]
    node.call_kwargs = {name: True for name in ("use_causal_mask", "return_attention_scores")
                        if options[name]}
    return outputs, node


def _softmax_backward(dA, A):
    """dS = A * (dA - sum_s dA*A), over the last axis (the value steps)."""
    return A * (dA - (dA * A).sum(axis=-1, keepdims=True))


def causal_mask(tq, tv):
    """(1,Tq,Tv) bools, True where value step s <= query step t (Keras: row index >= column)."""
    return (np.arange(tq)[:, None] >= np.arange(tv)[None, :])[None]  # (1,Tq,Tv)


def _check_positive_int(name, value, allow_none=False):
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        expected = "a positive integer or `None`" if allow_none else "a positive integer"
        raise ValueError(f"Received an invalid value for argument `{name}`, expected "
                         f"{expected}. Received: {name}={value}")


def _check_off(**options):
    """Keras options minidl does not implement, accepted only with their 'off' value."""
    for name, value in options.items():
        if value not in (None, False):
            raise ValueError(f"minidl's MultiHeadAttention does not implement `{name}`: it "
                             f"must be {'False' if name == 'use_gate' else 'None'}. "
                             f"Received: {name}={value!r}")


def _serialize_initializer(initializer):
    from minidl.layers.normalization import _serialize
    return _serialize(initializer)


def _initializer(identifier):
    from minidl.layers.normalization import _initializer as get
    return get(identifier)


class _Projection(Layer):
    """The weights of one of MultiHeadAttention's EinsumDense projections (Keras's query,
    key, value and attention_output sublayers): kernel and bias, nothing more. The maths is
    MultiHeadAttention's own, written out there."""

    def __init__(self, kernel_shape, bias_shape, owner, **kwargs):
        super().__init__(**kwargs)
        self.kernel = self.add_weight(kernel_shape, owner.kernel_initializer, "kernel",
                                      regularizer=owner.kernel_regularizer,
                                      constraint=owner.kernel_constraint)
        self.bias = None if bias_shape is None else self.add_weight(
            bias_shape, owner.bias_initializer, "bias", regularizer=owner.bias_regularizer,
            constraint=owner.bias_constraint)
        for variable in self._own_weights:  # Keras's path: multi_head_attention/query/kernel
            variable.path = f"{owner.name}/{self.name}/{variable.name}"
        self.built = True


class MultiHeadAttention(Layer):
    """Multi-head scaled dot-product attention (Vaswani et al.), Keras's MultiHeadAttention.

    Called as `layer(query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
    attention_mask=None, return_attention_scores=False, training=None, use_causal_mask=False)`
    on (N, T, D) arrays.

    Args:
        num_heads: H, the number of attention heads.
        key_dim: K, the size of each head's query and key.
        value_dim: V, the size of each head's value (default: key_dim).
        dropout: the rate of dropout on the attention weights (while training).
        use_bias: whether the four projections have biases.
        output_shape: the output's last axis (default: the query's D).
        attention_axes: None (the time axis of (N, T, D) inputs); (1,) says the same.
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: of the
            four projections' kernels and biases.
        seed: an integer gives the dropout its own generator.

    Formula (each head h; q, k, v the inputs):
        Q = q @ Wq[:, h] + bq[h]      K_ = k @ Wk[:, h] + bk[h]      V_ = v @ Wv[:, h] + bv[h]
        S = (Q / sqrt(K)) @ K_^T      A = softmax(S, over the value steps)
        O_h = dropout(A) @ V_
        y = sum_h O_h @ Wo[h] + bo
    Masks: the query's mask, the value's (and the key's) mask, attention_mask (N, Tq, Tv)
    and the causal mask are ANDed into one (N, Tq, Tv) mask; where it is False, the score is
    replaced by a large negative number.

    Keras 3.15 (keras/src/layers/attention/multi_head_attention.py) computes this two ways:
    - with dropout > 0 or return_attention_scores=True, op by op: Q is multiplied by
      1/sqrt(K) BEFORE the product; masked scores become -1e9 (Keras's Softmax layer,
      keras/src/layers/activations/softmax.py), and masked weights are set to 0 after it;
    - otherwise through ops.dot_product_attention (keras/src/backend/tensorflow/nn.py):
      S = (Q @ K_^T) * (1/sqrt(K)) AFTER the product; masked scores become
      -0.7 * 3.38953e38, and nothing is zeroed, so a row whose steps are all masked (a
      padded query step) averages every value step instead of giving 0.
    minidl does the same, in the same order: `fused` below names the second way.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, sliding_window=None,
                 flash_attention=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 use_gate=False, seed=None, **kwargs):
        _check_positive_int("num_heads", num_heads)
        _check_positive_int("key_dim", key_dim)
        _check_positive_int("value_dim", value_dim, allow_none=True)
        _check_off(sliding_window=sliding_window, flash_attention=flash_attention,
                   activity_regularizer=activity_regularizer, use_gate=use_gate)
        super().__init__(**kwargs)
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self._dropout_layer = Dropout(dropout, seed=seed, name="dropout")  # checks the rate
        self.dropout, self.use_bias, self.seed = dropout, use_bias, seed
        if output_shape:
            if isinstance(output_shape, (int, np.integer)):
                output_shape = (int(output_shape),)
            try:
                output_shape = tuple(output_shape)
            except TypeError:
                raise ValueError(f"Invalid `output_shape`: {output_shape}. When specified, the "
                                 "`output_shape` should be of type tuple, list, or int.") from None
            if len(output_shape) != 1:
                raise ValueError("minidl's MultiHeadAttention projects to one output axis: "
                                 "`output_shape` must be an int or a tuple of one int. "
                                 f"Received: output_shape={output_shape}")
        self._output_shape = output_shape or None
        if isinstance(attention_axes, (int, np.integer)) and not isinstance(attention_axes, bool):
            attention_axes = (int(attention_axes),)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError("`attention_axes` must be an int, list, or tuple."
                             f"Received: attention_axes={attention_axes}")
        if attention_axes is not None and tuple(attention_axes) not in ((1,), (-2,)):
            raise ValueError(
                "minidl's MultiHeadAttention attends over the time axis of (N, T, D) inputs "
                "only: `attention_axes` must be None, 1 or (1,) (-2 says the same). "
                f"Received: attention_axes={attention_axes}")
        self.attention_axes = None if attention_axes is None else tuple(attention_axes)
        self.kernel_initializer = _initializer(kernel_initializer)
        self.bias_initializer = _initializer(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.supports_masking = True

    # -- calling: Keras's signature, on top of Layer.__call__ -----------------------------------
    def __call__(self, query, value=None, key=None, query_mask=None, value_mask=None,
                 key_mask=None, attention_mask=None, return_attention_scores=False,
                 training=None, use_causal_mask=False):
        """Keras's call. `value_mask` and `key_mask` (N, Tv), when given, stand for the masks
        riding on value and key; `query_mask` is read from the query itself, as Keras's call
        does whatever is passed (keras/src/layers/attention/multi_head_attention.py)."""
        if value is None and isinstance(query, (list, tuple)):  # a functional model's replay
            query, value, key = (list(query) + [None])[:3]
        if value is None:
            raise ValueError("MultiHeadAttention is called as layer(query, value, key=None): "
                             "`value` is required. Received: value=None")
        inputs = [query, value] if key is None else [query, value, key]
        given = {"attention_mask": attention_mask, "value_mask": value_mask,
                 "key_mask": key_mask}
        options = {**given, "use_causal_mask": bool(use_causal_mask),
                   "return_attention_scores": bool(return_attention_scores)}
        if any(isinstance(t, KerasTensor) for t in inputs + list(given.values())):
            return self._symbolic(inputs, options)
        options.update({name: None if m is None else np.asarray(m) for name, m in given.items()})
        return _call_with_options(self, inputs, training, options)

    def _symbolic(self, inputs, options):
        masks = {name: options[name] for name in ("attention_mask", "value_mask", "key_mask")
                 if options[name] is not None}
        if not all(isinstance(t, KerasTensor) for t in inputs + list(masks.values())):
            raise ValueError(
                "In a functional model, MultiHeadAttention's `query`, `value`, `key` and "
                "masks must all be KerasTensors (made from the model's inputs), not arrays. "
                f"Received: {', '.join(f'{n}={type(m).__name__}' for n, m in masks.items())}")
        outputs, node = _call_symbolic_with_options(self, inputs, options)
        node.spread_args = True  # Keras writes the call as args [query, value], kwargs {...}
        if masks:  # tensors by keyword: inputs of the node too (layers/call_arguments.py)
            node.call_args = inputs[:2]
            node.call_kwargs = {**({"key": inputs[2]} if len(inputs) == 3 else {}), **masks,
                                **node.call_kwargs}
            node.input_tensors = call_arguments.keras_tensors(node.call_args, node.call_kwargs)
        return outputs

    def check_input_shape(self, shape):
        if not isinstance(shape, list) or len(shape) not in (2, 3):
            raise ValueError("MultiHeadAttention is called as layer(query, value, key=None). "
                             f"Received input shapes: {shape}")
        for name, s in zip(("query", "value", "key"), shape):
            if len(s) != 3:
                raise ValueError(
                    f"minidl's MultiHeadAttention takes (batch, steps, features) inputs: "
                    f"`{name}` must have 3 axes. Received: {name}.shape={tuple(s)}")
        value_shape, key_shape = shape[1], shape[-1]
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError("All dimensions of `value` and `key`, except the last one, must "
                             f"be equal. Received: value_shape={tuple(value_shape)} and "
                             f"key_shape={tuple(key_shape)}")
        if self.built:
            for name, s, built in zip(("query", "value", "key"), shape, self._input_dims):
                if s[-1] != built:
                    raise ValueError(
                        f"Input `{name}` of layer \"{self.name}\" is incompatible with the "
                        f"layer: expected last axis {built}, received shape {tuple(s)}")

    def build(self, input_shape):
        query_shape, value_shape, key_shape = (list(input_shape) + [input_shape[1]])[:3]
        H, K, V = self.num_heads, self.key_dim, self.value_dim
        bias = (lambda *shape: shape) if self.use_bias else (lambda *shape: None)
        D_out = self._output_shape[0] if self._output_shape else query_shape[-1]
        self.query_dense = _Projection((query_shape[-1], H, K), bias(H, K), self, name="query")
        self.key_dense = _Projection((key_shape[-1], H, K), bias(H, K), self, name="key")
        self.value_dense = _Projection((value_shape[-1], H, V), bias(H, V), self, name="value")
        self.output_dense = _Projection((H, V, D_out), bias(D_out), self,
                                        name="attention_output")
        self._input_dims = (query_shape[-1], value_shape[-1], key_shape[-1])
        self.attention_axes = (1,)  # Keras's _build_attention: the axes, as a tuple, once built
        # which also makes a Softmax and a Dropout layer, taking the next "softmax" and
        # "dropout" names: the layers made after this one are named as Keras names them.
        naming.auto_name("softmax"), naming.auto_name("dropout")

    def build_config(self):
        """Keras's build_config for a layer built from several shapes: by argument name."""
        from minidl.saving.layer_config import shape_list
        names = ("query_shape", "value_shape", "key_shape")
        return {"shapes_dict": {name: shape_list(shape)
                                for name, shape in zip(names, self.input_shape)}}

    def compute_output_shape(self, input_shape):
        query_shape, value_shape = input_shape[0], input_shape[1]
        output = tuple(query_shape[:-1]) + (self._output_shape or (query_shape[-1],))
        if _options.__dict__.get("stack") and _current_options()["return_attention_scores"]:
            return [output, (query_shape[0], self.num_heads, query_shape[1], value_shape[1])]
        return output

    def compute_mask(self, inputs, mask):
        """The query's mask rides on the output (Keras sets it on attention_output only)."""
        query_mask = None if mask is None else mask[0]
        if _current_options()["return_attention_scores"]:
            return [query_mask, None]
        return query_mask

    # -- the maths --------------------------------------------------------------------------------
    def _mask(self, q, v, masks, options):
        """The (N,Tq,Tv) mask Keras's _compute_attention_mask makes, or None."""
        query_mask, value_mask, key_mask = (list(masks or []) + [None] * 3)[:3]
        if len(masks or []) < 3:
            key_mask = None  # no key given: Keras reads no key mask
        if options.get("value_mask") is not None:  # given to the call: instead of the value's
            value_mask = options["value_mask"].astype(bool)
        if options.get("key_mask") is not None:
            key_mask = options["key_mask"].astype(bool)
        mask = None
        for m in (None if query_mask is None else query_mask[:, :, None],  # (N,Tq,1)
                  None if value_mask is None else value_mask[:, None, :],  # (N,1,Tv)
                  None if key_mask is None else key_mask[:, None, :],  # (N,1,Tv)
                  causal_mask(q.shape[1], v.shape[1]) if options["use_causal_mask"] else None):
            if m is not None:
                mask = m if mask is None else mask & m
        given = options["attention_mask"]
        if given is not None:
            given = given.astype(bool) if given.dtype == bool else given != 0
            mask = given if mask is None else given & mask
        if mask is not None:
            mask = np.broadcast_to(mask, (q.shape[0], q.shape[1], v.shape[1]))  # (N,Tq,Tv)
        return mask

    def forward(self, xs, training=False, mask=None):
        options = _current_options()
        q, v = xs[0], xs[1]
        k = xs[2] if len(xs) == 3 else v
        m = self._mask(q, v, mask if isinstance(mask, list) else None, options)
        fused = not (self.dropout > 0 or options["return_attention_scores"])
        dtype = q.dtype.type
        s = dtype(1.0 / math.sqrt(float(self.key_dim)))  # Keras's _inverse_sqrt_key_dim
        Wq, Wk, Wv, Wo = (p.kernel.value for p in (self.query_dense, self.key_dense,
                                                     self.value_dense, self.output_dense))
        Q = np.einsum("ntd,dhk->nthk", q, Wq)  # (N,Tq,D)@(D,H,K) -> (N,Tq,H,K)
        Kp = np.einsum("nsd,dhk->nshk", k, Wk)  # (N,Tv,D)@(D,H,K) -> (N,Tv,H,K)
        Vp = np.einsum("nsd,dhv->nshv", v, Wv)  # (N,Tv,D)@(D,H,V) -> (N,Tv,H,V)
        if self.use_bias:
            Q = Q + self.query_dense.bias.value  # (N,Tq,H,K) + (H,K)
            Kp = Kp + self.key_dense.bias.value  # (N,Tv,H,K) + (H,K)
            Vp = Vp + self.value_dense.bias.value  # (N,Tv,H,V) + (H,V)
        if fused:  # ops.dot_product_attention: scale after the product
            S = np.einsum("nthk,nshk->nhts", Q, Kp) * s  # (N,H,Tq,Tv)
            negative = dtype(-0.7 * 3.38953e38)  # keras/src/backend/tensorflow/nn.py
        else:  # Keras's _compute_attention: scale the query first
            Q = Q * s  # (N,Tq,H,K)
            S = np.einsum("nshk,nthk->nhts", Kp, Q)  # (N,H,Tq,Tv)
            negative = dtype(-1e9)  # Softmax layer's _large_negative_number
        m4 = None if m is None else m[:, None]  # (N,1,Tq,Tv), the same for every head
        if m4 is not None:
            S = np.where(m4, S, negative)  # (N,H,Tq,Tv)
        A = activations.softmax(S, axis=-1)  # (N,H,Tq,Tv)
        scores = A if (fused or m4 is None) else np.where(m4, A, dtype(0))  # (N,H,Tq,Tv)
        Ad, drop_cache = self._dropout_layer.forward(scores, training=training)  # (N,H,Tq,Tv)
        O = np.einsum("nhts,nshv->nthv", Ad, Vp)  # (N,H,Tq,Tv)@(N,Tv,H,V) -> (N,Tq,H,V)
        y = np.einsum("nthv,hvo->nto", O, Wo)  # (N,Tq,H,V)@(H,V,O) -> (N,Tq,O)
        if self.use_bias:
            y = y + self.output_dense.bias.value  # (N,Tq,O) + (O,)
        cache = (q, v, k, len(xs), Q, Kp, Vp, A, m4, Ad, drop_cache, O, fused, s)
        if options["return_attention_scores"]:
            return [y, scores], cache
        return y, cache

    def backward(self, dy, cache, need_dx=True):
        q, v, k, n_inputs, Q, Kp, Vp, A, m4, Ad, drop_cache, O, fused, s = cache
        dscores = None
        if isinstance(dy, list):
            dy, dscores = dy
        Wq, Wk, Wv, Wo = (p.kernel.value for p in (self.query_dense, self.key_dense,
                                                     self.value_dense, self.output_dense))
        grads = {self.output_dense.kernel: np.einsum("nthv,nto->hvo", O, dy)}  # (H,V,O)
        dO = np.einsum("nto,hvo->nthv", dy, Wo)  # (N,Tq,O)@(H,V,O)^T -> (N,Tq,H,V)
        dAd = np.einsum("nthv,nshv->nhts", dO, Vp)  # (N,H,Tq,Tv)
        dVp = np.einsum("nhts,nthv->nshv", Ad, dO)  # (N,Tv,H,V)
        dscores_total, _ = self._dropout_layer.backward(dAd, drop_cache)  # (N,H,Tq,Tv)
        if dscores is not None:
            dscores_total = dscores_total + dscores  # the returned scores reached the loss too
        dA = dscores_total if (fused or m4 is None) else np.where(m4, dscores_total, 0)
        dS = _softmax_backward(dA, A)  # (N,H,Tq,Tv)
        if m4 is not None:
            dS = np.where(m4, dS, dS.dtype.type(0))  # tf.where: no gradient to a masked score
        if fused:
            dS = dS * s  # S = (Q . K) * s
            dQ = np.einsum("nhts,nshk->nthk", dS, Kp)  # (N,Tq,H,K)
            dKp = np.einsum("nhts,nthk->nshk", dS, Q)  # (N,Tv,H,K)
        else:
            dKp = np.einsum("nhts,nthk->nshk", dS, Q)  # Q here is already scaled
            dQ = np.einsum("nhts,nshk->nthk", dS, Kp) * s  # through Q * s
        grads[self.query_dense.kernel] = np.einsum("ntd,nthk->dhk", q, dQ)  # (D,H,K)
        grads[self.key_dense.kernel] = np.einsum("nsd,nshk->dhk", k, dKp)  # (D,H,K)
        grads[self.value_dense.kernel] = np.einsum("nsd,nshv->dhv", v, dVp)  # (D,H,V)
        if self.use_bias:
            grads[self.query_dense.bias] = dQ.sum(axis=(0, 1))  # (H,K)
            grads[self.key_dense.bias] = dKp.sum(axis=(0, 1))  # (H,K)
            grads[self.value_dense.bias] = dVp.sum(axis=(0, 1))  # (H,V)
            grads[self.output_dense.bias] = dy.sum(axis=(0, 1))  # (O,)
        if not need_dx:
            return None, grads
        dq = np.einsum("nthk,dhk->ntd", dQ, Wq)  # (N,Tq,D)
        dk = np.einsum("nshk,dhk->nsd", dKp, Wk)  # (N,Tv,D)
        dv = np.einsum("nshv,dhv->nsd", dVp, Wv)  # (N,Tv,D)
        if n_inputs == 2:  # the key was the value
            return [dq, dv + dk], grads
        return [dq, dv, dk], grads

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "use_gate": False,
                "output_shape": self._output_shape, "attention_axes": self.attention_axes,
                "sliding_window": None,
                "kernel_initializer": _serialize_initializer(self.kernel_initializer),
                "bias_initializer": _serialize_initializer(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": None, "kernel_constraint": self.kernel_constraint,
                "bias_constraint": self.bias_constraint, "seed": self.seed}
