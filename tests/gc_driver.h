/* tests/gc_driver.h - the finite-difference gradient-check driver that tests/test_gradcheck.c (every
   differentiable op) and tests/test_functional.c (layers and losses) share. Include it after
   harness.h, with GC_SEED (the LCG's starting state) defined; then define the tolerance table
   (static const gc_tol gc_tols[] = {...}) and end with int main(void) { return GC_MAIN(gc_tols, tests); }.

   METHOD (gc_run). For an op f and leaf inputs x_k that require grad: y = f(x), w = a random
   weight of y's shape and dtype, L = sum(y * w); tl_backward(L) gives the analytic gradients
   x_k.grad. Each must exist with x_k's shape and dtype, and equal what tl_autograd_grad(y, x,
   grad_outputs = w) and tl_backward_ex(y, w, retain_graph = 1) give (both run first). Then for
   every element e of every input, L is recomputed under tl_no_grad_begin/end with x_k[e] set (tl_set
   on the leaf) to x_k[e] + eps and to x_k[e] - eps, and the central difference
       numeric = (L(+) - L(-)) / (x(+) - x(-))          (x(+-) read back with tl_get)
   must satisfy |analytic - numeric| <= atol + rtol * |numeric| with the op's row of the table.
   eps is GC_EPS = 1e-6, or the case's gc_ctx.eps. When y or an input is not float64, or the case
   sets eps (the exact 1/64-grid cases), w holds odd multiples of 1/16 so that y * w, the sum and a
   float32 gradient stay exact.

   INPUTS come from a deterministic LCG (gc_u01) through the generators G_*: U uniform, AWAY
   resampled until at least GC_MARGIN = 0.1 from each kink, PN |x| in [lo, hi] with a random sign,
   DIST pairwise distinct (a shuffled grid with jitter, gaps >= 0.7 * range / n), DISTABS distinct
   absolute values, PAR0 / PAR1 interleaved grids ((2r + parity) / 4 +- 0.025, so |a - b| >= 0.2
   for every pair), GRID multiples of 1/64, ZEROS. Leaves have a layout: LC contiguous, LT last
   two dims transposed, LS every other element of the last dim (offset 1), LP dims rotated by a
   permute; their base does not require grad. gc_set_exp makes gc_run expand an input (stride 0)
   before f sees it.

   A failing case prints op, label, input, element, analytic and numeric values, and fails its test.
   gc_summary() fails for a table row no case used. GC_TRACE=1 prints each case as it starts. */
#ifndef TL_TEST_GC_DRIVER_H
#define TL_TEST_GC_DRIVER_H

#ifndef TL_TEST_HARNESS_H
#error "include harness.h before gc_driver.h"
#endif
#ifndef GC_SEED
#error "define GC_SEED (the input stream's starting state) before including gc_driver.h"
#endif

#include <stdint.h>

#define F32 TL_F32
#define F64 TL_F64
#define GC_MAXIN 4
#define GC_EPS 1e-6
#define GC_MARGIN 0.1
#define GC_MAXTOLS 512

/* ===== tolerance table ========================================================================= */

/* A row of the including file's table: the op's tolerances and the input domain its cases use. */
typedef struct gc_tol {
    const char *op;
    double atol, rtol;
    const char *inputs; /* input domain (see the file's KINKS AND TIES) */
} gc_tol;

static const gc_tol *gc_tab; /* set by GC_MAIN */
static int gc_ntab;
static int gc_used[GC_MAXTOLS]; /* cases per row */
static int gc_ncases;
static long gc_nevals; /* forward evaluations for finite differences */
static char gc_msg[8192];

