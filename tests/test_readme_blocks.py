"""Every Python block in README.md and examples/README.md runs as pasted.

The convention, for whoever writes these files:
- A ```python block is a whole program: it runs on its own in a fresh interpreter, in an empty
  folder (so files it writes, such as side_by_side's `out_dir="report"`, land there).
- A ```python block whose first line is `# (continues the block above)` continues the block
  before it, as a reader would paste them one after the other into one session: the two (or
  more) run together as one program.
- Other blocks (```bash, ```diff, plain ```) are not run. A side-by-side picture of a change
  belongs in a ```diff block.
- Blocks must be quick: train on small data (a few thousand rows at most, a few epochs of a
  small model), not the full MNIST. The timeout below stops a block that forgets.

Also here: README's table of test files names every test file, so that a newcomer can find
what checks what.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ["README.md", "examples/README.md"]
CONTINUES = "# (continues the block above)"
TIMEOUT_SECONDS = 300  # the slowest block trains minidl and Keras side by side for 5 epochs
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def code_blocks(text):
    """[(language, code, line number)] of every fenced block, in order."""
    return [(match.group(1), match.group(2), text.count("\n", 0, match.start()) + 1)
            for match in FENCE.finditer(text)]


def programs(text):
    """The python blocks joined into programs: [(first line number, code)]."""
    joined = []
    for language, code, line in code_blocks(text):
        if language != "python":
            continue
        if code.startswith(CONTINUES):
            if not joined:
                raise ValueError(f"line {line}: the first python block cannot continue another")
            start, before = joined[-1]
            joined[-1] = (start, before + "\n" + code)
        else:
            joined.append((line, code))
    return joined


def all_programs():
    """pytest parameters, one per program, named 'README.md:42'."""
    return [pytest.param(document, code, id=f"{document}:{line}")
            for document in DOCUMENTS
            for line, code in programs((ROOT / document).read_text(encoding="utf-8"))]


def test_the_conventions_are_understood():
    """Negative control for the parser: continuations join, other languages are left out."""
    text = ("```python\nx = 1\n```\n\n```diff\n-a\n+b\n```\n\n"
            f"```python\n{CONTINUES}\nprint(x)\n```\n\n```python\ny = 2\n```\n")
    assert programs(text) == [(1, f"x = 1\n\n{CONTINUES}\nprint(x)\n"), (15, "y = 2\n")]
    with pytest.raises(ValueError, match="cannot continue"):
        programs(f"```python\n{CONTINUES}\n```\n")


def test_readme_has_python_blocks_to_run():
    names = [param.id for param in all_programs()]
    assert sum(name.startswith("README.md:") for name in names) >= 3


@pytest.mark.parametrize("document, code", all_programs())
def test_block_runs_as_pasted(document, code, tmp_path):
    environment = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=TIMEOUT_SECONDS, env=environment)
    assert result.returncode == 0, (f"{document}: this block fails as pasted:\n{code}\n"
                                    f"stderr:\n{result.stderr[-3000:]}")


def test_readme_test_table_lists_every_test_file():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Tests", 1)[1]
    listed = set(re.findall(r"`(test_\w+\.py)`", table))
    on_disk = {path.name for path in (ROOT / "tests").glob("test_*.py")}
    missing = sorted(on_disk - listed)
    assert not missing, (f"README's table of test files (## Tests) does not name {missing}: "
                         "add a row saying what each checks")


def test_import_minidl_reaches_the_public_submodules_and_needs_no_hypothesis():
    """README: the learners' tools after a plain `import minidl`; hypothesis only for strategies."""
    code = ("import sys\n"
            "sys.modules['hypothesis'] = None  # as if hypothesis were not installed\n"
            "import minidl\n"
            "print(callable(minidl.testing.check_gradients),\n"
            "      callable(minidl.explain.explain_step))\n"
            "try:\n"
            "    minidl.strategies\n"
            "except ImportError as error:\n"
            "    print('ImportError', 'hypothesis' in str(error))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "ImportError", "True"]
