/* tests/test_errors.c - bad input: every case calls the API wrongly and checks
   (a) the return value (NULL / the status / a negative int),
   (b) tl_last_status() is the expected code,
   (c) tl_last_error() starts with the public function's name and a colon, and contains each
       relevant shape written like a Python list ("[3, 10]", "[]") and, where dtypes are the
       problem, the torch dtype names ("float32", "int64", ...).
   Each case clears the error afterwards. Where tensorlite errors, PyTorch 1.13 errors too (the
   torch message is quoted next to most cases), except where noted. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include "harness.h"
#include "fail_alloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int g_cases; /* bad-input cases run */

static const char *code_name(tl_status s) {
    switch (s) {
    case TL_OK: return "TL_OK";
    case TL_ERR_ARG: return "TL_ERR_ARG";
    case TL_ERR_SHAPE: return "TL_ERR_SHAPE";
    case TL_ERR_DTYPE: return "TL_ERR_DTYPE";
    case TL_ERR_OOM: return "TL_ERR_OOM";
    case TL_ERR_IO: return "TL_ERR_IO";
    case TL_ERR_STATE: return "TL_ERR_STATE";
    case TL_ERR_FORMAT: return "TL_ERR_FORMAT";
    case TL_ERR_INDEX: return "TL_ERR_INDEX";
    case TL_EPOCH_END: return "TL_EPOCH_END";
    }
    return "(invalid)";
}

/* 1 when msg starts with "op:" */
static int names_op(const char *msg, const char *op) {
    size_t n = strlen(op);
    return msg && strncmp(msg, op, n) == 0 && msg[n] == ':';
}

/* Checks the pending error against the expectation, then clears it. strs[0] is the op name, the
   rest must appear in the message; the list ends with NULL. */
static void err_check(const char *file, int line, const char *expr, tl_status pre,
                      const char *pre_msg, int returned_failure, const char *what_returned,
                      tl_status want, const char *const *strs) {
    tl_status got = tl_last_status();
    const char *msg = tl_last_error();
    int i, bad = 0;
    g_cases++;
    th_checks_total++;
    if (pre != TL_OK) {
        printf("%s:%d: FAILED: an error was already pending before `%s`: %s\n", file, line, expr,
               pre_msg);
        bad = 1;
    }
    if (!returned_failure) {
        printf("%s:%d: FAILED: `%s` did not fail (returned %s)\n", file, line, expr, what_returned);
        bad = 1;
    }
    if (got != want) {
        printf("%s:%d: FAILED: `%s`: status %s, expected %s\n", file, line, expr, code_name(got),
               code_name(want));
        bad = 1;
    }
    if (msg == NULL) {
        printf("%s:%d: FAILED: `%s`: tl_last_error() returned NULL\n", file, line, expr);
        bad = 1;
    } else {
        if (!names_op(msg, strs[0])) {
            printf("%s:%d: FAILED: `%s`: message does not start with \"%s:\"\n", file, line, expr,
                   strs[0]);
            bad = 1;
        }
        for (i = 1; strs[i]; i++) {
            if (!strstr(msg, strs[i])) {
                printf("%s:%d: FAILED: `%s`: message lacks \"%s\"\n", file, line, expr, strs[i]);
                bad = 1;
            }
        }
    }
    if (bad) {
        printf("    message: \"%s\"\n", msg ? msg : "(null)");
        th_checks_failed++;
    }
    fflush(stdout);
    tl_clear_error();
}

#define PRE_                                                                                     \
    tl_status pre_ = tl_last_status();                                                           \
    const char *pre_msg_ = tl_last_error()
#define NEEDLES_(...) ((const char *const[]){__VA_ARGS__, NULL})

/* pointer result must be NULL */
#define EXPECT_NULL(expr, code, ...)                                                             \
    do {                                                                                         \
        PRE_;                                                                                    \
        const void *r_ = (expr);                                                                 \
        err_check(__FILE__, __LINE__, #expr, pre_, pre_msg_, r_ == NULL, "non-NULL", code,       \
                  NEEDLES_(__VA_ARGS__));                                                        \
    } while (0)

/* tl_status (or negative int) result must equal code */
#define EXPECT_STATUS(expr, code, ...)                                                           \
    do {                                                                                         \
        PRE_;                                                                                    \
        int r_ = (int)(expr);                                                                    \
        char buf_[32];                                                                           \
        sprintf(buf_, "%d", r_);                                                                 \
        err_check(__FILE__, __LINE__, #expr, pre_, pre_msg_, r_ == (int)(code), buf_, code,      \
                  NEEDLES_(__VA_ARGS__));                                                        \
    } while (0)

/* result of tl_item / tl_item_i64, documented as 0 on error */
#define EXPECT_VALUE_ERR(expr, code, ...)                                                        \
    do {                                                                                         \
        PRE_;                                                                                    \
        double r_ = (double)(expr);                                                              \
        char buf_[64];                                                                           \
        sprintf(buf_, "%g", r_);                                                                 \
        err_check(__FILE__, __LINE__, #expr, pre_, pre_msg_, r_ == 0.0, buf_, code,              \
                  NEEDLES_(__VA_ARGS__));                                                        \
    } while (0)

/* shorthands for inputs (owned by the test's scope) */
/* a result with no failure value (tl_get): only the error state is checked */
#define EXPECT_ERR(expr, code, ...)                                                              \
    do {                                                                                         \
        PRE_;                                                                                    \
        (void)(expr);                                                                            \
        err_check(__FILE__, __LINE__, #expr, pre_, pre_msg_, 1, "", code,                        \
                  NEEDLES_(__VA_ARGS__));                                                        \
    } while (0)

#define Z(dt, ...) tl_zeros(TL_SHAPE(__VA_ARGS__), dt)
#define F32 TL_F32
#define F64 TL_F64
#define I64 TL_I64
#define I32 TL_I32
#define BOOL TL_BOOL

static tl_tensor *idx64(int n, const int64_t *v) {
    int64_t shape[1];
    shape[0] = n;
    return tl_from_data(v, 1, shape, TL_I64);
}

/* ===== NULL inputs =========================================================================== */

TEST(null_inputs_no_pending_error) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = Z(F32, 2, 3), *b = Z(F32, 2, 3), *ix = NULL;
    tl_tensor *list[2];
    tl_tensor *out[4];
    float buf[6];
    char text[64];
    list[0] = a;
    list[1] = NULL;
    EXPECT_NULL(tl_add(NULL, b), TL_ERR_ARG, "tl_add");
    EXPECT_NULL(tl_add(a, NULL), TL_ERR_ARG, "tl_add");
    EXPECT_NULL(tl_matmul(NULL, b), TL_ERR_ARG, "tl_matmul");
    EXPECT_NULL(tl_relu(NULL), TL_ERR_ARG, "tl_relu");
    EXPECT_NULL(tl_sum(NULL, 0, 0), TL_ERR_ARG, "tl_sum");
    EXPECT_NULL(tl_view(NULL, TL_SHAPE(6)), TL_ERR_ARG, "tl_view");
    EXPECT_NULL(tl_clone(NULL), TL_ERR_ARG, "tl_clone");
    EXPECT_NULL(tl_to_dtype(NULL, F64), TL_ERR_ARG, "tl_to_dtype");
    EXPECT_NULL(tl_cat(2, list, 0), TL_ERR_ARG, "tl_cat");
    EXPECT_NULL(tl_where(NULL, a, b), TL_ERR_ARG, "tl_where");
    EXPECT_NULL(tl_softmax(NULL, 0), TL_ERR_ARG, "tl_softmax");
    EXPECT_NULL(tl_max(NULL, 0, 0, &ix), TL_ERR_ARG, "tl_max");
    EXPECT_NULL(tl_permute(a, 2, NULL), TL_ERR_ARG, "tl_permute");
    EXPECT_NULL(tl_zeros(2, NULL, F32), TL_ERR_ARG, "tl_zeros");
    EXPECT_NULL(tl_from_data(NULL, TL_SHAPE(2, 3), F32), TL_ERR_ARG, "tl_from_data");
    EXPECT_NULL(tl_from_buffer(NULL, TL_SHAPE(2, 3), F32, NULL, NULL), TL_ERR_ARG,
                "tl_from_buffer");
    EXPECT_NULL(tl_zeros_like(NULL), TL_ERR_ARG, "tl_zeros_like");
    EXPECT_NULL(tl_index_select(a, 0, NULL), TL_ERR_ARG, "tl_index_select");
    EXPECT_STATUS(tl_add_(NULL, b), TL_ERR_ARG, "tl_add_");
    EXPECT_STATUS(tl_copy_(a, NULL), TL_ERR_ARG, "tl_copy_");
    EXPECT_STATUS(tl_split(NULL, 1, 0, out, 4), TL_ERR_ARG, "tl_split");
    EXPECT_STATUS(tl_copy_to_buffer(a, NULL, F32), TL_ERR_ARG, "tl_copy_to_buffer");
    EXPECT_STATUS(tl_copy_to_buffer(NULL, buf, F32), TL_ERR_ARG, "tl_copy_to_buffer");
    EXPECT_STATUS(tl_to_string(NULL, text, sizeof text), TL_ERR_ARG, "tl_to_string");
    EXPECT_VALUE_ERR(tl_item(NULL), TL_ERR_ARG, "tl_item");
    tl_scope_end(s);
}

