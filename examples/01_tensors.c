/* 01_tensors.c - a tour of the tensor core: creation, views, broadcasting, reductions, matmul,
   errors and scopes. Run with `make demo`. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include <stdio.h>

#define SHOW(label, expr)                     \
    do {                                      \
        printf("%s\n", label);                \
        tl_print(expr);                       \
    } while (0)

int main(void) {
    tl_scope s = tl_scope_begin();

    /* storage vs view: a [2, 3] view of arange(6) shares its memory */
    tl_tensor *a = tl_arange(0, 6, 1, TL_F32);
    tl_tensor *m = tl_view(a, TL_SHAPE(2, 3));
    SHOW("m = torch.arange(6.).view(2, 3)", m);
    printf("m.stride() = (%lld, %lld), contiguous: %d\n", (long long)tl_stride(m)[0],
           (long long)tl_stride(m)[1], tl_is_contiguous(m));
    tl_tensor *mt = tl_t(m);
    printf("m.t().stride() = (%lld, %lld), contiguous: %d\n", (long long)tl_stride(mt)[0],
           (long long)tl_stride(mt)[1], tl_is_contiguous(mt));
    tl_set(m, (const int64_t[]){0, 0}, 42);
    printf("after m[0, 0] = 42, a[0] = %g (same storage)\n", tl_get(a, (const int64_t[]){0}));

    /* view() refuses incompatible strides, reshape() copies when it must */
    if (!tl_view(mt, TL_SHAPE(6))) printf("view error, as in torch:\n  %s\n", tl_last_error());
    tl_clear_error();
    SHOW("m.t().reshape(-1)", tl_reshape(mt, TL_SHAPE(-1)));

    /* broadcasting and type promotion */
    tl_tensor *col = tl_arange(0, 2, 1, TL_I64);                 /* int64 [2] */
    SHOW("m + col.view(2, 1)  (float32 + int64 -> float32)", tl_add(m, tl_view(col, TL_SHAPE(2, 1))));
    SHOW("where(m > 2, m, -1)", tl_where(tl_gt_scalar(m, 2), m, tl_full(TL_SHAPE(1), -1, TL_F32)));

    /* reductions and linear algebra */
    SHOW("m.sum(dim=1)", tl_sum(m, 1, 0));
    SHOW("m.norm(p=2, dim=0)", tl_norm(m, 2, 0, 0));
    SHOW("m.softmax(dim=-1)", tl_softmax(m, -1));
    SHOW("m @ m.t()", tl_matmul(m, mt));
    SHOW("torch.linspace(0, 1, 5, dtype=torch.float64)", tl_linspace(0, 1, 5, TL_F64));

    /* errors: one check at the end of an expression, a message naming op and shapes */
    tl_tensor *bad = tl_relu(tl_add(tl_matmul(m, m), m));
    if (!bad) printf("error (%s): %s\n", tl_status_str(tl_last_status()), tl_last_error());
    tl_clear_error();

    tl_scope_end(s);
    printf("live tensors after the scope: %ld, storages: %ld\n", tl_debug_live_tensors(),
           tl_debug_live_storages());
    return tl_debug_live_tensors() == 0 ? 0 : 1;
}
