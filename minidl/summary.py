"""`model.summary()`: the same text as Keras 3 prints when stdout is not a terminal.

    Model: "sequential"
    ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
    ┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
    ┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
    │ dense (Dense)                   │ (None, 512)            │       401,920 │
    ├─────────────────────────────────┼────────────────────────┼───────────────┤
    │ dense_1 (Dense)                 │ (None, 10)             │         5,130 │
    └─────────────────────────────────┴────────────────────────┴───────────────┘
     Total params: 407,050 (1.55 MB)
     Trainable params: 407,050 (1.55 MB)
     Non-trainable params: 0 (0.00 B)

Keras (`keras/src/utils/summary_utils.py`) hands the rows to the `rich` library's Table; the
width rules and word wrapping below are rich's, written out here (no colours). A functional
model that is not a plain chain (several inputs, a merge, a layer used twice) gets a fourth
column, "Connected to", naming each layer call's inputs as `layer[node][tensor]`.
"""
import math
import re
import shutil
import sys

HEADER = ["Layer (type)", "Output Shape", "Param #"]
JUSTIFY = ["left", "left", "right"]
DEFAULT_LINE_LENGTH = 88
DEFAULT_POSITIONS = [0.45, 0.80, 1.0]
# A graph that is not a chain: the "Connected to" column, a wider default, other positions.
GRAPH_HEADER, GRAPH_JUSTIFY = HEADER + ["Connected to"], JUSTIFY + ["left"]
GRAPH_LINE_LENGTH, GRAPH_POSITIONS = 108, [0.3, 0.56, 0.74, 1.0]
PADDING = 1  # spaces on each side of a cell

# rich's "heavy head" box: (left, line, junction, right) for each kind of rule
TOP = "┏", "━", "┳", "┓"
HEAD_BOTTOM = "┡", "━", "╇", "┩"
ROW_SEPARATOR = "├", "─", "┼", "┤"
BOTTOM = "└", "─", "┴", "┘"
HEAD_BAR, ROW_BAR = "┃", "│"


def print_summary(model, line_length=None, positions=None, print_fn=None,
                  expand_nested=False, show_trainable=False):
    """Print a table of the model's layers, output shapes and parameter counts, then the totals.

    Args:
        model: A model with `name`, `layers`, `trainable_weights`, `non_trainable_weights`
            and `optimizer`.
        line_length: Total width of the table. Defaults to 88, or the terminal width minus 4
            if that is smaller.
        positions: Right edge of each column, as fractions of `line_length`.
            Defaults to `[0.45, 0.80, 1.0]`.
        print_fn: Called once with the whole summary (a string ending in a newline).
            Defaults to writing it to stdout.
        expand_nested: also a row for each layer inside a model held as a layer, under it,
            its name after "   " per level and "└ " (Keras's layers hold no `layers`).
        show_trainable: a "Trainable" column: Y or N for a layer with weights, - otherwise
            (the default width grows by 12 and the other columns' positions shrink to 90 %).
    """
    from minidl.models import Model  # (models.py imports this module lazily too)

    columns = shutil.get_terminal_size().columns  # honours $COLUMNS; 80 without a terminal
    graph = getattr(model, "_graph", None)
    chain = graph is None or _sequential_like(graph)
    header, justify = (HEADER, JUSTIFY) if chain else (GRAPH_HEADER, GRAPH_JUSTIFY)
    default_length, default_positions = ((DEFAULT_LINE_LENGTH, DEFAULT_POSITIONS) if chain
                                         else (GRAPH_LINE_LENGTH, GRAPH_POSITIONS))
    if show_trainable:  # keras/src/utils/summary_utils.py's column, centred
        default_length += 12
        positions = [p * 0.90 for p in positions or default_positions] + [1.0]
        header, justify = header + ["Trainable"], justify + ["center"]
    line_length = line_length or min(default_length, columns - 4)
    widths = _column_widths(line_length, positions or default_positions)
    layers = model.layers if graph is None else graph.layers  # with its ops, as Keras's

    def rows_of(layer, level=0):
        prefix = "   " * level + "└ " if level else ""
        row = _layer_row(layer, prefix) + ([] if chain else [_connections(layer, graph)])
        if show_trainable:
            row.append(("Y" if layer.trainable else "N") if getattr(layer, "weights", None)
                       else "-")
        inner = layer.layers if expand_nested and isinstance(layer, Model) else []
        return [row] + [r for sublayer in inner for r in rows_of(sublayer, level + 1)]

    rows = [row for layer in layers for row in rows_of(layer)]

    lines = [f'Model: "{model.name}"']
    lines += [line[:columns] for line in _draw_table(header, justify, rows, widths)]
    lines += _footer(model)
    text = "\n".join(lines) + "\n"
    if print_fn is None:
        sys.stdout.write(text)
    else:
        print_fn(text)


