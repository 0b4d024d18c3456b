"""Write bench/RESULTS.md: every kernel and network row, compiled vs NumPy (vs PyTorch if installed).

    python bench/report.py            # the full run (several minutes)
    python bench/report.py --quick    # fewer rows and repeats, about a minute

All options: ``python bench/report.py --help`` (the same as ``fastnn bench``).
The work is done by ``fastnn.benchmark.main``; this script runs it on the
checkout it sits in and writes the report beside itself.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))      # the checkout's fastnn, with its in-place build

from fastnn.benchmark import main  # noqa: E402

if __name__ == "__main__":
    argv = sys.argv[1:]
    if not any(a == "--output" or a.startswith("--output=") for a in argv):
        argv += ["--output", os.path.join(HERE, "RESULTS.md")]
    sys.exit(main(argv, command="python bench/report.py"))
