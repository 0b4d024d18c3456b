"""BLAS on one thread while a compiled kernel runs, with a limit/restore pair that cannot tear.

``fastnn._blas`` explains why the kernels keep BLAS on one thread. This module
holds the state (how many kernels are inside, the user's thread counts) and
changes it in C: ``__enter__`` and ``__exit__`` of :class:`OneBlasThread` run
no Python bytecode when the BLAS libraries export OpenBLAS' C functions
(``openblas_get_num_threads``/``openblas_set_num_threads``, called through
their addresses). A ``KeyboardInterrupt`` is only ever raised between two
bytecodes, so it can come before the limit or after the restore, never
between a counter change and the thread-count change that goes with it; and
the GIL, held throughout, makes the pair atomic for other threads as well.

A kernel written in Cython uses it as ``with one_blas_thread(): ...``: Cython
compiles the ``with`` into C, so nothing interruptible runs between
``__enter__`` returning and the ``try`` that guarantees ``__exit__`` either.

Libraries without those functions (MKL, BLIS, an OpenMP build of OpenBLAS)
are driven through threadpoolctl's Python setters. Those calls run bytecode,
so they are made under a lock, an interrupted call is repeated (setting a
thread count twice is harmless) and the interrupt re-raised once the state is
consistent; an interrupted ``__enter__`` leaves nothing limited.
"""
import threading

cdef extern from *:
    """
    typedef int (*fastnn_blas_get_fn)(void);
    typedef void (*fastnn_blas_set_fn)(int);
    """
    ctypedef int (*fastnn_blas_get_fn)() noexcept nogil
    ctypedef void (*fastnn_blas_set_fn)(int) noexcept nogil

cdef enum:
    MAX_LIBS = 16

#: How often an interrupted Python-level set call is repeated before giving up.
cdef int _RETRIES = 100


cdef class OneBlasThread:
    """Context manager: BLAS on one thread inside, the previous counts restored after.

    Nested and concurrent uses share one counter (the thread count of a BLAS
    library is process-wide): the first to enter limits, the last to leave
    restores. ``configure`` is called once by ``fastnn._blas`` with the
    libraries found.
    """
    cdef fastnn_blas_get_fn c_get[MAX_LIBS]
    cdef fastnn_blas_set_fn c_set[MAX_LIBS]
    cdef int c_saved[MAX_LIBS]
    cdef int n_c
    cdef list py_controls
    cdef list py_saved
    cdef Py_ssize_t _depth
    cdef bint _configured
    cdef object _lock
    cdef object _discover

    def __cinit__(self):
        self.n_c = 0
        self.py_controls = []
        self.py_saved = []
        self._depth = 0
        self._configured = False
        self._lock = threading.RLock()
        self._discover = None

    def set_discovery(self, discover):
        """``discover()`` -> (c_pairs, py_pairs), called at the first ``__enter__``.

        c_pairs: ``(get_address, set_address)`` of C functions ``int get(void)``
        and ``void set(int)``; py_pairs: ``(get, set)`` Python callables.
        """
        self._discover = discover

    def configure(self, c_pairs, py_pairs):
        """Install the libraries' controls (only while no kernel is inside)."""
        cdef Py_ssize_t i
        cdef size_t get_address, set_address
        c_pairs = list(c_pairs)
        py_pairs = list(py_pairs)
        if self._depth:
            raise RuntimeError("one_blas_thread: cannot reconfigure while in use")
        if len(c_pairs) > MAX_LIBS:
            raise ValueError(f"one_blas_thread: at most {MAX_LIBS} BLAS libraries, got {len(c_pairs)}")
        for get_address, set_address in c_pairs:
            if not get_address or not set_address:
                raise ValueError("one_blas_thread: null function address")
        for i in range(len(c_pairs)):
            get_address, set_address = c_pairs[i]
            self.c_get[i] = <fastnn_blas_get_fn><void*>get_address
            self.c_set[i] = <fastnn_blas_set_fn><void*>set_address
            self.c_saved[i] = 0
        self.n_c = <int>len(c_pairs)
        self.py_controls = [tuple(pair) for pair in py_pairs]
        self.py_saved = [0] * len(self.py_controls)
        self._configured = True

    @property
    def depth(self):
        """How many kernels (or nested blocks) are inside now."""
        return self._depth

    @property
    def configured(self):
        return self._configured

    @property
    def saved(self):
        """The thread counts to restore when the last one leaves."""
        return [self.c_saved[i] for i in range(self.n_c)] + list(self.py_saved)

    cdef inline void _limit_c(self) noexcept:
        cdef int i
        for i in range(self.n_c):
            self.c_saved[i] = self.c_get[i]()
            self.c_set[i](1)

    cdef inline void _restore_c(self) noexcept:
        cdef int i
        for i in range(self.n_c):
            if self.c_saved[i] > 0:
                self.c_set[i](self.c_saved[i])

    cdef object _py_set(self, Py_ssize_t i, int n):
        """controls[i].set(n), repeated when interrupted; returns the interrupt or None."""
        cdef int attempt
        pending = None
        for attempt in range(_RETRIES):
            try:
                self.py_controls[i][1](n)
                return pending
            except KeyboardInterrupt as exc:
                pending = exc
        return pending

    cdef object _py_restore(self, Py_ssize_t upto):
        pending = None
        for i in range(upto):
            n = self.py_saved[i]
            if n:
                exc = self._py_set(i, n)
                pending = pending or exc
        return pending

    def __enter__(self):
        if not self._configured:
            if self._discover is None:
                raise RuntimeError("one_blas_thread: no BLAS discovery function set")
            c_pairs, py_pairs = self._discover()      # Python, but nothing is changed yet
            if not self._configured:
                self.configure(c_pairs, py_pairs)
        if not self.py_controls:                      # the C path: no bytecode from here on
            if self._depth == 0:
                self._limit_c()
            self._depth += 1
            return self
        with self._lock:
            if self._depth == 0:
                self._limit_py()
            self._depth += 1
        return self

    cdef _limit_py(self):
        """Limit every library, or (interrupted) none: then re-raise the interrupt."""
        cdef Py_ssize_t i, done = 0
        for i in range(len(self.py_saved)):
            self.py_saved[i] = 0
        self._limit_c()
        pending = None
        try:
            for i in range(len(self.py_controls)):
                done = i + 1
                self.py_saved[i] = self.py_controls[i][0]() or 0
                pending = pending or self._py_set(i, 1)
        except BaseException:
            self._py_restore(done)
            self._restore_c()
            raise
        if pending is not None:
            self._py_restore(done)
            self._restore_c()
            raise pending

    def __exit__(self, exc_type, exc_value, traceback):
        if not self.py_controls:                      # the C path: no bytecode
            self._depth -= 1
            if self._depth == 0:
                self._restore_c()
            return False
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self._restore_c()
                pending = self._py_restore(len(self.py_controls))
                if pending is not None and exc_type is None:
                    raise pending
        return False
