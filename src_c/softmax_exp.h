/* exp(d) for the softmax kernel, written so that GCC can vectorise a loop of them.
 *
 * libm's exp is a function call per value, which stops vectorisation; at the
 * benchmark shape (100 x 10 scores) those calls were most of the forward pass.
 * Here exp is a few multiplies and adds with no branch and no table:
 *
 *   1. range reduction: n = round(d / ln 2),  r = d - n ln 2,  |r| <= ln(2)/2,
 *      so that exp(d) = 2^n * exp(r).
 *      ln 2 is split into a high part with trailing zero bits (n * LN2_HI is
 *      exact) and the rest (Cody and Waite), so r keeps full precision.
 *      round() is the "shifter" trick: adding 1.5 * 2^52 (float: 1.5 * 2^23)
 *      pushes the fraction bits out, and the integer n sits in the low bits
 *      of the sum, where step 3 reads it.
 *   2. exp(r) by its Taylor series up to r^13 / 13! (float: r^7 / 7!); the
 *      first term left out is below 1e-17 (float: 1e-8) relative, so the
 *      result is within 1 ulp of the exact value.
 *   3. 2^n is built from its bits: the exponent field n + bias.
 *
 * Valid for FASTNN_EXP_MIN_F64 <= d <= 709 (float: FASTNN_EXP_MIN_F32 <= d <= 88),
 * where 2^n is a normal number, and for NaN (it propagates). Below that
 * bound the result is meaningless (2^n would be subnormal or zero, and -inf
 * gives NaN): the caller computes those few values with libm's exp instead.
 * There is no branch here for them on purpose: GCC does not vectorise a
 * floating-point comparison and select unless told -fno-trapping-math.
 *
 * fastnn_exp_inplace_f64/f32 apply it to an array. With GCC on x86-64 Linux
 * they are compiled twice, for the baseline CPU (SSE2: 2 doubles at a time)
 * and for x86-64-v3 (AVX2 and FMA: 4 doubles, a multiply-add per step), and
 * the loader picks the one the CPU runs (GCC's target_clones). On AVX2 that
 * is about 4x faster at equal accuracy (the fused multiply-adds round once
 * where the baseline rounds twice: both stay within 1 ulp).
 */
#ifndef FASTNN_SOFTMAX_EXP_H
#define FASTNN_SOFTMAX_EXP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FASTNN_EXP_MIN_F64 (-708.0)
#define FASTNN_EXP_MIN_F32 (-87.0f)

static inline double fastnn_exp_f64(double d)
{
    const double LOG2E = 1.4426950408889634;          /* 1 / ln 2 */
    const double LN2_HI = 6.93147180369123816490e-01; /* ln 2 to 32 bits */
    const double LN2_LO = 1.90821492927058770002e-10; /* ln 2 - LN2_HI */
    const double SHIFTER = 6755399441055744.0;        /* 1.5 * 2^52 */
    double shifted, n, r, p, scale;
    uint64_t shifted_bits, shifter_bits, scale_bits;

    shifted = d * LOG2E + SHIFTER;
    n = shifted - SHIFTER;                 /* round(d / ln 2), as a double */
    r = (d - n * LN2_HI) - n * LN2_LO;

    p = 1.0 / 6227020800.0;                /* 1/13! */
    p = p * r + 1.0 / 479001600.0;         /* 1/12! */
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;

    /* The bits of `shifted` are those of SHIFTER plus n (as an integer);
     * unsigned arithmetic, so that a negative n wraps instead of being undefined. */
    memcpy(&shifted_bits, &shifted, sizeof shifted);
    memcpy(&shifter_bits, &SHIFTER, sizeof SHIFTER);
    scale_bits = (shifted_bits - shifter_bits + 1023u) << 52;      /* 2^n */
    memcpy(&scale, &scale_bits, sizeof scale);
    return p * scale;
}

static inline float fastnn_exp_f32(float d)
{
    const float LOG2E = 1.44269504f;
    const float LN2_HI = 0.693145751953125f;           /* ln 2 to 15 bits */
    const float LN2_LO = 1.42860682030941723212e-06f;  /* ln 2 - LN2_HI */
    const float SHIFTER = 12582912.0f;                 /* 1.5 * 2^23 */
    float shifted, n, r, p, scale;
    uint32_t shifted_bits, shifter_bits, scale_bits;

    shifted = d * LOG2E + SHIFTER;
    n = shifted - SHIFTER;
    r = (d - n * LN2_HI) - n * LN2_LO;

    p = 1.0f / 5040.0f;                    /* 1/7! */
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;

    memcpy(&shifted_bits, &shifted, sizeof shifted);
    memcpy(&shifter_bits, &SHIFTER, sizeof SHIFTER);
    scale_bits = (shifted_bits - shifter_bits + 127u) << 23;      /* 2^n */
    memcpy(&scale, &scale_bits, sizeof scale);
    return p * scale;
}

/* target_clones needs GCC's ifunc support (GNU/Linux); tested with GCC 12. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 \
    && defined(__x86_64__) && defined(__linux__)
#define FASTNN_EXP_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define FASTNN_EXP_CLONES
#endif

/* y[k] = exp(y[k]) for 0 <= k < n, valid where fastnn_exp_f64 is. */
FASTNN_EXP_CLONES
static void fastnn_exp_inplace_f64(double *y, ptrdiff_t n)
{
    ptrdiff_t k;
    for (k = 0; k < n; k++)
        y[k] = fastnn_exp_f64(y[k]);
}

FASTNN_EXP_CLONES
static void fastnn_exp_inplace_f32(float *y, ptrdiff_t n)
{
    ptrdiff_t k;
    for (k = 0; k < n; k++)
        y[k] = fastnn_exp_f32(y[k]);
}

#endif