/* tl_relu(tl_add(tl_matmul(bad...), b)): one check at the end, the FIRST message survives */
TEST(null_input_while_error_pending_keeps_first_message) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = Z(F32, 3, 10), *w = Z(F32, 20, 5), *b = Z(F32, 5), *y;
    tl_tensor *list[2];
    tl_tensor *out[2];
    char first[512];
    y = tl_relu(tl_add(tl_matmul(x, w), b));
    CHECK(y == NULL);
    CHECK_EQ_INT(tl_last_status(), TL_ERR_SHAPE);
    CHECK(names_op(tl_last_error(), "tl_matmul"));
    CHECK(strstr(tl_last_error(), "[3, 10]") != NULL);
    CHECK(strstr(tl_last_error(), "[20, 5]") != NULL);
    strncpy(first, tl_last_error(), sizeof first - 1);
    first[sizeof first - 1] = 0;
    /* more NULL inputs while pending: NULL / negative, nothing new recorded */
    CHECK(tl_sum(NULL, 0, 0) == NULL);
    CHECK(tl_view(NULL, TL_SHAPE(-1)) == NULL);
    list[0] = x;
    list[1] = NULL;
    CHECK(tl_cat(2, list, 0) == NULL);
    CHECK(tl_add_(x, NULL) < 0);
    CHECK(tl_split(NULL, 1, 0, out, 2) < 0);
    CHECK_EQ_INT(tl_last_status(), TL_ERR_SHAPE);
    CHECK_STR(tl_last_error(), first);
    /* a second real failure while pending also keeps the first message */
    CHECK(tl_add(Z(F32, 2, 3), Z(F32, 4)) == NULL);
    CHECK_EQ_INT(tl_last_status(), TL_ERR_SHAPE);
    CHECK_STR(tl_last_error(), first);
    /* valid calls still work while an error is pending */
    CHECK(tl_add(b, b) != NULL);
    CHECK_STR(tl_last_error(), first);
    tl_clear_error();
    CHECK_EQ_INT(tl_last_status(), TL_OK);
    CHECK_STR(tl_last_error(), "");
    tl_scope_end(s);
}

/* ===== broadcasting ========================================================================== */

TEST(broadcast_failures) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = Z(F32, 2, 3);
    /* torch: The size of tensor a (3) must match the size of tensor b (4) at non-singleton dim 1 */
    EXPECT_NULL(tl_add(a, Z(F32, 4)), TL_ERR_SHAPE, "tl_add", "[2, 3]", "[4]");
    EXPECT_NULL(tl_mul(a, Z(F32, 3, 2)), TL_ERR_SHAPE, "tl_mul", "[2, 3]", "[3, 2]");
    EXPECT_NULL(tl_sub(Z(F32, 2, 1, 3), Z(F32, 4, 2)), TL_ERR_SHAPE, "tl_sub", "[2, 1, 3]",
                "[4, 2]");
    EXPECT_NULL(tl_div(Z(F64, 5), Z(F64, 2, 4)), TL_ERR_SHAPE, "tl_div", "[5]", "[2, 4]");
    EXPECT_NULL(tl_eq(Z(F32, 3), Z(F32, 4)), TL_ERR_SHAPE, "tl_eq", "[3]", "[4]");
    EXPECT_NULL(tl_lt(Z(F32, 3), Z(F32, 2, 4)), TL_ERR_SHAPE, "tl_lt", "[3]", "[2, 4]");
    EXPECT_NULL(tl_maximum(Z(F32, 3), Z(F32, 4)), TL_ERR_SHAPE, "tl_maximum", "[3]", "[4]");
    EXPECT_NULL(tl_pow(Z(F32, 3), Z(F32, 4)), TL_ERR_SHAPE, "tl_pow", "[3]", "[4]");
    EXPECT_NULL(tl_add_alpha(Z(F32, 3), Z(F32, 4), 2.0), TL_ERR_SHAPE, "tl_add_alpha", "[3]",
                "[4]");
    EXPECT_NULL(tl_where(Z(BOOL, 3), Z(F32, 3), Z(F32, 4)), TL_ERR_SHAPE, "tl_where", "[3]", "[4]");
    EXPECT_NULL(tl_where(Z(BOOL, 4), Z(F32, 3), Z(F32, 3)), TL_ERR_SHAPE, "tl_where", "[4]", "[3]");
    tl_scope_end(s);
}

/* ===== linalg ================================================================================ */

TEST(matmul_family_shape_errors) {
    tl_scope s = tl_scope_begin();
    /* mat1 and mat2 shapes cannot be multiplied (3x10 and 20x5) */
    EXPECT_NULL(tl_matmul(Z(F32, 3, 10), Z(F32, 20, 5)), TL_ERR_SHAPE, "tl_matmul", "[3, 10]",
                "[20, 5]");
    EXPECT_NULL(tl_mm(Z(F32, 3, 10), Z(F32, 20, 5)), TL_ERR_SHAPE, "tl_mm", "[3, 10]", "[20, 5]");
    /* self must be a matrix */
    EXPECT_NULL(tl_mm(Z(F32, 3), Z(F32, 3, 5)), TL_ERR_SHAPE, "tl_mm", "[3]", "[3, 5]");
    /* size mismatch, got 3, 3x10,5 */
    EXPECT_NULL(tl_mv(Z(F32, 3, 10), Z(F32, 5)), TL_ERR_SHAPE, "tl_mv", "[3, 10]", "[5]");
    EXPECT_NULL(tl_mv(Z(F32, 3), Z(F32, 3)), TL_ERR_SHAPE, "tl_mv", "[3]");
    /* Expected size for first two dimensions of batch2 tensor to be: [2, 4] but got: [2, 5]. */
    EXPECT_NULL(tl_bmm(Z(F32, 2, 3, 4), Z(F32, 2, 5, 6)), TL_ERR_SHAPE, "tl_bmm", "[2, 3, 4]",
                "[2, 5, 6]");
    EXPECT_NULL(tl_bmm(Z(F32, 2, 3, 4), Z(F32, 3, 4, 6)), TL_ERR_SHAPE, "tl_bmm", "[2, 3, 4]",
                "[3, 4, 6]");
    /* batch1 must be a 3D tensor */
    EXPECT_NULL(tl_bmm(Z(F32, 3, 4), Z(F32, 4, 6)), TL_ERR_SHAPE, "tl_bmm", "[3, 4]");
    /* inconsistent tensor size, expected tensor [3] and src [4] ... */
    EXPECT_NULL(tl_dot(Z(F32, 3), Z(F32, 4)), TL_ERR_SHAPE, "tl_dot", "[3]", "[4]");
    /* 1D tensors expected, but got 2D and 1D tensors */
    EXPECT_NULL(tl_dot(Z(F32, 3, 1), Z(F32, 3)), TL_ERR_SHAPE, "tl_dot", "[3, 1]");
    /* outer: Expected 1-D argument self, but got 2-D */
    EXPECT_NULL(tl_outer(Z(F32, 3, 1), Z(F32, 3)), TL_ERR_SHAPE, "tl_outer", "[3, 1]");
    /* both arguments to matmul need to be at least 1D, but they are 0D and 1D */
    EXPECT_NULL(tl_matmul(tl_scalar_tensor(1, F32), Z(F32, 3)), TL_ERR_SHAPE, "tl_matmul", "[]",
                "[3]");
    /* batch dims do not broadcast: The size of tensor a (2) must match ... (3) */
    EXPECT_NULL(tl_matmul(Z(F32, 2, 3, 4), Z(F32, 3, 4, 5)), TL_ERR_SHAPE, "tl_matmul",
                "[2, 3, 4]", "[3, 4, 5]");
    EXPECT_NULL(tl_matmul(Z(F32, 3), Z(F32, 4)), TL_ERR_SHAPE, "tl_matmul", "[3]", "[4]");
    EXPECT_NULL(tl_matmul(Z(F32, 2, 3), Z(F32, 4)), TL_ERR_SHAPE, "tl_matmul", "[2, 3]", "[4]");
    tl_scope_end(s);
}

TEST(matmul_family_dtype_mismatch) {
    tl_scope s = tl_scope_begin();
    /* torch does not promote in matmul: expected scalar type Float but found Double */
    EXPECT_NULL(tl_matmul(Z(F32, 2, 3), Z(F64, 3, 2)), TL_ERR_DTYPE, "tl_matmul", "float32",
                "float64");
    EXPECT_NULL(tl_mm(Z(F64, 2, 3), Z(F32, 3, 2)), TL_ERR_DTYPE, "tl_mm", "float64", "float32");
    EXPECT_NULL(tl_mv(Z(F32, 3, 3), Z(F64, 3)), TL_ERR_DTYPE, "tl_mv", "float32", "float64");
    EXPECT_NULL(tl_bmm(Z(F32, 1, 3, 3), Z(F64, 1, 3, 3)), TL_ERR_DTYPE, "tl_bmm", "float32",
                "float64");
    /* dot : expected both vectors to have same dtype, but found Float and Double */
    EXPECT_NULL(tl_dot(Z(F32, 3), Z(F64, 3)), TL_ERR_DTYPE, "tl_dot", "float32", "float64");
    EXPECT_NULL(tl_matmul(Z(F32, 2, 3), Z(I64, 3, 2)), TL_ERR_DTYPE, "tl_matmul", "float32",
                "int64");
    tl_scope_end(s);
}

