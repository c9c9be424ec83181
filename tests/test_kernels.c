/* tests/test_kernels.c - the speed kernels against plain references: the packed GEMM (float32 and
   float64; portable, AVX2+FMA and AVX-512F micro-kernels, AVX-512 bit for bit AVX2; every transpose
   case, strided operands, odd and zero sizes, alpha/beta) against a double-precision triple loop;
   bit-identical results across 1-4 threads; the CRC-32 of checkpoints (carry-less multiply against
   the tables and zlib); conv2d and max_pool2d (forward and backward) against direct loops; a
   steady-state training step makes no allocator call. */
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
    /* the run-time choice (AVX2+FMA on x86-64 machines that have it, NEON on AArch64; the portable
       kernel elsewhere or with TL_SIMD=portable) */
    if (tl__skern() == tl__skern_c) printf("  (no SIMD kernel on this machine/build: the portable one again)\n");
#if TL__NEON
    { /* on AArch64 NEON is always there: only TL_SIMD=portable may turn it off */
        const char *e = getenv("TL_SIMD");
        int portable = e && strcmp(e, "portable") == 0;
        CHECK(portable ? tl__skern() == tl__skern_c && tl__dkern() == tl__dkern_c
                       : tl__skern() == tl__skern_neon && tl__dkern() == tl__dkern_neon);
    }
#endif
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

#if TL__X86_SIMD
/* C from kernel k1 with n1 tasks and from k2 with n2 tasks, alpha -0.5, beta 0.75, op(A) and op(B)
   transposed or not: the same bits? (float32 when f32, else float64) */
static int same_bits(int f32, void (*k1)(void), int n1, void (*k2)(void), int n2, int64_t m, int64_t n, int64_t k,
                     int ta, int tb) {
    int64_t ars = ta ? 1 : k, acs = ta ? m : 1, brs = tb ? 1 : n, bcs = tb ? k : 1, i;
    size_t na = (size_t)(m * k + 1), nb = (size_t)(k * n + 1), nc = (size_t)(m * n + 1);
    double *A = (double *)malloc(8 * na), *B = (double *)malloc(8 * nb), *C1 = (double *)malloc(8 * nc),
           *C2 = (double *)malloc(8 * nc);
    int same;
    for (i = 0; i < (int64_t)na; i++) A[i] = th_rnd();
    for (i = 0; i < (int64_t)nb; i++) B[i] = th_rnd();
    for (i = 0; i < (int64_t)nc; i++) C1[i] = C2[i] = th_rnd();
    if (f32) { /* the same buffers as floats (the first half of each) */
        float *a = (float *)A, *b = (float *)B, *c1 = (float *)C1, *c2 = (float *)C2;
        for (i = 0; i < (int64_t)na; i++) a[i] = (float)A[i];
        for (i = 0; i < (int64_t)nb; i++) b[i] = (float)B[i];
        for (i = 0; i < (int64_t)nc; i++) c1[i] = c2[i] = (float)C1[i];
        tl__sgemm_with((tl__skern_fn)k1, n1, m, n, k, -0.5f, a, ars, acs, b, brs, bcs, 0.75f, c1, n);
        tl__sgemm_with((tl__skern_fn)k2, n2, m, n, k, -0.5f, a, ars, acs, b, brs, bcs, 0.75f, c2, n);
        same = memcmp(c1, c2, 4 * nc) == 0;
    } else {
        tl__dgemm_with((tl__dkern_fn)k1, n1, m, n, k, -0.5, A, ars, acs, B, brs, bcs, 0.75, C1, n);
        tl__dgemm_with((tl__dkern_fn)k2, n2, m, n, k, -0.5, A, ars, acs, B, brs, bcs, 0.75, C2, n);
        same = memcmp(C1, C2, 8 * nc) == 0;
    }
    if (!same)
        printf("  %s m=%lld n=%lld k=%lld ta=%d tb=%d tasks %d/%d: bits differ\n", f32 ? "sgemm" : "dgemm",
               (long long)m, (long long)n, (long long)k, ta, tb, n1, n2);
    free(A); free(B); free(C1); free(C2);
    return same;
}

