/* tests/test_functional.c - the >>functional section: finite-difference gradient checks in float64
   of tl_linear, tl_conv2d, tl_max_pool2d, tl_avg_pool2d and every loss with every reduction (and
   tl_cross_entropy_ex's probability targets and label smoothing), direct (naive loop) references
   for their forward values in float32 and float64 and for max_pool2d's indices, torch's values at
   special inputs (cross_entropy with everything ignored, NaN in a pooling window, bce at p = 0/1),
   and bad input (status, a message that starts with the op's name and shows the shapes, no leak;
   the harness counts live tensors after every test). tests/torch/test_functional.py compares the
   same ops with PyTorch itself.

   METHOD (gc_run in tests/gc_driver.h, shared with tests/test_gradcheck.c). For an op f and leaf inputs x_k that require
   grad: y = f(x), w = a random weight of y's shape, L = sum(y * w); tl_backward(L) gives x_k.grad,
   which must have x_k's shape and dtype and equal what tl_autograd_grad(y, x, w) and
   tl_backward_ex(y, w, retain_graph = 1) give. Then for every element e of every input, L is
   recomputed under no_grad with x_k[e] +- eps (eps = 1e-6) and the central difference
       numeric = (L(+) - L(-)) / (x(+) - x(-))
   must satisfy |analytic - numeric| <= atol + rtol * |numeric| with the op's row of gc_tols.
   Tensors that torch never differentiates (class-index targets, nll/cross_entropy weights,
   bce_with_logits pos_weight, which torch 1.13 refuses to differentiate) are passed through the
   case context and do not require grad.

   INPUTS come from a deterministic LCG. Non-contiguous leaves are views of a base that does not
   require grad: LT (last two dims transposed), LS (every other element of the last dim, offset 1),
   LP (dims rotated by a permute). Expanded inputs are small leaves expanded (stride 0) by gc_run.

   KINKS AND TIES. max_pool2d inputs are pairwise distinct (G_DIST: gaps >= 0.7 * range / n, far
   above eps), so no window has a tie and x +- eps never changes a window's argmax. l1_loss (and
   smooth_l1 with beta 0) gets |input - target| >= 0.1 (kink at 0); smooth_l1 with beta > 0 gets
   ||input - target| - beta| >= 0.1 (its second derivative jumps there). bce inputs are in
   [0.05, 0.95] (log is smooth there; the clamp at -100 is never active). Everything else is smooth.
   bce_with_logits is also checked at logits that are exactly 0: the loss is smooth there (its
   derivative is sigmoid(0) - y scaled by the pos_weight factor), only its max/abs formulation has
   kinks at 0, so the finite difference is accurate and the analytic gradient must match it.

   Disagreements with PyTorch 1.13 (/usr/bin/python3) are written up in wip/bugs_functional.md;
   their cases stay here. The last test prints how many cases ran and fails if a row of the
   tolerance table was never exercised. GC_TRACE=1 prints each case as it starts. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include "harness.h"
#define GC_SEED 0x2545f4914f6cdd1dULL /* this file's input stream */
#include "gc_driver.h"                 /* gc_run, the generators and leaf layouts */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ===== tolerance table ========================================================================= */

/* Smooth (or piecewise linear, away from the pieces' borders) ops. The loss L sums at most a few
   hundred products of values below 10, so its rounding error is below 1e-13 and the central
   difference's, divided by 2e-6, below 1e-7 (the truncation error is ~eps^2 * f''' ~ 1e-10). */
#define SM 1e-7, 1e-6

static const gc_tol gc_tols[] = {
    {"linear", SM, "U(-1,1)"},
    {"conv2d", SM, "U(-1,1)"},
    {"max_pool2d", SM, "G_DIST(-2,2): pairwise distinct, no ties in any window"},
    {"avg_pool2d", SM, "U(-2,2)"},
    {"nll_loss", SM, "log-probabilities U(-3,0); int64 targets; weights U(0.2,2)"},
    {"cross_entropy", SM, "logits U(-3,3); int64 targets; weights U(0.2,2)"},
    {"cross_entropy_ex", SM, "logits U(-3,3); probability targets (softmax of U(-2,2)) or int64; label smoothing"},
    {"mse_loss", SM, "U(-2,2) both"},
    {"l1_loss", SM, "target U(-2,2), input = target + d, |d| in [0.1,2]"},
    {"smooth_l1_loss", SM, "target U(-2,2), input = target + d, ||d| - beta| >= 0.1 (|d| >= 0.1 for beta 0)"},
    {"bce_loss", SM, "input U(0.05,0.95); target U(0,1) (grad) or exactly 0/1 (no grad)"},
    {"bce_with_logits", SM, "logits U(-4,4) or exact zeros; target U(0,1); pos_weight U(0.25,3)"},
    {"self_test", SM, "conv2d with a hook that doubles the gradient: the check must notice"},
};

/* ===== the functions under test ================================================================ */

GC_F(f_linear, tl_linear(x[0], x[1], NULL))
GC_F(f_linear_b, tl_linear(x[0], x[1], x[2]))
GC_F(f_conv, tl_conv2d(x[0], x[1], NULL, &c->conv))
GC_F(f_conv_b, tl_conv2d(x[0], x[1], x[2], &c->conv))
GC_F(f_conv_nullopts, tl_conv2d(x[0], x[1], x[2], NULL))
GC_F(f_maxpool, tl_max_pool2d(x[0], &c->pool, NULL))
GC_F(f_avgpool, tl_avg_pool2d(x[0], &c->pool))
GC_F(f_nll, tl_nll_loss(x[0], c->target, c->weight, c->ignore, c->red))
GC_F(f_ce, tl_cross_entropy(x[0], c->target, c->weight, c->ignore, c->red))
GC_F(f_mse, tl_mse_loss(x[0], x[1], c->red))
/* tl_cross_entropy_ex: probabilities in x[1] (they require grad) or class indices in c->target;
   label smoothing in c->beta */
static tl_tensor *f_ce_ex(tl_tensor *const *x, const gc_ctx *c) {
    tl_ce_opts o = tl_ce_opts_default();
    o.weight = c->weight;
    o.ignore_index = c->ignore;
    o.reduction = c->red;
    o.label_smoothing = c->beta;
    return tl_cross_entropy_ex(x[0], c->target ? c->target : x[1], &o);
}
GC_F(f_mse_t, tl_mse_loss(x[0], c->target, c->red))
GC_F(f_l1, tl_l1_loss(x[0], x[1], c->red))
GC_F(f_smooth_l1, tl_smooth_l1_loss(x[0], x[1], c->beta, c->red))
GC_F(f_bce, tl_bce_loss(x[0], x[1], c->red))
GC_F(f_bce_t, tl_bce_loss(x[0], c->target, c->red))
GC_F(f_bcel, tl_bce_with_logits(x[0], x[1], c->weight, c->red))
GC_F(f_bcel_t, tl_bce_with_logits(x[0], c->target, c->weight, c->red))

/* max_pool2d that also asks for the indices (they belong to the scope) */
static tl_tensor *f_maxpool_idx(tl_tensor *const *x, const gc_ctx *c) {
    tl_tensor *i = NULL;
    return tl_max_pool2d(x[0], &c->pool, &i);
}

static const char *red_name(tl_reduction r) {
    return r == TL_REDUCTION_MEAN ? "mean" : r == TL_REDUCTION_SUM ? "sum" : "none";
}

/* ===== linear ================================================================================== */

TEST(fn_linear) {
    tl_scope sc = tl_scope_begin();
    gc_gen g = U(-1, 1);
    gc_ctx c = gc_c();
    GC("linear", "2-D [3,4] w [5,4] b [5]", f_linear_b, NULL, LEAF(LC, g, 3, 4), LEAF(LC, g, 5, 4), LEAF(LC, g, 5));
    GC("linear", "2-D [3,4] w [5,4] no bias", f_linear, NULL, LEAF(LC, g, 3, 4), LEAF(LC, g, 5, 4));
    GC("linear", "1-D [4] w [5,4] b [5]", f_linear_b, NULL, LEAF(LC, g, 4), LEAF(LC, g, 5, 4), LEAF(LC, g, 5));
    GC("linear", "1-D [4] w [5,4] no bias", f_linear, NULL, LEAF(LC, g, 4), LEAF(LC, g, 5, 4));
    GC("linear", "3-D [2,3,4] w [5,4] b [5]", f_linear_b, NULL, LEAF(LC, g, 2, 3, 4), LEAF(LC, g, 5, 4),
       LEAF(LC, g, 5));
    GC("linear", "3-D [2,3,4] w [5,4] no bias", f_linear, NULL, LEAF(LC, g, 2, 3, 4), LEAF(LC, g, 5, 4));
    GC("linear", "4-D [2,1,3,4] w [2,4] b [2]", f_linear_b, NULL, LEAF(LC, g, 2, 1, 3, 4), LEAF(LC, g, 2, 4),
       LEAF(LC, g, 2));
    GC("linear", "transposed x [3,4], transposed w [5,4], stepped b", f_linear_b, NULL, LEAF(LT, g, 3, 4),
       LEAF(LT, g, 5, 4), LEAF(LS, g, 5));
    GC("linear", "stepped x [3,4], rotated w [5,4]", f_linear_b, NULL, LEAF(LS, g, 3, 4), LEAF(LP, g, 5, 4),
       LEAF(LC, g, 5));
    GC("linear", "rotated 3-D x [2,3,4], transposed w", f_linear, NULL, LEAF(LP, g, 2, 3, 4), LEAF(LT, g, 5, 4));
    GC("linear", "stepped 1-D x [4], stepped w", f_linear_b, NULL, LEAF(LS, g, 4), LEAF(LS, g, 3, 4), LEAF(LC, g, 3));
    GC("linear", "in 1, out 1: [3,1] w [1,1] b [1]", f_linear_b, NULL, LEAF(LC, g, 3, 1), LEAF(LC, g, 1, 1),
       LEAF(LC, g, 1));
    GC("linear", "longer [2,37] w [3,37]", f_linear_b, NULL, LEAF(LC, g, 2, 37), LEAF(LC, g, 3, 37), LEAF(LC, g, 3));
    gc_set_exp(&c, 2, TL_SHAPE(5));
    GC("linear", "expanded bias [1]->[5]", f_linear_b, &c, LEAF(LC, g, 3, 4), LEAF(LC, g, 5, 4), LEAF(LC, g, 1));
    c = gc_c();
    gc_set_exp(&c, 0, TL_SHAPE(3, 4));
    GC("linear", "expanded x [1,4]->[3,4]", f_linear_b, &c, LEAF(LC, g, 1, 4), LEAF(LC, g, 5, 4), LEAF(LC, g, 5));
    tl_scope_end(sc);
}

/* ===== conv2d ================================================================================== */

static tl_conv2d_opts conv_o(int sh, int sw, int ph, int pw, int dh, int dw, int groups) {
    tl_conv2d_opts o;
    memset(&o, 0, sizeof o);
    o.stride[0] = sh;
    o.stride[1] = sw;
    o.padding[0] = ph;
    o.padding[1] = pw;
    o.dilation[0] = dh;
    o.dilation[1] = dw;
    o.groups = groups;
    return o;
}
static tl_conv2d_opts conv_same(int dh, int dw) {
    tl_conv2d_opts o = conv_o(1, 1, 0, 0, dh, dw, 1);
    o.padding_same = 1;
    return o;
}

TEST(fn_conv2d_basic) {
    tl_scope sc = tl_scope_begin();
    gc_gen g = U(-1, 1);
    gc_ctx c = gc_c(); /* zeroed options: torch's defaults */
    GC("conv2d", "[1,2,5,5] w [3,2,3,3] b [3], default opts", f_conv_b, &c, LEAF(LC, g, 1, 2, 5, 5),
       LEAF(LC, g, 3, 2, 3, 3), LEAF(LC, g, 3));
    GC("conv2d", "[1,2,5,5] w [3,2,3,3] b [3], NULL opts", f_conv_nullopts, &c, LEAF(LC, g, 1, 2, 5, 5),
       LEAF(LC, g, 3, 2, 3, 3), LEAF(LC, g, 3));
    GC("conv2d", "[2,3,5,6] w [2,3,2,3], bias NULL", f_conv, &c, LEAF(LC, g, 2, 3, 5, 6), LEAF(LC, g, 2, 3, 2, 3));
    c.conv = conv_o(1, 1, 0, 0, 1, 1, 1); /* explicit ones: same as zeroed */
    GC("conv2d", "batch 3 [3,2,4,4] w [4,2,3,3] b, explicit stride/dilation 1", f_conv_b, &c,
       LEAF(LC, g, 3, 2, 4, 4), LEAF(LC, g, 4, 2, 3, 3), LEAF(LC, g, 4));
    tl_scope_end(sc);
}