TH_FN int gc_find(const char *op) {
    int i;
    for (i = 0; i < gc_ntab; i++)
        if (strcmp(gc_tab[i].op, op) == 0) return i;
    return -1;
}
/* Fails for every row no case used; returns the number of rows used. */
TH_FN int gc_summary(void) {
    int i, nops = 0;
    for (i = 0; i < gc_ntab; i++) {
        if (gc_used[i]) nops++;
        else {
            snprintf(gc_msg, sizeof gc_msg, "tolerance-table op \"%s\" has no gradcheck case", gc_tab[i].op);
            th_check(0, gc_msg, __FILE__, __LINE__);
        }
    }
    CHECK_EQ_INT(nops, gc_ntab);
    return nops;
}

/* ===== deterministic inputs ==================================================================== */

static uint64_t gc_state = GC_SEED; /* each test file its own stream */
TH_FN double gc_u01(void) { /* 64-bit LCG (Knuth's MMIX constants), top 53 bits */
    gc_state = gc_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(gc_state >> 11) * (1.0 / 9007199254740992.0);
}
TH_FN int64_t gc_randint(int64_t n) { return (int64_t)(gc_u01() * (double)n) % n; }

enum { G_U, G_AWAY, G_PN, G_DIST, G_DISTABS, G_PAR0, G_PAR1, G_GRID, G_ZERO };
typedef struct gc_gen {
    int kind;
    double lo, hi;
    int nk;       /* G_AWAY: number of kinks (1 or 2) */
    double k[2];  /* G_AWAY: the kinks */
} gc_gen;
TH_FN gc_gen gc_g(int kind, double lo, double hi, int nk, double k0, double k1) {
    gc_gen g;
    g.kind = kind;
    g.lo = lo;
    g.hi = hi;
    g.nk = nk;
    g.k[0] = k0;
    g.k[1] = k1;
    return g;
}
#define U(lo, hi) gc_g(G_U, lo, hi, 0, 0, 0)
#define AWAY1(lo, hi, k0) gc_g(G_AWAY, lo, hi, 1, k0, 0)
#define AWAY2(lo, hi, k0, k1) gc_g(G_AWAY, lo, hi, 2, k0, k1)
#define PN(lo, hi) gc_g(G_PN, lo, hi, 0, 0, 0)
#define DIST(lo, hi) gc_g(G_DIST, lo, hi, 0, 0, 0)
#define DISTABS(lo, hi) gc_g(G_DISTABS, lo, hi, 0, 0, 0)
#define PAR0 gc_g(G_PAR0, 0, 0, 0, 0, 0)
#define PAR1 gc_g(G_PAR1, 0, 0, 0, 0, 0)
#define GRID gc_g(G_GRID, 0, 0, 0, 0, 0)
#define ZEROS gc_g(G_ZERO, 0, 0, 0, 0, 0)

#define GC_MAXEL 4096
TH_FN void gc_values(gc_gen g, int64_t n, double *v) {
    static int64_t perm[GC_MAXEL];
    int64_t i;
    if (g.kind == G_DIST || g.kind == G_DISTABS) {
        for (i = 0; i < n; i++) perm[i] = i;
        for (i = n - 1; i > 0; i--) { /* Fisher-Yates */
            int64_t j = gc_randint(i + 1), tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
    }
    for (i = 0; i < n; i++) {
        double u = gc_u01();
        switch (g.kind) {
        case G_U: v[i] = g.lo + (g.hi - g.lo) * u; break;
        case G_AWAY: {
            int ok;
            do {
                v[i] = g.lo + (g.hi - g.lo) * gc_u01();
                ok = fabs(v[i] - g.k[0]) >= GC_MARGIN && (g.nk < 2 || fabs(v[i] - g.k[1]) >= GC_MARGIN);
            } while (!ok);
            break;
        }
        case G_PN: v[i] = (g.lo + (g.hi - g.lo) * u) * (gc_u01() < 0.5 ? -1.0 : 1.0); break;
        case G_DIST:
        case G_DISTABS:
            v[i] = g.lo + (g.hi - g.lo) * ((double)perm[i] + 0.5 + 0.3 * (u - 0.5)) / (double)n;
            if (g.kind == G_DISTABS && gc_u01() < 0.5) v[i] = -v[i];
            break;
        case G_PAR0:
        case G_PAR1:
            v[i] = (double)(2 * (gc_randint(6) - 3) + (g.kind == G_PAR1)) * 0.25 + 0.05 * (u - 0.5);
            break;
        case G_GRID: v[i] = (double)(gc_randint(193) - 96) / 64.0; break; /* k / 64, |k| <= 96 */
        default: v[i] = 0.0; break; /* G_ZERO */
        }
    }
}

/* Next multi-index in C order; 0 after the last one. */
TH_FN int gc_next(int nd, const int64_t *shape, int64_t *idx) {
    int d;
    for (d = nd - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) return 1;
        idx[d] = 0;
    }
    return 0;
}
TH_FN void gc_fmt_idx(char *buf, size_t cap, int nd, const int64_t *idx) {
    size_t n = 0;
    int d;
    n += (size_t)snprintf(buf + n, cap - n, "(");
    for (d = 0; d < nd && n < cap; d++) n += (size_t)snprintf(buf + n, cap - n, d ? ",%lld" : "%lld", (long long)idx[d]);
    if (n < cap) snprintf(buf + n, cap - n, ")");
}