#endif
/* Each x86 SIMD level on its own against the reference (whatever TL_SIMD picks), and the AVX-512
   kernels (two micro-panels per call, masked edges) bit for bit the AVX2 ones, at 1-4 tasks. */
TEST(x86_simd_levels) {
#if TL__X86_SIMD
    int s, ta, tb, nt, v;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        printf("  (no AVX2+FMA on this machine: nothing to compare)\n");
        return;
    }
    sgemm_all(tl__skern_avx2);
    for (s = 0; s < NSHAPES; s++)
        for (v = 0; v < 4; v++) CHECK(run_case_f64(tl__dkern_avx2, shapes[s][0], shapes[s][1], shapes[s][2], v & 1, v >> 1, 1.5, 0.5));
    if (!__builtin_cpu_supports("avx512f")) {
        printf("  (no AVX-512F on this machine: the AVX2 kernels only)\n");
        return;
    }
    if (!getenv("TL_SIMD")) CHECK(tl__skern() == tl__skern_avx512 && tl__dkern() == tl__dkern_avx512); /* the default */
    CHECK(tl__skern_panels(tl__skern_avx512) == 2 && tl__dkern_panels(tl__dkern_avx512) == 2);
    sgemm_all(tl__skern_avx512);
    for (s = 0; s < NSHAPES; s++)
        for (ta = 0; ta < 2; ta++)
            for (tb = 0; tb < 2; tb++) {
                int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                CHECK(run_case_f64(tl__dkern_avx512, m, n, k, ta, tb, -1.5, 0.5));
                CHECK(same_bits(1, (void (*)(void))tl__skern_avx2, 1, (void (*)(void))tl__skern_avx512, 1, m, n, k, ta, tb));
                CHECK(same_bits(0, (void (*)(void))tl__dkern_avx2, 1, (void (*)(void))tl__dkern_avx512, 1, m, n, k, ta, tb));
            }
    for (nt = 2; nt <= 4; nt++) { /* odd widths: 33, 47, 203 columns (one, two and many panel pairs) */
        tl_set_num_threads(nt);
        CHECK(same_bits(1, (void (*)(void))tl__skern_avx2, 1, (void (*)(void))tl__skern_avx512, 0, 97, 203, 131, 0, 1));
        CHECK(same_bits(1, (void (*)(void))tl__skern_avx2, 1, (void (*)(void))tl__skern_avx512, 0, 300, 33, 70, 1, 0));
        CHECK(same_bits(0, (void (*)(void))tl__dkern_avx2, 1, (void (*)(void))tl__dkern_avx512, 0, 61, 47, 300, 0, 0));
        CHECK(same_bits(1, (void (*)(void))tl__skern_avx512, 1, (void (*)(void))tl__skern_avx512, 0, 64, 1000, 64, 1, 1));
    }
    tl_set_num_threads(1);
#else
    printf("  (not an x86-64 gcc/clang build)\n");
#endif
}

/* ZIP's CRC-32: the carry-less-multiply folding (x86 with TL_SIMD not portable) against the
   byte tables, every length 0..400 at offsets 0..15 and continuing from a running CRC; and zlib's
   values for bytes 0..255 and for them 41 times over plus "abc" */