TEST(fn_conv2d_stride_padding_dilation) {
    tl_scope sc = tl_scope_begin();
    gc_gen g = U(-1, 1);
    gc_ctx c = gc_c();
    c.conv = conv_o(2, 2, 0, 0, 0, 0, 0);
    GC("conv2d", "stride 2 [2,2,6,7] w [3,2,3,3] b", f_conv_b, &c, LEAF(LC, g, 2, 2, 6, 7), LEAF(LC, g, 3, 2, 3, 3),
       LEAF(LC, g, 3));
    c.conv = conv_o(2, 1, 1, 2, 0, 0, 0);
    GC("conv2d", "stride (2,1) padding (1,2) [1,2,5,6] w [2,2,3,3]", f_conv_b, &c, LEAF(LC, g, 1, 2, 5, 6),
       LEAF(LC, g, 2, 2, 3, 3), LEAF(LC, g, 2));
    c.conv = conv_o(1, 1, 1, 1, 0, 0, 0);
    GC("conv2d", "padding 1 [2,2,4,4] w [3,2,3,3]", f_conv_b, &c, LEAF(LC, g, 2, 2, 4, 4), LEAF(LC, g, 3, 2, 3, 3),
       LEAF(LC, g, 3));
    c.conv = conv_o(1, 1, 2, 2, 2, 2, 0);
    GC("conv2d", "dilation 2 padding 2 [1,2,6,6] w [2,2,3,3]", f_conv_b, &c, LEAF(LC, g, 1, 2, 6, 6),
       LEAF(LC, g, 2, 2, 3, 3), LEAF(LC, g, 2));
    c.conv = conv_o(1, 2, 1, 0, 2, 1, 0);
    GC("conv2d", "dilation (2,1) stride (1,2) padding (1,0) [2,1,7,6] w [2,1,3,2]", f_conv_b, &c,
       LEAF(LC, g, 2, 1, 7, 6), LEAF(LC, g, 2, 1, 3, 2), LEAF(LC, g, 2));
    c.conv = conv_o(3, 2, 2, 1, 1, 3, 0);
    GC("conv2d", "stride (3,2) padding (2,1) dilation (1,3) [1,2,7,9] w [3,2,2,3]", f_conv, &c,
       LEAF(LC, g, 1, 2, 7, 9), LEAF(LC, g, 3, 2, 2, 3));
    c.conv = conv_o(2, 2, 3, 3, 0, 0, 0);
    GC("conv2d", "padding wider than the image reach (3) stride 2 [1,1,3,3] w [1,1,2,2]", f_conv_b, &c,
       LEAF(LC, g, 1, 1, 3, 3), LEAF(LC, g, 1, 1, 2, 2), LEAF(LC, g, 1));
    c.conv = conv_o(4, 4, 0, 0, 0, 0, 0);
    GC("conv2d", "stride 4 > kernel 2 (skipped pixels) [1,2,9,9] w [2,2,2,2]", f_conv_b, &c, LEAF(LC, g, 1, 2, 9, 9),
       LEAF(LC, g, 2, 2, 2, 2), LEAF(LC, g, 2));
    tl_scope_end(sc);
}

TEST(fn_conv2d_groups) {
    tl_scope sc = tl_scope_begin();
    gc_gen g = U(-1, 1);
    gc_ctx c = gc_c();
    c.conv = conv_o(0, 0, 1, 1, 0, 0, 2);
    GC("conv2d", "groups 2 [2,4,5,5] w [6,2,3,3] b [6] padding 1", f_conv_b, &c, LEAF(LC, g, 2, 4, 5, 5),
       LEAF(LC, g, 6, 2, 3, 3), LEAF(LC, g, 6));
    c.conv = conv_o(0, 0, 1, 1, 0, 0, 4);
    GC("conv2d", "depthwise groups 4 [1,4,5,5] w [4,1,3,3]", f_conv_b, &c, LEAF(LC, g, 1, 4, 5, 5),
       LEAF(LC, g, 4, 1, 3, 3), LEAF(LC, g, 4));
    c.conv = conv_o(2, 1, 0, 1, 1, 2, 4);
    GC("conv2d", "depthwise x2 groups 4 [2,4,5,6] w [8,1,2,2] stride (2,1) dilation (1,2)", f_conv_b, &c,
       LEAF(LC, g, 2, 4, 5, 6), LEAF(LC, g, 8, 1, 2, 2), LEAF(LC, g, 8));
    c.conv = conv_o(1, 1, 0, 0, 0, 0, 3);
    GC("conv2d", "groups 3 [1,6,4,4] w [3,2,3,3] no bias", f_conv, &c, LEAF(LC, g, 1, 6, 4, 4),
       LEAF(LC, g, 3, 2, 3, 3));
    tl_scope_end(sc);
}

TEST(fn_conv2d_padding_same) {
    tl_scope sc = tl_scope_begin();
    gc_gen g = U(-1, 1);
    gc_ctx c = gc_c();
    c.conv = conv_same(1, 1);
    GC("conv2d", "same, kernel 3x3 [2,2,5,5] w [3,2,3,3]", f_conv_b, &c, LEAF(LC, g, 2, 2, 5, 5),
       LEAF(LC, g, 3, 2, 3, 3), LEAF(LC, g, 3));
    GC("conv2d", "same, kernel 3x5 [1,2,4,6] w [2,2,3,5]", f_conv_b, &c, LEAF(LC, g, 1, 2, 4, 6),
       LEAF(LC, g, 2, 2, 3, 5), LEAF(LC, g, 2));
    GC("conv2d", "same, kernel 1x3 [1,1,3,4] w [2,1,1,3]", f_conv, &c, LEAF(LC, g, 1, 1, 3, 4),
       LEAF(LC, g, 2, 1, 1, 3));
    GC("conv2d", "same, kernel 5x5 on a 3x3 image [1,1,3,3] w [1,1,5,5]", f_conv_b, &c, LEAF(LC, g, 1, 1, 3, 3),
       LEAF(LC, g, 1, 1, 5, 5), LEAF(LC, g, 1));
    c.conv = conv_same(2, 3);
    GC("conv2d", "same, dilation (2,3) kernel 3x3 [1,2,6,7] w [2,2,3,3]", f_conv_b, &c, LEAF(LC, g, 1, 2, 6, 7),
       LEAF(LC, g, 2, 2, 3, 3), LEAF(LC, g, 2));
    c.conv = conv_same(1, 1);
    c.conv.groups = 2;
    GC("conv2d", "same, groups 2 [1,4,4,4] w [2,2,3,3]", f_conv_b, &c, LEAF(LC, g, 1, 4, 4, 4),
       LEAF(LC, g, 2, 2, 3, 3), LEAF(LC, g, 2));
    /* An odd total padding (dilation * (kernel - 1) odd): torch pads the extra row/column at the
       bottom/right (the values are compared with torch by tests/torch/test_functional.py). */
    c.conv = conv_same(1, 1);
    GC("conv2d", "same, kernel 2x2 (torch pads 0 top/left, 1 bottom/right) [1,2,4,5] w [2,2,2,2]", f_conv_b, &c,
       LEAF(LC, g, 1, 2, 4, 5), LEAF(LC, g, 2, 2, 2, 2), LEAF(LC, g, 2));
    GC("conv2d", "same, kernel 4x3 [1,1,5,5] w [1,1,4,3]", f_conv, &c, LEAF(LC, g, 1, 1, 5, 5),
       LEAF(LC, g, 1, 1, 4, 3));
    tl_scope_end(sc);
}

TEST(fn_conv2d_layouts_and_shapes) {
    tl_scope sc = tl_scope_begin();
    gc_gen g = U(-1, 1);
    gc_ctx c = gc_c();
    GC("conv2d", "transposed x [2,2,4,5], contiguous w", f_conv_b, &c, LEAF(LT, g, 2, 2, 4, 5),
       LEAF(LC, g, 3, 2, 2, 2), LEAF(LC, g, 3));
    GC("conv2d", "stepped x [1,2,5,4], transposed w [3,2,3,2], stepped b", f_conv_b, &c, LEAF(LS, g, 1, 2, 5, 4),
       LEAF(LT, g, 3, 2, 3, 2), LEAF(LS, g, 3));
    c.conv = conv_o(2, 1, 1, 0, 0, 0, 2);
    GC("conv2d", "rotated x [2,4,5,5], rotated w [2,2,3,3], groups 2 stride (2,1)", f_conv_b, &c,
       LEAF(LP, g, 2, 4, 5, 5), LEAF(LP, g, 2, 2, 3, 3), LEAF(LC, g, 2));
    c = gc_c();
    GC("conv2d", "1x1 kernel [2,3,4,5] w [4,3,1,1]", f_conv_b, &c, LEAF(LC, g, 2, 3, 4, 5), LEAF(LC, g, 4, 3, 1, 1),
       LEAF(LC, g, 4));
    c.conv = conv_o(2, 2, 0, 0, 0, 0, 0);
    GC("conv2d", "1x1 kernel stride 2 [1,3,5,5] w [2,3,1,1]", f_conv, &c, LEAF(LC, g, 1, 3, 5, 5),
       LEAF(LC, g, 2, 3, 1, 1));
    c.conv = conv_o(0, 0, 1, 1, 0, 0, 0);
    GC("conv2d", "1x1 kernel padding 1 [1,2,3,3] w [2,2,1,1] (border outputs = bias)", f_conv_b, &c,
       LEAF(LC, g, 1, 2, 3, 3), LEAF(LC, g, 2, 2, 1, 1), LEAF(LC, g, 2));
    c = gc_c();
    GC("conv2d", "kernel = input [2,3,4,5] w [2,3,4,5] -> [2,2,1,1]", f_conv_b, &c, LEAF(LC, g, 2, 3, 4, 5),
       LEAF(LC, g, 2, 3, 4, 5), LEAF(LC, g, 2));
    c.conv = conv_o(0, 0, 1, 2, 0, 0, 0);
    GC("conv2d", "kernel = input with padding (1,2) [1,2,3,4] w [3,2,3,4]", f_conv_b, &c, LEAF(LC, g, 1, 2, 3, 4),
       LEAF(LC, g, 3, 2, 3, 4), LEAF(LC, g, 3));
    c = gc_c();
    GC("conv2d", "1x1 image [3,2,1,1] w [4,2,1,1]", f_conv_b, &c, LEAF(LC, g, 3, 2, 1, 1), LEAF(LC, g, 4, 2, 1, 1),
       LEAF(LC, g, 4));
    GC("conv2d", "wider channels [1,9,3,3] w [5,9,2,2]", f_conv_b, &c, LEAF(LC, g, 1, 9, 3, 3),
       LEAF(LC, g, 5, 9, 2, 2), LEAF(LC, g, 5));
    gc_set_exp(&c, 0, TL_SHAPE(3, 2, 4, 4));
    GC("conv2d", "expanded x [1,2,4,4]->[3,2,4,4] (batch stride 0)", f_conv_b, &c, LEAF(LC, g, 1, 2, 4, 4),
       LEAF(LC, g, 2, 2, 3, 3), LEAF(LC, g, 2));
    c = gc_c();
    gc_set_exp(&c, 1, TL_SHAPE(3, 2, 2, 2));
    GC("conv2d", "expanded w [1,2,2,2]->[3,2,2,2]", f_conv_b, &c, LEAF(LC, g, 2, 2, 3, 3), LEAF(LC, g, 1, 2, 2, 2),
       LEAF(LC, g, 3));
    tl_scope_end(sc);
}

/* ===== pooling ================================================================================= */

static tl_pool2d_opts pool_o(int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int ceil_mode,
                             int count_include_pad) {
    tl_pool2d_opts o = tl_pool2d_opts_default(kh, kw);
    o.stride[0] = sh;
    o.stride[1] = sw;
    o.padding[0] = ph;
    o.padding[1] = pw;
    o.dilation[0] = dh;
    o.dilation[1] = dw;
    o.ceil_mode = ceil_mode;
    o.count_include_pad = count_include_pad;
    return o;
}