/* Writes values from g into t (any view) in C order. */
TH_FN void gc_fill(tl_tensor *t, gc_gen g) {
    static double v[GC_MAXEL];
    int64_t idx[TL_MAX_DIMS] = {0}, n = tl_numel(t), i = 0;
    if (n <= 0 || n > GC_MAXEL) return;
    gc_values(g, n, v);
    do {
        tl_set(t, idx, v[i++]);
    } while (gc_next(tl_ndim(t), tl_shape(t), idx));
}

/* Leaf layouts: LC contiguous, LT last two dims transposed, LS every other element of the last dim
   (offset 1), LP dims rotated (t = base.permute(1, 2, ..., 0): no dim has stride 1 where C order
   would put it). */
enum { LC, LT, LS, LP };
TH_FN tl_tensor *gc_view_of_zeros(int layout, tl_dtype dt, int nd, const int64_t *shape) {
    int64_t bs[TL_MAX_DIMS];
    if (nd > 0) memcpy(bs, shape, sizeof(int64_t) * (size_t)nd);
    if (layout == LT && nd >= 2) {
        int64_t tmp = bs[nd - 1];
        bs[nd - 1] = bs[nd - 2];
        bs[nd - 2] = tmp;
        return tl_transpose(tl_zeros(nd, bs, dt), -1, -2);
    }
    if (layout == LP && nd >= 2) {
        int p[TL_MAX_DIMS], i;
        for (i = 0; i < nd; i++) {
            p[i] = (i + 1) % nd;
            bs[i] = shape[(i - 1 + nd) % nd];
        }
        return tl_permute(tl_zeros(nd, bs, dt), nd, p);
    }
    if (layout == LS && nd >= 1) {
        bs[nd - 1] = 2 * shape[nd - 1] + 1;
        return tl_slice(tl_zeros(nd, bs, dt), -1, 1, TL_END, 2);
    }
    return tl_zeros(nd, nd ? shape : bs, dt);
}
/* A leaf that requires grad, of the given layout and dtype, filled from g in C order. */
TH_FN tl_tensor *gc_leaf_dt(int layout, gc_gen g, tl_dtype dt, int nd, const int64_t *shape) {
    tl_tensor *t = gc_view_of_zeros(layout, dt, nd, shape);
    if (!t) return NULL;
    gc_fill(t, g);
    tl_requires_grad_(t, 1);
    return t;
}
#define LEAF(layout, gen, ...) gc_leaf_dt(layout, gen, F64, TL_SHAPE(__VA_ARGS__))
#define LEAF32(layout, gen, ...) gc_leaf_dt(layout, gen, F32, TL_SHAPE(__VA_ARGS__))
#define LEAF0(gen) gc_leaf_dt(LC, gen, F64, 0, NULL)

