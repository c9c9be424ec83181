/* tests/gradcheck.h - a small finite-difference gradient check for C tests (include after
   harness.h). The op is a function of n float64 leaves; GK_CHECK compares the gradient of
   L = sum(f(x) * W) (W fixed pseudo-random weights of the output's shape) from tl_backward with
   central differences (eps 1e-6), |analytic - numeric| <= tol * (1 + |numeric|) per element.
   f may view its inputs in any way (transposes, slices) to exercise non-contiguous paths.

       static tl_tensor *f_mul(tl_tensor *const *x, const void *ctx) { return tl_mul(x[0], x[1]); }
       GK_CHECK(f_mul, NULL, 2, (tl_tensor *[]){a, b}, 1e-6);

   The inputs must be contiguous float64 leaves that require grad (gk_leaf makes one); the check
   leaves their .grad set. Returns 1 when every element agrees. */
#ifndef TL_TEST_GRADCHECK_H
#define TL_TEST_GRADCHECK_H

#ifndef TL_TEST_HARNESS_H
#error "include harness.h before gradcheck.h"
#endif

typedef tl_tensor *(*gk_fn)(tl_tensor *const *x, const void *ctx);

/* a float64 leaf of shape (nd, shape) holding vals (C order), requiring grad */
TH_FN tl_tensor *gk_leaf(int nd, const int64_t *shape, const double *vals) {
    tl_tensor *t = tl_from_data(vals, nd, shape, TL_F64);
    if (t && tl_requires_grad_(t, 1) != TL_OK) return NULL;
    return t;
}

static uint64_t gk_state = 0x9e3779b97f4a7c15ULL;
TH_FN double gk_u(void) { /* in [-1, 1) */
    gk_state = gk_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(gk_state >> 11) / 4503599627370496.0 - 1.0;
}

/* L = sum(f(x) * w) as a double, w NULL = plain sum; evaluated without recording */
TH_FN double gk_loss(gk_fn f, const void *ctx, int n, tl_tensor *const *x, const tl_tensor *w) {
    double v = NAN;
    tl_scope s = tl_scope_begin();
    tl_tensor *y;
    (void)n;
    tl_no_grad_begin();
    y = f(x, ctx);
    if (y) v = tl_item(tl_sum_all(tl_mul(tl_to_dtype(y, TL_F64), w)));
    tl_no_grad_end();
    tl_scope_end(s);
    return v;
}

TH_FN int gk_check(const char *name, gk_fn f, const void *ctx, int n, tl_tensor *const *x, double tol,
                   const char *file, int line) {
    tl_scope s = tl_scope_begin();
    tl_tensor *y, *w, *L;
    int k, ok = 1;
    int64_t i, m;
    double *wv;
    th_checks_total++;
    for (k = 0; k < n; k++) tl_set_grad(x[k], NULL); /* .grad from an earlier check would add up */
    y = f(x, ctx);
    if (!y) {
        printf("%s:%d: FAILED: gradcheck %s: forward failed: %s\n", file, line, name, tl_last_error());
        th_checks_failed++;
        tl_scope_end(s);
        return 0;
    }
    m = tl_numel(y);
    wv = (double *)malloc(sizeof(double) * (size_t)(m > 0 ? m : 1));
    for (i = 0; i < m; i++) wv[i] = gk_u();
    w = tl_from_data(wv, tl_ndim(y), tl_shape(y), TL_F64);
    free(wv);
    L = tl_sum_all(tl_mul(tl_to_dtype(y, TL_F64), w));
    if (!L || tl_backward(L) != TL_OK) {
        printf("%s:%d: FAILED: gradcheck %s: backward failed: %s\n", file, line, name, tl_last_error());
        th_checks_failed++;
        tl_scope_end(s);
        return 0;
    }
    for (k = 0; k < n && ok; k++) {
        tl_tensor *g = tl_grad(x[k]);
        const double *gv = g ? (const double *)tl_data_ptr(tl_contiguous(g)) : NULL;
        double *p = (double *)tl_data_ptr(x[k]);
        int64_t nk = tl_numel(x[k]);
        if (!tl_requires_grad(x[k])) continue;
        for (i = 0; i < nk; i++) {
            double keep = p[i], lp, lm, num, ana;
            const double eps = 1e-6;
            p[i] = keep + eps;
            lp = gk_loss(f, ctx, n, x, w);
            p[i] = keep - eps;
            lm = gk_loss(f, ctx, n, x, w);
            p[i] = keep;
            num = (lp - lm) / (2 * eps);
            ana = gv ? gv[i] : 0.0;
            if (!(fabs(ana - num) <= tol * (1 + fabs(num)))) {
                printf("%s:%d: FAILED: gradcheck %s: input %d element %lld: analytic %.12g, numeric %.12g\n", file,
                       line, name, k, (long long)i, ana, num);
                ok = 0;
                break;
            }
        }
    }
    if (!ok) th_checks_failed++;
    tl_scope_end(s);
    return ok;
}
#define GK_CHECK(f, ctx, n, x, tol) gk_check(#f, (f), (ctx), (n), (x), (tol), __FILE__, __LINE__)

#endif /* TL_TEST_GRADCHECK_H */