TEST(fn_max_pool2d) {
    tl_scope sc = tl_scope_begin();
    gc_gen g = DIST(-2, 2);
    gc_ctx c = gc_c();
    c.pool = tl_pool2d_opts_default(2, 2);
    GC("max_pool2d", "[2,3,6,6] k2 (defaults)", f_maxpool, &c, LEAF(LC, g, 2, 3, 6, 6));
    GC("max_pool2d", "[2,3,6,6] k2 with indices", f_maxpool_idx, &c, LEAF(LC, g, 2, 3, 6, 6));
    GC("max_pool2d", "3-D [3,5,4] k2", f_maxpool_idx, &c, LEAF(LC, g, 3, 5, 4));
    c.pool = pool_o(3, 3, 2, 2, 1, 1, 1, 1, 0, 1);
    GC("max_pool2d", "[1,2,7,7] k3 s2 p1", f_maxpool_idx, &c, LEAF(LC, g, 1, 2, 7, 7));
    GC("max_pool2d", "3-D [2,6,5] k3 s2 p1", f_maxpool, &c, LEAF(LC, g, 2, 6, 5));
    c.pool = pool_o(3, 2, 1, 2, 0, 0, 1, 1, 0, 1);
    GC("max_pool2d", "[1,2,5,6] k(3,2) s(1,2) overlapping rows", f_maxpool, &c, LEAF(LC, g, 1, 2, 5, 6));
    c.pool = pool_o(3, 3, 1, 1, 0, 0, 2, 2, 0, 1);
    GC("max_pool2d", "[1,1,7,7] k3 s1 dilation 2", f_maxpool_idx, &c, LEAF(LC, g, 1, 1, 7, 7));
    c.pool = pool_o(2, 3, 1, 2, 1, 1, 2, 1, 0, 1);
    GC("max_pool2d", "[2,1,6,7] k(2,3) s(1,2) p1 dilation (2,1)", f_maxpool_idx, &c, LEAF(LC, g, 2, 1, 6, 7));
    c.pool = pool_o(2, 2, 2, 2, 0, 0, 1, 1, 1, 1);
    GC("max_pool2d", "[1,2,5,5] k2 ceil_mode (partial last windows)", f_maxpool_idx, &c, LEAF(LC, g, 1, 2, 5, 5));
    c.pool = pool_o(3, 3, 2, 2, 1, 1, 1, 1, 1, 1);
    GC("max_pool2d", "[1,1,6,6] k3 s2 p1 ceil_mode", f_maxpool_idx, &c, LEAF(LC, g, 1, 1, 6, 6));
    c.pool = pool_o(2, 2, 2, 2, 1, 1, 1, 1, 1, 1);
    GC("max_pool2d", "[1,1,3,3] k2 s2 p1 ceil_mode (last window would start in the padding: dropped)",
       f_maxpool_idx, &c, LEAF(LC, g, 1, 1, 3, 3));
    c.pool = pool_o(3, 2, 2, 3, 1, 0, 2, 1, 1, 1);
    GC("max_pool2d", "3-D [2,7,8] k(3,2) s(2,3) p(1,0) dilation (2,1) ceil_mode", f_maxpool_idx, &c,
       LEAF(LC, g, 2, 7, 8));
    c.pool = pool_o(2, 2, 3, 3, 0, 0, 1, 1, 0, 1);
    GC("max_pool2d", "[1,1,7,8] k2 s3 (gaps: pixels in no window)", f_maxpool, &c, LEAF(LC, g, 1, 1, 7, 8));
    c.pool = pool_o(1, 1, 1, 1, 0, 0, 1, 1, 0, 1);
    GC("max_pool2d", "[1,2,3,3] k1 (identity)", f_maxpool, &c, LEAF(LC, g, 1, 2, 3, 3));
    c.pool = pool_o(4, 5, 1, 1, 0, 0, 1, 1, 0, 1);
    GC("max_pool2d", "[2,1,4,5] kernel = image", f_maxpool_idx, &c, LEAF(LC, g, 2, 1, 4, 5));
    c.pool = pool_o(3, 3, 1, 1, 1, 1, 1, 1, 0, 1);
    GC("max_pool2d", "transposed [1,2,5,6] k3 s1 p1", f_maxpool_idx, &c, LEAF(LT, g, 1, 2, 5, 6));
    GC("max_pool2d", "stepped [2,2,4,5] k3 s1 p1", f_maxpool, &c, LEAF(LS, g, 2, 2, 4, 5));
    GC("max_pool2d", "rotated [2,3,4,5] k3 s1 p1", f_maxpool_idx, &c, LEAF(LP, g, 2, 3, 4, 5));
    GC("max_pool2d", "rotated 3-D [3,4,5] k3 s1 p1", f_maxpool_idx, &c, LEAF(LP, g, 3, 4, 5));
    gc_set_exp(&c, 0, TL_SHAPE(3, 2, 4, 4));
    GC("max_pool2d", "expanded [1,2,4,4]->[3,2,4,4] k3 s1 p1", f_maxpool_idx, &c, LEAF(LC, g, 1, 2, 4, 4));
    tl_scope_end(sc);
}

TEST(fn_avg_pool2d) {
    tl_scope sc = tl_scope_begin();
    gc_gen g = U(-2, 2);
    gc_ctx c = gc_c();
    int cip;
    c.pool = tl_pool2d_opts_default(2, 2);
    GC("avg_pool2d", "[2,3,6,6] k2 (defaults)", f_avgpool, &c, LEAF(LC, g, 2, 3, 6, 6));
    GC("avg_pool2d", "3-D [3,5,4] k2", f_avgpool, &c, LEAF(LC, g, 3, 5, 4));
    for (cip = 0; cip <= 1; cip++) {
        char label[128];
        c.pool = pool_o(3, 3, 2, 2, 1, 1, 1, 1, 0, cip);
        snprintf(label, sizeof label, "[1,2,7,7] k3 s2 p1 count_include_pad %d", cip);
        GC("avg_pool2d", label, f_avgpool, &c, LEAF(LC, g, 1, 2, 7, 7));
        c.pool = pool_o(3, 3, 2, 2, 1, 1, 1, 1, 1, cip);
        snprintf(label, sizeof label, "[1,2,6,6] k3 s2 p1 ceil_mode count_include_pad %d", cip);
        GC("avg_pool2d", label, f_avgpool, &c, LEAF(LC, g, 1, 2, 6, 6));
        c.pool = pool_o(2, 2, 2, 2, 0, 0, 1, 1, 1, cip);
        snprintf(label, sizeof label, "[1,1,5,5] k2 ceil_mode, no padding, count_include_pad %d", cip);
        GC("avg_pool2d", label, f_avgpool, &c, LEAF(LC, g, 1, 1, 5, 5));
        c.pool = pool_o(3, 2, 2, 1, 1, 0, 1, 1, 0, cip);
        snprintf(label, sizeof label, "3-D [2,6,5] k(3,2) s(2,1) p(1,0) count_include_pad %d", cip);
        GC("avg_pool2d", label, f_avgpool, &c, LEAF(LC, g, 2, 6, 5));
        c.pool = pool_o(2, 2, 2, 2, 1, 1, 1, 1, 1, cip);
        snprintf(label, sizeof label, "[1,1,3,3] k2 s2 p1 ceil_mode count_include_pad %d", cip);
        GC("avg_pool2d", label, f_avgpool, &c, LEAF(LC, g, 1, 1, 3, 3));
        c.pool = pool_o(4, 3, 3, 2, 2, 1, 1, 1, 1, cip);
        snprintf(label, sizeof label, "[2,1,7,6] k(4,3) s(3,2) p(2,1) ceil_mode count_include_pad %d", cip);
        GC("avg_pool2d", label, f_avgpool, &c, LEAF(LC, g, 2, 1, 7, 6));
    }
    c.pool = pool_o(3, 3, 1, 1, 1, 1, 0, 0, 0, 0); /* dilation 0 = the default 1 */
    GC("avg_pool2d", "transposed [1,2,5,6] k3 s1 p1", f_avgpool, &c, LEAF(LT, g, 1, 2, 5, 6));
    GC("avg_pool2d", "stepped [2,2,4,5] k3 s1 p1", f_avgpool, &c, LEAF(LS, g, 2, 2, 4, 5));
    GC("avg_pool2d", "rotated [2,3,4,5] k3 s1 p1", f_avgpool, &c, LEAF(LP, g, 2, 3, 4, 5));
    c.pool = pool_o(2, 2, 3, 3, 0, 0, 1, 1, 0, 1);
    GC("avg_pool2d", "[1,1,7,8] k2 s3 (gaps)", f_avgpool, &c, LEAF(LC, g, 1, 1, 7, 8));
    c.pool = pool_o(4, 5, 1, 1, 0, 0, 1, 1, 0, 1);
    GC("avg_pool2d", "[2,1,4,5] kernel = image", f_avgpool, &c, LEAF(LC, g, 2, 1, 4, 5));
    c.pool = tl_pool2d_opts_default(2, 2);
    gc_set_exp(&c, 0, TL_SHAPE(3, 2, 4, 4));
    GC("avg_pool2d", "expanded [1,2,4,4]->[3,2,4,4] k2", f_avgpool, &c, LEAF(LC, g, 1, 2, 4, 4));
    tl_scope_end(sc);
}

/* ===== losses ================================================================================== */

static const tl_reduction REDS[3] = {TL_REDUCTION_MEAN, TL_REDUCTION_SUM, TL_REDUCTION_NONE};

/* nll_loss and cross_entropy share their cases: f is f_nll or f_ce, g the input domain. */
static void class_loss_cases(const char *op, gc_fn f, gc_gen g) {
    int r;
    for (r = 0; r < 3; r++) {
        tl_scope sc = tl_scope_begin();
        gc_ctx c = gc_c();
        char label[160];
#define LBL(s) (snprintf(label, sizeof label, "%s, reduction %s", s, red_name(REDS[r])), label)
        c.red = REDS[r];
        c.ignore = -100;
        c.target = TARGETS(0, 4, 1, 0, 4, 1);
        GC(op, LBL("[4,5] targets {1,0,4,1}"), f, &c, LEAF(LC, g, 4, 5));
        c.weight = CONST(LC, U(0.2, 2), 5);
        GC(op, LBL("[4,5] with weight [5]"), f, &c, LEAF(LC, g, 4, 5));
        c.ignore = 1;
        GC(op, LBL("[4,5] with weight, ignore_index 1 (two of four ignored)"), f, &c, LEAF(LC, g, 4, 5));
        c.weight = NULL;
        GC(op, LBL("[4,5] ignore_index 1, no weight"), f, &c, LEAF(LC, g, 4, 5));
        c.target = TARGETS(0, 5, -1, 2, -1, 0, 3);
        c.ignore = -1;
        GC(op, LBL("[5,4] ignore_index -1 (targets {-1,2,-1,0,3})"), f, &c, LEAF(LC, g, 5, 4));
        c.target = TARGETS(0, 3, 7, 7, 7);
        c.ignore = 7;
        c.weight = CONST(LC, U(0.2, 2), 4);
        if (REDS[r] != TL_REDUCTION_MEAN) /* mean: 0/0 = nan, checked by fn_class_loss_all_ignored */
            GC(op, LBL("[3,4] every target ignored (7), weight"), f, &c, LEAF(LC, g, 3, 4));
        c.target = TARGETS(0, 3, 2, 2, 2);
        c.ignore = -100;
        c.weight = CONST(LS, U(0.2, 2), 4);
        GC(op, LBL("[3,4] one class, stepped weight"), f, &c, LEAF(LC, g, 3, 4));
        c.weight = NULL;
        c.target = TARGETS(1, 4, 3, 0, 2, 2);
        GC(op, LBL("transposed [4,5], stepped targets"), f, &c, LEAF(LT, g, 4, 5));
        GC(op, LBL("stepped [4,5]"), f, &c, LEAF(LS, g, 4, 5));
        c.target = tl_from_data((const int64_t[]){3}, 0, NULL, TL_I64);
        GC(op, LBL("1-D [5], 0-dim target 3"), f, &c, LEAF(LC, g, 5));
        c.weight = CONST(LC, U(0.2, 2), 5);
        GC(op, LBL("1-D stepped [5], 0-dim target, weight"), f, &c, LEAF(LS, g, 5));
        c.ignore = 3;
        if (REDS[r] != TL_REDUCTION_MEAN)
            GC(op, LBL("1-D [5], 0-dim target ignored"), f, &c, LEAF(LC, g, 5));
        c.ignore = -100;
        c.weight = NULL;
        c.target = TARGETS(0, 1, 0);
        GC(op, LBL("[1,1] single class"), f, &c, LEAF(LC, g, 1, 1));
        c.target = TARGETS(0, 2, 1, 0);
        gc_set_exp(&c, 0, TL_SHAPE(2, 3));
        GC(op, LBL("expanded [1,3]->[2,3]"), f, &c, LEAF(LC, g, 1, 3));
#undef LBL
        tl_scope_end(sc);
    }
}
TEST(fn_nll_loss) { class_loss_cases("nll_loss", f_nll, U(-3, 0)); }
TEST(fn_cross_entropy) { class_loss_cases("cross_entropy", f_ce, U(-3, 3)); }

/* Rows of probabilities (softmax of U(-2,2) along the last dim) as a leaf of the given layout. */
static tl_tensor *gc_probs(int layout, int nd, const int64_t *shape) {
    tl_tensor *t = gc_view_of_zeros(layout, F64, nd, shape), *sm;
    int64_t idx[TL_MAX_DIMS] = {0};
    tl_scope s = tl_scope_begin();
    if (!t) return NULL;
    sm = tl_softmax(tl_mul_scalar(tl_rand(nd, shape, F64), 4.0), -1);
    do {
        tl_set(t, idx, tl_get(sm, idx));
    } while (gc_next(nd, shape, idx));
    tl_scope_end(s);
    tl_requires_grad_(t, 1);
    return t;
}
#define PROBS(layout, ...) gc_probs(layout, TL_SHAPE(__VA_ARGS__))

TEST(fn_cross_entropy_ex) {
    int r;
    tl_manual_seed(7);
    for (r = 0; r < 3; r++) {
        tl_scope sc = tl_scope_begin();
        gc_gen g = U(-3, 3);
        gc_ctx c = gc_c();
        char label[160];
#define LBL(s) (snprintf(label, sizeof label, "%s, reduction %s", s, red_name(REDS[r])), label)
        c.red = REDS[r];
        c.ignore = -100;
        GC("cross_entropy_ex", LBL("[3,4] probability targets (grad)"), f_ce_ex, &c, LEAF(LC, g, 3, 4),
           PROBS(LC, 3, 4));
        c.weight = CONST(LC, U(0.2, 2), 4);
        GC("cross_entropy_ex", LBL("transposed [3,4] probabilities, weight"), f_ce_ex, &c, LEAF(LT, g, 3, 4),
           PROBS(LT, 3, 4));
        c.beta = 0.2;
        GC("cross_entropy_ex", LBL("[3,4] probabilities, weight, label smoothing 0.2"), f_ce_ex, &c,
           LEAF(LC, g, 3, 4), PROBS(LC, 3, 4));
        GC("cross_entropy_ex", LBL("1-D [4] probabilities, label smoothing 0.2"), f_ce_ex, &c, LEAF(LC, g, 4),
           PROBS(LS, 4));
        c.target = TARGETS(0, 4, 1, 0, 3, 1);
        c.ignore = 1;
        GC("cross_entropy_ex", LBL("[4,4] class indices, weight, ignore 1, label smoothing 0.2"), f_ce_ex, &c,
           LEAF(LC, g, 4, 4));
        c.weight = NULL;
        c.beta = 1.0;
        c.ignore = -100;
        GC("cross_entropy_ex", LBL("[4,5] class indices, label smoothing 1"), f_ce_ex, &c, LEAF(LS, g, 4, 5));
#undef LBL
        tl_scope_end(sc);
    }
}

