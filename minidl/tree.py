"""keras.tree: nested structures of lists, tuples, namedtuples and dicts, and their leaves.

A structure's leaves are read in Keras's order: lists and tuples by position, dicts by
sorted key (a rebuilt dict keeps its own key order). Anything else is a leaf: arrays,
numbers, strings and None.

    flatten({"b": [1, 2], "a": 3})                      -> [3, 1, 2]
    map_structure(lambda x: x * 10, {"b": [1, 2]})     -> {"b": [10, 20]}
"""

__all__ = ["MAP_TO_NONE", "assert_same_paths", "assert_same_structure", "flatten",
           "flatten_with_path", "is_nested", "lists_to_tuples", "map_shape_structure",
           "map_structure", "map_structure_up_to", "pack_sequence_as", "traverse"]


def is_nested(structure):
    """True for a list, tuple (namedtuples too) or dict: a structure with children."""
    return isinstance(structure, (list, tuple, dict))


def _children(structure):
    """(key, child) pairs in Keras's order: positions, or a dict's sorted keys."""
    if isinstance(structure, dict):
        return [(key, structure[key]) for key in sorted(structure)]
    return list(enumerate(structure))


def _rebuild(structure, values):
    """A structure like `structure` holding `values` (one per child, in _children's order)."""
    if isinstance(structure, dict):
        by_key = dict(zip(sorted(structure), values))
        return type(structure)((key, by_key[key]) for key in structure)
    if isinstance(structure, tuple) and hasattr(structure, "_fields"):  # a namedtuple
        return type(structure)(*values)
    return type(structure)(values)


def flatten_with_path(structure):
    """Each leaf with its path, the keys and positions leading to it: [(path, leaf), ...]."""
    if not is_nested(structure):
        return [((), structure)]
    return [((key,) + path, leaf) for key, child in _children(structure)
            for path, leaf in flatten_with_path(child)]


def flatten(structure):
    """The leaves of a structure, in Keras's order (a leaf alone gives [leaf])."""
    return [leaf for _, leaf in flatten_with_path(structure)]


def assert_same_structure(a, b, check_types=None):
    """Raise unless a and b nest the same containers with the same keys and lengths."""
    if _shape(a) != _shape(b):
        raise ValueError("Structures don't have the same nested structure.")


def _shape(structure):
    """The structure with its leaves left out: what two same-structured values share."""
    if not is_nested(structure):
        return None
    return type(structure), [(key, _shape(child)) for key, child in _children(structure)]


def pack_sequence_as(structure, flat_sequence):
    """The leaves of `flat_sequence`, in order, put into the shape of `structure`."""
    flat_sequence = list(flat_sequence)
    count = len(flatten(structure))
    if len(flat_sequence) != count:
        got = f", got: {len(flat_sequence)}" if len(flat_sequence) < count else ""
        word = "few" if got else "many"
        raise ValueError(f"Too {word} leaves for PyTreeSpec; expected: {count}{got}.")
    leaves = iter(flat_sequence)

    def fill(template):
        if not is_nested(template):
            return next(leaves)
        return _rebuild(template, [fill(child) for _, child in _children(template)])

    return fill(structure)


def map_structure(func, *structures, none_is_leaf=True):
    """func applied leaf by leaf to structures of the same structure, in the first's shape."""
    for other in structures[1:]:
        assert_same_structure(structures[0], other)
    if not none_is_leaf:
        raise ValueError("minidl.tree.map_structure takes None as a leaf only (Keras's "
                         f"default). Received: none_is_leaf={none_is_leaf}")
    leaves = [func(*group) for group in zip(*(flatten(s) for s in structures))]
    return pack_sequence_as(structures[0], leaves)


def lists_to_tuples(structure):
    """The same structure with every list made a tuple."""
    if not is_nested(structure):
        return structure
    values = [lists_to_tuples(child) for _, child in _children(structure)]
    if isinstance(structure, list):
        return tuple(values)
    return _rebuild(structure, values)


def map_structure_up_to(shallow_structure, func, *structures):
    """func applied to the parts of structures that sit where shallow_structure has leaves
    (whole subtrees where they nest deeper), in the shape of shallow_structure."""
    flat = [_flatten_up_to(shallow_structure, s) for s in structures]
    return pack_sequence_as(shallow_structure, [func(*group) for group in zip(*flat)])


def _flatten_up_to(shallow, structure):
    if not is_nested(shallow):
        return [structure]
    kind = type(shallow).__name__
    if type(structure) is not type(shallow):
        raise ValueError(f"Expected an instance of {kind}, got {structure!r}.")
    if len(structure) != len(shallow) or (isinstance(shallow, dict)
                                          and sorted(structure) != sorted(shallow)):
        raise ValueError(f"{kind} arity mismatch; expected: {len(shallow)}, got: "
                         f"{len(structure)}; {kind}: {structure!r}.")
    return [part for (_, s), (_, c) in zip(_children(shallow), _children(structure))
            for part in _flatten_up_to(s, c)]


def _is_shape(structure):
    """A shape: a tuple or list of ints and Nones, such as (None, 3)."""
    return isinstance(structure, (list, tuple)) and \
        all(d is None or isinstance(d, int) for d in structure)


def map_shape_structure(func, structure):
    """func applied to each shape of a structure of shapes ((None, 3) is a leaf here)."""
    if _is_shape(structure) or not is_nested(structure):
        return func(structure)
    return _rebuild(structure, [map_shape_structure(func, child)
                                for _, child in _children(structure)])


class MAP_TO_NONE:  # noqa: N801 (Keras's name)
    """What traverse's func returns to put None in a node's place."""


def traverse(func, structure, top_down=True):
    """func applied to every node, containers included. Top down: a node for which func
    returns something other than None is replaced by it and not entered; bottom up: the
    children first, then func on the rebuilt node (None keeps it). MAP_TO_NONE gives None."""
    def visit(node):
        if top_down:
            out = func(node)
            if out is None and is_nested(node):
                return _rebuild(node, [visit(child) for _, child in _children(node)])
        else:
            if is_nested(node):
                node = _rebuild(node, [visit(child) for _, child in _children(node)])
            out = func(node)
        return None if out is MAP_TO_NONE else node if out is None else out

    return visit(structure)


def assert_same_paths(a, b):
    """Raise unless a and b have leaves at the same paths (lists and tuples alike)."""
    paths_a = {path for path, _ in flatten_with_path(a)}
    paths_b = {path for path, _ in flatten_with_path(b)}
    if paths_a != paths_b:
        raise ValueError(f"`a` and `b` don't have the same paths.\nPaths in `a` missing in "
                         f"`b`:\n{paths_a - paths_b}\nPaths in `b` missing in `a`:\n"
                         f"{paths_b - paths_a}")