/* A float64 tensor that does not require grad (weights, pos_weight, hard targets). */
TH_FN tl_tensor *gc_const(int layout, gc_gen g, int nd, const int64_t *shape) {
    tl_tensor *t = gc_view_of_zeros(layout, TL_F64, nd, shape);
    if (t) gc_fill(t, g);
    return t;
}
#define CONST(layout, gen, ...) gc_const(layout, gen, TL_SHAPE(__VA_ARGS__))

/* A leaf shaped like base (same shape, given layout) holding base + d, d drawn from g: inputs at a
   controlled distance from a target. */
TH_FN tl_tensor *gc_leaf_rel(int layout, gc_gen g, const tl_tensor *base) {
    static double d[GC_MAXEL];
    int64_t idx[TL_MAX_DIMS] = {0}, i = 0, n;
    tl_tensor *t;
    if (!base) return NULL;
    n = tl_numel(base);
    t = gc_view_of_zeros(layout, TL_F64, tl_ndim(base), tl_shape(base));
    if (!t || n > GC_MAXEL) return t;
    gc_values(g, n, d);
    do {
        tl_set(t, idx, tl_get(base, idx) + d[i++]);
    } while (gc_next(tl_ndim(t), tl_shape(t), idx));
    tl_requires_grad_(t, 1);
    return t;
}

/* int64 class indices: contiguous, or (stepped = 1) every other element of a longer tensor. */
TH_FN tl_tensor *gc_targets(int stepped, int nd, const int64_t *shape, const int64_t *vals) {
    if (!stepped || nd != 1) return tl_from_data(vals, nd, shape, TL_I64);
    {
        int64_t buf[64], i, n = shape[0];
        for (i = 0; i < 2 * n + 1; i++) buf[i] = 777; /* never read: odd positions hold the values */
        for (i = 0; i < n; i++) buf[2 * i + 1] = vals[i];
        return tl_slice(tl_from_data(buf, TL_SHAPE(2 * n + 1), TL_I64), 0, 1, TL_END, 2);
    }
}
#define TARGETS(stepped, n, ...) gc_targets(stepped, TL_SHAPE(n), (const int64_t[]){__VA_ARGS__})

/* A tensor of given values (int64 indices, bool masks): no grad. */
TH_FN tl_tensor *gc_i64(int nd, const int64_t *shape, const int64_t *vals) {
    return tl_from_data(vals, nd, shape, TL_I64);
}
TH_FN tl_tensor *gc_mask(int nd, const int64_t *shape) { /* bool: 1, 0, random, 1, 0, random, ... */
    tl_tensor *m = tl_zeros(nd, shape, TL_BOOL);
    int64_t idx[TL_MAX_DIMS] = {0}, i = 0;
    if (!m) return NULL;
    do {
        tl_set(m, idx, i % 3 == 0 ? 1.0 : i % 3 == 1 ? 0.0 : (gc_u01() < 0.5 ? 1.0 : 0.0));
        i++;
    } while (gc_next(nd, shape, idx));
    return m;
}

/* ===== the check =============================================================================== */

/* Parameters of one case; a zeroed gc_ctx means none. exp_nd[k] > 0 expands input k to
   exp_shape[k] before f sees it. */
