"""TensorFlow's start-up log lines stay out of the reference package's entry points, and
nothing else written to stderr is lost (reference/quiet.py says why an environment variable
is not enough with TensorFlow 2.21)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reference.quiet import ABSL_NOTICE, is_start_up_noise

ROOT = Path(__file__).resolve().parent.parent
NOISE = ("absl::InitializeLog", "oneDNN custom operations", "cpu_feature_guard")
ONEDNN = ("I0000 00:00:1796039828.551142    6050 port.cc:153] oneDNN custom operations are on. "
          "You may see slightly different numerical results.\n")


def python(code, **env):
    """Run `code` in a fresh interpreter at the repository root: (stdout, stderr)."""
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environment.update(env)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env=environment)
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr


@pytest.mark.parametrize("entry_point", ["reference.report", "reference.bench"])
def test_importing_tensorflow_after_an_entry_point_prints_no_start_up_lines(entry_point):
    """side_by_side's module and the benchmark (which imports Keras when it runs)."""
    _, err = python(f"import {entry_point}\nimport keras\nprint('ready')")
    assert not [line for line in err.splitlines() if any(n in line for n in NOISE)], err


def test_without_the_filter_tensorflow_does_print_them():
    """Negative control: the lines the tests look for are really there without reference."""
    _, err = python("import tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    assert "absl::InitializeLog" in err and "oneDNN custom operations" in err


def test_the_filter_keeps_everything_else_written_during_the_import():
    code = ("import os\nfrom reference.quiet import ABSL_NOTICE, filtered_stderr\n"
            "with filtered_stderr():\n"
            f"    os.write(2, (ABSL_NOTICE + '\\n' + {ONEDNN!r}).encode())\n"
            "    os.write(2, b'W0000 00:00:17.5    1 foo.cc:1] a real warning\\n')\n"
            "    os.write(2, b'Traceback: something went wrong\\n')\n")
    _, err = python(code, TF_CPP_MIN_LOG_LEVEL="1")
    assert err.splitlines() == ["W0000 00:00:17.5    1 foo.cc:1] a real warning",
                                "Traceback: something went wrong"]


@pytest.mark.parametrize("level, dropped", [
    (0, []),  # TF_CPP_MIN_LOG_LEVEL=0 asks for everything
    (1, ["notice", "info"]),
    (2, ["notice", "info", "warning"]),
])
def test_noise_follows_tf_cpp_min_log_level(level, dropped):
    lines = {"notice": ABSL_NOTICE + "\n", "info": ONEDNN,
             "warning": "W0000 00:00:1796039828.5    6050 foo.cc:1] careful\n",
             "python": "UserWarning: something\n"}
    assert [name for name, line in lines.items() if is_start_up_noise(line, level)] == dropped
