"""Mutated bytes of the book's real .pkl files never crash the reader.

Each mutated file is read in a child process (many per child, each one's
seed printed before it is read), so a crash (a signal, an abort) is seen by
the parent and names the seed that caused it. A mutated file must either
load as a dict of plain numeric arrays or raise one ValueError; any other
exception fails the test too.

``FASTNN_FUZZ_COUNT`` sets the number of mutations (default 300, a few
seconds; the audit's thousands: ``FASTNN_FUZZ_COUNT=6000``).
"""
import os
import subprocess
import sys
import textwrap

import pytest

COUNT = int(os.environ.get("FASTNN_FUZZ_COUNT", "300"))
PER_CHILD = 150
FILES = ("ch03_sample_weight.pkl", "simple_convnet_params.pkl", "deep_convnet_params.pkl")

CHILD = textwrap.dedent(r'''
    import pickletools, random, sys
    import numpy as np
    from fastnn._pickle_reader import read_book_pickle, PLAIN_CODES

    paths, first, count = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3])
    originals = [open(p, "rb").read() for p in paths]
    # Where the structure is: every opcode and the first bytes of its argument
    # (mutating the middle of a 1 MB data string only changes numbers).
    hot = []
    for data in originals:
        spots = []
        for op, arg, pos in pickletools.genops(data):
            spots.extend(range(pos, min(pos + 12, len(data))))
        hot.append(spots)

    def mutate(rng, data, spots):
        data = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            kind = rng.random()
            pos = rng.choice(spots) if rng.random() < 0.8 else rng.randrange(len(data))
            pos = min(pos, len(data) - 1)
            if kind < 0.45:
                data[pos] = rng.randrange(256)
            elif kind < 0.55:
                data[pos] ^= 1 << rng.randrange(8)
            elif kind < 0.65:
                data.insert(pos, rng.randrange(256))
            elif kind < 0.75:
                del data[pos:pos + rng.randint(1, 16)]
            elif kind < 0.82:
                del data[pos:]
            elif kind < 0.9:
                start = rng.randrange(len(data))
                data[pos:pos] = data[start:start + rng.randint(1, 64)]
            else:  # a 4-byte length or int set to an extreme
                data[pos:pos + 4] = rng.choice([b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80",
                                                 b"\xff\xff\xff\xff", b"\x00\x00\x00\x00"])
            if not data:
                data = bytearray(b"\x80")
        return bytes(data)

    loaded = refused = 0
    for seed in range(first, first + count):
        which = seed % len(originals)
        rng = random.Random(seed)
        data = mutate(rng, originals[which], hot[which])
        print(f"seed {seed}", flush=True)
        try:
            params = read_book_pickle(data, "mutated.pkl")
        except ValueError:
            refused += 1
            continue
        except BaseException as exc:
            print(f"FAIL seed {seed}: {type(exc).__name__}: {exc}"[:500], flush=True)
            sys.exit(3)
        assert type(params) is dict, seed
        for key, value in params.items():
            assert type(key) is str and type(value) is np.ndarray, seed
            assert value.dtype.str[1:] in PLAIN_CODES and value.dtype.isnative, seed
            assert value.flags.owndata and value.flags.writeable, seed
            value.sum()  # touch every element
        loaded += 1
    print(f"done loaded={loaded} refused={refused}", flush=True)
''')


def test_mutated_book_files_are_refused_or_read_never_crash(shared_data):
    paths = ",".join(str(shared_data / "book" / name) for name in FILES)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    totals = {"loaded": 0, "refused": 0}
    for first in range(0, COUNT, PER_CHILD):
        count = min(PER_CHILD, COUNT - first)
        proc = subprocess.run([sys.executable, "-c", CHILD, paths, str(first), str(count)],
                              capture_output=True, text=True, env=env, timeout=600)
        lines = proc.stdout.splitlines()
        last_seed = next((line for line in reversed(lines) if line.startswith("seed ")), "no seed")
        if proc.returncode != 0:
            fail = next((line for line in lines if line.startswith("FAIL")), None)
            pytest.fail(f"child exited with {proc.returncode} at {last_seed} of the mutations "
                        f"{first}..{first + count - 1}: {fail or proc.stderr[-2000:]}")
        assert lines[-1].startswith("done "), proc.stdout[-500:]
        for part in lines[-1].split()[1:]:
            key, value = part.split("=")
            totals[key] += int(value)
    assert totals["loaded"] + totals["refused"] == COUNT
    # Mutations of the structure are mostly refused; some (a changed number) still load.
    assert totals["refused"] > COUNT // 4
