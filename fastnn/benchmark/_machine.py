"""What the report says about the machine: CPU, cores, BLAS, threads, versions."""
import os
import platform

import numpy as np

from .. import __version__, backend_info


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def usable_cores():
    """Cores this process may run on (its CPU affinity), and all the machine has."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:          # not on Linux
        usable = os.cpu_count() or 1
    return usable, os.cpu_count() or usable


def blas_description():
    """BLAS libraries loaded (NumPy's and SciPy's), with version and thread count."""
    info = backend_info()["blas"]
    if not info:
        return "unknown (threadpoolctl not installed)"
    seen = []
    for lib in info:
        text = (f"{lib.get('internal_api')} {lib.get('version')}, {lib.get('num_threads')} threads "
                f"({os.path.basename(lib.get('filepath') or '')})")
        if text not in seen:
            seen.append(text)
    return "; ".join(seen)


def machine_rows(torch_module=None):
    """(label, value) pairs describing the machine and the software measured."""
    info = backend_info()
    usable, total = usable_cores()
    import scipy
    rows = [
        ("CPU", cpu_model()),
        ("cores", f"{usable} usable of {total}"),
        ("BLAS (threadpoolctl)", blas_description()),
        ("fastnn", f"{__version__}, {info['threads']} threads for the compiled kernels, "
                   f"OpenMP {'on' if info['openmp'] else 'off'}"),
        ("compiled kernels", ", ".join(info["compiled"]) or "none"),
        ("kernels on NumPy only", ", ".join(info["numpy_only"]) or "none"),
        ("Python / NumPy / SciPy", f"{platform.python_version()} / {np.__version__} / {scipy.__version__}"),
    ]
    if torch_module is not None:
        rows.append(("PyTorch", f"{torch_module.__version__}, {torch_module.get_num_threads()} threads"))
    else:
        rows.append(("PyTorch", "not used (not installed, or --no-torch)"))
    return rows
