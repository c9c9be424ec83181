/* tests/test_kernels.c - the speed kernels against plain references: the packed GEMM (float32 and
   float64; portable and AVX2+FMA micro-kernels; every transpose case, strided operands, odd and
   zero sizes, alpha/beta) against a double-precision triple loop; bit-identical results across 1-4
   threads; conv2d and max_pool2d (forward and backward) against direct loops. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include "harness.h"

static unsigned th_seed = 12345u;
static double th_rnd(void) { /* uniform in [-1, 1) */
    th_seed = th_seed * 1103515245u + 12345u;
    return (double)((th_seed >> 8) & 0xffffff) / 8388608.0 - 1.0;
}

/* C = alpha * op(A) @ op(B) + beta * C0 in double; returns the max error of got relative to
   sum |alpha a b| + |beta c0| (the scale of rounding errors), per element */
static double gemm_err(int64_t m, int64_t n, int64_t k, double alpha, const double *A, int64_t ars, int64_t acs,
                       const double *B, int64_t brs, int64_t bcs, double beta, const double *C0,
                       const double *got, int64_t ldc) {
    int64_t i, j, p;
    double worst = 0;
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) {
            double s = 0, sa = 0, e;
            for (p = 0; p < k; p++) {
                double v = A[i * ars + p * acs] * B[p * brs + j * bcs];
                s += v;
                sa += fabs(v);
            }
            s = alpha * s + beta * C0[i * ldc + j];
            sa = fabs(alpha) * sa + fabs(beta * C0[i * ldc + j]) + 1e-30;
            e = fabs(got[i * ldc + j] - s) / sa;
            if (e > worst) worst = e;
        }
    return worst;
}

/* one case: op(A) [m,k] from a buffer with row/col strides (ta: transposed storage, sp: extra
   spacing between elements), the same for B, C with ldc = n + 3 */
static int run_case_f32(tl__skern_fn kern, int nt, int64_t m, int64_t n, int64_t k, int ta, int tb, int sp,
                        float alpha, float beta, double tol) {
    int64_t ars, acs, brs, bcs, ldc = n + 3, i, na, nb, nc;
    float *A, *B, *C;
    double *Ad, *Bd, *Cd, *C0, err;
    acs = ta ? (m + 1) * sp : sp; /* transposed: A stored [k, m+1], element (i,p) at p*(m+1)+i */
    ars = ta ? sp : (k + 1) * sp;
    bcs = tb ? (k + 2) * sp : sp;
    brs = tb ? sp : (n + 2) * sp;
    na = (m + 1) * (k + 1) * sp + 1;
    nb = (k + 2) * (n + 2) * sp + 1;
    nc = (m > 0 ? m : 1) * ldc;
    A = (float *)malloc(sizeof(float) * (size_t)na); Ad = (double *)malloc(sizeof(double) * (size_t)na);
    B = (float *)malloc(sizeof(float) * (size_t)nb); Bd = (double *)malloc(sizeof(double) * (size_t)nb);
    C = (float *)malloc(sizeof(float) * (size_t)nc); Cd = (double *)malloc(sizeof(double) * (size_t)nc);
    C0 = (double *)malloc(sizeof(double) * (size_t)nc);
    for (i = 0; i < na; i++) Ad[i] = A[i] = (float)th_rnd();
    for (i = 0; i < nb; i++) Bd[i] = B[i] = (float)th_rnd();
    for (i = 0; i < nc; i++) C0[i] = C[i] = (float)th_rnd();
    tl__sgemm_with(kern, nt, m, n, k, alpha, A, ars, acs, B, brs, bcs, beta, C, ldc);
    for (i = 0; i < nc; i++) Cd[i] = C[i];
    err = gemm_err(m, n, k, alpha, Ad, ars, acs, Bd, brs, bcs, beta, C0, Cd, ldc);
    /* the padding column of C (j >= n) is never written */
    for (i = 0; i < m; i++)
        if (C[i * ldc + n] != (float)C0[i * ldc + n]) err = 1;
    free(A); free(Ad); free(B); free(Bd); free(C); free(Cd); free(C0);
    if (err > tol) {
        printf("  sgemm m=%lld n=%lld k=%lld ta=%d tb=%d sp=%d alpha=%g beta=%g nt=%d: rel err %g\n", (long long)m,
               (long long)n, (long long)k, ta, tb, sp, (double)alpha, (double)beta, nt, err);
        return 0;
    }
    return 1;
}
static int run_case_f64(tl__dkern_fn kern, int64_t m, int64_t n, int64_t k, int ta, int tb, double alpha,
                        double beta) {
    int64_t ars = ta ? 1 : k, acs = ta ? m : 1, brs = tb ? 1 : n, bcs = tb ? k : 1, ldc = n, i;
    int64_t na = m * k + 1, nb = k * n + 1, nc = m * n + 1;
    double *A = (double *)malloc(sizeof(double) * (size_t)na), *B = (double *)malloc(sizeof(double) * (size_t)nb);
    double *C = (double *)malloc(sizeof(double) * (size_t)nc), *C0 = (double *)malloc(sizeof(double) * (size_t)nc);
    double err;
    for (i = 0; i < na; i++) A[i] = th_rnd();
    for (i = 0; i < nb; i++) B[i] = th_rnd();
    for (i = 0; i < nc; i++) C0[i] = C[i] = th_rnd();
    tl__dgemm_with(kern, 0, m, n, k, alpha, A, ars, acs, B, brs, bcs, beta, C, ldc);
    err = gemm_err(m, n, k, alpha, A, ars, acs, B, brs, bcs, beta, C0, C, ldc);
    free(A); free(B); free(C); free(C0);
    if (err > 1e-13) {
        printf("  dgemm m=%lld n=%lld k=%lld ta=%d tb=%d: rel err %g\n", (long long)m, (long long)n, (long long)k, ta,
               tb, err);
        return 0;
    }
    return 1;
}

