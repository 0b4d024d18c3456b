"""What a user installs: metadata, the sdist's contents, stripped compiled modules, and a
failed build that never ships an older compiled module in its place."""
import glob
import os
import shutil
import struct
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import fastnn

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_metadata_license_classifiers_urls():
    project = _pyproject()["project"]
    assert project["license"] == "MIT"                        # an SPDX expression, not a TOML table
    assert project["license-files"] == ["LICENSE"] and (ROOT / "LICENSE").is_file()
    classifiers = project["classifiers"]
    low = tuple(int(x) for x in project["requires-python"].lstrip(">=").split("."))
    for minor in range(low[1], 14):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert any(c.startswith("Operating System ::") for c in classifiers)
    assert not any(c.startswith("License ::") for c in classifiers)   # PEP 639: the SPDX field instead
    assert project["urls"] and all(u.startswith("https://") for u in project["urls"].values())
    assert project["dynamic"] == ["version"]


def test_every_manifest_pattern_matches_a_file():
    for line in (ROOT / "MANIFEST.in").read_text().splitlines():
        words = line.split()
        if not words or words[0] in ("global-exclude", "prune"):
            continue
        if words[0] == "include":
            for name in words[1:]:
                assert (ROOT / name).is_file(), f"MANIFEST.in: {name} does not exist"
        elif words[0] == "recursive-include":
            folder = ROOT / words[1]
            for pattern in words[2:]:
                assert list(folder.rglob(pattern)), f"MANIFEST.in: {line!r}: {pattern} matches nothing"


def _elf_section_names(path):
    """The section names of an ELF file (enough of the format to list them)."""
    data = Path(path).read_bytes()
    assert data[:4] == b"\x7fELF", path
    is64, little = data[4] == 2, data[5] == 1
    end = "<" if little else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x3A)
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x2E)

    def header(i):
        base = shoff + i * shentsize
        if is64:
            name, _, _, _, offset, size = struct.unpack_from(end + "IIQQQQ", data, base)
        else:
            name, _, _, _, offset, size = struct.unpack_from(end + "IIIIII", data, base)
        return name, offset, size

    _, str_off, str_size = header(shstrndx)
    strings = data[str_off:str_off + str_size]
    names = []
    for i in range(shnum):
        name = header(i)[0]
        names.append(strings[name:strings.index(b"\0", name)].decode())
    return names


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF files: Linux only")
def test_compiled_modules_carry_no_debug_information():
    files = sorted(glob.glob(str(Path(fastnn.__file__).parent / "_ext" / "*.so")))
    if not files:
        pytest.skip("the compiled kernels are not built in this installation")
    for path in files:
        names = _elf_section_names(path)
        debug = [n for n in names if n.startswith(".debug") or n == ".symtab"]
        assert not debug, f"{os.path.basename(path)} has {debug}: rebuild (setup.py strips them)"


def _copy_of_the_tree(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", "*.so", ".pytest_cache", "fastnn-output",
        "docs/_build", ".hypothesis", ".benchmarks"))
    return tree


@pytest.mark.slow
def test_a_failed_module_is_never_replaced_by_a_stale_build(tmp_path):
    """No compiler (CC=/bin/false) in a tree whose build/ holds an older build: the wheel
    must hold no compiled module at all, not the older one."""
    tree = _copy_of_the_tree(tmp_path)
    build_lib = tree / "build" / f"lib.{sysconfig.get_platform()}-{sys.implementation.cache_tag}"
    stale_dir = build_lib / "fastnn" / "_ext"
    stale_dir.mkdir(parents=True)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    stale = stale_dir / f"softmax{suffix}"
    stale.write_bytes(b"an older build of fastnn._ext.softmax")
    os.utime(stale, (0, 0))                        # older than every source: a rebuild is due
    env = dict(os.environ, CC="/bin/false", LDSHARED="/bin/false", FASTNN_EXTENSIONS="softmax")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-w", str(tmp_path / "dist"), str(tree)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    wheel, = (tmp_path / "dist").glob("fastnn-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.endswith(suffix)], names
    assert not stale.exists()


def test_ci_script_removes_its_temporary_venv_however_it_ends(tmp_path):
    """.ci/run with a python3 that creates the venv folder (with a large file) and then fails:
    the script stops, and its temporary folder is gone."""
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "python3").write_text('#!/bin/sh\n[ "$1 $2" = "-m venv" ] && mkdir -p "$3" && '
                                   'head -c 1000000 /dev/zero > "$3/big"\nexit 1\n')
    (shims / "apt-get").write_text("#!/bin/sh\nexit 1\n")
    for shim in shims.iterdir():
        shim.chmod(0o755)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, PATH=f"{shims}{os.pathsep}{os.environ['PATH']}", TMPDIR=str(tmp))
    proc = subprocess.run(["bash", str(ROOT / ".ci" / "run")], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode != 0
    assert list(tmp.iterdir()) == []


@pytest.mark.slow
def test_sdist_builds_without_warnings_and_holds_what_the_tests_need(tmp_path):
    pytest.importorskip("build", reason="the 'build' package makes the sdist")
    tree = _copy_of_the_tree(tmp_path)
    env = dict(os.environ, FASTNN_EXTENSIONS="softmax")       # cythonize one module only: quicker
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "-o",
                           str(tmp_path / "dist"), str(tree)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    output = proc.stdout + proc.stderr
    for bad in ("Deprecat", "no files found matching", "SetuptoolsWarning", "License classifiers"):
        assert bad not in output, f"the sdist build says {bad!r}:\n{output[-3000:]}"
    import tarfile
    sdist, = (tmp_path / "dist").glob("fastnn-*.tar.gz")
    names = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
    for needed in ("CHANGELOG.md", "LICENSE", "docs/conf.py", "docs/index.rst", "fastnn/_version.py",
                   "tests/child.py", "tests/test_readme.py", "src_c/softmax.pyx", ".ci/run",
                   "docs/learning_curves.png"):
        assert needed in names, needed
    assert not [n for n in names if n.endswith((".so", ".c"))]
