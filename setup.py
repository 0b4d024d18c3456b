"""Build script for fastnn's compiled kernels.

Every ``src_c/NAME.pyx`` becomes the extension module ``fastnn._ext.NAME``.
The metadata lives in pyproject.toml; this file only describes the extensions.

Environment switches (all optional):

* ``FASTNN_DEBUG_BUILD=1``   bounds and wraparound checks on (for tests).
* ``FASTNN_NO_OPENMP=1``     build without OpenMP (kernels then run on one thread).
* ``FASTNN_EXTENSIONS=a,b``  build only these modules (quicker while developing).

If a module cannot be compiled (no compiler, say), the install still succeeds
and fastnn runs those kernels on its NumPy fallback, with one warning at import.
A module that failed is never replaced by an older build of it (a stale copy in
build/ is deleted), and the shipped modules carry no debug information
(compiled with -g0, linked with -s) unless FASTNN_DEBUG_BUILD is set.
"""
import glob
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


def _flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _openmp_flags():
    """Compile and link flags for OpenMP, or none where the toolchain lacks it."""
    if _flag("FASTNN_NO_OPENMP"):
        return [], []
    if sys.platform.startswith("linux"):
        return ["-fopenmp"], ["-fopenmp"]
    if sys.platform == "win32":
        return ["/openmp"], []
    return [], []  # macOS' clang ships no OpenMP runtime by default


def _extensions():
    try:
        from Cython.Build import cythonize
    except ImportError:  # pragma: no cover - pyproject.toml requires Cython
        print("fastnn: Cython is missing; installing without compiled kernels", file=sys.stderr)
        return []
    sources = sorted(glob.glob(os.path.join("src_c", "*.pyx")))
    wanted = os.environ.get("FASTNN_EXTENSIONS")
    if wanted:
        names = {w.strip() for w in wanted.split(",") if w.strip()}
        sources = [s for s in sources if os.path.splitext(os.path.basename(s))[0] in names]
    debug = _flag("FASTNN_DEBUG_BUILD")
    omp_compile, omp_link = _openmp_flags()
    if sys.platform == "win32":
        opt = ["/O2"]
    else:
        # -fno-math-errno lets GCC vectorise sqrt/exp loops (we never read errno).
        opt = ["-O3", "-fno-math-errno", "-fno-strict-aliasing"] + ([] if debug else ["-DNDEBUG", "-g0"])
    # Strip the symbol tables and debug sections at link time (the wheel's .so files
    # were 10.6 MB with them); macOS' linker has no -s, so strip only where it does.
    strip = [] if debug or sys.platform in ("win32", "darwin") else ["-s"]
    extensions = []
    for src in sources:
        name = os.path.splitext(os.path.basename(src))[0]
        extensions.append(
            Extension(
                "fastnn._ext." + name,
                [src],
                include_dirs=["src_c"],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                extra_compile_args=opt + omp_compile,
                extra_link_args=omp_link + strip,
            )
        )
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": debug,
        "initializedcheck": debug,
        "cdivision": True,
        "embedsignature": True,
    }
    return cythonize(extensions, compiler_directives=directives, quiet=True)


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing when a kernel cannot be compiled.

    A module that failed is removed from the build output, so that an older
    build of it left in build/ (or in the tree, with --inplace) is never
    installed in its place: it runs on the NumPy fallback, as the warning says.
    """

    def run(self):
        try:
            super().run()
        except Exception as exc:  # no compiler at all
            self._warn("the compiled kernels", exc)
            for ext in self.extensions:
                self._remove_stale(ext)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # this module failed; the others may still build
            self._warn(ext.name, exc)
            self._remove_stale(ext)

    def _remove_stale(self, ext):
        path = self.get_ext_fullpath(ext.name)
        if os.path.exists(path):
            os.remove(path)
            print(f"fastnn: removed {path}, an older build of {ext.name}", file=sys.stderr)

    @staticmethod
    def _warn(what, exc):
        print(
            f"fastnn: WARNING: could not build {what} ({exc}); "
            "fastnn will use its NumPy fallback for them.",
            file=sys.stderr,
        )


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