typedef struct gc_ctx {
    /* tests/test_gradcheck.c: dims, scalars, indices, shapes, a mask or condition */
    int dim, dim2, keepdim, unbiased;
    double s, s2;
    int64_t i0, i1, i2;
    int nd;
    int64_t shape[TL_MAX_DIMS];
    int nds;
    int dims[TL_MAX_DIMS];
    const tl_tensor *aux;
    /* tests/test_functional.c: layer options, loss parameters and the tensors torch does not
       differentiate */
    tl_conv2d_opts conv;
    tl_pool2d_opts pool;
    tl_reduction red;
    int64_t ignore;
    double beta;
    const tl_tensor *target; /* class indices, hard labels */
    const tl_tensor *weight; /* class weights, pos_weight */
    /* both */
    double eps; /* > 0: this step instead of GC_EPS (the exact-grid cases) */
    int exp_nd[GC_MAXIN];
    int64_t exp_shape[GC_MAXIN][TL_MAX_DIMS];
} gc_ctx;
typedef tl_tensor *(*gc_fn)(tl_tensor *const *x, const gc_ctx *c);
static const gc_ctx gc_noctx;

TH_FN tl_tensor *gc_eval(gc_fn f, const gc_ctx *c, int n, tl_tensor *const *x) {
    tl_tensor *xe[GC_MAXIN];
    int k;
    for (k = 0; k < n; k++) xe[k] = c->exp_nd[k] > 0 ? tl_expand(x[k], c->exp_nd[k], c->exp_shape[k]) : x[k];
    return f(xe, c);
}
TH_FN double gc_loss(gc_fn f, const gc_ctx *c, int n, tl_tensor *const *x, const tl_tensor *w) {
    double L = NAN;
    tl_scope s = tl_scope_begin();
    tl_tensor *y;
    gc_nevals++;
    tl_no_grad_begin();
    y = gc_eval(f, c, n, x);
    if (y) L = tl_item(tl_sum_all(tl_mul(y, w)));
    tl_no_grad_end();
    tl_scope_end(s);
    return L;
}
TH_FN tl_tensor *gc_weight(const tl_tensor *y, int exact) {
    tl_tensor *w = tl_zeros(tl_ndim(y), tl_shape(y), tl_dtype_of(y));
    if (!w) return NULL;
    /* U(-1,1); or, when y or an input is not float64, odd multiples of 1/16 so that y * w, the sum,
       and the float32 gradient stay exact */
    if (!exact) gc_fill(w, U(-1, 1));
    else {
        int64_t idx[TL_MAX_DIMS] = {0};
        do {
            tl_set(w, idx, (double)(gc_randint(16) - 8) / 8.0 + 0.0625);
        } while (gc_next(tl_ndim(w), tl_shape(w), idx));
    }
    return w;
}
TH_FN int gc_same_shape(const tl_tensor *a, const tl_tensor *b) {
    return tl_ndim(a) == tl_ndim(b) &&
           (tl_ndim(a) == 0 || memcmp(tl_shape(a), tl_shape(b), sizeof(int64_t) * (size_t)tl_ndim(a)) == 0);
}

/* a and b have the same shape and values (to 1e-12 relative) */
TH_FN int gc_same_values(const tl_tensor *a, const tl_tensor *b) {
    int64_t idx[TL_MAX_DIMS] = {0};
    if (!gc_same_shape(a, b)) return 0;
    do {
        double u = tl_get(a, idx), v = tl_get(b, idx);
        if (!(fabs(u - v) <= 1e-12 * (1 + fabs(u)))) return 0;
    } while (gc_next(tl_ndim(a), tl_shape(a), idx));
    return 1;
}

static int gc_trace; /* GC_TRACE=1 in the environment: print each case before it runs */
static int gc_quiet; /* self test: failures are expected, count and print nothing */
#define GC_FAIL(line, ...)                                                                         \
    do {                                                                                           \
        snprintf(gc_msg, sizeof gc_msg, __VA_ARGS__);                                              \
        if (!gc_quiet) th_check(0, gc_msg, __FILE__, line);                                        \
        ok = 0;                                                                                    \
    } while (0)