/* ===== views ================================================================================= */

TEST(view_errors) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = Z(F32, 2, 3);
    tl_tensor *at = tl_t(a); /* [3, 2], strides (1, 3) */
    /* view size is not compatible with input tensor's size and stride ... Use .reshape(...) */
    EXPECT_NULL(tl_view(at, TL_SHAPE(6)), TL_ERR_SHAPE, "tl_view", "[3, 2]", "[6]");
    EXPECT_NULL(tl_view(tl_transpose(Z(F32, 2, 3, 4), 0, 2), TL_SHAPE(4, 6)), TL_ERR_SHAPE,
                "tl_view", "[4, 3, 2]", "[4, 6]");
    /* shape '[4]' is invalid for input of size 6 */
    EXPECT_NULL(tl_view(a, TL_SHAPE(4)), TL_ERR_SHAPE, "tl_view", "[4]", "[2, 3]");
    /* shape '[-1, 4]' is invalid for input of size 6 */
    EXPECT_NULL(tl_view(a, TL_SHAPE(-1, 4)), TL_ERR_SHAPE, "tl_view", "[-1, 4]");
    /* malformed shape arguments are TL_ERR_SHAPE too (tensorlite's choice: every bad size list,
       negative sizes and too many dims included, is a shape error) */
    /* only one dimension can be inferred */
    EXPECT_NULL(tl_view(a, TL_SHAPE(-1, -1)), TL_ERR_SHAPE, "tl_view", "[-1, -1]");
    /* invalid shape dimension -2 */
    EXPECT_NULL(tl_view(a, TL_SHAPE(-2, 3)), TL_ERR_SHAPE, "tl_view", "[-2, 3]");
    EXPECT_NULL(tl_reshape(a, TL_SHAPE(5)), TL_ERR_SHAPE, "tl_reshape", "[5]", "[2, 3]");
    EXPECT_NULL(tl_reshape(a, TL_SHAPE(-1, -1)), TL_ERR_SHAPE, "tl_reshape", "[-1, -1]");
    tl_scope_end(s);
}

TEST(transpose_permute_errors) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = Z(F32, 2, 3);
    /* Dimension out of range (expected to be in range of [-2, 1], but got 2) */
    EXPECT_NULL(tl_transpose(a, 0, 2), TL_ERR_ARG, "tl_transpose", "[2, 3]");
    EXPECT_NULL(tl_transpose(a, -3, 0), TL_ERR_ARG, "tl_transpose", "[2, 3]");
    /* t() expects a tensor with <= 2 dimensions, but self is 3D */
    EXPECT_NULL(tl_t(Z(F32, 2, 3, 4)), TL_ERR_SHAPE, "tl_t", "[2, 3, 4]");
    /* permute(): duplicate dims are not allowed. */
    EXPECT_NULL(tl_permute(a, TL_DIMS(0, 0)), TL_ERR_ARG, "tl_permute");
    EXPECT_NULL(tl_permute(a, TL_DIMS(1, -1)), TL_ERR_ARG, "tl_permute");
    /* number of dims don't match in permute */
    EXPECT_NULL(tl_permute(a, TL_DIMS(0)), TL_ERR_ARG, "tl_permute", "[2, 3]");
    EXPECT_NULL(tl_permute(a, TL_DIMS(0, 2)), TL_ERR_ARG, "tl_permute", "[2, 3]");
    tl_scope_end(s);
}

TEST(narrow_select_slice_errors) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = Z(F32, 2, 3);
    /* start (2) + length (2) exceeds dimension size (3). */
    EXPECT_NULL(tl_narrow(a, 1, 2, 2), TL_ERR_INDEX, "tl_narrow", "[2, 3]");
    EXPECT_NULL(tl_narrow(a, 1, 4, 0), TL_ERR_INDEX, "tl_narrow", "[2, 3]");
    EXPECT_NULL(tl_narrow(a, 2, 0, 1), TL_ERR_ARG, "tl_narrow", "[2, 3]");
    /* select(): index 3 out of range for tensor of size [2, 3] at dimension 1 */
    EXPECT_NULL(tl_select(a, 1, 3), TL_ERR_INDEX, "tl_select", "[2, 3]");
    EXPECT_NULL(tl_select(a, 1, -4), TL_ERR_INDEX, "tl_select", "[2, 3]");
    EXPECT_NULL(tl_select(a, 2, 0), TL_ERR_ARG, "tl_select", "[2, 3]");
    EXPECT_NULL(tl_select(a, -3, 0), TL_ERR_ARG, "tl_select", "[2, 3]");
    /* select() cannot be applied to a 0-dim tensor. */
    EXPECT_NULL(tl_select(tl_scalar_tensor(1, F32), 0, 0), TL_ERR_ARG, "tl_select", "[]");
    /* slice step cannot be zero / step must be greater than zero */
    EXPECT_NULL(tl_slice(a, 1, 0, TL_END, 0), TL_ERR_ARG, "tl_slice");
    EXPECT_NULL(tl_slice(a, 1, 0, TL_END, -1), TL_ERR_ARG, "tl_slice");
    EXPECT_NULL(tl_slice(a, 2, 0, TL_END, 1), TL_ERR_ARG, "tl_slice", "[2, 3]");
    tl_scope_end(s);
}

TEST(expand_squeeze_flatten_errors) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = Z(F32, 2, 3);
    /* The expanded size of the tensor (4) must match the existing size (3) at non-singleton
       dimension 1.  Target sizes: [2, 4].  Tensor sizes: [2, 3] */
    EXPECT_NULL(tl_expand(a, TL_SHAPE(2, 4)), TL_ERR_SHAPE, "tl_expand", "[2, 3]", "[2, 4]");
    /* the number of sizes provided (1) must be greater or equal to the number of dimensions */
    EXPECT_NULL(tl_expand(a, TL_SHAPE(3)), TL_ERR_SHAPE, "tl_expand", "[2, 3]", "[3]");
    EXPECT_NULL(tl_expand_as(a, Z(F32, 2, 4)), TL_ERR_SHAPE, "tl_expand_as", "[2, 3]", "[2, 4]");
    EXPECT_NULL(tl_squeeze_dim(a, 2), TL_ERR_ARG, "tl_squeeze_dim", "[2, 3]");
    EXPECT_NULL(tl_squeeze_dim(a, -3), TL_ERR_ARG, "tl_squeeze_dim", "[2, 3]");
    /* unsqueeze accepts [-3, 2] on a 2-D tensor */
    EXPECT_NULL(tl_unsqueeze(a, 3), TL_ERR_ARG, "tl_unsqueeze", "[2, 3]");
    EXPECT_NULL(tl_unsqueeze(a, -4), TL_ERR_ARG, "tl_unsqueeze", "[2, 3]");
    /* flatten() has invalid args: start_dim cannot come after end_dim */
    EXPECT_NULL(tl_flatten(Z(F32, 2, 3, 4), 2, 1), TL_ERR_ARG, "tl_flatten");
    EXPECT_NULL(tl_flatten(Z(F32, 2, 3, 4), 0, 3), TL_ERR_ARG, "tl_flatten", "[2, 3, 4]");
    /* unflatten: Provided sizes [4, 2] don't multiply up to the size of dim 1 (6) */
    EXPECT_NULL(tl_unflatten(Z(F32, 2, 6), 1, TL_SHAPE(4, 2)), TL_ERR_SHAPE, "tl_unflatten",
                "[4, 2]", "[2, 6]");
    EXPECT_NULL(tl_unflatten(Z(F32, 2, 6), 2, TL_SHAPE(3, 2)), TL_ERR_ARG, "tl_unflatten",
                "[2, 6]");
    tl_scope_end(s);
}