/* torch: mean over zero total weight is 0/0 = nan; the gradient is all zeros (no term). */
TEST(fn_class_loss_all_ignored) {
    int which;
    for (which = 0; which < 2; which++) {
        tl_scope sc = tl_scope_begin();
        tl_tensor *x = LEAF(LC, U(-3, 0), 3, 4), *t = TARGETS(0, 3, -100, -100, -100), *w = CONST(LC, U(0.2, 2), 4);
        tl_tensor *l, *g, *ls, *ln;
        int64_t idx[2] = {0, 0};
        l = which ? tl_cross_entropy(x, t, NULL, -100, TL_REDUCTION_MEAN) : tl_nll_loss(x, t, NULL, -100, TL_REDUCTION_MEAN);
        REQUIRE(l != NULL);
        CHECK_EQ_INT(tl_ndim(l), 0);
        CHECK(isnan(tl_item(l)));
        CHECK_EQ_INT(tl_backward(l), TL_OK);
        g = tl_grad(x);
        REQUIRE(g != NULL);
        do {
            CHECK_NEAR(tl_get(g, idx), 0.0, 0);
        } while (gc_next(2, tl_shape(g), idx));
        l = which ? tl_cross_entropy(x, t, w, -100, TL_REDUCTION_MEAN) : tl_nll_loss(x, t, w, -100, TL_REDUCTION_MEAN);
        REQUIRE(l != NULL);
        CHECK(isnan(tl_item(l)));
        ls = which ? tl_cross_entropy(x, t, w, -100, TL_REDUCTION_SUM) : tl_nll_loss(x, t, w, -100, TL_REDUCTION_SUM);
        REQUIRE(ls != NULL);
        CHECK_NEAR(tl_item(ls), 0.0, 0);
        ln = which ? tl_cross_entropy(x, t, w, -100, TL_REDUCTION_NONE) : tl_nll_loss(x, t, w, -100, TL_REDUCTION_NONE);
        REQUIRE(ln != NULL);
        CHECK_EQ_INT(tl_ndim(ln), 1);
        CHECK_EQ_INT(tl_size(ln, 0), 3);
        CHECK_NEAR(tl_item(tl_sum_all(tl_abs(ln))), 0.0, 0);
        tl_scope_end(sc);
    }
}

TEST(fn_mse_loss) {
    int r;
    for (r = 0; r < 3; r++) {
        tl_scope sc = tl_scope_begin();
        gc_gen g = U(-2, 2);
        gc_ctx c = gc_c();
        char label[160];
#define LBL(s) (snprintf(label, sizeof label, "%s, reduction %s", s, red_name(REDS[r])), label)
        c.red = REDS[r];
        GC("mse_loss", LBL("[3,4] both require grad"), f_mse, &c, LEAF(LC, g, 3, 4), LEAF(LC, g, 3, 4));
        GC("mse_loss", LBL("[2,3,4] transposed . rotated"), f_mse, &c, LEAF(LT, g, 2, 3, 4), LEAF(LP, g, 2, 3, 4));
        GC("mse_loss", LBL("stepped [5] . [5]"), f_mse, &c, LEAF(LS, g, 5), LEAF(LC, g, 5));
        GC("mse_loss", LBL("0-dim"), f_mse, &c, LEAF0(g), LEAF0(g));
        c.target = CONST(LC, g, 3, 4);
        GC("mse_loss", LBL("[3,4], target without grad"), f_mse_t, &c, LEAF(LC, g, 3, 4));
        c.target = NULL;
        gc_set_exp(&c, 1, TL_SHAPE(3, 4));
        GC("mse_loss", LBL("target expanded [1,4]->[3,4]"), f_mse, &c, LEAF(LC, g, 3, 4), LEAF(LC, g, 1, 4));
#undef LBL
        tl_scope_end(sc);
    }
}

TEST(fn_l1_loss) {
    int r;
    for (r = 0; r < 3; r++) {
        tl_scope sc = tl_scope_begin();
        gc_gen g = U(-2, 2), d = PN(0.1, 2);
        gc_ctx c = gc_c();
        tl_tensor *t;
        char label[160];
#define LBL(s) (snprintf(label, sizeof label, "%s, reduction %s", s, red_name(REDS[r])), label)
        c.red = REDS[r];
        t = LEAF(LC, g, 3, 4);
        GC("l1_loss", LBL("[3,4]"), f_l1, &c, gc_leaf_rel(LC, d, t), t);
        t = LEAF(LP, g, 2, 3, 4);
        GC("l1_loss", LBL("[2,3,4] transposed . rotated"), f_l1, &c, gc_leaf_rel(LT, d, t), t);
        t = LEAF(LS, g, 5);
        GC("l1_loss", LBL("stepped [5] . stepped [5]"), f_l1, &c, gc_leaf_rel(LS, d, t), t);
        t = LEAF0(g);
        GC("l1_loss", LBL("0-dim"), f_l1, &c, gc_leaf_rel(LC, d, t), t);
#undef LBL
        tl_scope_end(sc);
    }
}

TEST(fn_smooth_l1_loss) {
    static const double betas[] = {1.0, 0.5, 2.0, 0.0};
    int r, b;
    for (b = 0; b < 4; b++)
        for (r = 0; r < 3; r++) {
            tl_scope sc = tl_scope_begin();
            double beta = betas[b];
            gc_gen g = U(-2, 2), d = beta > 0 ? AWAY2(-3, 3, -beta, beta) : PN(0.1, 2);
            gc_ctx c = gc_c();
            tl_tensor *t;
            char label[160];
#define LBL(s) (snprintf(label, sizeof label, "%s, beta %g, reduction %s", s, beta, red_name(REDS[r])), label)
            c.red = REDS[r];
            c.beta = beta;
            t = LEAF(LC, g, 4, 5);
            GC("smooth_l1_loss", LBL("[4,5]"), f_smooth_l1, &c, gc_leaf_rel(LC, d, t), t);
            t = LEAF(LP, g, 2, 3, 4);
            GC("smooth_l1_loss", LBL("[2,3,4] transposed . rotated"), f_smooth_l1, &c, gc_leaf_rel(LT, d, t), t);
            t = LEAF0(g);
            GC("smooth_l1_loss", LBL("0-dim"), f_smooth_l1, &c, gc_leaf_rel(LC, d, t), t);
#undef LBL
            tl_scope_end(sc);
        }
}

TEST(fn_bce_loss) {
    int r;
    for (r = 0; r < 3; r++) {
        tl_scope sc = tl_scope_begin();
        gc_gen p = U(0.05, 0.95), y = U(0, 1);
        gc_ctx c = gc_c();
        char label[160];
#define LBL(s) (snprintf(label, sizeof label, "%s, reduction %s", s, red_name(REDS[r])), label)
        c.red = REDS[r];
        GC("bce_loss", LBL("[3,4] input and soft target require grad"), f_bce, &c, LEAF(LC, p, 3, 4),
           LEAF(LC, y, 3, 4));
        GC("bce_loss", LBL("[2,3,4] transposed . rotated"), f_bce, &c, LEAF(LT, p, 2, 3, 4), LEAF(LP, y, 2, 3, 4));
        GC("bce_loss", LBL("stepped [5] . [5]"), f_bce, &c, LEAF(LS, p, 5), LEAF(LC, y, 5));
        GC("bce_loss", LBL("0-dim"), f_bce, &c, LEAF0(p), LEAF0(y));
        {
            static const double hard[12] = {0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1};
            c.target = tl_from_data(hard, TL_SHAPE(3, 4), F64);
            GC("bce_loss", LBL("[3,4] hard 0/1 labels without grad"), f_bce_t, &c, LEAF(LC, p, 3, 4));
        }
#undef LBL
        tl_scope_end(sc);
    }
}

TEST(fn_bce_with_logits) {
    int r;
    for (r = 0; r < 3; r++) {
        tl_scope sc = tl_scope_begin();
        gc_gen x = U(-4, 4), y = U(0, 1);
        gc_ctx c = gc_c();
        char label[160];
#define LBL(s) (snprintf(label, sizeof label, "%s, reduction %s", s, red_name(REDS[r])), label)
        c.red = REDS[r];
        GC("bce_with_logits", LBL("[3,4]"), f_bcel, &c, LEAF(LC, x, 3, 4), LEAF(LC, y, 3, 4));
        GC("bce_with_logits", LBL("[2,3,4] transposed . rotated"), f_bcel, &c, LEAF(LT, x, 2, 3, 4),
           LEAF(LP, y, 2, 3, 4));
        GC("bce_with_logits", LBL("0-dim"), f_bcel, &c, LEAF0(x), LEAF0(y));
        GC("bce_with_logits", LBL("large logits U(-30,30) [2,5]"), f_bcel, &c, LEAF(LC, U(-30, 30), 2, 5),
           LEAF(LC, y, 2, 5));
        c.weight = CONST(LC, U(0.25, 3), 4);
        GC("bce_with_logits", LBL("[3,4] pos_weight [4] (broadcast)"), f_bcel, &c, LEAF(LC, x, 3, 4),
           LEAF(LC, y, 3, 4));
        c.weight = CONST(LT, U(0.25, 3), 3, 4);
        GC("bce_with_logits", LBL("[3,4] transposed pos_weight [3,4]"), f_bcel, &c, LEAF(LS, x, 3, 4),
           LEAF(LC, y, 3, 4));
        c.weight = CONST(LC, U(0.25, 3), 1, 4);
        GC("bce_with_logits", LBL("[2,3,4] pos_weight [1,4]"), f_bcel, &c, LEAF(LC, x, 2, 3, 4),
           LEAF(LC, y, 2, 3, 4));
        {
            static const double hard[8] = {0, 1, 1, 0, 1, 0, 0, 1};
            c.weight = CONST(LC, U(0.25, 3), 4);
            c.target = tl_from_data(hard, TL_SHAPE(2, 4), F64);
            GC("bce_with_logits", LBL("[2,4] hard labels without grad, pos_weight"), f_bcel_t, &c,
               LEAF(LC, x, 2, 4));
            c.target = NULL;
        }
        /* logits exactly 0 (a zero-initialised output layer): the loss is smooth there */
        c.weight = NULL;
        GC("bce_with_logits", LBL("logits exactly 0 [2,3]"), f_bcel, &c, LEAF(LC, ZEROS, 2, 3), LEAF(LC, y, 2, 3));
        c.weight = CONST(LC, U(0.25, 3), 3);
        GC("bce_with_logits", LBL("logits exactly 0 [2,3], pos_weight [3]"), f_bcel, &c, LEAF(LC, ZEROS, 2, 3),
           LEAF(LC, y, 2, 3));
#undef LBL
        tl_scope_end(sc);
    }
}

/* ===== forward values against direct loops ===================================================== */

/* Reads element i (C order) of any view t. */
static double at(const tl_tensor *t, int64_t i) {
    int64_t idx[TL_MAX_DIMS];
    int d;
    for (d = tl_ndim(t) - 1; d >= 0; d--) {
        idx[d] = i % tl_shape(t)[d];
        i /= tl_shape(t)[d];
    }
    return tl_get(t, idx);
}
static tl_tensor *rnd(int layout, tl_dtype dt, gc_gen g, int nd, const int64_t *shape) {
    tl_tensor *t = gc_view_of_zeros(layout, dt, nd, shape);
    if (t) gc_fill(t, g);
    return t;
}
#define RND(layout, dt, gen, ...) rnd(layout, dt, gen, TL_SHAPE(__VA_ARGS__))

/* |got - want| <= tol * (1 + |want|) for every element; shape must be [n0, n1, n2, n3] */
static int close_to(const tl_tensor *got, const double *want, int nd, const int64_t *shape, double tol) {
    int64_t i, n = 1;
    int d, bad = 0;
    if (!got || tl_ndim(got) != nd) return 0;
    for (d = 0; d < nd; d++) {
        if (tl_shape(got)[d] != shape[d]) return 0;
        n *= shape[d];
    }
    for (i = 0; i < n; i++)
        if (!(fabs(at(got, i) - want[i]) <= tol * (1 + fabs(want[i])))) {
            if (++bad <= 3) printf("  element %lld: got %.17g, want %.17g\n", (long long)i, at(got, i), want[i]);
        }
    return bad == 0;
}

