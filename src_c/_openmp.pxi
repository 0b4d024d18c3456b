# Included by the kernel modules: whether this build has OpenMP.
cdef extern from *:
    """
    #ifdef _OPENMP
    #define FASTNN_HAVE_OPENMP 1
    #else
    #define FASTNN_HAVE_OPENMP 0
    #endif
    """
    int FASTNN_HAVE_OPENMP

OPENMP = bool(FASTNN_HAVE_OPENMP)