TH_FN int gc_run(const char *op, const char *label, gc_fn f, const gc_ctx *c, int n, tl_tensor *const *x,
                  int line) {
    int ti = gc_find(op), k, ok = 1;
    double atol, rtol, eps;
    tl_scope s;
    tl_tensor *y, *w, *L, *g[GC_MAXIN], *g1[GC_MAXIN], *g2[GC_MAXIN];
    if (!c) c = &gc_noctx;
    gc_ncases++;
    if (gc_trace) {
        printf("   case %s [%s]\n", op, label);
        fflush(stdout);
    }
    if (ti < 0) {
        GC_FAIL(line, "gradcheck %s [%s]: op missing from the tolerance table", op, label);
        return 0;
    }
    gc_used[ti]++;
    atol = gc_tab[ti].atol;
    rtol = gc_tab[ti].rtol;
    eps = c->eps > 0 ? c->eps : GC_EPS;
    for (k = 0; k < n; k++) {
        g[k] = g1[k] = g2[k] = NULL;
        if (!x[k]) {
            GC_FAIL(line, "gradcheck %s [%s]: input %d could not be made: %s", op, label, k, tl_last_error());
            tl_clear_error();
            return 0;
        }
        tl_set_grad(x[k], NULL);
    }
    s = tl_scope_begin();
    y = gc_eval(f, c, n, x);
    if (!y) {
        GC_FAIL(line, "gradcheck %s [%s]: forward failed: %s", op, label, tl_last_error());
        tl_clear_error();
        goto done;
    }
    if (!tl_requires_grad(y)) GC_FAIL(line, "gradcheck %s [%s]: the output does not require grad", op, label);
    {
        int exact = tl_dtype_of(y) != F64 || c->eps > 0; /* eps > 0: the exact-grid cases */
        for (k = 0; k < n; k++) exact |= tl_dtype_of(x[k]) != F64;
        w = gc_weight(y, exact);
    }
    /* 1. torch.autograd.grad(y, x, w, retain_graph=True): no .grad touched */
    if (tl_autograd_grad(1, &y, n, x, &w, 1, g2) != TL_OK) {
        GC_FAIL(line, "gradcheck %s [%s]: tl_autograd_grad failed: %s", op, label, tl_last_error());
        tl_clear_error();
    }
    /* 2. y.backward(w, retain_graph=True): .grad, kept in g1, then cleared */
    if (tl_backward_ex(y, w, 1) != TL_OK) {
        GC_FAIL(line, "gradcheck %s [%s]: tl_backward_ex(y, w) failed: %s", op, label, tl_last_error());
        tl_clear_error();
    }
    for (k = 0; k < n; k++) {
        g1[k] = tl_grad(x[k]);
        tl_set_grad(x[k], NULL);
    }
    /* 3. L = sum(y * w); L.backward(): the gradients checked below */
    L = tl_sum_all(tl_mul(y, w));
    if (!L || tl_backward(L) != TL_OK) {
        GC_FAIL(line, "gradcheck %s [%s]: backward failed: %s", op, label, tl_last_error());
        tl_clear_error();
        goto done;
    }
    for (k = 0; k < n; k++) {
        g[k] = tl_grad(x[k]);
        if (!g[k]) {
            GC_FAIL(line, "gradcheck %s [%s]: input %d has no .grad after backward (torch gives one)", op, label, k);
            continue;
        }
        if (!gc_same_shape(g[k], x[k]) || tl_dtype_of(g[k]) != tl_dtype_of(x[k])) {
            char gs[128], xs[128];
            gc_fmt_idx(gs, sizeof gs, tl_ndim(g[k]), tl_shape(g[k]));
            gc_fmt_idx(xs, sizeof xs, tl_ndim(x[k]), tl_shape(x[k]));
            GC_FAIL(line, "gradcheck %s [%s]: grad %d is %s %s, input is %s %s", op, label, k,
                    tl_dtype_name(tl_dtype_of(g[k])), gs, tl_dtype_name(tl_dtype_of(x[k])), xs);
            g[k] = NULL;
            continue;
        }
        if (g2[k] && !gc_same_values(g[k], g2[k]))
            GC_FAIL(line, "gradcheck %s [%s]: tl_autograd_grad differs from .grad for input %d", op, label, k);
        if (g1[k] && !gc_same_values(g[k], g1[k]))
            GC_FAIL(line, "gradcheck %s [%s]: tl_backward_ex(y, w) differs from sum(y*w).backward() for input %d",
                    op, label, k);
    }
    for (k = 0; k < n; k++) { /* finite differences */
        int64_t idx[TL_MAX_DIMS] = {0}, nbad = 0;
        tl_tensor *xk = x[k];
        do {
            double a = g[k] ? tl_get(g[k], idx) : 0.0, orig = tl_get(xk, idx), xp, xm, lp, lm, num;
            tl_set(xk, idx, orig + eps);
            xp = tl_get(xk, idx);
            lp = gc_loss(f, c, n, x, w);
            tl_set(xk, idx, orig - eps);
            xm = tl_get(xk, idx);
            lm = gc_loss(f, c, n, x, w);
            tl_set(xk, idx, orig);
            num = (lp - lm) / (xp - xm);
            if (!(fabs(a - num) <= atol + rtol * fabs(num))) {
                if (++nbad <= 3 && !gc_quiet) {
                    char is[128];
                    gc_fmt_idx(is, sizeof is, tl_ndim(xk), idx);
                    printf("  gradcheck %s [%s] input %d at %s (x = %.6g): analytic %.12g, numeric %.12g\n", op,
                           label, k, is, orig, a, num);
                }
            }
        } while (gc_next(tl_ndim(xk), tl_shape(xk), idx));
        if (nbad)
            GC_FAIL(line, "gradcheck %s [%s]: input %d: %lld of %lld elements differ from finite differences "
                    "(atol %g, rtol %g)", op, label, k, (long long)nbad, (long long)tl_numel(xk), atol, rtol);
    }
done:
    tl_scope_end(s);
    if (tl_last_status() != TL_OK) {
        GC_FAIL(line, "gradcheck %s [%s]: error left pending: %s", op, label, tl_last_error());
        tl_clear_error();
    }
    if (ok && !gc_quiet) th_check(1, "", __FILE__, line);
    return ok;
}