/* Direct conv2d with torch's padding='same' split (the extra row/column goes bottom/right). */
static int conv_ref(const tl_tensor *x, const tl_tensor *w, const tl_tensor *b, const tl_conv2d_opts *o, double *out,
                    int64_t *oshape) {
    int64_t N = tl_shape(x)[0], C = tl_shape(x)[1], H = tl_shape(x)[2], W = tl_shape(x)[3];
    int64_t O = tl_shape(w)[0], Cg = tl_shape(w)[1], kh = tl_shape(w)[2], kw = tl_shape(w)[3];
    int sh = o->stride[0] ? o->stride[0] : 1, sw = o->stride[1] ? o->stride[1] : 1;
    int dh = o->dilation[0] ? o->dilation[0] : 1, dw = o->dilation[1] ? o->dilation[1] : 1;
    int g = o->groups ? o->groups : 1, ph = o->padding[0], pw = o->padding[1];
    int64_t Ho, Wo, n, oc, oh, ow, ci, i, j, Og = O / g;
    (void)C;
    if (o->padding_same) {
        ph = (int)(dh * (kh - 1) / 2);
        pw = (int)(dw * (kw - 1) / 2);
        Ho = H;
        Wo = W;
    } else {
        Ho = (H + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
        Wo = (W + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
    }
    oshape[0] = N;
    oshape[1] = O;
    oshape[2] = Ho;
    oshape[3] = Wo;
    for (n = 0; n < N; n++)
        for (oc = 0; oc < O; oc++)
            for (oh = 0; oh < Ho; oh++)
                for (ow = 0; ow < Wo; ow++) {
                    double acc = b ? at(b, oc) : 0;
                    int64_t grp = oc / Og;
                    for (ci = 0; ci < Cg; ci++)
                        for (i = 0; i < kh; i++)
                            for (j = 0; j < kw; j++) {
                                int64_t ih = oh * sh - ph + i * dh, iw = ow * sw - pw + j * dw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                acc += at(x, ((n * tl_shape(x)[1] + grp * Cg + ci) * H + ih) * W + iw) *
                                       at(w, ((oc * Cg + ci) * kh + i) * kw + j);
                            }
                    *out++ = acc;
                }
    return 1;
}

TEST(fn_conv2d_forward_direct) {
    static double want[4096];
    struct {
        int64_t xs[4], ws[4];
        tl_conv2d_opts o;
        int bias, lx, lw;
    } cs[10];
    int i, ncs = 0, d;
    memset(cs, 0, sizeof cs);
#define CS(x0, x1, x2, x3, w0, w1, w2, w3, opts, b, l1, l2)                                        \
    do {                                                                                           \
        cs[ncs].xs[0] = x0; cs[ncs].xs[1] = x1; cs[ncs].xs[2] = x2; cs[ncs].xs[3] = x3;            \
        cs[ncs].ws[0] = w0; cs[ncs].ws[1] = w1; cs[ncs].ws[2] = w2; cs[ncs].ws[3] = w3;            \
        cs[ncs].o = opts; cs[ncs].bias = b; cs[ncs].lx = l1; cs[ncs].lw = l2; ncs++;               \
    } while (0)
    CS(2, 3, 6, 7, 4, 3, 3, 3, conv_o(0, 0, 0, 0, 0, 0, 0), 1, LC, LC);
    CS(2, 4, 7, 6, 6, 2, 3, 2, conv_o(2, 1, 1, 2, 1, 2, 2), 1, LT, LP);
    CS(1, 4, 5, 5, 8, 1, 3, 3, conv_o(1, 2, 2, 1, 2, 1, 4), 0, LS, LT);
    CS(3, 2, 4, 5, 3, 2, 4, 5, conv_o(0, 0, 0, 0, 0, 0, 0), 1, LP, LC);
    CS(2, 3, 5, 5, 2, 3, 1, 1, conv_o(2, 2, 1, 1, 0, 0, 0), 1, LC, LS);
    CS(1, 2, 5, 6, 3, 2, 3, 5, conv_same(1, 1), 1, LC, LC);
    CS(1, 2, 6, 7, 2, 2, 3, 3, conv_same(2, 3), 0, LT, LC);
    CS(2, 2, 5, 6, 3, 2, 2, 3, conv_same(1, 1), 1, LC, LT); /* odd total padding in H */
    CS(1, 1, 6, 5, 2, 1, 2, 4, conv_same(3, 1), 1, LC, LC); /* odd totals in H (3) and W (3) */
    for (i = 0; i < ncs; i++)
        for (d = 0; d < 2; d++) {
            tl_scope sc = tl_scope_begin();
            tl_dtype dt = d ? F64 : F32;
            tl_tensor *x = rnd(cs[i].lx, dt, U(-1, 1), 4, cs[i].xs), *w = rnd(cs[i].lw, dt, U(-1, 1), 4, cs[i].ws);
            tl_tensor *b = cs[i].bias ? RND(LC, dt, U(-1, 1), cs[i].ws[0]) : NULL, *y;
            int64_t oshape[4];
            conv_ref(x, w, b, &cs[i].o, want, oshape);
            y = tl_conv2d(x, w, b, &cs[i].o);
            if (!y) printf("  conv case %d: %s\n", i, tl_last_error());
            if (!CHECK(close_to(y, want, 4, oshape, d ? 1e-13 : 2e-6))) printf("  conv case %d %s\n", i, tl_dtype_name(dt));
            if (y) CHECK_EQ_INT(tl_dtype_of(y), dt);
            tl_clear_error();
            tl_scope_end(sc);
        }
#undef CS
}

/* torch's pooling_output_shape. */
static int64_t pool_out(int64_t in, int k, int pad, int s, int d, int ceil_mode) {
    int64_t num = in + 2 * pad - (int64_t)d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
    int64_t out = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
    if (ceil_mode && (out - 1) * s >= in + pad) out--;
    return out;
}

/* Direct max/avg pooling as torch's CPU kernels define it; idx receives the flat h * W + w index. */
static void pool_ref(const tl_tensor *x, const tl_pool2d_opts *o, int is_max, double *out, int64_t *idx,
                     int64_t *oshape) {
    int nd = tl_ndim(x), d;
    int64_t H = tl_shape(x)[nd - 2], W = tl_shape(x)[nd - 1], B = tl_numel(x) / (H * W), b, oh, ow, i, j;
    int sh = o->stride[0] ? o->stride[0] : o->kernel[0], sw = o->stride[1] ? o->stride[1] : o->kernel[1];
    int dh = o->dilation[0] ? o->dilation[0] : 1, dw = o->dilation[1] ? o->dilation[1] : 1;
    int64_t Ho = pool_out(H, o->kernel[0], o->padding[0], sh, dh, o->ceil_mode);
    int64_t Wo = pool_out(W, o->kernel[1], o->padding[1], sw, dw, o->ceil_mode);
    for (d = 0; d < nd - 2; d++) oshape[d] = tl_shape(x)[d];
    oshape[nd - 2] = Ho;
    oshape[nd - 1] = Wo;
    for (b = 0; b < B; b++)
        for (oh = 0; oh < Ho; oh++)
            for (ow = 0; ow < Wo; ow++) {
                int64_t h0 = oh * sh - o->padding[0], w0 = ow * sw - o->padding[1];
                if (is_max) {
                    double best = -INFINITY;
                    int64_t bi = -1;
                    for (i = 0; i < o->kernel[0]; i++)
                        for (j = 0; j < o->kernel[1]; j++) {
                            int64_t ih = h0 + i * dh, iw = w0 + j * dw;
                            double v;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            v = at(x, (b * H + ih) * W + iw);
                            if (bi < 0 || v > best) best = v, bi = ih * W + iw;
                        }
                    *out++ = best;
                    *idx++ = bi;
                } else {
                    int64_t h1 = h0 + o->kernel[0] < H + o->padding[0] ? h0 + o->kernel[0] : H + o->padding[0];
                    int64_t w1 = w0 + o->kernel[1] < W + o->padding[1] ? w0 + o->kernel[1] : W + o->padding[1];
                    int64_t div = (h1 - h0) * (w1 - w0);
                    double acc = 0;
                    if (h0 < 0) h0 = 0;
                    if (w0 < 0) w0 = 0;
                    if (h1 > H) h1 = H;
                    if (w1 > W) w1 = W;
                    if (!o->count_include_pad) div = (h1 - h0) * (w1 - w0);
                    for (i = h0; i < h1; i++)
                        for (j = w0; j < w1; j++) acc += at(x, (b * H + i) * W + j);
                    *out++ = acc / (double)div;
                }
            }
}

TEST(fn_pool_forward_direct) {
    static double want[4096];
    static int64_t widx[4096];
    tl_pool2d_opts os[10];
    int64_t shapes[10][4] = {{2, 3, 6, 6}, {1, 2, 7, 7}, {2, 1, 6, 7}, {1, 2, 5, 5}, {1, 1, 3, 3},
                             {2, 7, 8, 0}, {1, 1, 7, 8}, {2, 1, 7, 6}, {3, 5, 4, 0}, {2, 1, 4, 5}};
    int nds[10] = {4, 4, 4, 4, 4, 3, 4, 4, 3, 4};
    int i, d, cip;
    os[0] = tl_pool2d_opts_default(2, 2);
    os[1] = pool_o(3, 3, 2, 2, 1, 1, 1, 1, 0, 1);
    os[2] = pool_o(2, 3, 1, 2, 1, 1, 2, 1, 0, 1);
    os[3] = pool_o(2, 2, 2, 2, 0, 0, 1, 1, 1, 1);
    os[4] = pool_o(2, 2, 2, 2, 1, 1, 1, 1, 1, 1);
    os[5] = pool_o(3, 2, 2, 3, 1, 0, 2, 1, 1, 1);
    os[6] = pool_o(2, 2, 3, 3, 0, 0, 1, 1, 0, 1);
    os[7] = pool_o(4, 3, 3, 2, 2, 1, 1, 1, 1, 1);
    os[8] = pool_o(3, 3, 1, 1, 1, 1, 1, 1, 0, 1);
    os[9] = pool_o(4, 5, 1, 1, 0, 0, 1, 1, 0, 1);
    for (i = 0; i < 10; i++)
        for (d = 0; d < 2; d++) {
            tl_scope sc = tl_scope_begin();
            tl_dtype dt = d ? F64 : F32;
            tl_tensor *x = rnd(i % 3 == 1 ? LT : i % 3 == 2 ? LP : LC, dt, DIST(-2, 2), nds[i], shapes[i]), *y, *ix = NULL;
            int64_t oshape[4], k, n;
            tl_pool2d_opts o = os[i];
            pool_ref(x, &o, 1, want, widx, oshape);
            y = tl_max_pool2d(x, &o, &ix);
            if (!y) printf("  max_pool case %d: %s\n", i, tl_last_error());
            if (!CHECK(close_to(y, want, nds[i], oshape, 0))) printf("  max_pool case %d %s\n", i, tl_dtype_name(dt));
            if (CHECK(ix != NULL) && CHECK(close_to(ix, want, nds[i], oshape, INFINITY))) { /* shape only */
                CHECK_EQ_INT(tl_dtype_of(ix), TL_I64);
                n = tl_numel(ix);
                for (k = 0; k < n; k++)
                    if (!CHECK_EQ_INT((int64_t)at(ix, k), widx[k])) {
                        printf("  max_pool case %d: index %lld\n", i, (long long)k);
                        break;
                    }
            }
            if (y) CHECK_EQ_INT(tl_dtype_of(y), dt);
            for (cip = 0; cip <= 1 && o.dilation[0] == 1 && o.dilation[1] == 1; cip++) {
                o.count_include_pad = cip;
                pool_ref(x, &o, 0, want, widx, oshape);
                y = tl_avg_pool2d(x, &o);
                if (!y) printf("  avg_pool case %d: %s\n", i, tl_last_error());
                if (!CHECK(close_to(y, want, nds[i], oshape, d ? 1e-15 : 1e-7)))
                    printf("  avg_pool case %d %s count_include_pad %d\n", i, tl_dtype_name(dt), cip);
            }
            tl_clear_error();
            tl_scope_end(sc);
        }
}

/* Indices by hand, as torch 1.13 gives them: F.max_pool2d(v.view(1,1,4,4), 2, return_indices=True)
   -> values [[9, 8], [15, 14]], indices [[1, 6], [12, 15]]; v.view(4,2,2) -> indices [1, 2, 2, 0] */
TEST(fn_max_pool2d_indices_by_hand) {
    tl_scope sc = tl_scope_begin();
    static const double v[16] = {1, 9, 2, 3, 4, 5, 8, 6, 7, 0, 11, 10, 15, 12, 13, 14};
    tl_tensor *x = tl_from_data(v, TL_SHAPE(1, 1, 4, 4), F64), *ix = NULL, *y;
    tl_pool2d_opts o = tl_pool2d_opts_default(2, 2);
    y = tl_max_pool2d(x, &o, &ix);
    REQUIRE(y != NULL && ix != NULL);
    CHECK_EQ_INT(tl_item_i64(tl_select(tl_view(ix, TL_SHAPE(4)), 0, 0)), 1);  /* 9 at (0,1) */
    CHECK_EQ_INT(tl_item_i64(tl_select(tl_view(ix, TL_SHAPE(4)), 0, 1)), 6);  /* 8 at (1,2) */
    CHECK_EQ_INT(tl_item_i64(tl_select(tl_view(ix, TL_SHAPE(4)), 0, 2)), 12); /* 15 at (3,0) */
    CHECK_EQ_INT(tl_item_i64(tl_select(tl_view(ix, TL_SHAPE(4)), 0, 3)), 15); /* 14 at (3,3) */
    CHECK_NEAR(tl_item(tl_sum_all(y)), 9 + 8 + 15 + 14, 0);
    /* a plane of a 3-D input: indices are per plane, not global */
    x = tl_to_dtype(tl_from_data(v, TL_SHAPE(4, 2, 2), F64), F32);
    y = tl_max_pool2d(x, &o, &ix);
    REQUIRE(y != NULL && ix != NULL);
    CHECK_EQ_INT(tl_ndim(ix), 3);
    /* planes {1,9,2,3} {4,5,8,6} {7,0,11,10} {15,12,13,14}: maxima at 1, 2, 2, 0 */
    CHECK_EQ_INT(tl_item_i64(tl_sum_all(ix)), 1 + 2 + 2 + 0);
    CHECK_NEAR(tl_item(tl_sum_all(y)), 9 + 8 + 11 + 15, 0);
    tl_scope_end(sc);
}

/* Loss forward values against the formulas (float64, and float32 to 1e-6 relative). */
TEST(fn_loss_forward_direct) {
    int d, r;
    for (d = 0; d < 2; d++)
        for (r = 0; r < 3; r++) {
            tl_scope sc = tl_scope_begin();
            tl_dtype dt = d ? F64 : F32;
            tl_reduction red = REDS[r];
            double tol = d ? 1e-13 : 2e-6;
            tl_tensor *x = RND(LT, dt, U(-3, 3), 4, 5), *p = RND(LC, dt, U(0.02, 0.98), 4, 5);
            tl_tensor *y = RND(LP, dt, U(0, 1), 4, 5), *tg = RND(LC, dt, U(-2, 2), 4, 5);
            tl_tensor *cw = RND(LC, dt, U(0.2, 2), 5), *pw = RND(LC, dt, U(0.25, 3), 5);
            tl_tensor *t = TARGETS(0, 4, 2, -100, 4, 0);
            double per[6][20], s[6] = {0}, wsum = 0, wsum_ce = 0;
            int64_t i, j, n = 20;
            tl_tensor *got[6];
            static const char *names[6] = {"cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1 (beta 0.7)",
                                           "bce_with_logits"};
            int k;
            /* per-element terms */
            for (i = 0; i < 4; i++) {
                double m = -INFINITY, lse = 0;
                int64_t ti = tl_get(t, (const int64_t[]){i}) == -100 ? -1 : (int64_t)tl_get(t, (const int64_t[]){i});
                for (j = 0; j < 5; j++) m = fmax(m, at(x, i * 5 + j));
                for (j = 0; j < 5; j++) lse += exp(at(x, i * 5 + j) - m);
                lse = m + log(lse);
                per[0][i] = ti < 0 ? 0 : at(cw, ti) * (lse - at(x, i * 5 + ti));
                per[1][i] = ti < 0 ? 0 : -at(cw, ti) * at(x, i * 5 + ti);
                if (ti >= 0) wsum += at(cw, ti), wsum_ce += at(cw, ti);
            }
            for (i = 0; i < n; i++) {
                double dd = at(x, i) - at(tg, i), ad = fabs(dd), xv = at(x, i), yv = at(y, i), pv = at(pw, i % 5);
                per[2][i] = dd * dd;
                per[3][i] = ad;
                per[4][i] = ad < 0.7 ? 0.5 * dd * dd / 0.7 : ad - 0.35;
                per[5][i] = (1 - yv) * xv + (1 + (pv - 1) * yv) * (log1p(exp(-fabs(xv))) + fmax(-xv, 0));
            }
            for (k = 0; k < 6; k++) {
                int64_t m = k < 2 ? 4 : n;
                for (i = 0; i < m; i++) s[k] += per[k][i];
            }
            got[0] = tl_cross_entropy(x, t, cw, -100, red);
            got[1] = tl_nll_loss(x, t, cw, -100, red);
            got[2] = tl_mse_loss(x, tg, red);
            got[3] = tl_l1_loss(x, tg, red);
            got[4] = tl_smooth_l1_loss(x, tg, 0.7, red);
            got[5] = tl_bce_with_logits(x, y, pw, red);
            for (k = 0; k < 6; k++) {
                int64_t m = k < 2 ? 4 : n;
                double div = k == 0 ? wsum_ce : k == 1 ? wsum : (double)m;
                if (!CHECK(got[k] != NULL)) {
                    printf("  %s: %s\n", names[k], tl_last_error());
                    tl_clear_error();
                    continue;
                }
                CHECK_EQ_INT(tl_dtype_of(got[k]), dt);
                if (red == TL_REDUCTION_NONE) {
                    int64_t shp[2] = {4, 5};
                    if (!CHECK(close_to(got[k], per[k], k < 2 ? 1 : 2, shp, tol)))
                        printf("  %s %s reduction none\n", names[k], tl_dtype_name(dt));
                } else {
                    double want = red == TL_REDUCTION_SUM ? s[k] : s[k] / div;
                    if (!CHECK(fabs(tl_item(got[k]) - want) <= tol * (1 + fabs(want))))
                        printf("  %s %s %s: got %.17g want %.17g\n", names[k], tl_dtype_name(dt), red_name(red),
                               tl_item(got[k]), want);
                    CHECK_EQ_INT(tl_ndim(got[k]), 0);
                }
            }
            /* bce: probabilities, soft targets */
            {
                double want = 0, pe[20];
                tl_tensor *b = tl_bce_loss(p, y, red);
                for (i = 0; i < n; i++) {
                    pe[i] = -(at(y, i) * log(at(p, i)) + (1 - at(y, i)) * log1p(-at(p, i)));
                    want += pe[i];
                }
                if (red == TL_REDUCTION_MEAN) want /= (double)n;
                if (CHECK(b != NULL)) {
                    if (red == TL_REDUCTION_NONE) {
                        int64_t shp[2] = {4, 5};
                        CHECK(close_to(b, pe, 2, shp, tol));
                    } else {
                        CHECK_NEAR(tl_item(b), want, tol * (1 + fabs(want)));
                    }
                }
            }
            tl_clear_error();
            tl_scope_end(sc);
        }
}

/* bce: torch clamps each log at -100, so probabilities exactly 0 or 1 give finite losses. */
TEST(fn_bce_clamps_log) {
    int d;
    for (d = 0; d < 2; d++) {
        tl_scope sc = tl_scope_begin();
        tl_dtype dt = d ? F64 : F32;
        static const double pv[4] = {0, 1, 0, 1}, yv[4] = {1, 0, 0, 1};
        tl_tensor *p = tl_from_data(pv, TL_SHAPE(4), F64), *y = tl_from_data(yv, TL_SHAPE(4), F64), *l;
        p = tl_to_dtype(p, dt);
        y = tl_to_dtype(y, dt);
        l = tl_bce_loss(p, y, TL_REDUCTION_NONE);
        REQUIRE(l != NULL);
        CHECK_NEAR(tl_get(l, (const int64_t[]){0}), 100.0, 0);
        CHECK_NEAR(tl_get(l, (const int64_t[]){1}), 100.0, 0);
        CHECK_NEAR(tl_get(l, (const int64_t[]){2}), 0.0, 0);
        CHECK_NEAR(tl_get(l, (const int64_t[]){3}), 0.0, 0);
        CHECK_NEAR(tl_item(tl_bce_loss(p, y, TL_REDUCTION_MEAN)), 50.0, 0);
        tl_scope_end(sc);
    }
}

/* torch's values at special inputs (PyTorch 1.13, /usr/bin/python3):
   F.max_pool2d(tensor([[[[nan, 1., nan, 2.]]]]), (1, 4), return_indices=True) -> (nan, index 2): the CPU
   kernel's `if ((val > maxval) || std::isnan(val))` keeps moving to later NaNs, so the LAST NaN wins.
   F.binary_cross_entropy(p = [0, 1, 0, 1], y = [1, 0, 0, 1], reduction='sum'): loss 200, p.grad
   [-1e12, 1e12, 0, 0]: torch's backward is (p - y) / max(p (1 - p), 1e-12). (wip/bugs_functional.md) */
TEST(fn_torch_special_values) {
    int d;
    for (d = 0; d < 2; d++) {
        tl_scope sc = tl_scope_begin();
        tl_dtype dt = d ? F64 : F32;
        static const double nv[4] = {NAN, 1, NAN, 2}, pv[4] = {0, 1, 0, 1}, yv[4] = {1, 0, 0, 1};
        tl_pool2d_opts o = tl_pool2d_opts_default(1, 4);
        tl_tensor *x = tl_to_dtype(tl_from_data(nv, TL_SHAPE(1, 1, 1, 4), F64), dt), *ix = NULL, *y, *p, *l, *g;
        y = tl_max_pool2d(x, &o, &ix);
        REQUIRE(y != NULL && ix != NULL);
        CHECK(isnan(tl_item(y)));
        CHECK_EQ_INT(tl_item_i64(ix), 2);
        p = tl_to_dtype(tl_from_data(pv, TL_SHAPE(4), F64), dt);
        tl_requires_grad_(p, 1);
        l = tl_bce_loss(p, tl_to_dtype(tl_from_data(yv, TL_SHAPE(4), F64), dt), TL_REDUCTION_SUM);
        REQUIRE(l != NULL);
        CHECK_NEAR(tl_item(l), 200.0, 0);
        CHECK_EQ_INT(tl_backward(l), TL_OK);
        g = tl_grad(p);
        REQUIRE(g != NULL);
        CHECK_NEAR(tl_get(g, (const int64_t[]){0}), -1e12, 1e12 * 1e-6);
        CHECK_NEAR(tl_get(g, (const int64_t[]){1}), 1e12, 1e12 * 1e-6);
        CHECK_NEAR(tl_get(g, (const int64_t[]){2}), 0.0, 0);
        CHECK_NEAR(tl_get(g, (const int64_t[]){3}), 0.0, 0);
        tl_scope_end(sc);
    }
}

/* ===== bad input =============================================================================== */

static int g_errcases;
/* 1 when msg starts with "op:" */
static int names_op(const char *msg, const char *op) {
    size_t n = strlen(op);
    return msg && strncmp(msg, op, n) == 0 && msg[n] == ':';
}
/* The call failed (returned NULL), with status want, a message starting "op:" and containing each
   needle; then clears the error. */
static void err_check(const char *file, int line, const char *expr, int failed, tl_status want,
                      const char *const *strs) {
    tl_status got = tl_last_status();
    const char *msg = tl_last_error();
    int i, bad = 0;
    g_errcases++;
    th_checks_total++;
    if (!failed) {
        printf("%s:%d: FAILED: `%s` did not fail\n", file, line, expr);
        bad = 1;
    }
    if (got != want) {
        printf("%s:%d: FAILED: `%s`: status %s, expected %s\n", file, line, expr, tl_status_str(got),
               tl_status_str(want));
        bad = 1;
    }
    if (!names_op(msg, strs[0])) {
        printf("%s:%d: FAILED: `%s`: message does not start with \"%s:\"\n", file, line, expr, strs[0]);
        bad = 1;
    }
    for (i = 1; strs[i]; i++)
        if (!strstr(msg, strs[i])) {
            printf("%s:%d: FAILED: `%s`: message lacks \"%s\"\n", file, line, expr, strs[i]);
            bad = 1;
        }
    if (bad) {
        printf("    message: \"%s\"\n", msg);
        th_checks_failed++;
    }
    fflush(stdout);
    tl_clear_error();
}
#define EXPECT_NULL(expr, code, ...)                                                               \
    do {                                                                                           \
        const void *r_;                                                                            \
        tl_clear_error();                                                                          \
        r_ = (expr);                                                                               \
        err_check(__FILE__, __LINE__, #expr, r_ == NULL, code, (const char *const[]){__VA_ARGS__, NULL}); \
    } while (0)
#define Z(dt, ...) tl_zeros(TL_SHAPE(__VA_ARGS__), dt)

TEST(fn_errors_linear) {
    tl_scope sc = tl_scope_begin();
    /* torch: "mat1 and mat2 shapes cannot be multiplied (3x4 and 5x6)" */
    EXPECT_NULL(tl_linear(Z(F32, 3, 4), Z(F32, 6, 5), NULL), TL_ERR_SHAPE, "tl_linear", "3x4", "5x6");
    EXPECT_NULL(tl_linear(Z(F32, 4), Z(F32, 6, 5), NULL), TL_ERR_SHAPE, "tl_linear", "[4]");
    EXPECT_NULL(tl_linear(Z(F32, 3, 4), Z(F32, 2, 5, 4), NULL), TL_ERR_SHAPE, "tl_linear", "[2, 5, 4]", "[3, 4]");
    EXPECT_NULL(tl_linear(Z(F32, 3, 4), Z(F32, 4), NULL), TL_ERR_SHAPE, "tl_linear", "[4]");
    /* bias of the wrong length: torch "The size of tensor a (5) must match the size of tensor b (3)" */
    EXPECT_NULL(tl_linear(Z(F32, 2, 4), Z(F32, 5, 4), Z(F32, 3)), TL_ERR_SHAPE, "tl_linear", "[3]");
    /* mixed dtypes: torch "expected scalar type Float but found Double" */
    EXPECT_NULL(tl_linear(Z(F32, 2, 4), Z(F64, 5, 4), NULL), TL_ERR_DTYPE, "tl_linear", "float32", "float64");
    EXPECT_NULL(tl_linear(NULL, Z(F32, 5, 4), NULL), TL_ERR_ARG, "tl_linear");
    EXPECT_NULL(tl_linear(Z(F32, 2, 4), NULL, NULL), TL_ERR_ARG, "tl_linear");
    tl_scope_end(sc);
}

TEST(fn_errors_conv2d) {
    tl_scope sc = tl_scope_begin();
    tl_conv2d_opts o;
    memset(&o, 0, sizeof o);
    /* torch: "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [5, 5]" */
    EXPECT_NULL(tl_conv2d(Z(F32, 5, 5), Z(F32, 1, 1, 3, 3), NULL, &o), TL_ERR_SHAPE, "tl_conv2d", "[5, 5]");
    EXPECT_NULL(tl_conv2d(Z(F32, 1, 2, 5, 5), Z(F32, 2, 3, 3), NULL, &o), TL_ERR_SHAPE, "tl_conv2d", "[2, 3, 3]");
    /* torch: "expected input[1, 3, 5, 5] to have 2 channels, but got 3 channels instead" */
    EXPECT_NULL(tl_conv2d(Z(F32, 1, 3, 5, 5), Z(F32, 4, 2, 3, 3), NULL, &o), TL_ERR_SHAPE, "tl_conv2d",
                "[1, 3, 5, 5]", "[4, 2, 3, 3]");
    o.groups = 2; /* 3 channels, groups 2 */
    EXPECT_NULL(tl_conv2d(Z(F32, 1, 3, 5, 5), Z(F32, 4, 1, 3, 3), NULL, &o), TL_ERR_SHAPE, "tl_conv2d",
                "[1, 3, 5, 5]");
    /* out channels 3 not divisible by groups 2: torch "out_channels must be divisible by groups" */
    EXPECT_NULL(tl_conv2d(Z(F32, 1, 4, 5, 5), Z(F32, 3, 2, 3, 3), NULL, &o), TL_ERR_SHAPE, "tl_conv2d",
                "[3, 2, 3, 3]");
    o.groups = 0;
    EXPECT_NULL(tl_conv2d(Z(F32, 1, 2, 5, 5), Z(F32, 4, 2, 3, 3), Z(F32, 3), &o), TL_ERR_SHAPE, "tl_conv2d", "[3]");
    EXPECT_NULL(tl_conv2d(Z(F32, 1, 2, 5, 5), Z(F32, 4, 2, 3, 3), Z(F32, 1, 4), &o), TL_ERR_SHAPE, "tl_conv2d",
                "[1, 4]");
    /* torch: "Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size can't be
       greater than actual input size" */
    EXPECT_NULL(tl_conv2d(Z(F32, 1, 2, 2, 2), Z(F32, 4, 2, 3, 3), NULL, &o), TL_ERR_SHAPE, "tl_conv2d",
                "[1, 2, 2, 2]", "[4, 2, 3, 3]");
    o.dilation[0] = 3; /* effective kernel 7 rows > 5 */
    EXPECT_NULL(tl_conv2d(Z(F32, 1, 2, 5, 5), Z(F32, 4, 2, 3, 3), NULL, &o), TL_ERR_SHAPE, "tl_conv2d",
                "[1, 2, 5, 5]");
    o.dilation[0] = 0;
    /* torch: "Input type (double) and bias type (float) should be the same" / weight likewise */
    EXPECT_NULL(tl_conv2d(Z(F32, 1, 2, 5, 5), Z(F64, 4, 2, 3, 3), NULL, &o), TL_ERR_DTYPE, "tl_conv2d", "float32",
                "float64");
    EXPECT_NULL(tl_conv2d(Z(F64, 1, 2, 5, 5), Z(F64, 4, 2, 3, 3), Z(F32, 4), &o), TL_ERR_DTYPE, "tl_conv2d",
                "float32", "float64");
    /* torch: "slow_conv2d_cpu" not implemented for 'Long' */
    EXPECT_NULL(tl_conv2d(Z(TL_I64, 1, 2, 5, 5), Z(TL_I64, 4, 2, 3, 3), NULL, &o), TL_ERR_DTYPE, "tl_conv2d", "int64");
    /* torch: "padding='same' is not supported for strided convolutions" */
    o.padding_same = 1;
    o.stride[1] = 2;
    EXPECT_NULL(tl_conv2d(Z(F32, 1, 2, 5, 5), Z(F32, 4, 2, 3, 3), NULL, &o), TL_ERR_ARG, "tl_conv2d", "[1, 2, 5, 5]");
    memset(&o, 0, sizeof o);
    /* torch: "negative padding is not supported", "non-positive stride is not supported" */
    o.padding[1] = -1;
    EXPECT_NULL(tl_conv2d(Z(F32, 1, 2, 5, 5), Z(F32, 4, 2, 3, 3), NULL, &o), TL_ERR_ARG, "tl_conv2d", "[1, 2, 5, 5]");
    o.padding[1] = 0;
    o.stride[0] = -2;
    EXPECT_NULL(tl_conv2d(Z(F32, 1, 2, 5, 5), Z(F32, 4, 2, 3, 3), NULL, &o), TL_ERR_ARG, "tl_conv2d", "[1, 2, 5, 5]");
    o.stride[0] = 0;
    o.groups = -1;
    EXPECT_NULL(tl_conv2d(Z(F32, 1, 2, 5, 5), Z(F32, 4, 2, 3, 3), NULL, &o), TL_ERR_ARG, "tl_conv2d", "[1, 2, 5, 5]");
    o.groups = 0;
    EXPECT_NULL(tl_conv2d(NULL, Z(F32, 4, 2, 3, 3), NULL, &o), TL_ERR_ARG, "tl_conv2d");
    EXPECT_NULL(tl_conv2d(Z(F32, 1, 2, 5, 5), NULL, NULL, &o), TL_ERR_ARG, "tl_conv2d");
    tl_scope_end(sc);
}

TEST(fn_errors_pool) {
    tl_scope sc = tl_scope_begin();
    tl_pool2d_opts o = tl_pool2d_opts_default(2, 2);
    tl_tensor *ix = (tl_tensor *)&o; /* must be set to NULL on failure */
    EXPECT_NULL(tl_max_pool2d(Z(F32, 1, 2, 4, 4), NULL, NULL), TL_ERR_ARG, "tl_max_pool2d", "[1, 2, 4, 4]");
    EXPECT_NULL(tl_avg_pool2d(Z(F32, 1, 2, 4, 4), NULL), TL_ERR_ARG, "tl_avg_pool2d", "[1, 2, 4, 4]");
    /* torch: "non-empty 3D or 4D (batch mode) tensor expected for input" */
    EXPECT_NULL(tl_max_pool2d(Z(F32, 4, 4), &o, &ix), TL_ERR_SHAPE, "tl_max_pool2d", "[4, 4]");
    CHECK(ix == NULL);
    EXPECT_NULL(tl_avg_pool2d(Z(F32, 1, 1, 1, 4, 4), &o), TL_ERR_SHAPE, "tl_avg_pool2d", "[1, 1, 1, 4, 4]");
    /* torch: "max_pool2d" not implemented for 'Long' */
    EXPECT_NULL(tl_max_pool2d(Z(TL_I64, 1, 2, 4, 4), &o, NULL), TL_ERR_DTYPE, "tl_max_pool2d", "int64");
    EXPECT_NULL(tl_avg_pool2d(Z(TL_I64, 1, 2, 4, 4), &o), TL_ERR_DTYPE, "tl_avg_pool2d", "int64");
    /* torch: "pad should be at most half of effective kernel size" / "... smaller than or equal to half" */
    o = tl_pool2d_opts_default(3, 3);
    o.padding[1] = 2;
    EXPECT_NULL(tl_max_pool2d(Z(F32, 1, 2, 6, 6), &o, NULL), TL_ERR_ARG, "tl_max_pool2d", "[1, 2, 6, 6]");
    EXPECT_NULL(tl_avg_pool2d(Z(F32, 1, 2, 6, 6), &o), TL_ERR_ARG, "tl_avg_pool2d", "[1, 2, 6, 6]");
    /* torch: "Given input size: (2x3x3). Calculated output size: (2x0x0). Output size is too small" */
    o = tl_pool2d_opts_default(4, 4);
    EXPECT_NULL(tl_max_pool2d(Z(F32, 1, 2, 3, 3), &o, NULL), TL_ERR_SHAPE, "tl_max_pool2d", "[1, 2, 3, 3]");
    EXPECT_NULL(tl_avg_pool2d(Z(F32, 2, 3, 3), &o), TL_ERR_SHAPE, "tl_avg_pool2d", "[2, 3, 3]");
    o = tl_pool2d_opts_default(3, 3);
    o.dilation[0] = 2; /* effective kernel 5 > 4 rows */
    EXPECT_NULL(tl_max_pool2d(Z(F32, 1, 2, 4, 6), &o, NULL), TL_ERR_SHAPE, "tl_max_pool2d", "[1, 2, 4, 6]");
    /* avg_pool2d has no dilation */
    EXPECT_NULL(tl_avg_pool2d(Z(F32, 1, 2, 6, 6), &o), TL_ERR_ARG, "tl_avg_pool2d", "[1, 2, 6, 6]");
    /* torch: "kernel_size must be greater than zero", "stride should be greater than zero" */
    o = tl_pool2d_opts_default(0, 2);
    EXPECT_NULL(tl_max_pool2d(Z(F32, 1, 2, 4, 4), &o, NULL), TL_ERR_ARG, "tl_max_pool2d", "[1, 2, 4, 4]");
    o = tl_pool2d_opts_default(2, 2);
    o.stride[0] = -1;
    EXPECT_NULL(tl_avg_pool2d(Z(F32, 1, 2, 4, 4), &o), TL_ERR_ARG, "tl_avg_pool2d", "[1, 2, 4, 4]");
    o = tl_pool2d_opts_default(2, 2);
    o.padding[0] = -1;
    EXPECT_NULL(tl_max_pool2d(Z(F32, 1, 2, 4, 4), &o, NULL), TL_ERR_ARG, "tl_max_pool2d", "[1, 2, 4, 4]");
    o = tl_pool2d_opts_default(2, 2);
    o.dilation[1] = -1; /* torch: "dilation should be greater than zero" */
    EXPECT_NULL(tl_max_pool2d(Z(F32, 1, 2, 4, 4), &o, NULL), TL_ERR_ARG, "tl_max_pool2d", "[1, 2, 4, 4]");
    EXPECT_NULL(tl_max_pool2d(NULL, &o, NULL), TL_ERR_ARG, "tl_max_pool2d");
    tl_scope_end(sc);
}

TEST(fn_errors_losses) {
    tl_scope sc = tl_scope_begin();
    tl_tensor *t4 = TARGETS(0, 4, 0, 1, 2, 3);
    /* torch: "Expected input batch_size (4) to match target batch_size (3)." */
    EXPECT_NULL(tl_nll_loss(Z(F32, 4, 5), TARGETS(0, 3, 0, 1, 2), NULL, -100, TL_REDUCTION_MEAN), TL_ERR_SHAPE,
                "tl_nll_loss", "[4, 5]", "[3]");
    EXPECT_NULL(tl_cross_entropy(Z(F32, 4, 5), TARGETS(0, 3, 0, 1, 2), NULL, -100, TL_REDUCTION_MEAN), TL_ERR_SHAPE,
                "tl_cross_entropy", "[4, 5]", "[3]");
    /* torch: "expected scalar type Long but found Int" */
    EXPECT_NULL(tl_nll_loss(Z(F32, 4, 5), Z(TL_I32, 4), NULL, -100, TL_REDUCTION_MEAN), TL_ERR_DTYPE, "tl_nll_loss",
                "int32");
    /* a floating target holds class probabilities and must have the input's shape; torch 1.13:
       "expected scalar type Long but found Float" */
    EXPECT_NULL(tl_cross_entropy(Z(F32, 4, 5), Z(F32, 4), NULL, -100, TL_REDUCTION_MEAN), TL_ERR_SHAPE,
                "tl_cross_entropy", "[4, 5]", "[4]");
    EXPECT_NULL(tl_cross_entropy(Z(F32, 4, 5), Z(TL_I32, 4), NULL, -100, TL_REDUCTION_MEAN), TL_ERR_DTYPE,
                "tl_cross_entropy", "int32");
    /* torch: IndexError "Target 5 is out of bounds." */
    EXPECT_NULL(tl_nll_loss(Z(F32, 4, 5), TARGETS(0, 4, 0, 5, 1, 1), NULL, -100, TL_REDUCTION_SUM), TL_ERR_INDEX,
                "tl_nll_loss", "5");
    EXPECT_NULL(tl_cross_entropy(Z(F64, 4, 5), TARGETS(0, 4, 0, -3, 1, 1), NULL, -100, TL_REDUCTION_NONE),
                TL_ERR_INDEX, "tl_cross_entropy", "-3");
    /* torch: "weight tensor should be defined either for all 5 classes or no classes but got weight
       tensor of shape: [4]" */
    EXPECT_NULL(tl_nll_loss(Z(F32, 4, 5), t4, Z(F32, 4), -100, TL_REDUCTION_MEAN), TL_ERR_SHAPE, "tl_nll_loss", "[4]");
    EXPECT_NULL(tl_cross_entropy(Z(F32, 4, 5), t4, Z(F32, 1, 5), -100, TL_REDUCTION_MEAN), TL_ERR_SHAPE,
                "tl_cross_entropy", "[1, 5]");
    /* a weight of another dtype: torch "expected scalar type Float but found Double" */
    EXPECT_NULL(tl_nll_loss(Z(F32, 4, 5), t4, Z(F64, 5), -100, TL_REDUCTION_MEAN), TL_ERR_DTYPE, "tl_nll_loss",
                "float32", "float64");
    EXPECT_NULL(tl_cross_entropy(Z(F64, 4, 5), t4, Z(F32, 5), -100, TL_REDUCTION_SUM), TL_ERR_DTYPE,
                "tl_cross_entropy", "float32", "float64");
    /* 1-D input takes a 0-dim target; torch: "0D or 1D target tensor expected, multi-target not supported" */
    EXPECT_NULL(tl_nll_loss(Z(F32, 5), TARGETS(0, 1, 2), NULL, -100, TL_REDUCTION_MEAN), TL_ERR_SHAPE, "tl_nll_loss",
                "[5]", "[1]");
    EXPECT_NULL(tl_nll_loss(Z(F32, 4, 5), Z(TL_I64, 4, 1), NULL, -100, TL_REDUCTION_MEAN), TL_ERR_SHAPE,
                "tl_nll_loss", "[4, 1]");
    /* not a valid reduction */
    EXPECT_NULL(tl_nll_loss(Z(F32, 4, 5), t4, NULL, -100, (tl_reduction)7), TL_ERR_ARG, "tl_nll_loss", "7");
    EXPECT_NULL(tl_cross_entropy(Z(F32, 4, 5), t4, NULL, -100, (tl_reduction)-1), TL_ERR_ARG, "tl_cross_entropy");
    EXPECT_NULL(tl_mse_loss(Z(F32, 4), Z(F32, 4), (tl_reduction)3), TL_ERR_ARG, "tl_mse_loss", "3");
    EXPECT_NULL(tl_l1_loss(Z(F32, 4), Z(F32, 4), (tl_reduction)3), TL_ERR_ARG, "tl_l1_loss");
    EXPECT_NULL(tl_smooth_l1_loss(Z(F32, 4), Z(F32, 4), 1.0, (tl_reduction)3), TL_ERR_ARG, "tl_smooth_l1_loss");
    EXPECT_NULL(tl_bce_loss(Z(F32, 4), Z(F32, 4), (tl_reduction)3), TL_ERR_ARG, "tl_bce_loss");
    EXPECT_NULL(tl_bce_with_logits(Z(F32, 4), Z(F32, 4), NULL, (tl_reduction)3), TL_ERR_ARG, "tl_bce_with_logits");
    /* shapes that do not broadcast: torch "The size of tensor a (4) must match the size of tensor b (5)" */
    EXPECT_NULL(tl_mse_loss(Z(F32, 3, 4), Z(F32, 3, 5), TL_REDUCTION_MEAN), TL_ERR_SHAPE, "tl_mse_loss", "[3, 4]",
                "[3, 5]");
    EXPECT_NULL(tl_l1_loss(Z(F32, 4), Z(F32, 5), TL_REDUCTION_SUM), TL_ERR_SHAPE, "tl_l1_loss", "[4]", "[5]");
    EXPECT_NULL(tl_smooth_l1_loss(Z(F32, 4), Z(F32, 5), 1.0, TL_REDUCTION_SUM), TL_ERR_SHAPE, "tl_smooth_l1_loss",
                "[4]", "[5]");
    /* torch (ValueError): "Using a target size (torch.Size([3])) that is different to the input size" */
    EXPECT_NULL(tl_bce_loss(Z(F32, 4), Z(F32, 3), TL_REDUCTION_SUM), TL_ERR_SHAPE, "tl_bce_loss", "[4]", "[3]");
    EXPECT_NULL(tl_bce_with_logits(Z(F32, 2, 4), Z(F32, 4), NULL, TL_REDUCTION_SUM), TL_ERR_SHAPE,
                "tl_bce_with_logits", "[2, 4]", "[4]");
    /* pos_weight that does not broadcast: torch "The size of tensor a (3) must match ..." */
    EXPECT_NULL(tl_bce_with_logits(Z(F32, 2, 4), Z(F32, 2, 4), Z(F32, 3), TL_REDUCTION_SUM), TL_ERR_SHAPE,
                "tl_bce_with_logits", "[3]");
    /* torch: "smooth_l1_loss does not support negative values for beta." */
    EXPECT_NULL(tl_smooth_l1_loss(Z(F32, 4), Z(F32, 4), -0.5, TL_REDUCTION_MEAN), TL_ERR_ARG, "tl_smooth_l1_loss",
                "-0.5");
    /* torch: RuntimeError "all elements of input should be between 0 and 1" (wip/bugs_functional.md) */
    EXPECT_NULL(tl_bce_loss(tl_full(TL_SHAPE(3), 1.5, F32), Z(F32, 3), TL_REDUCTION_MEAN), TL_ERR_ARG, "tl_bce_loss",
                "[3]");
    EXPECT_NULL(tl_bce_loss(tl_full(TL_SHAPE(3), -0.25, F64), Z(F64, 3), TL_REDUCTION_NONE), TL_ERR_ARG,
                "tl_bce_loss", "[3]");
    /* integer inputs: torch "mse_cpu"/"binary_cross_entropy" not implemented for 'Long' */
    EXPECT_NULL(tl_mse_loss(Z(TL_I64, 4), Z(TL_I64, 4), TL_REDUCTION_MEAN), TL_ERR_DTYPE, "tl_mse_loss", "int64");
    EXPECT_NULL(tl_bce_loss(Z(TL_I64, 4), Z(TL_I64, 4), TL_REDUCTION_MEAN), TL_ERR_DTYPE, "tl_bce_loss", "int64");
    EXPECT_NULL(tl_nll_loss(Z(TL_I64, 4, 5), t4, NULL, -100, TL_REDUCTION_MEAN), TL_ERR_DTYPE, "tl_nll_loss", "int64");
    /* 3-D input without K-dim support */
    EXPECT_NULL(tl_cross_entropy(Z(F32, 2, 3, 4), t4, NULL, -100, TL_REDUCTION_MEAN), TL_ERR_SHAPE,
                "tl_cross_entropy", "[2, 3, 4]");
    EXPECT_NULL(tl_nll_loss(NULL, t4, NULL, -100, TL_REDUCTION_MEAN), TL_ERR_ARG, "tl_nll_loss");
    EXPECT_NULL(tl_mse_loss(Z(F32, 4), NULL, TL_REDUCTION_MEAN), TL_ERR_ARG, "tl_mse_loss");
    EXPECT_NULL(tl_bce_with_logits(NULL, Z(F32, 4), NULL, TL_REDUCTION_MEAN), TL_ERR_ARG, "tl_bce_with_logits");
    tl_scope_end(sc);
}

/* A pending error: ops given NULL return NULL and keep the first message. */
TEST(fn_errors_propagate) {
    tl_scope sc = tl_scope_begin();
    tl_conv2d_opts o;
    tl_pool2d_opts po = tl_pool2d_opts_default(2, 2);
    tl_tensor *bad, *r;
    char first[512];
    memset(&o, 0, sizeof o);
    bad = tl_linear(Z(F32, 3, 4), Z(F32, 6, 5), NULL);
    CHECK(bad == NULL);
    snprintf(first, sizeof first, "%s", tl_last_error());
    r = tl_mse_loss(tl_max_pool2d(tl_conv2d(bad, Z(F32, 1, 1, 1, 1), NULL, &o), &po, NULL), Z(F32, 1),
                    TL_REDUCTION_MEAN);
    CHECK(r == NULL);
    CHECK(tl_avg_pool2d(bad, &po) == NULL);
    CHECK(tl_cross_entropy(bad, Z(TL_I64, 3), NULL, -100, TL_REDUCTION_MEAN) == NULL);
    CHECK(tl_bce_with_logits(bad, Z(F32, 3), NULL, TL_REDUCTION_MEAN) == NULL);
    CHECK_STR(tl_last_error(), first);
    CHECK_EQ_INT(tl_last_status(), TL_ERR_SHAPE);
    tl_clear_error();
    tl_scope_end(sc);
}

/* Failing ops on inputs that require grad leave nothing alive (the harness counts tensors). */
TEST(fn_errors_with_grad_no_leak) {
    tl_scope sc = tl_scope_begin();
    tl_tensor *x = LEAF(LC, U(-1, 1), 1, 2, 5, 5), *w = LEAF(LC, U(-1, 1), 4, 3, 3, 3), *b = LEAF(LC, U(-1, 1), 4);
    tl_conv2d_opts o;
    tl_pool2d_opts po = tl_pool2d_opts_default(6, 6);
    memset(&o, 0, sizeof o);
    CHECK(tl_conv2d(x, w, b, &o) == NULL);
    tl_clear_error();
    CHECK(tl_max_pool2d(x, &po, NULL) == NULL);
    tl_clear_error();
    CHECK(tl_nll_loss(tl_view(x, TL_SHAPE(2, 25)), TARGETS(0, 2, 0, 30), NULL, -100, TL_REDUCTION_MEAN) == NULL);
    tl_clear_error();
    CHECK(tl_linear(tl_view(x, TL_SHAPE(10, 5)), w, b) == NULL);
    tl_clear_error();
    tl_scope_end(sc);
}

/* Outside any scope: results and indices are owned by the caller; releasing them (and running
   backward first) frees everything. */
TEST(fn_ownership_outside_scope) {
    tl_tensor *x = tl_zeros(TL_SHAPE(1, 1, 4, 4), F64), *w = tl_ones(TL_SHAPE(2, 1, 2, 2), F64), *y, *p, *ix = NULL, *l,
              *t, *g;
    tl_pool2d_opts po = tl_pool2d_opts_default(2, 2);
    tl_conv2d_opts o;
    int64_t i;
    memset(&o, 0, sizeof o);
    for (i = 0; i < 16; i++) tl_set(x, (const int64_t[]){0, 0, i / 4, i % 4}, (double)((i * 7) % 16));
    tl_requires_grad_(x, 1);
    y = tl_conv2d(x, w, NULL, &o);
    p = tl_max_pool2d(y, &po, &ix);
    REQUIRE(p != NULL && ix != NULL);
    t = tl_mul(p, p);
    l = tl_sum_all(t);
    CHECK_EQ_INT(tl_backward(l), TL_OK);
    g = tl_grad(x);
    CHECK(g != NULL);
    tl_release(g);
    tl_release(l);
    tl_release(t);
    tl_release(ix);
    tl_release(p);
    tl_release(y);
    tl_release(w);
    tl_release(x);
}

/* ===== self test and summary =================================================================== */

static tl_tensor *gc_hook_double(const tl_tensor *g, void *user) {
    (void)user;
    return tl_mul_scalar(g, 2.0);
}
/* conv2d whose output's gradient is doubled by a hook: a wrong analytic gradient */
static tl_tensor *f_bad(tl_tensor *const *x, const gc_ctx *c) {
    tl_tensor *y = tl_conv2d(x[0], x[1], NULL, &c->conv);
    if (y && tl_requires_grad(y) && tl_register_hook(y, gc_hook_double, NULL) != TL_OK) return NULL;
    return tl_mul_scalar(y, 1.0);
}
TEST(fn_self_test) {
    tl_scope sc = tl_scope_begin();
    gc_quiet = 1;
    CHECK(!GC("self_test", "conv2d, hook doubles the gradient", f_bad, NULL, LEAF(LC, U(-1, 1), 1, 1, 3, 3),
              LEAF(LC, U(-1, 1), 1, 1, 2, 2)));
    gc_quiet = 0;
    tl_scope_end(sc);
}

TEST(fn_zz_summary) {
    int nops = gc_summary();
    printf("functional: %d gradcheck cases over %d ops, %ld finite-difference evaluations, %d bad-input cases\n",
           gc_ncases, nops, gc_nevals, g_errcases);
}

static const th_case tests[] = {
    TH_CASE(fn_linear),
    TH_CASE(fn_conv2d_basic),
    TH_CASE(fn_conv2d_stride_padding_dilation),
    TH_CASE(fn_conv2d_groups),
    TH_CASE(fn_conv2d_padding_same),
    TH_CASE(fn_conv2d_layouts_and_shapes),
    TH_CASE(fn_max_pool2d),
    TH_CASE(fn_avg_pool2d),
    TH_CASE(fn_nll_loss),
    TH_CASE(fn_cross_entropy),
    TH_CASE(fn_class_loss_all_ignored),
    TH_CASE(fn_cross_entropy_ex),
    TH_CASE(fn_mse_loss),
    TH_CASE(fn_l1_loss),
    TH_CASE(fn_smooth_l1_loss),
    TH_CASE(fn_bce_loss),
    TH_CASE(fn_bce_with_logits),
    TH_CASE(fn_conv2d_forward_direct),
    TH_CASE(fn_pool_forward_direct),
    TH_CASE(fn_max_pool2d_indices_by_hand),
    TH_CASE(fn_loss_forward_direct),
    TH_CASE(fn_bce_clamps_log),
    TH_CASE(fn_torch_special_values),
    TH_CASE(fn_errors_linear),
    TH_CASE(fn_errors_conv2d),
    TH_CASE(fn_errors_pool),
    TH_CASE(fn_errors_losses),
    TH_CASE(fn_errors_propagate),
    TH_CASE(fn_errors_with_grad_no_leak),
    TH_CASE(fn_ownership_outside_scope),
    TH_CASE(fn_self_test),
    TH_CASE(fn_zz_summary),
};
int main(void) { return GC_MAIN(gc_tols, tests); }