def _layer_row(layer, prefix=""):
    """The three cells of one layer: 'dense (Dense)', '(None, 512)', '401,920'."""
    name = f"{prefix}{layer.name} ({getattr(layer, 'class_name', type(layer).__name__)})"
    shape = layer.output_shape
    calls = [node for node in getattr(layer, "_inbound_nodes", []) if not node.is_input]
    if hasattr(layer, "_graph") and calls:  # a model inside the model: the shape of its last
        outputs = calls[-1].outputs  # call, as Keras's format_layer_shape (a base for any
        shape = ([t.shape for t in outputs] if isinstance(outputs, list)  # image size,
                 else outputs.shape)  # called on 180x180 images)
    if shape is None:
        shape_text = "?"
    elif isinstance(shape, list):  # several outputs (an LSTM's [output, h, c])
        shape_text = "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    else:
        shape_text = _shape_text(shape)
    params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
    return [name, shape_text, params]


def _shape_text(shape):
    return "(" + ", ".join(str(dim) for dim in shape) + ")"  # (None,) -> "(None)"


def _sequential_like(graph):
    """Keras's test: one node per depth, each with one input, and no layer called twice."""
    for nodes in graph.nodes_by_depth.values():
        if len(nodes) > 1 or (len(nodes) == 1 and len(nodes[0].input_tensors) > 1):
            return False
    calls = [node.layer for node in graph.nodes]
    return len(calls) == len(set(map(id, calls)))


def _connections(layer, graph):
    """'dense[0][0], input_b[0][0]': the tensors each of the layer's calls in the graph took."""
    own = {id(node) for node in graph.nodes}
    names = [f"{t.node.layer.name}[{_node_index(t)}][{t.index}]"
             for node in layer._inbound_nodes if id(node) in own for t in node.input_tensors]
    return ", ".join(names) or "-"


def _node_index(tensor):
    """Which call of its layer made the tensor (0 for the first)."""
    return tensor.node.layer._inbound_nodes.index(tensor.node)


def _footer(model):
    """' Total params: ...' and friends; Total includes the optimizer's variables once built."""
    groups = [
        ("Trainable", [w.value for w in model.trainable_weights]),
        ("Non-trainable", [w.value for w in model.non_trainable_weights]),
    ]
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.built:  # built by the first training step
        groups.append(("Optimizer", list(optimizer.variables)))
    total = [array for _, arrays in groups for array in arrays]
    return [_count_line(label, arrays) for label, arrays in [("Total", total)] + groups]


def _count_line(label, arrays):
    """' Trainable params: 407,050 (1.55 MB)'."""
    count = sum(array.size for array in arrays)
    size = sum(array.nbytes for array in arrays)  # per dtype: int64 iterations take 8 bytes
    return f" {label} params: {count:,} ({readable_memory_size(size)})"


