"""Build the tutorial notebooks from their sources, ``tutorials/NN_*.py`` (jupytext percent).

The ``.py`` files are the sources; each ``.ipynb`` is generated from one.  Rebuilding keeps
the outputs of cells whose source is unchanged; ``--execute`` re-runs the notebooks and
stores fresh outputs (figures measured on the machine that runs it).

    python tutorials/build_notebooks.py                # rebuild all, keeping outputs
    python tutorials/build_notebooks.py --execute      # rebuild and execute, full sizes
    python tutorials/build_notebooks.py --only 02 --execute --quick
    python tutorials/build_notebooks.py --check        # fail if a notebook is out of date
"""
from __future__ import annotations

import argparse
import glob
import os
import sys

import jupytext
import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def sources() -> dict[str, str]:
    """Notebook name -> path of its ``.py`` source."""
    paths = sorted(glob.glob(os.path.join(HERE, "[0-9][0-9]_*.py")))
    return {os.path.basename(p)[:-len(".py")]: p for p in paths}


def generate(source: str) -> nbformat.NotebookNode:
    """The unexecuted notebook of one source, with stable cell ids."""
    nb = jupytext.read(source, fmt="py:percent")
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    for index, cell in enumerate(nb.cells):
        cell.metadata = {}
        cell.id = f"cell-{index:02d}"   # stable ids keep regenerated notebooks diffable
    return nb


def inputs(nb) -> list:
    return [(c.cell_type, c.id, c.source) for c in nb.cells] + [nb.metadata.get("kernelspec")]


def is_up_to_date(name: str, source: str) -> bool:
    """Whether the committed notebook has exactly the cells and kernelspec of its source."""
    path = os.path.join(HERE, name + ".ipynb")
    return os.path.exists(path) and \
        inputs(nbformat.read(path, as_version=4)) == inputs(generate(source))


def build(name: str, source: str, execute: bool, quick: bool) -> None:
    nb, path = generate(source), os.path.join(HERE, name + ".ipynb")
    if execute:
        from nbclient import NotebookClient
        os.environ["TL_TUTORIAL_QUICK"] = "1" if quick else "0"
        NotebookClient(nb, timeout=1800, kernel_name="python3",
                       resources={"metadata": {"path": HERE}}).execute()
    elif os.path.exists(path):   # keep the outputs of the cells that did not change
        old = nbformat.read(path, as_version=4)
        nb.metadata = {**old.metadata, "kernelspec": dict(KERNELSPEC)}
        previous = {(c.cell_type, c.source): c for c in old.cells}
        for cell in nb.cells:
            kept = previous.get((cell.cell_type, cell.source))
            if cell.cell_type == "code" and kept is not None:
                cell.outputs, cell.execution_count = kept.outputs, kept.execution_count
                cell.metadata = kept.metadata
    nbformat.write(nb, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="notebook number or name prefix, e.g. 02")
    parser.add_argument("--execute", action="store_true", help="run and store outputs")
    parser.add_argument("--quick", action="store_true", help="small sizes when executing")
    parser.add_argument("--check", action="store_true", help="fail if a notebook is stale")
    args = parser.parse_args(argv)
    chosen = {n: p for n, p in sources().items() if not args.only or n.startswith(args.only)}
    if args.check:
        stale = [n for n, p in chosen.items() if not is_up_to_date(n, p)]
        for name in stale:
            print(f"{name}.ipynb is out of date: run python tutorials/build_notebooks.py "
                  f"--only {name[:2]}", file=sys.stderr)
        return 1 if stale else 0
    if args.execute:
        # numpy's OpenBLAS with its own kernel for this CPU in the notebooks' kernel
        # process (which inherits this environment), as in the benchmarks
        from tensorlang.benchmarking import BLAS_PIN_VARIABLES
        for name in BLAS_PIN_VARIABLES:
            os.environ.pop(name, None)
    for name, source in chosen.items():
        build(name, source, args.execute, args.quick)
        print(f"wrote {name}.ipynb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
