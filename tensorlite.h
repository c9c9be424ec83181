/* tensorlite.h - v0.1.0 - PyTorch's training workflow in one C header - license at end of file

   QUICK START
   ===========
   Put this in exactly ONE .c file (or compile the shipped tensorlite.c):

       #define TL_IMPLEMENTATION
       #include "tensorlite.h"

   Every other file just includes "tensorlite.h". Never put the define in a shared header.

       tl_scope s = tl_scope_begin();                    // temporaries die at scope end
       tl_tensor *a = tl_arange(0, 6, 1, TL_F32);        // tensor([0., 1., 2., 3., 4., 5.])
       tl_tensor *m = tl_view(a, TL_SHAPE(2, 3));        // a view: shares a's storage
       tl_tensor *y = tl_sum(tl_mul(m, m), 1, 0);        // tensor([ 5., 50.])
       if (!y) fprintf(stderr, "%s\n", tl_last_error()); // one check per expression
       tl_print(y);
       tl_scope_end(s);

   TABLE OF CONTENTS (search for the tag; each appears once in the API, once in the implementation)
   =================
       >>types      dtypes, status codes, opaque handles
       >>setup      tl_setup: allocator, error hook
       >>errors     tl_last_error, tl_last_status, tl_clear_error
       >>memory     retain/release, scopes, live-object counters
       >>create     empty/zeros/ones/full/arange/linspace/eye/from_data/from_buffer/clone/to_dtype
       >>views      view/reshape/transpose/permute/narrow/select/slice/expand/squeeze/flatten/cat/stack/...
       >>ops        elementwise with broadcasting: add/sub/mul/div/pow/..., unary math, activations
       >>reduce     sum/mean/var/std/max/min/argmax/prod/norm/logsumexp/softmax/log_softmax/cumsum
       >>linalg     matmul/mm/mv/bmm/dot/outer
       >>autograd   requires_grad, backward, grad, no_grad, detach, autograd_grad, hooks
       >>debug      tl_print, tl_to_string

   COMPILE-TIME OPTIONS (define before including the implementation)
   ====================
       TL_IMPLEMENTATION     compile the implementation into this translation unit
       TL_STATIC             make every function static (private to one translation unit)
       TL_MALLOC/TL_REALLOC/TL_FREE   replace malloc/realloc/free (define all three or none)
       TL_ASSERT(x)          assertion for the library's own invariants (default: assert)
       TL_MAX_DIMS           maximum number of dimensions (default 8)
       TL_NO_STDIO           no FILE* functions (tl_print); tl_to_string still works
       TL_NO_THREAD_LOCALS   per-thread state becomes global (then use from one thread only)
       TL_ABORT_ON_ERROR     abort() at the first error (for a stack trace in a debugger)

   OWNERSHIP RULES
   ===============
   Every function that returns a tl_tensor* returns a NEW reference, views and tl_retain included.
   Between tl_scope_begin() and tl_scope_end() new references belong to the innermost scope and are
   released when it ends; tl_keep(t) hands one to the enclosing scope (or to the caller when no scope
   is left). Outside any scope the caller owns the result and calls tl_release (which accepts NULL).
   Views share their base's refcounted storage: releasing the base never invalidates a view.
   In-place ops (names ending in _) return a tl_status and create no reference.

   ERROR HANDLING
   ==============
   Functions returning a pointer return NULL on failure; the others return tl_status (TL_OK == 0,
   errors negative). The first failure records a message naming the op, shapes and dtypes
   ("tl_matmul: mat1 and mat2 shapes cannot be multiplied (3x10 and 20x5)") readable with
   tl_last_error() (never NULL, "" when none) until tl_clear_error(). An op given a NULL input while
   an error is pending returns NULL and keeps the first message, so
   tl_relu(tl_add(tl_matmul(x, w), b)) needs one check at the end. Nothing aborts on user input or
   file bytes; every allocation is checked (TL_ERR_OOM). tl_desc.on_error sees each failure.

   THREAD SAFETY
   =============
   Error state, scopes and grad mode are per thread. A tensor belongs to one thread at a time (its
   refcount is a plain int); hand it over, don't share it. tl_setup must run before other threads
   use the library. The live-object counters are atomic where the compiler supports it.

   RECENT CHANGES
   ==============
       0.1.0  tensor core: dtypes, storage, views, broadcasting ops, reductions, matmul, printing
*/
#ifndef TL_H_INCLUDED
#define TL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#ifndef TL_NO_STDIO
#include <stdio.h>
#endif

#define TL_VERSION_MAJOR 0
#define TL_VERSION_MINOR 1
#define TL_VERSION_PATCH 0
#define TL_VERSION_STRING "0.1.0"

#ifndef TL_MAX_DIMS
#define TL_MAX_DIMS 8
#endif

#if defined(TL_STATIC) && (defined(__GNUC__) || defined(__clang__))
#define TLDEF static __attribute__((unused))
#elif defined(TL_STATIC)
#define TLDEF static
#else
#define TLDEF extern
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ===== >>types ================================================================================ */

/* Element types. Every op supports float32 and float64; integer and bool types work wherever
   PyTorch allows them; float16/bfloat16 are for storage and conversion (computed in float32). */
typedef enum tl_dtype {
    TL_F32 = 0, /* torch.float32 (the default dtype) */
    TL_F64,     /* torch.float64 */
    TL_F16,     /* torch.float16 */
    TL_BF16,    /* torch.bfloat16 */
    TL_I64,     /* torch.int64 (labels, indices) */
    TL_I32,     /* torch.int32 */
    TL_I16,     /* torch.int16 (what int8 + uint8 promotes to) */
    TL_I8,      /* torch.int8 */
    TL_U8,      /* torch.uint8 */
    TL_BOOL,    /* torch.bool */
    TL_DTYPE_COUNT
} tl_dtype;

/* Status codes: TL_OK is 0, every error is negative. */
typedef enum tl_status {
    TL_OK = 0,
    TL_ERR_ARG = -1,    /* bad argument: NULL, out-of-range dim or index, bad option */
    TL_ERR_SHAPE = -2,  /* shapes that do not fit together */
    TL_ERR_DTYPE = -3,  /* a dtype the op does not support, or mismatched dtypes */
    TL_ERR_OOM = -4,    /* an allocation failed */
    TL_ERR_IO = -5,     /* a file could not be read or written */
    TL_ERR_STATE = -6,  /* the call is not allowed in the current state */
    TL_ERR_FORMAT = -7, /* malformed or refused file content */
    TL_ERR_INDEX = -8   /* an index value outside its dimension */
} tl_status;

typedef struct tl_tensor tl_tensor;   /* opaque: use the accessors below */
typedef struct tl_storage tl_storage; /* opaque: refcounted bytes shared by views */

/* Shape literal for C callers: tl_zeros(TL_SHAPE(2, 3), TL_F32) passes ndim and the sizes. */
#define TL_SHAPE(...) \
    (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}
/* A list literal of ints (dims for permute, sum_dims, ...): same expansion as TL_SHAPE. */
#define TL_DIMS(...) \
    (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)), (const int[]){__VA_ARGS__}

/* ===== >>setup ================================================================================ */

/* Allocator hooks: both or neither. alloc_fn returns NULL on failure (reported as TL_ERR_OOM). */
typedef struct tl_allocator {
    void *(*alloc_fn)(size_t size, void *user_data);
    void (*free_fn)(void *ptr, void *user_data);
    void *user_data;
} tl_allocator;

/* Called where each failure happens, after the message is recorded (first error or not). */
typedef void (*tl_error_fn)(tl_status status, const char *message, const char *file, int line,
                            void *user_data);

/* Runtime configuration; a zeroed tl_desc means all defaults. */
typedef struct tl_desc {
    tl_allocator allocator; /* zero: TL_MALLOC/TL_FREE */
    tl_error_fn on_error;   /* optional */
    void *user_data;        /* passed to on_error */
} tl_desc;

/* Installs the allocator and hooks. Fails with TL_ERR_STATE while tensors are alive. */
TLDEF tl_status tl_setup(const tl_desc *desc);
/* Releases library caches. Tensors still alive stay valid. */
TLDEF void tl_shutdown(void);

/* ===== >>errors =============================================================================== */

TLDEF tl_status tl_last_status(void);      /* first error since the last clear, or TL_OK */
TLDEF const char *tl_last_error(void);     /* its message; "" when none; never NULL */
TLDEF void tl_clear_error(void);           /* forget the pending error */
TLDEF const char *tl_status_str(tl_status s); /* "TL_ERR_SHAPE", ...; never NULL */

TLDEF const char *tl_dtype_name(tl_dtype dt); /* "float32", "int64", ... (torch's names) */
TLDEF size_t tl_dtype_size(tl_dtype dt);      /* bytes per element; 0 for an invalid dtype */
TLDEF int tl_dtype_is_floating(tl_dtype dt);  /* 1 for F32/F64/F16/BF16 */
/* torch.promote_types(a, b) */
TLDEF tl_dtype tl_promote_types(tl_dtype a, tl_dtype b);

/* ===== >>memory =============================================================================== */

TLDEF tl_tensor *tl_retain(tl_tensor *t); /* one more reference to t (new reference); NULL-safe */
TLDEF void tl_release(tl_tensor *t);      /* drop one reference; NULL-safe */

/* A scope owns every new reference created while it is the innermost one. */
typedef struct tl_scope { int depth; } tl_scope;
TLDEF tl_scope tl_scope_begin(void);
/* Releases what s (and any scope opened inside it and not ended) owns. */
TLDEF void tl_scope_end(tl_scope s);
/* Moves t from the innermost scope to its parent (or to the caller outside scopes); returns t. */
TLDEF tl_tensor *tl_keep(tl_tensor *t);

TLDEF long tl_debug_live_tensors(void);  /* tensor headers alive in the process */
TLDEF long tl_debug_live_storages(void); /* storages alive in the process */

/* Accessors (no new references). shape/stride point into t and live as long as t. */
TLDEF int tl_ndim(const tl_tensor *t);
TLDEF const int64_t *tl_shape(const tl_tensor *t);
TLDEF int64_t tl_size(const tl_tensor *t, int dim);        /* negative dims count from the end */
TLDEF const int64_t *tl_stride(const tl_tensor *t);        /* in elements, like torch */
TLDEF int64_t tl_storage_offset(const tl_tensor *t);       /* in elements */
TLDEF int64_t tl_numel(const tl_tensor *t);
TLDEF tl_dtype tl_dtype_of(const tl_tensor *t);
TLDEF void *tl_data_ptr(const tl_tensor *t);               /* address of element [0,...,0] */
TLDEF int tl_is_contiguous(const tl_tensor *t);
TLDEF int tl_same_storage(const tl_tensor *a, const tl_tensor *b);

/* ===== >>create =============================================================================== */

/* New contiguous tensors. shape has ndim sizes (ndim 0 = a scalar tensor). */
TLDEF tl_tensor *tl_empty(int ndim, const int64_t *shape, tl_dtype dt);
TLDEF tl_tensor *tl_zeros(int ndim, const int64_t *shape, tl_dtype dt);
TLDEF tl_tensor *tl_ones(int ndim, const int64_t *shape, tl_dtype dt);
TLDEF tl_tensor *tl_full(int ndim, const int64_t *shape, double value, tl_dtype dt);
TLDEF tl_tensor *tl_empty_like(const tl_tensor *t);
TLDEF tl_tensor *tl_zeros_like(const tl_tensor *t);
TLDEF tl_tensor *tl_ones_like(const tl_tensor *t);
TLDEF tl_tensor *tl_full_like(const tl_tensor *t, double value);
/* 0-dim tensor holding v: torch.tensor(v, dtype=dt). */
TLDEF tl_tensor *tl_scalar_tensor(double v, tl_dtype dt);
/* torch.arange(start, end, step): ceil((end - start) / step) values. */
TLDEF tl_tensor *tl_arange(double start, double end, double step, tl_dtype dt);
/* torch.linspace(start, end, steps). */
TLDEF tl_tensor *tl_linspace(double start, double end, int64_t steps, tl_dtype dt);
/* torch.eye(n, m): [n, m] with ones on the diagonal (m < 0 means m = n). */
TLDEF tl_tensor *tl_eye(int64_t n, int64_t m, tl_dtype dt);
/* Copies numel elements of type dt from data (C order) into a new tensor. */
TLDEF tl_tensor *tl_from_data(const void *data, int ndim, const int64_t *shape, tl_dtype dt);
/* Wraps a user buffer without copying; release(data, user) runs when the last view dies
   (release may be NULL: the buffer must then outlive every view). */
TLDEF tl_tensor *tl_from_buffer(void *data, int ndim, const int64_t *shape, tl_dtype dt,
                                void (*release)(void *data, void *user), void *user);
TLDEF tl_tensor *tl_clone(const tl_tensor *t);              /* contiguous copy, same dtype */
/* t.to(dtype): a new reference to t itself when dt is already t's dtype, else a converted copy. */
TLDEF tl_tensor *tl_to_dtype(const tl_tensor *t, tl_dtype dt);

/* Element access. idx has tl_ndim(t) entries (negative indices count from the end). */
TLDEF double tl_item(const tl_tensor *t);       /* the value of a 1-element tensor; 0 + error else */
TLDEF int64_t tl_item_i64(const tl_tensor *t);  /* exact for int64 */
TLDEF double tl_get(const tl_tensor *t, const int64_t *idx);
TLDEF tl_status tl_set(tl_tensor *t, const int64_t *idx, double value);
/* Copies numel elements out, converted to dt, in C order (t may be any view). */
TLDEF tl_status tl_copy_to_buffer(const tl_tensor *t, void *out, tl_dtype dt);

/* ===== >>views ================================================================================ */
/* All of these share t's storage (no copy), except where noted. Negative dims count from the end. */

/* t.view(shape): one size may be -1; fails when t's strides cannot express the shape. */
TLDEF tl_tensor *tl_view(const tl_tensor *t, int ndim, const int64_t *shape);
/* t.reshape(shape): a view when possible, otherwise a contiguous copy. */
TLDEF tl_tensor *tl_reshape(const tl_tensor *t, int ndim, const int64_t *shape);
TLDEF tl_tensor *tl_transpose(const tl_tensor *t, int dim0, int dim1);
TLDEF tl_tensor *tl_t(const tl_tensor *t);                  /* t.t(): 0-2 dims only */
TLDEF tl_tensor *tl_permute(const tl_tensor *t, int ndims, const int *dims);
TLDEF tl_tensor *tl_narrow(const tl_tensor *t, int dim, int64_t start, int64_t length);
TLDEF tl_tensor *tl_select(const tl_tensor *t, int dim, int64_t index); /* removes dim */
/* t[start:end:step] along dim, Python rules (negatives, clamping); step >= 1. */
TLDEF tl_tensor *tl_slice(const tl_tensor *t, int dim, int64_t start, int64_t end, int64_t step);
#define TL_END INT64_MAX /* "to the end" for tl_slice */
/* t.expand(shape): -1 keeps a size; size-1 dims (and new leading dims) get stride 0. */
TLDEF tl_tensor *tl_expand(const tl_tensor *t, int ndim, const int64_t *shape);
TLDEF tl_tensor *tl_expand_as(const tl_tensor *t, const tl_tensor *other);
TLDEF tl_tensor *tl_squeeze(const tl_tensor *t);            /* drops every size-1 dim */
TLDEF tl_tensor *tl_squeeze_dim(const tl_tensor *t, int dim);
TLDEF tl_tensor *tl_unsqueeze(const tl_tensor *t, int dim);
TLDEF tl_tensor *tl_flatten(const tl_tensor *t, int start_dim, int end_dim); /* reshape rules */
TLDEF tl_tensor *tl_unflatten(const tl_tensor *t, int dim, int ndim, const int64_t *sizes);
TLDEF tl_tensor *tl_contiguous(const tl_tensor *t);         /* t itself when already contiguous */

/* Joining and splitting (copies for cat/stack; split/chunk return views). */
TLDEF tl_tensor *tl_cat(int n, tl_tensor *const *ts, int dim);
TLDEF tl_tensor *tl_stack(int n, tl_tensor *const *ts, int dim);
/* Splits into pieces of split_size along dim (last one smaller); writes up to max_out new
   references to out and returns the number of pieces, or a negative tl_status. */
TLDEF int tl_split(const tl_tensor *t, int64_t split_size, int dim, tl_tensor **out, int max_out);
TLDEF int tl_chunk(const tl_tensor *t, int chunks, int dim, tl_tensor **out, int max_out);

/* Indexing (copies). index_select takes an int64 or int32 index, gather an int64 one (as torch). */
TLDEF tl_tensor *tl_index_select(const tl_tensor *t, int dim, const tl_tensor *index);
TLDEF tl_tensor *tl_gather(const tl_tensor *t, int dim, const tl_tensor *index);
/* torch.where(cond, a, b): cond is bool; result dtype is the promotion of a and b. */
TLDEF tl_tensor *tl_where(const tl_tensor *cond, const tl_tensor *a, const tl_tensor *b);
TLDEF tl_tensor *tl_masked_fill(const tl_tensor *t, const tl_tensor *mask, double value);
TLDEF tl_status tl_masked_fill_(tl_tensor *t, const tl_tensor *mask, double value);

/* ===== >>ops ================================================================================== */
/* Elementwise with NumPy broadcasting and torch's type promotion. A double "scalar" argument acts
   like a Python number: an integral value like a Python int, anything else like a Python float
   (so int_tensor * 2 stays int64, int_tensor * 0.5 becomes float32). In-place forms write into
   their first argument (the result must fit its shape and dtype) and return a tl_status. */

TLDEF tl_tensor *tl_add(const tl_tensor *a, const tl_tensor *b);
TLDEF tl_tensor *tl_sub(const tl_tensor *a, const tl_tensor *b);
TLDEF tl_tensor *tl_mul(const tl_tensor *a, const tl_tensor *b);
TLDEF tl_tensor *tl_div(const tl_tensor *a, const tl_tensor *b);   /* true division */
TLDEF tl_tensor *tl_pow(const tl_tensor *a, const tl_tensor *b);
TLDEF tl_tensor *tl_maximum(const tl_tensor *a, const tl_tensor *b); /* NaN propagates */
TLDEF tl_tensor *tl_minimum(const tl_tensor *a, const tl_tensor *b);
TLDEF tl_tensor *tl_add_alpha(const tl_tensor *a, const tl_tensor *b, double alpha); /* a+alpha*b */
TLDEF tl_tensor *tl_sub_alpha(const tl_tensor *a, const tl_tensor *b, double alpha); /* a-alpha*b */
TLDEF tl_tensor *tl_add_scalar(const tl_tensor *a, double s);
TLDEF tl_tensor *tl_sub_scalar(const tl_tensor *a, double s);
TLDEF tl_tensor *tl_rsub_scalar(const tl_tensor *a, double s);     /* s - a */
TLDEF tl_tensor *tl_mul_scalar(const tl_tensor *a, double s);
TLDEF tl_tensor *tl_div_scalar(const tl_tensor *a, double s);
TLDEF tl_tensor *tl_pow_scalar(const tl_tensor *a, double exponent);

/* Comparisons: bool results. */
TLDEF tl_tensor *tl_eq(const tl_tensor *a, const tl_tensor *b);
TLDEF tl_tensor *tl_ne(const tl_tensor *a, const tl_tensor *b);
TLDEF tl_tensor *tl_lt(const tl_tensor *a, const tl_tensor *b);
TLDEF tl_tensor *tl_le(const tl_tensor *a, const tl_tensor *b);
TLDEF tl_tensor *tl_gt(const tl_tensor *a, const tl_tensor *b);
TLDEF tl_tensor *tl_ge(const tl_tensor *a, const tl_tensor *b);
TLDEF tl_tensor *tl_eq_scalar(const tl_tensor *a, double s);
TLDEF tl_tensor *tl_ne_scalar(const tl_tensor *a, double s);
TLDEF tl_tensor *tl_lt_scalar(const tl_tensor *a, double s);
TLDEF tl_tensor *tl_le_scalar(const tl_tensor *a, double s);
TLDEF tl_tensor *tl_gt_scalar(const tl_tensor *a, double s);
TLDEF tl_tensor *tl_ge_scalar(const tl_tensor *a, double s);

/* Unary math. neg/abs/sign/relu keep integer dtypes; the rest turn integers into float32. */
TLDEF tl_tensor *tl_neg(const tl_tensor *t);
TLDEF tl_tensor *tl_abs(const tl_tensor *t);
TLDEF tl_tensor *tl_sign(const tl_tensor *t);
TLDEF tl_tensor *tl_exp(const tl_tensor *t);
TLDEF tl_tensor *tl_log(const tl_tensor *t);
TLDEF tl_tensor *tl_log1p(const tl_tensor *t);
TLDEF tl_tensor *tl_sqrt(const tl_tensor *t);
TLDEF tl_tensor *tl_rsqrt(const tl_tensor *t);
TLDEF tl_tensor *tl_sin(const tl_tensor *t);
TLDEF tl_tensor *tl_cos(const tl_tensor *t);
TLDEF tl_tensor *tl_tanh(const tl_tensor *t);
TLDEF tl_tensor *tl_sigmoid(const tl_tensor *t);
TLDEF tl_tensor *tl_relu(const tl_tensor *t);
TLDEF tl_tensor *tl_leaky_relu(const tl_tensor *t, double negative_slope); /* torch default 0.01 */
/* F.gelu(t, approximate='none' | 'tanh'): approximate_tanh 0 or 1. */
TLDEF tl_tensor *tl_gelu(const tl_tensor *t, int approximate_tanh);
TLDEF tl_tensor *tl_silu(const tl_tensor *t);
/* F.softplus(t, beta, threshold): torch defaults 1 and 20. */
TLDEF tl_tensor *tl_softplus(const tl_tensor *t, double beta, double threshold);
/* torch.clamp(t, min, max); pass -INFINITY / INFINITY for no bound. */
TLDEF tl_tensor *tl_clamp(const tl_tensor *t, double min, double max);

/* In place: the first argument receives the result. */
TLDEF tl_status tl_add_(tl_tensor *a, const tl_tensor *b);
TLDEF tl_status tl_sub_(tl_tensor *a, const tl_tensor *b);
TLDEF tl_status tl_mul_(tl_tensor *a, const tl_tensor *b);
TLDEF tl_status tl_div_(tl_tensor *a, const tl_tensor *b);
TLDEF tl_status tl_add_alpha_(tl_tensor *a, const tl_tensor *b, double alpha);
TLDEF tl_status tl_add_scalar_(tl_tensor *a, double s);
TLDEF tl_status tl_sub_scalar_(tl_tensor *a, double s);
TLDEF tl_status tl_mul_scalar_(tl_tensor *a, double s);
TLDEF tl_status tl_div_scalar_(tl_tensor *a, double s);
TLDEF tl_status tl_pow_scalar_(tl_tensor *a, double exponent);
TLDEF tl_status tl_neg_(tl_tensor *t);
TLDEF tl_status tl_abs_(tl_tensor *t);
TLDEF tl_status tl_exp_(tl_tensor *t);
TLDEF tl_status tl_log_(tl_tensor *t);
TLDEF tl_status tl_sqrt_(tl_tensor *t);
TLDEF tl_status tl_tanh_(tl_tensor *t);
TLDEF tl_status tl_sigmoid_(tl_tensor *t);
TLDEF tl_status tl_relu_(tl_tensor *t);
TLDEF tl_status tl_clamp_(tl_tensor *t, double min, double max);
TLDEF tl_status tl_fill_(tl_tensor *t, double value);
TLDEF tl_status tl_zero_(tl_tensor *t);
/* dst.copy_(src): src broadcasts to dst's shape and converts to dst's dtype. */
TLDEF tl_status tl_copy_(tl_tensor *dst, const tl_tensor *src);

/* ===== >>reduce =============================================================================== */
/* dim may be negative. keepdim keeps reduced dims with size 1. "_all" forms reduce every dim to a
   0-dim tensor. Integer/bool sums and products give int64, like torch. */

TLDEF tl_tensor *tl_sum(const tl_tensor *t, int dim, int keepdim);
TLDEF tl_tensor *tl_sum_dims(const tl_tensor *t, int ndims, const int *dims, int keepdim);
TLDEF tl_tensor *tl_sum_all(const tl_tensor *t);
TLDEF tl_tensor *tl_mean(const tl_tensor *t, int dim, int keepdim);   /* floating dtypes only */
TLDEF tl_tensor *tl_mean_dims(const tl_tensor *t, int ndims, const int *dims, int keepdim);
TLDEF tl_tensor *tl_mean_all(const tl_tensor *t);
/* Variance / standard deviation; unbiased divides by N-1 (torch's default). */
TLDEF tl_tensor *tl_var(const tl_tensor *t, int dim, int unbiased, int keepdim);
TLDEF tl_tensor *tl_var_all(const tl_tensor *t, int unbiased);
TLDEF tl_tensor *tl_std(const tl_tensor *t, int dim, int unbiased, int keepdim);
TLDEF tl_tensor *tl_std_all(const tl_tensor *t, int unbiased);
TLDEF tl_tensor *tl_prod(const tl_tensor *t, int dim, int keepdim);
TLDEF tl_tensor *tl_prod_all(const tl_tensor *t);
/* torch.max(t, dim, keepdim): values; *indices (if not NULL) receives the int64 argmax. */
TLDEF tl_tensor *tl_max(const tl_tensor *t, int dim, int keepdim, tl_tensor **indices);
TLDEF tl_tensor *tl_min(const tl_tensor *t, int dim, int keepdim, tl_tensor **indices);
TLDEF tl_tensor *tl_max_all(const tl_tensor *t);
TLDEF tl_tensor *tl_min_all(const tl_tensor *t);
TLDEF tl_tensor *tl_argmax(const tl_tensor *t, int dim, int keepdim);
TLDEF tl_tensor *tl_argmin(const tl_tensor *t, int dim, int keepdim);
TLDEF tl_tensor *tl_argmax_all(const tl_tensor *t); /* index into the flattened tensor */
TLDEF tl_tensor *tl_argmin_all(const tl_tensor *t);
/* torch.norm(t, p, dim, keepdim): p = 1, 2, any p > 0, INFINITY, -INFINITY; 'fro' is p = 2. */
#define TL_NORM_FRO 2.0
TLDEF tl_tensor *tl_norm(const tl_tensor *t, double p, int dim, int keepdim);
TLDEF tl_tensor *tl_norm_dims(const tl_tensor *t, double p, int ndims, const int *dims, int keepdim);
TLDEF tl_tensor *tl_norm_all(const tl_tensor *t, double p);
TLDEF tl_tensor *tl_logsumexp(const tl_tensor *t, int dim, int keepdim);
TLDEF tl_tensor *tl_softmax(const tl_tensor *t, int dim);
TLDEF tl_tensor *tl_log_softmax(const tl_tensor *t, int dim);
TLDEF tl_tensor *tl_cumsum(const tl_tensor *t, int dim);

/* ===== >>linalg =============================================================================== */

/* torch.matmul: 1-D.1-D dot, 2-D mm, 1-D/2-D mixes, and batched with broadcast batch dims. */
TLDEF tl_tensor *tl_matmul(const tl_tensor *a, const tl_tensor *b);
TLDEF tl_tensor *tl_mm(const tl_tensor *a, const tl_tensor *b);   /* [n,k] x [k,m] -> [n,m] */
TLDEF tl_tensor *tl_mv(const tl_tensor *a, const tl_tensor *v);   /* [n,k] x [k] -> [n] */
TLDEF tl_tensor *tl_bmm(const tl_tensor *a, const tl_tensor *b);  /* [b,n,k] x [b,k,m] */
TLDEF tl_tensor *tl_dot(const tl_tensor *a, const tl_tensor *b);  /* [n] . [n] -> 0-dim */
TLDEF tl_tensor *tl_outer(const tl_tensor *a, const tl_tensor *b);/* [n] x [m] -> [n,m] */

/* ===== >>autograd ============================================================================= */
/* Tape autograd with torch's semantics. Ops on tensors that require grad record a node while grad
   mode is on; tl_backward walks the recorded nodes from the output back to the leaves and adds
   into each leaf's .grad (gradients accumulate until you clear them). */

/* t.requires_grad_(flag): leaves only, floating dtypes only. */
TLDEF tl_status tl_requires_grad_(tl_tensor *t, int requires_grad);
TLDEF int tl_requires_grad(const tl_tensor *t);
TLDEF int tl_is_leaf(const tl_tensor *t);      /* no grad_fn: created by the user, not by an op */
/* t.grad: a new reference, or NULL (and no error) when there is none. */
TLDEF tl_tensor *tl_grad(const tl_tensor *t);
/* t.grad = g (NULL clears it, like setting None); g must match t's shape and dtype. */
TLDEF tl_status tl_set_grad(tl_tensor *t, const tl_tensor *g);
/* loss.backward(): loss must have one element. Frees the graph. */
TLDEF tl_status tl_backward(tl_tensor *loss);
/* out.backward(gradient, retain_graph): gradient NULL only for one-element outputs. */
TLDEF tl_status tl_backward_ex(tl_tensor *out, const tl_tensor *gradient, int retain_graph);
/* t.retain_grad(): keep .grad of a non-leaf after backward. */
TLDEF tl_status tl_retain_grad(tl_tensor *t);
/* t.detach(): shares storage (and the version counter), no history, requires_grad false. */
TLDEF tl_tensor *tl_detach(const tl_tensor *t);
/* torch.autograd.grad(outputs, inputs, grad_outputs): writes nin new references to grads_out
   without touching any .grad. grad_outputs may be NULL (all outputs one-element). */
TLDEF tl_status tl_autograd_grad(int nout, tl_tensor *const *outputs, int nin, tl_tensor *const *inputs,
                                 tl_tensor *const *grad_outputs, int retain_graph, tl_tensor **grads_out);
/* Gradient hook (t.register_hook): fn sees the gradient of t during backward and returns a
   replacement (new reference) or NULL to keep it. */
typedef tl_tensor *(*tl_hook_fn)(const tl_tensor *grad, void *user);
TLDEF tl_status tl_register_hook(tl_tensor *t, tl_hook_fn fn, void *user);
/* torch's grad_fn class name ("MulBackward0"), or NULL for leaves. */
TLDEF const char *tl_grad_fn_name(const tl_tensor *t);

/* Grad mode (per thread): with torch.no_grad() / with torch.enable_grad() blocks, nestable. */
TLDEF void tl_no_grad_begin(void);
TLDEF void tl_no_grad_end(void);
TLDEF void tl_enable_grad_begin(void);
TLDEF void tl_enable_grad_end(void);
TLDEF int tl_set_grad_enabled(int enabled); /* returns the previous mode */
TLDEF int tl_is_grad_enabled(void);

/* ===== >>debug ================================================================================ */

/* Writes the tensor as torch prints it ("tensor([1., 2.])", summarised with ... past 1000
   elements, dtype shown when not float32/int64/bool) into buf (always NUL-terminated when
   cap > 0). Returns the full length the text needs, or a negative tl_status. */
TLDEF int tl_to_string(const tl_tensor *t, char *buf, size_t cap);
#ifndef TL_NO_STDIO
TLDEF tl_status tl_fprint(FILE *f, const tl_tensor *t); /* text + newline */
TLDEF tl_status tl_print(const tl_tensor *t);           /* to stdout */
#endif

#ifdef __cplusplus
}
#endif

#endif /* TL_H_INCLUDED */
/* The API ends here. Everything below is the implementation. */

#if defined(__INTELLISENSE__) || defined(__CDT_PARSER__)
#define TL_IMPLEMENTATION
#endif

/* ============================================================================================== */
/*                                        IMPLEMENTATION                                          */
/* ============================================================================================== */
#ifdef TL_IMPLEMENTATION
#ifndef TL_IMPLEMENTATION_INCLUDED
#define TL_IMPLEMENTATION_INCLUDED

#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <stdarg.h>
#include <float.h>
#include <stdio.h> /* snprintf for messages (TL_NO_STDIO only removes the FILE* API) */

#if defined(TL_MALLOC) && defined(TL_FREE) && defined(TL_REALLOC)
/* all three given */
#elif !defined(TL_MALLOC) && !defined(TL_FREE) && !defined(TL_REALLOC)
#define TL_MALLOC(sz) malloc(sz)
#define TL_REALLOC(p, sz) realloc(p, sz)
#define TL_FREE(p) free(p)
#else
#error "tensorlite.h: define all of TL_MALLOC, TL_REALLOC and TL_FREE, or none of them"
#endif

#ifndef TL_ASSERT
#include <assert.h>
#define TL_ASSERT(x) assert(x)
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TL__PRIVATE static __attribute__((unused))
#else
#define TL__PRIVATE static
#endif

/* Thread-local selector (C11, C++11, GNU, MSVC), or plain globals with TL_NO_THREAD_LOCALS. */
#if defined(TL_NO_THREAD_LOCALS)
#define TL__TLS
#elif defined(__cplusplus) && __cplusplus >= 201103L
#define TL__TLS thread_local
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__STDC_NO_THREADS__)
#define TL__TLS _Thread_local
#elif defined(__GNUC__) || defined(__clang__)
#define TL__TLS __thread
#elif defined(_MSC_VER)
#define TL__TLS __declspec(thread)
#else
#define TL__TLS
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TL__ATOMIC_ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define TL__ATOMIC_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#else
#define TL__ATOMIC_ADD(p, v) (*(p) += (v))
#define TL__ATOMIC_LOAD(p) (*(p))
#endif

#define TL__MAX_SCOPES 64
#define TL__SCOPE_INLINE 256
#define TL__CACHE_BUCKETS 40             /* storage cache buckets: capacities 2^0 .. 2^39 bytes */
#define TL__CACHE_PER_BUCKET 64
#define TL__CACHE_MAX_BYTES ((size_t)256 << 20)
#define TL__CACHE_HEADERS 4096

/* ===== >>types (implementation) =============================================================== */

struct tl_storage {
    int refcount;
    int bucket;       /* capacity class 2^bucket bytes for the cache (-1: too large to cache) */
    struct tl_storage *next_free;
    size_t nbytes;
    void *data;
    void (*release)(void *data, void *user); /* borrowed buffer: called instead of tl__free */
    void *release_user;
    int borrowed;
    uint32_t version; /* bumped by in-place writes; shared by every view (torch's version counter) */
};

struct tl_tensor {
    int refcount;
    int ndim;
    tl_dtype dtype;
    int requires_grad;
    tl_storage *storage;
    int64_t offset;                  /* in elements */
    int64_t shape[TL_MAX_DIMS];
    int64_t stride[TL_MAX_DIMS];     /* in elements */
    tl_tensor *grad;                 /* autograd: accumulated gradient (owned) */
    struct tl__node *grad_fn;        /* autograd: the node that produced this tensor (owned) */
    int retains_grad;                /* autograd: keep .grad of a non-leaf (tl_retain_grad) */
    struct tl__hook *hooks;          /* autograd: gradient hooks (owned list) */
    tl_tensor *base;                 /* views: the tensor whose storage this views (owned), as torch's ._base */
    uint32_t view_ver;               /* views: storage version when grad_fn was last valid */
};

/* Autograd graph node: one recorded op. The output tensor owns its node (grad_fn); a node owns
   references to its inputs (so the graph lives exactly as long as some output needs it) and to
   what backward reads. seq orders nodes by creation: walking them by decreasing seq is walking
   the per-thread tape backwards, which visits every consumer before its producers. */
#define TL__NODE_IN 3
typedef struct tl__node {
    int refcount;
    int op;                          /* tl__op */
    uint64_t seq;
    int nin;                         /* entries used in in[] */
    tl_tensor *in[TL__NODE_IN];      /* inputs (NULL for a scalar operand) */
    struct tl__node *next[TL__NODE_IN]; /* each input's grad_fn when recorded (owned): the edges */
    int need;                        /* bit k: input k required grad when recorded */
    tl_tensor **ins;                 /* variable-length inputs (cat, stack) */
    struct tl__node **ins_next;      /* their grad_fns when recorded (owned) */
    int nins;
    uint32_t in_ver[TL__NODE_IN];    /* storage versions of inputs backward reads (in_saved bits) */
    int in_saved;
    tl_tensor *out;                  /* detached alias of the output, when backward reads it */
    uint32_t out_ver;
    tl_tensor *aux;                  /* indices / masks / index tensors backward needs */
    double p[4];                     /* op parameters (alpha, exponent, bounds, ...) */
    int ip[TL_MAX_DIMS + 1];         /* int parameters (dims, permutation, ...) */
    int nip;
    int64_t lp[2];                   /* int64 parameters (start, step) */
    tl_tensor *out_weak;             /* the output tensor itself (not owned), for retain_grad/hooks */
    tl_tensor *grad;                 /* gradient accumulated during backward */
    int released;                    /* backward freed what this node saved */
    const char *tname;               /* torch's grad_fn name when it differs from the op table's */
    int ghost;                       /* bit k: in[k] was dropped after backward; meta[k] describes it */
    int geo_ndim;                    /* as_strided / copy_slices: a view's geometry inside its base */
    int64_t geo_off, geo_shape[TL_MAX_DIMS], geo_stride[TL_MAX_DIMS];
    struct { int ndim; tl_dtype dtype; int64_t shape[TL_MAX_DIMS]; } meta[TL__NODE_IN];
    uint64_t mark;                   /* traversal stamp */
} tl__node;

typedef struct tl__hook {
    tl_tensor *(*fn)(const tl_tensor *grad, void *user);
    void *user;
    struct tl__hook *next;
} tl__hook;

/* Per-thread state: first error, scopes, scratch for messages. Zero means "unset" everywhere. */
typedef struct tl__tls_state {
    tl_status status;
    char msg[512];
    char shape_buf[4][160];
    int shape_next;
    int scope_depth;
    int scope_mark[TL__MAX_SCOPES];
    int scope_n, scope_cap;
    tl_tensor **scope_items;             /* heap when scope_inline overflows */
    tl_tensor *scope_inline[TL__SCOPE_INLINE];
    int grad_off;                        /* 0: grad mode on (torch's default) */
    int grad_sp;                         /* saved modes of nested no_grad/enable_grad blocks */
    int grad_stack[TL__MAX_SCOPES];
    int record_off;                      /* >0 inside an op that records itself as one node */
    uint64_t seq, stamp;                 /* node creation counter, traversal stamp */
    /* caches that keep a steady-state training step free of malloc (off with TL_NO_CACHE) */
    tl_tensor *free_tensors;             /* released headers, linked through ->grad */
    int n_free_tensors;
    tl__node *free_nodes;                /* released nodes, linked through ->grad */
    int n_free_nodes;
    tl_storage *free_storage[TL__CACHE_BUCKETS]; /* released storages by capacity 2^b bytes */
    int n_free_storage[TL__CACHE_BUCKETS];
    size_t cached_bytes;
} tl__tls_state;

