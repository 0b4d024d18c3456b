"""The one atomic writer: targets always intact, temp files of killed writers cleaned up.

``FASTNN_KILL_COUNT`` sets the number of ``kill -9`` rounds of the kill
loop (default 8; the audit's 160: ``FASTNN_KILL_COUNT=160``).
"""
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from fastnn import _atomic
from fastnn.io import atomic_write, load_params, save_params
from fastnn.keras import _atomic as keras_atomic

KILLS = int(os.environ.get("FASTNN_KILL_COUNT", "8"))


def temps(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


def dead_pid():
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_one_implementation_under_every_import_path():
    import fastnn.io

    assert fastnn.io.atomic_write is _atomic.atomic_write is keras_atomic.atomic_write
    assert keras_atomic.write_bytes is _atomic.write_bytes


def test_temp_names_carry_the_writer_pid(tmp_path):
    seen = []

    def write(f):
        seen.extend(temps(tmp_path))
        f.write(b"data")

    atomic_write(tmp_path / "target.bin", write)
    assert len(seen) == 1 and seen[0].startswith(".target.bin.fastnn-")
    assert f"-{os.getpid()}-" in seen[0]
    assert _atomic.temp_files_of(tmp_path / "other.bin") == []


def test_a_completed_save_removes_stale_temps_of_dead_writers_only(tmp_path):
    target = tmp_path / "params.npz"
    host, gone = _atomic._host_tag(), dead_pid()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            "dead": f".params.npz.fastnn-{host}-{gone}-{'a' * 16}.tmp",
            "alive": f".params.npz.fastnn-{host}-{sleeper.pid}-{'b' * 16}.tmp",
            "mine": f".params.npz.fastnn-{host}-{os.getpid()}-{'c' * 16}.tmp",
            "other_host": f".params.npz.fastnn-{'0' * 8 if host != '0' * 8 else '1' * 8}-{gone}-{'d' * 16}.tmp",
            "other_target": f".other.npz.fastnn-{host}-{gone}-{'e' * 16}.tmp",
            "not_ours": f".params.npz.{'f' * 8}.tmp",
            "user_file": "params.npz.fastnn-notes.tmp",
        }
        for name in names.values():
            (tmp_path / name).write_bytes(b"stale")
        save_params({"W": np.ones(3)}, target)
        left = set(os.listdir(tmp_path))
        assert names["dead"] not in left
        for key in ("alive", "mine", "other_host", "other_target", "not_ours", "user_file"):
            assert names[key] in left, key
        np.testing.assert_array_equal(load_params(target)["W"], np.ones(3))
    finally:
        sleeper.kill()
        sleeper.wait()


def test_keras_write_bytes_cleans_up_too(tmp_path):
    target = tmp_path / "sub" / "model.keras"
    target.parent.mkdir()
    stale = target.parent / f".model.keras.fastnn-{_atomic._host_tag()}-{dead_pid()}-{'0' * 16}.tmp"
    stale.write_bytes(b"x")
    keras_atomic.write_bytes(str(target), b"model bytes")
    assert target.read_bytes() == b"model bytes"
    assert temps(target.parent) == []


def test_a_failed_write_removes_its_own_temp(tmp_path):
    target = tmp_path / "t.bin"
    target.write_bytes(b"old")

    def fail(f):
        f.write(b"half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old" and temps(tmp_path) == []


WRITER = textwrap.dedent('''
    import sys
    import numpy as np
    from fastnn.io import save_params

    path, n = sys.argv[1], int(sys.argv[2])
    arrays = [np.full(n, 1.0), np.full(n, 2.0)]
    i = 0
    while True:
        save_params({"W": arrays[i % 2], "i": np.array(i % 2)}, path)
        print("saved", flush=True)
        i += 1
''')


def test_kill_minus_9_during_saves(tmp_path):
    """Kill a process saving in a loop at random moments: the target always loads whole, and the
    temp files of killed writers do not pile up (each completed save removes the earlier ones)."""
    target = tmp_path / "params.npz"
    n = 500_000  # 4 MB per save: kills land inside the write often
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    rng = random.Random(0)
    kills_inside_a_write = 0
    for _ in range(KILLS):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(n)],
                                stdout=subprocess.PIPE, text=True, env=env)
        try:
            assert proc.stdout.readline() == "saved\n"  # one completed save in this process
            time.sleep(rng.uniform(0, 0.08))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        left = temps(tmp_path)
        kills_inside_a_write += bool(left)
        # At most the temp file of the save that was killed: those of earlier kills are gone.
        assert len(left) <= 1, left
        loaded = load_params(target)
        assert loaded["W"].shape == (n,)
        np.testing.assert_array_equal(loaded["W"], np.full(n, 1.0 + int(loaded["i"])))
    print(f"{kills_inside_a_write} of {KILLS} kills left a temp file (a kill inside a write)")
    save_params({"W": np.zeros(2)}, target)
    assert temps(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["params.npz"]