TEST(crc32_matches_tables_and_zlib) {
    static tl__crc c;
    unsigned char *b = (unsigned char *)malloc(256 * 41 + 3 + 16);
    size_t i;
    REQUIRE(b);
    tl__crc_init(&c);
    for (i = 0; i < 256 * 41; i++) b[i] = (unsigned char)i;
    memcpy(b + 256 * 41, "abc", 3);
    CHECK(tl__crc_update(&c, 0, b, 256) == 0x29058c73u);
    CHECK(tl__crc_update(&c, 0, b, 256 * 41 + 3) == 0x42d40228u);
    CHECK(tl__crc_update(&c, tl__crc_update(&c, 0, b, 1000), b + 1000, 256 * 41 + 3 - 1000) == 0x42d40228u);
#if TL__X86_SIMD
    if (tl__crc_fast()) {
        int bad = 0;
        size_t n, off;
        for (i = 0; i < 256 * 41; i++) b[i] = (unsigned char)(th_rnd() * 128 + 128);
        for (off = 0; off < 16; off++)
            for (n = 64; n <= 400; n += 16) {
                uint32_t start = off ? (uint32_t)(th_rnd() * 2e9) : 0u;
                if (tl__crc_clmul(&c, start, b + off, n) != tl__crc_raw(&c, start, b + off, n)) bad++;
            }
        CHECK_EQ_INT(bad, 0);
        for (n = 0; n <= 400; n++) /* through tl__crc_update: folded body, table tail */
            if (tl__crc_update(&c, 0x12345678u, b + 3, n) != ~tl__crc_raw(&c, ~0x12345678u, b + 3, n)) bad++;
        CHECK_EQ_INT(bad, 0);
    }
#endif
    free(b);
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

/* ---- conv2d against direct loops (double), forward and the three gradients ---- */
typedef struct conv_case { int N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, g; } conv_case;
static float *rand_f32(int64_t n) {
    float *v = (float *)malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    int64_t i;
    for (i = 0; i < n; i++) v[i] = (float)th_rnd();
    return v;
}
static double max_rel(const float *got, const double *want, int64_t n) {
    double worst = 0, scale = 1e-6;
    int64_t i;
    for (i = 0; i < n; i++)
        if (fabs(want[i]) > scale) scale = fabs(want[i]);
    for (i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / scale;
        if (e > worst) worst = e;
    }
    return worst;
}
static int conv_check(const conv_case *k) {
    int64_t Ho = (k->H + 2 * k->ph - k->dh * (k->kh - 1) - 1) / k->sh + 1;
    int64_t Wo = (k->W + 2 * k->pw - k->dw * (k->kw - 1) - 1) / k->sw + 1;
    int64_t Cg = k->C / k->g, Og = k->O / k->g;
    int64_t sx[4], sw[4], sb[1], so[4], nx, nw, no, n, o, c, oh, ow, i, j;
    float *xv, *wv, *bv, *rv;
    double *yr, *gx, *gw, *gb, e1, e2, e3, e4;
    tl_tensor *x, *w, *b, *y, *r, *tx, *tw, *tb;
    tl_conv2d_opts opts;
    tl_scope sc = tl_scope_begin();
    int ok;
    sx[0] = k->N; sx[1] = k->C; sx[2] = k->H; sx[3] = k->W;
    sw[0] = k->O; sw[1] = Cg; sw[2] = k->kh; sw[3] = k->kw;
    sb[0] = k->O;
    so[0] = k->N; so[1] = k->O; so[2] = Ho; so[3] = Wo;
    nx = k->N * k->C * k->H * k->W; nw = k->O * Cg * k->kh * k->kw; no = k->N * k->O * Ho * Wo;
    xv = rand_f32(nx); wv = rand_f32(nw); bv = rand_f32(k->O); rv = rand_f32(no);
    yr = (double *)calloc((size_t)no, sizeof(double));
    gx = (double *)calloc((size_t)nx, sizeof(double));
    gw = (double *)calloc((size_t)nw, sizeof(double));
    gb = (double *)calloc((size_t)k->O, sizeof(double));
    for (n = 0; n < k->N; n++)
        for (o = 0; o < k->O; o++)
            for (oh = 0; oh < Ho; oh++)
                for (ow = 0; ow < Wo; ow++) {
                    int64_t gi = o / Og, yi = ((n * k->O + o) * Ho + oh) * Wo + ow;
                    double acc = bv[o];
                    for (c = 0; c < Cg; c++)
                        for (i = 0; i < k->kh; i++)
                            for (j = 0; j < k->kw; j++) {
                                int64_t ih = oh * k->sh - k->ph + i * k->dh, iw = ow * k->sw - k->pw + j * k->dw;
                                int64_t xi = ((n * k->C + gi * Cg + c) * k->H + ih) * k->W + iw;
                                int64_t wi = ((o * Cg + c) * k->kh + i) * k->kw + j;
                                if (ih < 0 || ih >= k->H || iw < 0 || iw >= k->W) continue;
                                acc += (double)xv[xi] * wv[wi];
                                gx[xi] += (double)rv[yi] * wv[wi];
                                gw[wi] += (double)rv[yi] * xv[xi];
                            }
                    yr[yi] = acc;
                    gb[o] += rv[yi];
                }
    memset(&opts, 0, sizeof opts);
    opts.stride[0] = k->sh; opts.stride[1] = k->sw; opts.padding[0] = k->ph; opts.padding[1] = k->pw;
    opts.dilation[0] = k->dh; opts.dilation[1] = k->dw; opts.groups = k->g;
    x = tl_from_data(xv, 4, sx, TL_F32); w = tl_from_data(wv, 4, sw, TL_F32); b = tl_from_data(bv, 1, sb, TL_F32);
    r = tl_from_data(rv, 4, so, TL_F32);
    tl_requires_grad_(x, 1); tl_requires_grad_(w, 1); tl_requires_grad_(b, 1);
    y = tl_conv2d(x, w, b, &opts);
    ok = y && tl_backward_ex(y, r, 0) == TL_OK;
    tx = ok ? tl_contiguous(tl_grad(x)) : NULL;
    tw = ok ? tl_contiguous(tl_grad(w)) : NULL;
    tb = ok ? tl_contiguous(tl_grad(b)) : NULL;
    ok = ok && tx && tw && tb;
    if (ok) {
        e1 = max_rel((const float *)tl_data_ptr(y), yr, no);
        e2 = max_rel((const float *)tl_data_ptr(tx), gx, nx);
        e3 = max_rel((const float *)tl_data_ptr(tw), gw, nw);
        e4 = max_rel((const float *)tl_data_ptr(tb), gb, k->O);
        ok = e1 < 1e-5 && e2 < 1e-5 && e3 < 1e-5 && e4 < 1e-5;
        if (!ok)
            printf("  conv N%d C%d %dx%d O%d k%dx%d s%d,%d p%d,%d d%d,%d g%d: errors y %g dx %g dw %g db %g\n", k->N,
                   k->C, k->H, k->W, k->O, k->kh, k->kw, k->sh, k->sw, k->ph, k->pw, k->dh, k->dw, k->g, e1, e2, e3,
                   e4);
    } else printf("  conv failed: %s\n", tl_last_error());
    free(xv); free(wv); free(bv); free(rv); free(yr); free(gx); free(gw); free(gb);
    tl_release(x); tl_release(w); tl_release(b); tl_release(r);
    tl_scope_end(sc);
    return ok;
}
TEST(conv2d_matches_direct_loops) {
    static const conv_case cases[] = {
        {4, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1},   /* LeNet conv1 (batch 4) */
        {4, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1},  /* LeNet conv2 */
        {2, 4, 9, 11, 6, 3, 3, 2, 1, 1, 1, 1, 1, 2},    /* groups, stride, padding */
        {2, 3, 10, 13, 5, 3, 2, 1, 3, 2, 0, 2, 1, 1},   /* dilation, stride 3 in w */
        {1, 2, 5, 5, 3, 5, 5, 1, 1, 0, 0, 1, 1, 1},     /* 1x1 output */
        {3, 2, 7, 6, 4, 1, 1, 2, 2, 0, 0, 1, 1, 2},     /* 1x1 kernel, strided */
        {2, 3, 6, 7, 3, 3, 3, 2, 2, 3, 3, 1, 1, 3},     /* padding larger than the image edge rows */
        {2, 3, 8, 37, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1},   /* float32 implicit GEMM: channel-major tiles, 20 = 6+6+6+2 */
        {2, 2, 6, 5, 33, 2, 2, 1, 1, 0, 0, 1, 1, 1},    /* pixel-major tiles read in place, 33 = 16+16+1 */
        {1, 64, 3, 350, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1},  /* forward past a 64K-float row band: im2col; dx: 64 > O */
        {2, 3, 6, 7, 3, 3, 3, 1, 1, 3, 4, 1, 1, 1},     /* stride 1, padding past the kernel (dx crops g) */
        {2, 3, 10, 13, 5, 3, 2, 1, 1, 2, 0, 2, 3, 1},   /* stride 1, dilation 2 and 3 */
        {2, 4, 9, 11, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2},    /* stride 1, groups */
        {3, 2, 9, 18, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1},    /* dW along the pixels, read in place, 3 images < 4 parts */
        {5, 1, 12, 40, 8, 2, 4, 2, 1, 1, 1, 1, 1, 1},   /* dW along the pixels: 8 = 6+2 channels, row tail 7, stride 2 */
    };
    int i;
    for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) CHECK(conv_check(&cases[i]));
}