def readable_memory_size(size):
    """Bytes as '92.00 B', '397.54 KB', '1.55 MB' (steps of 1024, as Keras)."""
    for unit in ["B", "KB", "MB", "GB", "TB", "PB"]:
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _column_widths(line_length, positions):
    """Widths of the columns between the borders, padding included (88 -> 38, 29, 17)."""
    edges = [int(position * line_length) for position in positions]
    requested = [right - left for left, right in zip([0] + edges, edges)]
    if min(requested) < 4:
        raise ValueError("Insufficient console width to print summary.")
    # rich adds the padding to each requested width, then makes the columns fit between the
    # borders: line_length minus one character per border.
    available = line_length - (len(requested) + 1)
    widths = [min(width + 2 * PADDING, available) for width in requested]
    excess = sum(widths) - available
    if excess > 0:
        return _shrink_evenly(widths, excess)
    return _grow_in_proportion(widths, -excess)


def _shrink_evenly(widths, excess):
    """Take `excess` off the columns in equal shares, left to right (rich's ratio_reduce)."""
    result = []
    for i, width in enumerate(widths):
        cut = min(width, round(excess / (len(widths) - i)))  # round() is round-half-even
        result.append(width - cut)
        excess -= cut
    return result


def _grow_in_proportion(widths, slack):
    """Share `slack` out in proportion to the widths, left to right (rich's ratio_distribute)."""
    result, remaining = [], sum(widths)
    for width in widths:
        extra = math.ceil(width * slack / remaining)
        result.append(width + extra)
        slack -= extra
        remaining -= width
    return result


def _draw_table(header, justify, rows, widths):
    """The table's lines: header, then each row, with a rule between rows (show_lines)."""
    lines = [_rule(TOP, widths)]
    lines += _draw_row(header, justify, widths, HEAD_BAR, align_bottom=True)
    lines.append(_rule(HEAD_BOTTOM, widths))
    for i, row in enumerate(rows):
        if i > 0:
            lines.append(_rule(ROW_SEPARATOR, widths))
        lines += _draw_row(row, justify, widths, ROW_BAR)
    lines.append(_rule(BOTTOM, widths))
    return lines


def _rule(box, widths):
    """A horizontal rule such as '┏━━━┳━━┓'."""
    left, line, junction, right = box
    return left + junction.join(line * width for width in widths) + right


def _draw_row(cells, justify, widths, bar, align_bottom=False):
    """One table row, several lines tall if a cell wraps.

    Shorter cells get blank lines below (rows) or above (the header: rich aligns it to the bottom).
    """
    wrapped = [_wrap(text, width - 2 * PADDING, side)
               for text, width, side in zip(cells, widths, justify)]
    height = max(len(cell_lines) for cell_lines in wrapped)
    columns = []
    for cell_lines, width in zip(wrapped, widths):
        blank = [" " * (width - 2 * PADDING)] * (height - len(cell_lines))
        columns.append(blank + cell_lines if align_bottom else cell_lines + blank)
    pad = " " * PADDING
    return [bar + bar.join(pad + part + pad for part in parts) + bar for parts in zip(*columns)]


def _wrap(text, width, justify):
    """rich's word wrap: break before a word that does not fit; cut a too-long line with '…'."""
    lines = [""]
    for word in re.findall(r"\s*\S+\s*", text):  # a word keeps the spaces that follow it
        if lines[-1] and len(lines[-1]) + len(word.rstrip()) > width:
            lines.append(word)
        else:
            lines[-1] += word
    return [_fit_line(line, width, justify) for line in lines]


def _fit_line(line, width, justify):
    """Trim, truncate with '…' and pad one wrapped line to exactly `width` characters."""
    line = line[: max(width, len(line.rstrip()))]  # trailing spaces may overflow: drop them
    if justify in ("right", "center"):
        line = line.rstrip()
    if len(line) > width:
        line = line[: width - 1] + "…"
    if justify == "center":  # rich: the odd space on the right
        left = (width - len(line)) // 2
        return " " * left + line + " " * (width - len(line) - left)
    return line.rjust(width) if justify == "right" else line.ljust(width)
