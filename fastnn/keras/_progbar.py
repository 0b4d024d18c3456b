"""The Keras-style progress line.

verbose=1, while an epoch runs (on a terminal, redrawn with ``\\r``):
    ``120/469 ━━━━━╺━━━━━━━━━━━━━━ 1s 3ms/step - accuracy: 0.8512 - loss: 0.4871``
(the last field before the per-step time is the ETA), and at the end
    ``469/469 ━━━━━━━━━━━━━━━━━━━━ 2s 3ms/step - accuracy: 0.9012 - loss: 0.3456``.
When the output is not a terminal, intermediate lines are printed at most
every 10 seconds, each ending with ``\\n``. A Jupyter/IPython kernel's output
counts as live (its front end redraws a line on ``\\r``, so the bar moves
in a notebook cell), except under CI (``CI`` set). When the number of steps is not
known (a generator or dataset of unknown length) the line is a running count,
``     37/Unknown 12s 310ms/step - loss: ...``, with no bar or ETA. verbose=2 prints only
``469/469 - 2s - 3ms/step - accuracy: ...`` at the end of the epoch.
"""
import os
import sys
import time

WIDTH = 20


def format_value(v):
    return f"{v:.4e}" if v != 0 and abs(v) < 1e-3 else f"{v:.4f}"


def format_logs(logs):
    return "".join(f" - {k}: {format_value(float(v))}" for k, v in logs.items())


def format_duration(seconds):
    """ETA or elapsed time as Keras prints it: 7s, 1:05, 1:02:03."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}:{(seconds % 3600) // 60:02d}:{seconds % 60:02d}"
    if seconds >= 60:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds}s"


def format_per_step(seconds):
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def is_live(stream):
    """True when ``stream`` redraws a line on ``\\r``: a terminal, or the output of a
    Jupyter/IPython kernel (a notebook cell) unless under CI (``CI`` set: a notebook
    executed for a log keeps plain lines)."""
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return False
    return type(stream).__module__.split(".")[0] == "ipykernel"  # ipykernel.iostream.OutStream


class Progbar:
    """Progress of one pass over ``target`` steps."""

    def __init__(self, target, verbose=1, stream=None, interval=0.05):
        self.target = target
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.interactive = is_live(self.stream)
        self.interval = interval if self.interactive else 10.0
        self.start = time.perf_counter()
        self._last_print = self.start
        self._last_len = 0

    def _bar(self, current):
        filled = int(WIDTH * current / self.target) if self.target else WIDTH
        if self.interactive:
            return "\x1b[32m" + "━" * filled + "\x1b[0m" + "\x1b[2m" + "━" * (WIDTH - filled) + "\x1b[0m"
        return "━" * filled + " " * (WIDTH - filled) if filled < WIDTH else "━" * WIDTH

    def update(self, current, logs=None, finalize=False):
        """Report ``current`` steps done; ``finalize`` at the end of the pass."""
        if self.verbose == 0:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        per_step = elapsed / max(current, 1)
        if self.target is None:                  # length unknown: a running count, no bar or ETA
            counter = f"{current:>7}/Unknown"
        else:
            width = len(str(self.target))
            counter = f"{current:>{width}}/{self.target}"
        logs = logs or {}
        if self.verbose == 2:
            if finalize:
                line = f"{counter} - {format_duration(elapsed)} - {format_per_step(per_step)}{format_logs(logs)}"
                self.stream.write(line + "\n")
                self.stream.flush()
            return
        if not finalize and now - self._last_print < self.interval:
            return
        self._last_print = now
        if finalize or self.target is None:
            timing = f"{format_duration(elapsed)} {format_per_step(per_step)}"
        else:
            timing = f"{format_duration(per_step * (self.target - current))} {format_per_step(per_step)}"
        bar = "" if self.target is None else f" {self._bar(current)}"
        line = f"{counter}{bar} {timing}{format_logs(logs)}"
        if self.interactive:
            pad = max(self._last_len - len(line), 0)
            self.stream.write("\r" + line + " " * pad + ("\n" if finalize else ""))
            self._last_len = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