/* ---- max_pool2d against a direct loop (values, indices, gradient), NaN included ---- */
static int pool_check(int N, int H, int W, int k, int s, int p, int d, int with_nan) {
    int64_t sx[4], Ho, Wo, n, oh, ow, i, j, nx;
    float *xv;
    tl_tensor *x, *y, *idx = NULL, *gx;
    tl_pool2d_opts o = tl_pool2d_opts_default(k, k);
    int ok = 1;
    tl_scope sc = tl_scope_begin();
    o.stride[0] = o.stride[1] = s;
    o.padding[0] = o.padding[1] = p;
    o.dilation[0] = o.dilation[1] = d;
    Ho = (H + 2 * p - d * (k - 1) - 1) / s + 1;
    Wo = (W + 2 * p - d * (k - 1) - 1) / s + 1;
    sx[0] = N; sx[1] = 2; sx[2] = H; sx[3] = W;
    nx = N * 2 * H * W;
    xv = rand_f32(nx);
    if (with_nan) xv[3] = xv[nx - 1] = (float)NAN;
    x = tl_from_data(xv, 4, sx, TL_F32);
    tl_requires_grad_(x, 1);
    y = tl_max_pool2d(x, &o, &idx);
    if (!y || !idx || tl_backward_ex(y, tl_ones_like(y), 0) != TL_OK) {
        printf("  max_pool2d failed: %s\n", tl_last_error());
        free(xv);
        tl_scope_end(sc);
        tl_release(x); tl_release(y); tl_release(idx);
        return 0;
    }
    gx = tl_contiguous(tl_grad(x));
    {
        double *gref = (double *)calloc((size_t)nx, sizeof(double));
        const float *yp = (const float *)tl_data_ptr(y), *gp = (const float *)tl_data_ptr(gx);
        const int64_t *ip = (const int64_t *)tl_data_ptr(idx);
        for (n = 0; n < N * 2; n++)
            for (oh = 0; oh < Ho; oh++)
                for (ow = 0; ow < Wo; ow++) {
                    int64_t bi = -1, oi = (n * Ho + oh) * Wo + ow;
                    float best = 0;
                    for (i = 0; i < k; i++)
                        for (j = 0; j < k; j++) {
                            int64_t ih = oh * s - p + i * d, iw = ow * s - p + j * d;
                            float v;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            v = xv[(n * H + ih) * W + iw];
                            if (bi < 0 || v > best || v != v) {
                                best = v;
                                bi = ih * W + iw;
                            }
                        }
                    if (ip[oi] != bi) ok = 0;
                    if (!(yp[oi] == best || (yp[oi] != yp[oi] && best != best))) ok = 0;
                    if (bi >= 0) gref[n * H * W + bi] += 1;
                }
        for (i = 0; i < nx; i++)
            if ((double)gp[i] != gref[i]) ok = 0;
        free(gref);
    }
    if (!ok) printf("  max_pool2d N%d %dx%d k%d s%d p%d d%d nan%d differs\n", N, H, W, k, s, p, d, with_nan);
    free(xv);
    tl_release(x); tl_release(y); tl_release(idx);
    tl_scope_end(sc);
    return ok;
}
TEST(max_pool2d_matches_direct_loop) {
    CHECK(pool_check(3, 28, 28, 2, 2, 0, 1, 0)); /* the 2x2 fast path */
    CHECK(pool_check(2, 7, 9, 2, 2, 0, 1, 1));   /* odd sizes: the last row/column dropped; NaNs */
    CHECK(pool_check(2, 10, 10, 3, 2, 1, 1, 1)); /* general: padding */
    CHECK(pool_check(2, 11, 12, 2, 1, 0, 2, 0)); /* overlapping windows, dilation */
    CHECK(pool_check(3, 10, 10, 2, 2, 0, 1, 1)); /* 2x2 rows of 5 (LeNet's second pool): masked row tails */
    CHECK(pool_check(2, 6, 30, 2, 2, 0, 1, 1));  /* rows of 15 = 8 + 7 */
    CHECK(pool_check(2, 9, 38, 2, 2, 0, 1, 1));  /* rows of 19 = 8 + 8 + 3, an odd row dropped */
    CHECK(pool_check(1, 1, 1, 1, 1, 0, 1, 0));
}