TEST(cat_stack_split_errors) {
    tl_scope s = tl_scope_begin();
    tl_tensor *l1[2], *l2[2], *l3[2], *l4[2], *out[8];
    tl_tensor *v = tl_arange(0, 10, 1, F32);
    l1[0] = Z(F32, 2, 3);
    l1[1] = Z(F32, 2, 4);
    l2[0] = Z(F32, 2, 3);
    l2[1] = Z(F32, 3);
    l3[0] = Z(F32, 2, 3);
    l3[1] = Z(F32, 3, 2);
    l4[0] = tl_scalar_tensor(1, F32);
    l4[1] = tl_scalar_tensor(2, F32);
    /* Sizes of tensors must match except in dimension 0. Expected size 3 but got size 4 ... */
    EXPECT_NULL(tl_cat(2, l1, 0), TL_ERR_SHAPE, "tl_cat", "[2, 3]", "[2, 4]");
    /* Tensors must have same number of dimensions: got 2 and 1 */
    EXPECT_NULL(tl_cat(2, l2, 0), TL_ERR_SHAPE, "tl_cat", "[2, 3]", "[3]");
    /* zero-dimensional tensor (at position 0) cannot be concatenated */
    EXPECT_NULL(tl_cat(2, l4, 0), TL_ERR_SHAPE, "tl_cat", "[]");
    /* torch.cat(): expected a non-empty list of Tensors */
    EXPECT_NULL(tl_cat(0, l1, 0), TL_ERR_ARG, "tl_cat");
    EXPECT_NULL(tl_cat(2, l1, 2), TL_ERR_ARG, "tl_cat");
    /* stack expects each tensor to be equal size, but got [2, 3] at entry 0 and [3, 2] ... */
    EXPECT_NULL(tl_stack(2, l3, 0), TL_ERR_SHAPE, "tl_stack", "[2, 3]", "[3, 2]");
    /* stack expects a non-empty TensorList */
    EXPECT_NULL(tl_stack(0, l3, 0), TL_ERR_ARG, "tl_stack");
    /* stack accepts dims in [-3, 2] for 2-D inputs */
    l3[1] = Z(F32, 2, 3); /* now equal shapes: only the dim is wrong */
    EXPECT_NULL(tl_stack(2, l3, 3), TL_ERR_ARG, "tl_stack");
    EXPECT_NULL(tl_stack(2, l3, -4), TL_ERR_ARG, "tl_stack");
    /* split_size can only be 0 if dimension size is 0, but got dimension size of 10 */
    EXPECT_STATUS(tl_split(v, 0, 0, out, 8), TL_ERR_ARG, "tl_split", "[10]");
    /* split expects split_size be non-negative, but got split_size=-1 */
    EXPECT_STATUS(tl_split(v, -1, 0, out, 8), TL_ERR_ARG, "tl_split");
    EXPECT_STATUS(tl_split(v, 2, 1, out, 8), TL_ERR_ARG, "tl_split", "[10]");
    /* 10 / 3 -> 4 pieces do not fit in 3 */
    EXPECT_STATUS(tl_split(v, 3, 0, out, 3), TL_ERR_ARG, "tl_split");
    /* chunk expects `chunks` to be greater than 0, got: 0 */
    EXPECT_STATUS(tl_chunk(v, 0, 0, out, 8), TL_ERR_ARG, "tl_chunk");
    EXPECT_STATUS(tl_chunk(v, -1, 0, out, 8), TL_ERR_ARG, "tl_chunk");
    EXPECT_STATUS(tl_chunk(v, 2, 1, out, 8), TL_ERR_ARG, "tl_chunk", "[10]");
    EXPECT_STATUS(tl_chunk(v, 5, 0, out, 2), TL_ERR_ARG, "tl_chunk");
    tl_scope_end(s);
}

/* ===== indexing ============================================================================== */

TEST(index_errors) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = Z(F32, 2, 3);
    const int64_t i3[] = {3}, im1[] = {-1}, ok1[] = {1};
    const int64_t g_oob[] = {3, 0}, g_neg[] = {-1, 0}, g_ok[] = {1, 0}, g_big[] = {1, 0, 0};
    const float fidx[] = {1.0f};
    const int32_t g32[] = {1, 0};
    /* INDICES element is out of DATA bounds, id=3 axis_dim=3 */
    EXPECT_NULL(tl_index_select(a, 1, idx64(1, i3)), TL_ERR_INDEX, "tl_index_select", "[2, 3]");
    EXPECT_NULL(tl_index_select(a, 1, idx64(1, im1)), TL_ERR_INDEX, "tl_index_select", "[2, 3]");
    /* index_select(): Expected dtype int32 or int64 for index */
    EXPECT_NULL(tl_index_select(a, 1, tl_from_data(fidx, TL_SHAPE(1), F32)), TL_ERR_DTYPE,
                "tl_index_select", "float32");
    /* index_select(): Index is supposed to be a vector */
    EXPECT_NULL(tl_index_select(a, 1, tl_view(idx64(1, ok1), TL_SHAPE(1, 1))), TL_ERR_SHAPE,
                "tl_index_select", "[1, 1]");
    EXPECT_NULL(tl_index_select(a, 2, idx64(1, ok1)), TL_ERR_ARG, "tl_index_select", "[2, 3]");
    /* index 3 is out of bounds for dimension 1 with size 3 */
    EXPECT_NULL(tl_gather(a, 1, tl_view(idx64(2, g_oob), TL_SHAPE(2, 1))), TL_ERR_INDEX,
                "tl_gather");
    EXPECT_NULL(tl_gather(a, 1, tl_view(idx64(2, g_neg), TL_SHAPE(2, 1))), TL_ERR_INDEX,
                "tl_gather");
    /* gather(): Expected dtype int64 for index (torch refuses int32 here, unlike index_select) */
    EXPECT_NULL(tl_gather(a, 1, tl_to_dtype(tl_view(idx64(2, g_ok), TL_SHAPE(2, 1)), F32)),
                TL_ERR_DTYPE, "tl_gather", "float32");
    EXPECT_NULL(tl_gather(a, 1, tl_from_data(g32, TL_SHAPE(2, 1), I32)), TL_ERR_DTYPE,
                "tl_gather", "int32");
    /* Index tensor must have the same number of dimensions as input tensor */
    EXPECT_NULL(tl_gather(a, 1, idx64(2, g_ok)), TL_ERR_SHAPE, "tl_gather", "[2]", "[2, 3]");
    EXPECT_NULL(tl_gather(a, 2, tl_view(idx64(2, g_ok), TL_SHAPE(2, 1))), TL_ERR_ARG,
                "tl_gather", "[2, 3]");
    /* Size does not match at dimension 0 expected index [3, 1] to be smaller than self [2, 3] */
    EXPECT_NULL(tl_gather(a, 1, tl_view(idx64(3, g_big), TL_SHAPE(3, 1))), TL_ERR_SHAPE,
                "tl_gather", "[3, 1]", "[2, 3]");
    tl_scope_end(s);
}

TEST(where_masked_fill_errors) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = Z(F32, 3);
    /* where expected condition to be a boolean tensor, but got a tensor with dtype Float */
    EXPECT_NULL(tl_where(Z(F32, 3), a, a), TL_ERR_DTYPE, "tl_where", "float32");
    EXPECT_NULL(tl_where(Z(I64, 3), a, a), TL_ERR_DTYPE, "tl_where", "int64");
    /* masked_fill only supports boolean masks (torch >= 2.0 refuses; the 1.13 build here reads
       a non-bool mask as bytes, which tensorlite does not copy) */
    EXPECT_NULL(tl_masked_fill(a, Z(F32, 3), 1.0), TL_ERR_DTYPE, "tl_masked_fill", "float32");
    EXPECT_NULL(tl_masked_fill(a, Z(I64, 3), 1.0), TL_ERR_DTYPE, "tl_masked_fill", "int64");
    EXPECT_STATUS(tl_masked_fill_(a, Z(TL_U8, 3), 1.0), TL_ERR_DTYPE, "tl_masked_fill_", "uint8");
    /* The size of tensor a (4) must match the size of tensor b (3) at non-singleton dimension 0 */
    EXPECT_NULL(tl_masked_fill(a, Z(BOOL, 4), 1.0), TL_ERR_SHAPE, "tl_masked_fill", "[3]", "[4]");
    /* output with shape [3] doesn't match the broadcast shape [2, 3] */
    EXPECT_STATUS(tl_masked_fill_(a, Z(BOOL, 2, 3), 1.0), TL_ERR_SHAPE, "tl_masked_fill_", "[3]",
                  "[2, 3]");
    tl_scope_end(s);
}

/* ===== dtypes of unary ops and reductions ==================================================== */

TEST(float_only_reductions_on_integers) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x = tl_arange(0, 6, 1, I64), *m = tl_view(x, TL_SHAPE(2, 3));
    /* mean(): could not infer output dtype. Input dtype must be either a floating point ... Long */
    EXPECT_NULL(tl_mean(m, 0, 0), TL_ERR_DTYPE, "tl_mean", "int64");
    EXPECT_NULL(tl_mean_all(Z(BOOL, 3)), TL_ERR_DTYPE, "tl_mean_all", "bool");
    EXPECT_NULL(tl_mean_dims(m, TL_DIMS(0, 1), 0), TL_ERR_DTYPE, "tl_mean_dims", "int64");
    /* std and var only support floating point and complex dtypes */
    EXPECT_NULL(tl_var(m, 0, 1, 0), TL_ERR_DTYPE, "tl_var", "int64");
    EXPECT_NULL(tl_var_all(Z(I32, 3), 1), TL_ERR_DTYPE, "tl_var_all", "int32");
    EXPECT_NULL(tl_std(m, 1, 1, 0), TL_ERR_DTYPE, "tl_std", "int64");
    EXPECT_NULL(tl_std_all(m, 0), TL_ERR_DTYPE, "tl_std_all", "int64");
    /* norm(): input dtype should be either floating point or complex. Got Long instead. */
    EXPECT_NULL(tl_norm(m, 2.0, 0, 0), TL_ERR_DTYPE, "tl_norm", "int64");
    EXPECT_NULL(tl_norm_all(Z(BOOL, 3), 2.0), TL_ERR_DTYPE, "tl_norm_all", "bool");
    EXPECT_NULL(tl_norm_dims(m, 1.0, TL_DIMS(0), 0), TL_ERR_DTYPE, "tl_norm_dims", "int64");
    /* "softmax_kernel_impl" not implemented for 'Long' */
    EXPECT_NULL(tl_softmax(m, 1), TL_ERR_DTYPE, "tl_softmax", "int64");
    EXPECT_NULL(tl_log_softmax(m, 1), TL_ERR_DTYPE, "tl_log_softmax", "int64");
    tl_scope_end(s);
}

