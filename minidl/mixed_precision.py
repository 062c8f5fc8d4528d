"""keras.mixed_precision's names: the float-type policies of dtype_policies.py, and
LossScaleOptimizer (optimizers/loss_scale.py). Mixed precision itself ("mixed_float16",
"mixed_bfloat16") is refused there, by name."""
from minidl.dtype_policies import (DTypePolicy, Policy, dtype_policy, global_policy,  # noqa: F401
                                   set_dtype_policy, set_global_policy)
from minidl.optimizers.loss_scale import LossScaleOptimizer  # noqa: F401