/* max_pool2d (forward and float32 backward) splits its planes over threads past 64K outputs: the
   direct loop's values, indices and gradient at 1..4 threads (37 and 40 images: uneven splits) */
TEST(max_pool2d_threads) {
    int nt;
    for (nt = 1; nt <= 4; nt++) {
        tl_set_num_threads(nt);
        CHECK(pool_check(40, 28, 28, 2, 2, 0, 1, 1));
        CHECK(pool_check(37, 30, 30, 3, 2, 1, 1, 0));
    }
    tl_set_num_threads(1);
}

/* elementwise ops past 64K elements split their range over threads: the same bits at 1..4 threads
   (a broadcast bias add, tanh, an in-place multiply, a float64 relu backward through autograd) */
TEST(elementwise_threads_bit_identical) {
    int64_t sx[2] = {1001, 131}, sb[1] = {131};
    tl_tensor *x = tl_randn(2, sx, TL_F32), *bias = tl_randn(1, sb, TL_F32), *ref[3] = {NULL, NULL, NULL};
    tl_tensor *xd = tl_randn(2, sx, TL_F64);
    int nt, k;
    REQUIRE(x && bias && xd);
    for (nt = 1; nt <= 4; nt++) {
        tl_scope sc = tl_scope_begin();
        tl_tensor *r[3], *leaf = tl_clone(xd);
        tl_set_num_threads(nt);
        r[0] = tl_add(x, bias);
        r[1] = tl_contiguous(tl_tanh(r[0]));
        CHECK(tl_mul_(r[1], r[0]) == TL_OK);
        tl_requires_grad_(leaf, 1);
        REQUIRE(tl_backward(tl_sum_all(tl_mul(tl_relu(leaf), leaf))) == TL_OK);
        r[2] = tl_grad(leaf);
        REQUIRE(r[0] && r[1] && r[2]);
        for (k = 0; k < 3; k++) {
            size_t nb = (size_t)tl_numel(r[k]) * (k == 2 ? 8 : 4);
            if (nt == 1) ref[k] = tl_keep(r[k]);
            else CHECK(memcmp(tl_data_ptr(ref[k]), tl_data_ptr(r[k]), nb) == 0);
        }
        tl_scope_end(sc);
    }
    tl_set_num_threads(1);
    for (k = 0; k < 3; k++) tl_release(ref[k]);
    tl_release(x); tl_release(bias); tl_release(xd);
}