TEST(unary_dtype_errors) {
    tl_scope s = tl_scope_begin();
    tl_tensor *bo = Z(BOOL, 3), *i = Z(I64, 3);
    /* Negation, the `-` operator, on a bool tensor is not supported. */
    EXPECT_NULL(tl_neg(bo), TL_ERR_DTYPE, "tl_neg", "bool");
    /* "abs_cpu" not implemented for 'Bool' */
    EXPECT_NULL(tl_abs(bo), TL_ERR_DTYPE, "tl_abs", "bool");
    /* Subtraction, the `-` operator, with two bool tensors is not supported. */
    EXPECT_NULL(tl_sub(bo, bo), TL_ERR_DTYPE, "tl_sub", "bool");
    EXPECT_NULL(tl_sub_scalar(bo, 1), TL_ERR_DTYPE, "tl_sub_scalar", "bool");
    EXPECT_NULL(tl_rsub_scalar(bo, 1), TL_ERR_DTYPE, "tl_rsub_scalar", "bool");
    /* Boolean inputs not supported for relu */
    EXPECT_NULL(tl_relu(bo), TL_ERR_DTYPE, "tl_relu", "bool");
    /* "leaky_relu_cpu" / "GeluKernelImpl" / "silu_cpu" / "softplus_cpu" not implemented for 'Long' */
    EXPECT_NULL(tl_leaky_relu(i, 0.01), TL_ERR_DTYPE, "tl_leaky_relu", "int64");
    EXPECT_NULL(tl_gelu(i, 0), TL_ERR_DTYPE, "tl_gelu", "int64");
    EXPECT_NULL(tl_gelu(Z(I32, 2), 1), TL_ERR_DTYPE, "tl_gelu", "int32");
    EXPECT_NULL(tl_silu(i), TL_ERR_DTYPE, "tl_silu", "int64");
    EXPECT_NULL(tl_softplus(i, 1, 20), TL_ERR_DTYPE, "tl_softplus", "int64");
    /* Integers to negative integer powers are not allowed. */
    EXPECT_NULL(tl_pow_scalar(i, -1), TL_ERR_ARG, "tl_pow_scalar");
    EXPECT_NULL(tl_pow_scalar(Z(TL_U8, 3), -2), TL_ERR_ARG, "tl_pow_scalar");
    /* For integral input tensors, argument alpha must not be a floating point number. */
    EXPECT_NULL(tl_add_alpha(i, i, 0.5), TL_ERR_DTYPE, "tl_add_alpha", "int64");
    EXPECT_NULL(tl_sub_alpha(i, i, 0.5), TL_ERR_DTYPE, "tl_sub_alpha", "int64");
    tl_scope_end(s);
}

TEST(reductions_over_empty) {
    tl_scope s = tl_scope_begin();
    tl_tensor *e = Z(F32, 2, 0), *ix = NULL;
    /* max(): Expected reduction dim 1 to have non-zero size. */
    EXPECT_NULL(tl_max(e, 1, 0, &ix), TL_ERR_SHAPE, "tl_max", "[2, 0]");
    EXPECT_NULL(tl_min(e, -1, 1, NULL), TL_ERR_SHAPE, "tl_min", "[2, 0]");
    EXPECT_NULL(tl_argmax(e, 1, 0), TL_ERR_SHAPE, "tl_argmax", "[2, 0]");
    EXPECT_NULL(tl_argmin(e, 1, 0), TL_ERR_SHAPE, "tl_argmin", "[2, 0]");
    /* max(): Expected reduction dim to be specified for input.numel() == 0. */
    EXPECT_NULL(tl_max_all(Z(F32, 0)), TL_ERR_SHAPE, "tl_max_all", "[0]");
    EXPECT_NULL(tl_min_all(e), TL_ERR_SHAPE, "tl_min_all", "[2, 0]");
    EXPECT_NULL(tl_argmax_all(Z(F32, 0)), TL_ERR_SHAPE, "tl_argmax_all", "[0]");
    EXPECT_NULL(tl_argmin_all(Z(I64, 0, 3)), TL_ERR_SHAPE, "tl_argmin_all", "[0, 3]");
    tl_scope_end(s);
}

/* Every dim-taking op refuses a dim outside [-ndim, ndim-1] (ndim 1 for 0-dim tensors). */
TEST(bad_dims_everywhere) {
    tl_scope s = tl_scope_begin();
    tl_tensor *m = Z(F32, 2, 3), *ix = NULL;
    EXPECT_NULL(tl_sum(m, 2, 0), TL_ERR_ARG, "tl_sum", "[2, 3]");
    EXPECT_NULL(tl_sum(m, -3, 0), TL_ERR_ARG, "tl_sum", "[2, 3]");
    EXPECT_NULL(tl_sum(tl_scalar_tensor(1, F32), 1, 0), TL_ERR_ARG, "tl_sum", "[]");
    EXPECT_NULL(tl_sum_dims(m, TL_DIMS(0, 2), 0), TL_ERR_ARG, "tl_sum_dims", "[2, 3]");
    /* dim 0 appears multiple times in the list of dims */
    EXPECT_NULL(tl_sum_dims(m, TL_DIMS(0, 0), 0), TL_ERR_ARG, "tl_sum_dims");
    EXPECT_NULL(tl_sum_dims(m, TL_DIMS(1, -1), 0), TL_ERR_ARG, "tl_sum_dims");
    EXPECT_NULL(tl_mean_dims(m, TL_DIMS(1, -1), 1), TL_ERR_ARG, "tl_mean_dims");
    EXPECT_NULL(tl_mean(m, 2, 0), TL_ERR_ARG, "tl_mean", "[2, 3]");
    EXPECT_NULL(tl_var(m, 2, 1, 0), TL_ERR_ARG, "tl_var", "[2, 3]");
    EXPECT_NULL(tl_std(m, -3, 1, 0), TL_ERR_ARG, "tl_std", "[2, 3]");
    EXPECT_NULL(tl_prod(m, -3, 0), TL_ERR_ARG, "tl_prod", "[2, 3]");
    EXPECT_NULL(tl_max(m, 2, 0, &ix), TL_ERR_ARG, "tl_max", "[2, 3]");
    EXPECT_NULL(tl_min(m, 2, 0, NULL), TL_ERR_ARG, "tl_min", "[2, 3]");
    EXPECT_NULL(tl_argmax(m, 2, 0), TL_ERR_ARG, "tl_argmax", "[2, 3]");
    EXPECT_NULL(tl_argmin(m, -3, 0), TL_ERR_ARG, "tl_argmin", "[2, 3]");
    EXPECT_NULL(tl_norm(m, 2.0, 2, 0), TL_ERR_ARG, "tl_norm", "[2, 3]");
    EXPECT_NULL(tl_norm_dims(m, 2.0, TL_DIMS(0, 0), 0), TL_ERR_ARG, "tl_norm_dims");
    EXPECT_NULL(tl_logsumexp(m, 2, 0), TL_ERR_ARG, "tl_logsumexp", "[2, 3]");
    EXPECT_NULL(tl_softmax(m, 2), TL_ERR_ARG, "tl_softmax", "[2, 3]");
    EXPECT_NULL(tl_log_softmax(m, -3), TL_ERR_ARG, "tl_log_softmax", "[2, 3]");
    EXPECT_NULL(tl_cumsum(m, 2), TL_ERR_ARG, "tl_cumsum", "[2, 3]");
    EXPECT_NULL(tl_cumsum(Z(F32, 3), 1), TL_ERR_ARG, "tl_cumsum", "[3]");
    tl_scope_end(s);
}

/* ===== element access ======================================================================== */

TEST(element_access_errors) {
    tl_scope s = tl_scope_begin();
    tl_tensor *m = Z(F32, 2, 3);
    const int64_t oob0[] = {2, 0}, oob1[] = {0, 3}, neg[] = {0, -4};
    /* ValueError: only one element tensors can be converted to Python scalars */
    EXPECT_VALUE_ERR(tl_item(Z(F32, 2)), TL_ERR_SHAPE, "tl_item", "[2]");
    EXPECT_VALUE_ERR(tl_item(Z(F32, 0)), TL_ERR_SHAPE, "tl_item", "[0]");
    EXPECT_VALUE_ERR(tl_item_i64(Z(I64, 2, 2)), TL_ERR_SHAPE, "tl_item_i64", "[2, 2]");
    /* index 2 is out of bounds for dimension 0 with size 2 */
    EXPECT_ERR(tl_get(m, oob0), TL_ERR_INDEX, "tl_get", "[2, 3]");
    EXPECT_ERR(tl_get(m, neg), TL_ERR_INDEX, "tl_get", "[2, 3]");
    EXPECT_STATUS(tl_set(m, oob1, 1.0), TL_ERR_INDEX, "tl_set", "[2, 3]");
    EXPECT_STATUS(tl_set(m, neg, 1.0), TL_ERR_INDEX, "tl_set", "[2, 3]");
    tl_scope_end(s);
}

/* ===== in-place ops ========================================================================== */