static const int64_t shapes[][3] = {{1, 1, 1}, {1, 1, 7}, {2, 3, 5}, {5, 7, 11}, {6, 16, 1}, {7, 17, 13},
                                    {13, 31, 29}, {37, 3, 41}, {3, 53, 300}, {64, 120, 400}, {6, 784, 25},
                                    {16, 100, 150}, {150, 100, 16}, {145, 3073, 2}, {97, 61, 513},
                                    {0, 5, 3}, {4, 0, 3}, {4, 5, 0}, {1, 300, 1}, {300, 1, 257}};
#define NSHAPES ((int)(sizeof(shapes) / sizeof(shapes[0])))

static void sgemm_all(tl__skern_fn kern) {
    int s, ta, tb, sp;
    for (s = 0; s < NSHAPES; s++)
        for (ta = 0; ta < 2; ta++)
            for (tb = 0; tb < 2; tb++)
                for (sp = 1; sp <= 2; sp++) {
                    CHECK(run_case_f32(kern, 1, shapes[s][0], shapes[s][1], shapes[s][2], ta, tb, sp, 1.0f, 0.0f,
                                       1e-5));
                    if (sp == 1)
                        CHECK(run_case_f32(kern, 1, shapes[s][0], shapes[s][1], shapes[s][2], ta, tb, sp, -0.5f, 0.75f,
                                           1e-5));
                }
    /* beta 1 (accumulate) and alpha 0 (scale only) */
    CHECK(run_case_f32(kern, 1, 9, 33, 20, 0, 1, 1, 1.0f, 1.0f, 1e-5));
    CHECK(run_case_f32(kern, 1, 9, 33, 20, 1, 0, 1, 0.0f, 2.0f, 1e-5));
}
TEST(sgemm_portable_matches_reference) { sgemm_all(tl__skern_c); }
TEST(sgemm_simd_matches_reference) {
    /* the run-time choice (AVX2+FMA on x86-64 machines that have it; the portable kernel elsewhere
       or with TL_SIMD=portable) */
    if (tl__skern() == tl__skern_c) printf("  (no SIMD kernel on this machine/build: the portable one again)\n");
    sgemm_all(tl__skern());
}
TEST(dgemm_matches_reference) {
    int s, ta, tb, v;
    for (v = 0; v < 2; v++) {
        tl__dkern_fn kern = v ? tl__dkern() : tl__dkern_c;
        for (s = 0; s < NSHAPES; s++)
            for (ta = 0; ta < 2; ta++)
                for (tb = 0; tb < 2; tb++)
                    CHECK(run_case_f64(kern, shapes[s][0], shapes[s][1], shapes[s][2], ta, tb, ta ? 1.0 : -1.5,
                                       tb ? 0.0 : 0.5));
    }
}

/* the SIMD and portable kernels agree within 1e-5 relative, element by element */
TEST(sgemm_simd_agrees_with_portable) {
    int64_t m = 37, n = 45, k = 333, i;
    float *A = (float *)malloc(sizeof(float) * (size_t)(m * k)), *B = (float *)malloc(sizeof(float) * (size_t)(k * n));
    float *C1 = (float *)malloc(sizeof(float) * (size_t)(m * n)), *C2 = (float *)malloc(sizeof(float) * (size_t)(m * n));
    double worst = 0;
    for (i = 0; i < m * k; i++) A[i] = (float)th_rnd() + 1.5f; /* positive: sums well away from 0 */
    for (i = 0; i < k * n; i++) B[i] = (float)th_rnd() + 1.5f;
    tl__sgemm_with(tl__skern_c, 1, m, n, k, 1, A, k, 1, B, n, 1, 0, C1, n);
    tl__sgemm_with(tl__skern(), 1, m, n, k, 1, A, k, 1, B, n, 1, 0, C2, n);
    for (i = 0; i < m * n; i++) {
        double e = fabs((double)C1[i] - (double)C2[i]) / (fabs((double)C1[i]) + 1e-3);
        if (e > worst) worst = e;
    }
    CHECK(worst <= 1e-5);
    free(A); free(B); free(C1); free(C2);
}

