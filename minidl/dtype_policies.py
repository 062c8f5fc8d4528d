"""keras.dtype_policies (and keras.mixed_precision): the float type layers compute in.

minidl computes in one float type, minidl.config.floatx(): float32 (Keras's default) or
float64 (for gradient checks). A policy naming one of them is that float type; the half and
mixed policies ("mixed_float16", "mixed_bfloat16", "float16", "bfloat16") are refused by
name, since minidl has no half-precision arithmetic (optimizers.LossScaleOptimizer scales
the loss as Keras's does, in float32).
"""
from minidl import config

FLOATS = ("float32", "float64")
HALF = ("float16", "bfloat16", "mixed_float16", "mixed_bfloat16")


class DTypePolicy:
    """A layer's compute and variable dtype, both `name` (default: minidl.config.floatx()).

    Args:
        name: "float32" or "float64".
    """

    def __init__(self, name=None):
        name = config.floatx() if name is None else name
        if not isinstance(name, str) or name not in FLOATS + HALF:
            raise ValueError(f"Cannot convert '{name}' to a mixed precision DTypePolicy. Valid "
                             "policies include 'mixed_float16', 'mixed_bfloat16', and the name "
                             "of any float dtype such as 'float32'.")
        if name in HALF:
            raise ValueError("minidl computes in float32 (or float64, for gradient checks) "
                             "only: it has no half-precision arithmetic, so mixed and "
                             f"16-bit policies are not available. Received: "
                             f"name={name!r}")
        self.name = name
        self.compute_dtype = self.variable_dtype = name

    def __repr__(self):
        return f'<DTypePolicy "{self.name}">'

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def set_dtype_policy(policy):
    """Make `policy` ("float32", "float64" or a DTypePolicy of them) the float type of every
    layer built from now on: minidl.config.set_floatx(policy.name)."""
    if isinstance(policy, str):
        policy = DTypePolicy(policy)
    if not isinstance(policy, DTypePolicy):
        raise ValueError("Invalid `policy` argument. Expected the string name of a policy "
                         "(such as 'mixed_float16') or a `DTypePolicy` instance. Received: "
                         f"policy={policy} (of type {type(policy)})")
    config.set_floatx(policy.name)


def dtype_policy():
    """The policy layers are built with: minidl's float type."""
    return DTypePolicy(config.floatx())


def get(identifier):
    """A DTypePolicy from its name, its config or itself (None: the global policy)."""
    if identifier is None:
        return dtype_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return DTypePolicy.from_config(identifier.get("config", identifier))
    return DTypePolicy(identifier)


# keras.mixed_precision's names for the same things
Policy = DTypePolicy
set_global_policy, global_policy = set_dtype_policy, dtype_policy