static TL__TLS tl__tls_state tl__tls;

/* Process-wide configuration (set by tl_setup before threads start). */
static struct {
    tl_allocator alloc;
    tl_error_fn on_error;
    void *user_data;
} tl__g;

static long tl__live_tensors_n;
static long tl__live_storages_n;

static const char *const tl__dtype_names[TL_DTYPE_COUNT] = {
    "float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"};
static const size_t tl__dtype_sizes[TL_DTYPE_COUNT] = {4, 8, 2, 2, 8, 4, 2, 1, 1, 1};

#define TL__VALID_DT(dt) ((int)(dt) >= 0 && (int)(dt) < (int)TL_DTYPE_COUNT)
#define TL__IS_FLOAT(dt) ((dt) == TL_F32 || (dt) == TL_F64 || (dt) == TL_F16 || (dt) == TL_BF16)
#define TL__IS_INTLIKE(dt) (!TL__IS_FLOAT(dt)) /* integers and bool */

/* ===== >>util ================================================================================= */

static void *tl__malloc(size_t n) {
    if (n == 0) n = 1;
    if (tl__g.alloc.alloc_fn) return tl__g.alloc.alloc_fn(n, tl__g.alloc.user_data);
    return TL_MALLOC(n);
}
static void tl__free(void *p) {
    if (!p) return;
    if (tl__g.alloc.free_fn) tl__g.alloc.free_fn(p, tl__g.alloc.user_data);
    else TL_FREE(p);
}

/* Records a failure: the first one is kept until tl_clear_error; the hook sees every one. */
static void tl__failv(const char *file, int line, tl_status st, const char *fmt, va_list ap) {
    char tmp[512];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    if (tl__tls.status == TL_OK) {
        tl__tls.status = st;
        memcpy(tl__tls.msg, tmp, sizeof tmp);
    }
    if (tl__g.on_error) tl__g.on_error(st, tmp, file, line, tl__g.user_data);
#ifdef TL_ABORT_ON_ERROR
    abort();
#endif
}
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 4, 5)))
#endif
static tl_status tl__fail_at(const char *file, int line, tl_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tl__failv(file, line, st, fmt, ap);
    va_end(ap);
    return st;
}
#define TL__FAIL(st, ...) tl__fail_at(__FILE__, __LINE__, (st), __VA_ARGS__)
/* Records and returns NULL, for pointer-returning functions. */
#define TL__FAILN(st, ...) (TL__FAIL((st), __VA_ARGS__), (tl_tensor *)NULL)

/* Formats a shape as "[2, 3]" into one of four rotating per-thread buffers. */
static const char *tl__fmt_shape(int ndim, const int64_t *shape) {
    char *b = tl__tls.shape_buf[tl__tls.shape_next];
    size_t cap = sizeof tl__tls.shape_buf[0], n = 0;
    int i;
    tl__tls.shape_next = (tl__tls.shape_next + 1) & 3;
    b[n++] = '[';
    for (i = 0; i < ndim && n + 24 < cap; i++)
        n += (size_t)snprintf(b + n, cap - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (i < ndim) n += (size_t)snprintf(b + n, cap - n, ", ...");
    snprintf(b + n, cap - n, "]");
    return b;
}
#define TL__SH(t) tl__fmt_shape((t)->ndim, (t)->shape)
#define TL__DT(t) tl__dtype_names[(t)->dtype]

/* NULL-in check: with no pending error a NULL input is itself the error. */
static int tl__null_in(const char *op, const void *p) {
    if (p) return 0;
    if (tl__tls.status == TL_OK) TL__FAIL(TL_ERR_ARG, "%s: input is NULL", op);
    return 1;
}
#define TL__CHECK1(op, a) if (tl__null_in(op, a)) return NULL
#define TL__CHECK2(op, a, b) if (tl__null_in(op, a) || tl__null_in(op, b)) return NULL
#define TL__CHECK1S(op, a) if (tl__null_in(op, a)) return tl__tls.status ? tl__tls.status : TL_ERR_ARG
#define TL__CHECK2S(op, a, b) \
    if (tl__null_in(op, a) || tl__null_in(op, b)) return tl__tls.status ? tl__tls.status : TL_ERR_ARG

/* Wraps a negative dim into [0, ndim); ndim 0 accepts -1 and 0 like torch. -1 on error (the
   message shows t, the tensor the dim refers to). */
static int tl__wrap_dim(const char *op, int dim, int ndim, const tl_tensor *t) {
    int n = ndim > 0 ? ndim : 1;
    if (dim < -n || dim >= n) {
        TL__FAIL(TL_ERR_ARG, "%s: dimension out of range (expected to be in range of [%d, %d], but got %d) (input %s)",
                 op, -n, n - 1, dim, tl__fmt_shape(t->ndim, t->shape));
        return -1;
    }
    return dim < 0 ? dim + n : dim;
}

/* Product of sizes. Unsigned, so a product that shape checks have not vetted wraps instead of
   being undefined behaviour. */
static int64_t tl__prod(int n, const int64_t *s) {
    uint64_t p = 1;
    int i;
    for (i = 0; i < n; i++) p *= (uint64_t)s[i];
    return (int64_t)p;
}
/* True when the product of the non-zero sizes does not fit in int64 (torch: "overflow"). */
static int tl__shape_overflows(int n, const int64_t *s) {
    double p = 1;
    int i;
    for (i = 0; i < n; i++)
        if (s[i] > 0) p *= (double)s[i];
    return p > 9.0e18;
}

/* ===== >>setup ================================================================================ */

TLDEF tl_status tl_setup(const tl_desc *desc) {
    tl_desc zero;
    if (!desc) {
        memset(&zero, 0, sizeof zero);
        desc = &zero;
    }
    if (TL__ATOMIC_LOAD(&tl__live_tensors_n) != 0 || TL__ATOMIC_LOAD(&tl__live_storages_n) != 0)
        return TL__FAIL(TL_ERR_STATE, "tl_setup: %ld tensors and %ld storages are still alive; "
                                      "release them before changing the allocator",
                        TL__ATOMIC_LOAD(&tl__live_tensors_n), TL__ATOMIC_LOAD(&tl__live_storages_n));
    if ((desc->allocator.alloc_fn == NULL) != (desc->allocator.free_fn == NULL))
        return TL__FAIL(TL_ERR_ARG, "tl_setup: allocator needs both alloc_fn and free_fn, or neither");
    tl_shutdown();
    tl__g.alloc = desc->allocator;
    tl__g.on_error = desc->on_error;
    tl__g.user_data = desc->user_data;
    return TL_OK;
}

static void tl__cache_flush(void);
TLDEF void tl_shutdown(void) {
    tl__cache_flush();
    if (tl__tls.scope_items && tl__tls.scope_items != tl__tls.scope_inline && tl__tls.scope_depth == 0) {
        tl__free(tl__tls.scope_items);
        tl__tls.scope_items = NULL;
        tl__tls.scope_cap = 0;
    }
}

/* ===== >>errors =============================================================================== */

TLDEF tl_status tl_last_status(void) { return tl__tls.status; }
TLDEF const char *tl_last_error(void) { return tl__tls.msg; }
TLDEF void tl_clear_error(void) {
    tl__tls.status = TL_OK;
    tl__tls.msg[0] = 0;
}
TLDEF const char *tl_status_str(tl_status s) {
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
    }
    return "TL_ERR_UNKNOWN";
}
TLDEF const char *tl_dtype_name(tl_dtype dt) { return TL__VALID_DT(dt) ? tl__dtype_names[dt] : "invalid"; }
TLDEF size_t tl_dtype_size(tl_dtype dt) { return TL__VALID_DT(dt) ? tl__dtype_sizes[dt] : 0; }
TLDEF int tl_dtype_is_floating(tl_dtype dt) { return TL__VALID_DT(dt) && TL__IS_FLOAT(dt); }

/* Rank of integer types for promotion: bool < u8/i8 < i16 < i32 < i64. */
static int tl__int_rank(tl_dtype d) {
    switch (d) {
    case TL_BOOL: return 0;
    case TL_U8: case TL_I8: return 1;
    case TL_I16: return 2;
    case TL_I32: return 3;
    default: return 4;
    }
}
/* torch.promote_types: bool < integers < floats; u8+i8 -> i16; f16+bf16 -> f32. */
TLDEF tl_dtype tl_promote_types(tl_dtype a, tl_dtype b) {
    if (a == b) return a;
    if (!TL__VALID_DT(a) || !TL__VALID_DT(b)) return TL_F32;
    if (TL__IS_FLOAT(a) || TL__IS_FLOAT(b)) {
        if (!TL__IS_FLOAT(a)) return b;
        if (!TL__IS_FLOAT(b)) return a;
        if (a == TL_F64 || b == TL_F64) return TL_F64;
        return TL_F32; /* f32 with f16/bf16, or f16 with bf16 */
    }
    if (a == TL_BOOL) return b;
    if (b == TL_BOOL) return a;
    if ((a == TL_U8 && b == TL_I8) || (a == TL_I8 && b == TL_U8)) return TL_I16;
    return tl__int_rank(a) >= tl__int_rank(b) ? a : b;
}

/* torch's result_type: dimensioned tensors win over 0-dim tensors, which win over Python scalars,
   unless the lower class is of a higher category (bool < int < float). -1 = undefined. */
typedef struct tl__rtype { int dim, zero, wrapped; } tl__rtype;
static void tl__rtype_init(tl__rtype *r) { r->dim = r->zero = r->wrapped = -1; }
static int tl__promote_u(int a, int b) {
    if (a < 0) return b;
    if (b < 0) return a;
    return (int)tl_promote_types((tl_dtype)a, (tl_dtype)b);
}
static void tl__rtype_tensor(tl__rtype *r, const tl_tensor *t) {
    if (t->ndim == 0) r->zero = tl__promote_u(r->zero, (int)t->dtype);
    else r->dim = tl__promote_u(r->dim, (int)t->dtype);
}
/* A C double acts like a Python int when integral, like a Python float otherwise. */
static int tl__scalar_is_int(double s) { return s == floor(s) && fabs(s) < 9.2e18; }
static void tl__rtype_scalar(tl__rtype *r, double s) {
    r->wrapped = tl__promote_u(r->wrapped, tl__scalar_is_int(s) ? (int)TL_I64 : (int)TL_F32);
}
static int tl__combine_cat(int higher, int lower) {
    if (higher >= 0 && TL__IS_FLOAT((tl_dtype)higher)) return higher;
    if (higher == (int)TL_BOOL || (lower >= 0 && TL__IS_FLOAT((tl_dtype)lower)))
        return tl__promote_u(higher, lower);
    if (higher >= 0) return higher;
    return lower;
}
static tl_dtype tl__rtype_result(const tl__rtype *r) {
    int d = tl__combine_cat(r->dim, tl__combine_cat(r->zero, r->wrapped));
    return d < 0 ? TL_F32 : (tl_dtype)d;
}
/* torch's canCast: no float -> integer, no non-bool -> bool. */
static int tl__can_cast(tl_dtype from, tl_dtype to) {
    if (TL__IS_FLOAT(from) && !TL__IS_FLOAT(to)) return 0;
    if (from != TL_BOOL && to == TL_BOOL) return 0;
    return 1;
}

/* ===== >>memory =============================================================================== */

/* Storage comes from a per-thread cache of freed blocks bucketed by power-of-two capacity, so a
   steady-state training step (same shapes every step) allocates nothing. */
static int tl__bucket(size_t nbytes) {
    int b = 0;
    while (b < TL__CACHE_BUCKETS && ((size_t)1 << b) < nbytes) b++;
    return b < TL__CACHE_BUCKETS ? b : -1;
}
static tl_storage *tl__storage_new(size_t nbytes) {
    tl_storage *s;
    int b = tl__bucket(nbytes);
#ifndef TL_NO_CACHE
    if (b >= 0 && tl__tls.free_storage[b]) {
        s = tl__tls.free_storage[b];
        tl__tls.free_storage[b] = s->next_free;
        tl__tls.n_free_storage[b]--;
        tl__tls.cached_bytes -= (size_t)1 << b;
        s->refcount = 1;
        s->nbytes = nbytes;
        s->version = 0;
        s->next_free = NULL;
        TL__ATOMIC_ADD(&tl__live_storages_n, 1);
        return s;
    }
#endif
    s = (tl_storage *)tl__malloc(sizeof(tl_storage));
    if (!s) return NULL;
    memset(s, 0, sizeof *s);
    s->bucket = b;
    s->data = tl__malloc(b >= 0 ? (size_t)1 << b : nbytes);
    if (!s->data) {
        tl__free(s);
        return NULL;
    }
    s->refcount = 1;
    s->nbytes = nbytes;
    TL__ATOMIC_ADD(&tl__live_storages_n, 1);
    return s;
}
static void tl__storage_release(tl_storage *s) {
    if (!s || --s->refcount > 0) return;
    TL__ATOMIC_ADD(&tl__live_storages_n, -1);
    if (s->borrowed) {
        if (s->release) s->release(s->data, s->release_user);
        tl__free(s);
        return;
    }
#ifndef TL_NO_CACHE
    if (s->bucket >= 0 && tl__tls.n_free_storage[s->bucket] < TL__CACHE_PER_BUCKET &&
        tl__tls.cached_bytes + ((size_t)1 << s->bucket) <= TL__CACHE_MAX_BYTES) {
        s->next_free = tl__tls.free_storage[s->bucket];
        tl__tls.free_storage[s->bucket] = s;
        tl__tls.n_free_storage[s->bucket]++;
        tl__tls.cached_bytes += (size_t)1 << s->bucket;
        return;
    }
#endif
    tl__free(s->data);
    tl__free(s);
}

/* A tensor header with no storage; shape/stride zeroed. Headers and graph nodes are recycled
   through per-thread free lists. */
static tl_tensor *tl__header(void) {
    tl_tensor *t = tl__tls.free_tensors;
    if (t) {
        tl__tls.free_tensors = t->grad;
        tl__tls.n_free_tensors--;
    } else {
        t = (tl_tensor *)tl__malloc(sizeof(tl_tensor));
        if (!t) return NULL;
    }
    memset(t, 0, sizeof *t);
    t->refcount = 1;
    TL__ATOMIC_ADD(&tl__live_tensors_n, 1);
    return t;
}
static void tl__header_free(tl_tensor *t) {
    TL__ATOMIC_ADD(&tl__live_tensors_n, -1);
#ifndef TL_NO_CACHE
    if (tl__tls.n_free_tensors < TL__CACHE_HEADERS) {
        t->grad = tl__tls.free_tensors;
        tl__tls.free_tensors = t;
        tl__tls.n_free_tensors++;
        return;
    }
#endif
    tl__free(t);
}
static tl__node *tl__node_alloc(void) {
    tl__node *n = tl__tls.free_nodes;
    if (n) {
        tl__tls.free_nodes = (tl__node *)(void *)n->grad;
        tl__tls.n_free_nodes--;
    } else {
        n = (tl__node *)tl__malloc(sizeof(tl__node));
        if (!n) return NULL;
    }
    memset(n, 0, sizeof *n);
    return n;
}
static void tl__node_free(tl__node *n) {
#ifndef TL_NO_CACHE
    if (tl__tls.n_free_nodes < TL__CACHE_HEADERS) {
        n->grad = (tl_tensor *)(void *)tl__tls.free_nodes;
        tl__tls.free_nodes = n;
        tl__tls.n_free_nodes++;
        return;
    }
#endif
    tl__free(n);
}
/* Gives every cached block back to the allocator (tl_shutdown, tl_setup). */
static void tl__cache_flush(void) {
    int b;
    while (tl__tls.free_tensors) {
        tl_tensor *t = tl__tls.free_tensors;
        tl__tls.free_tensors = t->grad;
        tl__free(t);
    }
    tl__tls.n_free_tensors = 0;
    while (tl__tls.free_nodes) {
        tl__node *n = tl__tls.free_nodes;
        tl__tls.free_nodes = (tl__node *)(void *)n->grad;
        tl__free(n);
    }
    tl__tls.n_free_nodes = 0;
    for (b = 0; b < TL__CACHE_BUCKETS; b++) {
        while (tl__tls.free_storage[b]) {
            tl_storage *st = tl__tls.free_storage[b];
            tl__tls.free_storage[b] = st->next_free;
            tl__free(st->data);
            tl__free(st);
        }
        tl__tls.n_free_storage[b] = 0;
    }
    tl__tls.cached_bytes = 0;
}

static void tl__release(tl_tensor *t);
static void tl__node_release(tl__node *n) {
    int k;
    if (!n || --n->refcount > 0) return;
    for (k = 0; k < n->nin; k++) {
        tl__release(n->in[k]);
        tl__node_release(n->next[k]);
    }
    for (k = 0; k < n->nins; k++) {
        tl__release(n->ins[k]);
        if (n->ins_next) tl__node_release(n->ins_next[k]);
    }
    tl__free(n->ins);
    tl__free(n->ins_next);
    tl__release(n->out);
    tl__release(n->aux);
    tl__release(n->grad);
    tl__node_free(n);
}
static void tl__release(tl_tensor *t) {
    if (!t || --t->refcount > 0) return;
    tl__storage_release(t->storage);
    if (t->grad) tl__release(t->grad);
    if (t->grad_fn) {
        if (t->grad_fn->out_weak == t) t->grad_fn->out_weak = NULL;
        tl__node_release(t->grad_fn);
    }
    tl__release(t->base);
    while (t->hooks) {
        tl__hook *h = t->hooks;
        t->hooks = h->next;
        tl__free(h);
    }
    tl__header_free(t);
}

static void tl__set_contig_strides(tl_tensor *t) {
    int64_t st = 1;
    int i;
    for (i = t->ndim - 1; i >= 0; i--) {
        t->stride[i] = st;
        st *= t->shape[i] > 1 ? t->shape[i] : 1;
    }
}

/* Validates a shape: 0 <= ndim <= TL_MAX_DIMS, sizes >= 0, byte size fits. */
static int tl__check_shape(const char *op, int ndim, const int64_t *shape, tl_dtype dt) {
    int i;
    double total = 1;
    if (!TL__VALID_DT(dt)) {
        TL__FAIL(TL_ERR_DTYPE, "%s: invalid dtype %d", op, (int)dt);
        return 0;
    }
    if (ndim < 0 || ndim > TL_MAX_DIMS) {
        TL__FAIL(TL_ERR_SHAPE, "%s: %d dimensions requested, tensors have 0 to %d", op, ndim, TL_MAX_DIMS);
        return 0;
    }
    if (ndim > 0 && !shape) {
        TL__FAIL(TL_ERR_ARG, "%s: shape is NULL", op);
        return 0;
    }
    for (i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            TL__FAIL(TL_ERR_SHAPE, "%s: negative dimension %lld in shape %s", op, (long long)shape[i],
                     tl__fmt_shape(ndim, shape));
            return 0;
        }
        if (shape[i] > 0) total *= (double)shape[i]; /* zeros too: [2^32, 2^32, 0] overflows in torch */
    }
    if (total * (double)tl__dtype_sizes[dt] > 9.0e18) {
        TL__FAIL(TL_ERR_OOM, "%s: shape %s is too large", op, tl__fmt_shape(ndim, shape));
        return 0;
    }
    return 1;
}

/* New contiguous tensor with uninitialised data (untracked: internal use). */
static tl_tensor *tl__new(const char *op, int ndim, const int64_t *shape, tl_dtype dt) {
    tl_tensor *t;
    int64_t n;
    if (!tl__check_shape(op, ndim, shape, dt)) return NULL;
    n = tl__prod(ndim, shape);
    t = tl__header();
    if (!t) return TL__FAILN(TL_ERR_OOM, "%s: out of memory allocating a tensor header", op);
    t->storage = tl__storage_new((size_t)n * tl__dtype_sizes[dt]);
    if (!t->storage) {
        tl__release(t);
        return TL__FAILN(TL_ERR_OOM, "%s: out of memory allocating %s %s (%lld bytes)", op,
                         tl__dtype_names[dt], tl__fmt_shape(ndim, shape),
                         (long long)((size_t)n * tl__dtype_sizes[dt]));
    }
    t->ndim = ndim;
    t->dtype = dt;
    { int i_; for (i_ = 0; i_ < ndim && i_ < TL_MAX_DIMS; i_++) t->shape[i_] = shape[i_]; }
    tl__set_contig_strides(t);
    return t;
}
static tl_tensor *tl__new_like(const char *op, const tl_tensor *t, tl_dtype dt) {
    return tl__new(op, t->ndim, t->shape, dt);
}

/* A new header sharing src's storage and metadata (the start of every view). */
static tl_tensor *tl__alias(const char *op, const tl_tensor *src) {
    int d;
    tl_tensor *t = tl__header();
    if (!t) return TL__FAILN(TL_ERR_OOM, "%s: out of memory allocating a view of %s", op, TL__SH(src));
    t->storage = src->storage;
    t->storage->refcount++;
    t->ndim = src->ndim;
    t->dtype = src->dtype;
    t->offset = src->offset;
    for (d = 0; d < src->ndim; d++) {
        t->shape[d] = src->shape[d];
        t->stride[d] = src->stride[d];
    }
    return t;
}

/* ---- autograd recording (the backward engine is in >>autograd) ---- */

static int tl__grad_mode(void) { return tl__tls.grad_off == 0 && tl__tls.record_off == 0; }
/* True when an op on these inputs must be recorded: grad mode on and an input requires grad. */
static int tl__wants_grad(const tl_tensor *a, const tl_tensor *b, const tl_tensor *c) {
    if (!tl__grad_mode()) return 0;
    return (a && a->requires_grad) || (b && b->requires_grad) || (c && c->requires_grad);
}
static int tl__view_refresh(tl_tensor *v);
/* What a node keeps of an input: a leaf that requires grad itself (backward delivers its .grad),
   anything else as a detached alias, so that a later in-place op giving the tensor a new history
   can never make a reference cycle through the graph. */
static tl_tensor *tl__graph_hold(const tl_tensor *t) {
    if (t->requires_grad && !t->grad_fn) {
        ((tl_tensor *)t)->refcount++;
        return (tl_tensor *)t;
    }
    return tl__alias("autograd", t);
}
/* Attaches a new node for op to out, retaining the inputs. Integer/bool outputs are never
   differentiable, so nothing is recorded for them. Returns 0 (OOM recorded) on failure. */
static int tl__record(tl_tensor *out, int op, const tl_tensor *a, const tl_tensor *b, const tl_tensor *c) {
    tl__node *n;
    const tl_tensor *ins[3];
    int k;
    if (!TL__IS_FLOAT(out->dtype)) return 1;
    if ((a && !tl__view_refresh((tl_tensor *)a)) || (b && !tl__view_refresh((tl_tensor *)b)) ||
        (c && !tl__view_refresh((tl_tensor *)c)))
        return 0;
    n = tl__node_alloc();
    if (!n) {
        TL__FAIL(TL_ERR_OOM, "autograd: out of memory recording an op on %s", TL__SH(out));
        return 0;
    }
    n->refcount = 1;
    n->op = op;
    n->seq = ++tl__tls.seq;
    ins[0] = a;
    ins[1] = b;
    ins[2] = c;
    for (k = 0; k < 3; k++) {
        n->in[k] = ins[k] ? tl__graph_hold(ins[k]) : NULL;
        if (ins[k] && !n->in[k]) {
            n->nin = k;
            tl__node_release(n);
            return 0;
        }
        if (ins[k] && ins[k]->requires_grad) {
            /* the edge is the input's history now; a later in-place op on it must not change it */
            n->need |= 1 << k;
            n->next[k] = ins[k]->grad_fn;
            if (n->next[k]) n->next[k]->refcount++;
        }
    }
    n->nin = c ? 3 : (b ? 2 : 1);
    n->out_weak = out;
    if (out->grad_fn) tl__node_release(out->grad_fn);
    out->grad_fn = n;
    out->requires_grad = 1;
    return 1;
}
#define TL__NEED(n, k) (((n)->need >> (k)) & 1)
/* Backward will read input k: remember its version to detect later in-place changes. */
static void tl__save_in(tl__node *n, int k) {
    n->in_saved |= 1 << k;
    n->in_ver[k] = n->in[k]->storage->version;
}
/* Backward will read the output: keep a detached alias (no grad_fn, so no reference cycle). */
static int tl__save_out(tl__node *n, const tl_tensor *out) {
    n->out = tl__alias("autograd", out);
    if (!n->out) return 0;
    n->out_ver = out->storage->version;
    return 1;
}

/* Registers a new reference with the innermost scope (public functions return through this). */
static tl_tensor *tl__ret(tl_tensor *t) {
    tl__tls_state *s = &tl__tls;
    if (!t || s->scope_depth == 0) return t;
    if (!s->scope_items) {
        s->scope_items = s->scope_inline;
        s->scope_cap = TL__SCOPE_INLINE;
    }
    if (s->scope_n == s->scope_cap) {
        int cap = s->scope_cap * 2;
        tl_tensor **items = (tl_tensor **)tl__malloc(sizeof(tl_tensor *) * (size_t)cap);
        if (!items) {
            tl__release(t);
            return TL__FAILN(TL_ERR_OOM, "tl_scope: out of memory tracking %d temporaries", s->scope_n);
        }
        memcpy(items, s->scope_items, sizeof(tl_tensor *) * (size_t)s->scope_n);
        if (s->scope_items != s->scope_inline) tl__free(s->scope_items);
        s->scope_items = items;
        s->scope_cap = cap;
    }
    s->scope_items[s->scope_n++] = t;
    return t;
}

TLDEF tl_tensor *tl_retain(tl_tensor *t) {
    if (!t) return NULL;
    t->refcount++;
    return tl__ret(t);
}
TLDEF void tl_release(tl_tensor *t) { tl__release(t); }

TLDEF tl_scope tl_scope_begin(void) {
    tl_scope sc;
    tl__tls_state *s = &tl__tls;
    if (s->scope_depth >= TL__MAX_SCOPES) {
        TL__FAIL(TL_ERR_STATE, "tl_scope_begin: more than %d nested scopes", TL__MAX_SCOPES);
        sc.depth = -1;
        return sc;
    }
    s->scope_mark[s->scope_depth] = s->scope_n;
    sc.depth = s->scope_depth++;
    return sc;
}

TLDEF void tl_scope_end(tl_scope sc) {
    tl__tls_state *s = &tl__tls;
    int mark;
    if (sc.depth < 0 || sc.depth >= s->scope_depth) return; /* ended already or never begun */
    mark = s->scope_mark[sc.depth];
    while (s->scope_n > mark) tl__release(s->scope_items[--s->scope_n]);
    s->scope_depth = sc.depth;
    if (s->scope_depth == 0 && s->scope_items != s->scope_inline && s->scope_items) {
        tl__free(s->scope_items); /* give back a grown list once the outermost scope ends */
        s->scope_items = s->scope_inline;
        s->scope_cap = TL__SCOPE_INLINE;
    }
}

TLDEF tl_tensor *tl_keep(tl_tensor *t) {
    tl__tls_state *s = &tl__tls;
    int i, lo;
    if (!t || s->scope_depth == 0) return t;
    lo = s->scope_mark[s->scope_depth - 1];
    for (i = s->scope_n - 1; i >= lo; i--) {
        if (s->scope_items[i] == t) {
            /* Move the entry below the innermost scope's mark: it then belongs to the parent. */
            memmove(s->scope_items + lo + 1, s->scope_items + lo, sizeof(tl_tensor *) * (size_t)(i - lo));
            s->scope_items[lo] = t;
            s->scope_mark[s->scope_depth - 1]++;
            if (s->scope_depth == 1) { /* no parent: the caller owns it; drop the entry */
                memmove(s->scope_items + lo, s->scope_items + lo + 1,
                        sizeof(tl_tensor *) * (size_t)(s->scope_n - lo - 1));
                s->scope_n--;
                s->scope_mark[0]--;
            }
            return t;
        }
    }
    return t; /* not owned by the innermost scope: nothing to move */
}

TLDEF long tl_debug_live_tensors(void) { return TL__ATOMIC_LOAD(&tl__live_tensors_n); }
TLDEF long tl_debug_live_storages(void) { return TL__ATOMIC_LOAD(&tl__live_storages_n); }

TLDEF int tl_ndim(const tl_tensor *t) { return t ? t->ndim : 0; }
TLDEF const int64_t *tl_shape(const tl_tensor *t) { return t ? t->shape : NULL; }
TLDEF int64_t tl_size(const tl_tensor *t, int dim) {
    int d;
    if (tl__null_in("tl_size", t)) return -1;
    if (t->ndim == 0) {
        TL__FAIL(TL_ERR_ARG, "tl_size: dimension specified as %d but tensor has no dimensions", dim);
        return -1;
    }
    d = tl__wrap_dim("tl_size", dim, t->ndim, t);
    return d < 0 ? -1 : t->shape[d];
}
TLDEF const int64_t *tl_stride(const tl_tensor *t) { return t ? t->stride : NULL; }
TLDEF int64_t tl_storage_offset(const tl_tensor *t) { return t ? t->offset : 0; }
TLDEF int64_t tl_numel(const tl_tensor *t) { return t ? tl__prod(t->ndim, t->shape) : 0; }
TLDEF tl_dtype tl_dtype_of(const tl_tensor *t) { return t ? t->dtype : TL_F32; }
static char *tl__ptr(const tl_tensor *t) {
    return (char *)t->storage->data + (size_t)t->offset * tl__dtype_sizes[t->dtype];
}
TLDEF void *tl_data_ptr(const tl_tensor *t) { return t ? (void *)tl__ptr(t) : NULL; }
/* torch's rule: strides of size-1 dims don't matter. */
TLDEF int tl_is_contiguous(const tl_tensor *t) {
    int64_t st = 1;
    int i;
    if (!t) return 0;
    for (i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] == 0) return 1;
        if (t->shape[i] != 1) {
            if (t->stride[i] != st) return 0;
            st *= t->shape[i];
        }
    }
    return 1;
}
TLDEF int tl_same_storage(const tl_tensor *a, const tl_tensor *b) {
    return a && b && a->storage == b->storage;
}

/* ===== >>engine (elementwise iteration and dtype conversion) ================================== */

/* IEEE half <-> float, round to nearest even. */
static float tl__h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
    float f;
    if (e == 0) {
        f = ldexpf((float)m, -24); /* zero or subnormal */
        return sign ? -f : f;
    }
    if (e == 31) bits = sign | 0x7f800000u | (m << 13);
    else bits = sign | ((e + 112u) << 23) | (m << 13);
    memcpy(&f, &bits, 4);
    return f;
}
static uint16_t tl__f2h(float f) {
    uint32_t x, ax, sign, e, m, h, rem;
    memcpy(&x, &f, 4);
    sign = (x >> 16) & 0x8000u;
    ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to infinity */
    if (ax < 0x38800000u) {                                    /* half subnormal or zero */
        float af;
        memcpy(&af, &ax, 4);
        return (uint16_t)(sign | (uint32_t)rintf(af * 16777216.0f));
    }
    e = (ax >> 23) - 112u;
    m = ax & 0x7fffffu;
    h = (e << 10) | (m >> 13);
    rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
    return (uint16_t)(sign | h);
}
static float tl__bf2f(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}
static uint16_t tl__f2bf(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* quiet NaN */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}
/* double -> int64 without undefined behaviour: out-of-range and NaN give INT64_MIN (as x86 does). */
static int64_t tl__d2i(double v) {
    if (!(v > -9223372036854775808.0 && v < 9223372036854775808.0)) return INT64_MIN;
    return (int64_t)v;
}

/* Compute types: every kernel works on float, double or int64 buffers. */
enum { TL__CT_F32 = 0, TL__CT_F64 = 1, TL__CT_I64 = 2 };
static int tl__ctype(tl_dtype dt) {
    if (dt == TL_F64) return TL__CT_F64;
    if (TL__IS_FLOAT(dt)) return TL__CT_F32;
    return TL__CT_I64;
}
static const tl_dtype tl__ct_dtype[3] = {TL_F32, TL_F64, TL_I64};
static const size_t tl__ct_size[3] = {4, 8, 8};

/* Reads n elements of dtype sd (byte stride ss) into buf of compute type ct. */
#define TL__LOAD_CASE(DT, RD)                                              \
    case DT:                                                               \
        for (i = 0; i < n; i++, src += ss) {                               \
            if (ct == TL__CT_F32) ((float *)buf)[i] = (float)(RD);         \
            else if (ct == TL__CT_F64) ((double *)buf)[i] = (double)(RD);  \
            else ((int64_t *)buf)[i] = TL__LOAD_TOI(RD);                   \
        }                                                                  \
        break;
static void tl__load(void *buf, int ct, const char *src, tl_dtype sd, int64_t ss, int64_t n) {
    int64_t i;
#define TL__LOAD_TOI(v) tl__d2i((double)(v))
    switch (sd) {
        TL__LOAD_CASE(TL_F32, *(const float *)src)
        TL__LOAD_CASE(TL_F64, *(const double *)src)
        TL__LOAD_CASE(TL_F16, tl__h2f(*(const uint16_t *)src))
        TL__LOAD_CASE(TL_BF16, tl__bf2f(*(const uint16_t *)src))
#undef TL__LOAD_TOI
#define TL__LOAD_TOI(v) (int64_t)(v)
        TL__LOAD_CASE(TL_I64, *(const int64_t *)src)
        TL__LOAD_CASE(TL_I32, *(const int32_t *)src)
        TL__LOAD_CASE(TL_I16, *(const int16_t *)src)
        TL__LOAD_CASE(TL_I8, *(const int8_t *)src)
        TL__LOAD_CASE(TL_U8, *(const uint8_t *)src)
        TL__LOAD_CASE(TL_BOOL, *(const uint8_t *)src != 0)
#undef TL__LOAD_TOI
    default: break;
    }
}
#undef TL__LOAD_CASE

/* Writes n values of compute type ct from buf to dst (dtype dd, byte stride ds). Integers wrap,
   floats convert with C rules (out-of-range float -> int gives the x86 "indefinite" value). */
#define TL__STORE_CASE(DT, T, FROMF, FROMI)                                                     \
    case DT:                                                                                    \
        for (i = 0; i < n; i++, dst += ds) {                                                    \
            if (ct == TL__CT_F32) *(T *)dst = FROMF(((const float *)buf)[i]);                   \
            else if (ct == TL__CT_F64) *(T *)dst = FROMF(((const double *)buf)[i]);             \
            else *(T *)dst = FROMI(((const int64_t *)buf)[i]);                                  \
        }                                                                                       \
        break;
#define TL__CAST_F32(v) (float)(v)
#define TL__CAST_F64(v) (double)(v)
#define TL__CAST_H(v) tl__f2h((float)(v))
#define TL__CAST_BF(v) tl__f2bf((float)(v))
#define TL__F2I64(v) tl__d2i((double)(v))
#define TL__F2I32(v) (int32_t)tl__d2i((double)(v))
#define TL__F2I16(v) (int16_t)tl__d2i((double)(v))
#define TL__F2I8(v) (int8_t)tl__d2i((double)(v))
#define TL__F2U8(v) (uint8_t)tl__d2i((double)(v))
#define TL__TO_BOOL(v) (uint8_t)((v) != 0)
#define TL__I2I64(v) (int64_t)(v)
#define TL__I2I32(v) (int32_t)(v)
#define TL__I2I16(v) (int16_t)(v)
#define TL__I2I8(v) (int8_t)(v)
#define TL__I2U8(v) (uint8_t)(v)
static void tl__store(char *dst, tl_dtype dd, int64_t ds, const void *buf, int ct, int64_t n) {
    int64_t i;
    switch (dd) {
        TL__STORE_CASE(TL_F32, float, TL__CAST_F32, TL__CAST_F32)
        TL__STORE_CASE(TL_F64, double, TL__CAST_F64, TL__CAST_F64)
        TL__STORE_CASE(TL_F16, uint16_t, TL__CAST_H, TL__CAST_H)
        TL__STORE_CASE(TL_BF16, uint16_t, TL__CAST_BF, TL__CAST_BF)
        TL__STORE_CASE(TL_I64, int64_t, TL__F2I64, TL__I2I64)
        TL__STORE_CASE(TL_I32, int32_t, TL__F2I32, TL__I2I32)
        TL__STORE_CASE(TL_I16, int16_t, TL__F2I16, TL__I2I16)
        TL__STORE_CASE(TL_I8, int8_t, TL__F2I8, TL__I2I8)
        TL__STORE_CASE(TL_U8, uint8_t, TL__F2U8, TL__I2U8)
        TL__STORE_CASE(TL_BOOL, uint8_t, TL__TO_BOOL, TL__TO_BOOL)
    default: break;
    }
}
#undef TL__STORE_CASE

/* Strided N-d iteration over up to 4 operands (operand 0 is the output). Strides are in bytes;
   dims of size 1 are dropped and dims that are contiguous for every operand are merged, so the
   inner callback sees the longest possible 1-D runs. */
#define TL__MAX_OPS 4
typedef struct tl__iter {
    int nd, nop;
    int64_t shape[TL_MAX_DIMS];
    char *base[TL__MAX_OPS];
    int64_t st[TL__MAX_OPS][TL_MAX_DIMS];
} tl__iter;
typedef void (*tl__inner_fn)(void *ctx, int64_t n, char **p, const int64_t *s);

