"""Code run in a fresh interpreter, for the tests of what importing speccal loads."""

import ast
import subprocess
import sys

#: The TensorFlow side, which the numpy side must never import.
TENSORFLOW = ("tensorflow", "keras")


def modules_loaded_by(code, modules=TENSORFLOW, *, options=()):
    """Which of ``modules`` a fresh ``python [options] -c code`` has imported, sorted.

    Fails the test with the interpreter's stderr when ``code`` raises.
    """
    script = (
        f"{code}\nimport sys\nprint(sorted(m for m in {tuple(modules)!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, *options, "-c", script], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])