#define GC_NARGS(...) (int)(sizeof((tl_tensor *[]){__VA_ARGS__}) / sizeof(tl_tensor *))
#define GC(op, label, f, c, ...) gc_run(op, label, f, c, GC_NARGS(__VA_ARGS__), (tl_tensor *const[]){__VA_ARGS__}, __LINE__)
#define GC_F(name, expr)                                                                           \
    static tl_tensor *name(tl_tensor *const *x, const gc_ctx *c) {                                 \
        (void)c;                                                                                   \
        return (expr);                                                                             \
    }

TH_FN gc_ctx gc_c(void) {
    gc_ctx c;
    memset(&c, 0, sizeof c);
    return c;
}
TH_FN void gc_set_exp(gc_ctx *c, int k, int nd, const int64_t *shape) {
    c->exp_nd[k] = nd;
    memcpy(c->exp_shape[k], shape, sizeof(int64_t) * (size_t)nd);
}

/* Runs the cases against the tolerance table tols (GC_TRACE from the environment). */
TH_FN int gc_main(const gc_tol *tols, int ntols, const th_case *cases, int ncases) {
    const char *tr = getenv("GC_TRACE");
    if (ntols > GC_MAXTOLS) {
        printf("gc_driver.h: %d tolerance rows, more than GC_MAXTOLS (%d)\n", ntols, GC_MAXTOLS);
        return 1;
    }
    gc_tab = tols;
    gc_ntab = ntols;
    gc_trace = tr && tr[0] && tr[0] != '0';
    return th_run(cases, ncases);
}
#define GC_MAIN(tols, cases)                                                                       \
    gc_main((tols), (int)(sizeof(tols) / sizeof((tols)[0])), (cases), (int)(sizeof(cases) / sizeof((cases)[0])))

#endif
