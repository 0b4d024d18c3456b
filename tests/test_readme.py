"""Every command the README shows is run here (or by CI), so that each line of it stays true.

Shell commands (```sh blocks and `fastnn ...` / `python ...` in the text) and the
```python blocks run in a fresh folder, in child processes on the same fastnn as this
test process. A command that takes more than a minute runs in a quick form listed in
QUICK, and the README must state its cost on the same line or paragraph. The first
set-up command (a fresh venv, `pip install .`, `fastnn train`) runs in a copy of the
tree; it needs the package index and compiles the kernels, so it is marked slow.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from child import child_env

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

SETUP_FIRST = "python3 -m venv .venv && . .venv/bin/activate && pip install . && fastnn train"
SETUP_TESTS = 'pip install -e ".[test]" && pytest'

# README command -> the arguments added (or the replacement) to run it quickly. Each of these
# costs more than a minute as written, so the README must give its time.
TINY_BENCH = ["--only", "softmax-CE forward", "--batch", "2", "--images", "4", "--repeats", "1",
              "--peak-size", "32", "--no-torch"]
QUICK = {
    "fastnn train --dataset fashion_mnist --download --output fashion": ["--quick"],
    "fastnn train --dataset fashion_mnist --dtype float64 --backend numpy --output fashion64": ["--quick"],
    "fastnn bench --quick": TINY_BENCH,
    "fastnn bench": TINY_BENCH,
    "python bench/report.py": ["--quick", *TINY_BENCH],
    "python examples/keras_image_classification_from_scratch.py": ["--quick"],
    "python examples/keras_cats_vs_dogs.py": ["--quick"],
    "python examples/keras_codelab_mnist.py": ["--quick"],
}
# Commands CI runs itself (.ci/run), with the line of .ci/run that does.
BY_CI = {
    SETUP_TESTS: ['pip install -e ".[test]"', "\npytest\n"],
    "sphinx-build -W -b html docs docs/_build/html": ["sphinx-build -E -W"],
    'pytest -m "not slow"': ["\npytest\n"],
    "apt-get install dataset-fashion-mnist": ["apt-get install -y -qq dataset-fashion-mnist"],
}


def blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def shell_commands():
    """Every command in the ```sh blocks and in `inline code` that starts a command."""
    found = []
    for block in blocks("sh"):
        for line in block.splitlines():
            command = line.split("  #")[0].strip()
            if command:
                found.append(command)
    text = "\n".join(line for line in README.splitlines() if not line.startswith("#"))  # not headings
    for code in re.findall(r"`([^`\n]+)`", text):
        if re.match(r"(fastnn|python|pytest|pip|sphinx-build|apt-get) ", code) and "<" not in code:
            found.append(code.strip())
    return list(dict.fromkeys(found))


def context_of(command):
    """The README paragraph in which ``command`` appears; for a command in a code
    block, its line plus the paragraph that introduces the block."""
    paragraphs = re.split(r"\n\s*\n", README)
    for i, paragraph in enumerate(paragraphs):
        if command in paragraph:
            if "```" not in paragraph:
                return paragraph
            line = next(line for line in paragraph.splitlines() if command in line)
            return line + "\n" + (paragraphs[i - 1] if i else "")
    raise AssertionError(f"{command!r} not in the README")


def test_every_readme_command_is_covered_here():
    runnable = set(RUN_AS_WRITTEN) | set(QUICK) | set(BY_CI) | {SETUP_FIRST}
    missing = [c for c in shell_commands() if c not in runnable]
    assert not missing, f"README commands no test runs (add them to tests/test_readme.py): {missing}"
    assert len(blocks("python")) == 6, "a README Python block was added or removed: update this test"


def test_slow_commands_state_their_cost():
    for command in list(QUICK) + [SETUP_FIRST, SETUP_TESTS]:
        text = context_of(command)
        assert re.search(r"\d+\s*(–\d+\s*)?minutes?", text), f"the README gives no time for {command!r}"


def test_ci_runs_the_commands_it_is_trusted_with():
    ci = (ROOT / ".ci" / "run").read_text()
    for command, lines in BY_CI.items():
        assert command in README
        for line in lines:
            assert line in ci, f".ci/run does not run {command!r} ({line!r})"


def _run(command, cwd, extra=()):
    """Run one README shell command (with ``extra`` arguments) in ``cwd``."""
    words = shlex.split(command) + list(extra)
    if words[0] == "fastnn":               # the console script is `python -m fastnn`
        words = [sys.executable, "-m", "fastnn"] + words[1:]
    elif words[0] == "python":
        words = [sys.executable, str(ROOT / words[1])] + words[2:]
    proc = subprocess.run(words, capture_output=True, text=True, cwd=cwd, timeout=600,
                          env=child_env(MPLBACKEND="Agg"))
    assert proc.returncode == 0, f"{command}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr
    return proc.stdout


def _fashion_mnist_available():
    from fastnn.datasets import DatasetNotFoundError, load_fashion_mnist
    try:
        load_fashion_mnist()
    except DatasetNotFoundError:
        return False
    return True


# Quicker forms of the commands below for the everyday run of the suite (they take
# 10-60 s each as written on 2 quiet cores); the slow-marked run takes them as written.
EVERYDAY = {
    "fastnn train": ["--quick"],
    "fastnn train --net deep_convnet --epochs 3": ["--quick", "--epochs", "1"],
    "python examples/ch07_convnet.py": ["--quick"],
    "fastnn evaluate --pretrained deep_convnet": ["--limit", "1000", "--dtype", "float32"],
}

# Commands run exactly as written (in the slow run), each with what it must print.
RUN_AS_WRITTEN = {
    "fastnn train": "test accuracy",                 # (stands for the set-up's last command)
    "fastnn evaluate fastnn-output/simple_convnet.npz": "confusion matrix",
    "fastnn evaluate --pretrained deep_convnet": "accuracy 0.9797",
    "fastnn train --net deep_convnet --epochs 3": "test accuracy",
    "fastnn info": "backend:",
    "python examples/ch07_convnet.py": "test accuracy",
    "python examples/keras_custom_layer.py": "gradient check bias",
}


@pytest.mark.parametrize("as_written", [False, pytest.param(True, marks=pytest.mark.slow)],
                         ids=["quick", "as-written"])
def test_the_readme_commands_run(as_written, tmp_path, shared_data, book_files_in_cache):
    outputs = {}
    results_before = (ROOT / "bench" / "RESULTS.md").read_bytes()
    # `fastnn train` first: the set-up's last command, whose files the next lines use
    for command in sorted(shell_commands(), key=lambda c: c != "fastnn train"):
        if command in BY_CI or command == SETUP_FIRST:
            continue
        if command in QUICK:
            if "fashion_mnist" in command and not _fashion_mnist_available():
                continue                     # no copy and no network: test_readme says so below
            if command.startswith("python bench/report.py"):
                extra = QUICK[command] + ["--output", str(tmp_path / "report.md")]
            else:
                extra = QUICK[command]
            outputs[command] = _run(command, tmp_path, extra)
        else:
            extra = [] if as_written else EVERYDAY.get(command, [])
            outputs[command] = _run(command, tmp_path, extra)
            # a quick form prints the same things; an exact accuracy only as written
            expected = RUN_AS_WRITTEN[command] if as_written else RUN_AS_WRITTEN[command].split(" 0.")[0]
            assert expected in outputs[command], command
    assert (tmp_path / "fastnn-output" / "benchmark.md").is_file()
    assert (ROOT / "bench" / "RESULTS.md").read_bytes() == results_before   # the tracked report is kept
    if not _fashion_mnist_available():
        pytest.skip("Fashion-MNIST is not on this machine (apt-get install dataset-fashion-mnist): "
                    "its two commands were not run")


def test_the_readme_python_blocks_run(tmp_path, shared_data, book_files_in_cache):
    for i, code in enumerate(blocks("python")):
        quick = code.replace("epochs=5,", "epochs=1,") if "Trainer(" in code else code
        proc = subprocess.run([sys.executable, "-c", quick], capture_output=True, text=True, cwd=tmp_path,
                              timeout=600, env=child_env(MPLBACKEND="Agg"))
        assert proc.returncode == 0, f"README Python block {i + 1}:\n{proc.stderr[-3000:]}"
        # the bundled sample is announced in one line, not a page
        assert len([line for line in proc.stderr.splitlines() if "SampleDataWarning" in line]) <= 1
        assert "Looked at" not in proc.stderr


@pytest.mark.slow
def test_the_first_setup_command_on_a_fresh_venv(tmp_path):
    """The README's first command as written, in a copy of the tree (needs the package index)."""
    tree = tmp_path / "fastnn"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", "*.so", ".venv", "fastnn-output",
        ".pytest_cache", "docs/_build"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(["bash", "-c", "set -e; " + SETUP_FIRST], capture_output=True, text=True,
                          cwd=tree, env=dict(env, MPLBACKEND="Agg"), timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    accuracy = float(proc.stdout.split("test accuracy ")[-1].split()[0])
    assert accuracy > 0.95, proc.stdout[-2000:]
    assert "compiled kernels, " in proc.stdout        # the install compiled them
    assert (tree / "fastnn-output" / "simple_convnet.npz").is_file()