/* conv2d forward splits the batch over threads: the same bits for 1..4 threads */
TEST(conv2d_threads_bit_identical) {
    tl_scope sc = tl_scope_begin();
    int64_t sx[4] = {64, 1, 28, 28}, sw[4] = {6, 1, 5, 5}, sb[1] = {6};
    tl_tensor *x = tl_randn(4, sx, TL_F32), *w = tl_randn(4, sw, TL_F32), *b = tl_randn(1, sb, TL_F32), *y1, *y2;
    tl_conv2d_opts o;
    int nt;
    memset(&o, 0, sizeof o);
    o.padding[0] = o.padding[1] = 2;
    tl_set_num_threads(1);
    y1 = tl_conv2d(x, w, b, &o);
    REQUIRE(y1);
    for (nt = 2; nt <= 4; nt++) {
        tl_set_num_threads(nt);
        y2 = tl_conv2d(x, w, b, &o);
        REQUIRE(y2);
        CHECK(memcmp(tl_data_ptr(y1), tl_data_ptr(y2), sizeof(float) * (size_t)tl_numel(y1)) == 0);
    }
    tl_set_num_threads(1);
    { /* conv1's weight gradient (the image parts summed along the pixels) */
        tl_tensor *gw1 = NULL, *gw2, *yy;
        tl_requires_grad_(w, 1);
        for (nt = 1; nt <= 4; nt++) {
            tl_set_num_threads(nt);
            tl_set_grad(w, NULL);
            yy = tl_conv2d(x, w, b, &o);
            REQUIRE(yy && tl_backward_ex(yy, tl_ones_like(yy), 0) == TL_OK);
            gw2 = tl_contiguous(tl_grad(w));
            REQUIRE(gw2);
            if (nt == 1) gw1 = gw2;
            else CHECK(memcmp(tl_data_ptr(gw1), tl_data_ptr(gw2), sizeof(float) * (size_t)tl_numel(gw1)) == 0);
        }
        tl_set_num_threads(1);
    }
    { /* and the input and weight gradients (LeNet's conv2) */
        int64_t s2[4] = {64, 6, 14, 14}, w2s[4] = {16, 6, 5, 5};
        tl_tensor *x2 = tl_randn(4, s2, TL_F32), *w2 = tl_randn(4, w2s, TL_F32), *g1 = NULL, *g2, *d1 = NULL, *d2, *yy;
        REQUIRE(x2 && w2);
        tl_requires_grad_(x2, 1);
        tl_requires_grad_(w2, 1);
        memset(&o, 0, sizeof o);
        for (nt = 1; nt <= 4; nt++) {
            tl_set_num_threads(nt);
            tl_set_grad(x2, NULL);
            tl_set_grad(w2, NULL);
            yy = tl_conv2d(x2, w2, NULL, &o);
            REQUIRE(yy && tl_backward_ex(yy, tl_ones_like(yy), 0) == TL_OK);
            g2 = tl_contiguous(tl_grad(x2));
            d2 = tl_contiguous(tl_grad(w2));
            REQUIRE(g2 && d2);
            if (nt == 1) {
                g1 = g2;
                d1 = d2;
            } else {
                CHECK(memcmp(tl_data_ptr(g1), tl_data_ptr(g2), sizeof(float) * (size_t)tl_numel(g1)) == 0);
                CHECK(memcmp(tl_data_ptr(d1), tl_data_ptr(d2), sizeof(float) * (size_t)tl_numel(d1)) == 0);
            }
        }
        tl_set_num_threads(1);
    }
    tl_scope_end(sc);
}

