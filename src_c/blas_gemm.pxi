# Row-major matrix products on SciPy's BLAS (sgemm/dgemm, Fortran column order).
#
# A C-order matrix X (r, c) with row stride ld is, read in Fortran order, the
# matrix X^T (c, r) with leading dimension ld. So the C-order product
#     C (M, N) = op(A) (M, K) @ op(B) (K, N)
# is the Fortran product C^T = op(B)^T @ op(A)^T: call gemm with the operands
# swapped, the transpose flags unchanged and M, N exchanged.
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef inline void matmul_rm(char trans_a, char trans_b, int M, int N, int K,
                           real alpha, const real* A, int lda, const real* B, int ldb,
                           real beta, real* C, int ldc) noexcept nogil:
    """C = alpha * op(A) @ op(B) + beta * C, all matrices in C order.

    op(X) is X for trans 'N' and X^T for 'T'; lda/ldb/ldc are row strides
    (in elements) of the matrices as stored.
    """
    if real is float:
        sgemm(&trans_b, &trans_a, &N, &M, &K, &alpha, <float*>B, &ldb, <float*>A, &lda,
              &beta, C, &ldc)
    else:
        dgemm(&trans_b, &trans_a, &N, &M, &K, &alpha, <double*>B, &ldb, <double*>A, &lda,
              &beta, C, &ldc)
