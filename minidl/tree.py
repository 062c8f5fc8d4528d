"""keras.tree: nested structures of lists, tuples, namedtuples and dicts, and their leaves.

A structure's leaves are read in Keras's order: lists and tuples by position, dicts by
sorted key (a rebuilt dict keeps its own key order). Anything else is a leaf: arrays,
numbers, strings and None.

    flatten({"b": [1, 2], "a": 3})                      -> [3, 1, 2]
    map_structure(lambda x: x * 10, {"b": [1, 2]})     -> {"b": [10, 20]}
"""

__all__ = ["assert_same_structure", "flatten", "flatten_with_path", "is_nested",
           "lists_to_tuples", "map_structure", "pack_sequence_as"]


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
