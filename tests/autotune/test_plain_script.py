"""Tuning from a plain script, without an ``if __name__ == "__main__":`` guard: the
tuner's worker processes start from tensorlang's own entry point and never run the
user's script again."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: declarations for a README snippet that uses tensors declared earlier in README
PRELUDE = textwrap.dedent("""\
    import tensorlang as tl
    from tensorlang import te

    A = te.placeholder((64, 64), name="A")
    B = te.placeholder((64, 64), name="B")
    k = te.reduce_axis((0, 64), name="k")
    C = te.compute((64, 64), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), name="C")
    """)
#: at most this many trials in the test (README's snippet may show a real budget)
MAX_TRIALS = 16


def readme_autotune_snippet() -> str:
    """The first Python block of README's "Autotuning" section, verbatim."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("\n## Autotuning"):]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README's Autotuning section has no python block"
    return match.group(1)


def run_script(source: str, cwd: Path) -> subprocess.CompletedProcess:
    path = cwd / "script.py"
    path.write_text(source)
    path_entries = [str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path_entries))
    return subprocess.run([sys.executable, str(path)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def _assert_clean(result: subprocess.CompletedProcess) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output and "crashed" not in output, output


def test_readme_autotune_snippet_runs_as_a_plain_script(tmp_path):
    snippet = readme_autotune_snippet()
    assert "__main__" not in snippet
    source = snippet if "te.placeholder" in snippet else PRELUDE + snippet
    source = re.sub(r"trials=(\d+)", lambda m: f"trials={min(int(m.group(1)), MAX_TRIALS)}",
                    source)
    # each run of the script leaves a line: the workers must not run it again
    source = 'open("runs.txt", "a").write("run\\n")\n' + source
    result = run_script(source, tmp_path)
    _assert_clean(result)
    assert (tmp_path / "runs.txt").read_text() == "run\n"
    assert "best" in result.stdout


TEMPLATE_SCRIPT = textwrap.dedent("""\
    import numpy as np
    import tensorlang as tl
    from tensorlang import te

    open("runs.txt", "a").write("run\\n")

    @tl.autotune.template
    def add_template(cfg, n):
        A = te.placeholder((n,), name="A")
        B = te.placeholder((n,), name="B")
        C = te.compute((n,), lambda i: A[i] + B[i] * 2.0, name="C")
        s = tl.create_schedule(C)
        cfg.define_split("split", C.op.axis[0], num_outputs=2)
        cfg["split"].apply(s, C, C.op.axis[0])
        return s, [A, B, C]

    res = tl.autotune(add_template, args=(64,), trials=4, verbose=0, retime=0)
    mod = res.build()
    a, b, c = np.ones(64, "float32"), np.full(64, 3, "float32"), np.zeros(64, "float32")
    mod(a, b, c)
    assert (c == 7).all(), c
    print("tuned", res.num_trials)
    """)


def test_a_template_of_an_unguarded_script_tunes_in_this_process(tmp_path):
    result = run_script(TEMPLATE_SCRIPT, tmp_path)
    _assert_clean(result)
    assert "tuned 4" in result.stdout
    assert (tmp_path / "runs.txt").read_text() == "run\n"
    # it cannot be sent to the workers, which do not run the script: it says so
    assert "add_template of the main script" in result.stderr
    assert "script.py:17: TuneWarning" in result.stderr