/* A whole training step (DataLoader batch, conv, pool, linear, cross-entropy, backward, SGD with
   momentum) allocates nothing once shapes repeat: GEMM panels, im2col columns, the backward work
   lists and the batches all come from the caches. Counted through tl_setup's allocator hook, at 1
   and 2 threads (the pool workers' scratch too); the counter is atomic for the workers. */
static long step_allocs;
static void *step_alloc(size_t n, void *u) {
    (void)u;
#if defined(__GNUC__) || defined(__clang__)
    __atomic_add_fetch(&step_allocs, 1, __ATOMIC_RELAXED);
#else
    step_allocs++;
#endif
    return malloc(n);
}
static void step_free(void *p, void *u) { (void)u; free(p); }
TEST(training_step_allocates_nothing) {
    tl_desc d;
    int nt;
    memset(&d, 0, sizeof d);
    d.allocator.alloc_fn = step_alloc;
    d.allocator.free_fn = step_free;
    REQUIRE(tl_setup(&d) == TL_OK);
    for (nt = 1; nt <= 2; nt++) {
        int64_t xs[4] = {96, 1, 28, 28}, ys[1] = {96}, w1s[4] = {8, 1, 5, 5}, b1s[1] = {8}, w2s[2] = {10, 8 * 14 * 14},
                b2s[1] = {10};
        tl_tensor *x = tl_randn(4, xs, TL_F32), *y = tl_randint(0, 10, 1, ys, TL_I64), *pair[2];
        tl_tensor *p[4], *buf[4];
        tl_pool2d_opts pool = tl_pool2d_opts_default(2, 2);
        tl_conv2d_opts co;
        tl_dataset *ds;
        tl_loader *l;
        tl_loader_opts lo;
        long t0, in_steps = 0; /* allocator calls inside steps 6.. (an epoch's start, a reshuffle, is not a step) */
        int step, i;
        REQUIRE(x && y);
        tl_set_num_threads(nt);
        p[0] = tl_randn(4, w1s, TL_F32); p[1] = tl_zeros(1, b1s, TL_F32);
        p[2] = tl_randn(2, w2s, TL_F32); p[3] = tl_zeros(1, b2s, TL_F32);
        for (i = 0; i < 4; i++) {
            REQUIRE(p[i]);
            tl_mul_scalar_(p[i], 0.05);
            tl_requires_grad_(p[i], 1);
            buf[i] = tl_zeros_like(p[i]);
        }
        pair[0] = x;
        pair[1] = y;
        ds = tl_tensor_dataset(2, pair);
        memset(&lo, 0, sizeof lo);
        lo.batch_size = 32;
        lo.shuffle = 1;
        l = tl_loader_new(ds, &lo);
        REQUIRE(ds && l);
        memset(&co, 0, sizeof co);
        co.padding[0] = co.padding[1] = 2;
        for (step = 0; step < 12; step++) { /* 4 epochs of 3 batches */
            tl_batch b;
            tl_status st;
            tl_scope sc;
            tl_tensor *h, *loss;
            t0 = step_allocs;
            st = tl_loader_next(l, &b);
            if (st == TL_EPOCH_END) {
                st = tl_loader_next(l, &b); /* the new epoch's order */
                t0 = step_allocs;
            }
            REQUIRE(st == TL_OK);
            sc = tl_scope_begin();
            for (i = 0; i < 4; i++) tl_set_grad(p[i], NULL);
            h = tl_max_pool2d(tl_relu(tl_conv2d(b.x, p[0], p[1], &co)), &pool, NULL);
            loss = tl_cross_entropy(tl_linear(tl_flatten(h, 1, -1), p[2], p[3]), b.y, NULL, -100, TL_REDUCTION_MEAN);
            REQUIRE(loss && tl_backward(loss) == TL_OK);
            tl_no_grad_begin();
            for (i = 0; i < 4; i++) {
                tl_mul_scalar_(buf[i], 0.9);
                tl_add_(buf[i], tl_grad(p[i]));
                tl_add_alpha_(p[i], buf[i], -0.01);
            }
            tl_no_grad_end();
            tl_scope_end(sc);
            tl_batch_release(&b);
            if (step >= 6) in_steps += step_allocs - t0; /* after two epochs every shape has been seen */
        }
        CHECK_EQ_INT((int)in_steps, 0);
        tl_loader_free(l);
        tl_dataset_free(ds);
        for (i = 0; i < 4; i++) {
            tl_release(p[i]);
            tl_release(buf[i]);
        }
        tl_release(x);
        tl_release(y);
    }
    tl_set_num_threads(1);
    tl_shutdown();
    REQUIRE(tl_setup(NULL) == TL_OK);
}

static const th_case tests[] = {
    TH_CASE(sgemm_portable_matches_reference), TH_CASE(sgemm_simd_matches_reference),
    TH_CASE(dgemm_matches_reference), TH_CASE(sgemm_simd_agrees_with_portable),
    TH_CASE(sgemm_bit_identical_across_threads), TH_CASE(x86_simd_levels), TH_CASE(crc32_matches_tables_and_zlib), TH_CASE(matmul_threads_bit_identical),
    TH_CASE(conv2d_matches_direct_loops), TH_CASE(max_pool2d_matches_direct_loop), TH_CASE(max_pool2d_threads), TH_CASE(elementwise_threads_bit_identical),
    TH_CASE(conv2d_threads_bit_identical), TH_CASE(training_step_allocates_nothing),
};
int main(void) {
    int r = TH_RUN(tests);
    tl_shutdown();
    return r;
}
