"""Import TensorFlow without its start-up log lines, keeping everything else it writes to stderr.

With TensorFlow 2.21, `import tensorflow` prints, whatever TF_CPP_MIN_LOG_LEVEL says (checked
with 1, 2 and 3):

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796039828.551142    6050 port.cc:153] oneDNN custom operations are on. ...

twice, once for each of its shared libraries that logs it. These lines are written from C++
while the libraries load, before absl's logging is initialised: absl then writes every
message straight to file descriptor 2, and TensorFlow's own level check (which reads
TF_CPP_MIN_LOG_LEVEL) is not consulted. Setting the variable before the import therefore
hides only what is logged later (cpu_feature_guard's "This TensorFlow binary is optimized..."
line, at level >= 1). TF_ENABLE_ONEDNN_OPTS=0 would silence the oneDNN line by turning oneDNN
off, which changes TensorFlow's numbers; minidl compares against TensorFlow as users run it.

What does work: while `import tensorflow` runs, point file descriptor 2 (the one C++ writes to)
at a temporary file, then write back every line that is not such a start-up line. The filter
follows TF_CPP_MIN_LOG_LEVEL as TensorFlow means it (0 all, 1 no INFO, 2 no WARNING, 3 no
ERROR): it drops the absl records below that level and absl's "before InitializeLog" notice,
and keeps everything else, so a real warning, error or traceback printed during the import
still shows. TF_CPP_MIN_LOG_LEVEL=0 keeps every line.

`install()` (called by `reference/__init__.py`) makes the next `import tensorflow` (direct, or
through `import keras`) go through `filtered_stderr`, so every TensorFlow entry point of the
reference package is quiet: `minidl lab`, `reference.report.side_by_side`,
`python -m reference.bench`.
"""
import contextlib
import importlib.abc
import os
import re
import sys
import tempfile

# An absl log record: severity letter, MMDD, time (before absl is initialised the seconds are
# counted from 1970: 'I0000 00:00:1796039828.551142'), thread id, file:line] message.
ABSL_RECORD = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+(\.\d+)?\s+\d+ \S+:\d+\] ")
ABSL_NOTICE = ("WARNING: All log messages before absl::InitializeLog() is called are written "
               "to STDERR")
SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}  # as TF_CPP_MIN_LOG_LEVEL counts them


def min_log_level():
    """TF_CPP_MIN_LOG_LEVEL as an int (0 when unset or not a number)."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def is_start_up_noise(line, level=None):
    """True for a line TensorFlow's own level check would have hidden had absl been ready.

    Args:
        line: one line of what was written to stderr.
        level: the minimum level kept, as TF_CPP_MIN_LOG_LEVEL (default: read from it).
    """
    level = min_log_level() if level is None else level
    if level < 1:
        return False
    if line.rstrip("\r\n") == ABSL_NOTICE:
        return True
    record = ABSL_RECORD.match(line)
    return record is not None and SEVERITY[record.group(1)] < level


@contextlib.contextmanager
def filtered_stderr(drop=is_start_up_noise):
    """Collect what is written to file descriptor 2 in the block; write back what is not dropped."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()  # Python-level writes made in the block land in the file too
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not drop(line))
            if kept:
                os.write(2, kept.encode("utf-8"))


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, run inside `filtered_stderr`."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader  # TensorFlow sees its own loader
        with filtered_stderr():
            self.loader.exec_module(module)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as the other finders do, and wraps its loader in `_QuietLoader`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


def install():
    """Make the first `import tensorflow` of this process quiet (see the module docstring)."""
    if "tensorflow" in sys.modules:
        return  # too late: its libraries are loaded and their lines already printed
    if not any(isinstance(finder, _QuietFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())