TEST(inplace_dtype_cast_errors) {
    tl_scope s = tl_scope_begin();
    tl_tensor *i = Z(I64, 3), *bo = Z(BOOL, 3);
    /* result type Float can't be cast to the desired output type Long */
    EXPECT_STATUS(tl_add_(i, Z(F32, 3)), TL_ERR_DTYPE, "tl_add_", "float32", "int64");
    /* result type Double can't be cast to the desired output type Long (0-dim takes part) */
    EXPECT_STATUS(tl_add_(i, tl_scalar_tensor(1.5, F64)), TL_ERR_DTYPE, "tl_add_", "float64",
                  "int64");
    EXPECT_STATUS(tl_add_scalar_(i, 1.5), TL_ERR_DTYPE, "tl_add_scalar_", "float32", "int64");
    EXPECT_STATUS(tl_mul_scalar_(i, 0.5), TL_ERR_DTYPE, "tl_mul_scalar_", "float32", "int64");
    EXPECT_STATUS(tl_sub_scalar_(i, 0.25), TL_ERR_DTYPE, "tl_sub_scalar_", "float32", "int64");
    /* true division of integers gives float32 */
    EXPECT_STATUS(tl_div_(i, Z(I64, 3)), TL_ERR_DTYPE, "tl_div_", "float32", "int64");
    EXPECT_STATUS(tl_div_scalar_(i, 2), TL_ERR_DTYPE, "tl_div_scalar_", "float32", "int64");
    EXPECT_STATUS(tl_mul_(Z(I32, 3), Z(F64, 3)), TL_ERR_DTYPE, "tl_mul_", "float64", "int32");
    /* result type Long can't be cast to the desired output type Bool */
    EXPECT_STATUS(tl_add_(bo, Z(I64, 3)), TL_ERR_DTYPE, "tl_add_", "int64", "bool");
    EXPECT_STATUS(tl_add_alpha_(i, Z(F32, 3), 2), TL_ERR_DTYPE, "tl_add_alpha_", "float32",
                  "int64");
    /* float results of integer inputs cannot go back into the integer tensor */
    EXPECT_STATUS(tl_exp_(i), TL_ERR_DTYPE, "tl_exp_", "float32", "int64");
    EXPECT_STATUS(tl_log_(i), TL_ERR_DTYPE, "tl_log_", "float32", "int64");
    EXPECT_STATUS(tl_sqrt_(i), TL_ERR_DTYPE, "tl_sqrt_", "float32", "int64");
    EXPECT_STATUS(tl_tanh_(i), TL_ERR_DTYPE, "tl_tanh_", "float32", "int64");
    EXPECT_STATUS(tl_sigmoid_(i), TL_ERR_DTYPE, "tl_sigmoid_", "float32", "int64");
    /* result type Float can't be cast to the desired output type long int */
    EXPECT_STATUS(tl_clamp_(i, 0.5, 2.5), TL_ERR_DTYPE, "tl_clamp_", "float32", "int64");
    /* bool tensors: no subtraction, negation or abs */
    EXPECT_STATUS(tl_sub_(bo, Z(BOOL, 3)), TL_ERR_DTYPE, "tl_sub_", "bool");
    EXPECT_STATUS(tl_neg_(bo), TL_ERR_DTYPE, "tl_neg_", "bool");
    EXPECT_STATUS(tl_abs_(bo), TL_ERR_DTYPE, "tl_abs_", "bool");
    EXPECT_STATUS(tl_relu_(bo), TL_ERR_DTYPE, "tl_relu_", "bool");
    /* Integers to negative integer powers are not allowed. */
    EXPECT_STATUS(tl_pow_scalar_(i, -1), TL_ERR_ARG, "tl_pow_scalar_");
    tl_scope_end(s);
}

TEST(inplace_shape_errors) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = Z(F32, 3);
    /* output with shape [3] doesn't match the broadcast shape [2, 3] */
    EXPECT_STATUS(tl_add_(a, Z(F32, 2, 3)), TL_ERR_SHAPE, "tl_add_", "[3]", "[2, 3]");
    EXPECT_STATUS(tl_mul_(Z(F32, 3, 1), Z(F32, 1, 4)), TL_ERR_SHAPE, "tl_mul_", "[3, 1]",
                  "[3, 4]");
    /* The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 0 */
    EXPECT_STATUS(tl_sub_(a, Z(F32, 4)), TL_ERR_SHAPE, "tl_sub_", "[3]", "[4]");
    EXPECT_STATUS(tl_copy_(a, Z(F32, 4)), TL_ERR_SHAPE, "tl_copy_", "[3]", "[4]");
    EXPECT_STATUS(tl_copy_(a, Z(F32, 2, 3)), TL_ERR_SHAPE, "tl_copy_", "[3]", "[2, 3]");
    EXPECT_STATUS(tl_div_(Z(F64, 2, 2), Z(F64, 3)), TL_ERR_SHAPE, "tl_div_", "[2, 2]", "[3]");
    tl_scope_end(s);
}

/* ===== creation ============================================================================== */

TEST(creation_errors) {
    tl_scope s = tl_scope_begin();
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    float data[4] = {0};
    /* Trying to create tensor with negative dimension -1: [-1] */
    EXPECT_NULL(tl_zeros(TL_SHAPE(-1), F32), TL_ERR_SHAPE, "tl_zeros", "[-1]");
    EXPECT_NULL(tl_zeros(TL_SHAPE(2, -3), F32), TL_ERR_SHAPE, "tl_zeros", "[2, -3]");
    EXPECT_NULL(tl_ones(TL_SHAPE(-5), F64), TL_ERR_SHAPE, "tl_ones", "[-5]");
    EXPECT_NULL(tl_full(TL_SHAPE(2, -1), 3.0, F32), TL_ERR_SHAPE, "tl_full", "[2, -1]");
    EXPECT_NULL(tl_empty(TL_SHAPE(-2, 2), F32), TL_ERR_SHAPE, "tl_empty", "[-2, 2]");
    EXPECT_NULL(tl_from_data(data, TL_SHAPE(-1, 2), F32), TL_ERR_SHAPE, "tl_from_data", "[-1, 2]");
    /* more dims than TL_MAX_DIMS (torch itself allows 64): a shape error */
    EXPECT_NULL(tl_zeros(9, nine, F32), TL_ERR_SHAPE, "tl_zeros");
    EXPECT_NULL(tl_empty(-1, nine, F32), TL_ERR_SHAPE, "tl_empty");
    EXPECT_NULL(tl_view(Z(F32, 1), 9, nine), TL_ERR_SHAPE, "tl_view");
    EXPECT_NULL(tl_unsqueeze(tl_zeros(8, nine, F32), 0), TL_ERR_SHAPE, "tl_unsqueeze");
    /* invalid dtype values */
    EXPECT_NULL(tl_zeros(TL_SHAPE(2), (tl_dtype)42), TL_ERR_DTYPE, "tl_zeros");
    EXPECT_NULL(tl_zeros(TL_SHAPE(2), TL_DTYPE_COUNT), TL_ERR_DTYPE, "tl_zeros");
    EXPECT_NULL(tl_scalar_tensor(1.0, (tl_dtype)-1), TL_ERR_DTYPE, "tl_scalar_tensor");
    EXPECT_NULL(tl_to_dtype(Z(F32, 2), (tl_dtype)99), TL_ERR_DTYPE, "tl_to_dtype");
    EXPECT_NULL(tl_arange(0, 3, 1, (tl_dtype)12), TL_ERR_DTYPE, "tl_arange");
    EXPECT_STATUS(tl_copy_to_buffer(Z(F32, 2), data, (tl_dtype)17), TL_ERR_DTYPE,
                  "tl_copy_to_buffer");
    /* upper bound and larger bound inconsistent with step sign */
    EXPECT_NULL(tl_arange(0, 10, -1, F32), TL_ERR_ARG, "tl_arange");
    EXPECT_NULL(tl_arange(10, 0, 1, I64), TL_ERR_ARG, "tl_arange");
    /* step must be nonzero */
    EXPECT_NULL(tl_arange(0, 10, 0, F32), TL_ERR_ARG, "tl_arange");
    /* unsupported range: 0 -> inf / nan */
    EXPECT_NULL(tl_arange(0, INFINITY, 1, F32), TL_ERR_ARG, "tl_arange");
    EXPECT_NULL(tl_arange(0, NAN, 1, F32), TL_ERR_ARG, "tl_arange");
    /* number of steps must be non-negative */
    EXPECT_NULL(tl_linspace(0, 1, -1, F32), TL_ERR_ARG, "tl_linspace");
    /* n must be greater or equal to 0, got -1 / m must be ... got -2 (m < 0 means n here) */
    EXPECT_NULL(tl_eye(-1, -1, F32), TL_ERR_SHAPE, "tl_eye");
    tl_scope_end(s);
}

/* ===== setup, hooks, status strings ========================================================== */

TEST(setup_while_tensors_alive_is_state_error) {
    tl_desc d;
    tl_tensor *t = tl_zeros(TL_SHAPE(2), F32);
    memset(&d, 0, sizeof d);
    EXPECT_STATUS(tl_setup(&d), TL_ERR_STATE, "tl_setup");
    tl_release(t);
    CHECK_EQ_INT(tl_setup(&d), TL_OK);
}

static struct {
    int calls;
    tl_status status;
    char msg[512];
    void *user;
} g_hook;

static void hook_fn(tl_status st, const char *msg, const char *file, int line, void *user) {
    (void)file;
    (void)line;
    g_hook.calls++;
    g_hook.status = st;
    g_hook.user = user;
    strncpy(g_hook.msg, msg ? msg : "(null)", sizeof g_hook.msg - 1);
    g_hook.msg[sizeof g_hook.msg - 1] = 0;
}