/* bit for bit the same C for 1, 2, 3 and 4 tasks (split over rows or over columns) */
TEST(sgemm_bit_identical_across_threads) {
    static const int64_t sh[][3] = {{97, 203, 131}, {300, 20, 270}, {64, 1000, 64}, {1000, 7, 300}};
    int s, nt;
    for (s = 0; s < 4; s++) {
        int64_t m = sh[s][0], n = sh[s][1], k = sh[s][2], i;
        float *A = (float *)malloc(sizeof(float) * (size_t)(m * k)), *B = (float *)malloc(sizeof(float) * (size_t)(k * n));
        float *C1 = (float *)malloc(sizeof(float) * (size_t)(m * n)), *C2 = (float *)malloc(sizeof(float) * (size_t)(m * n));
        double *D1 = (double *)malloc(sizeof(double) * (size_t)(m * n)), *D2 = (double *)malloc(sizeof(double) * (size_t)(m * n));
        double *Ad = (double *)malloc(sizeof(double) * (size_t)(m * k)), *Bd = (double *)malloc(sizeof(double) * (size_t)(k * n));
        for (i = 0; i < m * k; i++) Ad[i] = A[i] = (float)th_rnd();
        for (i = 0; i < k * n; i++) Bd[i] = B[i] = (float)th_rnd();
        tl__sgemm_with(tl__skern(), 1, m, n, k, 1, A, k, 1, B, n, 1, 0, C1, n);
        tl__dgemm_with(tl__dkern(), 1, m, n, k, 1, Ad, 1, m, Bd, n, 1, 0, D1, n);
        for (nt = 2; nt <= 4; nt++) {
            tl_set_num_threads(nt); /* through the pool */
            tl__sgemm_with(tl__skern(), 0, m, n, k, 1, A, k, 1, B, n, 1, 0, C2, n);
            CHECK(memcmp(C1, C2, sizeof(float) * (size_t)(m * n)) == 0);
            tl__sgemm_with(tl__skern_c, 0, m, n, k, 1, A, k, 1, B, n, 1, 0, C2, n);
            tl__sgemm_with(tl__skern_c, 1, m, n, k, 1, A, k, 1, B, n, 1, 0, C1, n);
            CHECK(memcmp(C1, C2, sizeof(float) * (size_t)(m * n)) == 0);
            tl__sgemm_with(tl__skern(), 1, m, n, k, 1, A, k, 1, B, n, 1, 0, C1, n);
            tl__dgemm_with(tl__dkern(), 0, m, n, k, 1, Ad, 1, m, Bd, n, 1, 0, D2, n);
            CHECK(memcmp(D1, D2, sizeof(double) * (size_t)(m * n)) == 0);
        }
        tl_set_num_threads(1);
        free(A); free(B); free(C1); free(C2); free(D1); free(D2); free(Ad); free(Bd);
    }
}

/* tl_matmul with threads: same bits as with one thread, and with transposed operands */
TEST(matmul_threads_bit_identical) {
    tl_scope sc = tl_scope_begin();
    int64_t sa[2] = {130, 70}, sb[2] = {90, 70};
    tl_tensor *a = tl_randn(2, sa, TL_F32), *b = tl_randn(2, sb, TL_F32), *r1, *r2;
    int nt;
    REQUIRE(a && b);
    tl_set_num_threads(1);
    r1 = tl_contiguous(tl_matmul(a, tl_t(b)));
    for (nt = 2; nt <= 4; nt++) {
        tl_set_num_threads(nt);
        CHECK_EQ_INT(tl_get_num_threads(), nt);
        r2 = tl_contiguous(tl_matmul(a, tl_t(b)));
        REQUIRE(r1 && r2);
        CHECK(memcmp(tl_data_ptr(r1), tl_data_ptr(r2), sizeof(float) * 130 * 90) == 0);
    }
    tl_set_num_threads(1);
    tl_scope_end(sc);
}

static const th_case tests[] = {
    TH_CASE(sgemm_portable_matches_reference), TH_CASE(sgemm_simd_matches_reference),
    TH_CASE(dgemm_matches_reference), TH_CASE(sgemm_simd_agrees_with_portable),
    TH_CASE(sgemm_bit_identical_across_threads), TH_CASE(matmul_threads_bit_identical),
};
int main(void) {
    int r = TH_RUN(tests);
    tl_shutdown();
    return r;
}