static void tl__iter_init(tl__iter *it, int nd, const int64_t *shape) {
    memset(it, 0, sizeof *it);
    it->nd = nd;
    if (nd) memcpy(it->shape, shape, sizeof(int64_t) * (size_t)nd);
}
/* Adds an operand: estrides are element strides aligned to the iteration shape (0 = broadcast). */
static void tl__iter_add(tl__iter *it, char *base, const int64_t *estrides, size_t esz) {
    int d, k = it->nop++;
    it->base[k] = base;
    for (d = 0; d < it->nd; d++) it->st[k][d] = estrides ? estrides[d] * (int64_t)esz : 0;
}
/* Element strides of t broadcast to (nd, shape), right-aligned as NumPy does. */
static void tl__bcast_strides(const tl_tensor *t, int nd, const int64_t *shape, int64_t *out) {
    int d, off = nd - t->ndim;
    for (d = 0; d < nd; d++) {
        if (d < off) out[d] = 0;
        else out[d] = (t->shape[d - off] == 1 && shape[d] != 1) ? 0 : t->stride[d - off];
    }
}
static void tl__iter_add_tensor(tl__iter *it, const tl_tensor *t) {
    int64_t st[TL_MAX_DIMS];
    tl__bcast_strides(t, it->nd, it->shape, st);
    tl__iter_add(it, tl__ptr(t), st, tl__dtype_sizes[t->dtype]);
}
static void tl__iter_coalesce(tl__iter *it) {
    int d, k, n = 0;
    /* drop size-1 dims */
    for (d = 0; d < it->nd; d++) {
        if (it->shape[d] == 1) continue;
        it->shape[n] = it->shape[d];
        for (k = 0; k < it->nop; k++) it->st[k][n] = it->st[k][d];
        n++;
    }
    it->nd = n;
    /* merge dim d into d+1 when every operand is contiguous across them */
    n = 0;
    for (d = 1; d < it->nd; d++) {
        int ok = 1;
        for (k = 0; k < it->nop; k++)
            if (it->st[k][n] != it->st[k][d] * it->shape[d]) ok = 0;
        if (ok) {
            it->shape[n] *= it->shape[d];
            for (k = 0; k < it->nop; k++) it->st[k][n] = it->st[k][d];
        } else {
            n++;
            it->shape[n] = it->shape[d];
            for (k = 0; k < it->nop; k++) it->st[k][n] = it->st[k][d];
        }
    }
    if (it->nd > 0) it->nd = n + 1;
}
static void tl__iter_run(tl__iter *it, tl__inner_fn fn, void *ctx) {
    int64_t idx[TL_MAX_DIMS], s[TL__MAX_OPS];
    char *p[TL__MAX_OPS];
    int d, k, last;
    for (d = 0; d < it->nd; d++)
        if (it->shape[d] == 0) return;
    for (k = 0; k < it->nop; k++) p[k] = it->base[k];
    if (it->nd == 0) {
        for (k = 0; k < it->nop; k++) s[k] = 0;
        fn(ctx, 1, p, s);
        return;
    }
    last = it->nd - 1;
    for (k = 0; k < it->nop; k++) s[k] = it->st[k][last];
    memset(idx, 0, sizeof idx);
    for (;;) {
        fn(ctx, it->shape[last], p, s);
        for (d = last - 1; d >= 0; d--) {
            if (++idx[d] < it->shape[d]) {
                for (k = 0; k < it->nop; k++) p[k] += it->st[k][d];
                break;
            }
            idx[d] = 0;
            for (k = 0; k < it->nop; k++) p[k] -= it->st[k][d] * (it->shape[d] - 1);
        }
        if (d < 0) return;
    }
}

/* ---- conversion copy: dst[...] = src[...] with broadcasting and dtype conversion ---- */

#define TL__CHUNK 256
typedef struct tl__copy_ctx { tl_dtype dd, sd; } tl__copy_ctx;
static void tl__copy_inner(void *vctx, int64_t n, char **p, const int64_t *s) {
    tl__copy_ctx *c = (tl__copy_ctx *)vctx;
    size_t esz = tl__dtype_sizes[c->dd];
    int64_t off, m, i;
    if (c->dd == c->sd) {
        if (s[0] == (int64_t)esz && s[1] == (int64_t)esz) {
            memcpy(p[0], p[1], (size_t)n * esz);
            return;
        }
        for (i = 0; i < n; i++) memcpy(p[0] + i * s[0], p[1] + i * s[1], esz);
        return;
    }
    {
        /* int64 buffers keep integers exact; doubles carry everything else */
        int ct = (TL__IS_INTLIKE(c->dd) && TL__IS_INTLIKE(c->sd)) ? TL__CT_I64 : TL__CT_F64;
        double buf[TL__CHUNK];
        for (off = 0; off < n; off += m) {
            m = n - off < TL__CHUNK ? n - off : TL__CHUNK;
            tl__load(buf, ct, p[1] + off * s[1], c->sd, s[1], m);
            tl__store(p[0] + off * s[0], c->dd, s[0], buf, ct, m);
        }
    }
}
/* Copies src (broadcast to dst's shape) into dst; shapes must already be compatible. */
static void tl__copy_into(tl_tensor *dst, const tl_tensor *src) {
    tl__iter it;
    tl__copy_ctx c;
    c.dd = dst->dtype;
    c.sd = src->dtype;
    tl__iter_init(&it, dst->ndim, dst->shape);
    tl__iter_add(&it, tl__ptr(dst), dst->stride, tl__dtype_sizes[dst->dtype]);
    tl__iter_add_tensor(&it, src);
    tl__iter_coalesce(&it);
    tl__iter_run(&it, tl__copy_inner, &c);
}
/* Contiguous copy of t in dtype dt (untracked). */
static tl_tensor *tl__copy_as(const char *op, const tl_tensor *t, tl_dtype dt) {
    tl_tensor *r = tl__new_like(op, t, dt);
    if (r) tl__copy_into(r, t);
    return r;
}
/* t itself (+1) when contiguous, else a contiguous copy (untracked). */
static tl_tensor *tl__contig(const char *op, const tl_tensor *t) {
    if (tl_is_contiguous(t)) {
        ((tl_tensor *)t)->refcount++;
        return (tl_tensor *)t;
    }
    return tl__copy_as(op, t, t->dtype);
}
/* t converted to dt and contiguous; t itself (+1) when it already is. */
static tl_tensor *tl__contig_as(const char *op, const tl_tensor *t, tl_dtype dt) {
    if (t->dtype == dt) return tl__contig(op, t);
    return tl__copy_as(op, t, dt);
}

/* ---- the op table ----
   X(id, name, torch's grad_fn name, backward family). Each family's backward function sits next to
   its forward code; tl__bwd_table (in >>autograd) is generated from this list. */
#define TL__OPS(X)                                                                                 \
    X(ADD, "add", "AddBackward0", binary) X(SUB, "sub", "SubBackward0", binary)                    \
    X(MUL, "mul", "MulBackward0", binary) X(DIV, "div", "DivBackward0", binary)                    \
    X(POW, "pow", "PowBackward0", binary) X(MAXIMUM, "maximum", "MaximumBackward0", binary)        \
    X(MINIMUM, "minimum", "MinimumBackward0", binary)                                              \
    X(EQ, "eq", "", none) X(NE, "ne", "", none) X(LT, "lt", "", none) X(LE, "le", "", none)        \
    X(GT, "gt", "", none) X(GE, "ge", "", none)                                                    \
    X(NEG, "neg", "NegBackward0", unary) X(ABS, "abs", "AbsBackward0", unary)                      \
    X(SIGN, "sign", "SignBackward0", unary) X(EXP, "exp", "ExpBackward0", unary)                   \
    X(LOG, "log", "LogBackward0", unary) X(LOG1P, "log1p", "Log1PBackward0", unary)                \
    X(SQRT, "sqrt", "SqrtBackward0", unary) X(RSQRT, "rsqrt", "RsqrtBackward0", unary)             \
    X(SIN, "sin", "SinBackward0", unary) X(COS, "cos", "CosBackward0", unary)                      \
    X(TANH, "tanh", "TanhBackward0", unary) X(SIGMOID, "sigmoid", "SigmoidBackward0", unary)       \
    X(RELU, "relu", "ReluBackward0", unary) X(LEAKY_RELU, "leaky_relu", "LeakyReluBackward0", unary) \
    X(GELU, "gelu", "GeluBackward0", unary) X(SILU, "silu", "SiluBackward0", unary)                \
    X(SOFTPLUS, "softplus", "SoftplusBackward0", unary) X(CLAMP, "clamp", "ClampBackward1", unary) \
    X(WHERE, "where", "WhereBackward0", where) X(MASKED_FILL, "masked_fill", "MaskedFillBackward0", where) \
    X(FILL, "fill", "FillBackward0", where)                                                        \
    X(SUM, "sum", "SumBackward1", reduce) X(MEAN, "mean", "MeanBackward1", reduce)                 \
    X(VAR, "var", "VarBackward0", reduce) X(STD, "std", "StdBackward0", reduce)                    \
    X(PROD, "prod", "ProdBackward1", reduce) X(MAX, "max", "MaxBackward0", reduce)                 \
    X(MIN, "min", "MinBackward0", reduce) X(ARGMAX, "argmax", "", none) X(ARGMIN, "argmin", "", none) \
    X(NORM, "norm", "NormBackward1", reduce) X(LOGSUMEXP, "logsumexp", "LogsumexpBackward0", reduce) \
    X(SOFTMAX, "softmax", "SoftmaxBackward0", lane)                                                \
    X(LOG_SOFTMAX, "log_softmax", "LogSoftmaxBackward0", lane) X(CUMSUM, "cumsum", "CumsumBackward0", lane) \
    X(MM, "mm", "MmBackward0", linalg) X(BMM, "bmm", "BmmBackward0", linalg)                       \
    X(VIEW, "view", "ViewBackward0", view) X(EXPAND, "expand", "ExpandBackward0", view)            \
    X(PERMUTE, "permute", "PermuteBackward0", view) X(SLICE, "slice", "SliceBackward0", view)      \
    X(SELECT, "select", "SelectBackward0", view) X(CAT, "cat", "CatBackward0", cat)                \
    X(STACK, "stack", "StackBackward0", cat)                                                       \
    X(INDEX_SELECT, "index_select", "IndexSelectBackward0", index)                                 \
    X(GATHER, "gather", "GatherBackward0", index) X(COPY, "copy", "CloneBackward0", copy)          \
    X(TO_DTYPE, "to", "ToCopyBackward0", copy)                                                     \
    X(AS_STRIDED, "as_strided", "AsStridedBackward0", view) X(COPY_SLICES, "copy_slices", "CopySlices", view)
#define TL__OP_ENUM(id, name, tname, fam) TL__OP_##id,
typedef enum tl__op { TL__OPS(TL__OP_ENUM) TL__OP_COUNT } tl__op;
#undef TL__OP_ENUM
#define TL__OP_NAME(id, name, tname, fam) name,
static const char *const tl__op_names[] = {TL__OPS(TL__OP_NAME) "?"};
#undef TL__OP_NAME
#define TL__OP_TNAME(id, name, tname, fam) tname,
static const char *const tl__op_torch_names[] = {TL__OPS(TL__OP_TNAME) "?"};
#undef TL__OP_TNAME
/* compile-time check that the name tables match the enum */
typedef char tl__op_names_check[(sizeof tl__op_names / sizeof tl__op_names[0]) == TL__OP_COUNT + 1 ? 1 : -1];

/* Every backward family: given the node and the gradient of its output, write the gradients of
   its inputs (untracked new references, NULL where none) to gin. */
typedef tl_status (*tl__bwd_fn)(tl__node *n, const tl_tensor *g, tl_tensor **gin);
/* Records a one-input op whose output r needs no saved values (views, copies) when t requires
   grad; releases r on failure. */
static tl_tensor *tl__view_record(tl_tensor *r, const tl_tensor *t, tl__op id) {
    if (r && tl__wants_grad(t, NULL, NULL) && !tl__record(r, id, t, NULL, NULL)) {
        tl__release(r);
        return NULL;
    }
    if (r && r->storage == t->storage && id != TL__OP_COPY && id != TL__OP_TO_DTYPE) {
        r->base = t->base ? t->base : (tl_tensor *)t; /* views know their base, like torch's ._base */
        r->base->refcount++;
        r->view_ver = r->storage->version;
    }
    return r;
}

/* Records an op over a list of inputs (cat, stack). */
static int tl__record_list(tl_tensor *out, tl__op id, int n, tl_tensor *const *ts, int dim) {
    tl__node *nd;
    int i;
    if (!tl__record(out, id, NULL, NULL, NULL)) return 0;
    nd = out->grad_fn;
    if (!nd) return 1;
    nd->ins = (tl_tensor **)tl__malloc(sizeof(tl_tensor *) * (size_t)n);
    nd->ins_next = (tl__node **)tl__malloc(sizeof(tl__node *) * (size_t)n);
    if (!nd->ins || !nd->ins_next) {
        TL__FAIL(TL_ERR_OOM, "autograd: out of memory recording a join of %d tensors", n);
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!tl__view_refresh(ts[i])) return 0;
        nd->ins[i] = tl__graph_hold(ts[i]);
        if (!nd->ins[i]) return 0;
        nd->ins_next[i] = ts[i]->requires_grad ? ts[i]->grad_fn : NULL;
        if (nd->ins_next[i]) nd->ins_next[i]->refcount++;
        nd->nins = i + 1;
    }
    nd->ip[0] = dim;
    return 1;
}
static int tl__any_requires_grad(int n, tl_tensor *const *ts) {
    int i;
    if (!tl__grad_mode()) return 0;
    for (i = 0; i < n; i++)
        if (ts[i]->requires_grad) return 1;
    return 0;
}

/* ---- elementwise kernels on compute buffers ---- */

typedef struct tl__ew {
    tl__op op;
    int nin;      /* 0..3 inputs */
    int ct;       /* compute type */
    int bwd;      /* 1: run the backward kernel of op (inputs: grad, x, y) */
    double p[4];  /* op parameters (alpha, slope, bounds, ...) */
    tl_dtype in_dt[3], out_dt;
} tl__ew;

static int64_t tl__ipow(int64_t b, int64_t e) {
    uint64_t r = 1, bb = (uint64_t)b; /* unsigned: wraps like torch's int64 overflow */
    if (e < 0) return b == 1 ? 1 : (b == -1 ? ((e & 1) ? -1 : 1) : 0);
    while (e) {
        if (e & 1) r *= bb;
        bb *= bb;
        e >>= 1;
    }
    return (int64_t)r;
}

#define TL__MF(name) name##f
#define TL__MD(name) name
#define TL__LOOP(EXPR) for (i = 0; i < n; i++) o[i] = (EXPR)
/* One body for float and double: T is the type, FN turns a libm name into its T version. */
#define TL__FLOAT_KERNEL(NAME, T, FN)                                                              \
    static void NAME(const tl__ew *e, int64_t n, const void *const *in, void *out) {              \
        const T *a = (const T *)in[0], *b = (const T *)in[1], *c = (const T *)in[2];               \
        T *o = (T *)out, p0 = (T)e->p[0], p1 = (T)e->p[1];                                        \
        int64_t i;                                                                                 \
        switch (e->op) {                                                                           \
        case TL__OP_ADD: TL__LOOP(a[i] + p0 * b[i]); break;                                        \
        case TL__OP_SUB: TL__LOOP(a[i] - p0 * b[i]); break;                                        \
        case TL__OP_MUL: TL__LOOP(a[i] * b[i]); break;                                             \
        case TL__OP_DIV: TL__LOOP(a[i] / b[i]); break;                                             \
        case TL__OP_POW: TL__LOOP(FN(pow)(a[i], b[i])); break;                                     \
        case TL__OP_MAXIMUM: TL__LOOP(a[i] != a[i] ? a[i] : (b[i] != b[i] || b[i] > a[i]) ? b[i] : a[i]); break; \
        case TL__OP_MINIMUM: TL__LOOP(a[i] != a[i] ? a[i] : (b[i] != b[i] || b[i] < a[i]) ? b[i] : a[i]); break; \
        case TL__OP_EQ: TL__LOOP((T)(a[i] == b[i])); break;                                        \
        case TL__OP_NE: TL__LOOP((T)(a[i] != b[i])); break;                                        \
        case TL__OP_LT: TL__LOOP((T)(a[i] < b[i])); break;                                         \
        case TL__OP_LE: TL__LOOP((T)(a[i] <= b[i])); break;                                        \
        case TL__OP_GT: TL__LOOP((T)(a[i] > b[i])); break;                                         \
        case TL__OP_GE: TL__LOOP((T)(a[i] >= b[i])); break;                                        \
        case TL__OP_NEG: TL__LOOP(-a[i]); break;                                                   \
        case TL__OP_ABS: TL__LOOP(FN(fabs)(a[i])); break;                                          \
        case TL__OP_SIGN: TL__LOOP((T)((a[i] > 0) - (a[i] < 0))); break;                           \
        case TL__OP_EXP: TL__LOOP(FN(exp)(a[i])); break;                                           \
        case TL__OP_LOG: TL__LOOP(FN(log)(a[i])); break;                                           \
        case TL__OP_LOG1P: TL__LOOP(FN(log1p)(a[i])); break;                                       \
        case TL__OP_SQRT: TL__LOOP(FN(sqrt)(a[i])); break;                                         \
        case TL__OP_RSQRT: TL__LOOP((T)1 / FN(sqrt)(a[i])); break;                                 \
        case TL__OP_SIN: TL__LOOP(FN(sin)(a[i])); break;                                           \
        case TL__OP_COS: TL__LOOP(FN(cos)(a[i])); break;                                           \
        case TL__OP_TANH: TL__LOOP(FN(tanh)(a[i])); break;                                         \
        case TL__OP_SIGMOID: TL__LOOP((T)1 / ((T)1 + FN(exp)(-a[i]))); break;                      \
        case TL__OP_RELU: TL__LOOP(a[i] > 0 ? a[i] : (a[i] != a[i] ? a[i] : (T)0)); break;         \
        case TL__OP_LEAKY_RELU: TL__LOOP(a[i] > 0 ? a[i] : a[i] * p0); break;                      \
        case TL__OP_GELU:                                                                          \
            if (e->p[0] != 0) /* tanh approximation */                                             \
                TL__LOOP((T)0.5 * a[i] *                                                           \
                         ((T)1 + FN(tanh)((T)0.7978845608028654 * (a[i] + (T)0.044715 * a[i] * a[i] * a[i])))); \
            else                                                                                   \
                TL__LOOP((T)0.5 * a[i] * ((T)1 + FN(erf)(a[i] * (T)0.7071067811865476)));          \
            break;                                                                                 \
        case TL__OP_SILU: TL__LOOP(a[i] / ((T)1 + FN(exp)(-a[i]))); break;                         \
        case TL__OP_SOFTPLUS: TL__LOOP(a[i] * p0 > p1 ? a[i] : FN(log1p)(FN(exp)(a[i] * p0)) / p0); break; \
        case TL__OP_CLAMP:                                                                         \
            for (i = 0; i < n; i++) {                                                              \
                T x = a[i];                                                                        \
                if (x < p0) x = p0;                                                                \
                if (x > p1) x = p1;                                                                \
                o[i] = x;                                                                          \
            }                                                                                      \
            break;                                                                                 \
        case TL__OP_WHERE: TL__LOOP(a[i] != 0 ? b[i] : c[i]); break;                               \
        case TL__OP_FILL: TL__LOOP(p0); break;                                                     \
        case TL__OP_COPY: TL__LOOP(a[i]); break;                                                   \
        default: break;                                                                            \
        }                                                                                          \
    }
TL__FLOAT_KERNEL(tl__kern_f32, float, TL__MF)
TL__FLOAT_KERNEL(tl__kern_f64, double, TL__MD)

static void tl__kern_i64(const tl__ew *e, int64_t n, const void *const *in, void *out) {
    const int64_t *a = (const int64_t *)in[0], *b = (const int64_t *)in[1], *c = (const int64_t *)in[2];
    int64_t *o = (int64_t *)out, i;
    int64_t p0 = tl__d2i(e->p[0]);
    switch (e->op) {
    /* unsigned arithmetic: wraps on overflow like torch instead of being undefined */
    case TL__OP_ADD: TL__LOOP((int64_t)((uint64_t)a[i] + (uint64_t)p0 * (uint64_t)b[i])); break;
    case TL__OP_SUB: TL__LOOP((int64_t)((uint64_t)a[i] - (uint64_t)p0 * (uint64_t)b[i])); break;
    case TL__OP_MUL: TL__LOOP((int64_t)((uint64_t)a[i] * (uint64_t)b[i])); break;
    case TL__OP_POW: TL__LOOP(tl__ipow(a[i], b[i])); break;
    case TL__OP_MAXIMUM: TL__LOOP(a[i] > b[i] ? a[i] : b[i]); break;
    case TL__OP_MINIMUM: TL__LOOP(a[i] < b[i] ? a[i] : b[i]); break;
    case TL__OP_EQ: TL__LOOP(a[i] == b[i]); break;
    case TL__OP_NE: TL__LOOP(a[i] != b[i]); break;
    case TL__OP_LT: TL__LOOP(a[i] < b[i]); break;
    case TL__OP_LE: TL__LOOP(a[i] <= b[i]); break;
    case TL__OP_GT: TL__LOOP(a[i] > b[i]); break;
    case TL__OP_GE: TL__LOOP(a[i] >= b[i]); break;
    case TL__OP_NEG: TL__LOOP((int64_t)(0u - (uint64_t)a[i])); break;
    case TL__OP_ABS: TL__LOOP(a[i] < 0 ? (int64_t)(0u - (uint64_t)a[i]) : a[i]); break;
    case TL__OP_SIGN: TL__LOOP((a[i] > 0) - (a[i] < 0)); break;
    case TL__OP_RELU: TL__LOOP(a[i] > 0 ? a[i] : 0); break;
    case TL__OP_CLAMP:
        for (i = 0; i < n; i++) {
            int64_t x = a[i];
            if (e->p[0] > -INFINITY && (double)x < e->p[0]) x = tl__d2i(e->p[0]);
            if (e->p[1] < INFINITY && (double)x > e->p[1]) x = tl__d2i(e->p[1]);
            o[i] = x;
        }
        break;
    case TL__OP_WHERE: TL__LOOP(a[i] != 0 ? b[i] : c[i]); break;
    case TL__OP_FILL: TL__LOOP(p0); break;
    case TL__OP_COPY: TL__LOOP(a[i]); break;
    default: break;
    }
}

/* Backward kernels of the unary family: a = incoming gradient, b = input x, c = output y. */
#define TL__FLOAT_BWD_KERNEL(NAME, T, FN)                                                          \
    static void NAME(const tl__ew *e, int64_t n, const void *const *in, void *out) {              \
        const T *a = (const T *)in[0], *b = (const T *)in[1], *c = (const T *)in[2];               \
        T *o = (T *)out, p0 = (T)e->p[0], p1 = (T)e->p[1];                                        \
        int64_t i;                                                                                 \
        switch (e->op) {                                                                           \
        case TL__OP_NEG: TL__LOOP(-a[i]); break;                                                   \
        case TL__OP_ABS: TL__LOOP(b[i] > 0 ? a[i] : (b[i] < 0 ? -a[i] : (T)0)); break;             \
        case TL__OP_SIGN: TL__LOOP((T)0); break;                                                   \
        case TL__OP_EXP: TL__LOOP(a[i] * c[i]); break;                                             \
        case TL__OP_LOG: TL__LOOP(a[i] / b[i]); break;                                             \
        case TL__OP_LOG1P: TL__LOOP(a[i] / ((T)1 + b[i])); break;                                  \
        case TL__OP_SQRT: TL__LOOP(a[i] / ((T)2 * c[i])); break;                                   \
        case TL__OP_RSQRT: TL__LOOP((T)-0.5 * a[i] * c[i] * c[i] * c[i]); break;                   \
        case TL__OP_SIN: TL__LOOP(a[i] * FN(cos)(b[i])); break;                                    \
        case TL__OP_COS: TL__LOOP(-a[i] * FN(sin)(b[i])); break;                                   \
        case TL__OP_TANH: TL__LOOP(a[i] * ((T)1 - c[i] * c[i])); break;                            \
        case TL__OP_SIGMOID: TL__LOOP(a[i] * c[i] * ((T)1 - c[i])); break;                         \
        case TL__OP_RELU: TL__LOOP(c[i] > 0 ? a[i] : (T)0); break;                                 \
        case TL__OP_LEAKY_RELU: TL__LOOP(b[i] > 0 ? a[i] : a[i] * p0); break;                      \
        case TL__OP_GELU:                                                                          \
            for (i = 0; i < n; i++) {                                                              \
                T x = b[i];                                                                        \
                if (e->p[0] != 0) {                                                                \
                    T kb = (T)0.7978845608028654, kk = (T)0.044715;                                \
                    T th = FN(tanh)(kb * (x + kk * x * x * x));                                    \
                    T right = (T)0.5 * x * ((T)1 - th * th) * kb * ((T)1 + (T)3 * kk * x * x);      \
                    o[i] = a[i] * ((T)0.5 * ((T)1 + th) + right);                                  \
                } else {                                                                           \
                    T cdf = (T)0.5 * ((T)1 + FN(erf)(x * (T)0.7071067811865476));                  \
                    T pdf = FN(exp)((T)-0.5 * x * x) * (T)0.3989422804014327;                      \
                    o[i] = a[i] * (cdf + x * pdf);                                                 \
                }                                                                                  \
            }                                                                                      \
            break;                                                                                 \
        case TL__OP_SILU:                                                                          \
            for (i = 0; i < n; i++) {                                                              \
                T sg = (T)1 / ((T)1 + FN(exp)(-b[i]));                                             \
                o[i] = a[i] * sg * ((T)1 + b[i] * ((T)1 - sg));                                    \
            }                                                                                      \
            break;                                                                                 \
        case TL__OP_SOFTPLUS:                                                                      \
            for (i = 0; i < n; i++) {                                                              \
                T z = FN(exp)(b[i] * p0);                                                          \
                o[i] = b[i] * p0 > p1 ? a[i] : a[i] * z / (z + (T)1);                              \
            }                                                                                      \
            break;                                                                                 \
        case TL__OP_CLAMP: TL__LOOP(b[i] >= p0 && b[i] <= p1 ? a[i] : (T)0); break;                \
        default: break;                                                                            \
        }                                                                                          \
    }
TL__FLOAT_BWD_KERNEL(tl__kern_bwd_f32, float, TL__MF)
TL__FLOAT_BWD_KERNEL(tl__kern_bwd_f64, double, TL__MD)
#undef TL__LOOP

typedef void (*tl__kern_fn)(const tl__ew *e, int64_t n, const void *const *in, void *out);
static const tl__kern_fn tl__kerns[3] = {tl__kern_f32, tl__kern_f64, tl__kern_i64};
static const tl__kern_fn tl__bwd_kerns[3] = {tl__kern_bwd_f32, tl__kern_bwd_f64, tl__kern_i64};

/* Inner loop of the elementwise engine: operands whose dtype is the compute type and whose stride
   is one element are used in place; the others are converted through chunk buffers. */
static void tl__ew_inner(void *vctx, int64_t n, char **p, const int64_t *s) {
    const tl__ew *e = (const tl__ew *)vctx;
    double bufs[4][TL__CHUNK];
    const void *in[3] = {NULL, NULL, NULL};
    void *out;
    int64_t off, m;
    int k, ct = e->ct;
    int64_t csz = (int64_t)tl__ct_size[ct];
    tl_dtype cdt = tl__ct_dtype[ct];
    for (off = 0; off < n; off += m) {
        m = n - off < TL__CHUNK ? n - off : TL__CHUNK;
        for (k = 0; k < e->nin; k++) {
            char *src = p[k + 1] + off * s[k + 1];
            if (e->in_dt[k] == cdt && s[k + 1] == csz) in[k] = src;
            else {
                tl__load(bufs[k + 1], ct, src, e->in_dt[k], s[k + 1], m);
                in[k] = bufs[k + 1];
            }
        }
        out = (e->out_dt == cdt && s[0] == csz) ? (void *)(p[0] + off * s[0]) : (void *)bufs[0];
        (e->bwd ? tl__bwd_kerns : tl__kerns)[ct](e, m, in, out);
        if (out == (void *)bufs[0]) tl__store(p[0] + off * s[0], e->out_dt, s[0], bufs[0], ct, m);
    }
}

/* An elementwise operand: a tensor (broadcast to the output) or a scalar value. */
typedef struct tl__opnd {
    const tl_tensor *t;
    double d;       /* scalar value when t is NULL */
    int64_t i;
} tl__opnd;

/* Runs e over out's shape. Scalars are passed as values of the compute type. */
static void tl__ew_exec(tl__ew *e, tl_tensor *out, int nin, tl__opnd *in) {
    tl__iter it;
    float sf[3];
    int k;
    e->nin = nin;
    e->out_dt = out->dtype;
    tl__iter_init(&it, out->ndim, out->shape);
    tl__iter_add(&it, tl__ptr(out), out->stride, tl__dtype_sizes[out->dtype]);
    for (k = 0; k < nin; k++) {
        if (in[k].t) {
            e->in_dt[k] = in[k].t->dtype;
            tl__iter_add_tensor(&it, in[k].t);
        } else if (e->ct == TL__CT_I64) {
            in[k].i = tl__d2i(in[k].d);
            e->in_dt[k] = TL_I64;
            tl__iter_add(&it, (char *)&in[k].i, NULL, 8);
        } else if (e->ct == TL__CT_F32) {
            sf[k] = (float)in[k].d;
            e->in_dt[k] = TL_F32;
            tl__iter_add(&it, (char *)&sf[k], NULL, 4);
        } else {
            e->in_dt[k] = TL_F64;
            tl__iter_add(&it, (char *)&in[k].d, NULL, 8);
        }
    }
    tl__iter_coalesce(&it);
    tl__iter_run(&it, tl__ew_inner, e);
}

/* Broadcast shape of n tensors (NumPy rules). Returns 0 and records an error when incompatible. */
static int tl__broadcast_n(const char *op, int n, const tl_tensor *const *ts, int *nd, int64_t *shape) {
    int i, d, out_nd = 0;
    for (i = 0; i < n; i++)
        if (ts[i] && ts[i]->ndim > out_nd) out_nd = ts[i]->ndim;
    for (d = 0; d < out_nd; d++) shape[d] = 1;
    for (i = 0; i < n; i++) {
        const tl_tensor *t = ts[i];
        if (!t) continue;
        for (d = 0; d < t->ndim; d++) {
            int od = out_nd - t->ndim + d;
            int64_t sz = t->shape[d];
            if (sz == shape[od] || sz == 1) continue;
            if (shape[od] == 1) {
                shape[od] = sz;
                continue;
            }
            {
                /* find the earlier tensor that set this size, for the message */
                int j;
                for (j = 0; j < i; j++) {
                    const tl_tensor *u = ts[j];
                    int ud = u ? d + u->ndim - t->ndim : -1;
                    if (u && ud >= 0 && ud < u->ndim && u->shape[ud] == shape[od]) break;
                }
                TL__FAIL(TL_ERR_SHAPE,
                         "%s: the size of tensor %c (%lld) must match the size of tensor %c (%lld) at "
                         "non-singleton dimension %d (shapes %s and %s)",
                         op, 'a' + (j < i ? j : 0), (long long)shape[od], 'a' + i, (long long)sz, od,
                         j < i ? TL__SH(ts[j]) : "?", TL__SH(t));
            }
            return 0;
        }
    }
    *nd = out_nd;
    return 1;
}

/* ===== >>create =============================================================================== */

/* torch refuses fill values the dtype cannot hold ("value cannot be converted to type int8_t
   without overflow"); infinities and NaN are fine for floating dtypes. */
static int tl__value_fits(const char *op, tl_dtype dt, double v, const int64_t *shape, int ndim) {
    double lo = 0, hi = 0;
    switch (dt) {
    case TL_F16: lo = -65504; hi = 65504; break;
    case TL_F32: lo = -FLT_MAX; hi = FLT_MAX; break;
    case TL_I8: lo = -128; hi = 127; break;
    case TL_U8: lo = -255; hi = 255; break; /* torch lets -255..-1 wrap for uint8 */
    case TL_I16: lo = -32768; hi = 32767; break;
    case TL_I32: lo = -2147483648.0; hi = 2147483647.0; break;
    case TL_I64: lo = -9223372036854775808.0; hi = 9223372036854775807.0; break;
    default: return 1; /* f64, bf16 (float32's range), bool */
    }
    if (TL__IS_FLOAT(dt) ? (v != v || isinf(v) || (v >= lo && v <= hi)) : (v > lo - 1 && v < hi + 1)) return 1;
    TL__FAIL(TL_ERR_ARG, "%s: value %g cannot be converted to type %s without overflow (shape %s)", op, v,
             tl__dtype_names[dt], tl__fmt_shape(ndim, shape));
    return 0;
}
static tl_status tl__fill(tl_tensor *t, double v) {
    tl__ew e;
    memset(&e, 0, sizeof e);
    e.op = TL__OP_FILL;
    e.ct = tl__ctype(t->dtype);
    e.p[0] = v;
    tl__ew_exec(&e, t, 0, NULL);
    return TL_OK;
}
static tl_tensor *tl__full(const char *op, int ndim, const int64_t *shape, double v, tl_dtype dt) {
    tl_tensor *t;
    if (TL__VALID_DT(dt) && ndim >= 0 && ndim <= TL_MAX_DIMS && (shape || ndim == 0) &&
        !tl__value_fits(op, dt, v, shape, ndim))
        return NULL;
    t = tl__new(op, ndim, shape, dt);
    if (t) tl__fill(t, v);
    return t;
}
TLDEF tl_tensor *tl_empty(int ndim, const int64_t *shape, tl_dtype dt) {
    return tl__ret(tl__new("tl_empty", ndim, shape, dt));
}
TLDEF tl_tensor *tl_zeros(int ndim, const int64_t *shape, tl_dtype dt) {
    return tl__ret(tl__full("tl_zeros", ndim, shape, 0, dt));
}
TLDEF tl_tensor *tl_ones(int ndim, const int64_t *shape, tl_dtype dt) {
    return tl__ret(tl__full("tl_ones", ndim, shape, 1, dt));
}
TLDEF tl_tensor *tl_full(int ndim, const int64_t *shape, double value, tl_dtype dt) {
    return tl__ret(tl__full("tl_full", ndim, shape, value, dt));
}
TLDEF tl_tensor *tl_empty_like(const tl_tensor *t) {
    TL__CHECK1("tl_empty_like", t);
    return tl__ret(tl__new("tl_empty_like", t->ndim, t->shape, t->dtype));
}
TLDEF tl_tensor *tl_zeros_like(const tl_tensor *t) {
    TL__CHECK1("tl_zeros_like", t);
    return tl__ret(tl__full("tl_zeros_like", t->ndim, t->shape, 0, t->dtype));
}
TLDEF tl_tensor *tl_ones_like(const tl_tensor *t) {
    TL__CHECK1("tl_ones_like", t);
    return tl__ret(tl__full("tl_ones_like", t->ndim, t->shape, 1, t->dtype));
}
TLDEF tl_tensor *tl_full_like(const tl_tensor *t, double value) {
    TL__CHECK1("tl_full_like", t);
    return tl__ret(tl__full("tl_full_like", t->ndim, t->shape, value, t->dtype));
}
TLDEF tl_tensor *tl_scalar_tensor(double v, tl_dtype dt) { /* torch.tensor(v) converts without a range check */
    tl_tensor *t = tl__new("tl_scalar_tensor", 0, NULL, dt);
    if (t) tl__fill(t, v);
    return tl__ret(t);
}

/* Writes n doubles into a new 1-D tensor of dtype dt (values computed in double, like torch's
   arange/linspace for float64; float32 results are rounded from the same doubles). */
TLDEF tl_tensor *tl_arange(double start, double end, double step, tl_dtype dt) {
    double nd;
    int64_t n, i;
    tl_tensor *t;
    if (step == 0 || step != step)
        return TL__FAILN(TL_ERR_ARG, "tl_arange: step must be nonzero (got %g)", step);
    if (!(start == start && end == end) || isinf(start) || isinf(end))
        return TL__FAILN(TL_ERR_ARG, "tl_arange: unsupported range %g -> %g", start, end);
    if ((step > 0 && start > end) || (step < 0 && start < end))
        return TL__FAILN(TL_ERR_ARG, "tl_arange: upper bound and larger bound inconsistent with step "
                                     "sign (start %g, end %g, step %g)", start, end, step);
    nd = ceil((end - start) / step);
    if (nd > 4.0e18) return TL__FAILN(TL_ERR_ARG, "tl_arange: too many elements (%g)", nd);
    n = (int64_t)nd;
    t = tl__new("tl_arange", 1, &n, dt);
    if (!t) return NULL;
    for (i = 0; i < n; i++) {
        double v = start + (double)i * step;
        if (TL__IS_INTLIKE(dt)) {
            int64_t iv = tl__d2i(v);
            tl__store(tl__ptr(t) + (size_t)i * tl__dtype_sizes[dt], dt, 0, &iv, TL__CT_I64, 1);
        } else {
            tl__store(tl__ptr(t) + (size_t)i * tl__dtype_sizes[dt], dt, 0, &v, TL__CT_F64, 1);
        }
    }
    return tl__ret(t);
}

/* torch.linspace: the first half counts up from start, the second half down from end. */
TLDEF tl_tensor *tl_linspace(double start, double end, int64_t steps, tl_dtype dt) {
    tl_tensor *t;
    int64_t i, half;
    double step;
    if (steps < 0) return TL__FAILN(TL_ERR_ARG, "tl_linspace: number of steps must be non-negative (got %lld)",
                                    (long long)steps);
    t = tl__new("tl_linspace", 1, &steps, dt);
    if (!t) return NULL;
    step = steps > 1 ? (end - start) / (double)(steps - 1) : 0;
    half = steps / 2;
    for (i = 0; i < steps; i++) {
        double v = steps == 1 ? start : i < half ? start + step * (double)i : end - step * (double)(steps - i - 1);
        if (TL__IS_INTLIKE(dt)) {
            int64_t iv = tl__d2i(v);
            tl__store(tl__ptr(t) + (size_t)i * tl__dtype_sizes[dt], dt, 0, &iv, TL__CT_I64, 1);
        } else if (dt == TL_F64) {
            tl__store(tl__ptr(t) + (size_t)i * tl__dtype_sizes[dt], dt, 0, &v, TL__CT_F64, 1);
        } else { /* torch computes float32 linspace in float */
            float fs = (float)start, fe = (float)end, fstep = steps > 1 ? (fe - fs) / (float)(steps - 1) : 0;
            float fv = steps == 1 ? fs : i < half ? fs + fstep * (float)i : fe - fstep * (float)(steps - i - 1);
            tl__store(tl__ptr(t) + (size_t)i * tl__dtype_sizes[dt], dt, 0, &fv, TL__CT_F32, 1);
        }
    }
    return tl__ret(t);
}