TEST(on_error_hook_sees_each_failure) {
    tl_desc d;
    int token = 7;
    memset(&d, 0, sizeof d);
    memset(&g_hook, 0, sizeof g_hook);
    d.on_error = hook_fn;
    d.user_data = &token;
    REQUIRE(tl_setup(&d) == TL_OK);
    {
        tl_scope s = tl_scope_begin();
        tl_tensor *x = Z(F32, 3, 10), *w = Z(F32, 20, 5);
        CHECK(tl_matmul(x, w) == NULL);
        CHECK_EQ_INT(g_hook.calls, 1);
        CHECK_EQ_INT(g_hook.status, TL_ERR_SHAPE);
        CHECK(g_hook.user == &token);
        CHECK_STR(g_hook.msg, tl_last_error());
        CHECK(names_op(g_hook.msg, "tl_matmul"));
        /* a second failure while the first is pending: the hook sees it, the message stays */
        CHECK(tl_add(Z(F32, 2), Z(F32, 3)) == NULL);
        CHECK_EQ_INT(g_hook.calls, 2);
        CHECK(names_op(g_hook.msg, "tl_add"));
        CHECK(names_op(tl_last_error(), "tl_matmul"));
        tl_clear_error();
        CHECK(tl_relu(NULL) == NULL);
        CHECK_EQ_INT(g_hook.calls, 3);
        CHECK_EQ_INT(g_hook.status, TL_ERR_ARG);
        CHECK(tl_zero_(x) == TL_OK);
        CHECK_EQ_INT(g_hook.calls, 3);
        tl_clear_error();
        tl_scope_end(s);
    }
    memset(&d, 0, sizeof d);
    CHECK_EQ_INT(tl_setup(&d), TL_OK);
    CHECK(tl_relu(NULL) == NULL);
    CHECK_EQ_INT(g_hook.calls, 3); /* uninstalled */
    tl_clear_error();
}

TEST(status_str_never_null) {
    CHECK_STR(tl_status_str(TL_OK), "TL_OK");
    CHECK_STR(tl_status_str(TL_ERR_ARG), "TL_ERR_ARG");
    CHECK_STR(tl_status_str(TL_ERR_SHAPE), "TL_ERR_SHAPE");
    CHECK_STR(tl_status_str(TL_ERR_DTYPE), "TL_ERR_DTYPE");
    CHECK_STR(tl_status_str(TL_ERR_OOM), "TL_ERR_OOM");
    CHECK_STR(tl_status_str(TL_ERR_IO), "TL_ERR_IO");
    CHECK_STR(tl_status_str(TL_ERR_STATE), "TL_ERR_STATE");
    CHECK_STR(tl_status_str(TL_ERR_FORMAT), "TL_ERR_FORMAT");
    CHECK_STR(tl_status_str(TL_ERR_INDEX), "TL_ERR_INDEX");
    CHECK(tl_status_str((tl_status)-99) != NULL);
    CHECK(tl_status_str((tl_status)5) != NULL);
    CHECK(tl_status_str((tl_status)-9) != NULL);
    CHECK_STR(tl_last_error(), "");
    CHECK_EQ_INT(tl_last_status(), TL_OK);
}

/* ===== a failing allocator =================================================================== */

/* fail_alloc, fa_alloc, fa_free: tests/fail_alloc.h */

/* y = softmax((x @ w + b) / sum(x @ w + b, 1, keepdim), 1) plus an in-place op, a transposed
   copy and a cat; returns NULL on failure. Every tensor belongs to the caller's scope. */
static tl_tensor *oom_expr(void) {
    tl_tensor *x = tl_view(tl_arange(1, 13, 1, F32), TL_SHAPE(3, 4));
    tl_tensor *w = tl_full(TL_SHAPE(4, 5), 0.25, F32);
    tl_tensor *b = tl_linspace(0, 1, 5, F32);
    tl_tensor *a = tl_add(tl_matmul(x, w), b);
    tl_tensor *y = tl_softmax(tl_div(a, tl_sum(a, 1, 1)), 1);
    tl_tensor *list[2];
    if (tl_add_scalar_(y, 1.0) != TL_OK) return NULL;
    list[0] = y;
    list[1] = tl_contiguous(tl_t(tl_narrow(tl_mean(tl_t(y), 1, 1), 0, 0, 5)));
    return tl_cat(2, list, 0);
}

TEST(failing_allocator_every_step) {
    double ref[20], got[20];
    fail_alloc fa;
    tl_desc d, zero;
    long n;
    int i, reached_success = 0;
    memset(&zero, 0, sizeof zero);
    {
        tl_scope s = tl_scope_begin();
        tl_tensor *r = oom_expr();
        REQUIRE(r != NULL);
        REQUIRE(tl_numel(r) == 20);
        CHECK_EQ_INT(tl_copy_to_buffer(r, ref, F64), TL_OK);
        tl_scope_end(s);
    }
    REQUIRE(tl_debug_live_tensors() == 0 && tl_debug_live_storages() == 0);
    for (n = 0; n < 400 && !reached_success; n++) {
        tl_tensor *r;
        tl_status st;
        tl_scope s;
        fa_reset(&fa);
        fa.limit = n;
        memset(&d, 0, sizeof d);
        d.allocator.alloc_fn = fa_alloc;
        d.allocator.free_fn = fa_free;
        d.allocator.user_data = &fa;
        tl_shutdown();
        if (!CHECK(tl_setup(&d) == TL_OK)) {
            printf("    (limit %ld) tl_setup: %s\n", n, tl_last_error());
            break;
        }
        s = tl_scope_begin();
        r = oom_expr();
        st = tl_last_status();
        if (r) {
            if (!CHECK(st == TL_OK)) printf("    (limit %ld) success with error: %s\n", n,
                                              tl_last_error());
            if (fa.denied == 0) {
                reached_success = 1;
                fa.limit = 1L << 30; /* reading the result back may allocate too */
                CHECK_EQ_INT(tl_copy_to_buffer(r, got, F64), TL_OK);
                for (i = 0; i < 20; i++) CHECK_NEAR(got[i], ref[i], 1e-6);
            }
        } else {
            if (!CHECK(st == TL_ERR_OOM && fa.denied > 0 && strncmp(tl_last_error(), "tl_", 3) == 0))
                printf("    (limit %ld, denied %ld) status %s: %s\n", n, fa.denied,
                       tl_status_str(st), tl_last_error());
        }
        tl_clear_error();
        tl_scope_end(s);
        if (!CHECK(tl_debug_live_tensors() == 0 && tl_debug_live_storages() == 0)) {
            printf("    (limit %ld) leak: %ld tensors, %ld storages\n", n, tl_debug_live_tensors(),
                   tl_debug_live_storages());
            break;
        }
        tl_shutdown(); /* drop cached blocks so every allocation goes back through free_fn */
        if (!CHECK(tl_setup(&zero) == TL_OK)) break;
        if (!CHECK(fa.outstanding == 0 && fa.bad_frees == 0))
            printf("    (limit %ld) outstanding %ld, bad frees %ld\n", n, fa.outstanding,
                   fa.bad_frees);
    }
    CHECK(reached_success);
    CHECK(n > 3); /* the expression needs several allocations */
    tl_clear_error();
    CHECK_EQ_INT(tl_setup(&zero), TL_OK);
}

/* the first allocation of tensor creation fails: NULL + TL_ERR_OOM, no partial objects */
TEST(failing_allocator_simple_creations) {
    fail_alloc fa;
    tl_desc d, zero;
    char buf[8];
    fa_reset(&fa);
    memset(&d, 0, sizeof d);
    memset(&zero, 0, sizeof zero);
    fa.limit = 0;
    d.allocator.alloc_fn = fa_alloc;
    d.allocator.free_fn = fa_free;
    d.allocator.user_data = &fa;
    tl_shutdown();
    REQUIRE(tl_setup(&d) == TL_OK);
    EXPECT_NULL(tl_zeros(TL_SHAPE(1000), F32), TL_ERR_OOM, "tl_zeros");
    EXPECT_NULL(tl_arange(0, 100, 1, F64), TL_ERR_OOM, "tl_arange");
    EXPECT_NULL(tl_eye(10, -1, F32), TL_ERR_OOM, "tl_eye");
    EXPECT_NULL(tl_from_data(buf, TL_SHAPE(2), I32), TL_ERR_OOM, "tl_from_data");
    CHECK(fa.denied >= 4);
    CHECK_EQ_INT(tl_debug_live_tensors(), 0);
    CHECK_EQ_INT(tl_debug_live_storages(), 0);
    tl_shutdown();
    CHECK_EQ_INT(tl_setup(&zero), TL_OK);
    CHECK_EQ_INT(fa.outstanding, 0);
}

/* views, multi-output ops (split, max with indices), index ops and nested scopes under OOM */
static tl_tensor *oom_expr2(void) {
    tl_tensor *x = tl_view(tl_arange(0, 24, 1, F64), TL_SHAPE(2, 3, 4));
    tl_tensor *pieces[4], *list[3], *ix = NULL, *vals, *kept, *sel;
    const int64_t pick[3] = {2, 0, 1};
    int n, k;
    tl_scope inner;
    n = tl_split(tl_permute(x, TL_DIMS(2, 0, 1)), 2, 0, pieces, 4); /* 2 x [2, 2, 3] */
    if (n != 2) return NULL;
    vals = tl_max(pieces[1], -1, 1, &ix); /* [2, 2, 1] and int64 indices */
    if (!vals || !ix) return NULL;
    inner = tl_scope_begin();
    sel = tl_index_select(tl_reshape(pieces[0], TL_SHAPE(4, 3)), 1,
                          tl_from_data(pick, TL_SHAPE(3), TL_I64));
    kept = tl_keep(tl_where(tl_gt_scalar(sel, 5), sel, tl_neg(sel)));
    tl_scope_end(inner);
    if (!kept) return NULL;
    list[0] = tl_to_dtype(tl_view(ix, TL_SHAPE(1, 4)), F64);
    list[1] = tl_reshape(vals, TL_SHAPE(1, 4));
    list[2] = tl_sum(kept, 0, 1); /* [1, 3] */
    for (k = 0; k < 3; k++)
        if (!list[k]) return NULL;
    return tl_cat(3, list, 1); /* [1, 11] */
}

