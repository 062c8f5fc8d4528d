"""keras.ops.rearrange: einops-style axis patterns ("b h w c -> b (h w) c").

As keras/src/ops/einops.py: split grouped input axes with a reshape, put the axes in the
output's order with a transpose, merge the output's groups with a reshape. Both are the
recorded reshape and transpose (backprop.py), so a rearrange trains.
"""
import re

from minidl.ops.backprop import reshape, transpose
from minidl.ops.core import shape as shape_of


def rearrange(tensor, pattern, **axes_lengths):
    """The axes of `tensor` rearranged as `pattern` says.

    Args:
        tensor: the array.
        pattern: "input axes -> output axes", names separated by spaces; "(h w)" is one
            axis made of several (split on the left, merged on the right).
        **axes_lengths: the length of axes a split cannot infer (h1=2 in "(h1 h)").
    Formula: y = reshape(transpose(reshape(x, split shape), order), merged shape)
    Example: rearrange(images, "b (h h1) (w w1) c -> b h w (c h1 w1)", h1=2, w1=2)
    """
    input_pattern, output_pattern = re.split(r"\s*->\s*", pattern)
    input_axes = re.findall(r"\w+|\(.*?\)", input_pattern)
    output_axes = re.findall(r"\w+|\(.*?\)", output_pattern)
    input_shape = shape_of(tensor)
    lengths = dict(axes_lengths)
    sizes = {}  # each named axis -> its length
    for axis, dim in zip(input_axes, input_shape):
        group = re.match(r"\(([\w\s]+)\)", axis)
        if group:
            inner = group.group(1).split()
            inferred = [a for a in inner if a not in lengths]
            if inferred:
                known = 1
                for a in inner:
                    known *= lengths[a] if a in lengths else 1
                lengths[inferred[0]] = dim // known
            sizes.update({a: lengths[a] for a in inner})
        else:
            sizes[axis] = dim
    split_axes = [a for axis in input_axes for a in re.findall(r"\w+", axis)]
    split_shape = [lengths[a] if "(" in axis else sizes[a]
                   for axis in input_axes for a in re.findall(r"\w+", axis)]
    if tuple(split_shape) != tuple(input_shape):
        tensor = reshape(tensor, tuple(split_shape))
    groups = [re.findall(r"\w+", axis) for axis in output_axes]
    tensor = transpose(tensor, [split_axes.index(a) for group in groups for a in group])
    merged = []
    for group in groups:
        size = 1
        for a in group:
            size *= sizes[a]
        merged.append(size)
    return reshape(tensor, tuple(merged))