TLDEF tl_tensor *tl_eye(int64_t n, int64_t m, tl_dtype dt) {
    int64_t shape[2], i;
    tl_tensor *t;
    if (m < 0) m = n;
    shape[0] = n;
    shape[1] = m;
    t = tl__full("tl_eye", 2, shape, 0, dt);
    if (!t) return NULL;
    for (i = 0; i < n && i < m; i++) {
        int64_t one = 1;
        tl__store(tl__ptr(t) + (size_t)(i * m + i) * tl__dtype_sizes[dt], dt, 0, &one, TL__CT_I64, 1);
    }
    return tl__ret(t);
}

TLDEF tl_tensor *tl_from_data(const void *data, int ndim, const int64_t *shape, tl_dtype dt) {
    tl_tensor *t;
    if (tl__null_in("tl_from_data", data)) return NULL;
    t = tl__new("tl_from_data", ndim, shape, dt);
    if (t) memcpy(t->storage->data, data, t->storage->nbytes);
    return tl__ret(t);
}

TLDEF tl_tensor *tl_from_buffer(void *data, int ndim, const int64_t *shape, tl_dtype dt,
                                void (*release)(void *data, void *user), void *user) {
    tl_tensor *t;
    tl_storage *s;
    if (tl__null_in("tl_from_buffer", data)) return NULL;
    if (!tl__check_shape("tl_from_buffer", ndim, shape, dt)) return NULL;
    t = tl__header();
    s = (tl_storage *)tl__malloc(sizeof(tl_storage));
    if (!t || !s) {
        tl__free(s);
        tl__release(t);
        return TL__FAILN(TL_ERR_OOM, "tl_from_buffer: out of memory wrapping %s %s", tl__dtype_names[dt],
                         tl__fmt_shape(ndim, shape));
    }
    memset(s, 0, sizeof *s);
    s->refcount = 1;
    s->data = data;
    s->nbytes = (size_t)tl__prod(ndim, shape) * tl__dtype_sizes[dt];
    s->borrowed = 1;
    s->release = release;
    s->release_user = user;
    TL__ATOMIC_ADD(&tl__live_storages_n, 1);
    t->storage = s;
    t->ndim = ndim;
    t->dtype = dt;
    { int i_; for (i_ = 0; i_ < ndim && i_ < TL_MAX_DIMS; i_++) t->shape[i_] = shape[i_]; }
    tl__set_contig_strides(t);
    return tl__ret(t);
}

TLDEF tl_tensor *tl_clone(const tl_tensor *t) {
    TL__CHECK1("tl_clone", t);
    return tl__ret(tl__view_record(tl__copy_as("tl_clone", t, t->dtype), t, TL__OP_COPY));
}

TLDEF tl_tensor *tl_to_dtype(const tl_tensor *t, tl_dtype dt) {
    TL__CHECK1("tl_to_dtype", t);
    if (!TL__VALID_DT(dt)) return TL__FAILN(TL_ERR_DTYPE, "tl_to_dtype: invalid dtype %d", (int)dt);
    if (t->dtype == dt) return tl_retain((tl_tensor *)t);
    return tl__ret(tl__view_record(tl__copy_as("tl_to_dtype", t, dt), t, TL__OP_TO_DTYPE));
}

/* Byte offset of element idx (negative indices wrap), or -1 with an error. */
static int64_t tl__elem_offset(const char *op, const tl_tensor *t, const int64_t *idx) {
    int64_t off = t->offset;
    int d;
    if (t->ndim > 0 && !idx) {
        TL__FAIL(TL_ERR_ARG, "%s: index array is NULL for a tensor of shape %s", op, TL__SH(t));
        return -1;
    }
    for (d = 0; d < t->ndim; d++) {
        int64_t i = idx[d] < 0 ? idx[d] + t->shape[d] : idx[d];
        if (i < 0 || i >= t->shape[d]) {
            TL__FAIL(TL_ERR_INDEX, "%s: index %lld is out of bounds for dimension %d with size %lld (shape %s)",
                     op, (long long)idx[d], d, (long long)t->shape[d], TL__SH(t));
            return -1;
        }
        off += i * t->stride[d];
    }
    return off;
}
static int tl__item_check(const char *op, const tl_tensor *t) {
    if (tl__null_in(op, t)) return 0;
    if (tl_numel(t) != 1) {
        TL__FAIL(TL_ERR_SHAPE, "%s: a Tensor with %lld elements cannot be converted to Scalar (shape %s)", op,
                 (long long)tl_numel(t), TL__SH(t));
        return 0;
    }
    return 1;
}
TLDEF double tl_item(const tl_tensor *t) {
    double v = 0;
    if (!tl__item_check("tl_item", t)) return 0;
    tl__load(&v, TL__CT_F64, tl__ptr(t), t->dtype, 0, 1);
    return v;
}
TLDEF int64_t tl_item_i64(const tl_tensor *t) {
    int64_t v = 0;
    if (!tl__item_check("tl_item_i64", t)) return 0;
    tl__load(&v, TL__CT_I64, tl__ptr(t), t->dtype, 0, 1);
    return v;
}
TLDEF double tl_get(const tl_tensor *t, const int64_t *idx) {
    double v = 0;
    int64_t off;
    if (tl__null_in("tl_get", t)) return 0;
    off = tl__elem_offset("tl_get", t, idx);
    if (off < 0) return 0;
    tl__load(&v, TL__CT_F64, (char *)t->storage->data + (size_t)off * tl__dtype_sizes[t->dtype], t->dtype, 0, 1);
    return v;
}
TLDEF tl_status tl_set(tl_tensor *t, const int64_t *idx, double value) {
    int64_t off;
    TL__CHECK1S("tl_set", t);
    off = tl__elem_offset("tl_set", t, idx);
    if (off < 0) return tl__tls.status;
    if (TL__IS_INTLIKE(t->dtype)) {
        int64_t iv = tl__d2i(value);
        tl__store((char *)t->storage->data + (size_t)off * tl__dtype_sizes[t->dtype], t->dtype, 0, &iv, TL__CT_I64, 1);
    } else {
        tl__store((char *)t->storage->data + (size_t)off * tl__dtype_sizes[t->dtype], t->dtype, 0, &value, TL__CT_F64, 1);
    }
    t->storage->version++;
    return TL_OK;
}
TLDEF tl_status tl_copy_to_buffer(const tl_tensor *t, void *out, tl_dtype dt) {
    tl_tensor *view;
    TL__CHECK2S("tl_copy_to_buffer", t, out);
    view = tl__header();
    if (!view) return TL__FAIL(TL_ERR_OOM, "tl_copy_to_buffer: out of memory");
    /* a temporary borrowed contiguous tensor over the user's buffer, then one converting copy */
    view->storage = (tl_storage *)tl__malloc(sizeof(tl_storage));
    if (!view->storage) {
        tl__release(view);
        return TL__FAIL(TL_ERR_OOM, "tl_copy_to_buffer: out of memory");
    }
    memset(view->storage, 0, sizeof(tl_storage));
    view->storage->refcount = 1;
    view->storage->data = out;
    view->storage->borrowed = 1;
    TL__ATOMIC_ADD(&tl__live_storages_n, 1);
    view->ndim = t->ndim;
    view->dtype = TL__VALID_DT(dt) ? dt : TL_F32;
    memcpy(view->shape, t->shape, sizeof view->shape);
    tl__set_contig_strides(view);
    if (!TL__VALID_DT(dt)) {
        tl__release(view);
        return TL__FAIL(TL_ERR_DTYPE, "tl_copy_to_buffer: invalid dtype %d", (int)dt);
    }
    tl__copy_into(view, t);
    tl__release(view);
    return TL_OK;
}

/* ===== >>views ================================================================================ */

/* ---- shared by the backward functions of every family ---- */

static tl_tensor *tl__reduce(const char *op, tl__op kind, const tl_tensor *t, int ndims, const int *dims,
                             int keepdim, double p, tl_tensor **indices);
static tl_tensor *tl__view(const char *op, const tl_tensor *t, int ndim, const int64_t *shape, int allow_copy);

/* Undoes broadcasting: sums g (consumed) down to like's shape and converts it to like's dtype. */
static tl_tensor *tl__sum_to(tl_tensor *g, const tl_tensor *like) {
    int dims[TL_MAX_DIMS], nd = 0, d, lead;
    tl_tensor *r;
    if (!g) return NULL;
    lead = g->ndim - like->ndim;
    for (d = 0; d < g->ndim; d++)
        if (d < lead || (like->shape[d - lead] == 1 && g->shape[d] != 1)) dims[nd++] = d;
    if (nd > 0) {
        tl_tensor *s1 = tl__reduce("autograd", TL__OP_SUM, g, nd, dims, 1, 0, NULL);
        tl__release(g);
        if (!s1) return NULL;
        g = tl__view("autograd", s1, like->ndim, like->shape, 1);
        tl__release(s1);
        if (!g) return NULL;
    }
    if (g->dtype != like->dtype) {
        r = tl__copy_as("autograd", g, like->dtype);
        tl__release(g);
        return r;
    }
    return g;
}

static tl_status tl__binary_(const char *op, tl__op id, tl_tensor *a, const tl_tensor *b, int b_is_scalar,
                             double bs, double alpha);


/* Resolves one -1 in shape against numel; writes the result to out. 0 + error when impossible. */
static int tl__infer_shape(const char *op, const tl_tensor *t, int ndim, const int64_t *shape, int64_t *out) {
    int i, infer = -1;
    int64_t known = 1, numel = tl_numel(t);
    if (ndim < 0 || ndim > TL_MAX_DIMS) {
        TL__FAIL(TL_ERR_SHAPE, "%s: %d dimensions requested, tensors have 0 to %d", op, ndim, TL_MAX_DIMS);
        return 0;
    }
    if (ndim > 0 && !shape) {
        TL__FAIL(TL_ERR_ARG, "%s: shape is NULL", op);
        return 0;
    }
    for (i = 0; i < ndim; i++) {
        if (shape[i] == -1) {
            if (infer >= 0) {
                TL__FAIL(TL_ERR_SHAPE, "%s: only one dimension can be inferred (shape %s for input %s)", op,
                         tl__fmt_shape(ndim, shape), TL__SH(t));
                return 0;
            }
            infer = i;
        } else if (shape[i] < 0) {
            TL__FAIL(TL_ERR_SHAPE, "%s: invalid shape dimension %lld in %s (input %s)", op, (long long)shape[i],
                     tl__fmt_shape(ndim, shape), TL__SH(t));
            return 0;
        } else {
            known = (int64_t)((uint64_t)known * (uint64_t)shape[i]); /* vetted just below */
        }
        out[i] = shape[i];
    }
    if (tl__shape_overflows(ndim, shape)) {
        TL__FAIL(TL_ERR_SHAPE, "%s: numel: integer multiplication overflow for shape %s (input %s)", op,
                 tl__fmt_shape(ndim, shape), TL__SH(t));
        return 0;
    }
    if (infer >= 0) {
        if (known == 0 || numel % known != 0) goto bad;
        out[infer] = numel / known;
    } else if (known != numel) {
        goto bad;
    }
    return 1;
bad:
    TL__FAIL(TL_ERR_SHAPE, "%s: shape '%s' is invalid for input of size %lld (input %s)", op,
             tl__fmt_shape(ndim, shape), (long long)numel, TL__SH(t));
    return 0;
}

/* torch's computeStride: strides for viewing (old shape/stride) as new shape, or 0 if the memory
   layout cannot express it without a copy. */