TEST(failing_allocator_views_and_multi_outputs) {
    double ref[16], got[16];
    int64_t nref = 0;
    fail_alloc fa;
    tl_desc d, zero;
    long n;
    int i, reached_success = 0;
    memset(&zero, 0, sizeof zero);
    {
        tl_scope s = tl_scope_begin();
        tl_tensor *r = oom_expr2();
        REQUIRE(r != NULL);
        nref = tl_numel(r);
        REQUIRE(nref > 0 && nref <= 16);
        CHECK_EQ_INT(tl_copy_to_buffer(r, ref, F64), TL_OK);
        tl_clear_error();
        tl_scope_end(s);
    }
    for (n = 0; n < 400 && !reached_success; n++) {
        tl_tensor *r;
        tl_status st;
        tl_scope s;
        fa_reset(&fa);
        fa.limit = n;
        memset(&d, 0, sizeof d);
        d.allocator.alloc_fn = fa_alloc;
        d.allocator.free_fn = fa_free;
        d.allocator.user_data = &fa;
        tl_shutdown();
        if (!CHECK(tl_setup(&d) == TL_OK)) break;
        s = tl_scope_begin();
        r = oom_expr2();
        st = tl_last_status();
        if (r && fa.denied == 0) {
            reached_success = 1;
            fa.limit = 1L << 30;
            CHECK_EQ_INT(tl_numel(r), nref);
            CHECK_EQ_INT(tl_copy_to_buffer(r, got, F64), TL_OK);
            for (i = 0; i < nref; i++) CHECK_NEAR(got[i], ref[i], 0);
        } else if (!r) {
            if (!CHECK(st == TL_ERR_OOM && fa.denied > 0))
                printf("    (limit %ld, denied %ld) status %s: %s\n", n, fa.denied,
                       tl_status_str(st), tl_last_error());
        }
        tl_clear_error();
        tl_scope_end(s);
        if (!CHECK(tl_debug_live_tensors() == 0 && tl_debug_live_storages() == 0)) {
            printf("    (limit %ld) leak: %ld tensors, %ld storages\n", n, tl_debug_live_tensors(),
                   tl_debug_live_storages());
            break;
        }
        tl_shutdown();
        if (!CHECK(tl_setup(&zero) == TL_OK)) break;
        if (!CHECK(fa.outstanding == 0 && fa.bad_frees == 0))
            printf("    (limit %ld) outstanding %ld, bad frees %ld\n", n, fa.outstanding,
                   fa.bad_frees);
    }
    CHECK(reached_success);
    tl_clear_error();
    CHECK_EQ_INT(tl_setup(&zero), TL_OK);
}

TEST(setup_allocator_needs_both_hooks) {
    tl_desc d;
    fail_alloc fa;
    memset(&d, 0, sizeof d);
    fa_reset(&fa);
    fa.limit = 1L << 30;
    d.allocator.alloc_fn = fa_alloc; /* no free_fn */
    d.allocator.user_data = &fa;
    EXPECT_STATUS(tl_setup(&d), TL_ERR_ARG, "tl_setup");
    d.allocator.alloc_fn = NULL;
    d.allocator.free_fn = fa_free; /* no alloc_fn */
    EXPECT_STATUS(tl_setup(&d), TL_ERR_ARG, "tl_setup");
    /* the default allocator is still in place */
    {
        tl_tensor *t = tl_zeros(TL_SHAPE(4), F32);
        CHECK(t != NULL);
        CHECK_EQ_INT(fa.calls, 0);
        tl_release(t);
    }
    memset(&d, 0, sizeof d);
    CHECK_EQ_INT(tl_setup(&d), TL_OK);
}

TEST(failed_max_writes_no_indices) {
    tl_scope s = tl_scope_begin();
    tl_tensor *ix = NULL;
    CHECK(tl_max(tl_zeros(TL_SHAPE(2, 0), F32), 1, 0, &ix) == NULL);
    CHECK(ix == NULL);
    CHECK(tl_min(tl_zeros(TL_SHAPE(2, 3), F32), 5, 0, &ix) == NULL);
    CHECK(ix == NULL);
    tl_clear_error();
    tl_scope_end(s);
}

/* sizes whose element count overflows int64 are refused before anything is allocated or indexed
   (torch: "Storage size calculation overflowed" / "numel: integer multiplication overflow").
   Kept near the end: an overflow inside the library aborts the UBSan build. */
TEST(size_overflow_is_refused) {
    tl_scope s = tl_scope_begin();
    const int64_t b40 = (int64_t)1 << 40, b32 = (int64_t)1 << 32, b62 = (int64_t)1 << 62;
    int64_t s40[2], s32[2], s32z[3], s62[2];
    s40[0] = s40[1] = b40;
    s32[0] = s32[1] = b32;
    s32z[0] = s32z[1] = b32;
    s32z[2] = 0;
    s62[0] = b62;
    s62[1] = 4;
    /* creation: too large to allocate */
    EXPECT_NULL(tl_zeros(2, s40, F32), TL_ERR_OOM, "tl_zeros", "[1099511627776, 1099511627776]");
    EXPECT_NULL(tl_full(2, s40, 1.0, F32), TL_ERR_OOM, "tl_full");
    EXPECT_NULL(tl_zeros(3, s32z, F32), TL_ERR_OOM, "tl_zeros", "[4294967296, 4294967296, 0]");
    EXPECT_NULL(tl_linspace(0, 1, b62, F32), TL_ERR_OOM, "tl_linspace");
    EXPECT_NULL(tl_eye(b40, -1, F32), TL_ERR_OOM, "tl_eye");
    /* invalid size, possible overflow? */
    EXPECT_NULL(tl_arange(0, 1e30, 1, F32), TL_ERR_ARG, "tl_arange");
    /* views whose element count overflows */
    EXPECT_NULL(tl_view(Z(F32, 0), 2, s32), TL_ERR_SHAPE, "tl_view", "[4294967296, 4294967296]");
    EXPECT_NULL(tl_reshape(Z(F32, 0), 2, s32), TL_ERR_SHAPE, "tl_reshape",
                "[4294967296, 4294967296]");
    EXPECT_NULL(tl_unflatten(Z(F32, 2, 0), 1, 2, s32), TL_ERR_SHAPE, "tl_unflatten",
                "[4294967296, 4294967296]");
    EXPECT_NULL(tl_expand(Z(F32, 1, 1), 2, s32), TL_ERR_SHAPE, "tl_expand",
                "[4294967296, 4294967296]");
    EXPECT_NULL(tl_expand(tl_scalar_tensor(1, F32), 2, s62), TL_ERR_SHAPE, "tl_expand",
                "[4611686018427387904, 4]");
    EXPECT_NULL(tl_expand(Z(F32, 1, 1, 0), 3, s32z), TL_ERR_SHAPE, "tl_expand",
                "[4294967296, 4294967296, 0]");
    tl_scope_end(s);
}

TEST(count_cases) {
    printf("test_errors: %d bad-input cases\n", g_cases);
    CHECK(g_cases >= 70);
}

static const th_case tests[] = {
    TH_CASE(null_inputs_no_pending_error),
    TH_CASE(null_input_while_error_pending_keeps_first_message),
    TH_CASE(broadcast_failures),
    TH_CASE(matmul_family_shape_errors),
    TH_CASE(matmul_family_dtype_mismatch),
    TH_CASE(view_errors),
    TH_CASE(transpose_permute_errors),
    TH_CASE(narrow_select_slice_errors),
    TH_CASE(expand_squeeze_flatten_errors),
    TH_CASE(cat_stack_split_errors),
    TH_CASE(index_errors),
    TH_CASE(where_masked_fill_errors),
    TH_CASE(float_only_reductions_on_integers),
    TH_CASE(unary_dtype_errors),
    TH_CASE(reductions_over_empty),
    TH_CASE(bad_dims_everywhere),
    TH_CASE(element_access_errors),
    TH_CASE(inplace_dtype_cast_errors),
    TH_CASE(inplace_shape_errors),
    TH_CASE(creation_errors),
    TH_CASE(setup_while_tensors_alive_is_state_error),
    TH_CASE(on_error_hook_sees_each_failure),
    TH_CASE(status_str_never_null),
    TH_CASE(failing_allocator_every_step),
    TH_CASE(failing_allocator_simple_creations),
    TH_CASE(failing_allocator_views_and_multi_outputs),
    TH_CASE(setup_allocator_needs_both_hooks),
    TH_CASE(failed_max_writes_no_indices),
    TH_CASE(size_overflow_is_refused),
    TH_CASE(count_cases),
};

int main(void) { return TH_RUN(tests); }