static int tl__view_strides(const tl_tensor *t, int nnd, const int64_t *nshape, int64_t *nstride) {
    int64_t chunk_base, tensor_numel = 1, view_numel = 1;
    int td, vd = nnd - 1;
    if (t->ndim == 0 || tl_numel(t) == 0) {
        int64_t st = 1;
        int i;
        for (i = nnd - 1; i >= 0; i--) {
            nstride[i] = st;
            st *= nshape[i] > 1 ? nshape[i] : 1;
        }
        return 1;
    }
    chunk_base = t->stride[t->ndim - 1];
    for (td = t->ndim - 1; td >= 0; td--) {
        tensor_numel *= t->shape[td];
        if (td == 0 || (t->shape[td - 1] != 1 && t->stride[td - 1] != tensor_numel * chunk_base)) {
            while (vd >= 0 && (view_numel < tensor_numel || nshape[vd] == 1)) {
                nstride[vd] = view_numel * chunk_base;
                view_numel *= nshape[vd];
                vd--;
            }
            if (view_numel != tensor_numel) return 0;
            if (td > 0) {
                chunk_base = t->stride[td - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    return vd == -1;
}

static tl_tensor *tl__view_impl(const char *op, const tl_tensor *t, int ndim, const int64_t *shape, int allow_copy) {
    int64_t nshape[TL_MAX_DIMS], nstride[TL_MAX_DIMS];
    tl_tensor *r;
    if (!tl__infer_shape(op, t, ndim, shape, nshape)) return NULL;
    if (!tl__view_strides(t, ndim, nshape, nstride)) {
        tl_tensor *c;
        if (!allow_copy)
            return TL__FAILN(TL_ERR_SHAPE, "%s: view size is not compatible with input tensor's size and stride "
                             "(input %s with strides %s, requested %s): at least one dimension spans across two "
                             "contiguous subspaces; use tl_reshape instead", op, TL__SH(t),
                             tl__fmt_shape(t->ndim, t->stride), tl__fmt_shape(ndim, nshape));
        c = tl__copy_as(op, t, t->dtype);
        if (!c) return NULL;
        r = tl__view_impl(op, c, ndim, nshape, 0);
        tl__release(c);
        return r;
    }
    r = tl__alias(op, t);
    if (!r) return NULL;
    r->ndim = ndim;
    if (ndim) {
        memcpy(r->shape, nshape, sizeof(int64_t) * (size_t)ndim);
        memcpy(r->stride, nstride, sizeof(int64_t) * (size_t)ndim);
    }
    return r;
}
/* view/reshape/flatten/unflatten/squeeze/unsqueeze all record VIEW: backward reshapes g back. */
static tl_tensor *tl__view(const char *op, const tl_tensor *t, int ndim, const int64_t *shape, int allow_copy) {
    return tl__view_record(tl__view_impl(op, t, ndim, shape, allow_copy), t, TL__OP_VIEW);
}
TLDEF tl_tensor *tl_view(const tl_tensor *t, int ndim, const int64_t *shape) {
    TL__CHECK1("tl_view", t);
    return tl__ret(tl__view("tl_view", t, ndim, shape, 0));
}
TLDEF tl_tensor *tl_reshape(const tl_tensor *t, int ndim, const int64_t *shape) {
    TL__CHECK1("tl_reshape", t);
    return tl__ret(tl__view("tl_reshape", t, ndim, shape, 1));
}

static tl_tensor *tl__transpose(const char *op, const tl_tensor *t, int d0, int d1) {
    tl_tensor *r;
    int64_t tmp;
    if (t->ndim == 0 && (d0 == 0 || d0 == -1) && (d1 == 0 || d1 == -1))
        return tl__view_record(tl__alias(op, t), t, TL__OP_VIEW);
    d0 = tl__wrap_dim(op, d0, t->ndim, t);
    if (d0 < 0) return NULL;
    d1 = tl__wrap_dim(op, d1, t->ndim, t);
    if (d1 < 0) return NULL;
    r = tl__alias(op, t);
    if (!r) return NULL;
    tmp = r->shape[d0]; r->shape[d0] = r->shape[d1]; r->shape[d1] = tmp;
    tmp = r->stride[d0]; r->stride[d0] = r->stride[d1]; r->stride[d1] = tmp;
    r = tl__view_record(r, t, TL__OP_PERMUTE);
    if (r && r->grad_fn) { /* the permutation that swaps d0 and d1 */
        int i;
        r->grad_fn->tname = strcmp(op, "tl_t") == 0 ? "TBackward0" : "TransposeBackward0";
        for (i = 0; i < t->ndim; i++) r->grad_fn->ip[i] = i == d0 ? d1 : (i == d1 ? d0 : i);
        r->grad_fn->nip = t->ndim;
    }
    return r;
}
TLDEF tl_tensor *tl_transpose(const tl_tensor *t, int dim0, int dim1) {
    TL__CHECK1("tl_transpose", t);
    return tl__ret(tl__transpose("tl_transpose", t, dim0, dim1));
}
TLDEF tl_tensor *tl_t(const tl_tensor *t) {
    TL__CHECK1("tl_t", t);
    if (t->ndim > 2)
        return TL__FAILN(TL_ERR_SHAPE, "tl_t: expects a tensor with <= 2 dimensions, but got %dD %s", t->ndim,
                         TL__SH(t));
    if (t->ndim < 2) return tl__ret(tl__view_record(tl__alias("tl_t", t), t, TL__OP_VIEW));
    return tl__ret(tl__transpose("tl_t", t, 0, 1));
}

static tl_tensor *tl__permute(const char *op, const tl_tensor *t, int ndims, const int *dims) {
    int seen[TL_MAX_DIMS], i;
    tl_tensor *r;
    if (ndims != t->ndim)
        return TL__FAILN(TL_ERR_ARG, "%s: number of dims don't match in permute (input %s has %d dims, %d given)",
                         op, TL__SH(t), t->ndim, ndims);
    if (ndims > 0 && !dims) return TL__FAILN(TL_ERR_ARG, "%s: dims is NULL", op);
    memset(seen, 0, sizeof seen);
    r = tl__alias(op, t);
    if (!r) return NULL;
    for (i = 0; i < ndims; i++) {
        int d = tl__wrap_dim(op, dims[i], t->ndim, t);
        if (d < 0 || seen[d]) {
            if (d >= 0) TL__FAIL(TL_ERR_ARG, "%s: duplicate dims are not allowed (dim %d, input %s)", op, dims[i],
                                 TL__SH(t));
            tl__release(r);
            return NULL;
        }
        seen[d] = 1;
        r->shape[i] = t->shape[d];
        r->stride[i] = t->stride[d];
    }
    r = tl__view_record(r, t, TL__OP_PERMUTE);
    if (r && r->grad_fn) {
        for (i = 0; i < ndims; i++) r->grad_fn->ip[i] = dims[i] < 0 ? dims[i] + ndims : dims[i];
        r->grad_fn->nip = ndims;
    }
    return r;
}
TLDEF tl_tensor *tl_permute(const tl_tensor *t, int ndims, const int *dims) {
    TL__CHECK1("tl_permute", t);
    return tl__ret(tl__permute("tl_permute", t, ndims, dims));
}

static int tl__need_dims(const char *op, const tl_tensor *t) {
    if (t->ndim > 0) return 1;
    TL__FAIL(TL_ERR_ARG, "%s: cannot be applied to a 0-dim tensor (input %s)", op, TL__SH(t));
    return 0;
}
static tl_tensor *tl__narrow(const char *op, const tl_tensor *t, int dim, int64_t start, int64_t length) {
    tl_tensor *r;
    int d;
    if (!tl__need_dims(op, t)) return NULL;
    d = tl__wrap_dim(op, dim, t->ndim, t);
    if (d < 0) return NULL;
    if (start < 0) start += t->shape[d];
    if (start < 0 || start > t->shape[d] || length < 0 || start + length > t->shape[d])
        return TL__FAILN(TL_ERR_INDEX, "%s: start (%lld) + length (%lld) exceeds dimension size (%lld) of %s at dim %d",
                         op, (long long)start, (long long)length, (long long)t->shape[d], TL__SH(t), d);
    r = tl__alias(op, t);
    if (!r) return NULL;
    r->offset += start * t->stride[d];
    r->shape[d] = length;
    r = tl__view_record(r, t, TL__OP_SLICE);
    if (r && r->grad_fn) {
        r->grad_fn->ip[0] = d;
        r->grad_fn->lp[0] = start;
        r->grad_fn->lp[1] = 1;
    }
    return r;
}
TLDEF tl_tensor *tl_narrow(const tl_tensor *t, int dim, int64_t start, int64_t length) {
    TL__CHECK1("tl_narrow", t);
    return tl__ret(tl__narrow("tl_narrow", t, dim, start, length));
}
static tl_tensor *tl__select(const char *op, const tl_tensor *t, int dim, int64_t index) {
    tl_tensor *r;
    int d, i;
    if (!tl__need_dims(op, t)) return NULL;
    d = tl__wrap_dim(op, dim, t->ndim, t);
    if (d < 0) return NULL;
    if (index < -t->shape[d] || index >= t->shape[d])
        return TL__FAILN(TL_ERR_INDEX, "%s: index %lld out of range for tensor of size %s at dimension %d", op,
                         (long long)index, TL__SH(t), d);
    if (index < 0) index += t->shape[d];
    r = tl__alias(op, t);
    if (!r) return NULL;
    r->offset += index * t->stride[d];
    for (i = d; i < t->ndim - 1; i++) {
        r->shape[i] = t->shape[i + 1];
        r->stride[i] = t->stride[i + 1];
    }
    r->ndim--;
    r = tl__view_record(r, t, TL__OP_SELECT);
    if (r && r->grad_fn) {
        r->grad_fn->ip[0] = d;
        r->grad_fn->lp[0] = index;
    }
    return r;
}
TLDEF tl_tensor *tl_select(const tl_tensor *t, int dim, int64_t index) {
    TL__CHECK1("tl_select", t);
    return tl__ret(tl__select("tl_select", t, dim, index));
}
static tl_tensor *tl__slice(const char *op, const tl_tensor *t, int dim, int64_t start, int64_t end, int64_t step) {
    tl_tensor *r;
    int d;
    int64_t n;
    if (!tl__need_dims(op, t)) return NULL;
    d = tl__wrap_dim(op, dim, t->ndim, t);
    if (d < 0) return NULL;
    if (step <= 0)
        return TL__FAILN(TL_ERR_ARG, "%s: slice step must be positive (got %lld for %s)", op, (long long)step,
                         TL__SH(t));
    n = t->shape[d];
    if (start < 0) start += n;
    if (end < 0) end += n;
    if (start < 0) start = 0;
    if (start > n) start = n;
    if (end < start) end = start;
    if (end > n) end = n;
    r = tl__alias(op, t);
    if (!r) return NULL;
    r->offset += start * t->stride[d];
    r->shape[d] = (end - start + step - 1) / step;
    r->stride[d] = t->stride[d] * step;
    r = tl__view_record(r, t, TL__OP_SLICE);
    if (r && r->grad_fn) {
        r->grad_fn->ip[0] = d;
        r->grad_fn->lp[0] = start;
        r->grad_fn->lp[1] = step;
    }
    return r;
}
TLDEF tl_tensor *tl_slice(const tl_tensor *t, int dim, int64_t start, int64_t end, int64_t step) {
    TL__CHECK1("tl_slice", t);
    return tl__ret(tl__slice("tl_slice", t, dim, start, end, step));
}

static tl_tensor *tl__expand(const char *op, const tl_tensor *t, int ndim, const int64_t *shape) {
    tl_tensor *r;
    int d, off;
    if (ndim > 0 && !shape) return TL__FAILN(TL_ERR_ARG, "%s: shape is NULL", op);
    if (ndim < t->ndim || ndim > TL_MAX_DIMS)
        return TL__FAILN(TL_ERR_SHAPE, "%s: the number of sizes provided (%d) must be greater or equal to the number "
                         "of dimensions in the tensor (%d) and at most %d (input %s, target %s)", op, ndim, t->ndim,
                         TL_MAX_DIMS, TL__SH(t), tl__fmt_shape(ndim < 0 ? 0 : (ndim > TL_MAX_DIMS ? TL_MAX_DIMS : ndim), shape));
    if (tl__shape_overflows(ndim, shape))
        return TL__FAILN(TL_ERR_SHAPE, "%s: numel: integer multiplication overflow for target %s (input %s)", op,
                         tl__fmt_shape(ndim, shape), TL__SH(t));
    r = tl__alias(op, t);
    if (!r) return NULL;
    off = ndim - t->ndim;
    r->ndim = ndim;
    for (d = ndim - 1; d >= 0; d--) {
        int64_t want = shape[d];
        if (d < off) {
            if (want < 0) {
                TL__FAIL(TL_ERR_SHAPE, "%s: the expanded size of the tensor (%lld) isn't allowed in a leading, "
                         "non-existing dimension %d (input %s, target %s)", op, (long long)want, d, TL__SH(t),
                         tl__fmt_shape(ndim, shape));
                tl__release(r);
                return NULL;
            }
            r->shape[d] = want;
            r->stride[d] = 0;
        } else {
            int64_t have = t->shape[d - off];
            if (want == -1) want = have;
            if (want != have) {
                if (have != 1 || want < 0) {
                    TL__FAIL(TL_ERR_SHAPE, "%s: the expanded size of the tensor (%lld) must match the existing size "
                             "(%lld) at non-singleton dimension %d. Target sizes: %s. Tensor sizes: %s", op,
                             (long long)want, (long long)have, d, tl__fmt_shape(ndim, shape), TL__SH(t));
                    tl__release(r);
                    return NULL;
                }
                r->shape[d] = want;
                r->stride[d] = 0;
            } else {
                r->shape[d] = have;
                r->stride[d] = t->stride[d - off];
            }
        }
    }
    return tl__view_record(r, t, TL__OP_EXPAND);
}
TLDEF tl_tensor *tl_expand(const tl_tensor *t, int ndim, const int64_t *shape) {
    TL__CHECK1("tl_expand", t);
    return tl__ret(tl__expand("tl_expand", t, ndim, shape));
}
TLDEF tl_tensor *tl_expand_as(const tl_tensor *t, const tl_tensor *other) {
    TL__CHECK2("tl_expand_as", t, other);
    return tl__ret(tl__expand("tl_expand_as", t, other->ndim, other->shape));
}

static tl_tensor *tl__squeeze(const char *op, const tl_tensor *t, int only_dim) {
    tl_tensor *r = tl__alias(op, t);
    int d, n = 0;
    if (!r) return NULL;
    for (d = 0; d < t->ndim; d++) {
        if (t->shape[d] == 1 && (only_dim < 0 || only_dim == d)) continue;
        r->shape[n] = t->shape[d];
        r->stride[n] = t->stride[d];
        n++;
    }
    r->ndim = n;
    r = tl__view_record(r, t, TL__OP_VIEW);
    if (r && r->grad_fn) r->grad_fn->tname = "SqueezeBackward0";
    return r;
}
TLDEF tl_tensor *tl_squeeze(const tl_tensor *t) {
    TL__CHECK1("tl_squeeze", t);
    return tl__ret(tl__squeeze("tl_squeeze", t, -1));
}
TLDEF tl_tensor *tl_squeeze_dim(const tl_tensor *t, int dim) {
    tl_tensor *r;
    int d;
    TL__CHECK1("tl_squeeze_dim", t);
    d = tl__wrap_dim("tl_squeeze_dim", dim, t->ndim, t);
    if (d < 0) return NULL;
    if (t->ndim == 0) return tl__ret(tl__view_record(tl__alias("tl_squeeze_dim", t), t, TL__OP_VIEW));
    r = tl__squeeze("tl_squeeze_dim", t, d);
    if (r && r->grad_fn) r->grad_fn->tname = "SqueezeBackward1";
    return tl__ret(r);
}
static tl_tensor *tl__unsqueeze(const char *op, const tl_tensor *t, int dim) {
    tl_tensor *r;
    int d, i;
    if (t->ndim >= TL_MAX_DIMS)
        return TL__FAILN(TL_ERR_SHAPE, "%s: tensor %s already has the maximum of %d dims", op, TL__SH(t), TL_MAX_DIMS);
    d = tl__wrap_dim(op, dim, t->ndim + 1, t);
    if (d < 0) return NULL;
    r = tl__alias(op, t);
    if (!r) return NULL;
    for (i = t->ndim; i > d; i--) {
        r->shape[i] = t->shape[i - 1];
        r->stride[i] = t->stride[i - 1];
    }
    r->shape[d] = 1;
    r->stride[d] = d >= t->ndim ? 1 : t->shape[d] * t->stride[d];
    r->ndim = t->ndim + 1;
    r = tl__view_record(r, t, TL__OP_VIEW);
    if (r && r->grad_fn) r->grad_fn->tname = "UnsqueezeBackward0";
    return r;
}
TLDEF tl_tensor *tl_unsqueeze(const tl_tensor *t, int dim) {
    TL__CHECK1("tl_unsqueeze", t);
    return tl__ret(tl__unsqueeze("tl_unsqueeze", t, dim));
}
TLDEF tl_tensor *tl_flatten(const tl_tensor *t, int start_dim, int end_dim) {
    int64_t shape[TL_MAX_DIMS];
    int s, e, d, n = 0;
    TL__CHECK1("tl_flatten", t);
    if (t->ndim == 0) {
        int64_t one = 1;
        return tl__ret(tl__view("tl_flatten", t, 1, &one, 1));
    }
    s = tl__wrap_dim("tl_flatten", start_dim, t->ndim, t);
    if (s < 0) return NULL;
    e = tl__wrap_dim("tl_flatten", end_dim, t->ndim, t);
    if (e < 0) return NULL;
    if (s > e)
        return TL__FAILN(TL_ERR_ARG, "tl_flatten: flatten() has invalid args: start_dim (%d) cannot come after "
                         "end_dim (%d) (input %s)", start_dim, end_dim, TL__SH(t));
    if (s == e) return tl_retain((tl_tensor *)t); /* nothing to flatten: torch returns the input itself */
    for (d = 0; d < s; d++) shape[n++] = t->shape[d];
    shape[n++] = tl__prod(e - s + 1, t->shape + s);
    for (d = e + 1; d < t->ndim; d++) shape[n++] = t->shape[d];
    return tl__ret(tl__view("tl_flatten", t, n, shape, 1));
}
TLDEF tl_tensor *tl_unflatten(const tl_tensor *t, int dim, int ndim, const int64_t *sizes) {
    int64_t shape[TL_MAX_DIMS], known = 1;
    int d, i, n = 0, infer = -1;
    TL__CHECK1("tl_unflatten", t);
    if (!tl__need_dims("tl_unflatten", t)) return NULL;
    d = tl__wrap_dim("tl_unflatten", dim, t->ndim, t);
    if (d < 0) return NULL;
    if (ndim < 1 || !sizes || t->ndim - 1 + ndim > TL_MAX_DIMS)
        return TL__FAILN(TL_ERR_ARG, "tl_unflatten: provided sizes must be a non-empty list of at most %d dims "
                         "(input %s)", TL_MAX_DIMS - t->ndim + 1, TL__SH(t));
    for (i = 0; i < ndim; i++) {
        if (sizes[i] == -1 && infer < 0) infer = i;
        else if (sizes[i] < 0)
            return TL__FAILN(TL_ERR_SHAPE, "tl_unflatten: invalid sizes %s for dim %d of %s",
                             tl__fmt_shape(ndim, sizes), d, TL__SH(t));
        else known = (int64_t)((uint64_t)known * (uint64_t)sizes[i]);
    }
    if (tl__shape_overflows(ndim, sizes))
        return TL__FAILN(TL_ERR_SHAPE, "tl_unflatten: numel: integer multiplication overflow for sizes %s (input %s)",
                         tl__fmt_shape(ndim, sizes), TL__SH(t));
    for (i = 0; i < d; i++) shape[n++] = t->shape[i];
    for (i = 0; i < ndim; i++) {
        shape[n] = sizes[i];
        if (i == infer) shape[n] = known ? t->shape[d] / known : 0;
        n++;
    }
    for (i = d + 1; i < t->ndim; i++) shape[n++] = t->shape[i];
    if ((infer >= 0 && (known == 0 || t->shape[d] % known != 0)) || (infer < 0 && known != t->shape[d]))
        return TL__FAILN(TL_ERR_SHAPE, "tl_unflatten: provided sizes %s don't multiply up to the size of dim %d "
                         "(%lld) in the input tensor %s", tl__fmt_shape(ndim, sizes), d, (long long)t->shape[d],
                         TL__SH(t));
    return tl__ret(tl__view("tl_unflatten", t, n, shape, 1));
}
TLDEF tl_tensor *tl_contiguous(const tl_tensor *t) {
    TL__CHECK1("tl_contiguous", t);
    if (tl_is_contiguous(t)) return tl_retain((tl_tensor *)t);
    return tl__ret(tl__view_record(tl__copy_as("tl_contiguous", t, t->dtype), t, TL__OP_COPY));
}

/* ---- joining and splitting ---- */

TLDEF tl_tensor *tl_cat(int n, tl_tensor *const *ts, int dim) {
    const tl_tensor *ref = NULL;
    int64_t shape[TL_MAX_DIMS], pos = 0;
    tl_dtype dt = TL_BOOL;
    tl_tensor *out;
    int i, d, k, any = 0;
    if (n <= 0 || !ts) return TL__FAILN(TL_ERR_ARG, "tl_cat: expected a non-empty list of tensors (got %d)", n);
    for (i = 0; i < n; i++) {
        if (tl__null_in("tl_cat", ts[i])) return NULL;
        dt = any ? tl_promote_types(dt, ts[i]->dtype) : ts[i]->dtype;
        any = 1;
        /* torch skips legacy empty 1-D tensors of shape [0] */
        if (!ref && !(ts[i]->ndim == 1 && ts[i]->shape[0] == 0)) ref = ts[i];
    }
    if (!ref) ref = ts[0];
    if (ref->ndim == 0)
        return TL__FAILN(TL_ERR_SHAPE, "tl_cat: zero-dimensional tensor %s cannot be concatenated", TL__SH(ref));
    d = tl__wrap_dim("tl_cat", dim, ref->ndim, ref);
    if (d < 0) return NULL;
    memcpy(shape, ref->shape, sizeof shape);
    shape[d] = 0;
    for (i = 0; i < n; i++) {
        const tl_tensor *t = ts[i];
        if (t->ndim == 1 && t->shape[0] == 0 && ref->ndim != 1) continue;
        if (t->ndim != ref->ndim)
            return TL__FAILN(TL_ERR_SHAPE, "tl_cat: tensors must have same number of dimensions: got %d and %d "
                             "(%s and %s at position %d)", ref->ndim, t->ndim, TL__SH(ref), TL__SH(t), i);
        for (k = 0; k < t->ndim; k++)
            if (k != d && t->shape[k] != ref->shape[k])
                return TL__FAILN(TL_ERR_SHAPE, "tl_cat: sizes of tensors must match except in dimension %d. Expected "
                                 "size %lld but got size %lld for tensor number %d in the list (%s and %s)", d,
                                 (long long)ref->shape[k], (long long)t->shape[k], i, TL__SH(ref), TL__SH(t));
        shape[d] += t->shape[d];
    }
    out = tl__new("tl_cat", ref->ndim, shape, dt);
    if (!out) return NULL;
    for (i = 0; i < n; i++) {
        const tl_tensor *t = ts[i];
        tl_tensor *part;
        if (t->ndim == 1 && t->shape[0] == 0 && ref->ndim != 1) continue;
        part = tl__narrow("tl_cat", out, d, pos, t->shape[d]);
        if (!part) {
            tl__release(out);
            return NULL;
        }
        tl__copy_into(part, t);
        tl__release(part);
        pos += t->shape[d];
    }
    if (tl__any_requires_grad(n, ts) && !tl__record_list(out, TL__OP_CAT, n, ts, d)) {
        tl__release(out);
        return NULL;
    }
    return tl__ret(out);
}

TLDEF tl_tensor *tl_stack(int n, tl_tensor *const *ts, int dim) {
    int64_t shape[TL_MAX_DIMS];
    tl_dtype dt;
    tl_tensor *out;
    int i, d, k;
    if (n <= 0 || !ts) return TL__FAILN(TL_ERR_ARG, "tl_stack: expected a non-empty list of tensors (got %d)", n);
    for (i = 0; i < n; i++)
        if (tl__null_in("tl_stack", ts[i])) return NULL;
    dt = ts[0]->dtype;
    for (i = 1; i < n; i++) {
        if (ts[i]->ndim != ts[0]->ndim || memcmp(ts[i]->shape, ts[0]->shape, sizeof(int64_t) * (size_t)ts[0]->ndim))
            return TL__FAILN(TL_ERR_SHAPE, "tl_stack: stack expects each tensor to be equal size, but got %s at entry "
                             "0 and %s at entry %d", TL__SH(ts[0]), TL__SH(ts[i]), i);
        dt = tl_promote_types(dt, ts[i]->dtype);
    }
    if (ts[0]->ndim >= TL_MAX_DIMS)
        return TL__FAILN(TL_ERR_SHAPE, "tl_stack: tensors %s already have %d dims", TL__SH(ts[0]), TL_MAX_DIMS);
    d = tl__wrap_dim("tl_stack", dim, ts[0]->ndim + 1, ts[0]);
    if (d < 0) return NULL;
    for (k = 0, i = 0; k <= ts[0]->ndim; k++) shape[k] = k == d ? n : ts[0]->shape[i++];
    out = tl__new("tl_stack", ts[0]->ndim + 1, shape, dt);
    if (!out) return NULL;
    for (i = 0; i < n; i++) {
        tl_tensor *part = tl__select("tl_stack", out, d, i);
        if (!part) {
            tl__release(out);
            return NULL;
        }
        tl__copy_into(part, ts[i]);
        tl__release(part);
    }
    if (tl__any_requires_grad(n, ts) && !tl__record_list(out, TL__OP_STACK, n, ts, d)) {
        tl__release(out);
        return NULL;
    }
    return tl__ret(out);
}

static int tl__split(const char *op, const tl_tensor *t, int64_t split_size, int d, tl_tensor **out, int max_out) {
    int64_t size = t->shape[d], start;
    int n, i;
    n = size == 0 ? 1 : (int)((size + split_size - 1) / split_size);
    if (!out || max_out < n) {
        return TL__FAIL(TL_ERR_ARG, "%s: %d pieces needed for %s split by %lld along dim %d, but max_out is %d",
                        op, n, TL__SH(t), (long long)split_size, d, max_out);
    }
    for (i = 0, start = 0; i < n; i++, start += split_size) {
        int64_t len = size - start < split_size ? size - start : split_size;
        out[i] = tl__ret(tl__narrow(op, t, d, start, len));
        if (!out[i]) {
            while (i-- > 0) {
                /* pieces already handed to a scope are released there; outside scopes release them */
                if (tl__tls.scope_depth == 0) tl__release(out[i]);
                out[i] = NULL;
            }
            return tl__tls.status;
        }
    }
    return n;
}
TLDEF int tl_split(const tl_tensor *t, int64_t split_size, int dim, tl_tensor **out, int max_out) {
    int d;
    TL__CHECK1S("tl_split", t);
    if (!tl__need_dims("tl_split", t)) return tl__tls.status;
    d = tl__wrap_dim("tl_split", dim, t->ndim, t);
    if (d < 0) return tl__tls.status;
    if (split_size <= 0)
        return TL__FAIL(TL_ERR_ARG, "tl_split: split_size must be positive (got %lld for %s)", (long long)split_size,
                        TL__SH(t));
    return tl__split("tl_split", t, split_size, d, out, max_out);
}
TLDEF int tl_chunk(const tl_tensor *t, int chunks, int dim, tl_tensor **out, int max_out) {
    int d;
    int64_t size;
    TL__CHECK1S("tl_chunk", t);
    if (!tl__need_dims("tl_chunk", t)) return tl__tls.status;
    d = tl__wrap_dim("tl_chunk", dim, t->ndim, t);
    if (d < 0) return tl__tls.status;
    if (chunks <= 0)
        return TL__FAIL(TL_ERR_ARG, "tl_chunk: number of chunks must be greater than 0 (got %d for %s)", chunks,
                        TL__SH(t));
    size = t->shape[d];
    return tl__split("tl_chunk", t, size == 0 ? 1 : (size + chunks - 1) / chunks, d, out, max_out);
}

/* ---- indexing ---- */

static int tl__index_dtype_ok(const char *op, const tl_tensor *index) {
    if (index->dtype == TL_I64 || index->dtype == TL_I32) return 1;
    TL__FAIL(TL_ERR_DTYPE, "%s: expected dtype int64 or int32 for index, got %s (index %s)", op, TL__DT(index),
             TL__SH(index));
    return 0;
}
static int64_t tl__index_at(const tl_tensor *index, int64_t off) {
    const char *p = (const char *)index->storage->data + (size_t)off * tl__dtype_sizes[index->dtype];
    return index->dtype == TL_I64 ? *(const int64_t *)p : (int64_t) * (const int32_t *)p;
}

TLDEF tl_tensor *tl_index_select(const tl_tensor *t, int dim, const tl_tensor *index) {
    int64_t shape[TL_MAX_DIMS], n, i;
    tl_tensor *out;
    int d;
    TL__CHECK2("tl_index_select", t, index);
    d = tl__wrap_dim("tl_index_select", dim, t->ndim, t);
    if (d < 0) return NULL;
    if (!tl__index_dtype_ok("tl_index_select", index)) return NULL;
    if (index->ndim > 1)
        return TL__FAILN(TL_ERR_SHAPE, "tl_index_select: index should have 0 or 1 dimensions, got %s", TL__SH(index));
    n = tl_numel(index);
    for (i = 0; i < n; i++) {
        int64_t v = tl__index_at(index, index->offset + (index->ndim ? i * index->stride[0] : 0));
        int64_t size = t->ndim ? t->shape[d] : 1;
        if (v < 0 || v >= size)
            return TL__FAILN(TL_ERR_INDEX, "tl_index_select: index %lld is out of bounds for dimension %d with size "
                             "%lld (input %s)", (long long)v, d, (long long)size, TL__SH(t));
    }
    if (t->ndim == 0) return tl__ret(tl__copy_as("tl_index_select", t, t->dtype));
    memcpy(shape, t->shape, sizeof shape);
    shape[d] = n;
    out = tl__new("tl_index_select", t->ndim, shape, t->dtype);
    if (!out) return NULL;
    for (i = 0; i < n; i++) {
        int64_t v = tl__index_at(index, index->offset + (index->ndim ? i * index->stride[0] : 0));
        tl_tensor *src = tl__narrow("tl_index_select", t, d, v, 1);
        tl_tensor *dst = src ? tl__narrow("tl_index_select", out, d, i, 1) : NULL;
        if (!dst) {
            tl__release(src);
            tl__release(out);
            return NULL;
        }
        tl__copy_into(dst, src);
        tl__release(src);
        tl__release(dst);
    }
    if (tl__wants_grad(t, NULL, NULL)) {
        if (!tl__record(out, TL__OP_INDEX_SELECT, t, index, NULL)) {
            tl__release(out);
            return NULL;
        }
        if (out->grad_fn) {
            out->grad_fn->ip[0] = d;
            tl__save_in(out->grad_fn, 1);
        }
    }
    return tl__ret(out);
}

/* out[i][j][k] = t[index[i][j][k]][j][k] (dim 0), and likewise for other dims. */
TLDEF tl_tensor *tl_gather(const tl_tensor *t, int dim, const tl_tensor *index) {
    int64_t idx[TL_MAX_DIMS], n, e;
    tl_tensor *out;
    size_t esz;
    int d, k, nd;
    TL__CHECK2("tl_gather", t, index);
    d = tl__wrap_dim("tl_gather", dim, t->ndim, t);
    if (d < 0) return NULL;
    if (index->dtype != TL_I64)
        return TL__FAILN(TL_ERR_DTYPE, "tl_gather: expected dtype int64 for index, got %s (index %s, input %s)",
                         TL__DT(index), TL__SH(index), TL__SH(t));
    nd = t->ndim > 0 ? t->ndim : 1;
    if ((index->ndim > 0 ? index->ndim : 1) != nd)
        return TL__FAILN(TL_ERR_SHAPE, "tl_gather: index tensor must have the same number of dimensions as input "
                         "tensor (index %s, input %s)", TL__SH(index), TL__SH(t));
    for (k = 0; k < index->ndim && t->ndim; k++)
        if (k != d && index->shape[k] > t->shape[k])
            return TL__FAILN(TL_ERR_SHAPE, "tl_gather: size does not match at dimension %d: expected index %s to be "
                             "smaller than self %s apart from dimension %d", k, TL__SH(index), TL__SH(t), d);
    out = tl__new("tl_gather", index->ndim, index->shape, t->dtype);
    if (!out) return NULL;
    esz = tl__dtype_sizes[t->dtype];
    n = tl_numel(index);
    memset(idx, 0, sizeof idx);
    for (e = 0; e < n; e++) {
        int64_t ioff = index->offset, soff = t->offset, v;
        for (k = 0; k < index->ndim; k++) ioff += idx[k] * index->stride[k];
        v = tl__index_at(index, ioff);
        if (v < 0 || v >= (t->ndim ? t->shape[d] : 1)) {
            TL__FAIL(TL_ERR_INDEX, "tl_gather: index %lld is out of bounds for dimension %d with size %lld (input %s, "
                     "index %s)", (long long)v, d, (long long)(t->ndim ? t->shape[d] : 1), TL__SH(t), TL__SH(index));
            tl__release(out);
            return NULL;
        }
        for (k = 0; k < t->ndim; k++) soff += (k == d ? v : idx[k]) * t->stride[k];
        memcpy((char *)out->storage->data + (size_t)e * esz, (char *)t->storage->data + (size_t)soff * esz, esz);
        for (k = index->ndim - 1; k >= 0; k--) {
            if (++idx[k] < index->shape[k]) break;
            idx[k] = 0;
        }
    }
    if (tl__wants_grad(t, NULL, NULL)) {
        if (!tl__record(out, TL__OP_GATHER, t, index, NULL)) {
            tl__release(out);
            return NULL;
        }
        if (out->grad_fn) {
            out->grad_fn->ip[0] = d;
            tl__save_in(out->grad_fn, 1);
        }
    }
    return tl__ret(out);
}

/* ---- autograd for views, copies, joins and indexing ---- */

/* Walks the elements of a node's view geometry inside a contiguous base-shaped buffer:
   mode 0: base[pos] += v[i] (as_strided backward), mode 1: base[pos] = 0, mode 2: v[i] = base[pos];
   v is contiguous, in C order. */
static void tl__geo_walk(const tl__node *n, tl_tensor *base, tl_tensor *v, int mode) {
    int64_t idx[TL_MAX_DIMS], i, cnt = tl__prod(n->geo_ndim, n->geo_shape);
    size_t bs = tl__dtype_sizes[base->dtype], vs = tl__dtype_sizes[v->dtype];
    int k;
    memset(idx, 0, sizeof idx);
    for (i = 0; i < cnt; i++) {
        int64_t pos = n->geo_off;
        double a = 0, b = 0;
        char *pb, *pv = tl__ptr(v) + (size_t)i * vs;
        for (k = 0; k < n->geo_ndim; k++) pos += idx[k] * n->geo_stride[k];
        pb = tl__ptr(base) + (size_t)pos * bs;
        if (mode == 0) {
            tl__load(&a, TL__CT_F64, pb, base->dtype, 0, 1);
            tl__load(&b, TL__CT_F64, pv, v->dtype, 0, 1);
            a += b;
            tl__store(pb, base->dtype, 0, &a, TL__CT_F64, 1);
        } else if (mode == 1) {
            tl__store(pb, base->dtype, 0, &a, TL__CT_F64, 1);
        } else {
            tl__load(&a, TL__CT_F64, pb, base->dtype, 0, 1);
            tl__store(pv, v->dtype, 0, &a, TL__CT_F64, 1);
        }
        for (k = n->geo_ndim - 1; k >= 0; k--) {
            if (++idx[k] < n->geo_shape[k]) break;
            idx[k] = 0;
        }
    }
}
/* as_strided: scatter-add g into zeros of the base; copy_slices: the old base gets g with the
   view's region zeroed, the view's new value gets that region of g. */
static tl_status tl__bwd_geo(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    const tl_tensor *x = n->in[0];
    tl_tensor *gc = tl__copy_as("autograd", g, g->dtype), *z;
    if (!gc) return tl__tls.status;
    if (n->op == TL__OP_AS_STRIDED) {
        z = TL__NEED(n, 0) ? tl__full("autograd", x->ndim, x->shape, 0, g->dtype) : NULL;
        if (z) tl__geo_walk(n, z, gc, 0);
        gin[0] = z;
    } else {
        if (TL__NEED(n, 1)) {
            gin[1] = tl__new("autograd", n->geo_ndim, n->geo_shape, g->dtype);
            if (gin[1]) tl__geo_walk(n, gc, gin[1], 2);
        }
        if (TL__NEED(n, 0)) {
            gin[0] = tl__copy_as("autograd", gc, g->dtype);
            if (gin[0]) tl__geo_walk(n, gin[0], gin[0], 1);
        }
    }
    tl__release(gc);
    return (TL__NEED(n, 0) && !gin[0]) || (n->op == TL__OP_COPY_SLICES && TL__NEED(n, 1) && !gin[1])
               ? tl__tls.status : TL_OK;
}
/* view-like ops: reshape back, invert the permutation, sum over expanded dims, or scatter the
   gradient into zeros for slice/select. */
static tl_status tl__bwd_view(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    const tl_tensor *x = n->in[0];
    tl_tensor *z, *part;
    int inv[TL_MAX_DIMS], i;
    gin[0] = NULL;
    if (n->op == TL__OP_AS_STRIDED || n->op == TL__OP_COPY_SLICES) return tl__bwd_geo(n, g, gin);
    if (!TL__NEED(n, 0)) return TL_OK;
    switch (n->op) {
    case TL__OP_VIEW: gin[0] = tl__view_impl("autograd", g, x->ndim, x->shape, 1); break;
    case TL__OP_PERMUTE:
        for (i = 0; i < n->nip; i++) inv[n->ip[i]] = i;
        gin[0] = tl__permute("autograd", g, n->nip, inv);
        break;
    case TL__OP_EXPAND:
        ((tl_tensor *)g)->refcount++;
        gin[0] = tl__sum_to((tl_tensor *)g, x);
        break;
    case TL__OP_SLICE:
    case TL__OP_SELECT:
        z = tl__full("autograd", x->ndim, x->shape, 0, g->dtype);
        if (!z) return tl__tls.status;
        if (n->op == TL__OP_SELECT) part = tl__select("autograd", z, n->ip[0], n->lp[0]);
        else part = tl__slice("autograd", z, n->ip[0], n->lp[0], n->lp[0] + g->shape[n->ip[0]] * n->lp[1], n->lp[1]);
        if (!part) {
            tl__release(z);
            return tl__tls.status;
        }
        tl__copy_into(part, g);
        tl__release(part);
        gin[0] = z;
        break;
    default: break;
    }
    return gin[0] ? TL_OK : tl__tls.status;
}
/* clone/contiguous/to(dtype): the gradient converted back; copy_(dst, src): src gets it summed
   and the overwritten old value gets zeros (torch's CopyBackwards). */
static tl_status tl__bwd_copy(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    int k = n->in[1] ? 1 : 0;
    gin[0] = gin[1] = NULL;
    if (k == 1 && TL__NEED(n, 0)) {
        gin[0] = tl__full("autograd", n->in[0]->ndim, n->in[0]->shape, 0, n->in[0]->dtype);
        if (!gin[0]) return tl__tls.status;
    }
    if (!TL__NEED(n, k)) return TL_OK;
    ((tl_tensor *)g)->refcount++;
    gin[k] = tl__sum_to((tl_tensor *)g, n->in[k]);
    return gin[k] ? TL_OK : tl__tls.status;
}
/* cat: each input gets its slice of g; stack: each input gets its select of g. */
static tl_status tl__bwd_cat(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    int i, d = n->ip[0];
    int64_t pos = 0;
    for (i = 0; i < n->nins; i++) {
        const tl_tensor *t = n->ins[i];
        gin[i] = NULL;
        int need = n->ins_next[i] != NULL || t->requires_grad; /* history, or a leaf that requires grad */
        if (n->op == TL__OP_STACK) {
            if (need && !(gin[i] = tl__select("autograd", g, d, i))) return tl__tls.status;
            continue;
        }
        if (t->ndim == 1 && t->shape[0] == 0 && g->ndim != 1) continue; /* skipped legacy empty input */
        if (need && !(gin[i] = tl__narrow("autograd", g, d, pos, t->shape[d]))) return tl__tls.status;
        pos += t->shape[d];
    }
    return TL_OK;
}
/* index_select: index_add of g into zeros; gather: scatter_add of g into zeros. */
static tl_status tl__bwd_index(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    const tl_tensor *x = n->in[0], *index = n->in[1];
    int d = n->ip[0];
    int64_t i, cnt;
    tl_tensor *z;
    gin[0] = gin[1] = NULL;
    if (!TL__NEED(n, 0)) return TL_OK;
    z = tl__full("autograd", x->ndim, x->shape, 0, g->dtype);
    if (!z) return tl__tls.status;
    if (n->op == TL__OP_INDEX_SELECT) {
        cnt = tl_numel(index);
        for (i = 0; i < cnt && x->ndim > 0; i++) {
            int64_t v = tl__index_at(index, index->offset + (index->ndim ? i * index->stride[0] : 0));
            tl_tensor *dst = tl__narrow("autograd", z, d, v, 1), *src = dst ? tl__narrow("autograd", g, d, i, 1) : NULL;
            if (!src || tl__binary_("autograd", TL__OP_ADD, dst, src, 0, 0, 1) != TL_OK) {
                tl__release(dst);
                tl__release(src);
                tl__release(z);
                return tl__tls.status;
            }
            tl__release(dst);
            tl__release(src);
        }
        if (x->ndim == 0) tl__copy_into(z, g);
    } else {
        int64_t idx[TL_MAX_DIMS];
        int k;
        cnt = tl_numel(index);
        memset(idx, 0, sizeof idx);
        for (i = 0; i < cnt; i++) {
            int64_t ioff = index->offset, goff = g->offset, zoff = 0, v;
            double acc = 0, gv = 0;
            for (k = 0; k < index->ndim; k++) {
                ioff += idx[k] * index->stride[k];
                goff += idx[k] * g->stride[k];
            }
            v = tl__index_at(index, ioff);
            for (k = 0; k < x->ndim; k++) zoff += (k == d ? v : idx[k]) * z->stride[k];
            tl__load(&acc, TL__CT_F64, tl__ptr(z) + (size_t)zoff * tl__dtype_sizes[z->dtype], z->dtype, 0, 1);
            tl__load(&gv, TL__CT_F64, (const char *)g->storage->data + (size_t)goff * tl__dtype_sizes[g->dtype],
                     g->dtype, 0, 1);
            acc += gv;
            tl__store(tl__ptr(z) + (size_t)zoff * tl__dtype_sizes[z->dtype], z->dtype, 0, &acc, TL__CT_F64, 1);
            for (k = index->ndim - 1; k >= 0; k--) {
                if (++idx[k] < index->shape[k]) break;
                idx[k] = 0;
            }
        }
    }
    gin[0] = tl__sum_to(z, x);
    return gin[0] ? TL_OK : tl__tls.status;
}

/* ===== >>ops ================================================================================== */

/* ---- autograd helpers shared by the elementwise families ---- */

/* A view's history after its storage changed (an in-place op on its base or on another view):
   as_strided of the base's current history, rebuilt lazily the next time the view is used, as
   torch does. */
static void tl__geo_from(tl__node *n, const tl_tensor *v, const tl_tensor *base) {
    int d;
    n->geo_ndim = v->ndim;
    n->geo_off = v->offset - base->offset;
    for (d = 0; d < v->ndim; d++) {
        n->geo_shape[d] = v->shape[d];
        n->geo_stride[d] = v->stride[d];
    }
}
/* A node for op whose history edge 0 is base (retained), to be attached to out. */
static tl__node *tl__geo_node(tl__op op, const tl_tensor *v, const tl_tensor *base) {
    tl__node *n;
    if (!tl_is_contiguous(base)) {
        TL__FAIL(TL_ERR_STATE, "autograd: in-place change through a view (%s) of a non-contiguous tensor %s with "
                 "history is not supported; make the base contiguous first", TL__SH(v), TL__SH(base));
        return NULL;
    }
    n = tl__node_alloc();
    if (!n) {
        TL__FAIL(TL_ERR_OOM, "autograd: out of memory rebuilding the history of a view %s", TL__SH(v));
        return NULL;
    }
    n->refcount = 1;
    n->op = op;
    n->seq = ++tl__tls.seq;
    n->nin = 1;
    n->in[0] = tl__graph_hold(base);
    if (!n->in[0]) {
        tl__node_release(n);
        return NULL;
    }
    if (base->requires_grad) {
        n->need = 1;
        n->next[0] = base->grad_fn;
        if (n->next[0]) n->next[0]->refcount++;
    }
    tl__geo_from(n, v, base);
    return n;
}
/* A composite op's result that views a private temporary is no view for the user: drop the base. */
static tl_tensor *tl__unview(tl_tensor *t) {
    if (t && t->base) {
        tl__release(t->base);
        t->base = NULL;
    }
    return t;
}
static void tl__set_history(tl_tensor *t, tl__node *n) {
    if (t->grad_fn) {
        if (t->grad_fn->out_weak == t) t->grad_fn->out_weak = NULL;
        tl__node_release(t->grad_fn);
    }
    t->grad_fn = n;
    n->out_weak = t;
    t->requires_grad = 1;
}
static int tl__view_refresh(tl_tensor *v) {
    tl_tensor *base = v->base;
    tl__node *n;
    if (!base || v->view_ver == v->storage->version) return 1;
    v->view_ver = v->storage->version;
    if (!base->requires_grad) return 1;
    n = tl__geo_node(TL__OP_AS_STRIDED, v, base);
    if (!n) return 0;
    tl__set_history(v, n);
    return 1;
}

/* Before an in-place op that autograd must record. A leaf that requires grad (or a view of one)
   is refused. Otherwise a's history moves to a private copy of its old value, which becomes the
   recorded op's input. When a is a view, its base gets the new history instead (torch's
   CopySlices): the copy is of the whole base (*old_base), the op's input is the view of it, and
   tl__inplace_finish links the base to the view's new value. Returns the input (new reference)
   or NULL with an error. */
static tl_tensor *tl__inplace_prepare(const char *op, tl_tensor *a, tl_tensor **old_base) {
    tl_tensor *old, *base = a->base;
    *old_base = NULL;
    if (base) {
        int d;
        if (base->requires_grad && !base->grad_fn)
            return TL__FAILN(TL_ERR_STATE, "%s: a view of a leaf Variable that requires grad (%s, base %s) is being used "
                             "in an in-place operation; do it under tl_no_grad_begin/end", op, TL__SH(a), TL__SH(base));
        if (!tl_is_contiguous(base))
            return TL__FAILN(TL_ERR_STATE, "%s: in-place operation on a view (%s) of a non-contiguous tensor %s is not "
                             "supported under autograd; make the base contiguous first", op, TL__SH(a), TL__SH(base));
        *old_base = tl__copy_as(op, base, base->dtype);
        if (!*old_base) return NULL;
        (*old_base)->grad_fn = base->grad_fn; /* the base's history moves to the copy */
        (*old_base)->requires_grad = base->requires_grad;
        if (base->grad_fn && base->grad_fn->out_weak == base) base->grad_fn->out_weak = *old_base;
        base->grad_fn = NULL;
        base->requires_grad = 0;
        old = tl__alias(op, *old_base); /* the view, inside the copy */
        if (!old) {
            tl__release(*old_base);
            *old_base = NULL;
            return NULL;
        }
        old->ndim = a->ndim;
        old->offset = a->offset - base->offset;
        for (d = 0; d < a->ndim; d++) {
            old->shape[d] = a->shape[d];
            old->stride[d] = a->stride[d];
        }
        old->base = *old_base;
        (*old_base)->refcount++;
        old->view_ver = old->storage->version + 1; /* force its history: as_strided of the copy */
        if (!tl__view_refresh(old)) {
            tl__release(old);
            tl__release(*old_base);
            *old_base = NULL;
            return NULL;
        }
        return old;
    }
    if (!a->grad_fn && a->requires_grad)
        return TL__FAILN(TL_ERR_STATE, "%s: a leaf Variable that requires grad (%s %s) is being used in an in-place "
                         "operation; wrap the update in tl_no_grad_begin/end or use an out-of-place op", op,
                         TL__DT(a), TL__SH(a));
    old = tl__copy_as(op, a, a->dtype);
    if (!old) return NULL;
    old->grad_fn = a->grad_fn;
    old->requires_grad = a->requires_grad;
    if (old->grad_fn && old->grad_fn->out_weak == a) old->grad_fn->out_weak = old;
    a->grad_fn = NULL;
    a->requires_grad = 0;
    return old;
}
/* After the in-place op on a was recorded (ok): when a is a view, its base gets a CopySlices node
   (old base outside the view, a's new history inside), and a becomes a view of the new base. */
static int tl__inplace_finish(tl_tensor *a, tl_tensor *old_base, int ok) {
    tl_tensor *base = a->base;
    tl__node *n;
    if (!old_base) return ok;
    if (!ok) {
        tl__release(old_base);
        return 0;
    }
    n = tl__geo_node(TL__OP_COPY_SLICES, a, old_base);
    if (n) {
        n->nin = 2;
        n->in[1] = tl__graph_hold(a);
        if (!n->in[1]) {
            tl__node_release(n);
            n = NULL;
        } else if (a->requires_grad) {
            n->need |= 2;
            n->next[1] = a->grad_fn;
            if (n->next[1]) n->next[1]->refcount++;
        }
    }
    tl__release(old_base);
    if (!n) return 0;
    tl__geo_from(n, a, base);
    tl__set_history(base, n);
    a->view_ver = a->storage->version + 1; /* a is a view of the new base from now on */
    return tl__view_refresh(a);
}

/* Records a binary op on out (b NULL for a scalar operand bs) with what its backward reads. */
static int tl__binary_record(tl_tensor *out, tl__op id, const tl_tensor *a, const tl_tensor *b, double bs,
                             double alpha) {
    tl__node *n;
    if (!tl__record(out, id, a, b, NULL)) return 0;
    n = out->grad_fn;
    if (!n) return 1;
    n->p[0] = alpha;
    n->p[1] = bs;
    switch (id) { /* save only what the backward of the inputs that need grad reads */
    case TL__OP_MUL:
        if (TL__NEED(n, 0) && b) tl__save_in(n, 1);
        if (TL__NEED(n, 1)) tl__save_in(n, 0);
        break;
    case TL__OP_DIV:
        if (b) tl__save_in(n, 1);
        if (TL__NEED(n, 1)) tl__save_in(n, 0);
        break;
    case TL__OP_MAXIMUM:
    case TL__OP_MINIMUM:
        tl__save_in(n, 0);
        tl__save_in(n, 1);
        break;
    case TL__OP_POW:
        tl__save_in(n, 0);
        if (b) {
            n->tname = "PowBackward1";
            tl__save_in(n, 1);
            if (!tl__save_out(n, out)) return 0; /* torch saves the result either way */
        }
        break;
    default: break;
    }
    return 1;
}

/* Output of a binary op with result dtype dt (bool for comparisons). */
static tl_tensor *tl__binary(const char *op, tl__op id, const tl_tensor *a, const tl_tensor *b,
                             int b_is_scalar, double bs, double alpha) {
    tl__rtype rt;
    tl_dtype res, out_dt;
    tl_tensor *out;
    tl__ew e;
    tl__opnd in[2];
    int nd = 0;
    int64_t shape[TL_MAX_DIMS];
    const tl_tensor *ts[2];
    if (tl__null_in(op, a) || (!b_is_scalar && tl__null_in(op, b))) return NULL;
    tl__rtype_init(&rt);
    tl__rtype_tensor(&rt, a);
    if (b_is_scalar) tl__rtype_scalar(&rt, bs);
    else tl__rtype_tensor(&rt, b);
    res = tl__rtype_result(&rt);
    if (id == TL__OP_SUB && (a->dtype == TL_BOOL || (!b_is_scalar && b->dtype == TL_BOOL)))
        return TL__FAILN(TL_ERR_DTYPE, "%s: subtraction with a bool tensor is not supported (%s %s and %s); "
                         "use logical_xor or ~ instead", op, TL__DT(a), TL__SH(a),
                         b_is_scalar ? "a scalar" : TL__DT(b));
    if ((id == TL__OP_ADD || id == TL__OP_SUB) && alpha != 1 && TL__IS_INTLIKE(res) && !tl__scalar_is_int(alpha))
        return TL__FAILN(TL_ERR_DTYPE, "%s: for integral input tensors, argument alpha must not be a floating "
                         "point number (got %g for %s)", op, alpha, tl__dtype_names[res]);
    if (id == TL__OP_DIV && TL__IS_INTLIKE(res)) res = TL_F32;
    if (id == TL__OP_POW && TL__IS_INTLIKE(res) && b_is_scalar && bs < 0)
        return TL__FAILN(TL_ERR_ARG, "%s: integers to negative integer powers are not allowed (%s %s ** %g)",
                         op, TL__DT(a), TL__SH(a), bs);
    if (id == TL__OP_POW && res == TL_BOOL) res = TL_I64;
    if ((id == TL__OP_MAXIMUM || id == TL__OP_MINIMUM) && res == TL_BOOL) { /* bool max is "or"/"and" */ }
    out_dt = (id >= TL__OP_EQ && id <= TL__OP_GE) ? TL_BOOL : res;
    ts[0] = a;
    ts[1] = b_is_scalar ? NULL : b;
    if (!tl__broadcast_n(op, 2, ts, &nd, shape)) return NULL;
    out = tl__new(op, nd, shape, out_dt);
    if (!out) return NULL;
    memset(&e, 0, sizeof e);
    e.op = id;
    e.ct = tl__ctype(res);
    e.p[0] = alpha;
    in[0].t = a;
    in[1].t = b_is_scalar ? NULL : b;
    in[1].d = bs;
    tl__ew_exec(&e, out, 2, in);
    if (tl__wants_grad(a, in[1].t, NULL) && !tl__binary_record(out, id, a, in[1].t, bs, alpha)) {
        tl__release(out);
        return NULL;
    }
    return out;
}

static int tl__check_writable(const char *op, const tl_tensor *t) {
    int d;
    for (d = 0; d < t->ndim; d++)
        if (t->stride[d] == 0 && t->shape[d] > 1) {
            TL__FAIL(TL_ERR_ARG, "%s: unsupported operation: more than one element of the written-to tensor "
                     "refers to a single memory location (shape %s, an expanded tensor); clone it first",
                     op, TL__SH(t));
            return 0;
        }
    return 1;
}
/* The in-place form: writes into a (result dtype must cast to a's, broadcast shape must be a's). */
static tl_status tl__binary_(const char *op, tl__op id, tl_tensor *a, const tl_tensor *b, int b_is_scalar,
                             double bs, double alpha) {
    tl_tensor *old = NULL, *old_base = NULL;
    tl__rtype rt;
    tl_dtype res;
    tl__ew e;
    tl__opnd in[2];
    int nd = 0;
    int64_t shape[TL_MAX_DIMS];
    const tl_tensor *ts[2];
    if (tl__null_in(op, a) || (!b_is_scalar && tl__null_in(op, b))) return tl__tls.status;
    tl__rtype_init(&rt);
    tl__rtype_tensor(&rt, a);
    if (b_is_scalar) tl__rtype_scalar(&rt, bs);
    else tl__rtype_tensor(&rt, b);
    res = tl__rtype_result(&rt);
    if (id == TL__OP_SUB && (a->dtype == TL_BOOL || (!b_is_scalar && b->dtype == TL_BOOL)))
        return TL__FAIL(TL_ERR_DTYPE, "%s: subtraction with a bool tensor is not supported (%s %s)", op,
                        TL__DT(a), TL__SH(a));
    if ((id == TL__OP_ADD || id == TL__OP_SUB) && alpha != 1 && TL__IS_INTLIKE(res) && !tl__scalar_is_int(alpha))
        return TL__FAIL(TL_ERR_DTYPE, "%s: for integral input tensors, argument alpha must not be a floating point "
                        "number (got %g for %s %s)", op, alpha, TL__DT(a), TL__SH(a));
    if (id == TL__OP_DIV && TL__IS_INTLIKE(res)) res = TL_F32;
    if (id == TL__OP_POW && TL__IS_INTLIKE(res) && b_is_scalar && bs < 0)
        return TL__FAIL(TL_ERR_ARG, "%s: integers to negative integer powers are not allowed (%s %s ** %g)",
                        op, TL__DT(a), TL__SH(a), bs);
    if (!tl__can_cast(res, a->dtype))
        return TL__FAIL(TL_ERR_DTYPE, "%s: result type %s can't be cast to the desired output type %s (%s)", op,
                        tl__dtype_names[res], TL__DT(a), TL__SH(a));
    ts[0] = a;
    ts[1] = b_is_scalar ? NULL : b;
    if (!tl__broadcast_n(op, 2, ts, &nd, shape)) return tl__tls.status;
    if (nd != a->ndim || memcmp(shape, a->shape, sizeof(int64_t) * (size_t)nd) != 0)
        return TL__FAIL(TL_ERR_SHAPE, "%s: output with shape %s doesn't match the broadcast shape %s", op,
                        TL__SH(a), tl__fmt_shape(nd, shape));
    if (!tl__check_writable(op, a)) return tl__tls.status;
    if (tl__wants_grad(a, b_is_scalar ? NULL : b, NULL) && !(old = tl__inplace_prepare(op, a, &old_base))) return tl__tls.status;
    memset(&e, 0, sizeof e);
    e.op = id;
    e.ct = tl__ctype(res);
    e.p[0] = alpha;
    in[0].t = a;
    in[1].t = b_is_scalar ? NULL : b;
    in[1].d = bs;
    tl__ew_exec(&e, a, 2, in);
    a->storage->version++;
    if (old) { /* y op= y: the second operand was the old value as well */
        int ok = tl__binary_record(a, id, old, in[1].t == a ? old : in[1].t, bs, alpha);
        if (ok && in[1].t == a && a->grad_fn && (a->grad_fn->in_saved & 2))
            a->grad_fn->in_ver[1]--; /* torch saved y itself, which the op then modified: backward refuses */
        tl__release(old);
        if (!tl__inplace_finish(a, old_base, ok)) return tl__tls.status;
    }
    return TL_OK;
}

#define TL__BINARY_API(name, id)                                                                   \
    TLDEF tl_tensor *tl_##name(const tl_tensor *a, const tl_tensor *b) {                           \
        return tl__ret(tl__binary("tl_" #name, id, a, b, 0, 0, 1));                                \
    }                                                                                              \
    TLDEF tl_tensor *tl_##name##_scalar(const tl_tensor *a, double s) {                            \
        return tl__ret(tl__binary("tl_" #name "_scalar", id, a, NULL, 1, s, 1));                   \
    }
TL__BINARY_API(add, TL__OP_ADD)
TL__BINARY_API(sub, TL__OP_SUB)
TL__BINARY_API(mul, TL__OP_MUL)
TL__BINARY_API(div, TL__OP_DIV)
TL__BINARY_API(eq, TL__OP_EQ)
TL__BINARY_API(ne, TL__OP_NE)
TL__BINARY_API(lt, TL__OP_LT)
TL__BINARY_API(le, TL__OP_LE)
TL__BINARY_API(gt, TL__OP_GT)
TL__BINARY_API(ge, TL__OP_GE)
#undef TL__BINARY_API
TLDEF tl_tensor *tl_pow(const tl_tensor *a, const tl_tensor *b) {
    return tl__ret(tl__binary("tl_pow", TL__OP_POW, a, b, 0, 0, 1));
}
TLDEF tl_tensor *tl_pow_scalar(const tl_tensor *a, double exponent) {
    return tl__ret(tl__binary("tl_pow_scalar", TL__OP_POW, a, NULL, 1, exponent, 1));
}
TLDEF tl_tensor *tl_maximum(const tl_tensor *a, const tl_tensor *b) {
    return tl__ret(tl__binary("tl_maximum", TL__OP_MAXIMUM, a, b, 0, 0, 1));
}
TLDEF tl_tensor *tl_minimum(const tl_tensor *a, const tl_tensor *b) {
    return tl__ret(tl__binary("tl_minimum", TL__OP_MINIMUM, a, b, 0, 0, 1));
}
TLDEF tl_tensor *tl_add_alpha(const tl_tensor *a, const tl_tensor *b, double alpha) {
    return tl__ret(tl__binary("tl_add_alpha", TL__OP_ADD, a, b, 0, 0, alpha));
}
TLDEF tl_tensor *tl_sub_alpha(const tl_tensor *a, const tl_tensor *b, double alpha) {
    return tl__ret(tl__binary("tl_sub_alpha", TL__OP_SUB, a, b, 0, 0, alpha));
}
/* s - a: the SUB kernel with the scalar as its first operand (promotion of (a, s) as torch). The
   node records a as the second input of SUB, whose backward gives it -g. */
TLDEF tl_tensor *tl_rsub_scalar(const tl_tensor *a, double s) {
    tl__rtype rt;
    tl_dtype res;
    tl_tensor *out;
    tl__ew e;
    tl__opnd in[2];
    TL__CHECK1("tl_rsub_scalar", a);
    if (a->dtype == TL_BOOL)
        return TL__FAILN(TL_ERR_DTYPE, "tl_rsub_scalar: subtraction with a bool tensor is not supported (%s %s)",
                         TL__DT(a), TL__SH(a));
    tl__rtype_init(&rt);
    tl__rtype_tensor(&rt, a);
    tl__rtype_scalar(&rt, s);
    res = tl__rtype_result(&rt);
    out = tl__new("tl_rsub_scalar", a->ndim, a->shape, res);
    if (!out) return NULL;
    memset(&e, 0, sizeof e);
    memset(in, 0, sizeof in);
    e.op = TL__OP_SUB;
    e.ct = tl__ctype(res);
    e.p[0] = 1;
    in[0].d = s;
    in[1].t = a;
    tl__ew_exec(&e, out, 2, in);
    if (tl__wants_grad(a, NULL, NULL) && !tl__binary_record(out, TL__OP_SUB, NULL, a, 0, 1)) {
        tl__release(out);
        return NULL;
    }
    if (out->grad_fn) out->grad_fn->tname = "RsubBackward1";
    return tl__ret(out);
}

TLDEF tl_status tl_add_(tl_tensor *a, const tl_tensor *b) { return tl__binary_("tl_add_", TL__OP_ADD, a, b, 0, 0, 1); }
TLDEF tl_status tl_sub_(tl_tensor *a, const tl_tensor *b) { return tl__binary_("tl_sub_", TL__OP_SUB, a, b, 0, 0, 1); }
TLDEF tl_status tl_mul_(tl_tensor *a, const tl_tensor *b) { return tl__binary_("tl_mul_", TL__OP_MUL, a, b, 0, 0, 1); }
TLDEF tl_status tl_div_(tl_tensor *a, const tl_tensor *b) { return tl__binary_("tl_div_", TL__OP_DIV, a, b, 0, 0, 1); }
TLDEF tl_status tl_add_alpha_(tl_tensor *a, const tl_tensor *b, double alpha) {
    return tl__binary_("tl_add_alpha_", TL__OP_ADD, a, b, 0, 0, alpha);
}
TLDEF tl_status tl_add_scalar_(tl_tensor *a, double s) { return tl__binary_("tl_add_scalar_", TL__OP_ADD, a, NULL, 1, s, 1); }
TLDEF tl_status tl_sub_scalar_(tl_tensor *a, double s) { return tl__binary_("tl_sub_scalar_", TL__OP_SUB, a, NULL, 1, s, 1); }
TLDEF tl_status tl_mul_scalar_(tl_tensor *a, double s) { return tl__binary_("tl_mul_scalar_", TL__OP_MUL, a, NULL, 1, s, 1); }
TLDEF tl_status tl_div_scalar_(tl_tensor *a, double s) { return tl__binary_("tl_div_scalar_", TL__OP_DIV, a, NULL, 1, s, 1); }
TLDEF tl_status tl_pow_scalar_(tl_tensor *a, double e) { return tl__binary_("tl_pow_scalar_", TL__OP_POW, a, NULL, 1, e, 1); }

/* Backward of add/sub/mul/div/pow/maximum/minimum: g has the output's shape; each input gradient
   is summed back to that input's shape (undoing broadcasting) and converted to its dtype. */
#define TL__AB(op, x, y) tl__binary("autograd", TL__OP_##op, x, y, 0, 0, 1)
#define TL__AS(op, x, s) tl__binary("autograd", TL__OP_##op, x, NULL, 1, s, 1)
#define TL__TMP(x) (TL_ASSERT(nt < (int)(sizeof tmp / sizeof tmp[0])), tmp[nt++] = (x))
static tl_tensor *tl__where(const char *op, const tl_tensor *cond, const tl_tensor *a, double as,
                            const tl_tensor *b, double bs);
static tl_tensor *tl__unary(const char *op, tl__op id, const tl_tensor *t, double p0, double p1);
static tl_status tl__bwd_binary(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    tl_tensor *a = n->in[0], *b = n->in[1], *ga = NULL, *gb = NULL, *tmp[16];
    double s = n->p[1], alpha = n->p[0];
    int need_a = a && TL__NEED(n, 0), need_b = b && TL__NEED(n, 1), nt = 0, k;
    tl_tensor *gg = (tl_tensor *)g;
    switch (n->op) {
    case TL__OP_ADD:
    case TL__OP_SUB:
        if (need_a) {
            ga = gg;
            gg->refcount++;
        }
        if (need_b) gb = TL__AS(MUL, g, n->op == TL__OP_SUB ? -alpha : alpha);
        break;
    case TL__OP_MUL:
        if (need_a) ga = b ? TL__AB(MUL, g, b) : TL__AS(MUL, g, s);
        if (need_b) gb = TL__AB(MUL, g, a);
        break;
    case TL__OP_DIV: /* d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 */
        if (need_a) ga = b ? TL__AB(DIV, g, b) : TL__AS(DIV, g, s);
        if (need_b) {
            TL__TMP(TL__AB(DIV, a, b));
            TL__TMP(TL__AB(DIV, tmp[0], b));
            TL__TMP(TL__AB(MUL, g, tmp[1]));
            gb = TL__AS(MUL, tmp[2], -1);
        }
        break;
    case TL__OP_POW:
        if (!b) { /* a ** s: s * a^(s-1), zero when s == 0 */
            if (need_a) {
                if (s == 0) ga = TL__AS(MUL, g, 0);
                else {
                    TL__TMP(TL__AS(POW, a, s - 1));
                    TL__TMP(TL__AS(MUL, tmp[0], s));
                    ga = TL__AB(MUL, g, tmp[1]);
                }
            }
        } else {
            if (need_a) { /* b * a^(b-1), masked to 0 where b == 0 (torch) */
                TL__TMP(TL__AS(SUB, b, 1));
                TL__TMP(TL__AB(POW, a, tmp[0]));
                TL__TMP(TL__AB(MUL, tmp[1], b));
                TL__TMP(TL__AS(EQ, b, 0));
                TL__TMP(tl__where("autograd", tmp[3], NULL, 0, tmp[2], 0));
                ga = TL__AB(MUL, g, tmp[4]);
            }
            if (need_b) { /* a^b * log(a), 0 where a == 0 and b >= 0 */
                int base = nt;
                TL__TMP(tl__unary("autograd", TL__OP_LOG, a, 0, 0));
                TL__TMP(TL__AB(MUL, n->out, tmp[base]));
                TL__TMP(TL__AS(EQ, a, 0));
                TL__TMP(TL__AS(GE, b, 0));
                TL__TMP(TL__AB(MUL, tmp[base + 2], tmp[base + 3]));
                TL__TMP(tl__where("autograd", tmp[base + 4], NULL, 0, tmp[base + 1], 0));
                gb = TL__AB(MUL, g, tmp[base + 5]);
            }
        }
        break;
    case TL__OP_MAXIMUM:
    case TL__OP_MINIMUM: { /* ties split the gradient in half, as torch does */
        int is_max = n->op == TL__OP_MAXIMUM;
        TL__TMP(TL__AS(MUL, g, 0.5));
        TL__TMP(TL__AB(EQ, a, b));
        TL__TMP(tl__where("autograd", tmp[1], tmp[0], 0, g, 0));
        if (need_a) {
            TL__TMP(is_max ? TL__AB(LT, a, b) : TL__AB(GT, a, b));
            ga = tl__where("autograd", tmp[3], NULL, 0, tmp[2], 0);
        }
        if (need_b) {
            int k2 = nt;
            TL__TMP(is_max ? TL__AB(GT, a, b) : TL__AB(LT, a, b));
            gb = tl__where("autograd", tmp[k2], NULL, 0, tmp[2], 0);
        }
        break;
    }
    default: break;
    }
    for (k = 0; k < nt; k++) tl__release(tmp[k]);
    gin[0] = need_a ? tl__sum_to(ga, a) : NULL;
    gin[1] = need_b ? tl__sum_to(gb, b) : NULL;
    return (need_a && !gin[0]) || (need_b && !gin[1]) ? tl__tls.status : TL_OK;
}

/* ---- unary ops ---- */

/* clamp: integer tensors with fractional bounds promote like torch (int.clamp(1.5) -> float32). */
static tl_dtype tl__clamp_dtype(const tl_tensor *t, double lo, double hi) {
    tl__rtype rt;
    tl__rtype_init(&rt);
    tl__rtype_tensor(&rt, t);
    if (!isinf(lo)) tl__rtype_scalar(&rt, lo);
    if (!isinf(hi)) tl__rtype_scalar(&rt, hi);
    return tl__rtype_result(&rt);
}

/* Result dtype of a unary op on dt, or -1 (with an error) where torch refuses the dtype. */
static int tl__unary_dtype(const char *op, tl__op id, const tl_tensor *t) {
    tl_dtype dt = t->dtype;
    switch (id) {
    case TL__OP_NEG:
    case TL__OP_ABS:
    case TL__OP_RELU:
        if (dt == TL_BOOL) {
            TL__FAIL(TL_ERR_DTYPE, "%s: not supported for bool tensors (%s %s)%s", op, TL__DT(t), TL__SH(t),
                     id == TL__OP_NEG ? "; use logical_not or ~ to invert a mask" : "");
            return -1;
        }
        return (int)dt;
    case TL__OP_SIGN: return (int)dt;
    case TL__OP_LEAKY_RELU:
    case TL__OP_GELU:
    case TL__OP_SILU:
    case TL__OP_SOFTPLUS:
        if (TL__IS_INTLIKE(dt)) {
            TL__FAIL(TL_ERR_DTYPE, "%s: not implemented for %s tensors (%s); convert to a floating dtype first",
                     op, TL__DT(t), TL__SH(t));
            return -1;
        }
        return (int)dt;
    default: /* exp, log, sqrt, ...: integers and bool compute in the default float dtype */
        return TL__IS_INTLIKE(dt) ? (int)TL_F32 : (int)dt;
    }
}
/* Records a unary op; backward reads the output (exp, sqrt, rsqrt, tanh, sigmoid, relu), nothing
   (neg, sign) or the input (the rest). */
static int tl__unary_record(tl_tensor *out, tl__op id, const tl_tensor *t, double p0, double p1) {
    tl__node *n;
    if (!tl__record(out, id, t, NULL, NULL)) return 0;
    n = out->grad_fn;
    if (!n) return 1;
    n->p[0] = p0;
    n->p[1] = p1;
    switch (id) {
    case TL__OP_NEG:
    case TL__OP_SIGN: break;
    case TL__OP_EXP:
    case TL__OP_SQRT:
    case TL__OP_RSQRT:
    case TL__OP_TANH:
    case TL__OP_SIGMOID:
    case TL__OP_RELU: return tl__save_out(n, out);
    default: tl__save_in(n, 0); break;
    }
    return 1;
}
static tl_tensor *tl__unary(const char *op, tl__op id, const tl_tensor *t, double p0, double p1) {
    int res;
    tl_tensor *out;
    tl__ew e;
    tl__opnd in[1];
    TL__CHECK1(op, t);
    res = id == TL__OP_CLAMP ? (int)tl__clamp_dtype(t, p0, p1) : tl__unary_dtype(op, id, t);
    if (res < 0) return NULL;
    out = tl__new(op, t->ndim, t->shape, (tl_dtype)res);
    if (!out) return NULL;
    memset(&e, 0, sizeof e);
    e.op = id;
    e.ct = tl__ctype((tl_dtype)res);
    e.p[0] = p0;
    e.p[1] = p1;
    in[0].t = t;
    tl__ew_exec(&e, out, 1, in);
    if (tl__wants_grad(t, NULL, NULL) && !tl__unary_record(out, id, t, p0, p1)) {
        tl__release(out);
        return NULL;
    }
    return out;
}
static tl_status tl__unary_(const char *op, tl__op id, tl_tensor *t, double p0, double p1) {
    int res;
    tl__ew e;
    tl__opnd in[1];
    tl_tensor *old = NULL, *old_base = NULL;
    TL__CHECK1S(op, t);
    res = id == TL__OP_CLAMP ? (int)tl__clamp_dtype(t, p0, p1) : tl__unary_dtype(op, id, t);
    if (res < 0) return tl__tls.status;
    if (!tl__can_cast((tl_dtype)res, t->dtype))
        return TL__FAIL(TL_ERR_DTYPE, "%s: result type %s can't be cast to the desired output type %s (%s)", op,
                        tl__dtype_names[res], TL__DT(t), TL__SH(t));
    if (!tl__check_writable(op, t)) return tl__tls.status;
    if (tl__wants_grad(t, NULL, NULL) && !(old = tl__inplace_prepare(op, t, &old_base))) return tl__tls.status;
    memset(&e, 0, sizeof e);
    e.op = id;
    e.ct = tl__ctype((tl_dtype)res);
    e.p[0] = p0;
    e.p[1] = p1;
    in[0].t = t;
    tl__ew_exec(&e, t, 1, in);
    t->storage->version++;
    if (old) {
        int ok = tl__unary_record(t, id, old, p0, p1);
        tl__release(old);
        if (!tl__inplace_finish(t, old_base, ok)) return tl__tls.status;
    }
    return TL_OK;
}
/* Backward of the unary family in one fused pass: gin = f'(x, y) * g (see tl__kern_bwd_*). */
static tl_status tl__bwd_unary(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    tl_tensor *x = n->in[0], *r;
    tl__ew e;
    tl__opnd in[3];
    gin[0] = NULL;
    if (!TL__NEED(n, 0)) return TL_OK;
    r = tl__new("autograd", g->ndim, g->shape, g->dtype);
    if (!r) return tl__tls.status;
    memset(&e, 0, sizeof e);
    e.op = (tl__op)n->op;
    e.bwd = 1;
    e.ct = tl__ctype(g->dtype);
    e.p[0] = n->p[0];
    e.p[1] = n->p[1];
    in[0].t = g;
    in[1].t = (n->in_saved & 1) ? x : g;
    in[2].t = n->out ? n->out : g;
    tl__ew_exec(&e, r, 3, in);
    gin[0] = tl__sum_to(r, x);
    return gin[0] ? TL_OK : tl__tls.status;
}

#define TL__UNARY_API(name, id)                                                                    \
    TLDEF tl_tensor *tl_##name(const tl_tensor *t) { return tl__ret(tl__unary("tl_" #name, id, t, 0, 0)); }
TL__UNARY_API(neg, TL__OP_NEG)
TL__UNARY_API(abs, TL__OP_ABS)
TL__UNARY_API(sign, TL__OP_SIGN)
TL__UNARY_API(exp, TL__OP_EXP)
TL__UNARY_API(log, TL__OP_LOG)
TL__UNARY_API(log1p, TL__OP_LOG1P)
TL__UNARY_API(sqrt, TL__OP_SQRT)
TL__UNARY_API(rsqrt, TL__OP_RSQRT)
TL__UNARY_API(sin, TL__OP_SIN)
TL__UNARY_API(cos, TL__OP_COS)
TL__UNARY_API(tanh, TL__OP_TANH)
TL__UNARY_API(sigmoid, TL__OP_SIGMOID)
TL__UNARY_API(relu, TL__OP_RELU)
TL__UNARY_API(silu, TL__OP_SILU)
#undef TL__UNARY_API
#define TL__UNARY_API_(name, id)                                                                   \
    TLDEF tl_status tl_##name##_(tl_tensor *t) { return tl__unary_("tl_" #name "_", id, t, 0, 0); }
TL__UNARY_API_(neg, TL__OP_NEG)
TL__UNARY_API_(abs, TL__OP_ABS)
TL__UNARY_API_(exp, TL__OP_EXP)
TL__UNARY_API_(log, TL__OP_LOG)
TL__UNARY_API_(sqrt, TL__OP_SQRT)
TL__UNARY_API_(tanh, TL__OP_TANH)
TL__UNARY_API_(sigmoid, TL__OP_SIGMOID)
TL__UNARY_API_(relu, TL__OP_RELU)
#undef TL__UNARY_API_
TLDEF tl_tensor *tl_leaky_relu(const tl_tensor *t, double negative_slope) {
    return tl__ret(tl__unary("tl_leaky_relu", TL__OP_LEAKY_RELU, t, negative_slope, 0));
}
TLDEF tl_tensor *tl_gelu(const tl_tensor *t, int approximate_tanh) {
    return tl__ret(tl__unary("tl_gelu", TL__OP_GELU, t, approximate_tanh ? 1 : 0, 0));
}
TLDEF tl_tensor *tl_softplus(const tl_tensor *t, double beta, double threshold) {
    return tl__ret(tl__unary("tl_softplus", TL__OP_SOFTPLUS, t, beta, threshold));
}
TLDEF tl_tensor *tl_clamp(const tl_tensor *t, double lo, double hi) {
    TL__CHECK1("tl_clamp", t);
    if (lo != lo || hi != hi) return TL__FAILN(TL_ERR_ARG, "tl_clamp: NaN bound for %s", TL__SH(t));
    return tl__ret(tl__unary("tl_clamp", TL__OP_CLAMP, t, lo, hi));
}
TLDEF tl_status tl_clamp_(tl_tensor *t, double lo, double hi) {
    TL__CHECK1S("tl_clamp_", t);
    if (lo != lo || hi != hi) return TL__FAIL(TL_ERR_ARG, "tl_clamp_: NaN bound for %s", TL__SH(t));
    return tl__unary_("tl_clamp_", TL__OP_CLAMP, t, lo, hi);
}

/* ---- where, masked_fill, fill, copy ---- */

/* where(cond, a, b); a NULL means the scalar as, b NULL the scalar bs (masked_fill, backward). */
static tl_tensor *tl__where(const char *op, const tl_tensor *cond, const tl_tensor *a, double as,
                            const tl_tensor *b, double bs) {
    tl__rtype rt;
    tl_dtype res;
    tl_tensor *out;
    tl__ew e;
    tl__opnd in[3];
    int nd = 0;
    int64_t shape[TL_MAX_DIMS];
    const tl_tensor *ts[3];
    if (!cond) return NULL;
    if (cond->dtype != TL_BOOL && cond->dtype != TL_U8)
        return TL__FAILN(TL_ERR_DTYPE, "%s: expected condition to be a boolean tensor, but got a tensor with "
                         "dtype %s (shape %s)", op, TL__DT(cond), TL__SH(cond));
    tl__rtype_init(&rt);
    if (a) tl__rtype_tensor(&rt, a);
    else tl__rtype_scalar(&rt, as);
    if (b) tl__rtype_tensor(&rt, b);
    else tl__rtype_scalar(&rt, bs);
    res = tl__rtype_result(&rt);
    ts[0] = cond;
    ts[1] = a;
    ts[2] = b;
    if (!tl__broadcast_n(op, 3, ts, &nd, shape)) return NULL;
    out = tl__new(op, nd, shape, res);
    if (!out) return NULL;
    memset(&e, 0, sizeof e);
    e.op = TL__OP_WHERE;
    e.ct = tl__ctype(res);
    in[0].t = cond;
    in[1].t = a;
    in[1].d = as;
    in[2].t = b;
    in[2].d = bs;
    tl__ew_exec(&e, out, 3, in);
    if (tl__wants_grad(a, b, NULL)) {
        if (!tl__record(out, TL__OP_WHERE, cond, a, b)) {
            tl__release(out);
            return NULL;
        }
        if (out->grad_fn) tl__save_in(out->grad_fn, 0);
    }
    return out;
}
TLDEF tl_tensor *tl_where(const tl_tensor *cond, const tl_tensor *a, const tl_tensor *b) {
    if (tl__null_in("tl_where", cond) || tl__null_in("tl_where", a) || tl__null_in("tl_where", b)) return NULL;
    return tl__ret(tl__where("tl_where", cond, a, 0, b, 0));
}
static int tl__masked_check(const char *op, const tl_tensor *t, const tl_tensor *mask) {
    int nd = 0;
    int64_t shape[TL_MAX_DIMS];
    const tl_tensor *ts[2];
    if (mask->dtype != TL_BOOL) {
        TL__FAIL(TL_ERR_DTYPE, "%s: expected mask to be a bool tensor, got %s (mask %s, input %s)", op,
                 TL__DT(mask), TL__SH(mask), TL__SH(t));
        return 0;
    }
    ts[0] = t;
    ts[1] = mask;
    if (!tl__broadcast_n(op, 2, ts, &nd, shape)) return 0;
    if (nd != t->ndim || memcmp(shape, t->shape, sizeof(int64_t) * (size_t)nd) != 0) {
        TL__FAIL(TL_ERR_SHAPE, "%s: mask %s cannot be broadcast to the input %s", op, TL__SH(mask), TL__SH(t));
        return 0;
    }
    return 1;
}
/* t[mask] = value in place (no checks, no recording). */
static void tl__masked_fill_raw(tl_tensor *t, const tl_tensor *mask, double value) {
    tl__ew e;
    tl__opnd in[3];
    memset(&e, 0, sizeof e);
    memset(in, 0, sizeof in);
    e.op = TL__OP_WHERE;
    e.ct = tl__ctype(t->dtype);
    in[0].t = mask;
    in[1].d = value;
    in[2].t = t;
    tl__ew_exec(&e, t, 3, in);
    t->storage->version++;
}
static int tl__masked_record(tl_tensor *out, const tl_tensor *t, const tl_tensor *mask) {
    if (!tl__record(out, TL__OP_MASKED_FILL, t, mask, NULL)) return 0;
    if (out->grad_fn) tl__save_in(out->grad_fn, 1);
    return 1;
}
TLDEF tl_status tl_masked_fill_(tl_tensor *t, const tl_tensor *mask, double value) {
    tl_tensor *old = NULL, *old_base = NULL;
    TL__CHECK2S("tl_masked_fill_", t, mask);
    if (!tl__masked_check("tl_masked_fill_", t, mask)) return tl__tls.status;
    if (!tl__check_writable("tl_masked_fill_", t)) return tl__tls.status;
    if (tl__wants_grad(t, NULL, NULL) && !(old = tl__inplace_prepare("tl_masked_fill_", t, &old_base))) return tl__tls.status;
    tl__masked_fill_raw(t, mask, value);
    if (old) {
        int ok = tl__masked_record(t, old, mask);
        tl__release(old);
        if (!tl__inplace_finish(t, old_base, ok)) return tl__tls.status;
    }
    return TL_OK;
}
/* Out of place, t and mask broadcast together (torch: the result may be larger than t). */
TLDEF tl_tensor *tl_masked_fill(const tl_tensor *t, const tl_tensor *mask, double value) {
    tl_tensor *out;
    const tl_tensor *ts[2];
    int nd = 0;
    int64_t shape[TL_MAX_DIMS];
    TL__CHECK2("tl_masked_fill", t, mask);
    if (mask->dtype != TL_BOOL)
        return TL__FAILN(TL_ERR_DTYPE, "tl_masked_fill: expected mask to be a bool tensor, got %s (mask %s, input %s)",
                         TL__DT(mask), TL__SH(mask), TL__SH(t));
    ts[0] = t;
    ts[1] = mask;
    if (!tl__broadcast_n("tl_masked_fill", 2, ts, &nd, shape)) return NULL;
    out = tl__new("tl_masked_fill", nd, shape, t->dtype);
    if (!out) return NULL;
    tl__copy_into(out, t);
    tl__masked_fill_raw(out, mask, value);
    if (tl__wants_grad(t, NULL, NULL) && !tl__masked_record(out, t, mask)) {
        tl__release(out);
        return NULL;
    }
    return tl__ret(out);
}
TLDEF tl_status tl_fill_(tl_tensor *t, double value) {
    tl_tensor *old = NULL, *old_base = NULL;
    TL__CHECK1S("tl_fill_", t);
    if (!tl__value_fits("tl_fill_", t->dtype, value, t->shape, t->ndim)) return tl__tls.status;
    if (!tl__check_writable("tl_fill_", t)) return tl__tls.status;
    if (tl__wants_grad(t, NULL, NULL) && !(old = tl__inplace_prepare("tl_fill_", t, &old_base))) return tl__tls.status;
    tl__fill(t, value);
    t->storage->version++;
    if (old) {
        int ok = tl__record(t, TL__OP_FILL, old, NULL, NULL);
        tl__release(old);
        if (!tl__inplace_finish(t, old_base, ok)) return tl__tls.status;
        if (t->grad_fn) t->grad_fn->tname = "FillBackward2";
    }
    return TL_OK;
}
TLDEF tl_status tl_zero_(tl_tensor *t) {
    tl_status st;
    TL__CHECK1S("tl_zero_", t);
    st = tl_fill_(t, 0);
    if (st == TL_OK && t->grad_fn && t->grad_fn->op == TL__OP_FILL) t->grad_fn->tname = "ZeroBackward0";
    return st;
}
TLDEF tl_status tl_copy_(tl_tensor *dst, const tl_tensor *src) {
    int nd = 0;
    int64_t shape[TL_MAX_DIMS];
    const tl_tensor *ts[2];
    tl_tensor *old = NULL, *old_base = NULL;
    TL__CHECK2S("tl_copy_", dst, src);
    if (dst == src) return TL_OK; /* x.copy_(x) changes nothing, history included */
    ts[0] = dst;
    ts[1] = src;
    if (!tl__broadcast_n("tl_copy_", 2, ts, &nd, shape)) return tl__tls.status;
    if (nd != dst->ndim || memcmp(shape, dst->shape, sizeof(int64_t) * (size_t)nd) != 0)
        return TL__FAIL(TL_ERR_SHAPE, "tl_copy_: source %s cannot be broadcast to destination %s", TL__SH(src),
                        TL__SH(dst));
    if (!tl__check_writable("tl_copy_", dst)) return tl__tls.status;
    if (tl__wants_grad(dst, src, NULL) && !(old = tl__inplace_prepare("tl_copy_", dst, &old_base))) return tl__tls.status;
    tl__copy_into(dst, src);
    dst->storage->version++;
    if (old) { /* the old value gets zeros; src gets g summed to its shape */
        int ok = tl__record(dst, TL__OP_TO_DTYPE, old, src, NULL);
        tl__release(old);
        if (!tl__inplace_finish(dst, old_base, ok)) return tl__tls.status;
        if (dst->grad_fn) dst->grad_fn->tname = "CopyBackwards";
    }
    return TL_OK;
}

/* Backward of where / masked_fill / fill. */
static tl_status tl__bwd_where(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    gin[0] = gin[1] = gin[2] = NULL;
    if (n->op == TL__OP_WHERE) { /* in: cond, a, b */
        if (n->in[1] && TL__NEED(n, 1)) {
            gin[1] = tl__sum_to(tl__where("autograd", n->in[0], g, 0, NULL, 0), n->in[1]);
            if (!gin[1]) return tl__tls.status;
        }
        if (n->in[2] && TL__NEED(n, 2)) {
            gin[2] = tl__sum_to(tl__where("autograd", n->in[0], NULL, 0, g, 0), n->in[2]);
            if (!gin[2]) return tl__tls.status;
        }
    } else if (n->op == TL__OP_MASKED_FILL && TL__NEED(n, 0)) { /* in: t, mask */
        gin[0] = tl__sum_to(tl__where("autograd", n->in[1], NULL, 0, g, 0), n->in[0]);
        if (!gin[0]) return tl__tls.status;
    } else if (n->op == TL__OP_FILL && TL__NEED(n, 0)) { /* the overwritten value gets zeros */
        gin[0] = tl__full("autograd", n->in[0]->ndim, n->in[0]->shape, 0, n->in[0]->dtype);
        if (!gin[0]) return tl__tls.status;
    }
    return TL_OK;
}

/* ===== >>reduce =============================================================================== */

/* A reduction plan: the kept dims (output order) and the reduced dims, with input strides. Each
   output element gathers its rn inputs into a buffer (double, or int64 for exact integer sums)
   and one small function reduces the buffer. */
typedef struct tl__rplan {
    int nk, nr, out_nd;
    int64_t kshape[TL_MAX_DIMS], kstride[TL_MAX_DIMS];
    int64_t rshape[TL_MAX_DIMS], rstride[TL_MAX_DIMS];
    int64_t out_shape[TL_MAX_DIMS];
    int64_t kn, rn;
    int rdims[TL_MAX_DIMS];          /* the reduced dims of the input, ascending */
} tl__rplan;

/* dims == NULL or ndims == 0 reduces every dim. Returns 0 with an error for a bad dim list. */
static int tl__rplan_make(const char *op, const tl_tensor *t, int ndims, const int *dims, int keepdim, tl__rplan *p) {
    int mask[TL_MAX_DIMS], i;
    memset(p, 0, sizeof *p);
    memset(mask, 0, sizeof mask);
    if (ndims > 0 && !dims) {
        TL__FAIL(TL_ERR_ARG, "%s: dims is NULL", op);
        return 0;
    }
    if (!dims || ndims <= 0) {
        for (i = 0; i < t->ndim; i++) mask[i] = 1;
    } else {
        for (i = 0; i < ndims; i++) {
            int d = tl__wrap_dim(op, dims[i], t->ndim, t);
            if (d < 0) return 0;
            if (t->ndim == 0) continue;
            if (mask[d]) {
                TL__FAIL(TL_ERR_ARG, "%s: dim %d appears multiple times in the list of dims (input %s)", op, d,
                         TL__SH(t));
                return 0;
            }
            mask[d] = 1;
        }
    }
    p->kn = p->rn = 1;
    for (i = 0; i < t->ndim; i++) {
        if (mask[i]) {
            p->rdims[p->nr] = i;
            p->rshape[p->nr] = t->shape[i];
            p->rstride[p->nr++] = t->stride[i];
            p->rn *= t->shape[i];
            if (keepdim) p->out_shape[p->out_nd++] = 1;
        } else {
            p->kshape[p->nk] = t->shape[i];
            p->kstride[p->nk++] = t->stride[i];
            p->kn *= t->shape[i];
            p->out_shape[p->out_nd++] = t->shape[i];
        }
    }
    return 1;
}

/* Gathers the rn inputs of the output element whose input base offset is base. */
static void tl__rgather(const tl_tensor *t, const tl__rplan *p, int64_t base, void *buf, int ct) {
    int64_t idx[TL_MAX_DIMS], done = 0, esz = (int64_t)tl__dtype_sizes[t->dtype];
    const char *data = (const char *)t->storage->data;
    int last = p->nr - 1, k;
    if (p->rn == 0) return;
    if (p->nr == 0) {
        tl__load(buf, ct, data + base * esz, t->dtype, 0, 1);
        return;
    }
    memset(idx, 0, sizeof idx);
    for (;;) {
        int64_t off = base;
        for (k = 0; k < last; k++) off += idx[k] * p->rstride[k];
        tl__load((char *)buf + done * 8, ct, data + off * esz, t->dtype, p->rstride[last] * esz, p->rshape[last]);
        done += p->rshape[last];
        for (k = last - 1; k >= 0; k--) {
            if (++idx[k] < p->rshape[k]) break;
            idx[k] = 0;
        }
        if (k < 0) return;
    }
}

typedef struct tl__rres { double v; int64_t iv, index; } tl__rres;

/* Reduces n doubles. p is the norm order, or unbiased for var/std. */
static tl__rres tl__rfloat(tl__op kind, const double *x, int64_t n, double p) {
    tl__rres r;
    int64_t i;
    double acc = 0, m;
    r.v = 0;
    r.iv = 0;
    r.index = 0;
    switch (kind) {
    case TL__OP_SUM:
        for (i = 0; i < n; i++) acc += x[i];
        r.v = acc;
        break;
    case TL__OP_MEAN:
        for (i = 0; i < n; i++) acc += x[i];
        r.v = acc / (double)n;
        break;
    case TL__OP_PROD:
        acc = 1;
        for (i = 0; i < n; i++) acc *= x[i];
        r.v = acc;
        break;
    case TL__OP_VAR:
    case TL__OP_STD:
        for (i = 0; i < n; i++) acc += x[i];
        m = acc / (double)n;
        acc = 0;
        for (i = 0; i < n; i++) acc += (x[i] - m) * (x[i] - m);
        r.v = (double)n - p > 0 ? acc / ((double)n - p) : NAN;
        if (kind == TL__OP_STD) r.v = sqrt(r.v);
        break;
    case TL__OP_MAX:
    case TL__OP_ARGMAX:
    case TL__OP_MIN:
    case TL__OP_ARGMIN: {
        int is_max = kind == TL__OP_MAX || kind == TL__OP_ARGMAX;
        r.v = x[0];
        for (i = 0; i < n; i++) {
            if (x[i] != x[i]) { /* NaN wins, first one */
                r.v = x[i];
                r.index = i;
                break;
            }
            if (is_max ? x[i] > r.v : x[i] < r.v) {
                r.v = x[i];
                r.index = i;
            }
        }
        break;
    }
    case TL__OP_NORM:
        if (isinf(p)) {
            m = p > 0 ? 0 : INFINITY;
            for (i = 0; i < n; i++) {
                double a = fabs(x[i]);
                if (a != a) { m = a; break; }
                if (p > 0 ? a > m : a < m) m = a;
            }
            r.v = m;
        } else if (p == 0) {
            for (i = 0; i < n; i++) acc += x[i] != 0;
            r.v = acc;
        } else if (p == 1) {
            for (i = 0; i < n; i++) acc += fabs(x[i]);
            r.v = acc;
        } else if (p == 2) {
            for (i = 0; i < n; i++) acc += x[i] * x[i];
            r.v = sqrt(acc);
        } else {
            for (i = 0; i < n; i++) acc += pow(fabs(x[i]), p);
            r.v = pow(acc, 1.0 / p);
        }
        break;
    case TL__OP_LOGSUMEXP:
        m = -INFINITY;
        for (i = 0; i < n; i++)
            if (x[i] > m || x[i] != x[i]) m = x[i];
        if (isinf(m) || m != m) {
            r.v = m;
            break;
        }
        for (i = 0; i < n; i++) acc += exp(x[i] - m);
        r.v = m + log(acc);
        break;
    default: break;
    }
    return r;
}
/* Exact integer reductions: sum/prod wrap like torch's int64, max/min keep the first extreme. */
static tl__rres tl__rint(tl__op kind, const int64_t *x, int64_t n) {
    tl__rres r;
    int64_t i;
    uint64_t acc;
    r.v = 0;
    r.iv = 0;
    r.index = 0;
    switch (kind) {
    case TL__OP_SUM:
        for (acc = 0, i = 0; i < n; i++) acc += (uint64_t)x[i];
        r.iv = (int64_t)acc;
        break;
    case TL__OP_PROD:
        for (acc = 1, i = 0; i < n; i++) acc *= (uint64_t)x[i];
        r.iv = (int64_t)acc;
        break;
    case TL__OP_MAX:
    case TL__OP_ARGMAX:
        r.iv = x[0];
        for (i = 1; i < n; i++)
            if (x[i] > r.iv) { r.iv = x[i]; r.index = i; }
        break;
    case TL__OP_MIN:
    case TL__OP_ARGMIN:
        r.iv = x[0];
        for (i = 1; i < n; i++)
            if (x[i] < r.iv) { r.iv = x[i]; r.index = i; }
        break;
    default: break;
    }
    return r;
}

/* The one reduction driver behind sum/mean/var/std/prod/max/min/argmax/argmin/norm/logsumexp. */
static tl_tensor *tl__reduce(const char *op, tl__op kind, const tl_tensor *t, int ndims, const int *dims,
                             int keepdim, double p, tl_tensor **indices) {
    tl__rplan pl;
    tl_dtype out_dt;
    tl_tensor *out = NULL, *idx = NULL;
    void *buf = NULL;
    int record = kind != TL__OP_ARGMAX && kind != TL__OP_ARGMIN && tl__wants_grad(t, NULL, NULL);
    int ct, k, want_index = kind == TL__OP_ARGMAX || kind == TL__OP_ARGMIN ||
                            ((kind == TL__OP_MAX || kind == TL__OP_MIN) && (indices || (record && dims && ndims > 0)));
    int64_t kidx[TL_MAX_DIMS], o;
    int is_int = TL__IS_INTLIKE(t->dtype);
    if (indices) *indices = NULL;
    switch (kind) {
    case TL__OP_SUM:
    case TL__OP_PROD: out_dt = is_int ? TL_I64 : t->dtype; break;
    case TL__OP_MEAN:
    case TL__OP_VAR:
    case TL__OP_STD:
    case TL__OP_NORM:
        if (is_int)
            return TL__FAILN(TL_ERR_DTYPE, "%s: input dtype must be a floating point dtype, got %s (input %s)", op,
                             TL__DT(t), TL__SH(t));
        out_dt = t->dtype;
        break;
    case TL__OP_LOGSUMEXP: out_dt = is_int ? TL_F32 : t->dtype; break;
    case TL__OP_ARGMAX:
    case TL__OP_ARGMIN: out_dt = TL_I64; break;
    default: out_dt = t->dtype; break; /* max, min */
    }
    if (!tl__rplan_make(op, t, ndims, dims, keepdim, &pl)) return NULL;
    if (pl.rn == 0 && (kind == TL__OP_MAX || kind == TL__OP_MIN || kind == TL__OP_ARGMAX || kind == TL__OP_ARGMIN)) {
        if (!dims || ndims <= 0)
            return TL__FAILN(TL_ERR_SHAPE, "%s: expected reduction dim to be specified for input.numel() == 0 "
                             "(input %s)", op, TL__SH(t));
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected reduction dim to have non-zero size (input %s)", op, TL__SH(t));
    }
    /* integer sums/products/max/min stay exact in int64; everything else goes through double */
    ct = (is_int && kind != TL__OP_LOGSUMEXP) ? TL__CT_I64 : TL__CT_F64;
    out = tl__new(op, pl.out_nd, pl.out_shape, out_dt);
    if (!out) return NULL;
    if (want_index && kind != TL__OP_ARGMAX && kind != TL__OP_ARGMIN) {
        idx = tl__new(op, pl.out_nd, pl.out_shape, TL_I64);
        if (!idx) goto fail;
    }
    buf = tl__malloc((size_t)(pl.rn > 0 ? pl.rn : 1) * 8);
    if (!buf) {
        TL__FAIL(TL_ERR_OOM, "%s: out of memory reducing %s", op, TL__SH(t));
        goto fail;
    }
    memset(kidx, 0, sizeof kidx);
    for (o = 0; o < pl.kn; o++) {
        int64_t base = t->offset;
        tl__rres r;
        for (k = 0; k < pl.nk; k++) base += kidx[k] * pl.kstride[k];
        tl__rgather(t, &pl, base, buf, ct);
        if (ct == TL__CT_I64) {
            r = tl__rint(kind, (const int64_t *)buf, pl.rn);
            if (kind == TL__OP_ARGMAX || kind == TL__OP_ARGMIN) r.iv = r.index;
            tl__store((char *)out->storage->data + (size_t)o * tl__dtype_sizes[out_dt], out_dt, 0, &r.iv, TL__CT_I64, 1);
        } else {
            r = tl__rfloat(kind, (const double *)buf, pl.rn, p);
            if (kind == TL__OP_ARGMAX || kind == TL__OP_ARGMIN) {
                tl__store((char *)out->storage->data + (size_t)o * 8, TL_I64, 0, &r.index, TL__CT_I64, 1);
            } else {
                tl__store((char *)out->storage->data + (size_t)o * tl__dtype_sizes[out_dt], out_dt, 0, &r.v,
                          TL__CT_F64, 1);
            }
        }
        if (idx) ((int64_t *)idx->storage->data)[o] = r.index;
        for (k = pl.nk - 1; k >= 0; k--) {
            if (++kidx[k] < pl.kshape[k]) break;
            kidx[k] = 0;
        }
    }
    tl__free(buf);
    buf = NULL;
    if (record) { /* what the backward of each reduction reads: see tl__bwd_reduce */
        tl__node *n;
        if (!tl__record(out, kind, t, NULL, NULL)) goto fail;
        n = out->grad_fn;
        if (n) {
            for (k = 0; k < pl.nr; k++) n->ip[k] = pl.rdims[k];
            n->nip = pl.nr;
            n->p[0] = p;
            if (!dims || ndims <= 0) { /* torch names the all-dims overloads differently */
                if (kind == TL__OP_SUM) n->tname = "SumBackward0";
                if (kind == TL__OP_MEAN) n->tname = "MeanBackward0";
                if (kind == TL__OP_PROD) n->tname = "ProdBackward0";
                if (kind == TL__OP_MAX) n->tname = "MaxBackward1";
                if (kind == TL__OP_MIN) n->tname = "MinBackward1";
            }
            if (kind == TL__OP_MAX || kind == TL__OP_MIN) {
                if (idx) {
                    n->aux = idx;
                    idx->refcount++;
                } else {
                    tl__save_in(n, 0);
                    if (!tl__save_out(n, out)) goto fail;
                }
            } else if (kind != TL__OP_SUM && kind != TL__OP_MEAN) {
                tl__save_in(n, 0);
                if (kind != TL__OP_VAR && !tl__save_out(n, out)) goto fail;
            }
        }
    }
    if (indices) *indices = idx;
    else tl__release(idx);
    return out;
fail:
    tl__free(buf);
    tl__release(out);
    tl__release(idx);
    return NULL;
}

/* Backward of the reductions. gk is g viewed with the reduced dims kept as size 1, so it
   broadcasts against the input x. */
static tl_status tl__bwd_reduce(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    const tl_tensor *x = n->in[0];
    int64_t kshape[TL_MAX_DIMS], N = 1;
    tl_tensor *tmp[16], *gk, *ok = NULL, *r = NULL;
    int i, nt = 0;
    double p = n->p[0];
    gin[0] = NULL;
    if (!TL__NEED(n, 0)) return TL_OK;
    memcpy(kshape, x->shape, sizeof kshape);
    for (i = 0; i < n->nip; i++) {
        kshape[n->ip[i]] = 1;
        N *= x->shape[n->ip[i]];
    }
    gk = TL__TMP(tl__view_impl("autograd", g, x->ndim, kshape, 1));
    if (n->out) ok = TL__TMP(tl__view_impl("autograd", n->out, x->ndim, kshape, 1));
    if (!gk || (n->out && !ok)) goto done;
    switch (n->op) {
    case TL__OP_SUM: r = tl__expand("autograd", gk, x->ndim, x->shape); break;
    case TL__OP_MEAN:
        TL__TMP(TL__AS(DIV, gk, (double)N));
        r = tl__expand("autograd", tmp[nt - 1], x->ndim, x->shape);
        break;
    case TL__OP_VAR:
    case TL__OP_STD: { /* var: 2 (x - mean) / (N - c); std: (x - mean) / ((N - c) std) */
        int base = nt;
        TL__TMP(tl__reduce("autograd", TL__OP_MEAN, x, n->nip, n->ip, 1, 0, NULL));
        TL__TMP(TL__AB(SUB, x, tmp[base]));
        if (n->op == TL__OP_VAR) TL__TMP(TL__AS(MUL, tmp[base + 1], 2.0 / ((double)N - p)));
        else {
            TL__TMP(TL__AS(MUL, ok, (double)N - p));
            TL__TMP(TL__AB(DIV, tmp[base + 1], tmp[base + 2]));
        }
        r = TL__AB(MUL, gk, tmp[nt - 1]);
        break;
    }
    case TL__OP_PROD: { /* d/dx_i = product of the other elements of its lane (exact with zeros) */
        tl__rplan pl;
        int64_t kidx[TL_MAX_DIMS], o, j;
        double *buf;
        int k;
        if (!tl__rplan_make("autograd", x, n->nip, n->ip, 1, &pl)) goto done;
        r = tl__new("autograd", x->ndim, x->shape, g->dtype);
        buf = r ? (double *)tl__malloc((size_t)(pl.rn > 0 ? pl.rn : 1) * 8 * 2) : NULL;
        if (!buf) {
            if (r) TL__FAIL(TL_ERR_OOM, "autograd: out of memory in prod backward of %s", TL__SH(x));
            tl__release(r);
            r = NULL;
            goto done;
        }
        memset(kidx, 0, sizeof kidx);
        for (o = 0; o < pl.kn; o++) {
            int64_t base = x->offset, rbase = 0, goff = gk->offset, e = 0;
            double acc = 1, gv, *ex = buf + pl.rn;
            int64_t ridx[TL_MAX_DIMS];
            for (k = 0, j = 0; k < x->ndim; k++) {
                int reduced = 0, q;
                for (q = 0; q < pl.nr; q++) reduced |= pl.rdims[q] == k;
                if (reduced) continue;
                base += kidx[j] * x->stride[k];
                rbase += kidx[j] * r->stride[k];
                goff += kidx[j] * gk->stride[k];
                j++;
            }
            tl__rgather(x, &pl, base, buf, TL__CT_F64);
            for (j = 0; j < pl.rn; j++) { ex[j] = acc; acc *= buf[j]; }   /* prefix products */
            for (acc = 1, j = pl.rn - 1; j >= 0; j--) { ex[j] *= acc; acc *= buf[j]; } /* times suffix */
            tl__load(&gv, TL__CT_F64, (const char *)gk->storage->data + (size_t)goff * tl__dtype_sizes[gk->dtype],
                     gk->dtype, 0, 1);
            memset(ridx, 0, sizeof ridx);
            for (e = 0; e < pl.rn; e++) { /* scatter in the same order tl__rgather read */
                int64_t off = rbase;
                double v = ex[e] * gv;
                for (k = 0; k < pl.nr; k++) off += ridx[k] * r->stride[pl.rdims[k]];
                tl__store(tl__ptr(r) + (size_t)off * tl__dtype_sizes[r->dtype], r->dtype, 0, &v, TL__CT_F64, 1);
                for (k = pl.nr - 1; k >= 0; k--) {
                    if (++ridx[k] < pl.rshape[k]) break;
                    ridx[k] = 0;
                }
            }
            for (k = pl.nk - 1; k >= 0; k--) {
                if (++kidx[k] < pl.kshape[k]) break;
                kidx[k] = 0;
            }
        }
        tl__free(buf);
        break;
    }
    case TL__OP_MAX:
    case TL__OP_MIN:
        if (n->aux) { /* dim form: the gradient goes to the recorded index */
            tl_tensor *ik = TL__TMP(tl__view_impl("autograd", n->aux, x->ndim, kshape, 1));
            tl_tensor *gkc = TL__TMP(tl__contig("autograd", gk));
            int64_t e, cnt = tl_numel(ik), idx[TL_MAX_DIMS];
            int d = n->ip[0], k;
            if (!ik || !gkc) goto done;
            r = tl__full("autograd", x->ndim, x->shape, 0, g->dtype);
            if (!r) goto done;
            memset(idx, 0, sizeof idx);
            for (e = 0; e < cnt; e++) {
                int64_t ioff = ik->offset, roff = 0, v;
                for (k = 0; k < x->ndim; k++) ioff += idx[k] * ik->stride[k];
                v = tl__index_at(ik, ioff);
                for (k = 0; k < x->ndim; k++) roff += (k == d ? v : idx[k]) * r->stride[k];
                memcpy(tl__ptr(r) + (size_t)roff * tl__dtype_sizes[r->dtype],
                       tl__ptr(gkc) + (size_t)e * tl__dtype_sizes[r->dtype], tl__dtype_sizes[r->dtype]);
                for (k = x->ndim - 1; k >= 0; k--) {
                    if (++idx[k] < ik->shape[k]) break;
                    idx[k] = 0;
                }
            }
        } else { /* all-dims form: split evenly among the elements equal to the result */
            int base = nt;
            TL__TMP(TL__AB(EQ, x, ok));
            TL__TMP(tl__reduce("autograd", TL__OP_SUM, tmp[base], n->nip, n->ip, 1, 0, NULL));
            TL__TMP(TL__AB(DIV, gk, tmp[base + 1]));
            r = TL__AB(MUL, tmp[base + 2], tmp[base]);
        }
        break;
    case TL__OP_NORM: {
        int base = nt;
        if (p == 0) {
            r = tl__full("autograd", x->ndim, x->shape, 0, g->dtype);
        } else if (p == 1) {
            TL__TMP(tl__unary("autograd", TL__OP_SIGN, x, 0, 0));
            r = TL__AB(MUL, gk, tmp[base]);
        } else if (isinf(p)) { /* sign(x) * (|x| == norm) / count */
            TL__TMP(tl__unary("autograd", TL__OP_ABS, x, 0, 0));
            TL__TMP(TL__AB(EQ, tmp[base], ok));
            TL__TMP(tl__reduce("autograd", TL__OP_SUM, tmp[base + 1], n->nip, n->ip, 1, 0, NULL));
            TL__TMP(tl__unary("autograd", TL__OP_SIGN, x, 0, 0));
            TL__TMP(TL__AB(MUL, tmp[base + 3], tmp[base + 1]));
            TL__TMP(TL__AB(DIV, gk, tmp[base + 2]));
            r = TL__AB(MUL, tmp[base + 5], tmp[base + 4]);
        } else { /* x |x|^(p-2) / norm^(p-1), 0 where x or the norm is 0 */
            if (p == 2) TL__TMP(TL__AB(DIV, x, ok));
            else {
                TL__TMP(tl__unary("autograd", TL__OP_ABS, x, 0, 0));
                TL__TMP(TL__AS(POW, tmp[base], p - 2));
                TL__TMP(TL__AB(MUL, x, tmp[base + 1]));
                TL__TMP(TL__AS(POW, ok, p - 1));
                TL__TMP(TL__AB(DIV, tmp[base + 2], tmp[base + 3]));
                TL__TMP(TL__AS(EQ, x, 0));
                TL__TMP(tl__where("autograd", tmp[base + 5], NULL, 0, tmp[base + 4], 0));
            }
            TL__TMP(TL__AS(EQ, ok, 0));
            {
                int last = nt;
                TL__TMP(tl__where("autograd", tmp[last - 1], NULL, 0, tmp[last - 2], 0));
            }
            r = TL__AB(MUL, gk, tmp[nt - 1]);
        }
        break;
    }
    case TL__OP_LOGSUMEXP: {
        int base = nt;
        TL__TMP(TL__AB(SUB, x, ok));
        TL__TMP(tl__unary("autograd", TL__OP_EXP, tmp[base], 0, 0));
        r = TL__AB(MUL, gk, tmp[base + 1]);
        break;
    }
    default: break;
    }
done:
    while (nt > 0) tl__release(tmp[--nt]);
    if (!r) return tl__tls.status ? tl__tls.status : TL_ERR_STATE;
    gin[0] = tl__sum_to(r, x);
    return gin[0] ? TL_OK : tl__tls.status;
}

/* The dim / dims / all-dims entry points of the plain reductions. */
#define TL__REDUCE_DIM_API(name, id)                                                               \
    TLDEF tl_tensor *tl_##name(const tl_tensor *t, int dim, int keepdim) {                         \
        TL__CHECK1("tl_" #name, t);                                                                \
        return tl__ret(tl__reduce("tl_" #name, id, t, 1, &dim, keepdim, 0, NULL));                 \
    }
#define TL__REDUCE_DIMS_API(name, id)                                                              \
    TLDEF tl_tensor *tl_##name##_dims(const tl_tensor *t, int ndims, const int *dims, int keepdim) { \
        TL__CHECK1("tl_" #name "_dims", t);                                                        \
        return tl__ret(tl__reduce("tl_" #name "_dims", id, t, ndims, dims, keepdim, 0, NULL));     \
    }
#define TL__REDUCE_ALL_API(name, id)                                                               \
    TLDEF tl_tensor *tl_##name##_all(const tl_tensor *t) {                                         \
        TL__CHECK1("tl_" #name "_all", t);                                                         \
        return tl__ret(tl__reduce("tl_" #name "_all", id, t, 0, NULL, 0, 0, NULL));                \
    }
TL__REDUCE_DIM_API(sum, TL__OP_SUM)
TL__REDUCE_DIMS_API(sum, TL__OP_SUM)
TL__REDUCE_ALL_API(sum, TL__OP_SUM)
TL__REDUCE_DIM_API(mean, TL__OP_MEAN)
TL__REDUCE_DIMS_API(mean, TL__OP_MEAN)
TL__REDUCE_ALL_API(mean, TL__OP_MEAN)
TL__REDUCE_DIM_API(prod, TL__OP_PROD)
TL__REDUCE_ALL_API(prod, TL__OP_PROD)
TL__REDUCE_ALL_API(max, TL__OP_MAX)
TL__REDUCE_ALL_API(min, TL__OP_MIN)
TL__REDUCE_DIM_API(argmax, TL__OP_ARGMAX)
TL__REDUCE_DIM_API(argmin, TL__OP_ARGMIN)
TL__REDUCE_DIM_API(logsumexp, TL__OP_LOGSUMEXP)
TLDEF tl_tensor *tl_var(const tl_tensor *t, int dim, int unbiased, int keepdim) {
    TL__CHECK1("tl_var", t);
    return tl__ret(tl__reduce("tl_var", TL__OP_VAR, t, 1, &dim, keepdim, unbiased ? 1 : 0, NULL));
}
TLDEF tl_tensor *tl_var_all(const tl_tensor *t, int unbiased) {
    TL__CHECK1("tl_var_all", t);
    return tl__ret(tl__reduce("tl_var_all", TL__OP_VAR, t, 0, NULL, 0, unbiased ? 1 : 0, NULL));
}
TLDEF tl_tensor *tl_std(const tl_tensor *t, int dim, int unbiased, int keepdim) {
    TL__CHECK1("tl_std", t);
    return tl__ret(tl__reduce("tl_std", TL__OP_STD, t, 1, &dim, keepdim, unbiased ? 1 : 0, NULL));
}
TLDEF tl_tensor *tl_std_all(const tl_tensor *t, int unbiased) {
    TL__CHECK1("tl_std_all", t);
    return tl__ret(tl__reduce("tl_std_all", TL__OP_STD, t, 0, NULL, 0, unbiased ? 1 : 0, NULL));
}
TLDEF tl_tensor *tl_max(const tl_tensor *t, int dim, int keepdim, tl_tensor **indices) {
    tl_tensor *r;
    if (indices) *indices = NULL;
    TL__CHECK1("tl_max", t);
    r = tl__ret(tl__reduce("tl_max", TL__OP_MAX, t, 1, &dim, keepdim, 0, indices));
    if (indices) *indices = r ? tl__ret(*indices) : NULL;
    return r;
}
TLDEF tl_tensor *tl_min(const tl_tensor *t, int dim, int keepdim, tl_tensor **indices) {
    tl_tensor *r;
    if (indices) *indices = NULL;
    TL__CHECK1("tl_min", t);
    r = tl__ret(tl__reduce("tl_min", TL__OP_MIN, t, 1, &dim, keepdim, 0, indices));
    if (indices) *indices = r ? tl__ret(*indices) : NULL;
    return r;
}
/* argmax over all dims indexes the flattened tensor: reduce a contiguous copy viewed as 1-D. */
static tl_tensor *tl__arg_all(const char *op, tl__op kind, const tl_tensor *t) {
    int64_t n = tl_numel(t);
    tl_tensor *flat, *r;
    if (n == 0)
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected reduction dim to be specified for input.numel() == 0 (input %s)",
                         op, TL__SH(t));
    flat = tl__view(op, t, 1, &n, 1);
    if (!flat) return NULL;
    r = tl__reduce(op, kind, flat, 0, NULL, 0, 0, NULL);
    tl__release(flat);
    return r;
}
TLDEF tl_tensor *tl_argmax_all(const tl_tensor *t) {
    TL__CHECK1("tl_argmax_all", t);
    return tl__ret(tl__arg_all("tl_argmax_all", TL__OP_ARGMAX, t));
}
TLDEF tl_tensor *tl_argmin_all(const tl_tensor *t) {
    TL__CHECK1("tl_argmin_all", t);
    return tl__ret(tl__arg_all("tl_argmin_all", TL__OP_ARGMIN, t));
}
static int tl__norm_p_ok(const char *op, double p) {
    if (p == p && p >= 0) return 1;
    if (p == -INFINITY) return 1;
    TL__FAIL(TL_ERR_ARG, "%s: unsupported norm order p = %g (use p >= 0, INFINITY or -INFINITY)", op, p);
    return 0;
}
TLDEF tl_tensor *tl_norm(const tl_tensor *t, double p, int dim, int keepdim) {
    TL__CHECK1("tl_norm", t);
    if (!tl__norm_p_ok("tl_norm", p)) return NULL;
    return tl__ret(tl__reduce("tl_norm", TL__OP_NORM, t, 1, &dim, keepdim, p, NULL));
}
TLDEF tl_tensor *tl_norm_dims(const tl_tensor *t, double p, int ndims, const int *dims, int keepdim) {
    TL__CHECK1("tl_norm_dims", t);
    if (!tl__norm_p_ok("tl_norm_dims", p)) return NULL;
    return tl__ret(tl__reduce("tl_norm_dims", TL__OP_NORM, t, ndims, dims, keepdim, p, NULL));
}
TLDEF tl_tensor *tl_norm_all(const tl_tensor *t, double p) {
    TL__CHECK1("tl_norm_all", t);
    if (!tl__norm_p_ok("tl_norm_all", p)) return NULL;
    return tl__ret(tl__reduce("tl_norm_all", TL__OP_NORM, t, 0, NULL, 0, p, NULL));
}

/* ---- lane ops: softmax, log_softmax, cumsum along one dim ---- */

static tl_tensor *tl__lane(const char *op, tl__op kind, const tl_tensor *t, int dim) {
    tl__rplan pl;
    tl_dtype out_dt;
    tl_tensor *out;
    int64_t kidx[TL_MAX_DIMS], ostride[TL_MAX_DIMS], o, i;
    double *buf;
    int d, k, j, ct;
    d = tl__wrap_dim(op, dim, t->ndim, t);
    if (d < 0) return NULL;
    if (kind == TL__OP_CUMSUM) {
        out_dt = TL__IS_INTLIKE(t->dtype) ? TL_I64 : t->dtype;
    } else {
        if (TL__IS_INTLIKE(t->dtype))
            return TL__FAILN(TL_ERR_DTYPE, "%s: not implemented for %s tensors (input %s)", op, TL__DT(t), TL__SH(t));
        out_dt = t->dtype;
    }
    ct = out_dt == TL_I64 ? TL__CT_I64 : TL__CT_F64;
    if (!tl__rplan_make(op, t, 1, &d, 1, &pl)) return NULL;
    out = tl__new(op, t->ndim, t->shape, out_dt);
    if (!out) return NULL;
    /* output strides of the kept dims, in the same order as the plan */
    for (j = 0, k = 0; k < t->ndim; k++)
        if (k != d) ostride[j++] = out->stride[k];
    buf = (double *)tl__malloc((size_t)(pl.rn > 0 ? pl.rn : 1) * 8);
    if (!buf) {
        tl__release(out);
        return TL__FAILN(TL_ERR_OOM, "%s: out of memory (input %s)", op, TL__SH(t));
    }
    memset(kidx, 0, sizeof kidx);
    for (o = 0; o < pl.kn; o++) {
        int64_t base = t->offset, obase = 0, n = pl.rn;
        for (k = 0; k < pl.nk; k++) {
            base += kidx[k] * pl.kstride[k];
            obase += kidx[k] * ostride[k];
        }
        tl__rgather(t, &pl, base, buf, ct);
        if (kind == TL__OP_CUMSUM) {
            if (ct == TL__CT_I64) {
                uint64_t acc = 0;
                int64_t *ib = (int64_t *)(void *)buf;
                for (i = 0; i < n; i++) ib[i] = (int64_t)(acc += (uint64_t)ib[i]);
            } else {
                double acc = 0;
                for (i = 0; i < n; i++) buf[i] = acc += buf[i];
            }
        } else {
            double m = -INFINITY, s = 0;
            for (i = 0; i < n; i++)
                if (buf[i] > m) m = buf[i];
            for (i = 0; i < n; i++) s += exp(buf[i] - m);
            if (kind == TL__OP_SOFTMAX)
                for (i = 0; i < n; i++) buf[i] = exp(buf[i] - m) / s;
            else
                for (i = 0; i < n; i++) buf[i] = buf[i] - m - log(s);
        }
        if (n > 0)
            tl__store((char *)out->storage->data + (size_t)obase * tl__dtype_sizes[out_dt], out_dt,
                      (t->ndim ? out->stride[d] : 0) * (int64_t)tl__dtype_sizes[out_dt], buf, ct, n);
        for (k = pl.nk - 1; k >= 0; k--) {
            if (++kidx[k] < pl.kshape[k]) break;
            kidx[k] = 0;
        }
    }
    tl__free(buf);
    if (tl__wants_grad(t, NULL, NULL)) {
        if (!tl__record(out, kind, t, NULL, NULL) || (out->grad_fn && kind != TL__OP_CUMSUM && !tl__save_out(out->grad_fn, out))) {
            tl__release(out);
            return NULL;
        }
        if (out->grad_fn) out->grad_fn->ip[0] = d;
    }
    return out;
}
/* softmax: y (g - sum(g y)); log_softmax: g - exp(y) sum(g); cumsum: reversed cumsum of g. */
static tl_status tl__bwd_lane(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    tl_tensor *tmp[8], *r = NULL;
    int nt = 0, d = n->ip[0];
    gin[0] = NULL;
    if (!TL__NEED(n, 0)) return TL_OK;
    if (n->op == TL__OP_SOFTMAX) {
        TL__TMP(TL__AB(MUL, g, n->out));
        TL__TMP(tl__reduce("autograd", TL__OP_SUM, tmp[0], 1, &d, 1, 0, NULL));
        TL__TMP(TL__AB(MUL, n->out, tmp[1]));
        r = TL__AB(SUB, tmp[0], tmp[2]);
    } else if (n->op == TL__OP_LOG_SOFTMAX) {
        TL__TMP(tl__reduce("autograd", TL__OP_SUM, g, 1, &d, 1, 0, NULL));
        TL__TMP(tl__unary("autograd", TL__OP_EXP, n->out, 0, 0));
        TL__TMP(TL__AB(MUL, tmp[1], tmp[0]));
        r = TL__AB(SUB, g, tmp[2]);
    } else { /* total - cumsum(g) + g */
        TL__TMP(tl__reduce("autograd", TL__OP_SUM, g, 1, &d, 1, 0, NULL));
        TL__TMP(tl__lane("autograd", TL__OP_CUMSUM, g, d));
        TL__TMP(TL__AB(SUB, tmp[0], tmp[1]));
        r = TL__AB(ADD, tmp[2], g);
    }
    while (nt > 0) tl__release(tmp[--nt]);
    gin[0] = tl__sum_to(r, n->in[0]);
    return gin[0] ? TL_OK : tl__tls.status;
}
TLDEF tl_tensor *tl_softmax(const tl_tensor *t, int dim) {
    TL__CHECK1("tl_softmax", t);
    return tl__ret(tl__lane("tl_softmax", TL__OP_SOFTMAX, t, dim));
}
TLDEF tl_tensor *tl_log_softmax(const tl_tensor *t, int dim) {
    TL__CHECK1("tl_log_softmax", t);
    return tl__ret(tl__lane("tl_log_softmax", TL__OP_LOG_SOFTMAX, t, dim));
}
TLDEF tl_tensor *tl_cumsum(const tl_tensor *t, int dim) {
    TL__CHECK1("tl_cumsum", t);
    return tl__ret(tl__lane("tl_cumsum", TL__OP_CUMSUM, t, dim));
}

/* ===== >>linalg =============================================================================== */

/* C[n,m] = A[n,k] @ B[k,m], all row-major contiguous. The i-p-j order streams rows of B and C, so
   the inner loop vectorises; k is blocked so a panel of B stays in cache. */
#define TL__GEMM_BODY(T)                                                                           \
    {                                                                                              \
        int64_t i, j, p, p0, kb = 256;                                                             \
        for (i = 0; i < n * m; i++) C[i] = 0;                                                      \
        for (p0 = 0; p0 < k; p0 += kb) {                                                           \
            int64_t p1 = p0 + kb < k ? p0 + kb : k;                                                \
            for (i = 0; i < n; i++) {                                                              \
                T *c = C + i * m;                                                                  \
                const T *a = A + i * k;                                                            \
                for (p = p0; p < p1; p++) {                                                        \
                    const T av = a[p], *b = B + p * m;                                             \
                    for (j = 0; j < m; j++) c[j] += av * b[j];                                     \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }
static void tl__gemm_f32(int64_t n, int64_t k, int64_t m, const float *A, const float *B, float *C) TL__GEMM_BODY(float)
static void tl__gemm_f64(int64_t n, int64_t k, int64_t m, const double *A, const double *B, double *C) TL__GEMM_BODY(double)
static void tl__gemm_i64(int64_t n, int64_t k, int64_t m, const int64_t *A, const int64_t *B, int64_t *C) {
    int64_t i, j, p;
    for (i = 0; i < n * m; i++) C[i] = 0;
    for (i = 0; i < n; i++)
        for (p = 0; p < k; p++) {
            uint64_t av = (uint64_t)A[i * k + p];
            for (j = 0; j < m; j++) C[i * m + j] = (int64_t)((uint64_t)C[i * m + j] + av * (uint64_t)B[p * m + j]);
        }
}

static int tl__mm_dtype_ok(const char *op, const tl_tensor *a, const tl_tensor *b) {
    if (a->dtype != b->dtype) {
        TL__FAIL(TL_ERR_DTYPE, "%s: expected both inputs to have the same dtype, but got %s %s and %s %s", op,
                 TL__DT(a), TL__SH(a), TL__DT(b), TL__SH(b));
        return 0;
    }
    if (a->dtype == TL_BOOL) {
        TL__FAIL(TL_ERR_DTYPE, "%s: not implemented for bool tensors (%s and %s)", op, TL__SH(a), TL__SH(b));
        return 0;
    }
    return 1;
}

/* C[n,m] = A[n,k] @ B[k,m] for any element strides of A and B (C contiguous): rows of B
   contiguous -> i-p-j (streams B's rows); B transposed (stride 1 along k) -> dot products. */
#define TL__GEMM_STRIDED(NAME, T)                                                                  \
    static void NAME(int64_t n, int64_t k, int64_t m, const T *A, int64_t as0, int64_t as1, const T *B,   \
                     int64_t bs0, int64_t bs1, T *C) {                                            \
        int64_t i, j, p;                                                                           \
        if (bs1 == 1) {                                                                            \
            for (i = 0; i < n; i++) {                                                              \
                T *c = C + i * m;                                                                  \
                for (j = 0; j < m; j++) c[j] = 0;                                                  \
                for (p = 0; p < k; p++) {                                                          \
                    const T av = A[i * as0 + p * as1], *b = B + p * bs0;                           \
                    for (j = 0; j < m; j++) c[j] += av * b[j];                                     \
                }                                                                                  \
            }                                                                                      \
        } else {                                                                                   \
            for (i = 0; i < n; i++)                                                                \
                for (j = 0; j < m; j++) {                                                          \
                    const T *a = A + i * as0, *b = B + j * bs1;                                    \
                    T acc = 0;                                                                     \
                    for (p = 0; p < k; p++) acc += a[p * as1] * b[p * bs0];                        \
                    C[i * m + j] = acc;                                                            \
                }                                                                                  \
        }                                                                                          \
    }
TL__GEMM_STRIDED(tl__gemm_sf32, float)
TL__GEMM_STRIDED(tl__gemm_sf64, double)

/* [B,n,k] x [B,k,m] -> [B,n,m] (shapes already checked). float32/float64 run straight on the
   operands' strides (no copy for transposed weights); other dtypes compute in float, double or
   int64 on contiguous copies and store in the inputs' dtype. */
static tl_tensor *tl__bmm(const char *op, const tl_tensor *a, const tl_tensor *b) {
    int64_t B = a->shape[0], n = a->shape[1], k = a->shape[2], m = b->shape[2], shape[3], bi;
    int ct = tl__ctype(a->dtype);
    tl_dtype cdt = tl__ct_dtype[ct];
    tl_tensor *ac, *bc, *out, *oc;
    size_t cs = tl__ct_size[ct];
    shape[0] = B;
    shape[1] = n;
    shape[2] = m;
    if (a->dtype == cdt && ct != TL__CT_I64 && (b->stride[2] == 1 || b->stride[1] == 1 || m == 1 || k == 1)) {
        out = tl__new(op, 3, shape, a->dtype);
        if (!out) return NULL;
        for (bi = 0; bi < B; bi++) {
            const char *pa = tl__ptr(a) + (size_t)(bi * a->stride[0]) * cs;
            const char *pb = tl__ptr(b) + (size_t)(bi * b->stride[0]) * cs;
            char *pc = tl__ptr(out) + (size_t)(bi * n * m) * cs;
            int64_t bs0 = b->stride[1], bs1 = b->stride[2];
            if (m == 1) bs1 = 1; /* a single column: its stride never matters */
            if (k == 1 && bs1 != 1) { bs0 = 0; }
            if (ct == TL__CT_F32)
                tl__gemm_sf32(n, k, m, (const float *)pa, a->stride[1], a->stride[2], (const float *)pb, bs0, bs1,
                              (float *)pc);
            else
                tl__gemm_sf64(n, k, m, (const double *)pa, a->stride[1], a->stride[2], (const double *)pb, bs0, bs1,
                              (double *)pc);
        }
        goto record;
    }
    ac = tl__contig_as(op, a, cdt);
    bc = ac ? tl__contig_as(op, b, cdt) : NULL;
    out = bc ? tl__new(op, 3, shape, a->dtype) : NULL;
    oc = out ? (a->dtype == cdt ? (out->refcount++, out) : tl__new(op, 3, shape, cdt)) : NULL;
    if (!oc) {
        tl__release(ac);
        tl__release(bc);
        tl__release(out);
        return NULL;
    }
    for (bi = 0; bi < B; bi++) {
        const char *pa = tl__ptr(ac) + (size_t)(bi * n * k) * cs, *pb = tl__ptr(bc) + (size_t)(bi * k * m) * cs;
        char *pc = tl__ptr(oc) + (size_t)(bi * n * m) * cs;
        if (ct == TL__CT_F32) tl__gemm_f32(n, k, m, (const float *)pa, (const float *)pb, (float *)pc);
        else if (ct == TL__CT_F64) tl__gemm_f64(n, k, m, (const double *)pa, (const double *)pb, (double *)pc);
        else tl__gemm_i64(n, k, m, (const int64_t *)pa, (const int64_t *)pb, (int64_t *)pc);
    }
    if (oc != out) tl__copy_into(out, oc);
    tl__release(oc);
    tl__release(ac);
    tl__release(bc);
record:
    if (tl__wants_grad(a, b, NULL)) {
        if (!tl__record(out, TL__OP_BMM, a, b, NULL)) {
            tl__release(out);
            return NULL;
        }
        if (out->grad_fn) {
            if (TL__NEED(out->grad_fn, 0)) tl__save_in(out->grad_fn, 1);
            if (TL__NEED(out->grad_fn, 1)) tl__save_in(out->grad_fn, 0);
        }
    }
    return out;
}

static tl_tensor *tl__mm(const char *op, const tl_tensor *a, const tl_tensor *b) {
    tl_tensor *a3, *b3, *r3, *r;
    int64_t s[3];
    if (a->ndim != 2 || b->ndim != 2)
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected 2-D tensors, got %s and %s", op, TL__SH(a), TL__SH(b));
    if (!tl__mm_dtype_ok(op, a, b)) return NULL;
    if (a->shape[1] != b->shape[0])
        return TL__FAILN(TL_ERR_SHAPE, "%s: mat1 and mat2 shapes cannot be multiplied (%lldx%lld and %lldx%lld): %s "
                         "and %s", op, (long long)a->shape[0], (long long)a->shape[1], (long long)b->shape[0],
                         (long long)b->shape[1], TL__SH(a), TL__SH(b));
    tl__tls.record_off++; /* one MM node, not unsqueeze + bmm + view */
    a3 = tl__unsqueeze(op, a, 0);
    b3 = a3 ? tl__unsqueeze(op, b, 0) : NULL;
    r3 = b3 ? tl__bmm(op, a3, b3) : NULL;
    tl__release(a3);
    tl__release(b3);
    s[0] = a->shape[0];
    s[1] = b->shape[1];
    r = tl__unview(r3 ? tl__view(op, r3, 2, s, 0) : NULL);
    tl__release(r3);
    tl__tls.record_off--;
    if (r && tl__wants_grad(a, b, NULL)) {
        if (!tl__record(r, TL__OP_MM, a, b, NULL)) {
            tl__release(r);
            return NULL;
        }
        if (r->grad_fn) {
            if (TL__NEED(r->grad_fn, 0)) tl__save_in(r->grad_fn, 1);
            if (TL__NEED(r->grad_fn, 1)) tl__save_in(r->grad_fn, 0);
        }
    }
    return r;
}
/* mm: ga = g b^T, gb = a^T g; bmm: the same per batch. */
static tl_status tl__bwd_linalg(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    tl_tensor *a = n->in[0], *b = n->in[1], *t;
    int bmm = n->op == TL__OP_BMM, d0 = bmm ? 1 : 0, d1 = bmm ? 2 : 1;
    gin[0] = gin[1] = NULL;
    if (TL__NEED(n, 0)) {
        t = tl__transpose("autograd", b, d0, d1);
        gin[0] = t ? (bmm ? tl__bmm("autograd", g, t) : tl__mm("autograd", g, t)) : NULL;
        tl__release(t);
        if (!gin[0]) return tl__tls.status;
    }
    if (TL__NEED(n, 1)) {
        if (!bmm && b->stride[0] == 1 && b->shape[0] > 1) {
            /* b is a transposed weight (x @ w.t()): (g^T a)^T is contiguous once transposed back,
               so w's gradient needs no copy */
            tl_tensor *gt = tl__transpose("autograd", g, 0, 1), *r = gt ? tl__mm("autograd", gt, a) : NULL;
            gin[1] = r ? tl__transpose("autograd", r, 0, 1) : NULL;
            tl__release(gt);
            tl__release(r);
        } else {
            t = tl__transpose("autograd", a, d0, d1);
            gin[1] = t ? (bmm ? tl__bmm("autograd", t, g) : tl__mm("autograd", t, g)) : NULL;
            tl__release(t);
        }
        if (!gin[1]) return tl__tls.status;
    }
    return TL_OK;
}
TLDEF tl_tensor *tl_mm(const tl_tensor *a, const tl_tensor *b) {
    TL__CHECK2("tl_mm", a, b);
    return tl__ret(tl__mm("tl_mm", a, b));
}
TLDEF tl_tensor *tl_bmm(const tl_tensor *a, const tl_tensor *b) {
    TL__CHECK2("tl_bmm", a, b);
    if (a->ndim != 3 || b->ndim != 3)
        return TL__FAILN(TL_ERR_SHAPE, "tl_bmm: expected 3-D tensors, got %s and %s", TL__SH(a), TL__SH(b));
    if (!tl__mm_dtype_ok("tl_bmm", a, b)) return NULL;
    if (a->shape[0] != b->shape[0] || a->shape[2] != b->shape[1])
        return TL__FAILN(TL_ERR_SHAPE, "tl_bmm: expected size for first two dimensions of batch2 tensor to be: "
                         "[%lld, %lld] but got: [%lld, %lld] (batch1 %s, batch2 %s)", (long long)a->shape[0],
                         (long long)a->shape[2], (long long)b->shape[0], (long long)b->shape[1], TL__SH(a), TL__SH(b));
    return tl__ret(tl__bmm("tl_bmm", a, b));
}
static tl_tensor *tl__mv(const char *op, const tl_tensor *a, const tl_tensor *v) {
    tl_tensor *v2, *r2, *r;
    if (a->ndim != 2 || v->ndim != 1)
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected a 2-D matrix and a 1-D vector, got %s and %s", op, TL__SH(a),
                         TL__SH(v));
    if (!tl__mm_dtype_ok(op, a, v)) return NULL;
    if (a->shape[1] != v->shape[0])
        return TL__FAILN(TL_ERR_SHAPE, "%s: size mismatch, got %s and %s (%lld != %lld)", op, TL__SH(a), TL__SH(v),
                         (long long)a->shape[1], (long long)v->shape[0]);
    v2 = tl__unsqueeze(op, v, 1);
    r2 = v2 ? tl__mm(op, a, v2) : NULL;
    r = tl__unview(r2 ? tl__squeeze(op, r2, 1) : NULL);
    tl__release(v2);
    tl__release(r2);
    if (r && r->grad_fn) r->grad_fn->tname = "MvBackward0";
    return r;
}
TLDEF tl_tensor *tl_mv(const tl_tensor *a, const tl_tensor *v) {
    TL__CHECK2("tl_mv", a, v);
    return tl__ret(tl__mv("tl_mv", a, v));
}
static tl_tensor *tl__dot(const char *op, const tl_tensor *a, const tl_tensor *b) {
    tl_tensor *a2, *b2, *r2, *r;
    if (a->ndim != 1 || b->ndim != 1)
        return TL__FAILN(TL_ERR_SHAPE, "%s: 1D tensors expected, but got %s and %s", op, TL__SH(a), TL__SH(b));
    if (!tl__mm_dtype_ok(op, a, b)) return NULL;
    if (a->shape[0] != b->shape[0])
        return TL__FAILN(TL_ERR_SHAPE, "%s: inconsistent tensor size, expected tensor %s and src %s to have the same "
                         "number of elements", op, TL__SH(a), TL__SH(b));
    a2 = tl__unsqueeze(op, a, 0);
    b2 = a2 ? tl__unsqueeze(op, b, 1) : NULL;
    r2 = b2 ? tl__mm(op, a2, b2) : NULL;
    r = tl__unview(r2 ? tl__view(op, r2, 0, NULL, 0) : NULL);
    tl__release(a2);
    tl__release(b2);
    tl__release(r2);
    if (r && r->grad_fn) r->grad_fn->tname = "DotBackward0";
    return r;
}
TLDEF tl_tensor *tl_dot(const tl_tensor *a, const tl_tensor *b) {
    TL__CHECK2("tl_dot", a, b);
    return tl__ret(tl__dot("tl_dot", a, b));
}
/* outer(a, b) = a[:, None] * b[None, :] (promotes like mul). */
TLDEF tl_tensor *tl_outer(const tl_tensor *a, const tl_tensor *b) {
    tl_tensor *a2, *b2, *r;
    TL__CHECK2("tl_outer", a, b);
    if (a->ndim != 1 || b->ndim != 1)
        return TL__FAILN(TL_ERR_SHAPE, "tl_outer: expected 1-D arguments, but got %s and %s", TL__SH(a), TL__SH(b));
    a2 = tl__unsqueeze("tl_outer", a, 1);
    b2 = a2 ? tl__unsqueeze("tl_outer", b, 0) : NULL;
    r = b2 ? tl__binary("tl_outer", TL__OP_MUL, a2, b2, 0, 0, 1) : NULL;
    tl__release(a2);
    tl__release(b2);
    return tl__ret(r);
}

/* torch.matmul: promote 1-D operands, broadcast batch dims, run one batched product, then drop the
   dims that were added. */
static tl_tensor *tl__matmul(const char *op, const tl_tensor *a, const tl_tensor *b) {
    int64_t batch[TL_MAX_DIMS], ea[TL_MAX_DIMS], eb[TL_MAX_DIMS], s3[3], oshape[TL_MAX_DIMS];
    int nba, nbb, nb, i, onl = 0;
    int64_t n, k, kb, m, B = 1;
    tl_tensor *ax = NULL, *bx = NULL, *a3 = NULL, *b3 = NULL, *r3 = NULL, *r = NULL;
    if (a->ndim == 0 || b->ndim == 0)
        return TL__FAILN(TL_ERR_SHAPE, "%s: both arguments to matmul need to be at least 1D, but they are %s and %s",
                         op, TL__SH(a), TL__SH(b));
    if (a->ndim == 1 && b->ndim == 1) return tl__dot(op, a, b);
    if (a->ndim == 2 && b->ndim == 1) return tl__mv(op, a, b);
    if (a->ndim == 2 && b->ndim == 2) return tl__mm(op, a, b);
    if (!tl__mm_dtype_ok(op, a, b)) return NULL;
    n = a->ndim == 1 ? 1 : a->shape[a->ndim - 2];
    k = a->shape[a->ndim - 1];
    kb = b->ndim == 1 ? b->shape[0] : b->shape[b->ndim - 2];
    m = b->ndim == 1 ? 1 : b->shape[b->ndim - 1];
    if (k != kb)
        return TL__FAILN(TL_ERR_SHAPE, "%s: shapes %s and %s cannot be multiplied (%lld != %lld)", op, TL__SH(a),
                         TL__SH(b), (long long)k, (long long)kb);
    nba = a->ndim > 2 ? a->ndim - 2 : 0;
    nbb = b->ndim > 2 ? b->ndim - 2 : 0;
    nb = nba > nbb ? nba : nbb;
    for (i = 0; i < nb; i++) {
        int ia = i - (nb - nba), ib = i - (nb - nbb);
        int64_t sa = ia >= 0 ? a->shape[ia] : 1, sb = ib >= 0 ? b->shape[ib] : 1;
        if (sa != sb && sa != 1 && sb != 1)
            return TL__FAILN(TL_ERR_SHAPE, "%s: batch dimensions of %s and %s cannot be broadcast (%lld vs %lld at "
                             "batch dim %d)", op, TL__SH(a), TL__SH(b), (long long)sa, (long long)sb, i);
        batch[i] = sa == 1 ? sb : sa;
        B *= batch[i];
    }
    /* expand a to batch + [n, k] and b to batch + [k, m] */
    memcpy(ea, batch, sizeof(int64_t) * (size_t)nb);
    memcpy(eb, batch, sizeof(int64_t) * (size_t)nb);
    ea[nb] = n; ea[nb + 1] = k;
    eb[nb] = k; eb[nb + 1] = m;
    ax = a->ndim == 1 ? tl__unsqueeze(op, a, 0) : (((tl_tensor *)a)->refcount++, (tl_tensor *)a);
    bx = b->ndim == 1 ? tl__unsqueeze(op, b, 1) : (((tl_tensor *)b)->refcount++, (tl_tensor *)b);
    if (!ax || !bx) goto done;
    {
        tl_tensor *t1 = tl__expand(op, ax, nb + 2, ea), *t2;
        if (!t1) goto done;
        s3[0] = B; s3[1] = n; s3[2] = k;
        a3 = tl__view(op, t1, 3, s3, 1);
        tl__release(t1);
        t2 = a3 ? tl__expand(op, bx, nb + 2, eb) : NULL;
        if (!t2) goto done;
        s3[1] = k; s3[2] = m;
        b3 = tl__view(op, t2, 3, s3, 1);
        tl__release(t2);
        if (!b3) goto done;
    }
    r3 = tl__bmm(op, a3, b3);
    if (!r3) goto done;
    for (i = 0; i < nb; i++) oshape[onl++] = batch[i];
    if (a->ndim > 1) oshape[onl++] = n;
    if (b->ndim > 1) oshape[onl++] = m;
    r = tl__unview(tl__view(op, r3, onl, oshape, 0));
done:
    tl__release(ax);
    tl__release(bx);
    tl__release(a3);
    tl__release(b3);
    tl__release(r3);
    return r;
}
TLDEF tl_tensor *tl_matmul(const tl_tensor *a, const tl_tensor *b) {
    TL__CHECK2("tl_matmul", a, b);
    return tl__ret(tl__matmul("tl_matmul", a, b));
}

/* ===== >>autograd ============================================================================= */

static tl_status tl__bwd_none(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    (void)n;
    (void)g;
    gin[0] = NULL;
    return TL_OK;
}
#define TL__BWD_ENTRY(id, name, tname, fam) tl__bwd_##fam,
static const tl__bwd_fn tl__bwd_table[] = {TL__OPS(TL__BWD_ENTRY) tl__bwd_none};
#undef TL__BWD_ENTRY

TLDEF tl_status tl_requires_grad_(tl_tensor *t, int requires_grad) {
    TL__CHECK1S("tl_requires_grad_", t);
    if (t->grad_fn) {
        if (requires_grad) return TL_OK;
        return TL__FAIL(TL_ERR_STATE, "tl_requires_grad_: you can only change requires_grad flags of leaf variables "
                        "(%s is the output of %s); use tl_detach for a copy without history", TL__SH(t),
                        tl__op_torch_names[t->grad_fn->op]);
    }
    if (requires_grad && !TL__IS_FLOAT(t->dtype))
        return TL__FAIL(TL_ERR_DTYPE, "tl_requires_grad_: only tensors of floating point dtype can require gradients "
                        "(got %s %s)", TL__DT(t), TL__SH(t));
    t->requires_grad = requires_grad ? 1 : 0;
    return TL_OK;
}
TLDEF int tl_requires_grad(const tl_tensor *t) { return t ? t->requires_grad : 0; }
TLDEF int tl_is_leaf(const tl_tensor *t) { return t ? t->grad_fn == NULL : 0; }
TLDEF tl_tensor *tl_grad(const tl_tensor *t) {
    if (!t || !t->grad) return NULL;
    return tl_retain(t->grad);
}
TLDEF tl_status tl_set_grad(tl_tensor *t, const tl_tensor *g) {
    TL__CHECK1S("tl_set_grad", t);
    if (g && (g->ndim != t->ndim || memcmp(g->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim) ||
              g->dtype != t->dtype))
        return TL__FAIL(TL_ERR_SHAPE, "tl_set_grad: assigned grad %s %s does not match the tensor %s %s",
                        TL__DT(g), TL__SH(g), TL__DT(t), TL__SH(t));
    if (g) ((tl_tensor *)g)->refcount++;
    tl__release(t->grad);
    t->grad = (tl_tensor *)g;
    return TL_OK;
}
TLDEF tl_status tl_retain_grad(tl_tensor *t) {
    TL__CHECK1S("tl_retain_grad", t);
    if (!t->requires_grad)
        return TL__FAIL(TL_ERR_STATE, "tl_retain_grad: can't retain_grad on a tensor that has requires_grad=False (%s)",
                        TL__SH(t));
    if (t->grad_fn) t->retains_grad = 1;
    return TL_OK;
}
TLDEF tl_tensor *tl_detach(const tl_tensor *t) {
    TL__CHECK1("tl_detach", t);
    return tl__ret(tl__alias("tl_detach", t));
}
TLDEF tl_status tl_register_hook(tl_tensor *t, tl_hook_fn fn, void *user) {
    tl__hook *h, **end;
    TL__CHECK1S("tl_register_hook", t);
    if (!fn) return TL__FAIL(TL_ERR_ARG, "tl_register_hook: hook function is NULL (tensor %s)", TL__SH(t));
    if (!t->requires_grad)
        return TL__FAIL(TL_ERR_STATE, "tl_register_hook: cannot register a hook on a tensor that doesn't require "
                        "gradient (%s)", TL__SH(t));
    h = (tl__hook *)tl__malloc(sizeof *h);
    if (!h) return TL__FAIL(TL_ERR_OOM, "tl_register_hook: out of memory");
    h->fn = fn;
    h->user = user;
    h->next = NULL;
    for (end = &t->hooks; *end; end = &(*end)->next) {}
    *end = h;
    return TL_OK;
}
TLDEF const char *tl_grad_fn_name(const tl_tensor *t) {
    if (!t || !t->grad_fn) return NULL;
    return t->grad_fn->tname ? t->grad_fn->tname : tl__op_torch_names[t->grad_fn->op];
}

static void tl__grad_push(int off) {
    tl__tls_state *s = &tl__tls;
    if (s->grad_sp < TL__MAX_SCOPES) s->grad_stack[s->grad_sp] = s->grad_off;
    s->grad_sp++;
    s->grad_off = off;
}
static void tl__grad_pop(const char *op) {
    tl__tls_state *s = &tl__tls;
    if (s->grad_sp == 0) {
        TL__FAIL(TL_ERR_STATE, "%s: no matching begin", op);
        return;
    }
    s->grad_sp--;
    if (s->grad_sp < TL__MAX_SCOPES) s->grad_off = s->grad_stack[s->grad_sp];
}
TLDEF void tl_no_grad_begin(void) { tl__grad_push(1); }
TLDEF void tl_no_grad_end(void) { tl__grad_pop("tl_no_grad_end"); }
TLDEF void tl_enable_grad_begin(void) { tl__grad_push(0); }
TLDEF void tl_enable_grad_end(void) { tl__grad_pop("tl_enable_grad_end"); }
TLDEF int tl_set_grad_enabled(int enabled) {
    int prev = !tl__tls.grad_off;
    tl__tls.grad_off = !enabled;
    return prev;
}
TLDEF int tl_is_grad_enabled(void) { return !tl__tls.grad_off; }

/* ---- the backward engine ---- */

typedef struct tl__bw {
    tl__node **nodes;             /* reachable nodes (each retained while backward runs) */
    int n, cap;
    tl_tensor **leaves;           /* leaves reached, with their summed gradient */
    tl_tensor **leaf_grads;
    int nleaves, leaf_cap;
    int ncap;                     /* autograd.grad: capture these tensors' gradients */
    tl_tensor *const *cap_in;
    tl_tensor **cap_out;
} tl__bw;

/* Grows a pair of parallel pointer arrays (capacity *cap, n used) by doubling. */
static int tl__grow2(void ***a, void ***b, int n, int *cap) {
    int nc = *cap ? *cap * 2 : 32;
    void **na = (void **)tl__malloc(sizeof(void *) * (size_t)nc), **nb = NULL;
    if (na && b) nb = (void **)tl__malloc(sizeof(void *) * (size_t)nc);
    if (!na || (b && !nb)) {
        tl__free(na);
        TL__FAIL(TL_ERR_OOM, "tl_backward: out of memory growing the work list (%d entries)", n);
        return 0;
    }
    if (n) memcpy(na, *a, sizeof(void *) * (size_t)n);
    tl__free(*a);
    *a = na;
    if (b) {
        if (n) memcpy(nb, *b, sizeof(void *) * (size_t)n);
        tl__free(*b);
        *b = nb;
    }
    *cap = nc;
    return 1;
}
static int tl__bw_push(tl__bw *b, tl__node *n) {
    if (b->n == b->cap && !tl__grow2((void ***)&b->nodes, NULL, b->n, &b->cap)) return 0;
    n->refcount++; /* freeing saved inputs during the walk must not free a queued node */
    b->nodes[b->n++] = n;
    return 1;
}
static tl_tensor *tl__node_input(const tl__node *n, int k) { return n->ins ? n->ins[k] : n->in[k]; }
static int tl__node_ninputs(const tl__node *n) { return n->ins ? n->nins : n->nin; }
/* The node input k's gradient flows into (its history when recorded), or NULL for a leaf. */
static tl__node *tl__node_edge(const tl__node *n, int k) { return n->ins ? n->ins_next[k] : n->next[k]; }
static int tl__node_needs(const tl__node *n, int k) {
    return n->ins ? (n->ins_next[k] != NULL || n->ins[k]->requires_grad) : TL__NEED(n, k);
}

/* Every node reachable from the roots, in decreasing creation order (the tape, backwards). */
static int tl__bw_collect(tl__bw *b, int nroots, tl_tensor *const *roots) {
    uint64_t stamp = ++tl__tls.stamp;
    int i, head, k;
    for (i = 0; i < nroots; i++) {
        tl__node *n = roots[i]->grad_fn;
        if (n && n->mark != stamp) {
            n->mark = stamp;
            if (!tl__bw_push(b, n)) return 0;
        }
    }
    for (head = 0; head < b->n; head++) { /* breadth-first over the edges */
        tl__node *n = b->nodes[head];
        for (k = 0; k < tl__node_ninputs(n); k++) {
            tl__node *m = tl__node_edge(n, k);
            if (m && m->mark != stamp) {
                m->mark = stamp;
                if (!tl__bw_push(b, m)) return 0;
            }
        }
    }
    /* sort by seq, largest first (insertion sort: the BFS order is nearly sorted already) */
    for (i = 1; i < b->n; i++) {
        tl__node *x = b->nodes[i];
        int j = i - 1;
        while (j >= 0 && b->nodes[j]->seq < x->seq) {
            b->nodes[j + 1] = b->nodes[j];
            j--;
        }
        b->nodes[j + 1] = x;
    }
    return 1;
}

/* *slot += g (g consumed). The sum is a fresh tensor, so no gradient buffer is ever shared. */
static int tl__acc(tl_tensor **slot, tl_tensor *g) {
    tl_tensor *s;
    if (!*slot) {
        *slot = g;
        return 1;
    }
    s = tl__binary("autograd", TL__OP_ADD, *slot, g, 0, 0, 1);
    tl__release(g);
    if (!s) return 0;
    tl__release(*slot);
    *slot = s;
    return 1;
}
/* Runs t's hooks on g (consumed); returns the gradient to use. */
static tl_tensor *tl__run_hooks(tl_tensor *t, tl_tensor *g) {
    tl__hook *h;
    for (h = t->hooks; h && g; h = h->next) {
        tl_tensor *r;
        int depth = tl__tls.scope_depth;
        tl__tls.scope_depth = 0; /* a hook's result is handed to us, not to a scope */
        r = h->fn(g, h->user);
        tl__tls.scope_depth = depth;
        if (r) {
            tl__release(g);
            g = r;
        }
    }
    return g;
}
static int tl__capture_index(const tl__bw *b, const tl_tensor *t) {
    int i;
    for (i = 0; i < b->ncap; i++)
        if (b->cap_in[i] == t) return i;
    return -1;
}
/* Adds g (consumed) into every capture slot of t (an input may be listed more than once). */
static int tl__capture(tl__bw *b, const tl_tensor *t, tl_tensor *g) {
    int i, ok = 1, first = tl__capture_index(b, t);
    for (i = first + 1; i < b->ncap && ok; i++)
        if (b->cap_in[i] == t) {
            g->refcount++;
            ok = tl__acc(&b->cap_out[i], g);
        }
    if (!ok) {
        tl__release(g);
        return 0;
    }
    return tl__acc(&b->cap_out[first], g);
}
/* Sums a leaf's incoming gradients; hooks and .grad see the total once, at the end. */
static int tl__leaf_acc(tl__bw *b, tl_tensor *t, tl_tensor *g) {
    int i;
    for (i = 0; i < b->nleaves; i++)
        if (b->leaves[i] == t) return tl__acc(&b->leaf_grads[i], g);
    if (b->nleaves == b->leaf_cap &&
        !tl__grow2((void ***)&b->leaves, (void ***)&b->leaf_grads, b->nleaves, &b->leaf_cap)) {
        tl__release(g);
        return 0;
    }
    b->leaves[b->nleaves] = t;
    b->leaf_grads[b->nleaves++] = g;
    return 1;
}
/* Hands each leaf its summed gradient: hooks, then a capture slot (autograd.grad) or .grad. */
static int tl__leaf_flush(tl__bw *b, int ok) {
    int i;
    for (i = 0; i < b->nleaves; i++) {
        tl_tensor *t = b->leaves[i], *g = b->leaf_grads[i];
        int ci;
        b->leaf_grads[i] = NULL;
        if (!ok || !g) {
            tl__release(g);
            continue;
        }
        g = tl__run_hooks(t, g);
        ci = tl__capture_index(b, t);
        if (ci >= 0) {
            ok = tl__capture(b, t, g);
        } else if (b->ncap > 0) {
            tl__release(g);
        } else if (!t->grad) { /* .grad must be a fresh contiguous tensor the user may update in place */
            if (g->refcount == 1 && g->storage->refcount == 1 && tl_is_contiguous(g) && g->offset == 0 &&
                !g->grad_fn && g->dtype == t->dtype) {
                t->grad = g;
            } else {
                t->grad = tl__copy_as("tl_backward", g, t->dtype);
                tl__release(g);
                ok = t->grad != NULL;
            }
        } else {
            ok = tl__binary_("tl_backward", TL__OP_ADD, t->grad, g, 0, 0, 1) == TL_OK;
            tl__release(g);
        }
    }
    tl__free(b->leaves);
    tl__free(b->leaf_grads);
    return ok;
}
static int tl__check_versions(const tl__node *n) {
    int k;
    for (k = 0; k < n->nin; k++) {
        if (!(n->in_saved & (1 << k)) || !n->in[k]) continue;
        if (n->in[k]->storage->version != n->in_ver[k]) {
            TL__FAIL(TL_ERR_STATE, "tl_backward: one of the variables needed for gradient computation has been modified "
                     "by an inplace operation: [%s %s], which is input %d of %s, is at version %u; expected version "
                     "%u instead", TL__DT(n->in[k]), TL__SH(n->in[k]), k,
                     n->tname ? n->tname : tl__op_torch_names[n->op], n->in[k]->storage->version, n->in_ver[k]);
            return 0;
        }
    }
    if (n->out && n->out->storage->version != n->out_ver) {
        TL__FAIL(TL_ERR_STATE, "tl_backward: one of the variables needed for gradient computation has been modified "
                 "by an inplace operation: [%s %s], which is output 0 of %s, is at version %u; expected version %u "
                 "instead", TL__DT(n->out), TL__SH(n->out), n->tname ? n->tname : tl__op_torch_names[n->op],
                 n->out->storage->version, n->out_ver);
        return 0;
    }
    return 1;
}
/* After backward (without retain_graph) a node that saved tensors frees them, as torch does; a
   node that saved nothing stays usable for another backward. */
static void tl__node_free_saved(tl__node *n) {
    int k;
    if (!n->in_saved && !n->out && !n->aux && !n->ins) {
        /* nothing saved: keep the node replayable, but drop non-leaf inputs (backward only needs
           their shapes), so intermediates die with the graph as in torch */
        for (k = 0; k < n->nin; k++) {
            tl_tensor *t = n->in[k];
            if (!t || (TL__NEED(n, k) && !n->next[k])) continue; /* leaves stay: they receive .grad */
            n->meta[k].ndim = t->ndim;
            n->meta[k].dtype = t->dtype;
            memcpy(n->meta[k].shape, t->shape, sizeof t->shape);
            n->ghost |= 1 << k;
            n->in[k] = NULL;
            tl__release(t);
        }
        return;
    }
    for (k = 0; k < n->nin; k++) {
        tl__release(n->in[k]);
        n->in[k] = NULL;
        tl__node_release(n->next[k]);
        n->next[k] = NULL;
    }
    for (k = 0; k < n->nins; k++) {
        tl__release(n->ins[k]);
        tl__node_release(n->ins_next[k]);
    }
    tl__free(n->ins);
    tl__free(n->ins_next);
    n->ins = NULL;
    n->ins_next = NULL;
    n->nins = 0;
    tl__release(n->out);
    tl__release(n->aux);
    n->out = n->aux = NULL;
    n->released = 1;
}

static tl_status tl__run_backward(const char *op, int nroots, tl_tensor *const *roots,
                                  tl_tensor *const *grads, int retain, tl__bw *b) {
    int i, k, ok = 1, saved_off = tl__tls.grad_off;
    tl_tensor *gin_local[TL__NODE_IN], **gin = gin_local;
    int gin_cap = TL__NODE_IN;
    for (i = 0; i < nroots; i++) {
        tl_tensor *r = roots[i];
        const tl_tensor *gr = grads ? grads[i] : NULL;
        if (tl__null_in(op, r)) return tl__tls.status;
        if (!r->requires_grad)
            return TL__FAIL(TL_ERR_STATE, "%s: element %d of tensors does not require grad and does not have a "
                            "grad_fn (%s %s)", op, i, TL__DT(r), TL__SH(r));
        if (!gr && tl_numel(r) != 1)
            return TL__FAIL(TL_ERR_SHAPE, "%s: grad can be implicitly created only for scalar outputs (output %d has "
                            "shape %s)", op, i, TL__SH(r));
        if (gr && (gr->ndim != r->ndim || memcmp(gr->shape, r->shape, sizeof(int64_t) * (size_t)r->ndim)))
            return TL__FAIL(TL_ERR_SHAPE, "%s: mismatch in shape: grad_output[%d] has a shape of %s and output[%d] "
                            "has a shape of %s", op, i, TL__SH(gr), i, TL__SH(r));
        if (r->grad_fn && r->grad_fn->released)
            return TL__FAIL(TL_ERR_STATE, "%s: trying to backward through the graph a second time (or directly access "
                            "saved tensors after they have already been freed); pass retain_graph=1 to "
                            "tl_backward_ex the first time (output %s of %s)", op, TL__SH(r),
                            tl_grad_fn_name(r));
    }
    if (!tl__bw_collect(b, nroots, roots)) ok = 0;
    tl__tls.grad_off = 1; /* backward itself is never recorded */
    for (i = 0; i < nroots && ok; i++) { /* seed each root */
        tl_tensor *seed = grads && grads[i] ? tl__copy_as(op, grads[i], roots[i]->dtype)
                                            : tl__full(op, roots[i]->ndim, roots[i]->shape, 1, roots[i]->dtype);
        if (!seed) ok = 0;
        else if (roots[i]->grad_fn) ok = tl__acc(&roots[i]->grad_fn->grad, seed);
        else ok = tl__leaf_acc(b, roots[i], seed);
    }
    for (i = 0; i < b->n && ok; i++) {
        tl__node *n = b->nodes[i];
        tl_tensor *g = n->grad;
        int nins = tl__node_ninputs(n);
        n->grad = NULL;
        if (!g) continue;
        if (n->released) {
            TL__FAIL(TL_ERR_STATE, "%s: trying to backward through the graph a second time (or directly access saved "
                     "tensors after they have already been freed); pass retain_graph=1 to tl_backward_ex the first "
                     "time (at %s)", op, n->tname ? n->tname : tl__op_torch_names[n->op]);
            tl__release(g);
            ok = 0;
            break;
        }
        if (n->out_weak) { /* hooks, retain_grad and autograd.grad captures of a non-leaf */
            int ci;
            tl_tensor *t = n->out_weak;
            g = tl__run_hooks(t, g);
            if (t->retains_grad && b->ncap == 0) {
                tl_tensor *c = tl__copy_as(op, g, t->dtype);
                ok = c != NULL;
                if (c && t->grad) {
                    tl_tensor *sum = tl__binary(op, TL__OP_ADD, t->grad, c, 0, 0, 1);
                    tl__release(c);
                    c = sum;
                    ok = sum != NULL;
                }
                if (c) {
                    tl__release(t->grad);
                    t->grad = c;
                }
            }
            ci = tl__capture_index(b, t);
            if (ci >= 0 && ok) {
                g->refcount++;
                ok = tl__capture(b, t, g);
            }
        }
        if (ok && !tl__check_versions(n)) ok = 0;
        if (ok && nins > gin_cap) {
            if (gin != gin_local) tl__free(gin);
            gin = (tl_tensor **)tl__malloc(sizeof(tl_tensor *) * (size_t)nins);
            gin_cap = gin ? nins : 0;
            if (!gin) {
                gin = gin_local;
                gin_cap = TL__NODE_IN;
                TL__FAIL(TL_ERR_OOM, "%s: out of memory", op);
                ok = 0;
            }
        }
        if (ok) {
            tl_tensor ghosts[TL__NODE_IN]; /* shape-only stand-ins for inputs dropped by a previous backward */
            for (k = 0; k < nins; k++) gin[k] = NULL;
            for (k = 0; k < TL__NODE_IN && n->ghost; k++) {
                if (!(n->ghost & (1 << k))) continue;
                memset(&ghosts[k], 0, sizeof ghosts[k]);
                ghosts[k].ndim = n->meta[k].ndim;
                ghosts[k].dtype = n->meta[k].dtype;
                memcpy(ghosts[k].shape, n->meta[k].shape, sizeof ghosts[k].shape);
                n->in[k] = &ghosts[k];
            }
            ok = tl__bwd_table[n->op](n, g, gin) == TL_OK;
            for (k = 0; k < TL__NODE_IN && n->ghost; k++)
                if (n->ghost & (1 << k)) n->in[k] = NULL;
            for (k = 0; k < nins; k++) {
                tl__node *edge = tl__node_edge(n, k);
                if (!ok || !gin[k] || !tl__node_needs(n, k)) tl__release(gin[k]);
                else if (edge) ok = tl__acc(&edge->grad, gin[k]);
                else ok = tl__leaf_acc(b, tl__node_input(n, k), gin[k]);
            }
        }
        tl__release(g);
        if (!retain) tl__node_free_saved(n);
    }
    ok = tl__leaf_flush(b, ok);
    for (i = 0; i < b->n; i++) { /* drop what an error left pending, and our references */
        tl__release(b->nodes[i]->grad);
        b->nodes[i]->grad = NULL;
        tl__node_release(b->nodes[i]);
    }
    if (gin != gin_local) tl__free(gin);
    tl__free(b->nodes);
    tl__tls.grad_off = saved_off;
    return ok ? TL_OK : (tl__tls.status ? tl__tls.status : TL_ERR_STATE);
}

TLDEF tl_status tl_backward_ex(tl_tensor *out, const tl_tensor *gradient, int retain_graph) {
    tl__bw b;
    TL__CHECK1S("tl_backward", out);
    memset(&b, 0, sizeof b);
    return tl__run_backward("tl_backward", 1, &out, gradient ? (tl_tensor *const *)&gradient : NULL, retain_graph, &b);
}
TLDEF tl_status tl_backward(tl_tensor *loss) { return tl_backward_ex(loss, NULL, 0); }

TLDEF tl_status tl_autograd_grad(int nout, tl_tensor *const *outputs, int nin, tl_tensor *const *inputs,
                                 tl_tensor *const *grad_outputs, int retain_graph, tl_tensor **grads_out) {
    tl__bw b;
    tl_status st;
    int i;
    if (nout <= 0 || nin <= 0 || !outputs || !inputs || !grads_out)
        return TL__FAIL(TL_ERR_ARG, "tl_autograd_grad: need at least one output and one input (got %d and %d)", nout,
                        nin);
    for (i = 0; i < nin; i++) {
        grads_out[i] = NULL;
        if (tl__null_in("tl_autograd_grad", inputs[i])) return tl__tls.status;
        if (!inputs[i]->requires_grad)
            return TL__FAIL(TL_ERR_STATE, "tl_autograd_grad: one of the differentiated tensors (input %d, %s) does not "
                            "require grad", i, TL__SH(inputs[i]));
    }
    memset(&b, 0, sizeof b);
    b.ncap = nin;
    b.cap_in = inputs;
    b.cap_out = grads_out;
    st = tl__run_backward("tl_autograd_grad", nout, outputs, grad_outputs, retain_graph, &b);
    for (i = 0; i < nin && st == TL_OK; i++)
        if (!grads_out[i])
            st = TL__FAIL(TL_ERR_STATE, "tl_autograd_grad: one of the differentiated tensors (input %d, %s) appears to "
                          "not have been used in the graph", i, TL__SH(inputs[i]));
    for (i = 0; i < nin; i++) {
        if (st != TL_OK) {
            tl__release(grads_out[i]);
            grads_out[i] = NULL;
        } else {
            grads_out[i] = tl__ret(grads_out[i]);
        }
    }
    return st;
}

/* ===== >>debug ================================================================================ */

/* Growable string; oom is sticky. */
typedef struct tl__sb { char *p; size_t n, cap; int oom; } tl__sb;
static void tl__sb_put(tl__sb *s, const char *str, size_t len) {
    if (s->oom) return;
    if (s->n + len + 1 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        char *np;
        while (cap < s->n + len + 1) cap *= 2;
        np = (char *)tl__malloc(cap);
        if (!np) {
            s->oom = 1;
            return;
        }
        if (s->p) memcpy(np, s->p, s->n);
        tl__free(s->p);
        s->p = np;
        s->cap = cap;
    }
    memcpy(s->p + s->n, str, len);
    s->n += len;
    s->p[s->n] = 0;
}
static void tl__sb_str(tl__sb *s, const char *str) { tl__sb_put(s, str, strlen(str)); }
static void tl__sb_rep(tl__sb *s, char c, int n) {
    while (n-- > 0) tl__sb_put(s, &c, 1);
}

/* torch's print options: precision 4, threshold 1000, edgeitems 3, linewidth 80. */
#define TL__PR_EDGE 3
#define TL__PR_WIDTH 80

/* torch's _Formatter state. */
typedef struct tl__fmt {
    int is_float, int_mode, sci_mode, max_width;
    double nz_min, nz_max;
    int has_nz, not_int;
} tl__fmt;

static double tl__pr_getd(const tl_tensor *t, int64_t off) {
    double v = 0;
    tl__load(&v, TL__CT_F64, (const char *)t->storage->data + (size_t)off * tl__dtype_sizes[t->dtype], t->dtype, 0, 1);
    return v;
}
static int64_t tl__pr_geti(const tl_tensor *t, int64_t off) {
    int64_t v = 0;
    tl__load(&v, TL__CT_I64, (const char *)t->storage->data + (size_t)off * tl__dtype_sizes[t->dtype], t->dtype, 0, 1);
    return v;
}
/* One element as Python's str()/format() would write it, before padding. */
static int tl__pr_elem(const tl_tensor *t, const tl__fmt *f, int64_t off, char *b, size_t cap) {
    if (!f->is_float) {
        if (t->dtype == TL_BOOL) return snprintf(b, cap, "%s", tl__pr_geti(t, off) ? "True" : "False");
        return snprintf(b, cap, "%lld", (long long)tl__pr_geti(t, off));
    }
    {
        double v = tl__pr_getd(t, off);
        if (v != v) return snprintf(b, cap, "nan");
        if (f->sci_mode) return snprintf(b, cap, "%.4e", v);
        if (f->int_mode) return snprintf(b, cap, isinf(v) ? "%.0f" : "%.0f.", v);
        return snprintf(b, cap, "%.4f", v);
    }
}
/* Visits the offsets of the elements that will be printed (all, or the summarised edges). */
static void tl__pr_scan(const tl_tensor *t, tl__fmt *f, int level, int64_t off, int summarize) {
    int64_t i, n;
    if (level == t->ndim) {
        char b[64];
        if (!f->is_float) {
            int len = tl__pr_elem(t, f, off, b, sizeof b);
            if (len > f->max_width) f->max_width = len;
        } else {
            double v = tl__pr_getd(t, off), a = fabs(v);
            if (v == v && !isinf(v) && v != 0) {
                if (!f->has_nz || a < f->nz_min) f->nz_min = a;
                if (!f->has_nz || a > f->nz_max) f->nz_max = a;
                f->has_nz = 1;
                if (v != ceil(v)) f->not_int = 1;
            }
        }
        return;
    }
    n = t->shape[level];
    for (i = 0; i < n; i++) {
        if (summarize && n > 2 * TL__PR_EDGE && i == TL__PR_EDGE) i = n - TL__PR_EDGE;
        tl__pr_scan(t, f, level + 1, off + i * t->stride[level], summarize);
    }
}
/* Second pass for floats: widths of the nonzero finite printed values in the chosen mode. */
static void tl__pr_widths(const tl_tensor *t, tl__fmt *f, int level, int64_t off, int summarize) {
    int64_t i, n;
    if (level == t->ndim) {
        double v = tl__pr_getd(t, off);
        char b[64];
        int len;
        if (!(v == v && !isinf(v) && v != 0)) return;
        if (f->sci_mode) len = snprintf(b, sizeof b, "%.4e", v);
        else if (f->int_mode) len = snprintf(b, sizeof b, "%.0f", v) + 1;
        else len = snprintf(b, sizeof b, "%.4f", v);
        if (len > f->max_width) f->max_width = len;
        return;
    }
    n = t->shape[level];
    for (i = 0; i < n; i++) {
        if (summarize && n > 2 * TL__PR_EDGE && i == TL__PR_EDGE) i = n - TL__PR_EDGE;
        tl__pr_widths(t, f, level + 1, off + i * t->stride[level], summarize);
    }
}
static void tl__pr_value(tl__sb *s, const tl_tensor *t, const tl__fmt *f, int64_t off) {
    char b[64];
    int len = tl__pr_elem(t, f, off, b, sizeof b);
    tl__sb_rep(s, ' ', f->max_width - len);
    tl__sb_put(s, b, (size_t)len);
}
static void tl__pr_rec(tl__sb *s, const tl_tensor *t, const tl__fmt *f, int level, int64_t off, int indent,
                       int summarize) {
    int64_t i, n;
    int dim = t->ndim - level;
    if (dim == 0) {
        tl__pr_value(s, t, f, off);
        return;
    }
    n = t->shape[level];
    tl__sb_put(s, "[", 1);
    if (dim == 1) {
        int per_line = (TL__PR_WIDTH - indent) / (f->max_width + 2), col = 0;
        if (per_line < 1) per_line = 1;
        for (i = 0; i < n; i++) {
            int dots = summarize && n > 2 * TL__PR_EDGE && i == TL__PR_EDGE;
            if (col == per_line) {
                tl__sb_str(s, ",\n");
                tl__sb_rep(s, ' ', indent + 1);
                col = 0;
            } else if (i > 0) {
                tl__sb_str(s, ", ");
            }
            if (dots) {
                tl__sb_str(s, " ...");
                i = n - TL__PR_EDGE - 1;
            } else {
                tl__pr_value(s, t, f, off + i * t->stride[level]);
            }
            col++;
        }
    } else {
        for (i = 0; i < n; i++) {
            if (i > 0) {
                tl__sb_put(s, ",", 1);
                tl__sb_rep(s, '\n', dim - 1);
                tl__sb_rep(s, ' ', indent + 1);
            }
            if (summarize && n > 2 * TL__PR_EDGE && i == TL__PR_EDGE) {
                tl__sb_str(s, "...");
                i = n - TL__PR_EDGE - 1;
                continue;
            }
            tl__pr_rec(s, t, f, level + 1, off + i * t->stride[level], indent + 1, summarize);
        }
    }
    tl__sb_put(s, "]", 1);
}

/* torch's _str_intern for a plain CPU tensor. */
static int tl__to_string(const tl_tensor *t, tl__sb *s) {
    const char *suffix[3];
    char sizebuf[200], dtbuf[40], gfbuf[64];
    int ns = 0, i, indent = 7;
    int64_t numel = tl_numel(t);
    tl__sb_str(s, "tensor(");
    if (t->dtype != TL_F32 && !(numel > 0 && (t->dtype == TL_I64 || t->dtype == TL_BOOL))) {
        snprintf(dtbuf, sizeof dtbuf, "dtype=torch.%s", tl__dtype_names[t->dtype]);
    }
    if (numel == 0) {
        if (t->ndim != 1) {
            size_t n = 0;
            n += (size_t)snprintf(sizebuf + n, sizeof sizebuf - n, "size=(");
            for (i = 0; i < t->ndim; i++)
                n += (size_t)snprintf(sizebuf + n, sizeof sizebuf - n, i ? ", %lld" : "%lld", (long long)t->shape[i]);
            snprintf(sizebuf + n, sizeof sizebuf - n, t->ndim == 1 ? ",)" : ")");
            suffix[ns++] = sizebuf;
        }
        if (t->dtype != TL_F32) suffix[ns++] = dtbuf;
        tl__sb_str(s, "[]");
    } else {
        tl__fmt f;
        int summarize = numel > 1000;
        if (t->dtype != TL_F32 && t->dtype != TL_I64 && t->dtype != TL_BOOL) suffix[ns++] = dtbuf;
        memset(&f, 0, sizeof f);
        f.is_float = TL__IS_FLOAT(t->dtype);
        f.int_mode = 1;
        f.max_width = 1;
        tl__pr_scan(t, &f, 0, t->offset, summarize);
        if (f.is_float && f.has_nz) {
            f.int_mode = !f.not_int;
            if (f.int_mode) f.sci_mode = f.nz_max / f.nz_min > 1000.0 || f.nz_max > 1.0e8;
            else f.sci_mode = f.nz_max / f.nz_min > 1000.0 || f.nz_max > 1.0e8 || f.nz_min < 1.0e-4;
            tl__pr_widths(t, &f, 0, t->offset, summarize);
        }
        tl__pr_rec(s, t, &f, 0, t->offset, indent, summarize);
    }
    if (t->grad_fn) {
        snprintf(gfbuf, sizeof gfbuf, "grad_fn=<%s>", tl_grad_fn_name(t));
        suffix[ns++] = gfbuf;
    } else if (t->requires_grad) {
        suffix[ns++] = "requires_grad=True";
    }
    /* torch's _add_suffixes: wrap a suffix onto a new line when the line would pass 80 columns */
    {
        long len = (long)s->n, nl = -1, last_line;
        for (i = 0; i < (int)len && s->p; i++)
            if (s->p[i] == '\n') nl = i;
        last_line = len - nl + 1;
        for (i = 0; i < ns; i++) {
            long sl = (long)strlen(suffix[i]);
            if (last_line + sl + 2 > TL__PR_WIDTH) {
                tl__sb_str(s, ",\n");
                tl__sb_rep(s, ' ', indent);
                last_line = indent + sl;
            } else {
                tl__sb_str(s, ", ");
                last_line += sl + 2;
            }
            tl__sb_str(s, suffix[i]);
        }
    }
    tl__sb_put(s, ")", 1);
    return s->oom ? 0 : 1;
}

TLDEF int tl_to_string(const tl_tensor *t, char *buf, size_t cap) {
    tl__sb s;
    int n;
    TL__CHECK1S("tl_to_string", t);
    memset(&s, 0, sizeof s);
    if (!tl__to_string(t, &s)) {
        tl__free(s.p);
        return TL__FAIL(TL_ERR_OOM, "tl_to_string: out of memory formatting %s", TL__SH(t));
    }
    if (buf && cap > 0) {
        size_t c = s.n < cap - 1 ? s.n : cap - 1;
        memcpy(buf, s.p, c);
        buf[c] = 0;
    }
    n = (int)s.n;
    tl__free(s.p);
    return n;
}
#ifndef TL_NO_STDIO
TLDEF tl_status tl_fprint(FILE *f, const tl_tensor *t) {
    tl__sb s;
    TL__CHECK2S("tl_fprint", f, t);
    memset(&s, 0, sizeof s);
    if (!tl__to_string(t, &s)) {
        tl__free(s.p);
        return TL__FAIL(TL_ERR_OOM, "tl_fprint: out of memory formatting %s", TL__SH(t));
    }
    fputs(s.p, f);
    fputc('\n', f);
    tl__free(s.p);
    return TL_OK;
}
TLDEF tl_status tl_print(const tl_tensor *t) { return tl_fprint(stdout, t); }
#endif

#endif /* TL_IMPLEMENTATION_INCLUDED */
#endif /* TL_IMPLEMENTATION */

/*
   VERSION HISTORY
   ===============
       0.1.0  (2026-11-22) tensor core: storage, views, broadcasting ops, reductions, matmul, printing

   LICENSE
   =======
   MIT License

   Copyright (c) 2026 the tensorlite authors

   Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
   associated documentation files (the "Software"), to deal in the Software without restriction,
   including without limitation the rights to use, copy, modify, merge, publish, distribute,
   sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
   furnished to do so, subject to the following conditions:

   The above copyright notice and this permission notice shall be included in all copies or
   substantial portions of the Software.

   THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
   NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
   NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
   DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
   OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
*/
