/* tensorlite.h - v0.2.0 - PyTorch's training workflow in one C header - license at end of file

   QUICK START
   ===========
   Put this in exactly ONE .c file (or compile the shipped tensorlite.c):

       #define TL_IMPLEMENTATION
       #include "tensorlite.h"

   Every other file just includes "tensorlite.h". Never put the define in a shared header.

       tl_manual_seed(0);                                  // same weights as torch.manual_seed(0)
       tl_module *net = tl_nn_sequential(3, (tl_module *[]){
           tl_nn_linear(1, 32, 1), tl_nn_tanh(), tl_nn_linear(32, 1, 1)});
       tl_sgd_desc sgd = tl_sgd_desc_default();
       sgd.lr = 0.05;
       tl_optim *opt = tl_optim_sgd(tl_parameters(net), &sgd); // optim.SGD(net.parameters(), lr=0.05)
       for (int step = 0; step < 2000; step++) {
           tl_scope s = tl_scope_begin();                  // the step's temporaries die at its end
           tl_tensor *loss = tl_mse_loss(tl_module_forward(net, x), y, TL_REDUCTION_MEAN);
           tl_optim_zero_grad(opt);
           if (tl_backward(loss) != TL_OK) fprintf(stderr, "%s\n", tl_last_error());
           tl_optim_step(opt);                             // p -= lr * p.grad
           tl_scope_end(s);
       }
       tl_optim_free(opt);

   (examples/00_quickstart.c is this loop as a whole program; it prints PyTorch's losses.)

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
       >>linalg     matmul/mm/mv/bmm/dot/outer (the packed GEMM and its thread pool: >>gemm, >>pool)
       >>functional linear, conv1d/conv2d/conv_transpose2d, 1-D/2-D pools, norms, losses (cross_entropy, nll, ...)
       >>autograd   requires_grad, backward, grad, no_grad, detach, autograd_grad, hooks
       >>serialize  tl_value trees, torch.save-compatible tl_save, safe tl_load (torch 1.6-2.x files)
       >>random     tl_manual_seed, rand/randn/randint/randperm/bernoulli/multinomial: torch's streams
       >>modules    nn.Module registry, state_dict, repr, Sequential, Linear, Conv1d/2d, norms, LSTM/GRU, MHA, nn.init
       >>optim      SGD/Adam/AdamW/RMSprop/Adagrad, param groups, state_dict, LR schedulers, clip_grad
       >>data       Dataset/TensorDataset/Subset/random_split, samplers, DataLoader (workers, resumable), IDX/.npy/.npz/CSV
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
       TL_DEBUG              1 (the default unless NDEBUG): refuse releases of references you do not own
       TL_NO_CACHE           no storage/header/node caches (every tensor is malloc'd and freed)
       TL_NO_THREADS         no threads (GEMM pool and DataLoader workers run inline)
       TL_USE_CBLAS          GEMM through the system BLAS's cblas_sgemm/cblas_dgemm (link -lblas or
                             -lopenblas); results then depend on that BLAS and its threads
   Environment: TL_SIMD=portable (no SIMD GEMM kernel), TL_NUM_THREADS=n (GEMM/conv threads).
       TL_LOAD_MAX_OBJECTS   default of tl_load_opts.max_objects (pickle objects, 4M)
       TL_LOAD_MAX_DEPTH     default of tl_load_opts.max_depth (container nesting, 200)
       TL_LOAD_MAX_INFLATED  default of tl_load_opts.max_inflated_bytes (256 MiB)
       TL_LOAD_MAX_STRINGS   default of tl_load_opts.max_string_bytes (16 MiB)
       TL_DATA_MAX_MB        largest decompressed stream or tensor one data reader makes (default 16384)

   OWNERSHIP RULES
   ===============
   Every function that returns a tl_tensor* returns a NEW reference, views and tl_retain included.
   Between tl_scope_begin() and tl_scope_end() new references belong to the innermost scope and are
   released when it ends; tl_keep(t) hands one to the enclosing scope (or to the caller when no scope
   is left). Outside any scope the caller owns the result and calls tl_release (which accepts NULL).
   Views share their base's refcounted storage: releasing the base never invalidates a view.
   In-place ops (names ending in _) return a tl_status and create no reference.
   Borrowed results (never release them): tl_shape/tl_stride arrays, tl_module_child/tl_module_at
   modules, tl_value_get/_item/_key values, the tensors of a tl_named_tensors list. Releasing a
   reference you do not own (a scope's) or releasing twice is an error at the tl_release call.

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
   DataLoader workers (>>data) run dataset callbacks on their own threads: see the rules there.

   RECENT CHANGES
   ==============
       0.2.0  autograd, nn modules + nn.init, functional layers and losses, torch.save-compatible
              checkpoints with a safe loader, PyTorch's CPU random streams
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
#define TL_VERSION_MINOR 2
#define TL_VERSION_PATCH 0
#define TL_VERSION_STRING "0.2.0"

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
    TL_ERR_INDEX = -8,  /* an index value outside its dimension */
    TL_EPOCH_END = 1    /* not an error: tl_loader_next has no more batches this epoch */
} tl_status;

typedef struct tl_tensor tl_tensor;   /* opaque: use the accessors below */
typedef struct tl_storage tl_storage; /* opaque: refcounted bytes shared by views */

/* Shape literal: tl_zeros(TL_SHAPE(2, 3), TL_F32) passes ndim and the sizes. In C it is a compound
   literal; in C++11 (where those are not ISO) a temporary that lives to the end of the full
   expression, so it works the same way, but its arguments are evaluated twice there. */
#ifndef __cplusplus
#define TL_SHAPE(...) \
    (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}
/* A list literal of ints (dims for permute, sum_dims, ...): same expansion as TL_SHAPE. */
#define TL_DIMS(...) \
    (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)), (const int[]){__VA_ARGS__}
#else
#define TL_SHAPE(...) tl_cpp_shape({__VA_ARGS__}).n, tl_cpp_shape({__VA_ARGS__}).v
#define TL_DIMS(...) tl_cpp_dims({__VA_ARGS__}).n, tl_cpp_dims({__VA_ARGS__}).v
#endif

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
/* Threads that GEMM (matmul, linear, conv) may use: default 1, or env TL_NUM_THREADS. Results are
   bit-identical for every count (work is split over output blocks only). With TL_NO_THREADS the
   setting is kept but the work runs on the calling thread. */
TLDEF void tl_set_num_threads(int n);
TLDEF int tl_get_num_threads(void);

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
/* Drops one reference the caller owns (one returned outside any scope, or tl_keep'd out of the
   outermost one); NULL-safe. A second release of the same reference, or (TL_DEBUG builds) of one a
   scope, container or module owns, is refused with TL_ERR_STATE naming the tensor and its maker. */
TLDEF void tl_release(tl_tensor *t);

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
/* t.scatter(dim, index, src) / t.scatter(dim, index, value) / t.scatter_add(dim, index, src):
   a copy of t with out[..., index[p], ...] (dim replaced) = src[p] or value, or += src[p]; index
   int64 with t's number of dims, no larger than src, and than t outside dim; src of t's dtype. */
TLDEF tl_tensor *tl_scatter(const tl_tensor *t, int dim, const tl_tensor *index, const tl_tensor *src);
TLDEF tl_tensor *tl_scatter_value(const tl_tensor *t, int dim, const tl_tensor *index, double value);
TLDEF tl_tensor *tl_scatter_add(const tl_tensor *t, int dim, const tl_tensor *index, const tl_tensor *src);
/* t.index_add(dim, index, source, alpha=alpha): index 1-D int64/int32 of source.size(dim) entries. */
TLDEF tl_tensor *tl_index_add(const tl_tensor *t, int dim, const tl_tensor *index, const tl_tensor *source,
                              double alpha);

/* Rearranging copies (recorded for autograd). torch.flip(t, dims); torch.roll(t, shifts, dims):
   ndims 0 rolls the flattened tensor by shifts[0]. */
TLDEF tl_tensor *tl_flip(const tl_tensor *t, int ndims, const int *dims);
TLDEF tl_tensor *tl_roll(const tl_tensor *t, int nshifts, const int64_t *shifts, int ndims, const int *dims);
/* t.repeat(sizes) (n >= ndim; leading new dims) and torch.tile(t, sizes) (fewer sizes pad with 1s). */
TLDEF tl_tensor *tl_repeat(const tl_tensor *t, int n, const int64_t *sizes);
TLDEF tl_tensor *tl_tile(const tl_tensor *t, int n, const int64_t *sizes);
/* torch.tril / torch.triu over the last two dims; diagonal 0 is the main one, > 0 above it. */
TLDEF tl_tensor *tl_tril(const tl_tensor *t, int64_t diagonal);
TLDEF tl_tensor *tl_triu(const tl_tensor *t, int64_t diagonal);
/* t.new_full(shape, v) / t.new_zeros(shape) / t.new_ones(shape): t's dtype, the given shape. */
TLDEF tl_tensor *tl_new_full(const tl_tensor *t, int ndim, const int64_t *shape, double value);
TLDEF tl_tensor *tl_new_zeros(const tl_tensor *t, int ndim, const int64_t *shape);
TLDEF tl_tensor *tl_new_ones(const tl_tensor *t, int ndim, const int64_t *shape);

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

/* Rounding (integers keep their dtype; the gradient is zero): round is half to even, like torch. */
TLDEF tl_tensor *tl_floor(const tl_tensor *t);
TLDEF tl_tensor *tl_ceil(const tl_tensor *t);
TLDEF tl_tensor *tl_round(const tl_tensor *t);
TLDEF tl_tensor *tl_trunc(const tl_tensor *t);
/* torch.remainder (result has the divisor's sign, Python's %) and torch.fmod (the dividend's, C's
   fmod); an integer division by zero is an error. */
TLDEF tl_tensor *tl_remainder(const tl_tensor *a, const tl_tensor *b);
TLDEF tl_tensor *tl_remainder_scalar(const tl_tensor *a, double s);
TLDEF tl_tensor *tl_fmod(const tl_tensor *a, const tl_tensor *b);
TLDEF tl_tensor *tl_fmod_scalar(const tl_tensor *a, double s);
/* Bool masks of NaN, +-inf, and neither (integers: never NaN or inf). */
TLDEF tl_tensor *tl_isnan(const tl_tensor *t);
TLDEF tl_tensor *tl_isinf(const tl_tensor *t);
TLDEF tl_tensor *tl_isfinite(const tl_tensor *t);
/* torch.nan_to_num(t, nan, posinf, neginf): posinf INFINITY / neginf -INFINITY mean torch's None
   (the dtype's largest / lowest finite value). */
TLDEF tl_tensor *tl_nan_to_num(const tl_tensor *t, double nan, double posinf, double neginf);
/* torch.clamp(t, min, max) with broadcast tensor bounds; either (not both) may be NULL. */
TLDEF tl_tensor *tl_clamp_tensor(const tl_tensor *t, const tl_tensor *min, const tl_tensor *max);
/* torch.addcmul / addcdiv: t + value * t1 * t2, t + value * t1 / t2 (broadcast, promoted). */
TLDEF tl_tensor *tl_addcmul(const tl_tensor *t, const tl_tensor *t1, const tl_tensor *t2, double value);
TLDEF tl_tensor *tl_addcdiv(const tl_tensor *t, const tl_tensor *t1, const tl_tensor *t2, double value);
/* torch.lerp(start, end, weight): start + weight * (end - start); one floating dtype for all. */
TLDEF tl_tensor *tl_lerp(const tl_tensor *start, const tl_tensor *end, double weight);
TLDEF tl_tensor *tl_lerp_tensor(const tl_tensor *start, const tl_tensor *end, const tl_tensor *weight);
/* torch.isclose (bool, broadcast) and torch.allclose: |a - b| <= atol + rtol * |b| (torch's
   defaults rtol 1e-5, atol 1e-8); same dtype required. allclose and torch.equal (same shape, equal
   values) return 1 or 0, or a negative tl_status on error. */
TLDEF tl_tensor *tl_isclose(const tl_tensor *a, const tl_tensor *b, double rtol, double atol, int equal_nan);
TLDEF int tl_allclose(const tl_tensor *a, const tl_tensor *b, double rtol, double atol, int equal_nan);
TLDEF int tl_equal(const tl_tensor *a, const tl_tensor *b);

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
TLDEF tl_tensor *tl_cumprod(const tl_tensor *t, int dim); /* gradient exact with zeros, as torch */
/* torch.any / torch.all along dim, or over everything (_all): bool (uint8 for a uint8 input). */
TLDEF tl_tensor *tl_any(const tl_tensor *t, int dim, int keepdim);
TLDEF tl_tensor *tl_all(const tl_tensor *t, int dim, int keepdim);
TLDEF tl_tensor *tl_any_all(const tl_tensor *t);
TLDEF tl_tensor *tl_all_all(const tl_tensor *t);
/* torch.sort(t, dim, descending, stable=True): values; *indices (if not NULL) gets the int64
   positions. NaN sorts as the largest value. argsort returns only the indices. */
TLDEF tl_tensor *tl_sort(const tl_tensor *t, int dim, int descending, tl_tensor **indices);
TLDEF tl_tensor *tl_argsort(const tl_tensor *t, int dim, int descending);
/* torch.topk(t, k, dim, largest, sorted): the k largest (or smallest) along dim, always sorted;
   ties keep their original order. */
TLDEF tl_tensor *tl_topk(const tl_tensor *t, int64_t k, int dim, int largest, int sorted, tl_tensor **indices);

/* ===== >>linalg =============================================================================== */

/* torch.matmul: 1-D.1-D dot, 2-D mm, 1-D/2-D mixes, and batched with broadcast batch dims. */
TLDEF tl_tensor *tl_matmul(const tl_tensor *a, const tl_tensor *b);
TLDEF tl_tensor *tl_mm(const tl_tensor *a, const tl_tensor *b);   /* [n,k] x [k,m] -> [n,m] */
TLDEF tl_tensor *tl_mv(const tl_tensor *a, const tl_tensor *v);   /* [n,k] x [k] -> [n] */
TLDEF tl_tensor *tl_bmm(const tl_tensor *a, const tl_tensor *b);  /* [b,n,k] x [b,k,m] */
TLDEF tl_tensor *tl_dot(const tl_tensor *a, const tl_tensor *b);  /* [n] . [n] -> 0-dim */
TLDEF tl_tensor *tl_outer(const tl_tensor *a, const tl_tensor *b);/* [n] x [m] -> [n,m] */

/* ===== >>functional =========================================================================== */
/* torch.nn.functional. Every op records for autograd. Images are [N, C, H, W]; float32/float64. */

/* F.linear: x [..., in] @ weight[out, in]^T + bias[out] (bias may be NULL). */
TLDEF tl_tensor *tl_linear(const tl_tensor *x, const tl_tensor *weight, const tl_tensor *bias);

/* Options of conv2d; a zeroed struct means torch's defaults (stride 1, padding 0, dilation 1,
   groups 1). padding_same = 1 is padding='same' (stride must be 1). */
typedef struct tl_conv2d_opts {
    int stride[2], padding[2], dilation[2], groups, padding_same;
} tl_conv2d_opts;
/* F.conv2d(x [N,C,H,W], weight [O, C/groups, kh, kw], bias [O] or NULL) -> [N, O, Ho, Wo]. */
TLDEF tl_tensor *tl_conv2d(const tl_tensor *x, const tl_tensor *weight, const tl_tensor *bias,
                           const tl_conv2d_opts *opts);

/* Options of conv1d; a zeroed struct means torch's defaults (stride 1, padding 0, dilation 1,
   groups 1). padding_same = 1 is padding='same' (stride must be 1). */
typedef struct tl_conv1d_opts {
    int stride, padding, dilation, groups, padding_same;
} tl_conv1d_opts;
/* F.conv1d(x [N,C,L] or [C,L], weight [O, C/groups, k], bias [O] or NULL) -> [N, O, Lo] (conv2d on
   height 1, so the same GEMM path and backward). */
TLDEF tl_tensor *tl_conv1d(const tl_tensor *x, const tl_tensor *weight, const tl_tensor *bias,
                           const tl_conv1d_opts *opts);
/* Options of conv_transpose2d; zeroed = torch's defaults (stride 1, padding 0, output_padding 0,
   dilation 1, groups 1). output_padding must be smaller than stride or dilation, as torch. */
typedef struct tl_conv_transpose2d_opts {
    int stride[2], padding[2], output_padding[2], dilation[2], groups;
} tl_conv_transpose2d_opts;
/* F.conv_transpose2d(x [N,C,H,W] or [C,H,W], weight [C, O/groups, kh, kw], bias [O] or NULL) ->
   [N, O, (H-1)*stride - 2*padding + dilation*(kh-1) + output_padding + 1, (same for W)]. */
TLDEF tl_tensor *tl_conv_transpose2d(const tl_tensor *x, const tl_tensor *weight, const tl_tensor *bias,
                                     const tl_conv_transpose2d_opts *opts);

/* Options of the 2-D pools. Fill with tl_pool2d_opts_default(kh, kw): stride = kernel, padding 0,
   dilation 1, ceil_mode 0, count_include_pad 1 (torch's defaults). */
typedef struct tl_pool2d_opts {
    int kernel[2], stride[2], padding[2], dilation[2], ceil_mode, count_include_pad;
} tl_pool2d_opts;
TLDEF tl_pool2d_opts tl_pool2d_opts_default(int kh, int kw);
/* F.max_pool2d(x [N,C,H,W] or [C,H,W]); *indices (if not NULL) gets torch's int64 indices. */
TLDEF tl_tensor *tl_max_pool2d(const tl_tensor *x, const tl_pool2d_opts *opts, tl_tensor **indices);
/* F.avg_pool2d (dilation is not an option of avg_pool2d in torch and must stay 1). */
TLDEF tl_tensor *tl_avg_pool2d(const tl_tensor *x, const tl_pool2d_opts *opts);

/* Options of the 1-D pools. Fill with tl_pool1d_opts_default(k): stride = kernel, padding 0,
   dilation 1, ceil_mode 0, count_include_pad 1 (torch's defaults). */
typedef struct tl_pool1d_opts {
    int kernel, stride, padding, dilation, ceil_mode, count_include_pad;
} tl_pool1d_opts;
TLDEF tl_pool1d_opts tl_pool1d_opts_default(int k);
/* F.max_pool1d(x [N,C,L] or [C,L]); *indices (if not NULL) gets torch's int64 positions in L. */
TLDEF tl_tensor *tl_max_pool1d(const tl_tensor *x, const tl_pool1d_opts *opts, tl_tensor **indices);
/* F.avg_pool1d(x [N,C,L] or [C,L]) (no dilation, as torch). */
TLDEF tl_tensor *tl_avg_pool1d(const tl_tensor *x, const tl_pool1d_opts *opts);

/* Loss reduction: 'mean' (the default, 0), 'sum' or 'none'. */
typedef enum tl_reduction { TL_REDUCTION_MEAN = 0, TL_REDUCTION_SUM, TL_REDUCTION_NONE } tl_reduction;
/* F.nll_loss(log_probs [N, C], target int64 [N]); weight [C] or NULL; ignore_index like torch
   (pass -100 for torch's default). */
TLDEF tl_tensor *tl_nll_loss(const tl_tensor *input, const tl_tensor *target, const tl_tensor *weight,
                             int64_t ignore_index, tl_reduction reduction);
/* F.cross_entropy(logits [N, C], class indices int64 [N]) = nll_loss(log_softmax(logits, 1)). */
TLDEF tl_tensor *tl_cross_entropy(const tl_tensor *input, const tl_tensor *target, const tl_tensor *weight,
                                  int64_t ignore_index, tl_reduction reduction);
/* F.mse_loss / F.l1_loss / F.smooth_l1_loss: a target of another (broadcastable) shape is broadcast
   against input as torch does, after a one-time note on stderr (torch warns). */
TLDEF tl_tensor *tl_mse_loss(const tl_tensor *input, const tl_tensor *target, tl_reduction reduction);
TLDEF tl_tensor *tl_l1_loss(const tl_tensor *input, const tl_tensor *target, tl_reduction reduction);
/* F.smooth_l1_loss with beta (torch default 1.0). */
TLDEF tl_tensor *tl_smooth_l1_loss(const tl_tensor *input, const tl_tensor *target, double beta,
                                   tl_reduction reduction);
/* F.binary_cross_entropy(probabilities, target): logs clamped at -100 as torch does. */
TLDEF tl_tensor *tl_bce_loss(const tl_tensor *input, const tl_tensor *target, tl_reduction reduction);
/* F.binary_cross_entropy_with_logits(logits, target, pos_weight or NULL). */
TLDEF tl_tensor *tl_bce_with_logits(const tl_tensor *input, const tl_tensor *target, const tl_tensor *pos_weight,
                                    tl_reduction reduction);
/* F.adaptive_avg_pool2d(x [N,C,H,W] or [C,H,W], (oh, ow)). */
TLDEF tl_tensor *tl_adaptive_avg_pool2d(const tl_tensor *x, int64_t out_h, int64_t out_w);
/* F.batch_norm(x [N,C] / [N,C,L] / [N,C,H,W], running_mean, running_var, weight, bias, training,
   momentum, eps). In training, batch statistics normalise x and the running stats (when given) are
   updated in place (momentum < 0 means a cumulative average, torch's momentum=None; then
   *num_batches_tracked must be given). Any of the four tensors may be NULL. */
TLDEF tl_tensor *tl_batch_norm(const tl_tensor *x, tl_tensor *running_mean, tl_tensor *running_var,
                               const tl_tensor *weight, const tl_tensor *bias, int training, double momentum,
                               double eps, tl_tensor *num_batches_tracked);
/* F.layer_norm(x, normalized_shape = the last ndims sizes of x, weight, bias (may be NULL), eps). */
TLDEF tl_tensor *tl_layer_norm(const tl_tensor *x, int ndims, const tl_tensor *weight, const tl_tensor *bias,
                               double eps);
/* F.group_norm(x [N, C, *], num_groups (dividing C), weight [C], bias [C] (either may be NULL),
   eps): each sample's channel groups normalised over (C/num_groups, *), then the affine per channel. */
TLDEF tl_tensor *tl_group_norm(const tl_tensor *x, int64_t num_groups, const tl_tensor *weight,
                               const tl_tensor *bias, double eps);
/* F.dropout(x, p, training): in training zeroes elements with probability p (torch's stream) and
   scales the rest by 1/(1-p); otherwise returns x itself (a new reference). */
TLDEF tl_tensor *tl_dropout(const tl_tensor *x, double p, int training);
/* F.embedding(indices int64, weight [num, dim]) -> indices.shape + [dim]. */
TLDEF tl_tensor *tl_embedding(const tl_tensor *indices, const tl_tensor *weight);
/* F.cross_entropy with every option: target is class indices (int64, [N]) or class probabilities
   (same shape as input); weight [C] or NULL; label_smoothing in [0, 1]. */
typedef struct tl_ce_opts {
    const tl_tensor *weight;
    int64_t ignore_index;   /* torch's default is -100 (tl_ce_opts_default) */
    double label_smoothing;
    tl_reduction reduction;
} tl_ce_opts;
TLDEF tl_ce_opts tl_ce_opts_default(void);
TLDEF tl_tensor *tl_cross_entropy_ex(const tl_tensor *input, const tl_tensor *target, const tl_ce_opts *opts);
/* F.one_hot(t int64, num_classes): int64 t.shape + [C]; num_classes -1 means max(t) + 1. */
TLDEF tl_tensor *tl_one_hot(const tl_tensor *t, int64_t num_classes);
/* F.pad(x, pad, mode, value): pad = (left, right) of the last dim, then of the one before, ...
   (npad entries, even). Constant padding takes negative sizes (cropping); reflect and replicate
   pad 1-3 trailing dims of a 2-D..5-D input, as torch. */
typedef enum tl_pad_mode { TL_PAD_CONSTANT = 0, TL_PAD_REFLECT, TL_PAD_REPLICATE } tl_pad_mode;
TLDEF tl_tensor *tl_pad(const tl_tensor *x, int npad, const int64_t *pad, tl_pad_mode mode, double value);
/* F.interpolate(x [N,C,H,W], size=(out_h, out_w), mode, align_corners): nearest (torch's 'nearest';
   align_corners is ignored) or bilinear. */
typedef enum tl_interp_mode { TL_INTERP_NEAREST = 0, TL_INTERP_BILINEAR } tl_interp_mode;
TLDEF tl_tensor *tl_interpolate(const tl_tensor *x, int64_t out_h, int64_t out_w, tl_interp_mode mode,
                                int align_corners);
/* torch.einsum(equation, operands) for one or two operands ("ij,jk->ik", "bij,bjk->bik", "i,i->",
   "ij->ji", "ii->i" diagonals, implicit output); no '...' (ellipsis) yet. */
TLDEF tl_tensor *tl_einsum(const char *equation, int n, tl_tensor *const *operands);


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
   (scope-owned inside a scope) without touching any .grad. grad_outputs may be NULL (all outputs
   one-element). */
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

/* ===== >>serialize ============================================================================ */
/* torch.save / torch.load compatible checkpoints. What save and load speak is a small value tree,
   tl_value: None, bool, int, float, str, tensor, list, tuple and dict (insertion ordered, str or int
   keys; a dict may be a collections.OrderedDict carrying a state_dict's _metadata). The writer emits
   torch's zip + pickle protocol 2 layout (../shared/TORCH_FORMAT.md), which torch.load reads; the
   reader accepts what torch 1.6-2.x writes for such trees through a safe subset unpickler that never
   imports or executes anything and names whatever it refuses.

   Ownership: a tl_value is a tree owned by whoever holds its root; free the root with
   tl_value_free. Containers take ownership of the values you add (even when adding fails, so
   tl_value_set(d, "x", tl_value_int(1)) never leaks). A tensor value holds its own reference to the
   tensor. Lookups (tl_value_get, tl_value_item, tl_value_key, tl_value_metadata) return borrowed
   const pointers into the tree, valid until the container is changed or freed; never free them.
   tl_value_tensor_of returns a new tensor reference, like every tl_tensor* the library returns.
   Errors: pointer-returning calls return NULL, the others a tl_status; the message names the call
   and what was wrong (tl_last_error()). NULL in while an error is pending: NULL out, first error kept. */

typedef enum tl_value_kind {
    TL_VALUE_NONE = 0, /* None */
    TL_VALUE_BOOL,     /* True / False */
    TL_VALUE_INT,      /* Python int (int64 range) */
    TL_VALUE_FLOAT,    /* Python float (double) */
    TL_VALUE_STRING,   /* str (UTF-8 bytes, may contain NUL) */
    TL_VALUE_TENSOR,   /* torch.Tensor, or an nn.Parameter (tl_value_is_parameter) */
    TL_VALUE_LIST,     /* list */
    TL_VALUE_TUPLE,    /* tuple */
    TL_VALUE_DICT      /* dict or collections.OrderedDict (tl_value_is_ordered) */
} tl_value_kind;

typedef struct tl_value tl_value; /* opaque */

/* Constructors: a new owned value (free with tl_value_free), or NULL on allocation failure. */
TLDEF tl_value *tl_value_none(void);
TLDEF tl_value *tl_value_bool(int b);
TLDEF tl_value *tl_value_int(int64_t i);
TLDEF tl_value *tl_value_float(double f);
TLDEF tl_value *tl_value_string(const char *s);              /* copies the NUL-terminated s */
TLDEF tl_value *tl_value_string_n(const char *s, size_t len); /* copies len bytes */
/* A tensor value holding its own new reference to t (the caller keeps its reference). */
TLDEF tl_value *tl_value_tensor(tl_tensor *t);
/* nn.Parameter(t): saved with torch._utils._rebuild_parameter; requires_grad is t's flag. */
TLDEF tl_value *tl_value_parameter(tl_tensor *t);
TLDEF tl_value *tl_value_list(void);
TLDEF tl_value *tl_value_tuple(void);
TLDEF tl_value *tl_value_dict(void);         /* {} */
TLDEF tl_value *tl_value_ordered_dict(void); /* collections.OrderedDict() */

/* Frees v and everything it contains (releasing tensor references). NULL-safe. */
TLDEF void tl_value_free(tl_value *v);
/* Deep copy (tensors are shared, not copied: the copy holds new references). NULL on failure. */
TLDEF tl_value *tl_value_copy(const tl_value *v);

/* Accessors. Asking a value of the wrong kind records TL_ERR_ARG and returns 0 / NULL. */
TLDEF tl_value_kind tl_value_kind_of(const tl_value *v);  /* TL_VALUE_NONE for NULL */
TLDEF const char *tl_value_kind_name(tl_value_kind k);    /* "None", "int", "dict", ... */
TLDEF int tl_value_as_bool(const tl_value *v);
TLDEF int64_t tl_value_as_int(const tl_value *v);         /* int or bool */
TLDEF double tl_value_as_float(const tl_value *v);        /* float, int or bool, as Python float() */
/* The string's bytes (NUL-terminated; *len may be NULL). Borrowed: lives as long as v. */
TLDEF const char *tl_value_as_string(const tl_value *v, size_t *len);
/* The tensor of a tensor/parameter value: a new reference (outside scopes release it; inside a
   scope the scope owns it and releases it). */
TLDEF tl_tensor *tl_value_tensor_of(const tl_value *v);
TLDEF int tl_value_is_parameter(const tl_value *v);       /* 1 for an nn.Parameter value */
TLDEF int tl_value_is_ordered(const tl_value *v);         /* 1 for a collections.OrderedDict */

/* Containers. len: items of a list/tuple, pairs of a dict; 0 for scalars (no error). */
TLDEF size_t tl_value_len(const tl_value *v);
/* Item i of a list/tuple, or the VALUE of the i-th pair of a dict (borrowed; NULL + error when i
   is out of range). tl_value_key: the KEY of the i-th dict pair (borrowed). */
TLDEF const tl_value *tl_value_item(const tl_value *v, size_t i);
TLDEF const tl_value *tl_value_key(const tl_value *v, size_t i);
/* dict[key] for a str / int key: borrowed, or NULL when missing (NO error is recorded then). */
TLDEF const tl_value *tl_value_get(const tl_value *dict, const char *key);
TLDEF const tl_value *tl_value_get_int(const tl_value *dict, int64_t key);
/* list.append(item) / builds a tuple item by item. Takes ownership of item (also on failure). */
TLDEF tl_status tl_value_append(tl_value *list_or_tuple, tl_value *item);
/* dict[key] = val: replaces in place when the key exists (keeps its position, as Python does),
   else appends. Takes ownership of val (also on failure); the key string is copied. */
TLDEF tl_status tl_value_set(tl_value *dict, const char *key, tl_value *val);
TLDEF tl_status tl_value_set_int(tl_value *dict, int64_t key, tl_value *val);

/* Module state_dicts. An OrderedDict's _metadata (the attribute torch's Module.state_dict() sets):
   tl_value_add_module_version appends {path: {'version': version}} to it, creating it on first use
   (path "" is the root module, "0", "fc", "layer1.0.bn1" children; BatchNorm's version is 2, most
   other modules' 1). tl_value_metadata returns it (borrowed) or NULL when absent (no error). */
TLDEF tl_status tl_value_add_module_version(tl_value *odict, const char *path, int64_t version);
TLDEF const tl_value *tl_value_metadata(const tl_value *odict);
/* A state_dict as Module.state_dict() returns it: OrderedDict of n (key, tensor) pairs in the given
   order, plus _metadata listing nmod module paths (pre-order, "" first) with their versions.
   The tensors are referenced, not copied. NULL on failure (bad arguments, duplicate keys, OOM). */
TLDEF tl_value *tl_state_dict_build(int n, const char *const *keys, tl_tensor *const *tensors, int nmod,
                                    const char *const *module_paths, const int64_t *module_versions);

/* repr() of the loaded Python object: "{'w': tensor([1., 2.])}", "OrderedDict([('a', 1)])",
   "(1,)", "Parameter containing:\ntensor(...)", floats as Python prints them (0.1, 1e-05, inf).
   Writes into buf (NUL-terminated when cap > 0); returns the full length needed, or a negative
   tl_status. */
TLDEF int tl_value_to_string(const tl_value *v, char *buf, size_t cap);
#ifndef TL_NO_STDIO
TLDEF tl_status tl_value_fprint(FILE *f, const tl_value *v); /* repr + newline */
TLDEF tl_status tl_value_print(const tl_value *v);           /* to stdout */
#endif

/* ---- saving: torch.save(obj) ---- */
/* Receives the file's bytes in order; returns 0 on success, non-zero to abort the save. */
typedef int (*tl_write_fn)(const void *data, size_t size, void *user);

/* Streams the checkpoint to write(). The zip's directory prefix is "archive" (as torch uses for
   file objects). TL_ERR_IO when write() fails, TL_ERR_ARG/TL_ERR_DTYPE for unsaveable values. */
TLDEF tl_status tl_save_to_writer(const tl_value *v, tl_write_fn write, void *user);
/* Saves into a new buffer: *data (free with tl_free_buffer) and *size. */
TLDEF tl_status tl_save_to_buffer(const tl_value *v, void **data, size_t *size);
TLDEF void tl_free_buffer(void *data); /* frees a buffer tl_save_to_buffer made; NULL-safe */
#ifndef TL_NO_STDIO
/* torch.save(obj, path), atomically: writes a temporary "<path>.tmp-<pid>-<n>" in the same
   directory, fsyncs it, renames it over path (and fsyncs the directory); on failure path is
   untouched and the temporary removed. A process killed mid-save leaves its temporary behind; the
   next tl_save to the same path removes it (POSIX; elsewhere it stays). path is never truncated.
   The zip prefix is path's base name without extension, as torch. */
TLDEF tl_status tl_save(const tl_value *v, const char *path);
/* torch.save(t, path) for a single tensor. */
TLDEF tl_status tl_save_tensor(const tl_tensor *t, const char *path);
#endif

/* ---- loading: torch.load(path, weights_only=True), safely ---- */
/* Limits of one load, for files from sources you do not trust (torch.load has none). Get the
   defaults from tl_load_opts_default() and change what you need; in the byte fields 0 means no
   limit. A file over a limit is refused (TL_ERR_FORMAT) with a message naming the field to raise.
   The defaults refuse decompression bombs, memo "billion laughs" and string amplification in well
   under a second and under 64 MB beyond the file itself, and load every file torch writes. */
typedef struct tl_load_opts {
    uint64_t max_input_bytes;    /* size of the file or buffer (default 0: no limit) */
    uint64_t max_inflated_bytes; /* bytes of all deflated records once inflated (256 MiB) */
    uint64_t max_storage_bytes;  /* bytes of all tensor storages together (default 0: no limit) */
    uint64_t max_string_bytes;   /* bytes of all str values of the loaded tree, per reference (16 MiB) */
    int64_t max_objects;         /* objects the unpickler makes (TL_LOAD_MAX_OBJECTS, 4M) */
    /* values that shared (memoized) objects add to the tree when they are referenced again:
       0 (the default) means as many as the pickle made objects, at least 65536; < 0: no limit */
    int64_t max_expanded_values;
    int max_depth;               /* container nesting (TL_LOAD_MAX_DEPTH, 200) */
} tl_load_opts;
TLDEF tl_load_opts tl_load_opts_default(void);
/* Loads from memory, COPYING what it keeps: the loaded tensors own their storage and data may be
   freed as soon as this returns. A new value tree (free with tl_value_free) or NULL. */
TLDEF tl_value *tl_load_from_buffer(const void *data, size_t size);
/* Loads from memory WITHOUT copying: tensors alias data (zero-copy) wherever a storage record is
   stored uncompressed and suitably aligned (torch aligns payloads to 64 bytes); release(data, user)
   runs once when the last aliasing tensor dies (or before returning, when none aliases it or on
   failure). release may be NULL; data must then outlive every loaded tensor. */
TLDEF tl_value *tl_load_from_buffer_ex(void *data, size_t size, void (*release)(void *data, void *user),
                                       void *user);
/* The two buffer loads with caller-set limits (opts NULL: tl_load_opts_default()). */
TLDEF tl_value *tl_load_from_buffer_opts(const void *data, size_t size, const tl_load_opts *opts);
TLDEF tl_value *tl_load_from_buffer_ex_opts(void *data, size_t size, void (*release)(void *data, void *user),
                                            void *user, const tl_load_opts *opts);
#ifndef TL_NO_STDIO
/* torch.load(path): reads the file into one buffer that the loaded tensors alias (no copy per
   tensor); the buffer is freed when the last tensor aliasing it dies. Legacy (pre-1.6, non-zip)
   files and TorchScript archives are refused with their own message (TL_ERR_FORMAT). */
TLDEF tl_value *tl_load(const char *path);
/* tl_load with caller-set limits (opts NULL: tl_load_opts_default()). */
TLDEF tl_value *tl_load_ex(const char *path, const tl_load_opts *opts);
#endif

/* ===== >>random =============================================================================== */
/* PyTorch's CPU random streams, bit for bit (torch 1.13, x86-64 AVX2 build; see the implementation
   notes): after tl_manual_seed(s) the samplers below return exactly what torch returns after
   torch.manual_seed(s), call after call, in float32 and float64, so a model initialised in C gets
   PyTorch's weights. Each thread has its own default generator (torch has one per process); it is
   seeded lazily with 67280421310721 (torch.Generator()'s default) until tl_manual_seed or tl_seed.
   Every sampler also has a _gen form that takes an explicit generator (NULL = this thread's
   default). Tensors are filled in memory order, as torch does for non-contiguous views. */

typedef struct tl_generator tl_generator; /* an mt19937 generator with torch's bookkeeping */

/* torch.manual_seed(seed): seeds this thread's default generator (only the low 32 bits reach the
   mt19937 state, all 64 are kept; pass (uint64_t)s for a negative Python seed s). */
TLDEF void tl_manual_seed(uint64_t seed);
/* torch.initial_seed(): the seed this thread's default generator was last seeded with. */
TLDEF uint64_t tl_initial_seed(void);
/* torch.seed(): reseeds the default generator non-deterministically; returns the seed used. */
TLDEF uint64_t tl_seed(void);
/* torch.get_rng_state(): a new uint8 [5056] tensor, byte-identical to torch's for the same stream. */
TLDEF tl_tensor *tl_get_rng_state(void);
/* torch.set_rng_state(state): uint8, 5056 bytes (or torch's legacy 5048); TL_ERR_ARG if invalid. */
TLDEF tl_status tl_set_rng_state(const tl_tensor *state);

/* torch.Generator().manual_seed(seed): a new generator, freed with tl_generator_free (NULL on OOM). */
TLDEF tl_generator *tl_generator_new(uint64_t seed);
TLDEF void tl_generator_free(tl_generator *g); /* NULL-safe; ignores the default generator */
/* This thread's default generator (owned by the thread; never free it). */
TLDEF tl_generator *tl_default_generator(void);
TLDEF void tl_generator_manual_seed(tl_generator *g, uint64_t seed); /* g.manual_seed(seed) */
TLDEF uint64_t tl_generator_initial_seed(tl_generator *g);           /* g.initial_seed() */
TLDEF tl_tensor *tl_generator_get_state(tl_generator *g);            /* g.get_state() */
TLDEF tl_status tl_generator_set_state(tl_generator *g, const tl_tensor *state); /* g.set_state() */
/* Raw engine draws (torch's CPUGeneratorImpl::random() / random64(): first word = high half). */
TLDEF uint32_t tl_generator_next_u32(tl_generator *g);
TLDEF uint64_t tl_generator_next_u64(tl_generator *g);

/* torch.rand(shape, dtype): uniform [0, 1); floating dtypes only. */
TLDEF tl_tensor *tl_rand(int ndim, const int64_t *shape, tl_dtype dt);
/* torch.randn(shape, dtype): standard normal; floating dtypes only. */
TLDEF tl_tensor *tl_randn(int ndim, const int64_t *shape, tl_dtype dt);
/* torch.randint(low, high, shape, dtype=dt): integers in [low, high) (any dtype, int64 usual). */
TLDEF tl_tensor *tl_randint(int64_t low, int64_t high, int ndim, const int64_t *shape, tl_dtype dt);
/* torch.randperm(n, dtype=dt): a random permutation of 0..n-1 (not bool). */
TLDEF tl_tensor *tl_randperm(int64_t n, tl_dtype dt);
/* torch.bernoulli(p): 0/1 draws with probabilities p (float32/float64/bfloat16, values in [0, 1]);
   same shape and dtype as p. */
TLDEF tl_tensor *tl_bernoulli(const tl_tensor *p);
/* torch.bernoulli(t, p): a new tensor shaped like t (same dtype) of 0/1 draws with probability p. */
TLDEF tl_tensor *tl_bernoulli_p(const tl_tensor *t, double p);
/* torch.multinomial(probs, num_samples, replacement): probs [K] or [rows, K] (float32/float64/
   bfloat16, non-negative weights); int64 category indices [num_samples] or [rows, num_samples]. */
TLDEF tl_tensor *tl_multinomial(const tl_tensor *probs, int64_t num_samples, int replacement);

/* In place (t.X_(...)); they return a tl_status and refuse expanded tensors and leaves that
   require grad, like torch. */
TLDEF tl_status tl_uniform_(tl_tensor *t, double from, double to);  /* U[from, to); from <= to */
TLDEF tl_status tl_normal_(tl_tensor *t, double mean, double std);  /* N(mean, std^2); std >= 0 */
TLDEF tl_status tl_bernoulli_(tl_tensor *t, double p);              /* 0/1 with P(1) = p */
/* t.bernoulli_(p_tensor): p broadcasts to t's shape. */
TLDEF tl_status tl_bernoulli_tensor_(tl_tensor *t, const tl_tensor *p);
TLDEF tl_status tl_exponential_(tl_tensor *t, double lambd);        /* Exp(lambd), lambd >= 0 */
/* t.random_(): integers in [0, 2^mantissa] for floats, [0, max] for integers, 0/1 for bool. */
TLDEF tl_status tl_random_(tl_tensor *t);

/* The same with an explicit generator g (NULL = this thread's default). */
TLDEF tl_tensor *tl_rand_gen(int ndim, const int64_t *shape, tl_dtype dt, tl_generator *g);
TLDEF tl_tensor *tl_randn_gen(int ndim, const int64_t *shape, tl_dtype dt, tl_generator *g);
TLDEF tl_tensor *tl_randint_gen(int64_t low, int64_t high, int ndim, const int64_t *shape, tl_dtype dt,
                                tl_generator *g);
TLDEF tl_tensor *tl_randperm_gen(int64_t n, tl_dtype dt, tl_generator *g);
TLDEF tl_tensor *tl_bernoulli_gen(const tl_tensor *p, tl_generator *g);
TLDEF tl_tensor *tl_bernoulli_p_gen(const tl_tensor *t, double p, tl_generator *g);
TLDEF tl_tensor *tl_multinomial_gen(const tl_tensor *probs, int64_t num_samples, int replacement,
                                    tl_generator *g);
TLDEF tl_status tl_uniform_gen_(tl_tensor *t, double from, double to, tl_generator *g);
TLDEF tl_status tl_normal_gen_(tl_tensor *t, double mean, double std, tl_generator *g);
TLDEF tl_status tl_bernoulli_gen_(tl_tensor *t, double p, tl_generator *g);
TLDEF tl_status tl_bernoulli_tensor_gen_(tl_tensor *t, const tl_tensor *p, tl_generator *g);
TLDEF tl_status tl_exponential_gen_(tl_tensor *t, double lambd, tl_generator *g);
TLDEF tl_status tl_random_gen_(tl_tensor *t, tl_generator *g);

/* ===== >>modules ============================================================================== */
/* nn.Module in C. A module has a type name, ordered parameters, ordered buffers (persistent or
   not), ordered children, a training flag, a forward function and user data. Built-in layers are
   ordinary modules made with the same public calls a user's own module uses.
   Ownership: modules are refcounted but not scoped. A constructor returns a module you own
   (tl_module_free drops it). Calls that take a module (tl_module_add_module, tl_nn_sequential,
   tl_sequential_append) TAKE that reference; pass tl_module_retain(m) to use one module twice
   (shared parameters). Tensors are borrowed as everywhere else: register_parameter/buffer keep
   their own reference. */

typedef struct tl_module tl_module;
/* forward(self, input): returns a new reference (or NULL with an error). */
typedef tl_tensor *(*tl_forward_fn)(tl_module *self, const tl_tensor *input);

/* An empty module; type_name shows in its repr ("MLP"); forward may be NULL for containers. */
TLDEF tl_module *tl_module_new(const char *type_name, tl_forward_fn forward);
TLDEF tl_module *tl_module_retain(tl_module *m);
TLDEF void tl_module_free(tl_module *m); /* drops one reference; NULL-safe */
/* self.name = nn.Parameter(param) (param NULL registers None). Sets requires_grad on param. */
TLDEF tl_status tl_module_register_parameter(tl_module *m, const char *name, tl_tensor *param);
/* self.register_buffer(name, tensor, persistent): non-persistent buffers stay out of state_dict. */
TLDEF tl_status tl_module_register_buffer(tl_module *m, const char *name, tl_tensor *buffer, int persistent);
/* self.add_module(name, child): takes the child reference. */
TLDEF tl_status tl_module_add_module(tl_module *m, const char *name, tl_module *child);
/* Per-module data for custom modules (free_user runs when the module is freed). */
TLDEF void tl_module_set_user(tl_module *m, void *user, void (*free_user)(void *user));
TLDEF void *tl_module_user(const tl_module *m);
/* What repr shows inside the parentheses ("in_features=4, out_features=8, bias=True"). */
TLDEF tl_status tl_module_set_extra_repr(tl_module *m, const char *extra);

/* module(input). */
TLDEF tl_tensor *tl_module_forward(tl_module *m, const tl_tensor *input);
/* A parameter or buffer by dotted path ("0.weight", "net.1.bias"): a new reference (inside a scope
   the scope owns it: do not release it), or NULL (with an error when the path does not exist;
   without one when it names a None parameter). */
TLDEF tl_tensor *tl_module_get(const tl_module *m, const char *path);
/* A child by dotted path ("net.0"); borrowed (lives as long as its parent). */
TLDEF tl_module *tl_module_child(const tl_module *m, const char *path);
/* net[i] for containers: the i-th child (negative counts from the end); borrowed. */
TLDEF tl_module *tl_module_at(const tl_module *m, int index);
TLDEF int tl_module_len(const tl_module *m);            /* number of children */
TLDEF const char *tl_module_type(const tl_module *m);   /* "Linear", "Sequential", ... */
TLDEF const char *tl_module_child_name(const tl_module *m, int index); /* name of the i-th child */

/* (name, tensor) lists: named_parameters (each shared parameter once), named_buffers. */
typedef struct tl_named_tensors {
    int n;
    char **names;
    tl_tensor **tensors; /* references owned by the list */
} tl_named_tensors;
TLDEF tl_named_tensors *tl_module_named_parameters(const tl_module *m);
TLDEF tl_named_tensors *tl_module_named_buffers(const tl_module *m);
TLDEF void tl_named_tensors_free(tl_named_tensors *list);
TLDEF int64_t tl_module_num_parameters(const tl_module *m); /* sum of numel, shared ones once */
/* module.to(dtype) (.double(), .float()): converts every floating-point parameter, its .grad and
   every floating buffer in place, keeping the tensor objects (references you hold see the new
   dtype); integer buffers (num_batches_tracked) stay, as torch's. Build optimizers after it. */
TLDEF tl_status tl_module_to_dtype(tl_module *m, tl_dtype dt);

TLDEF void tl_module_train(tl_module *m, int mode);   /* m.train(mode), recursive */
TLDEF void tl_module_eval(tl_module *m);              /* m.eval() */
TLDEF int tl_module_training(const tl_module *m);
TLDEF tl_status tl_module_requires_grad_(tl_module *m, int requires_grad);
TLDEF void tl_module_zero_grad(tl_module *m);         /* every parameter's .grad = None */
/* m.apply(fn): fn on every submodule (children first, then m itself), stops at an error. */
TLDEF tl_status tl_module_apply(tl_module *m, tl_status (*fn)(tl_module *m, void *user), void *user);

/* m.state_dict(): OrderedDict of parameters and persistent buffers (torch's keys and order) with
   _metadata; tensors are referenced, not copied (like torch's). Free with tl_value_free. */
TLDEF tl_value *tl_module_state_dict(const tl_module *m);
/* m.load_state_dict(sd, strict): copies into the existing tensors. Shape mismatches are errors;
   with strict, missing or unexpected keys are too (torch's message). report (may be NULL) gets
   the keys that were missing and unexpected, comma-separated. */
typedef struct tl_load_report {
    int missing, unexpected;
    char missing_keys[2048], unexpected_keys[2048]; /* '"a", "b"' lists; end in ", ..." if cut */
} tl_load_report;
TLDEF tl_status tl_module_load_state_dict(tl_module *m, const tl_value *state_dict, int strict,
                                          tl_load_report *report);
#ifndef TL_NO_STDIO
/* torch.save(m.state_dict(), path) / m.load_state_dict(torch.load(path), strict). */
TLDEF tl_status tl_save_state_dict(const tl_module *m, const char *path);
TLDEF tl_status tl_load_state_dict(tl_module *m, const char *path, int strict);
#endif
/* print(m): PyTorch's module repr. */
TLDEF int tl_module_to_string(const tl_module *m, char *buf, size_t cap);
#ifndef TL_NO_STDIO
TLDEF tl_status tl_module_print(const tl_module *m);
#endif

/* Layers, with PyTorch's defaults and initialisation (the same weights as torch for the same
   tl_manual_seed). */
TLDEF tl_module *tl_nn_sequential(int n, tl_module *const *mods); /* takes the references */
TLDEF tl_status tl_sequential_append(tl_module *seq, tl_module *m); /* takes the reference */
TLDEF tl_module *tl_nn_module_list(int n, tl_module *const *mods);
TLDEF tl_module *tl_nn_linear(int64_t in_features, int64_t out_features, int bias);
TLDEF tl_module *tl_nn_conv2d(int64_t in_channels, int64_t out_channels, int kh, int kw,
                              const tl_conv2d_opts *opts, int bias);
/* nn.Conv1d(in, out, kernel_size, stride/padding/dilation/groups in opts (NULL: defaults), bias). */
TLDEF tl_module *tl_nn_conv1d(int64_t in_channels, int64_t out_channels, int kernel_size,
                              const tl_conv1d_opts *opts, int bias);
/* nn.ConvTranspose2d(in, out, (kh, kw), opts (NULL: defaults), bias): weight [in, out/groups, kh, kw]. */
TLDEF tl_module *tl_nn_conv_transpose2d(int64_t in_channels, int64_t out_channels, int kh, int kw,
                                        const tl_conv_transpose2d_opts *opts, int bias);
/* nn.GroupNorm(num_groups, num_channels, eps (torch 1e-5), affine (torch 1: weight ones, bias zeros)). */
TLDEF tl_module *tl_nn_group_norm(int64_t num_groups, int64_t num_channels, double eps, int affine);
/* nn.Upsample(size=(out_h, out_w)) when out_h > 0, else nn.Upsample(scale_factor) (output
   floor(in * scale_factor), sampled at 1/scale_factor steps as torch); mode nearest or bilinear
   (align_corners as torch's, 0 for None); input [N, C, H, W]. */
TLDEF tl_module *tl_nn_upsample(int64_t out_h, int64_t out_w, double scale_factor, tl_interp_mode mode,
                                int align_corners);
TLDEF tl_module *tl_nn_max_pool2d(const tl_pool2d_opts *opts);
TLDEF tl_module *tl_nn_avg_pool2d(const tl_pool2d_opts *opts);
TLDEF tl_module *tl_nn_flatten(int start_dim, int end_dim); /* nn.Flatten() is (1, -1) */
TLDEF tl_module *tl_nn_identity(void);
TLDEF tl_module *tl_nn_relu(void);
TLDEF tl_module *tl_nn_tanh(void);
TLDEF tl_module *tl_nn_sigmoid(void);
TLDEF tl_module *tl_nn_silu(void);
TLDEF tl_module *tl_nn_gelu(int approximate_tanh);
TLDEF tl_module *tl_nn_leaky_relu(double negative_slope);
TLDEF tl_module *tl_nn_softmax(int dim);
TLDEF tl_module *tl_nn_log_softmax(int dim);
/* named_modules(): every submodule once, pre-order, "" for m itself; modules are borrowed. */
typedef struct tl_named_modules {
    int n;
    char **names;
    tl_module **modules;
} tl_named_modules;
TLDEF tl_named_modules *tl_module_named_modules(const tl_module *m);
TLDEF void tl_named_modules_free(tl_named_modules *list);
/* nn.BatchNorm1d / BatchNorm2d(num_features, eps, momentum (< 0 for None), affine,
   track_running_stats); torch's defaults are 1e-5, 0.1, 1, 1. */
TLDEF tl_module *tl_nn_batch_norm1d(int64_t num_features, double eps, double momentum, int affine,
                                    int track_running_stats);
TLDEF tl_module *tl_nn_batch_norm2d(int64_t num_features, double eps, double momentum, int affine,
                                    int track_running_stats);
/* nn.LayerNorm(normalized_shape, eps, elementwise_affine). */
TLDEF tl_module *tl_nn_layer_norm(int ndims, const int64_t *normalized_shape, double eps, int elementwise_affine);
TLDEF tl_module *tl_nn_dropout(double p);                                     /* nn.Dropout(p) */
TLDEF tl_module *tl_nn_embedding(int64_t num_embeddings, int64_t embedding_dim); /* weight ~ N(0, 1) */
TLDEF tl_module *tl_nn_adaptive_avg_pool2d(int64_t out_h, int64_t out_w);

/* nn.init (in place, not recorded by autograd). */
TLDEF double tl_init_calculate_gain(const char *nonlinearity, double param); /* "relu", "leaky_relu", "tanh", ... */
TLDEF tl_status tl_init_uniform_(tl_tensor *t, double a, double b);
TLDEF tl_status tl_init_normal_(tl_tensor *t, double mean, double std);
TLDEF tl_status tl_init_constant_(tl_tensor *t, double value);
TLDEF tl_status tl_init_zeros_(tl_tensor *t);
TLDEF tl_status tl_init_ones_(tl_tensor *t);
TLDEF tl_status tl_init_eye_(tl_tensor *t);
TLDEF tl_status tl_init_xavier_uniform_(tl_tensor *t, double gain);
TLDEF tl_status tl_init_xavier_normal_(tl_tensor *t, double gain);
/* kaiming_uniform_/normal_(t, a, mode "fan_in"|"fan_out", nonlinearity "leaky_relu"|"relu"|...) */
TLDEF tl_status tl_init_kaiming_uniform_(tl_tensor *t, double a, const char *mode, const char *nonlinearity);
TLDEF tl_status tl_init_kaiming_normal_(tl_tensor *t, double a, const char *mode, const char *nonlinearity);

/* Recurrent layers: nn.LSTM / nn.GRU(input_size, hidden_size, num_layers, bias, batch_first,
   bidirectional) with torch's parameters (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, then
   the _reverse ones, layer by layer; gates i,f,g,o and r,z,n) and init (all U(-1/sqrt(hidden),
   1/sqrt(hidden)) in that order). dropout is not an option (torch's default 0). */
TLDEF tl_module *tl_nn_lstm(int64_t input_size, int64_t hidden_size, int num_layers, int bias, int batch_first,
                            int bidirectional);
TLDEF tl_module *tl_nn_gru(int64_t input_size, int64_t hidden_size, int num_layers, int bias, int batch_first,
                           int bidirectional);
/* output, (h_n, c_n) = lstm(x, (h0, c0)): x [L, N, H_in] ([N, L, H_in] batch_first) or unbatched
   [L, H_in]; h0, c0 [D*num_layers, N, H] ([D*num_layers, H] unbatched) or both NULL (zeros).
   Returns output [L, N, D*H] (batch_first [N, L, D*H], unbatched [L, D*H]); *h_n, *c_n (either
   may be NULL) get new references. tl_module_forward(lstm, x) returns the output alone. */
TLDEF tl_tensor *tl_lstm_forward(tl_module *lstm, const tl_tensor *x, const tl_tensor *h0, const tl_tensor *c0,
                                 tl_tensor **h_n, tl_tensor **c_n);
/* output, h_n = gru(x, h0): shapes as tl_lstm_forward (h0 may be NULL). */
TLDEF tl_tensor *tl_gru_forward(tl_module *gru, const tl_tensor *x, const tl_tensor *h0, tl_tensor **h_n);
/* nn.MultiheadAttention(embed_dim, num_heads, bias, batch_first) with kdim = vdim = embed_dim, no
   dropout, add_bias_kv and add_zero_attn off: parameters in_proj_weight [3E, E], in_proj_bias [3E]
   and the out_proj child (NonDynamicallyQuantizableLinear), initialised as torch. */
TLDEF tl_module *tl_nn_multihead_attention(int64_t embed_dim, int64_t num_heads, int bias, int batch_first);
/* attn_output, attn_weights = mha(query, key, value, key_padding_mask, need_weights, attn_mask,
   average_attn_weights): query [L, N, E] ([N, L, E] batch_first, [L, E] unbatched), key and value
   [S, N, E] likewise (key NULL: the query, value NULL: the key); key_padding_mask [N, S] ([S])
   bool (True = ignore) or float (added), attn_mask [L, S] or [N*num_heads, L, S] bool or float;
   both may be NULL. Returns
   attn_output with query's shape; with need_weights, *attn_weights (if not NULL) gets [N, L, S]
   averaged over heads, or [N, num_heads, L, S] (unbatched: no N). tl_module_forward is
   self-attention (query = key = value) and returns attn_output. */
TLDEF tl_tensor *tl_mha_forward(tl_module *mha, const tl_tensor *query, const tl_tensor *key, const tl_tensor *value,
                                const tl_tensor *key_padding_mask, int need_weights, const tl_tensor *attn_mask,
                                int average_attn_weights, tl_tensor **attn_weights);

/* ===== >>optim ================================================================================ */
/* torch.optim in C: SGD, Adam, AdamW, RMSprop, Adagrad with torch 1.13's single-tensor
   (foreach=False) formulas, param groups, per-parameter state, state_dict/load_state_dict in
   torch.optim's layout (so a run resumes in either framework), the LR schedulers of
   torch.optim.lr_scheduler, and torch.nn.utils.clip_grad_norm_ / clip_grad_value_.
   A step is one fused loop over each parameter's contiguous float32/float64 storage: no
   temporary tensors, state allocated at a parameter's first step, nothing allocated afterwards.
   float32 parameters are updated in float32 with torch's order of operations, float64 in double.
   Ownership: an optimizer holds its own references to its parameters; a tl_param_list given to a
   constructor or to tl_optim_add_param_group is CONSUMED (freed, also on failure), so
   tl_optim_sgd(tl_parameters(net), &d) does not leak. A scheduler borrows its optimizer (free the
   scheduler first). Errors: NULL / a tl_status, with a message naming the call (tl_last_error()). */

typedef struct tl_optim tl_optim;         /* opaque */
typedef struct tl_scheduler tl_scheduler; /* opaque */

/* A list of parameters (references owned by the list), as model.parameters() yields them. */
typedef struct tl_param_list {
    int n;
    tl_tensor **tensors;
} tl_param_list;
/* list(m.parameters()): every parameter once, torch's order. New list (free with tl_param_list_free). */
TLDEF tl_param_list *tl_parameters(const tl_module *m);
/* A list of n tensors of your own (each gets a new reference held by the list). */
TLDEF tl_param_list *tl_param_list_new(int n, tl_tensor *const *tensors);
TLDEF void tl_param_list_free(tl_param_list *list); /* NULL-safe */

/* Hyperparameters. Get PyTorch's defaults from tl_*_desc_default() and change what you need
   (zero is a legal value of several fields, so a zeroed struct is not "the defaults"). */
typedef struct tl_sgd_desc {
    double lr, momentum, dampening, weight_decay; /* lr 0.001 (torch requires lr; 1e-3 here), 0, 0, 0 */
    int nesterov, maximize;                      /* 0, 0 */
} tl_sgd_desc;
typedef struct tl_adam_desc {
    double lr, beta1, beta2, eps, weight_decay;  /* 0.001, 0.9, 0.999, 1e-8, 0 (AdamW: 0.01) */
    int amsgrad, maximize;                       /* 0, 0 */
} tl_adam_desc;
typedef tl_adam_desc tl_adamw_desc;
typedef struct tl_rmsprop_desc {
    double lr, alpha, eps, weight_decay, momentum; /* 0.01, 0.99, 1e-8, 0, 0 */
    int centered, maximize;                        /* 0, 0 */
} tl_rmsprop_desc;
typedef struct tl_adagrad_desc {
    double lr, lr_decay, weight_decay, initial_accumulator_value, eps; /* 0.01, 0, 0, 0, 1e-10 */
    int maximize;                                                     /* 0 */
} tl_adagrad_desc;
TLDEF tl_sgd_desc tl_sgd_desc_default(void);
TLDEF tl_adam_desc tl_adam_desc_default(void);
TLDEF tl_adamw_desc tl_adamw_desc_default(void);
TLDEF tl_rmsprop_desc tl_rmsprop_desc_default(void);
TLDEF tl_adagrad_desc tl_adagrad_desc_default(void);

/* torch.optim.SGD(params, **desc) etc. params is consumed; d NULL means the defaults. The first
   param group holds params (which must be non-empty, contiguous float32/float64 leaf tensors).
   Adagrad fills each group's 'sum' with that group's initial_accumulator_value (torch 2.x; 1.13
   uses the constructor's value for every group and has no state for add_param_group's groups). */
TLDEF tl_optim *tl_optim_sgd(tl_param_list *params, const tl_sgd_desc *d);
TLDEF tl_optim *tl_optim_adam(tl_param_list *params, const tl_adam_desc *d);
TLDEF tl_optim *tl_optim_adamw(tl_param_list *params, const tl_adamw_desc *d);
TLDEF tl_optim *tl_optim_rmsprop(tl_param_list *params, const tl_rmsprop_desc *d);
TLDEF tl_optim *tl_optim_adagrad(tl_param_list *params, const tl_adagrad_desc *d);
/* optimizer.add_param_group({'params': params, **desc}): desc points to the desc struct of the
   optimizer's own kind (tl_sgd_desc for an SGD optimizer, ...); NULL takes the constructor's
   hyperparameters (torch's optimizer.defaults), so fill a desc from the constructor's to change
   a few. params is consumed. A parameter already in another group is an error, as in torch. */
TLDEF tl_status tl_optim_add_param_group(tl_optim *opt, tl_param_list *params, const void *desc);
/* optimizer.zero_grad() (set_to_none=True): every parameter's .grad = None. */
TLDEF tl_status tl_optim_zero_grad(tl_optim *opt);
/* optimizer.step(): parameters whose .grad is None are skipped (and get no state). */
TLDEF tl_status tl_optim_step(tl_optim *opt);
/* optimizer.state_dict(): {'state': {index: {...}}, 'param_groups': [{every key torch 1.13
   writes, ..., 'params': [indices]}]}, a new tree (the state tensors are referenced, not copied;
   'step' is a new float32 0-dim tensor, RMSprop's an int, as torch 1.13). Free with tl_value_free. */
TLDEF tl_value *tl_optim_state_dict(tl_optim *opt);
/* optimizer.load_state_dict(sd): hyperparameters and state (copied, converted to each parameter's
   dtype). A group count, parameter count or state shape that differs is an error naming it and
   leaves the optimizer unchanged. Keys this optimizer does not use are ignored. */
TLDEF tl_status tl_optim_load_state_dict(tl_optim *opt, const tl_value *state_dict);
TLDEF int tl_optim_num_groups(const tl_optim *opt);
TLDEF double tl_optim_get_lr(const tl_optim *opt, int group);          /* NaN + error when out of range */
TLDEF tl_status tl_optim_set_lr(tl_optim *opt, int group, double lr);  /* param_groups[g]['lr'] = lr */
TLDEF void tl_optim_free(tl_optim *opt); /* NULL-safe; the parameters keep living */
/* print(optimizer.state_dict()) as Python prints it. */
TLDEF int tl_optim_to_string(tl_optim *opt, char *buf, size_t cap);
#ifndef TL_NO_STDIO
TLDEF tl_status tl_optim_print(tl_optim *opt);
#endif

/* LR schedulers (torch.optim.lr_scheduler, last_epoch=-1, verbose=False). Creating one sets each
   group's 'initial_lr' (if missing) and takes torch's initial step, exactly as torch does. Every
   scheduler but ReduceLROnPlateau uses torch's recursive (chainable) get_lr, so the lr sequence
   is torch's to the last bit. */
TLDEF tl_scheduler *tl_step_lr(tl_optim *opt, int64_t step_size, double gamma);          /* gamma 0.1 */
TLDEF tl_scheduler *tl_multistep_lr(tl_optim *opt, const int64_t *milestones, int n, double gamma);
TLDEF tl_scheduler *tl_exponential_lr(tl_optim *opt, double gamma);
TLDEF tl_scheduler *tl_cosine_annealing_lr(tl_optim *opt, int64_t T_max, double eta_min);
/* LinearLR(start_factor, end_factor, total_iters): torch's defaults are 1/3, 1.0, 5. */
TLDEF tl_scheduler *tl_linear_lr(tl_optim *opt, double start_factor, double end_factor, int64_t total_iters);
/* LambdaLR: lr = base_lr * fn(epoch, user) for every group. */
TLDEF tl_scheduler *tl_lambda_lr(tl_optim *opt, double (*fn)(int64_t epoch, void *user), void *user);
/* OneCycleLR(max_lr, total_steps, ...): fields as torch's keywords; get the defaults from
   tl_onecycle_desc_default() (pct_start 0.3, cos, cycle_momentum, 0.85, 0.95, 25, 1e4, two phases). */
typedef struct tl_onecycle_desc {
    double pct_start;
    int anneal_linear;  /* 0: anneal_strategy='cos', 1: 'linear' */
    int cycle_momentum; /* cycles 'momentum' (SGD, RMSprop) or beta1 (Adam, AdamW) */
    double base_momentum, max_momentum, div_factor, final_div_factor;
    int three_phase;
} tl_onecycle_desc;
TLDEF tl_onecycle_desc tl_onecycle_desc_default(void);
TLDEF tl_scheduler *tl_onecycle_lr(tl_optim *opt, double max_lr, int64_t total_steps, const tl_onecycle_desc *d);
/* ReduceLROnPlateau(mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps). */
typedef struct tl_plateau_desc {
    int mode_max;          /* 0: mode='min', 1: 'max' */
    double factor;         /* 0.1 */
    int64_t patience;      /* 10 */
    double threshold;      /* 1e-4 */
    int threshold_abs;     /* 0: threshold_mode='rel', 1: 'abs' */
    int64_t cooldown;      /* 0 */
    double min_lr, eps;    /* 0 (every group), 1e-8 */
} tl_plateau_desc;
TLDEF tl_plateau_desc tl_plateau_desc_default(void);
TLDEF tl_scheduler *tl_reduce_lr_on_plateau(tl_optim *opt, const tl_plateau_desc *d);
/* scheduler.step(); for ReduceLROnPlateau use tl_scheduler_step_metric (scheduler.step(metric)). */
TLDEF tl_status tl_scheduler_step(tl_scheduler *s);
TLDEF tl_status tl_scheduler_step_metric(tl_scheduler *s, double metric);
/* scheduler.get_last_lr()[group] (NaN + error when out of range). */
TLDEF double tl_scheduler_get_last_lr(const tl_scheduler *s, int group);
/* scheduler.state_dict() with torch 1.13's keys (MultiStepLR's milestones Counter is written as a
   plain {milestone: count} dict; OneCycleLR has no 'anneal_func'; LambdaLR's 'lr_lambdas' are
   None). New tree; free with tl_value_free. torch's own MultiStepLR and OneCycleLR state_dicts
   hold a Counter / a bound method, which the safe tl_load refuses: resume those from tensorlite's. */
TLDEF tl_value *tl_scheduler_state_dict(const tl_scheduler *s);
/* scheduler.load_state_dict(sd): the counters, base_lrs/_last_lr and the scheduler's own fields. */
TLDEF tl_status tl_scheduler_load_state_dict(tl_scheduler *s, const tl_value *state_dict);
TLDEF void tl_scheduler_free(tl_scheduler *s); /* NULL-safe */

/* torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type): scales every .grad by
   min(1, max_norm / (total_norm + 1e-6)); returns the total norm (norm_type may be INFINITY),
   NaN + error on failure. Parameters without .grad are skipped. The list is NOT consumed. */
TLDEF double tl_clip_grad_norm_(const tl_param_list *params, double max_norm, double norm_type);
TLDEF double tl_module_clip_grad_norm_(const tl_module *m, double max_norm, double norm_type);
/* torch.nn.utils.clip_grad_value_(params, clip_value): clamps every .grad into [-v, v]. */
TLDEF tl_status tl_clip_grad_value_(const tl_param_list *params, double clip_value);
TLDEF tl_status tl_module_clip_grad_value_(const tl_module *m, double clip_value);

/* ===== >>data ================================================================================= */
/* torch.utils.data in C. A dataset is a length and a get-item callback that returns one sample, a
   tuple of up to TL_MAX_FIELDS tensors (x, label, ...). A loader (DataLoader) draws an order from a
   sampler each epoch, fetches the samples, collates them into batches (default: stack each field,
   so int64 labels stay int64) and, with num_workers > 0, prepares batches ahead on worker threads
   while delivering them in order. With the same seed the order is PyTorch's (torch 1.13):
   tl_manual_seed(s) then a shuffled loader gives the same indices, batch for batch, as
   torch.manual_seed(s) then DataLoader(ds, batch_size=b, shuffle=True), and random_split and the
   samplers draw what torch draws. File readers: IDX (MNIST / Fashion-MNIST, raw or .gz), .npy
   (read and write), .npz and CSV; every reader parses from memory (the file functions read the file
   and call it) and names the file and what is wrong in its errors.

   Ownership. Datasets, samplers and loaders are refcounted objects, not scoped: a constructor
   returns one you own (tl_dataset_free / tl_sampler_free / tl_loader_free drop it), and whatever
   takes one (tl_subset, tl_concat_dataset, tl_random_split, tl_loader_new) keeps its own reference,
   so you may free yours at once. Tensors are borrowed as everywhere (tl_tensor_dataset keeps its
   own references). A sample or batch holds NEW references, as every tensor the library returns: in
   a scope they belong to it, outside one the caller releases them; tl_sample_release /
   tl_batch_release are right in both cases (a scope that owns a field forgets it). Callbacks (get_item, transform, collate) run inside a scope the library opens:
   return new references and never release what you replace, the scope does that.

   Threads. With num_workers > 0, get_item, transforms and collate run on worker threads, several
   at once. They may read tensors other threads use but must not create views of them, retain or
   release them (refcounts are plain ints): copy what you return, as the built-in datasets do. A
   worker's error reaches the caller of tl_loader_next with its message. Worker threads seed their
   own default generator with base_seed + k before building batch k (torch seeds worker i with
   base_seed + i), so random transforms give the same batches for any num_workers > 0 and replay
   exactly after tl_loader_set_position. TL_NO_THREADS or TL_NO_THREAD_LOCALS builds (and a failed
   thread start) load inline, as num_workers = 0 does. */

#define TL_MAX_FIELDS 8 /* tensors per sample / batch */

/* One sample: n tensors (new references; fields n..TL_MAX_FIELDS-1 are NULL). */
typedef struct tl_sample {
    int n;
    tl_tensor *t[TL_MAX_FIELDS];
} tl_sample;

typedef struct tl_dataset tl_dataset; /* opaque, refcounted (tl_dataset_free) */
/* get_item(user, index, out): fill out->n and out->t[0..n) with new references for sample index
   (0 <= index < len); return TL_OK or an error status after recording an error (TL__FAIL-style). */
typedef tl_status (*tl_get_item_fn)(void *user, int64_t index, tl_sample *out);
/* transform(sample, user): replace fields of sample with new tensors (normalise, augment). */
typedef tl_status (*tl_transform_fn)(tl_sample *sample, void *user);

/* A map-style dataset of len samples (torch.utils.data.Dataset with __len__ and __getitem__).
   release(user) runs when the dataset is freed (may be NULL). NULL on bad arguments or OOM. */
TLDEF tl_dataset *tl_dataset_new(int64_t len, tl_get_item_fn get_item, void *user, void (*release)(void *user));
TLDEF tl_dataset *tl_dataset_retain(tl_dataset *ds); /* one more reference; NULL-safe */
TLDEF void tl_dataset_free(tl_dataset *ds);          /* drops one reference; NULL-safe */
TLDEF int64_t tl_dataset_len(const tl_dataset *ds);  /* len(ds); -1 for NULL */
/* ds[index]: get_item, then the dataset's transform. out gets new references (cleared on error).
   TL_ERR_INDEX when index is outside [0, len). */
TLDEF tl_status tl_dataset_get(tl_dataset *ds, int64_t index, tl_sample *out);
/* Sets the per-sample transform applied after get_item (the transform= of torchvision datasets), so a
   data set can stay compact (uint8 images) and be converted as batches are made. fn NULL removes it.
   Not while a loader over ds is iterating. */
TLDEF tl_status tl_dataset_set_transform(tl_dataset *ds, tl_transform_fn fn, void *user);
/* Releases the fields, whether a scope or you own them (a scope owning one forgets it), and zeroes s. */
TLDEF void tl_sample_release(tl_sample *s);

/* TensorDataset(*tensors): sample i is (tensors[0][i], ..., tensors[n-1][i]), copies of the rows
   (a 1-D tensor gives 0-dim fields). Every tensor needs the same size of dim 0, else TL_ERR_SHAPE
   ("Size mismatch between tensors"). Keeps its own references (contiguous copies if needed). */
TLDEF tl_dataset *tl_tensor_dataset(int n, tl_tensor *const *tensors);
/* Subset(ds, indices): sample i is ds[indices[i]]; every index must be in [0, len(ds)). */
TLDEF tl_dataset *tl_subset(tl_dataset *ds, int64_t n, const int64_t *indices);
/* ConcatDataset(datasets): the samples of datasets[0], then datasets[1], ... */
TLDEF tl_dataset *tl_concat_dataset(int n, tl_dataset *const *datasets);
/* random_split(ds, lengths, generator=g): n Subsets written to out (owned by the caller). lengths
   are sample counts summing to len(ds), or fractions summing to 1 (floor(len * f) each, the remainder
   handed out one by one from the first split, as torch). The order is randperm(len(ds)) from g
   (NULL: this thread's default generator, as torch's default_generator). */
TLDEF tl_status tl_random_split(tl_dataset *ds, int n, const double *lengths, tl_generator *g, tl_dataset **out);

/* Samplers: each epoch, one sequence of dataset indices. A sampler without its own generator
   (g NULL) draws from the default generator of the thread that starts the epoch. */
typedef struct tl_sampler tl_sampler;
/* Your own sampler: fn returns one epoch's indices as a new int64 [num_samples] tensor, drawing
   randomness only from g (so a loader position can replay it). */
typedef tl_tensor *(*tl_sampler_fn)(void *user, int64_t dataset_len, tl_generator *g);
/* num_samples <= 0 means len(dataset); g may be NULL; release(user) runs when it is freed. */
TLDEF tl_sampler *tl_sampler_new(tl_sampler_fn fn, void *user, void (*release)(void *user), int64_t num_samples,
                                 tl_generator *g);
TLDEF tl_sampler *tl_sequential_sampler(void); /* SequentialSampler: 0, 1, ..., len-1 */
/* RandomSampler(ds, replacement, num_samples (<= 0: len), generator=g): torch's streams, including
   the private generator seeded from the default one when g is NULL. */
TLDEF tl_sampler *tl_random_sampler(int replacement, int64_t num_samples, tl_generator *g);
/* WeightedRandomSampler(weights [n], num_samples > 0, replacement, generator=g) (multinomial over
   weights as float64; the dataset must have n samples). Copies weights. */
TLDEF tl_sampler *tl_weighted_random_sampler(const tl_tensor *weights, int64_t num_samples, int replacement,
                                             tl_generator *g);
/* SubsetRandomSampler(indices, generator=g): the given indices in a random order. Copies them. */
TLDEF tl_sampler *tl_subset_random_sampler(int64_t n, const int64_t *indices, tl_generator *g);
TLDEF void tl_sampler_free(tl_sampler *s); /* drops one reference; NULL-safe */
/* len(sampler) for a dataset of dataset_len samples. */
TLDEF int64_t tl_sampler_len(const tl_sampler *s, int64_t dataset_len);
/* list(iter(sampler)): one epoch of indices as a new int64 tensor (draws as the loader would). */
TLDEF tl_tensor *tl_sampler_indices(tl_sampler *s, int64_t dataset_len);

/* A batch: n fields (new references), x and y repeat t[0] and t[1] for `for xb, yb in loader`
   (the same references, not extra ones). size: samples in it; index: its position in the epoch. */
typedef struct tl_batch {
    int n;
    tl_tensor *t[TL_MAX_FIELDS];
    tl_tensor *x, *y;
    int64_t size, index;
} tl_batch;
/* Releases the fields, whether a scope or you own them (as tl_sample_release), and zeroes b. */
TLDEF void tl_batch_release(tl_batch *b);
/* collate(n, samples, out, user): fill out->n and out->t[] with new references (default: stack). */
typedef tl_status (*tl_collate_fn)(int n, tl_sample *samples, tl_batch *out, void *user);
/* The default collate: out->t[f] = stack of field f of every sample along a new dim 0. */
TLDEF tl_status tl_default_collate(int n, tl_sample *samples, tl_batch *out, void *user);

/* DataLoader options; a zeroed struct is torch's defaults (batch_size 1, no shuffle, ...). */
typedef struct tl_loader_opts {
    int64_t batch_size;      /* 0 means 1 */
    int shuffle;             /* a new random order every epoch (RandomSampler(generator=generator)) */
    int drop_last;           /* drop the last incomplete batch */
    int num_workers;         /* worker threads; 0 loads in tl_loader_next's thread */
    int prefetch_factor;     /* batches prepared ahead per worker; 0 means 2 (torch's default) */
    tl_generator *generator; /* shuffle order and base seed; NULL: the default generator (borrowed) */
    tl_sampler *sampler;     /* NULL: sequential, or random with shuffle (not both); the loader keeps a reference */
    tl_collate_fn collate;   /* NULL: tl_default_collate */
    void *collate_user;
} tl_loader_opts;
typedef struct tl_loader tl_loader; /* opaque; one thread drives it (its workers are its own) */

/* DataLoader(ds, **opts): keeps its own references to ds and the sampler. NULL on bad options. */
TLDEF tl_loader *tl_loader_new(tl_dataset *ds, const tl_loader_opts *opts);
TLDEF void tl_loader_free(tl_loader *l); /* stops the workers, releases undelivered batches; NULL-safe */
/* len(DataLoader): batches per epoch (ceil or floor of len(sampler) / batch_size with drop_last). */
TLDEF int64_t tl_loader_len(const tl_loader *l);
/* The next batch into *out: TL_OK; TL_EPOCH_END (positive, not an error; *out zeroed) after the
   epoch's last batch, and the call after that starts the next epoch (torch's iter(loader): the base
   seed and the sampler's draws happen then); or an error (negative) naming the batch, with the
   message of the failing get_item/transform/collate. A failed batch counts as delivered. */
TLDEF tl_status tl_loader_next(tl_loader *l, tl_batch *out);
/* Abandons the current epoch (like leaving a for loop early): the next call starts a new epoch. */
TLDEF tl_status tl_loader_reset(tl_loader *l);
TLDEF int64_t tl_loader_epoch(const tl_loader *l); /* index of the current (or next) epoch, from 0 */
/* Where the loader stands, as a tl_value a checkpoint can hold: a dict with 'epoch', 'batch'
   (batches delivered in this epoch), 'started', 'base_seed', 'generator_state' (uint8 [5056]: the
   sampler generator's state before this epoch's order was drawn, or None), 'loader_generator' and
   'sampler_generator' (the current states of opts.generator and the sampler's generator, None when
   they are the default one), 'num_samples' and 'batch_size'. New value (tl_value_free). */
TLDEF tl_value *tl_loader_position(const tl_loader *l);
/* Restores a position from tl_loader_position (same data set length, sampler and batch size):
   the interrupted epoch continues with the same order from its next batch, and later epochs follow
   as they would have. The order is redrawn from a private copy of the saved state; explicit
   generators (opts.generator, the sampler's) are set to their saved states. The default generator is
   not touched: restore it yourself (tl_set_rng_state) as torch checkpoints do. */
TLDEF tl_status tl_loader_set_position(tl_loader *l, const tl_value *pos);

/* ---- files ---- */
/* IDX (the MNIST / Fashion-MNIST format), raw or gzip-compressed (detected by its magic): a tensor
   of the file's dtype (uint8, int8, int16, int32, float32, float64) and shape. */
TLDEF tl_tensor *tl_load_idx_from_buffer(const void *data, size_t size);
/* MNIST-style data set in root: train-images-idx3-ubyte(.gz) and train-labels-idx1-ubyte(.gz)
   (or t10k-* when train is 0): images uint8 [N, 1, 28, 28] (0..255, torchvision's .data with the
   channel dim ToTensor adds), labels int64 [N]. Fashion-MNIST and MNIST use the same names. */
#ifndef TL_NO_STDIO
TLDEF tl_tensor *tl_load_idx(const char *path);
TLDEF tl_dataset *tl_mnist_dataset(const char *root, int train);
#endif
/* .npy (numpy.save's format 1.0-3.0): every dtype numpy and tensorlite share (bool, uint8, int8,
   int16, int32, int64, float16, float32, float64), either byte order, C or Fortran order (read into
   a C-order tensor). numpy has no bfloat16: saving one is TL_ERR_DTYPE. */
TLDEF tl_tensor *tl_load_npy_from_buffer(const void *data, size_t size);
/* The .npy bytes of t (C order) into a new buffer (free with tl_free_buffer). */
TLDEF tl_status tl_save_npy_to_buffer(const tl_tensor *t, void **data, size_t *size);
/* .npz (numpy.savez / savez_compressed): a dict of name -> tensor in archive order. */
TLDEF tl_value *tl_load_npz_from_buffer(const void *data, size_t size);
#ifndef TL_NO_STDIO
TLDEF tl_tensor *tl_load_npy(const char *path);
TLDEF tl_status tl_save_npy(const tl_tensor *t, const char *path); /* atomic, like tl_save */
TLDEF tl_value *tl_load_npz(const char *path);
#endif
/* CSV of numbers: rows of delimiter-separated numbers (spaces around them allowed, blank lines
   skipped) into a [rows, cols] tensor. A zeroed tl_csv_opts means ',' , no header, float32. */
typedef struct tl_csv_opts {
    char delimiter; /* 0 means ',' */
    int header;     /* 1: skip the first line (column names) */
    tl_dtype dtype; /* result dtype; integer dtypes parse integers exactly */
} tl_csv_opts;
TLDEF tl_tensor *tl_load_csv_from_buffer(const void *data, size_t size, const tl_csv_opts *opts);
#ifndef TL_NO_STDIO
TLDEF tl_tensor *tl_load_csv(const char *path, const tl_csv_opts *opts);
#endif

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

/* ---- C++11 conveniences (C++ linkage, so they can overload): what TL_SHAPE/TL_DIMS expand to,
   and the calls that take a C array literal in C, taking a braced list instead:
       tl_module *net = tl_nn_sequential({tl_nn_linear(4, 8, 1), tl_nn_relu()});
       tl_tensor *y = tl_cat({a, b}, 0); */
#include <initializer_list>
struct tl_cpp_shape_t {
    int n;
    int64_t v[TL_MAX_DIMS + 1]; /* one spare: a list that is too long is refused by the call, not read past */
};
inline tl_cpp_shape_t tl_cpp_shape(std::initializer_list<int64_t> l) {
    tl_cpp_shape_t s;
    int i = 0;
    for (const int64_t *p = l.begin(); p != l.end() && i <= TL_MAX_DIMS; ++p) s.v[i++] = *p;
    s.n = (int)l.size() > TL_MAX_DIMS ? TL_MAX_DIMS + 1 : (int)l.size();
    for (; i <= TL_MAX_DIMS; i++) s.v[i] = 0;
    return s;
}
struct tl_cpp_dims_t {
    int n;
    int v[TL_MAX_DIMS + 1];
};
inline tl_cpp_dims_t tl_cpp_dims(std::initializer_list<int> l) {
    tl_cpp_dims_t s;
    int i = 0;
    for (const int *p = l.begin(); p != l.end() && i <= TL_MAX_DIMS; ++p) s.v[i++] = *p;
    s.n = (int)l.size() > TL_MAX_DIMS ? TL_MAX_DIMS + 1 : (int)l.size();
    for (; i <= TL_MAX_DIMS; i++) s.v[i] = 0;
    return s;
}
inline tl_module *tl_nn_sequential(std::initializer_list<tl_module *> mods) {
    return tl_nn_sequential((int)mods.size(), mods.begin());
}
inline tl_module *tl_nn_module_list(std::initializer_list<tl_module *> mods) {
    return tl_nn_module_list((int)mods.size(), mods.begin());
}
inline tl_tensor *tl_cat(std::initializer_list<tl_tensor *> ts, int dim) { return tl_cat((int)ts.size(), ts.begin(), dim); }
inline tl_tensor *tl_stack(std::initializer_list<tl_tensor *> ts, int dim) {
    return tl_stack((int)ts.size(), ts.begin(), dim);
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

/* TL_DEBUG (on unless NDEBUG): checks that cost a little, such as refusing a tl_release of a
   reference the caller does not hold. */
#ifndef TL_DEBUG
#ifdef NDEBUG
#define TL_DEBUG 0
#else
#define TL_DEBUG 1
#endif
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
#define TL__CACHE_PER_BUCKET 256 /* a batch of 64 samples frees 128 blocks of one size */
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
    int caller_refs;                 /* references handed to the caller outside any scope: the ones
                                        tl_release may drop (the others belong to scopes, containers,
                                        modules or the graph) */
    const char *made_by;             /* the call that made it ("tl_matmul"), for misuse messages */
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
    char msg[4096];
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
    tl_tensor *free_tensors;             /* released headers, oldest first, linked through ->grad: */
    tl_tensor *free_tensors_tail;        /* reused first-in first-out, so a stale pointer released
                                            twice still finds its dead header (refcount 0) */
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

/* Overflow-checked sizes. A byte count that does not fit saturates to SIZE_MAX, and tl__malloc
   refuses anything above PTRDIFF_MAX (no allocator can return that much), so an overflowing size
   computation becomes an ordinary out-of-memory failure instead of a short buffer. */
static size_t tl__szmul(size_t a, size_t b) { return (b && a > SIZE_MAX / b) ? SIZE_MAX : a * b; }
static size_t tl__szadd(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }
/* n elements of esz bytes for an int64 count (negative counts saturate too). */
static size_t tl__szn(int64_t n, size_t esz) {
    if (n < 0 || (uint64_t)n > (uint64_t)SIZE_MAX) return SIZE_MAX;
    return tl__szmul((size_t)n, esz);
}
static void *tl__malloc(size_t n) {
    if (n == 0) n = 1;
    if (n > (size_t)PTRDIFF_MAX) return NULL;
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
    char tmp[4096];
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

/* ---- branch-free ReLU loops (random signs make the branchy form mispredict half the time) ----
   forward: x > 0 ? x : (NaN stays NaN, -0 becomes +0); backward: out > 0 ? g : 0. SSE2 on x86-64
   (always present there), a plain loop elsewhere. */
#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define TL__SSE2 1
#else
#define TL__SSE2 0
#endif
static void tl__relu_f32(int64_t n, const float *a, float *o) {
    int64_t i = 0;
#if TL__SSE2
    const __m128 z = _mm_setzero_ps();
    for (; i + 4 <= n; i += 4) {
        __m128 x = _mm_loadu_ps(a + i), r = _mm_max_ps(x, z), nan = _mm_cmpunord_ps(x, x);
        _mm_storeu_ps(o + i, _mm_or_ps(_mm_and_ps(nan, x), _mm_andnot_ps(nan, r)));
    }
#endif
    for (; i < n; i++) o[i] = a[i] != a[i] ? a[i] : (a[i] > 0 ? a[i] : 0.0f);
}
static void tl__relu_bwd_f32(int64_t n, const float *g, const float *out, float *o) {
    int64_t i = 0;
#if TL__SSE2
    const __m128 z = _mm_setzero_ps();
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(o + i, _mm_and_ps(_mm_cmpgt_ps(_mm_loadu_ps(out + i), z), _mm_loadu_ps(g + i)));
#endif
    for (; i < n; i++) o[i] = out[i] > 0 ? g[i] : 0.0f;
}

/* ---- threads: the few primitives the worker pool and DataLoader workers need ----
   POSIX threads where available; with TL_NO_THREADS (or on a platform without them) there are no
   threads: tl__thread_start fails, so callers run the work inline, and the locks are no-ops.
   (glibc 2.34+ has pthreads in libc; older systems link with -pthread.) */
#if !defined(TL_NO_THREADS) && (defined(__unix__) || defined(__APPLE__))
#include <pthread.h>
#define TL__HAVE_THREADS 1
typedef struct tl__mutex { pthread_mutex_t m; } tl__mutex;
typedef struct tl__cond { pthread_cond_t c; } tl__cond;
typedef struct tl__thread { pthread_t t; } tl__thread;
TL__PRIVATE int tl__mutex_init(tl__mutex *m) { return pthread_mutex_init(&m->m, NULL) == 0; }
TL__PRIVATE void tl__mutex_destroy(tl__mutex *m) { pthread_mutex_destroy(&m->m); }
TL__PRIVATE void tl__mutex_lock(tl__mutex *m) { pthread_mutex_lock(&m->m); }
TL__PRIVATE void tl__mutex_unlock(tl__mutex *m) { pthread_mutex_unlock(&m->m); }
TL__PRIVATE int tl__cond_init(tl__cond *c) { return pthread_cond_init(&c->c, NULL) == 0; }
TL__PRIVATE void tl__cond_destroy(tl__cond *c) { pthread_cond_destroy(&c->c); }
TL__PRIVATE void tl__cond_wait(tl__cond *c, tl__mutex *m) { pthread_cond_wait(&c->c, &m->m); }
TL__PRIVATE void tl__cond_signal(tl__cond *c) { pthread_cond_signal(&c->c); }
TL__PRIVATE void tl__cond_broadcast(tl__cond *c) { pthread_cond_broadcast(&c->c); }
/* Starts fn(arg) on a new thread: 1 on success, 0 when no thread could be made. */
TL__PRIVATE int tl__thread_start(tl__thread *t, void *(*fn)(void *), void *arg) {
    return pthread_create(&t->t, NULL, fn, arg) == 0;
}
TL__PRIVATE void tl__thread_join(tl__thread *t) { pthread_join(t->t, NULL); }
#else
#define TL__HAVE_THREADS 0
typedef struct tl__mutex { int unused; } tl__mutex;
typedef struct tl__cond { int unused; } tl__cond;
typedef struct tl__thread { int unused; } tl__thread;
TL__PRIVATE int tl__mutex_init(tl__mutex *m) { (void)m; return 1; }
TL__PRIVATE void tl__mutex_destroy(tl__mutex *m) { (void)m; }
TL__PRIVATE void tl__mutex_lock(tl__mutex *m) { (void)m; }
TL__PRIVATE void tl__mutex_unlock(tl__mutex *m) { (void)m; }
TL__PRIVATE int tl__cond_init(tl__cond *c) { (void)c; return 1; }
TL__PRIVATE void tl__cond_destroy(tl__cond *c) { (void)c; }
TL__PRIVATE void tl__cond_wait(tl__cond *c, tl__mutex *m) { (void)c; (void)m; }
TL__PRIVATE void tl__cond_signal(tl__cond *c) { (void)c; }
TL__PRIVATE void tl__cond_broadcast(tl__cond *c) { (void)c; }
TL__PRIVATE int tl__thread_start(tl__thread *t, void *(*fn)(void *), void *arg) { (void)t; (void)fn; (void)arg; return 0; }
TL__PRIVATE void tl__thread_join(tl__thread *t) { (void)t; }
#endif

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
#if TL__HAVE_THREADS
static void tl__pool_stop(void);
#endif
TLDEF void tl_shutdown(void) {
    tl__cache_flush();
#if TL__HAVE_THREADS
    tl__pool_stop();
#endif
    if (tl__tls.scope_items && tl__tls.scope_items != tl__tls.scope_inline && tl__tls.scope_depth == 0) {
        tl__free(tl__tls.scope_items);
        tl__tls.scope_items = NULL;
        tl__tls.scope_cap = 0;
    }
}

/* ===== >>errors =============================================================================== */

TLDEF tl_status tl_last_status(void) { return tl__tls.status; }
/* Not inlined: callers copying the message into their own buffers should not get gcc's
   format-truncation warnings sized from the 4 KiB message buffer. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
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
    case TL_EPOCH_END: return "TL_EPOCH_END";
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

/* Scratch memory for a kernel (GEMM panels, im2col columns), from this thread's storage cache, so
   a steady-state step reuses the same blocks; *hold is what tl__scratch_free gives back. With
   TL_NO_THREAD_LOCALS the cache is one global that the GEMM pool's workers must not touch, so the
   memory comes from the allocator directly. */
static void *tl__scratch(size_t nbytes, tl_storage **hold) {
#if defined(TL_NO_THREAD_LOCALS) || defined(TL_NO_CACHE)
    *hold = NULL;
    return tl__malloc(nbytes);
#else
    *hold = tl__storage_new(nbytes);
    return *hold ? (*hold)->data : NULL;
#endif
}
static void tl__scratch_free(void *p, tl_storage *hold) {
    if (hold) tl__storage_release(hold);
    else tl__free(p);
}

/* A tensor header with no storage; shape/stride zeroed. Headers and graph nodes are recycled
   through per-thread free lists. */
static tl_tensor *tl__header(void) {
    tl_tensor *t = tl__tls.free_tensors;
    if (t) {
        tl__tls.free_tensors = t->grad;
        if (!tl__tls.free_tensors) tl__tls.free_tensors_tail = NULL;
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
        t->refcount = 0; /* dead: tl_release recognises a second release */
        t->grad = NULL;
        if (tl__tls.free_tensors_tail) tl__tls.free_tensors_tail->grad = t;
        else tl__tls.free_tensors = t;
        tl__tls.free_tensors_tail = t;
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
    tl__tls.free_tensors_tail = NULL;
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
    if (total * (double)tl__dtype_sizes[dt] > 9.0e18 || total * (double)tl__dtype_sizes[dt] > (double)PTRDIFF_MAX) {
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
    t->made_by = op;
    { int i_; for (i_ = 0; i_ < ndim && i_ < TL_MAX_DIMS; i_++) t->shape[i_] = shape[i_]; }
    tl__set_contig_strides(t);
    return t;
}
static tl_tensor *tl__new_like(const char *op, const tl_tensor *t, tl_dtype dt) {
    return tl__new(op, t->ndim, t->shape, dt);
}

/* A new header sharing src's storage and metadata (the start of every view). */
/* op must be a string literal (made_by keeps the pointer). NULL when out of memory, nothing recorded. */
static tl_tensor *tl__alias_quiet(const char *op, const tl_tensor *src) {
    int d;
    tl_tensor *t = tl__header();
    if (!t) return NULL;
    t->storage = src->storage;
    t->storage->refcount++;
    t->ndim = src->ndim;
    t->dtype = src->dtype;
    t->made_by = op;
    t->offset = src->offset;
    for (d = 0; d < src->ndim; d++) {
        t->shape[d] = src->shape[d];
        t->stride[d] = src->stride[d];
    }
    return t;
}
static tl_tensor *tl__alias(const char *op, const tl_tensor *src) {
    tl_tensor *t = tl__alias_quiet(op, src);
    if (!t) return TL__FAILN(TL_ERR_OOM, "%s: out of memory allocating a view of %s", op, TL__SH(src));
    return t;
}

/* ---- autograd recording (the backward engine is in >>autograd) ---- */

static int tl__grad_mode(void) { return tl__tls.grad_off == 0 && tl__tls.record_off == 0; }
/* A view whose base gained history after the view was taken (an in-place op on the base)
   requires grad too; tl__view_refresh gives it that history when it is next recorded. */
#define TL__STALE_VIEW(t) ((t)->base && (t)->view_ver != (t)->storage->version && (t)->base->requires_grad)
#define TL__NEEDS_GRAD(t) ((t) && ((t)->requires_grad || TL__STALE_VIEW(t)))
/* True when an op on these inputs must be recorded: grad mode on and an input requires grad. */
static int tl__wants_grad(const tl_tensor *a, const tl_tensor *b, const tl_tensor *c) {
    if (!tl__grad_mode()) return 0;
    return TL__NEEDS_GRAD(a) || TL__NEEDS_GRAD(b) || TL__NEEDS_GRAD(c);
}
static int tl__view_refresh(tl_tensor *v);
static const char *tl__op_name(int op); /* "conv2d": the op table comes later (>>engine) */
/* What a node keeps of an input: a leaf that requires grad itself (backward delivers its .grad),
   anything else as a detached alias, so that a later in-place op giving the tensor a new history
   can never make a reference cycle through the graph. */
static tl_tensor *tl__graph_hold(const tl_tensor *t, int op) {
    tl_tensor *a;
    if (t->requires_grad && !t->grad_fn) {
        ((tl_tensor *)t)->refcount++;
        return (tl_tensor *)t;
    }
    a = tl__alias_quiet("autograd", t);
    if (!a) TL__FAIL(TL_ERR_OOM, "autograd: out of memory saving the input %s of %s for backward", TL__SH(t),
                     op >= 0 ? tl__op_name(op) : "a join");
    return a;
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
        TL__FAIL(TL_ERR_OOM, "autograd: out of memory recording %s on %s", tl__op_name(op), TL__SH(out));
        return 0;
    }
    n->refcount = 1;
    n->op = op;
    n->seq = ++tl__tls.seq;
    ins[0] = a;
    ins[1] = b;
    ins[2] = c;
    for (k = 0; k < 3; k++) {
        n->in[k] = ins[k] ? tl__graph_hold(ins[k], op) : NULL;
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
    if (!t) return t;
    if (s->scope_depth == 0) {
        t->caller_refs++;
        return t;
    }
    if (!s->scope_items) {
        s->scope_items = s->scope_inline;
        s->scope_cap = TL__SCOPE_INLINE;
    }
    if (s->scope_n == s->scope_cap) {
        int cap = s->scope_cap * 2;
        tl_tensor **items = (tl_tensor **)tl__malloc(tl__szn(cap, sizeof(tl_tensor *)));
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
/* The caller's release. Misuse is caught here, at the call, not as a use-after-free much later:
   a tensor whose header is dead (a second release) is left alone with an error, and in TL_DEBUG
   builds so is a tensor the caller holds no reference to (one returned inside a scope, which
   releases it itself, or one a container or module owns). */
TLDEF void tl_release(tl_tensor *t) {
    if (!t) return;
    if (t->refcount <= 0) {
        TL__FAIL(TL_ERR_STATE, "tl_release: the %s %s tensor%s%s was released already (a second release of the "
                 "same reference)", tl__dtype_names[TL__VALID_DT(t->dtype) ? t->dtype : 0], TL__SH(t),
                 t->made_by ? " made by " : "", t->made_by ? t->made_by : "");
        return;
    }
#if TL_DEBUG
    if (t->caller_refs <= 0) {
        TL__FAIL(TL_ERR_STATE, "tl_release: the %s %s tensor%s%s is not the caller's to release: %s", TL__DT(t), TL__SH(t),
                 t->made_by ? " made by " : "", t->made_by ? t->made_by : "",
                 tl__tls.scope_depth > 0 ? "it was returned inside a scope, which releases it at tl_scope_end "
                                           "(tl_keep(t) hands it to the caller instead)"
                                         : "its references belong to a scope, a container, a module or the graph");
        return;
    }
#endif
    if (t->caller_refs > 0) t->caller_refs--;
    tl__release(t);
}

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
    while (s->scope_n > mark) {
        tl_tensor *t = s->scope_items[--s->scope_n];
        if (t->refcount <= 0) { /* the caller released the scope's reference (NDEBUG builds let that through) */
            TL__FAIL(TL_ERR_STATE, "tl_scope_end: the %s %s tensor%s%s owned by this scope was released by the caller "
                     "already (tl_release of a reference the scope owned)", TL__DT(t), TL__SH(t),
                     t->made_by ? " made by " : "", t->made_by ? t->made_by : "");
            continue;
        }
        tl__release(t);
    }
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
                t->caller_refs++;
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

/* The elementwise engine's plan. An op like tl_add(a [4,1,3] float32, b [5,3] float64) runs in
   four steps: (1) the output shape is the broadcast of the inputs ([4,5,3]) and its dtype torch's
   promotion (float64); (2) the output is allocated contiguous and every operand gets byte strides
   aligned to that shape, 0 where it broadcasts (a: [12,0,4]*4 bytes, b: [0,3,1]*8 bytes);
   (3) tl__iter_coalesce drops size-1 dims and merges neighbours that are contiguous for EVERY
   operand, so a plain contiguous add of two [64,128] tensors becomes one run of 8192 elements;
   (4) tl__iter_run walks the outer dims like an odometer and calls the inner function once per
   innermost run with (n, pointers, byte strides). Inner functions compute in a compute type
   (float32 for float32/half/bfloat16, double for float64, int64 for integers and bool): a run is
   loaded and converted into a buffer (tl__load), computed, and stored back (tl__store), in chunks,
   which is how mixed dtypes share one kernel per op. Operands already in the compute type with
   unit stride are used in place, without the buffer copy. */
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
    X(AS_STRIDED, "as_strided", "AsStridedBackward0", view) X(COPY_SLICES, "copy_slices", "CopySlices", view) \
    X(CONV2D, "conv2d", "ConvolutionBackward0", conv) X(MAX_POOL2D, "max_pool2d", "MaxPool2DWithIndicesBackward0", pool) \
    X(AVG_POOL2D, "avg_pool2d", "AvgPool2DBackward0", pool) X(NLL_LOSS, "nll_loss", "NllLossBackward0", nll) \
    X(ADAPTIVE_AVG_POOL2D, "adaptive_avg_pool2d", "AdaptiveAvgPool2DBackward0", adaptive)                   \
    X(BCE, "binary_cross_entropy", "BinaryCrossEntropyBackward0", bce)                              \
    X(SMOOTH_L1, "smooth_l1_loss", "SmoothL1LossBackward0", smoothl1)                              \
    X(FLOOR, "floor", "FloorBackward0", unary) X(CEIL, "ceil", "CeilBackward0", unary)             \
    X(ROUND, "round", "RoundBackward0", unary) X(TRUNC, "trunc", "TruncBackward0", unary)          \
    X(REMAINDER, "remainder", "RemainderBackward0", binary) X(FMOD, "fmod", "FmodBackward0", binary) \
    X(CUMPROD, "cumprod", "CumprodBackward0", lane)                                                \
    X(SCATTER, "scatter", "ScatterBackward0", scatter)                                             \
    X(SCATTER_ADD, "scatter_add", "ScatterAddBackward0", scatter)                                  \
    X(INDEX_ADD, "index_add", "IndexAddBackward0", scatter)                                        \
    X(CONV_TRANSPOSE2D, "conv_transpose2d", "ConvolutionBackward0", convt)
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
static const char *tl__op_name(int op) { return op >= 0 && op < TL__OP_COUNT ? tl__op_names[op] : "?"; }
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
    nd->ins = (tl_tensor **)tl__malloc(tl__szn(n, sizeof(tl_tensor *)));
    nd->ins_next = (tl__node **)tl__malloc(tl__szn(n, sizeof(tl__node *)));
    if (!nd->ins || !nd->ins_next) {
        TL__FAIL(TL_ERR_OOM, "autograd: out of memory recording a join of %d tensors", n);
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!tl__view_refresh(ts[i])) return 0;
        nd->ins[i] = tl__graph_hold(ts[i], -1);
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
        if (TL__NEEDS_GRAD(ts[i])) return 1;
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
        case TL__OP_RELU:                                                                          \
            if (sizeof(T) == sizeof(float)) tl__relu_f32(n, (const float *)(const void *)a, (float *)(void *)o); \
            else TL__LOOP(a[i] > 0 ? a[i] : (a[i] != a[i] ? a[i] : (T)0));                         \
            break;                                                                                 \
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
        case TL__OP_FLOOR: TL__LOOP(FN(floor)(a[i])); break;                                       \
        case TL__OP_CEIL: TL__LOOP(FN(ceil)(a[i])); break;                                         \
        case TL__OP_ROUND: TL__LOOP(FN(nearbyint)(a[i])); break; /* half to even (default mode) */ \
        case TL__OP_TRUNC: TL__LOOP(FN(trunc)(a[i])); break;                                       \
        case TL__OP_FMOD: TL__LOOP(FN(fmod)(a[i], b[i])); break;                                   \
        case TL__OP_REMAINDER: /* torch: fmod, then moved to the divisor's sign */                 \
            for (i = 0; i < n; i++) {                                                              \
                T m = FN(fmod)(a[i], b[i]);                                                        \
                o[i] = (m != 0 && ((b[i] < 0) != (m < 0))) ? m + b[i] : m;                         \
            }                                                                                      \
            break;                                                                                 \
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
    case TL__OP_FLOOR: case TL__OP_CEIL: case TL__OP_ROUND: case TL__OP_TRUNC: TL__LOOP(a[i]); break;
    /* a zero divisor was refused before the kernel runs; INT64_MIN % -1 is 0 without overflow */
    case TL__OP_FMOD: TL__LOOP(b[i] == 0 || b[i] == -1 ? 0 : a[i] % b[i]); break;
    case TL__OP_REMAINDER:
        for (i = 0; i < n; i++) {
            int64_t m = b[i] == 0 || b[i] == -1 ? 0 : a[i] % b[i];
            o[i] = (m != 0 && ((b[i] < 0) != (m < 0))) ? m + b[i] : m;
        }
        break;
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
        case TL__OP_RELU:                                                                          \
            if (sizeof(T) == sizeof(float))                                                        \
                tl__relu_bwd_f32(n, (const float *)(const void *)a, (const float *)(const void *)c, (float *)(void *)o); \
            else TL__LOOP(c[i] > 0 ? a[i] : (T)0);                                                 \
            break;                                                                                 \
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
        case TL__OP_FLOOR: case TL__OP_CEIL: case TL__OP_ROUND: case TL__OP_TRUNC:                 \
            TL__LOOP((T)0); break; /* piecewise constant: torch's zeros_like(grad) */             \
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

/* Records op id on out (inputs t, index, src) with dim d and the index saved for backward: the
   indexing ops' shared tail. 0 (error recorded) on failure. */
static int tl__record_indexed(tl_tensor *out, tl__op id, const tl_tensor *t, const tl_tensor *index,
                              const tl_tensor *src, int d) {
    if (!tl__record(out, id, t, index, src)) return 0;
    if (out->grad_fn) {
        out->grad_fn->ip[0] = d;
        tl__save_in(out->grad_fn, 1);
    }
    return 1;
}

static tl_tensor *tl__index_select_impl(const char *op, const tl_tensor *t, int dim, const tl_tensor *index);
TLDEF tl_tensor *tl_index_select(const tl_tensor *t, int dim, const tl_tensor *index) {
    TL__CHECK2("tl_index_select", t, index);
    return tl__ret(tl__index_select_impl("tl_index_select", t, dim, index));
}
static tl_tensor *tl__index_select_impl(const char *op, const tl_tensor *t, int dim, const tl_tensor *index) {
    int64_t shape[TL_MAX_DIMS], n, i;
    tl_tensor *out;
    int d;
    d = tl__wrap_dim(op, dim, t->ndim, t);
    if (d < 0) return NULL;
    if (!tl__index_dtype_ok(op, index)) return NULL;
    if (index->ndim > 1)
        return TL__FAILN(TL_ERR_SHAPE, "%s: index should have 0 or 1 dimensions, got %s", op, TL__SH(index));
    n = tl_numel(index);
    for (i = 0; i < n; i++) {
        int64_t v = tl__index_at(index, index->offset + (index->ndim ? i * index->stride[0] : 0));
        int64_t size = t->ndim ? t->shape[d] : 1;
        if (v < 0 || v >= size)
            return TL__FAILN(TL_ERR_INDEX, "%s: index %lld is out of bounds for dimension %d with size "
                             "%lld (input %s)", op, (long long)v, d, (long long)size, TL__SH(t));
    }
    if (t->ndim == 0) return tl__copy_as(op, t, t->dtype);
    memcpy(shape, t->shape, sizeof shape);
    shape[d] = n;
    out = tl__new(op, t->ndim, shape, t->dtype);
    if (!out) return NULL;
    for (i = 0; i < n; i++) {
        int64_t v = tl__index_at(index, index->offset + (index->ndim ? i * index->stride[0] : 0));
        tl_tensor *src = tl__narrow(op, t, d, v, 1);
        tl_tensor *dst = src ? tl__narrow(op, out, d, i, 1) : NULL;
        if (!dst) {
            tl__release(src);
            tl__release(out);
            return NULL;
        }
        tl__copy_into(dst, src);
        tl__release(src);
        tl__release(dst);
    }
    if (tl__wants_grad(t, NULL, NULL) && !tl__record_indexed(out, TL__OP_INDEX_SELECT, t, index, NULL, d)) {
        tl__release(out);
        return NULL;
    }
    return out;
}

/* out[i][j][k] = t[index[i][j][k]][j][k] (dim 0), and likewise for other dims. */
static tl_tensor *tl__gather_impl(const tl_tensor *t, int dim, const tl_tensor *index);
TLDEF tl_tensor *tl_gather(const tl_tensor *t, int dim, const tl_tensor *index) {
    return tl__ret(tl__gather_impl(t, dim, index));
}
static tl_tensor *tl__gather_impl(const tl_tensor *t, int dim, const tl_tensor *index) {
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
    if (tl__wants_grad(t, NULL, NULL) && !tl__record_indexed(out, TL__OP_GATHER, t, index, NULL, d)) {
        tl__release(out);
        return NULL;
    }
    return out;
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

/* ---- scatter, scatter_add, index_add (issue 13) ---- */

static tl_tensor *tl__binary(const char *op, tl__op id, const tl_tensor *a, const tl_tensor *b, int b_is_scalar,
                             double bs, double alpha);

/* Shape of t as the scatter family sees it: a 0-dim tensor acts as [1] with stride 0. */
static int tl__sc_geom(const tl_tensor *t, int64_t *shape, int64_t *stride) {
    int k;
    if (t->ndim == 0) {
        shape[0] = 1;
        stride[0] = 0;
        return 1;
    }
    for (k = 0; k < t->ndim; k++) {
        shape[k] = t->shape[k];
        stride[k] = t->stride[k];
    }
    return t->ndim;
}
/* torch's checks of scatter/scatter_add: index int64 with self's number of dims, index no larger
   than src in any dim and than self outside dim d, src of self's dtype, every index in range. */
static int tl__scatter_check(const char *op, const tl_tensor *t, int d, const tl_tensor *index, const tl_tensor *src) {
    int64_t ts[TL_MAX_DIMS], tst[TL_MAX_DIMS], is[TL_MAX_DIMS], ist[TL_MAX_DIMS], ss[TL_MAX_DIMS], sst[TL_MAX_DIMS];
    int64_t idx[TL_MAX_DIMS], n, e;
    int nd, ni, k;
    memset(ss, 0, sizeof ss);
    memset(sst, 0, sizeof sst);
    if (index->dtype != TL_I64) {
        TL__FAIL(TL_ERR_DTYPE, "%s: expected dtype int64 for index, got %s (index %s, self %s)", op, TL__DT(index),
                 TL__SH(index), TL__SH(t));
        return 0;
    }
    if (src && src->dtype != t->dtype) {
        TL__FAIL(TL_ERR_DTYPE, "%s: expected self.dtype to be equal to src.dtype (self %s %s, src %s %s)", op,
                 TL__DT(t), TL__SH(t), TL__DT(src), TL__SH(src));
        return 0;
    }
    nd = tl__sc_geom(t, ts, tst);
    ni = tl__sc_geom(index, is, ist);
    if (ni != nd || (src && (src->ndim ? src->ndim : 1) != nd)) {
        TL__FAIL(TL_ERR_SHAPE, "%s: index tensor must have the same number of dimensions as self tensor%s (self %s, "
                 "index %s%s%s)", op, src ? " and src tensor" : "", TL__SH(t), TL__SH(index), src ? ", src " : "",
                 src ? TL__SH(src) : "");
        return 0;
    }
    if (src) tl__sc_geom(src, ss, sst);
    n = tl_numel(index);
    for (k = 0; k < nd && n > 0; k++)
        if ((k != d && is[k] > ts[k]) || (src && is[k] > ss[k])) {
            TL__FAIL(TL_ERR_SHAPE, "%s: expected index %s to be smaller than self %s apart from dimension %d%s%s", op,
                     TL__SH(index), TL__SH(t), d, src ? " and to be smaller size than src " : "", src ? TL__SH(src) : "");
            return 0;
        }
    memset(idx, 0, sizeof idx);
    for (e = 0; e < n; e++) {
        int64_t ioff = index->offset, v;
        for (k = 0; k < nd; k++) ioff += idx[k] * ist[k];
        v = tl__index_at(index, ioff);
        if (v < 0 || v >= ts[d]) {
            TL__FAIL(TL_ERR_INDEX, "%s: index %lld is out of bounds for dimension %d with size %lld (self %s, index %s)",
                     op, (long long)v, d, (long long)ts[d], TL__SH(t), TL__SH(index));
            return 0;
        }
        for (k = nd - 1; k >= 0; k--) {
            if (++idx[k] < is[k]) break;
            idx[k] = 0;
        }
    }
    return 1;
}
/* A copy of t with, for every element position p of index, out[p with dim d := index[p]] set to
   src[p] (mode 0), increased by src[p] (mode 1), or set to value (mode 2: src NULL). Checked by
   the caller; untracked. Integers go through int64, floats through double (exact for each). */
static tl_tensor *tl__scatter_raw(const char *op, const tl_tensor *t, int d, const tl_tensor *index,
                                  const tl_tensor *src, double value, int mode) {
    int64_t os[TL_MAX_DIMS], ost[TL_MAX_DIMS], is[TL_MAX_DIMS], ist[TL_MAX_DIMS], ss[TL_MAX_DIMS], sst[TL_MAX_DIMS];
    int64_t idx[TL_MAX_DIMS], n, e;
    int nd, k, ct = TL__IS_FLOAT(t->dtype) ? TL__CT_F64 : TL__CT_I64;
    size_t esz = tl__dtype_sizes[t->dtype];
    tl_tensor *out = tl__copy_as(op, t, t->dtype);
    if (!out) return NULL;
    memset(ss, 0, sizeof ss);
    memset(sst, 0, sizeof sst);
    nd = tl__sc_geom(out, os, ost);
    tl__sc_geom(index, is, ist);
    if (src) tl__sc_geom(src, ss, sst);
    n = tl_numel(index);
    memset(idx, 0, sizeof idx);
    for (e = 0; e < n; e++) {
        int64_t ioff = index->offset, soff = src ? src->offset : 0, ooff = 0, v;
        union { double f; int64_t i; } a, b;
        char *po;
        for (k = 0; k < nd; k++) {
            ioff += idx[k] * ist[k];
            if (src) soff += idx[k] * sst[k];
        }
        v = tl__index_at(index, ioff);
        for (k = 0; k < nd; k++) ooff += (k == d ? v : idx[k]) * ost[k];
        po = tl__ptr(out) + (size_t)ooff * esz;
        if (mode == 2) {
            if (ct == TL__CT_F64) b.f = value;
            else b.i = tl__d2i(value);
        } else {
            tl__load(&b, ct, (const char *)src->storage->data + (size_t)soff * esz, src->dtype, 0, 1);
        }
        if (mode == 1) {
            tl__load(&a, ct, po, out->dtype, 0, 1);
            if (ct == TL__CT_F64) b.f += a.f;
            else b.i = (int64_t)((uint64_t)b.i + (uint64_t)a.i);
        }
        tl__store(po, out->dtype, 0, &b, ct, 1);
        for (k = nd - 1; k >= 0; k--) {
            if (++idx[k] < is[k]) break;
            idx[k] = 0;
        }
    }
    return out;
}
static tl_tensor *tl__scatter_op(const char *op, tl__op id, const tl_tensor *t, int dim, const tl_tensor *index,
                                 const tl_tensor *src, double value, int mode) {
    tl_tensor *out;
    int d = tl__wrap_dim(op, dim, t->ndim, t);
    if (d < 0 || !tl__scatter_check(op, t, d, index, src)) return NULL;
    if (mode == 2 && !tl__value_fits(op, t->dtype, value, t->shape, t->ndim)) return NULL;
    out = tl__scatter_raw(op, t, d, index, src, value, mode);
    if (out && tl__wants_grad(t, src, NULL)) {
        if (!tl__record_indexed(out, id, t, index, src, d)) {
            tl__release(out);
            return NULL;
        }
        if (out->grad_fn && mode == 2) out->grad_fn->tname = "ScatterBackward1";
    }
    return out;
}
TLDEF tl_tensor *tl_scatter(const tl_tensor *t, int dim, const tl_tensor *index, const tl_tensor *src) {
    if (tl__null_in("tl_scatter", t) || tl__null_in("tl_scatter", index) || tl__null_in("tl_scatter", src)) return NULL;
    return tl__ret(tl__scatter_op("tl_scatter", TL__OP_SCATTER, t, dim, index, src, 0, 0));
}
TLDEF tl_tensor *tl_scatter_value(const tl_tensor *t, int dim, const tl_tensor *index, double value) {
    TL__CHECK2("tl_scatter_value", t, index);
    return tl__ret(tl__scatter_op("tl_scatter_value", TL__OP_SCATTER, t, dim, index, NULL, value, 2));
}
TLDEF tl_tensor *tl_scatter_add(const tl_tensor *t, int dim, const tl_tensor *index, const tl_tensor *src) {
    if (tl__null_in("tl_scatter_add", t) || tl__null_in("tl_scatter_add", index) || tl__null_in("tl_scatter_add", src))
        return NULL;
    return tl__ret(tl__scatter_op("tl_scatter_add", TL__OP_SCATTER_ADD, t, dim, index, src, 0, 1));
}
/* out = t; out.narrow(d, index[i], 1) += alpha * source.narrow(d, i, 1) for each i. */
TLDEF tl_tensor *tl_index_add(const tl_tensor *t, int dim, const tl_tensor *index, const tl_tensor *source,
                              double alpha) {
    const char *op = "tl_index_add";
    int64_t os[TL_MAX_DIMS], ost[TL_MAX_DIMS], ss[TL_MAX_DIMS], sst[TL_MAX_DIMS], idx[TL_MAX_DIMS], n, e, ni;
    int d, nd, k, ct;
    size_t esz;
    tl_tensor *out;
    memset(ss, 0, sizeof ss);
    memset(sst, 0, sizeof sst);
    if (tl__null_in(op, t) || tl__null_in(op, index) || tl__null_in(op, source)) return NULL;
    d = tl__wrap_dim(op, dim, t->ndim, t);
    if (d < 0 || !tl__index_dtype_ok(op, index)) return NULL;
    if (index->ndim > 1)
        return TL__FAILN(TL_ERR_SHAPE, "%s: index is supposed to be a vector (index %s)", op, TL__SH(index));
    if (source->dtype != t->dtype)
        return TL__FAILN(TL_ERR_DTYPE, "%s: self (%s %s) and source (%s %s) must have the same scalar type", op,
                         TL__DT(t), TL__SH(t), TL__DT(source), TL__SH(source));
    if (TL__IS_INTLIKE(t->dtype) && !tl__scalar_is_int(alpha))
        return TL__FAILN(TL_ERR_DTYPE, "%s: for integral input tensors, argument alpha must not be a floating point "
                         "number (got %g for %s)", op, alpha, TL__DT(t));
    ni = tl_numel(index);
    nd = tl__sc_geom(t, os, ost);
    if ((source->ndim ? source->ndim : 1) != nd)
        return TL__FAILN(TL_ERR_SHAPE, "%s: source %s and self %s must have the same number of dimensions", op,
                         TL__SH(source), TL__SH(t));
    tl__sc_geom(source, ss, sst);
    if (ss[d] != ni)
        return TL__FAILN(TL_ERR_SHAPE, "%s: number of indices (%lld) should be equal to source.size(dim) (%lld) "
                         "(self %s, source %s, dim %d)", op, (long long)ni, (long long)ss[d], TL__SH(t),
                         TL__SH(source), d);
    for (k = 0; k < nd; k++)
        if (k != d && ss[k] != os[k])
            return TL__FAILN(TL_ERR_SHAPE, "%s: source %s and self %s must match in every dimension but %d", op,
                             TL__SH(source), TL__SH(t), d);
    for (e = 0; e < ni; e++) {
        int64_t v = tl__index_at(index, index->offset + (index->ndim ? e * index->stride[0] : 0));
        if (v < 0 || v >= os[d])
            return TL__FAILN(TL_ERR_INDEX, "%s: index %lld is out of bounds for dimension %d with size %lld (self %s)",
                             op, (long long)v, d, (long long)os[d], TL__SH(t));
    }
    out = tl__copy_as(op, t, t->dtype);
    if (!out) return NULL;
    tl__sc_geom(out, os, ost);
    ct = TL__IS_FLOAT(t->dtype) ? TL__CT_F64 : TL__CT_I64;
    esz = tl__dtype_sizes[t->dtype];
    n = tl_numel(source);
    memset(idx, 0, sizeof idx);
    for (e = 0; e < n; e++) {
        int64_t soff = source->offset, ooff = 0, v;
        union { double f; int64_t i; } a, b;
        char *po;
        for (k = 0; k < nd; k++) soff += idx[k] * sst[k];
        v = tl__index_at(index, index->offset + (index->ndim ? idx[d] * index->stride[0] : 0));
        for (k = 0; k < nd; k++) ooff += (k == d ? v : idx[k]) * ost[k];
        po = tl__ptr(out) + (size_t)ooff * esz;
        tl__load(&a, ct, po, out->dtype, 0, 1);
        tl__load(&b, ct, (const char *)source->storage->data + (size_t)soff * esz, source->dtype, 0, 1);
        if (ct == TL__CT_F64) a.f += alpha * b.f;
        else a.i = (int64_t)((uint64_t)a.i + (uint64_t)tl__d2i(alpha) * (uint64_t)b.i);
        tl__store(po, out->dtype, 0, &a, ct, 1);
        for (k = nd - 1; k >= 0; k--) {
            if (++idx[k] < ss[k]) break;
            idx[k] = 0;
        }
    }
    if (tl__wants_grad(t, source, NULL)) {
        if (!tl__record_indexed(out, TL__OP_INDEX_ADD, t, index, source, d)) {
            tl__release(out);
            return NULL;
        }
        if (out->grad_fn) out->grad_fn->p[0] = alpha;
    }
    return tl__ret(out);
}
/* scatter: self gets g with the written positions zeroed, src gets g gathered at index;
   scatter_add: self gets g, src the gather; index_add: self gets g, source alpha * g selected at
   index. A src larger than index gets zeros where nothing was read from it. */
static tl_status tl__bwd_scatter(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    const tl_tensor *x = n->in[0], *index = n->in[1], *src = n->in[2];
    int d = n->ip[0];
    gin[0] = gin[1] = gin[2] = NULL;
    if (TL__NEED(n, 0)) {
        if (n->op == TL__OP_SCATTER) gin[0] = tl__scatter_raw("autograd", g, d, index, NULL, 0, 2);
        else gin[0] = tl__copy_as("autograd", g, g->dtype);
        if (!gin[0]) return tl__tls.status;
        (void)x;
    }
    if (src && TL__NEED(n, 2)) {
        tl_tensor *r;
        if (n->op == TL__OP_INDEX_ADD) {
            tl_tensor *sel = tl__index_select_impl("autograd", g, d, index), *sc;
            if (!sel) return tl__tls.status;
            sc = tl__binary("autograd", TL__OP_MUL, sel, NULL, 1, n->p[0], 1);
            tl__release(sel);
            if (!sc) return tl__tls.status;
            r = tl__view("autograd", sc, src->ndim, src->shape, 1);
            tl__release(sc);
        } else {
            r = tl__gather_impl(g, d, index);
            if (r && (r->ndim != src->ndim || memcmp(r->shape, src->shape, sizeof(int64_t) * (size_t)src->ndim) != 0)) {
                tl_tensor *z = tl__full("autograd", src->ndim, src->shape, 0, g->dtype), *part = z;
                int k;
                for (k = 0; part && k < src->ndim; k++) {
                    tl_tensor *p2 = tl__narrow("autograd", part, k, 0, r->shape[k]);
                    if (part != z) tl__release(part);
                    part = p2;
                }
                if (part) tl__copy_into(part, r);
                if (part != z) tl__release(part);
                tl__release(r);
                r = part ? z : NULL;
                if (!r) tl__release(z);
            }
        }
        if (!r) return tl__tls.status;
        gin[2] = r;
    }
    return TL_OK;
}

/* ---- flip, roll, repeat, tile, tril, triu, new_* (issue 13): compositions of recorded ops ---- */

/* The steps run through the public API in a private scope; only the result is kept (its history
   is the steps'). */
static tl_tensor *tl__composite_end(tl_scope sc, tl_tensor *r) {
    if (r) r = tl_keep(r);
    tl_scope_end(sc);
    return r;
}
/* int64 index [n] with v[i] = (i * step + start) mod m (m > 0) */
static tl_tensor *tl__index_ramp(int64_t n, int64_t start, int64_t step, int64_t m) {
    tl_tensor *r = tl__new("tl_flip", 1, &n, TL_I64);
    int64_t i, *p;
    if (!r) return NULL;
    p = (int64_t *)tl__ptr(r);
    for (i = 0; i < n; i++) p[i] = (((i * step + start) % m) + m) % m;
    return r;
}
/* Wraps ndims dims of t into out[], refusing duplicates. */
static int tl__dims_unique(const char *op, const tl_tensor *t, int ndims, const int *dims, int *out) {
    int i, j;
    if (ndims < 0 || ndims > TL_MAX_DIMS) {
        TL__FAIL(TL_ERR_ARG, "%s: %d dims given for %s", op, ndims, TL__SH(t));
        return 0;
    }
    for (i = 0; i < ndims; i++) {
        out[i] = tl__wrap_dim(op, dims[i], t->ndim, t);
        if (out[i] < 0) return 0;
        for (j = 0; j < i; j++)
            if (out[j] == out[i]) {
                TL__FAIL(TL_ERR_ARG, "%s: dim %d appears multiple times in the list of dims (input %s)", op, out[i],
                         TL__SH(t));
                return 0;
            }
    }
    return 1;
}
TLDEF tl_tensor *tl_flip(const tl_tensor *t, int ndims, const int *dims) {
    int wd[TL_MAX_DIMS], i;
    tl_scope sc;
    tl_tensor *r;
    TL__CHECK1("tl_flip", t);
    if (!tl__dims_unique("tl_flip", t, ndims, dims, wd)) return NULL;
    sc = tl_scope_begin();
    r = tl_clone(t);
    for (i = 0; i < ndims && r && t->ndim > 0; i++) {
        int64_t n = t->shape[wd[i]];
        tl_tensor *ix = n ? tl__ret(tl__index_ramp(n, n - 1, -1, n)) : NULL;
        if (n) r = ix ? tl_index_select(r, wd[i], ix) : NULL;
    }
    return tl__composite_end(sc, r);
}
TLDEF tl_tensor *tl_roll(const tl_tensor *t, int nshifts, const int64_t *shifts, int ndims, const int *dims) {
    int wd[TL_MAX_DIMS], i;
    tl_scope sc;
    tl_tensor *r;
    TL__CHECK1("tl_roll", t);
    if (nshifts < 1 || (ndims > 0 && nshifts != ndims) || (ndims == 0 && nshifts != 1))
        return TL__FAILN(TL_ERR_ARG, "tl_roll: shifts and dimensions must align (%d shifts, %d dims, input %s)",
                         nshifts, ndims, TL__SH(t));
    if (!tl__dims_unique("tl_roll", t, ndims, dims, wd)) return NULL;
    sc = tl_scope_begin();
    if (ndims == 0) { /* no dims: roll the flattened tensor, then restore the shape */
        int64_t n = tl_numel(t);
        r = tl_reshape(t, 1, &n);
        if (r && n > 0) r = tl_index_select(r, 0, tl__ret(tl__index_ramp(n, -shifts[0], 1, n)));
        if (r) r = tl_reshape(r, t->ndim, t->shape);
        return tl__composite_end(sc, r);
    }
    r = tl_clone(t);
    for (i = 0; i < ndims && r && t->ndim > 0; i++) {
        int64_t n = t->shape[wd[i]];
        if (n > 0) r = tl_index_select(r, wd[i], tl__ret(tl__index_ramp(n, -(shifts[i] % n), 1, n)));
    }
    return tl__composite_end(sc, r);
}
TLDEF tl_tensor *tl_repeat(const tl_tensor *t, int n, const int64_t *sizes) {
    int64_t shape[TL_MAX_DIMS];
    int k, off;
    tl_scope sc;
    tl_tensor *r;
    TL__CHECK1("tl_repeat", t);
    if (n < t->ndim || n > TL_MAX_DIMS)
        return TL__FAILN(TL_ERR_ARG, "tl_repeat: number of dimensions of repeat dims (%d) can not be smaller than "
                         "number of dimensions of tensor %s", n, TL__SH(t));
    for (k = 0; k < n; k++)
        if (sizes[k] < 0)
            return TL__FAILN(TL_ERR_ARG, "tl_repeat: repeats must be non-negative (got %lld at %d for %s)",
                             (long long)sizes[k], k, TL__SH(t));
    off = n - t->ndim;
    for (k = 0; k < n; k++) shape[k] = k < off ? 1 : t->shape[k - off];
    sc = tl_scope_begin();
    r = tl_reshape(t, n, shape);
    if (r) r = tl_clone(r);
    for (k = 0; k < n && r; k++) {
        if (sizes[k] == 1) continue;
        if (sizes[k] == 0) {
            r = tl_contiguous(tl_narrow(r, k, 0, 0));
            continue;
        }
        {
            tl_tensor **ts = (tl_tensor **)tl__malloc(tl__szn((int)sizes[k], sizeof(tl_tensor *)));
            int64_t j;
            if (!ts) {
                TL__FAIL(TL_ERR_OOM, "tl_repeat: out of memory (%s)", TL__SH(t));
                r = NULL;
                break;
            }
            for (j = 0; j < sizes[k]; j++) ts[j] = r;
            r = tl_cat((int)sizes[k], ts, k);
            tl__free(ts);
        }
    }
    return tl__composite_end(sc, r);
}
TLDEF tl_tensor *tl_tile(const tl_tensor *t, int n, const int64_t *sizes) {
    int64_t s[TL_MAX_DIMS];
    int k, m;
    TL__CHECK1("tl_tile", t);
    if (n < 0 || n > TL_MAX_DIMS) return TL__FAILN(TL_ERR_ARG, "tl_tile: %d dims given for %s", n, TL__SH(t));
    m = n < t->ndim ? t->ndim : n;
    for (k = 0; k < m; k++) s[k] = k < m - n ? 1 : sizes[k - (m - n)];
    return tl_repeat(t, m, s);
}
static tl_tensor *tl__tri(const char *op, const tl_tensor *t, int64_t diag, int lower) {
    int64_t R, C, i, j, ms[2];
    tl_tensor *mask, *zero, *r;
    uint8_t *p;
    tl_scope sc;
    TL__CHECK1(op, t);
    if (t->ndim < 2)
        return TL__FAILN(TL_ERR_SHAPE, "%s: input tensor must have at least 2 dimensions (got %s)", op, TL__SH(t));
    R = t->shape[t->ndim - 2];
    C = t->shape[t->ndim - 1];
    ms[0] = R;
    ms[1] = C;
    sc = tl_scope_begin();
    mask = tl_empty(2, ms, TL_BOOL);
    zero = tl_zeros(0, NULL, t->dtype);
    if (!mask || !zero) return tl__composite_end(sc, NULL);
    p = (uint8_t *)tl_data_ptr(mask);
    for (i = 0; i < R; i++)
        for (j = 0; j < C; j++) p[i * C + j] = (uint8_t)(lower ? j - i <= diag : j - i >= diag);
    r = tl_where(mask, t, zero);
    return tl__composite_end(sc, r);
}
TLDEF tl_tensor *tl_tril(const tl_tensor *t, int64_t diagonal) { return tl__tri("tl_tril", t, diagonal, 1); }
TLDEF tl_tensor *tl_triu(const tl_tensor *t, int64_t diagonal) { return tl__tri("tl_triu", t, diagonal, 0); }
TLDEF tl_tensor *tl_new_full(const tl_tensor *t, int ndim, const int64_t *shape, double value) {
    TL__CHECK1("tl_new_full", t);
    return tl_full(ndim, shape, value, t->dtype);
}
TLDEF tl_tensor *tl_new_zeros(const tl_tensor *t, int ndim, const int64_t *shape) {
    TL__CHECK1("tl_new_zeros", t);
    return tl_zeros(ndim, shape, t->dtype);
}
TLDEF tl_tensor *tl_new_ones(const tl_tensor *t, int ndim, const int64_t *shape) {
    TL__CHECK1("tl_new_ones", t);
    return tl_ones(ndim, shape, t->dtype);
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
    n->in[0] = tl__graph_hold(base, op);
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
    if (!base->requires_grad) return 1; /* stays stale: rebuilt once the base has history */
    v->view_ver = v->storage->version;
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
        n->in[1] = tl__graph_hold(a, TL__OP_COPY_SLICES);
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
    case TL__OP_REMAINDER:
    case TL__OP_FMOD:
        if (b && TL__NEED(n, 1)) {
            tl__save_in(n, 0);
            tl__save_in(n, 1);
        }
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
static tl_tensor *tl__rsub(const char *op, const tl_tensor *a, double s) {
    tl__rtype rt;
    tl_dtype res;
    tl_tensor *out;
    tl__ew e;
    tl__opnd in[2];
    TL__CHECK1(op, a);
    if (a->dtype == TL_BOOL)
        return TL__FAILN(TL_ERR_DTYPE, "%s: subtraction with a bool tensor is not supported (%s %s)",
                         op, TL__DT(a), TL__SH(a));
    tl__rtype_init(&rt);
    tl__rtype_tensor(&rt, a);
    tl__rtype_scalar(&rt, s);
    res = tl__rtype_result(&rt);
    out = tl__new(op, a->ndim, a->shape, res);
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
    return out;
}
TLDEF tl_tensor *tl_rsub_scalar(const tl_tensor *a, double s) { return tl__ret(tl__rsub("tl_rsub_scalar", a, s)); }

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
    case TL__OP_REMAINDER:
    case TL__OP_FMOD: /* d/da = 1; d/db = -floor(a / b) (remainder) or -trunc(a / b) (fmod), as torch */
        if (need_a) {
            ga = gg;
            gg->refcount++;
        }
        if (need_b) {
            TL__TMP(TL__AB(DIV, a, b));
            TL__TMP(tl__unary("autograd", n->op == TL__OP_REMAINDER ? TL__OP_FLOOR : TL__OP_TRUNC, tmp[0], 0, 0));
            TL__TMP(TL__AB(MUL, g, tmp[1]));
            gb = TL__AS(MUL, tmp[2], -1);
        }
        break;
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
    case TL__OP_FLOOR:
    case TL__OP_CEIL:
    case TL__OP_ROUND:
    case TL__OP_TRUNC: /* integers are already whole: same dtype (torch), bool refused */
        if (dt == TL_BOOL) {
            TL__FAIL(TL_ERR_DTYPE, "%s: not implemented for bool tensors (%s %s)", op, TL__DT(t), TL__SH(t));
            return -1;
        }
        return (int)dt;
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
    case TL__OP_SIGN:
    case TL__OP_FLOOR:
    case TL__OP_CEIL:
    case TL__OP_ROUND:
    case TL__OP_TRUNC: break;
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

/* ---- rounding, remainder/fmod, isnan/isinf/isfinite, nan_to_num, clamp with tensor bounds,
   addcmul/addcdiv, lerp, isclose/allclose/equal (issue 13) ---- */

TLDEF tl_tensor *tl_floor(const tl_tensor *t) { return tl__ret(tl__unary("tl_floor", TL__OP_FLOOR, t, 0, 0)); }
TLDEF tl_tensor *tl_ceil(const tl_tensor *t) { return tl__ret(tl__unary("tl_ceil", TL__OP_CEIL, t, 0, 0)); }
TLDEF tl_tensor *tl_round(const tl_tensor *t) { return tl__ret(tl__unary("tl_round", TL__OP_ROUND, t, 0, 0)); }
TLDEF tl_tensor *tl_trunc(const tl_tensor *t) { return tl__ret(tl__unary("tl_trunc", TL__OP_TRUNC, t, 0, 0)); }

/* remainder/fmod: bool refused; an integer division by zero is torch's ZeroDivisionError. */
static tl_tensor *tl__mod(const char *op, tl__op id, const tl_tensor *a, const tl_tensor *b, int b_is_scalar,
                          double bs) {
    tl__rtype rt;
    tl_dtype res;
    if (tl__null_in(op, a) || (!b_is_scalar && tl__null_in(op, b))) return NULL;
    tl__rtype_init(&rt);
    tl__rtype_tensor(&rt, a);
    if (b_is_scalar) tl__rtype_scalar(&rt, bs);
    else tl__rtype_tensor(&rt, b);
    res = tl__rtype_result(&rt);
    if (res == TL_BOOL)
        return TL__FAILN(TL_ERR_DTYPE, "%s: not implemented for bool tensors (%s %s)", op, TL__DT(a), TL__SH(a));
    if (TL__IS_INTLIKE(res)) {
        int zero = b_is_scalar ? bs == 0 : 0;
        if (!b_is_scalar) {
            tl_tensor *bi = tl__contig_as(op, b, TL_I64);
            int64_t i, n = tl_numel(b);
            if (!bi) return NULL;
            for (i = 0; i < n && !zero; i++) zero = ((const int64_t *)tl__ptr(bi))[i] == 0;
            tl__release(bi);
        }
        if (zero)
            return TL__FAILN(TL_ERR_ARG, "%s: ZeroDivisionError: integer division by zero (%s %s by %s)", op, TL__DT(a),
                             TL__SH(a), b_is_scalar ? "the scalar 0" : TL__SH(b));
    }
    return tl__binary(op, id, a, b, b_is_scalar, bs, 1);
}
TLDEF tl_tensor *tl_remainder(const tl_tensor *a, const tl_tensor *b) {
    return tl__ret(tl__mod("tl_remainder", TL__OP_REMAINDER, a, b, 0, 0));
}
TLDEF tl_tensor *tl_remainder_scalar(const tl_tensor *a, double s) {
    return tl__ret(tl__mod("tl_remainder_scalar", TL__OP_REMAINDER, a, NULL, 1, s));
}
TLDEF tl_tensor *tl_fmod(const tl_tensor *a, const tl_tensor *b) {
    return tl__ret(tl__mod("tl_fmod", TL__OP_FMOD, a, b, 0, 0));
}
TLDEF tl_tensor *tl_fmod_scalar(const tl_tensor *a, double s) {
    return tl__ret(tl__mod("tl_fmod_scalar", TL__OP_FMOD, a, NULL, 1, s));
}

/* bool [t's shape]: kind 0 isnan, 1 isinf, 2 isfinite, 3 isposinf, 4 isneginf (untracked) */
static tl_tensor *tl__isclass(const char *op, const tl_tensor *t, int kind) {
    tl_tensor *r, *x;
    int64_t i, n;
    uint8_t *o;
    const double *v;
    r = tl__new(op, t->ndim, t->shape, TL_BOOL);
    if (!r) return NULL;
    o = (uint8_t *)tl__ptr(r);
    n = tl_numel(t);
    if (!TL__IS_FLOAT(t->dtype)) { /* integers are finite */
        for (i = 0; i < n; i++) o[i] = (uint8_t)(kind == 2);
        return r;
    }
    x = tl__contig_as(op, t, TL_F64);
    if (!x) {
        tl__release(r);
        return NULL;
    }
    v = (const double *)tl__ptr(x);
    for (i = 0; i < n; i++) {
        double a = v[i];
        o[i] = (uint8_t)(kind == 0 ? a != a : kind == 1 ? isinf(a) : kind == 2 ? (a == a && !isinf(a))
                         : kind == 3 ? a == INFINITY : a == -INFINITY);
    }
    tl__release(x);
    return r;
}
TLDEF tl_tensor *tl_isnan(const tl_tensor *t) {
    TL__CHECK1("tl_isnan", t);
    return tl__ret(tl__isclass("tl_isnan", t, 0));
}
TLDEF tl_tensor *tl_isinf(const tl_tensor *t) {
    TL__CHECK1("tl_isinf", t);
    return tl__ret(tl__isclass("tl_isinf", t, 1));
}
TLDEF tl_tensor *tl_isfinite(const tl_tensor *t) {
    TL__CHECK1("tl_isfinite", t);
    return tl__ret(tl__isclass("tl_isfinite", t, 2));
}
TLDEF tl_tensor *tl_nan_to_num(const tl_tensor *t, double nan, double posinf, double neginf) {
    static const double big[4] = {3.4028234663852886e38, 1.7976931348623157e308, 65504.0, 3.3895313892515355e38};
    tl_scope sc;
    tl_tensor *r;
    TL__CHECK1("tl_nan_to_num", t);
    if (!TL__IS_FLOAT(t->dtype)) return tl_clone(t);
    if (posinf == INFINITY) posinf = big[t->dtype];
    if (neginf == -INFINITY) neginf = -big[t->dtype];
    sc = tl_scope_begin();
    r = tl__ret(tl__where("tl_nan_to_num", tl__ret(tl__isclass("tl_nan_to_num", t, 0)), NULL, nan, t, 0));
    if (r) r = tl__ret(tl__where("tl_nan_to_num", tl__ret(tl__isclass("tl_nan_to_num", t, 3)), NULL, posinf, r, 0));
    if (r) r = tl__ret(tl__where("tl_nan_to_num", tl__ret(tl__isclass("tl_nan_to_num", t, 4)), NULL, neginf, r, 0));
    return tl__composite_end(sc, r);
}
TLDEF tl_tensor *tl_clamp_tensor(const tl_tensor *t, const tl_tensor *min, const tl_tensor *max) {
    tl_scope sc;
    tl_tensor *r;
    TL__CHECK1("tl_clamp_tensor", t);
    if (!min && !max)
        return TL__FAILN(TL_ERR_ARG, "tl_clamp_tensor: at least one of 'min' or 'max' must not be NULL (input %s)",
                         TL__SH(t));
    if (t->dtype == TL_BOOL || (min && min->dtype == TL_BOOL) || (max && max->dtype == TL_BOOL))
        return TL__FAILN(TL_ERR_DTYPE, "tl_clamp_tensor: not implemented for bool tensors (input %s %s)", TL__DT(t),
                         TL__SH(t));
    sc = tl_scope_begin();
    /* where-chains give torch's gradients: x where min <= x <= max, min where x < min, max where
       the min-clamped value > max (so max wins when min > max, as in torch) */
    r = min ? tl_where(tl_lt(t, min), min, t) : tl_retain((tl_tensor *)t);
    if (r && max) r = tl_where(tl_gt(r, max), max, r);
    if (r && r == t) r = tl_clone(t);
    return tl__composite_end(sc, r);
}
static tl_tensor *tl__addc(const char *op, const tl_tensor *t, const tl_tensor *t1, const tl_tensor *t2, double value,
                           int div) {
    tl_scope sc;
    tl_tensor *r;
    if (tl__null_in(op, t) || tl__null_in(op, t1) || tl__null_in(op, t2)) return NULL;
    if (div && TL__IS_INTLIKE(t1->dtype) && TL__IS_INTLIKE(t2->dtype))
        return TL__FAILN(TL_ERR_DTYPE, "%s: integer division with addcdiv is no longer supported (tensor1 %s %s, "
                         "tensor2 %s %s); convert to a floating dtype first", op, TL__DT(t1), TL__SH(t1), TL__DT(t2),
                         TL__SH(t2));
    if (TL__IS_INTLIKE(t->dtype) && TL__IS_INTLIKE(t1->dtype) && TL__IS_INTLIKE(t2->dtype) && !tl__scalar_is_int(value))
        return TL__FAILN(TL_ERR_DTYPE, "%s: for integral input tensors, argument value must not be a floating point "
                         "number (got %g)", op, value);
    sc = tl_scope_begin();
    r = div ? tl_div(t1, t2) : tl_mul(t1, t2);
    if (r && value != 1) r = tl_mul_scalar(r, value);
    if (r) r = tl_add(t, r);
    return tl__composite_end(sc, r);
}
TLDEF tl_tensor *tl_addcmul(const tl_tensor *t, const tl_tensor *t1, const tl_tensor *t2, double value) {
    return tl__addc("tl_addcmul", t, t1, t2, value, 0);
}
TLDEF tl_tensor *tl_addcdiv(const tl_tensor *t, const tl_tensor *t1, const tl_tensor *t2, double value) {
    return tl__addc("tl_addcdiv", t, t1, t2, value, 1);
}
static int tl__lerp_check(const char *op, const tl_tensor *a, const tl_tensor *b, const tl_tensor *w) {
    if (!TL__IS_FLOAT(a->dtype)) {
        TL__FAIL(TL_ERR_DTYPE, "%s: not implemented for %s tensors (start %s)", op, TL__DT(a), TL__SH(a));
        return 0;
    }
    if (b->dtype != a->dtype || (w && w->dtype != a->dtype)) {
        const tl_tensor *x = b->dtype != a->dtype ? b : w;
        TL__FAIL(TL_ERR_DTYPE, "%s: expected dtype %s for `%s` but got dtype %s (start %s, %s %s)", op, TL__DT(a),
                 x == b ? "end" : "weight", TL__DT(x), TL__SH(a), x == b ? "end" : "weight", TL__SH(x));
        return 0;
    }
    return 1;
}
/* torch's two-sided formula: start + w (end - start) for |w| < 0.5, else end - (end - start)(1 - w) */
TLDEF tl_tensor *tl_lerp(const tl_tensor *start, const tl_tensor *end, double weight) {
    tl_scope sc;
    tl_tensor *r, *diff;
    TL__CHECK2("tl_lerp", start, end);
    if (!tl__lerp_check("tl_lerp", start, end, NULL)) return NULL;
    sc = tl_scope_begin();
    diff = tl_sub(end, start);
    if (fabs(weight) < 0.5) r = tl_add(start, tl_mul_scalar(diff, weight));
    else r = tl_sub(end, tl_mul_scalar(diff, 1 - weight));
    return tl__composite_end(sc, r);
}
TLDEF tl_tensor *tl_lerp_tensor(const tl_tensor *start, const tl_tensor *end, const tl_tensor *weight) {
    tl_scope sc;
    tl_tensor *r, *diff;
    if (tl__null_in("tl_lerp_tensor", start) || tl__null_in("tl_lerp_tensor", end) ||
        tl__null_in("tl_lerp_tensor", weight))
        return NULL;
    if (!tl__lerp_check("tl_lerp_tensor", start, end, weight)) return NULL;
    sc = tl_scope_begin();
    diff = tl_sub(end, start);
    r = tl_where(tl_lt_scalar(tl_abs(weight), 0.5), tl_add(start, tl_mul(weight, diff)),
                 tl_sub(end, tl_mul(diff, tl_rsub_scalar(weight, 1))));
    return tl__composite_end(sc, r);
}
/* |a - b| <= atol + rtol |b| (or a == b, or both NaN with equal_nan), broadcast; bool, untracked. */
static tl_tensor *tl__isclose(const char *op, const tl_tensor *a, const tl_tensor *b, double rtol, double atol,
                              int equal_nan) {
    const tl_tensor *ts[2];
    int64_t shape[TL_MAX_DIMS], i, n;
    int nd = 0;
    tl_tensor *ea = NULL, *eb = NULL, *ca = NULL, *cb = NULL, *r = NULL;
    if (a->dtype != b->dtype)
        return TL__FAILN(TL_ERR_DTYPE, "%s: expected both inputs to have the same dtype, but got %s and %s (%s and %s)",
                         op, TL__DT(a), TL__DT(b), TL__SH(a), TL__SH(b));
    if (rtol < 0 || atol < 0)
        return TL__FAILN(TL_ERR_ARG, "%s: rtol (%g) and atol (%g) must be greater than or equal to zero", op, rtol, atol);
    ts[0] = a;
    ts[1] = b;
    if (!tl__broadcast_n(op, 2, ts, &nd, shape)) return NULL;
    ea = tl__expand(op, a, nd, shape);
    eb = ea ? tl__expand(op, b, nd, shape) : NULL;
    ca = eb ? tl__copy_as(op, ea, TL_F64) : NULL;
    cb = ca ? tl__copy_as(op, eb, TL_F64) : NULL;
    r = cb ? tl__new(op, nd, shape, TL_BOOL) : NULL;
    if (r) {
        const double *x = (const double *)tl__ptr(ca), *y = (const double *)tl__ptr(cb);
        uint8_t *o = (uint8_t *)tl__ptr(r);
        n = tl_numel(r);
        for (i = 0; i < n; i++) {
            double d = fabs(x[i] - y[i]);
            o[i] = (uint8_t)(x[i] == y[i] || (equal_nan && x[i] != x[i] && y[i] != y[i]) ||
                             (!isinf(d) && d == d && d <= atol + rtol * fabs(y[i])));
        }
    }
    tl__release(ea);
    tl__release(eb);
    tl__release(ca);
    tl__release(cb);
    return r;
}
TLDEF tl_tensor *tl_isclose(const tl_tensor *a, const tl_tensor *b, double rtol, double atol, int equal_nan) {
    TL__CHECK2("tl_isclose", a, b);
    return tl__ret(tl__isclose("tl_isclose", a, b, rtol, atol, equal_nan));
}
TLDEF int tl_allclose(const tl_tensor *a, const tl_tensor *b, double rtol, double atol, int equal_nan) {
    tl_tensor *r;
    int64_t i, n;
    int ok = 1;
    TL__CHECK2S("tl_allclose", a, b);
    r = tl__isclose("tl_allclose", a, b, rtol, atol, equal_nan);
    if (!r) return tl__tls.status;
    n = tl_numel(r);
    for (i = 0; i < n && ok; i++) ok = ((const uint8_t *)tl__ptr(r))[i] != 0;
    tl__release(r);
    return ok;
}
TLDEF int tl_equal(const tl_tensor *a, const tl_tensor *b) {
    tl_tensor *ca, *cb;
    int64_t i, n;
    int ok, ct;
    TL__CHECK2S("tl_equal", a, b);
    if (a->ndim != b->ndim || memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim) != 0) return 0;
    ct = TL__IS_INTLIKE(a->dtype) && TL__IS_INTLIKE(b->dtype) ? TL__CT_I64 : TL__CT_F64;
    ca = tl__contig_as("tl_equal", a, tl__ct_dtype[ct]);
    cb = ca ? tl__contig_as("tl_equal", b, tl__ct_dtype[ct]) : NULL;
    if (!cb) {
        tl__release(ca);
        return tl__tls.status;
    }
    n = tl_numel(a);
    ok = 1;
    for (i = 0; i < n && ok; i++)
        ok = ct == TL__CT_I64 ? ((const int64_t *)tl__ptr(ca))[i] == ((const int64_t *)tl__ptr(cb))[i]
                              : ((const double *)tl__ptr(ca))[i] == ((const double *)tl__ptr(cb))[i];
    tl__release(ca);
    tl__release(cb);
    return ok;
}

/* ===== >>reduce =============================================================================== */

/* The reduction planner. sum(t [2,3,4], dims {0,2}) splits the input's dims into KEPT dims (here
   dim 1, size 3: kn = 3 output elements) and REDUCED dims (dims 0 and 2, sizes 2 and 4: rn = 8
   inputs per output), each with its input strides, so any strided view reduces without a copy.
   For each output element (walked over the kept dims) tl__rgather copies its rn inputs, strided,
   into a buffer of double (int64 for exact integer sums) and one small function reduces the
   buffer, accumulating in double (so float32 sums are at least as accurate as torch's cascade
   sums; they may differ from torch's in the last float32 bit). keepdim only changes out_shape (a 1 where each reduced dim was). An expanded
   input (stride 0) reduces like any other, and sizes are checked for overflow before allocation. */
#define TL__SMALL_LANE 256
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
    double small[TL__SMALL_LANE]; /* lanes up to this size reduce without malloc */
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
    buf = pl.rn <= TL__SMALL_LANE ? (void *)small : tl__malloc(tl__szn(pl.rn > 0 ? pl.rn : 1, 8));
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
    if (buf != (void *)small) tl__free(buf);
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
    if (buf != (void *)small) tl__free(buf);
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
        buf = r ? (double *)tl__malloc(tl__szmul(tl__szn(pl.rn > 0 ? pl.rn : 1, 8), 2)) : NULL;
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
    double *buf, small[TL__SMALL_LANE];
    int d, k, j, ct;
    d = tl__wrap_dim(op, dim, t->ndim, t);
    if (d < 0) return NULL;
    if (kind == TL__OP_CUMSUM || kind == TL__OP_CUMPROD) {
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
    buf = pl.rn <= TL__SMALL_LANE ? small : (double *)tl__malloc(tl__szn(pl.rn > 0 ? pl.rn : 1, 8));
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
        } else if (kind == TL__OP_CUMPROD) {
            if (ct == TL__CT_I64) {
                uint64_t acc = 1;
                int64_t *ib = (int64_t *)(void *)buf;
                for (i = 0; i < n; i++) ib[i] = (int64_t)(acc *= (uint64_t)ib[i]);
            } else {
                double acc = 1;
                for (i = 0; i < n; i++) buf[i] = acc *= buf[i];
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
    if (buf != small) tl__free(buf);
    if (tl__wants_grad(t, NULL, NULL)) {
        if (!tl__record(out, kind, t, NULL, NULL) ||
            (out->grad_fn && kind != TL__OP_CUMSUM && kind != TL__OP_CUMPROD && !tl__save_out(out->grad_fn, out))) {
            tl__release(out);
            return NULL;
        }
        if (out->grad_fn) out->grad_fn->ip[0] = d;
        if (out->grad_fn && kind == TL__OP_CUMPROD) tl__save_in(out->grad_fn, 0);
    }
    return out;
}
/* cumprod's gradient along dim d, exact with zeros in x: for a lane x[0..n) with y_k = x_0...x_k,
   dL/dx_i = sum_{k >= i} g_k prod_{j <= k, j != i} x_j, O(n^2) per lane (torch gives the same
   values; its O(n) formula needs the zero-free case). x, g: the input's shape; result: g's dtype. */
static tl_tensor *tl__cumprod_grad(const tl_tensor *x, const tl_tensor *g, int d) {
    int perm[TL_MAX_DIMS], inv[TL_MAX_DIMS], nd = x->ndim, k, j;
    tl_tensor *xp, *gp, *xc = NULL, *gc = NULL, *rc = NULL, *rv = NULL, *r = NULL;
    int64_t n, lanes, l, i, kk;
    if (nd == 0) return tl__copy_as("autograd", g, g->dtype); /* one element: dy/dx = 1 */
    for (j = 0, k = 0; k < nd; k++)
        if (k != d) perm[j++] = k;
    perm[nd - 1] = d;
    for (k = 0; k < nd; k++) inv[perm[k]] = k;
    xp = tl__permute("autograd", x, nd, perm);
    gp = xp ? tl__permute("autograd", g, nd, perm) : NULL;
    if (gp) xc = tl__copy_as("autograd", xp, TL_F64);
    if (xc) gc = tl__copy_as("autograd", gp, TL_F64);
    if (gc) rc = tl__new("autograd", nd, xc->shape, TL_F64);
    if (rc) {
        const double *xv = (const double *)tl__ptr(xc), *gv = (const double *)tl__ptr(gc);
        double *rv_ = (double *)tl__ptr(rc);
        n = xc->shape[nd - 1];
        lanes = n ? tl_numel(xc) / n : 0;
        for (l = 0; l < lanes; l++) {
            const double *xl = xv + l * n, *gl = gv + l * n;
            double pre = 1; /* x_0 ... x_{i-1} */
            for (i = 0; i < n; i++) {
                double acc = pre, sum = 0;
                for (kk = i; kk < n; kk++) {
                    if (kk > i) acc *= xl[kk];
                    sum += gl[kk] * acc;
                }
                rv_[l * n + i] = sum;
                pre *= xl[i];
            }
        }
        rv = tl__permute("autograd", rc, nd, inv);
        if (rv) r = tl__copy_as("autograd", rv, g->dtype);
    }
    tl__release(xp);
    tl__release(gp);
    tl__release(xc);
    tl__release(gc);
    tl__release(rc);
    tl__release(rv);
    return r;
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
    } else if (n->op == TL__OP_CUMPROD) {
        r = tl__cumprod_grad(n->in[0], g, d);
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

/* ---- cumprod, any/all, sort/argsort/topk (issue 13) ---- */

TLDEF tl_tensor *tl_cumprod(const tl_tensor *t, int dim) {
    TL__CHECK1("tl_cumprod", t);
    return tl__ret(tl__lane("tl_cumprod", TL__OP_CUMPROD, t, dim));
}
/* any: count of nonzeros > 0; all: count == number reduced (NaN is nonzero). bool, or uint8 for a
   uint8 input (torch). dim < -TL_MAX_DIMS - 1 means over every dim. */
static tl_tensor *tl__anyall(const char *op, const tl_tensor *t, int dim, int keepdim, int all, int every) {
    tl_scope sc;
    tl_tensor *cnt, *r;
    int d = 0;
    int64_t m;
    TL__CHECK1(op, t);
    if (!every && (d = tl__wrap_dim(op, dim, t->ndim, t)) < 0) return NULL;
    m = every ? tl_numel(t) : (t->ndim ? t->shape[d] : 1);
    sc = tl_scope_begin();
    cnt = tl_ne_scalar(t, 0);
    cnt = every ? tl_sum_all(cnt) : tl_sum(cnt, d, keepdim);
    r = all ? tl_eq_scalar(cnt, (double)m) : tl_gt_scalar(cnt, 0);
    if (r && t->dtype == TL_U8) r = tl_to_dtype(r, TL_U8);
    return tl__composite_end(sc, r);
}
TLDEF tl_tensor *tl_any(const tl_tensor *t, int dim, int keepdim) { return tl__anyall("tl_any", t, dim, keepdim, 0, 0); }
TLDEF tl_tensor *tl_all(const tl_tensor *t, int dim, int keepdim) { return tl__anyall("tl_all", t, dim, keepdim, 1, 0); }
TLDEF tl_tensor *tl_any_all(const tl_tensor *t) { return tl__anyall("tl_any_all", t, 0, 0, 0, 1); }
TLDEF tl_tensor *tl_all_all(const tl_tensor *t) { return tl__anyall("tl_all_all", t, 0, 0, 1, 1); }

/* Sort keys: doubles (floats; NaN sorts above +inf as in torch) or int64 (exact integers). */
typedef struct tl__sortkeys {
    const double *f;
    const int64_t *i;
    int desc;
} tl__sortkeys;
/* True when element a must come before element b (strictly). */
static int tl__sort_before(const tl__sortkeys *k, int64_t a, int64_t b) {
    if (k->i) return k->desc ? k->i[a] > k->i[b] : k->i[a] < k->i[b];
    {
        double x = k->f[a], y = k->f[b];
        int nx = x != x, ny = y != y;
        if (k->desc) return (nx && !ny) || x > y;
        return (!nx && ny) || x < y;
    }
}
/* Stable merge sort of the positions ix[0..n) (tmp: scratch of n). */
static void tl__msort(const tl__sortkeys *k, int64_t *ix, int64_t *tmp, int64_t n) {
    int64_t h, i, j, o;
    if (n < 2) return;
    h = n / 2;
    tl__msort(k, ix, tmp, h);
    tl__msort(k, ix + h, tmp, n - h);
    for (i = 0, j = h, o = 0; i < h && j < n;) tmp[o++] = tl__sort_before(k, ix[j], ix[i]) ? ix[j++] : ix[i++];
    while (i < h) tmp[o++] = ix[i++];
    while (j < n) tmp[o++] = ix[j++];
    memcpy(ix, tmp, sizeof(int64_t) * (size_t)n);
}
/* int64 indices of t's shape that sort every lane along d (stable); untracked. */
static tl_tensor *tl__sort_idx(const char *op, const tl_tensor *t, int d, int desc) {
    int perm[TL_MAX_DIMS], inv[TL_MAX_DIMS], nd = t->ndim, k, j;
    tl_tensor *tp = NULL, *vals = NULL, *ri = NULL, *rv = NULL, *r = NULL;
    int64_t n, lanes, l, i, *tmp;
    tl__sortkeys keys;
    if (nd == 0) return tl__full(op, 0, NULL, 0, TL_I64);
    for (j = 0, k = 0; k < nd; k++)
        if (k != d) perm[j++] = k;
    perm[nd - 1] = d;
    for (k = 0; k < nd; k++) inv[perm[k]] = k;
    tp = tl__permute(op, t, nd, perm);
    if (tp) vals = tl__copy_as(op, tp, TL__IS_FLOAT(t->dtype) ? TL_F64 : TL_I64);
    if (vals) ri = tl__new(op, nd, vals->shape, TL_I64);
    n = t->shape[d];
    tmp = ri ? (int64_t *)tl__malloc(tl__szn(n > 0 ? n : 1, 8)) : NULL;
    if (ri && !tmp) TL__FAIL(TL_ERR_OOM, "%s: out of memory sorting %s", op, TL__SH(t));
    if (tmp) {
        int64_t *ix = (int64_t *)tl__ptr(ri);
        lanes = n ? tl_numel(vals) / n : 0;
        keys.desc = desc;
        for (l = 0; l < lanes; l++) {
            keys.f = TL__IS_FLOAT(t->dtype) ? (const double *)tl__ptr(vals) + l * n : NULL;
            keys.i = TL__IS_FLOAT(t->dtype) ? NULL : (const int64_t *)tl__ptr(vals) + l * n;
            for (i = 0; i < n; i++) ix[l * n + i] = i;
            tl__msort(&keys, ix + l * n, tmp, n);
        }
        tl__free(tmp);
        rv = tl__permute(op, ri, nd, inv);
        if (rv) r = tl__copy_as(op, rv, TL_I64);
    }
    tl__release(tp);
    tl__release(vals);
    tl__release(ri);
    tl__release(rv);
    return r;
}
/* values = gather(t, d, idx) (recorded: the gradient scatters back, as torch's SortBackward0) */
static tl_tensor *tl__take_sorted(tl_tensor *idx, const tl_tensor *t, int d, tl_tensor **indices, const char *tname) {
    tl_tensor *v = idx ? tl__gather_impl(t, d, idx) : NULL;
    if (v && v->grad_fn) v->grad_fn->tname = tname;
    if (!v) {
        tl__release(idx);
        return NULL;
    }
    if (indices) *indices = tl__ret(idx);
    else tl__release(idx);
    return tl__ret(v);
}
TLDEF tl_tensor *tl_sort(const tl_tensor *t, int dim, int descending, tl_tensor **indices) {
    int d;
    if (indices) *indices = NULL;
    TL__CHECK1("tl_sort", t);
    d = tl__wrap_dim("tl_sort", dim, t->ndim, t);
    if (d < 0) return NULL;
    return tl__take_sorted(tl__sort_idx("tl_sort", t, d, descending), t, d, indices, "SortBackward0");
}
TLDEF tl_tensor *tl_argsort(const tl_tensor *t, int dim, int descending) {
    int d;
    TL__CHECK1("tl_argsort", t);
    d = tl__wrap_dim("tl_argsort", dim, t->ndim, t);
    if (d < 0) return NULL;
    return tl__ret(tl__sort_idx("tl_argsort", t, d, descending));
}
TLDEF tl_tensor *tl_topk(const tl_tensor *t, int64_t k, int dim, int largest, int sorted, tl_tensor **indices) {
    int d;
    int64_t size;
    tl_tensor *all, *part, *idx;
    (void)sorted; /* the k values always come sorted (a valid order for sorted = 0 as well) */
    if (indices) *indices = NULL;
    TL__CHECK1("tl_topk", t);
    d = tl__wrap_dim("tl_topk", dim, t->ndim, t);
    if (d < 0) return NULL;
    size = t->ndim ? t->shape[d] : 1;
    if (k < 0 || k > size)
        return TL__FAILN(TL_ERR_ARG, "tl_topk: selected index k (%lld) out of range for dimension %d of size %lld "
                         "(input %s)", (long long)k, d, (long long)size, TL__SH(t));
    all = tl__sort_idx("tl_topk", t, d, largest);
    if (!all) return NULL;
    part = t->ndim ? tl__narrow("tl_topk", all, d, 0, k) : NULL;
    idx = part ? tl__copy_as("tl_topk", part, TL_I64) : (t->ndim ? NULL : all);
    if (t->ndim) {
        tl__release(part);
        tl__release(all);
    }
    return tl__take_sorted(idx, t, d, indices, "TopkBackward0");
}

/* ===== >>pool (GEMM worker threads) =========================================================== */
/* A small pool for splitting kernels over output blocks. tl__pool_run(fn, arg, ntasks) runs
   fn(arg, 0..ntasks-1) on the caller plus the workers and returns when all are done. Callers choose
   ntasks from tl_get_num_threads() and split only over independent outputs, so each output element
   is computed by the same instructions in the same order for every thread count (bit-identical).
   Nested or concurrent calls (another thread already using the pool) run inline. */
#define TL__POOL_MAX 64
#if defined(__GNUC__) || defined(__clang__)
#define TL__ATOMIC_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#else
#define TL__ATOMIC_STORE(p, v) (*(p) = (v))
#endif
typedef void (*tl__pool_fn)(void *arg, int task);
static int tl__nthreads_cfg = 0; /* 0: not read yet (env TL_NUM_THREADS, default 1) */
#if TL__HAVE_THREADS
static pthread_mutex_t tl__pl_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tl__pl_work = PTHREAD_COND_INITIALIZER, tl__pl_done = PTHREAD_COND_INITIALIZER;
static struct {
    tl__thread th[TL__POOL_MAX];
    int nworkers, stop, busy, next, ntasks, pending;
    tl__pool_fn fn;
    void *arg;
} tl__pl;
static void *tl__pool_main(void *unused) {
    (void)unused;
    pthread_mutex_lock(&tl__pl_mu);
    for (;;) {
        while (!tl__pl.stop && tl__pl.next >= tl__pl.ntasks) pthread_cond_wait(&tl__pl_work, &tl__pl_mu);
        if (tl__pl.stop) break;
        while (tl__pl.next < tl__pl.ntasks) {
            int t = tl__pl.next++;
            tl__pool_fn fn = tl__pl.fn;
            void *arg = tl__pl.arg;
            pthread_mutex_unlock(&tl__pl_mu);
            fn(arg, t);
            pthread_mutex_lock(&tl__pl_mu);
            if (--tl__pl.pending == 0) pthread_cond_broadcast(&tl__pl_done);
        }
    }
    pthread_mutex_unlock(&tl__pl_mu);
    tl__cache_flush(); /* the scratch blocks this worker's tasks cached go back to the allocator */
    return NULL;
}
/* Joins every worker (tl_shutdown); the pool restarts on demand. */
static void tl__pool_stop(void) {
    int i, n;
    pthread_mutex_lock(&tl__pl_mu);
    if (tl__pl.busy) { /* another thread is inside a GEMM: leave the workers alone */
        pthread_mutex_unlock(&tl__pl_mu);
        return;
    }
    tl__pl.stop = 1;
    n = tl__pl.nworkers;
    pthread_cond_broadcast(&tl__pl_work);
    pthread_mutex_unlock(&tl__pl_mu);
    for (i = 0; i < n; i++) tl__thread_join(&tl__pl.th[i]);
    pthread_mutex_lock(&tl__pl_mu);
    tl__pl.nworkers = 0;
    tl__pl.stop = 0;
    pthread_mutex_unlock(&tl__pl_mu);
}
#endif
TLDEF void tl_set_num_threads(int n) {
    if (n < 1) n = 1;
    if (n > TL__POOL_MAX) n = TL__POOL_MAX;
    TL__ATOMIC_STORE(&tl__nthreads_cfg, n);
}
TLDEF int tl_get_num_threads(void) {
    int n = TL__ATOMIC_LOAD(&tl__nthreads_cfg);
    if (n == 0) {
        const char *e = getenv("TL_NUM_THREADS");
        n = e ? atoi(e) : 1;
        if (n < 1) n = 1;
        if (n > TL__POOL_MAX) n = TL__POOL_MAX;
        TL__ATOMIC_STORE(&tl__nthreads_cfg, n);
    }
    return n;
}
static void tl__pool_run(tl__pool_fn fn, void *arg, int ntasks) {
    int t;
#if TL__HAVE_THREADS
    int want = tl_get_num_threads() - 1;
    if (ntasks > 1 && want > 0) {
        pthread_mutex_lock(&tl__pl_mu);
        if (!tl__pl.busy && !tl__pl.stop) {
            if (want > ntasks - 1) want = ntasks - 1;
            while (tl__pl.nworkers < want && tl__thread_start(&tl__pl.th[tl__pl.nworkers], tl__pool_main, NULL))
                tl__pl.nworkers++;
            if (tl__pl.nworkers > 0) {
                tl__pl.busy = 1;
                tl__pl.fn = fn;
                tl__pl.arg = arg;
                tl__pl.next = 0;
                tl__pl.ntasks = ntasks;
                tl__pl.pending = ntasks;
                pthread_cond_broadcast(&tl__pl_work);
                while (tl__pl.next < tl__pl.ntasks) { /* the caller works too */
                    t = tl__pl.next++;
                    pthread_mutex_unlock(&tl__pl_mu);
                    fn(arg, t);
                    pthread_mutex_lock(&tl__pl_mu);
                    tl__pl.pending--;
                }
                while (tl__pl.pending > 0) pthread_cond_wait(&tl__pl_done, &tl__pl_mu);
                tl__pl.busy = 0;
                pthread_mutex_unlock(&tl__pl_mu);
                return;
            }
        }
        pthread_mutex_unlock(&tl__pl_mu);
    }
#endif
    for (t = 0; t < ntasks; t++) fn(arg, t);
}

/* ===== >>gemm (packed, cache-blocked GEMM) ====================================================== */
/* C[m,n] = alpha * A[m,k] @ B[k,n] + beta * C, A and B given by element strides (row, column), so
   every transpose case is a packing order, never a copy; C has row stride ldc and column stride 1.
   Blocking (Goto/BLIS style): B is packed in KC x NC panels of NR-wide micro-panels, A in MC x KC
   blocks of MR-tall micro-panels; an MR x NR register-blocked micro-kernel adds A_p @ B_p to C.
   Each element of C gets the same sum in the same order (KC blocks in turn, C += block sum) however
   the M/N ranges are split, which keeps results bit-identical across thread counts. float32 picks
   an AVX2+FMA micro-kernel at run time on x86-64 with gcc/clang (env TL_SIMD=portable forces the
   portable C kernel); float64 has an AVX2+FMA kernel as well. */
#ifndef TL__KC
#define TL__KC 256
#endif
#ifndef TL__MC
#define TL__MC 144 /* a multiple of MR (6) */
#endif
#ifndef TL__NC
#define TL__NC 3072 /* a multiple of NR (16 and 8) */
#endif
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define TL__X86_SIMD 1
#include <immintrin.h>
#else
#define TL__X86_SIMD 0
#endif
/* 0: portable C, 2: AVX2+FMA; -1 until first use (env TL_SIMD=portable, then cpuid). */
static int tl__simd_level = -1;
static int tl__simd(void) {
    int l = TL__ATOMIC_LOAD(&tl__simd_level);
    if (l < 0) {
        const char *e = getenv("TL_SIMD");
        l = 0;
#if TL__X86_SIMD
        __builtin_cpu_init();
        if (!(e && strcmp(e, "portable") == 0) && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            l = 2;
#else
        (void)e;
#endif
        TL__ATOMIC_STORE(&tl__simd_level, l);
    }
    return l;
}

/* Packing a transposed float B (k contiguous, columns bcs apart) into a 16-wide panel: 8x8 blocks
   transposed in AVX registers instead of 16 scattered stores per k. Returns 0 (not done) without
   AVX2, for doubles or other panel widths. */
#if TL__X86_SIMD
__attribute__((target("avx2"))) static void tl__packbt_avx2(int64_t kc, const float *b, int64_t bcs, float *d) {
    int64_t p, jb, j;
    for (p = 0; p + 8 <= kc; p += 8)
        for (jb = 0; jb < 16; jb += 8) {
            const float *s = b + jb * bcs + p;
            __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + bcs), r2 = _mm256_loadu_ps(s + 2 * bcs);
            __m256 r3 = _mm256_loadu_ps(s + 3 * bcs), r4 = _mm256_loadu_ps(s + 4 * bcs);
            __m256 r5 = _mm256_loadu_ps(s + 5 * bcs), r6 = _mm256_loadu_ps(s + 6 * bcs);
            __m256 r7 = _mm256_loadu_ps(s + 7 * bcs);
            __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
            __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
            __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
            __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
            __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            float *o = d + p * 16 + jb;
            _mm256_storeu_ps(o, _mm256_permute2f128_ps(u0, u4, 0x20));
            _mm256_storeu_ps(o + 16, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_storeu_ps(o + 32, _mm256_permute2f128_ps(u2, u6, 0x20));
            _mm256_storeu_ps(o + 48, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_storeu_ps(o + 64, _mm256_permute2f128_ps(u0, u4, 0x31));
            _mm256_storeu_ps(o + 80, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_storeu_ps(o + 96, _mm256_permute2f128_ps(u2, u6, 0x31));
            _mm256_storeu_ps(o + 112, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
    for (; p < kc; p++)
        for (j = 0; j < 16; j++) d[p * 16 + j] = b[j * bcs + p];
}
#endif
static int tl__packbt_vec(size_t tsize, int nrw, int64_t kc, const void *b, int64_t bcs, void *d) {
#if TL__X86_SIMD
    if (tsize == 4 && nrw == 16 && tl__simd() == 2) {
        tl__packbt_avx2(kc, (const float *)b, bcs, (float *)d);
        return 1;
    }
#endif
    (void)tsize; (void)nrw; (void)kc; (void)b; (void)bcs; (void)d;
    return 0;
}

#define TL__GEMM_DEFS(S, T, MR, NR)                                                                  \
    typedef void (*tl__##S##kern_fn)(int64_t kc, const T *a, const T *b, T *c, int64_t ldc, int mr, int nr); \
    /* a: mc x kc block of A -> MR-row micro-panels (p-major), rows past mc are zero; scaled by alpha */ \
    static void tl__##S##pack_a(int64_t mc, int64_t kc, const T *A, int64_t ars, int64_t acs, T alpha, T *d) { \
        int64_t ir, p;                                                                               \
        int r;                                                                                       \
        for (ir = 0; ir < mc; ir += MR) {                                                            \
            int mr = mc - ir < MR ? (int)(mc - ir) : MR;                                             \
            const T *a = A + ir * ars;                                                               \
            for (p = 0; p < kc; p++, d += MR) {                                                      \
                for (r = 0; r < mr; r++) d[r] = a[r * ars + p * acs];                                \
                for (; r < MR; r++) d[r] = 0;                                                        \
                if (alpha != 1)                                                                      \
                    for (r = 0; r < mr; r++) d[r] *= alpha;                                          \
            }                                                                                        \
        }                                                                                            \
    }                                                                                                \
    /* b: kc x nc panel of B -> NR-column micro-panels (p-major), columns past nc are zero */        \
    static void tl__##S##pack_b(int64_t kc, int64_t nc, const T *B, int64_t brs, int64_t bcs, T *d) { \
        int64_t jr, p;                                                                               \
        int j;                                                                                       \
        for (jr = 0; jr < nc; jr += NR) {                                                            \
            int nr = nc - jr < NR ? (int)(nc - jr) : NR;                                             \
            const T *b = B + jr * bcs;                                                               \
            if (nr == NR && bcs == 1)                                                                \
                for (p = 0; p < kc; p++, d += NR) memcpy(d, b + p * brs, sizeof(T) * NR);            \
            else if (brs == 1) { /* B^T stored (columns contiguous along k): read runs, write strided */ \
                if (nr == NR && tl__packbt_vec(sizeof(T), NR, kc, b, bcs, d)) {                      \
                    d += kc * NR;                                                                    \
                    continue;                                                                        \
                }                                                                                    \
                for (j = 0; j < nr; j++)                                                             \
                    for (p = 0; p < kc; p++) d[p * NR + j] = b[j * bcs + p];                         \
                for (; j < NR; j++)                                                                  \
                    for (p = 0; p < kc; p++) d[p * NR + j] = 0;                                      \
                d += kc * NR;                                                                        \
            } else                                                                                   \
                for (p = 0; p < kc; p++, d += NR) {                                                  \
                    for (j = 0; j < nr; j++) d[j] = b[p * brs + j * bcs];                            \
                    for (; j < NR; j++) d[j] = 0;                                                    \
                }                                                                                    \
        }                                                                                            \
    }                                                                                                \
    /* portable micro-kernel: C[mr, nr] += a_panel @ b_panel */                                      \
    static void tl__##S##kern_c(int64_t kc, const T *a, const T *b, T *c, int64_t ldc, int mr, int nr) { \
        T acc[MR][NR];                                                                               \
        int64_t p;                                                                                   \
        int r, j;                                                                                    \
        memset(acc, 0, sizeof acc);                                                                  \
        for (p = 0; p < kc; p++, a += MR, b += NR)                                                   \
            for (r = 0; r < MR; r++) {                                                               \
                const T ar = a[r];                                                                   \
                for (j = 0; j < NR; j++) acc[r][j] += ar * b[j];                                     \
            }                                                                                        \
        for (r = 0; r < mr; r++)                                                                     \
            for (j = 0; j < nr; j++) c[r * ldc + j] += acc[r][j];                                    \
    }                                                                                                \
    typedef struct tl__##S##gemm_job {                                                               \
        int64_t m, n, k, ars, acs, brs, bcs, ldc, mcb, ncb, kcb, chunk;                              \
        const T *A, *B;                                                                              \
        T *C, *bufs, alpha;                                                                          \
        size_t abuf_n, bbuf_n;                                                                       \
        int split_n;                                                                                 \
        tl__##S##kern_fn kern;                                                                       \
    } tl__##S##gemm_job;                                                                             \
    /* the serial blocked product over rows [i0, i1) and columns [j0, j1) of C */                    \
    static void tl__##S##gemm_part(const tl__##S##gemm_job *J, int64_t i0, int64_t i1, int64_t j0, int64_t j1, \
                                   T *abuf, T *bbuf) {                                               \
        int64_t jc, pc, ic, jr, ir;                                                                  \
        for (jc = j0; jc < j1; jc += J->ncb) {                                                       \
            int64_t nc = j1 - jc < J->ncb ? j1 - jc : J->ncb;                                        \
            for (pc = 0; pc < J->k; pc += J->kcb) {                                                  \
                int64_t kc = J->k - pc < J->kcb ? J->k - pc : J->kcb;                                \
                tl__##S##pack_b(kc, nc, J->B + pc * J->brs + jc * J->bcs, J->brs, J->bcs, bbuf);     \
                for (ic = i0; ic < i1; ic += J->mcb) {                                               \
                    int64_t mc = i1 - ic < J->mcb ? i1 - ic : J->mcb;                                \
                    tl__##S##pack_a(mc, kc, J->A + ic * J->ars + pc * J->acs, J->ars, J->acs, J->alpha, abuf); \
                    for (jr = 0; jr < nc; jr += NR)                                                  \
                        for (ir = 0; ir < mc; ir += MR)                                              \
                            J->kern(kc, abuf + ir * kc, bbuf + jr * kc, J->C + (ic + ir) * J->ldc + jc + jr, \
                                    J->ldc, mc - ir < MR ? (int)(mc - ir) : MR, nc - jr < NR ? (int)(nc - jr) : NR); \
                }                                                                                    \
            }                                                                                        \
        }                                                                                            \
    }                                                                                                \
    static void tl__##S##gemm_task(void *arg, int t) {                                               \
        const tl__##S##gemm_job *J = (const tl__##S##gemm_job *)arg;                                 \
        T *abuf = J->bufs + (size_t)t * (J->abuf_n + J->bbuf_n), *bbuf = abuf + J->abuf_n;           \
        int64_t lo = t * J->chunk, hi;                                                               \
        if (J->split_n) {                                                                            \
            hi = lo + J->chunk < J->n ? lo + J->chunk : J->n;                                        \
            if (lo < hi) tl__##S##gemm_part(J, 0, J->m, lo, hi, abuf, bbuf);                         \
        } else {                                                                                     \
            hi = lo + J->chunk < J->m ? lo + J->chunk : J->m;                                        \
            if (lo < hi) tl__##S##gemm_part(J, lo, hi, 0, J->n, abuf, bbuf);                         \
        }                                                                                            \
    }                                                                                                \
    /* The blocked GEMM with a given micro-kernel and nt tasks (nt <= 0: tl_get_num_threads()). */   \
    static void tl__##S##gemm_with(tl__##S##kern_fn kern, int nt, int64_t m, int64_t n, int64_t k, T alpha, \
                                   const T *A, int64_t ars, int64_t acs, const T *B, int64_t brs, int64_t bcs, \
                                   T beta, T *C, int64_t ldc) {                                      \
        tl__##S##gemm_job J;                                                                         \
        T sa[MR * TL__KC], sb[TL__KC * NR];                                                          \
        void *raw;                                                                                   \
        tl_storage *hold;                                                                            \
        int64_t i, j, units, span;                                                                   \
        if (m <= 0 || n <= 0) return;                                                                \
        for (i = 0; i < m; i++) { /* C = beta * C first (beta 0 ignores what C held, NaN included) */ \
            T *c = C + i * ldc;                                                                      \
            if (beta == 0) memset(c, 0, sizeof(T) * (size_t)n);                                      \
            else if (beta != 1)                                                                      \
                for (j = 0; j < n; j++) c[j] *= beta;                                                \
        }                                                                                            \
        if (k <= 0 || alpha == 0) return;                                                            \
        memset(&J, 0, sizeof J);                                                                     \
        J.m = m; J.n = n; J.k = k; J.A = A; J.ars = ars; J.acs = acs; J.B = B; J.brs = brs; J.bcs = bcs; \
        J.C = C; J.ldc = ldc; J.alpha = alpha; J.kern = kern;                                        \
        J.kcb = k < TL__KC ? k : TL__KC;                                                             \
        if (nt <= 0) nt = tl_get_num_threads();                                                      \
        if ((double)m * (double)n * (double)k < 262144.0) nt = 1; /* too small to be worth a wake-up */ \
        J.split_n = (n + NR - 1) / NR >= (m + MR - 1) / MR;                                          \
        units = J.split_n ? (n + NR - 1) / NR : (m + MR - 1) / MR;                                   \
        if (nt > units) nt = (int)units;                                                             \
        span = (units + nt - 1) / nt;                                                                \
        nt = (int)((units + span - 1) / span);                                                       \
        J.chunk = span * (J.split_n ? NR : MR);                                                      \
        {                                                                                            \
            int64_t mr_ = J.split_n ? m : J.chunk, nr_ = J.split_n ? J.chunk : n;                    \
            J.mcb = mr_ < TL__MC ? (mr_ + MR - 1) / MR * MR : TL__MC;                                \
            J.ncb = nr_ < TL__NC ? (nr_ + NR - 1) / NR * NR : TL__NC;                                \
        }                                                                                            \
        /* panels start on 64-byte lines (a 32-byte load across two lines costs more) */             \
        J.abuf_n = ((size_t)(J.mcb * J.kcb) + 63) / 64 * 64;                                         \
        J.bbuf_n = ((size_t)(J.kcb * J.ncb) + 63) / 64 * 64;                                         \
        raw = tl__scratch(tl__szadd(tl__szmul(tl__szmul(J.abuf_n + J.bbuf_n, sizeof(T)), (size_t)nt), 64), &hold); \
        J.bufs = raw ? (T *)(void *)((char *)raw + (64 - (size_t)((uintptr_t)raw % 64)) % 64) : NULL; \
        if (!J.bufs) { /* no memory: the same sums through micro-panel-sized stack buffers */        \
            J.mcb = MR;                                                                              \
            J.ncb = NR;                                                                              \
            tl__##S##gemm_part(&J, 0, m, 0, n, sa, sb);                                              \
            return;                                                                                  \
        }                                                                                            \
        if (nt == 1) tl__##S##gemm_task(&J, 0);                                                      \
        else tl__pool_run(tl__##S##gemm_task, &J, nt);                                               \
        tl__scratch_free(raw, hold);                                                                 \
    }
TL__GEMM_DEFS(s, float, 6, 16)
TL__GEMM_DEFS(d, double, 6, 8)

#if TL__X86_SIMD
/* AVX2+FMA 6x16 float micro-kernel: 12 accumulators, 2 B vectors, 1 broadcast. */
__attribute__((target("avx2,fma"))) static void tl__skern_avx2(int64_t kc, const float *a, const float *b, float *c,
                                                                int64_t ldc, int mr, int nr) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
           c40 = c00, c41 = c00, c50 = c00, c51 = c00, b0, b1, ar;
    int64_t p;
    for (p = 0; p < kc; p++, a += 6, b += 16) {
        b0 = _mm256_loadu_ps(b);
        b1 = _mm256_loadu_ps(b + 8);
        ar = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(ar, b0, c00); c01 = _mm256_fmadd_ps(ar, b1, c01);
        ar = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(ar, b0, c10); c11 = _mm256_fmadd_ps(ar, b1, c11);
        ar = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(ar, b0, c20); c21 = _mm256_fmadd_ps(ar, b1, c21);
        ar = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(ar, b0, c30); c31 = _mm256_fmadd_ps(ar, b1, c31);
        ar = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(ar, b0, c40); c41 = _mm256_fmadd_ps(ar, b1, c41);
        ar = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(ar, b0, c50); c51 = _mm256_fmadd_ps(ar, b1, c51);
    }
    if (mr == 6 && nr == 16) {
#define TL__SROW(r, x0, x1)                                                                        \
    _mm256_storeu_ps(c + r * ldc, _mm256_add_ps(_mm256_loadu_ps(c + r * ldc), x0));                \
    _mm256_storeu_ps(c + r * ldc + 8, _mm256_add_ps(_mm256_loadu_ps(c + r * ldc + 8), x1))
        TL__SROW(0, c00, c01); TL__SROW(1, c10, c11); TL__SROW(2, c20, c21);
        TL__SROW(3, c30, c31); TL__SROW(4, c40, c41); TL__SROW(5, c50, c51);
#undef TL__SROW
    } else {
        float t[6][16];
        int r, j;
        _mm256_storeu_ps(t[0], c00); _mm256_storeu_ps(t[0] + 8, c01);
        _mm256_storeu_ps(t[1], c10); _mm256_storeu_ps(t[1] + 8, c11);
        _mm256_storeu_ps(t[2], c20); _mm256_storeu_ps(t[2] + 8, c21);
        _mm256_storeu_ps(t[3], c30); _mm256_storeu_ps(t[3] + 8, c31);
        _mm256_storeu_ps(t[4], c40); _mm256_storeu_ps(t[4] + 8, c41);
        _mm256_storeu_ps(t[5], c50); _mm256_storeu_ps(t[5] + 8, c51);
        for (r = 0; r < mr; r++)
            for (j = 0; j < nr; j++) c[r * ldc + j] += t[r][j];
    }
}
/* AVX2+FMA 6x8 double micro-kernel. */
__attribute__((target("avx2,fma"))) static void tl__dkern_avx2(int64_t kc, const double *a, const double *b,
                                                                double *c, int64_t ldc, int mr, int nr) {
    __m256d c00 = _mm256_setzero_pd(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
            c40 = c00, c41 = c00, c50 = c00, c51 = c00, b0, b1, ar;
    int64_t p;
    for (p = 0; p < kc; p++, a += 6, b += 8) {
        b0 = _mm256_loadu_pd(b);
        b1 = _mm256_loadu_pd(b + 4);
        ar = _mm256_broadcast_sd(a + 0); c00 = _mm256_fmadd_pd(ar, b0, c00); c01 = _mm256_fmadd_pd(ar, b1, c01);
        ar = _mm256_broadcast_sd(a + 1); c10 = _mm256_fmadd_pd(ar, b0, c10); c11 = _mm256_fmadd_pd(ar, b1, c11);
        ar = _mm256_broadcast_sd(a + 2); c20 = _mm256_fmadd_pd(ar, b0, c20); c21 = _mm256_fmadd_pd(ar, b1, c21);
        ar = _mm256_broadcast_sd(a + 3); c30 = _mm256_fmadd_pd(ar, b0, c30); c31 = _mm256_fmadd_pd(ar, b1, c31);
        ar = _mm256_broadcast_sd(a + 4); c40 = _mm256_fmadd_pd(ar, b0, c40); c41 = _mm256_fmadd_pd(ar, b1, c41);
        ar = _mm256_broadcast_sd(a + 5); c50 = _mm256_fmadd_pd(ar, b0, c50); c51 = _mm256_fmadd_pd(ar, b1, c51);
    }
    if (mr == 6 && nr == 8) {
#define TL__DROW(r, x0, x1)                                                                        \
    _mm256_storeu_pd(c + r * ldc, _mm256_add_pd(_mm256_loadu_pd(c + r * ldc), x0));                \
    _mm256_storeu_pd(c + r * ldc + 4, _mm256_add_pd(_mm256_loadu_pd(c + r * ldc + 4), x1))
        TL__DROW(0, c00, c01); TL__DROW(1, c10, c11); TL__DROW(2, c20, c21);
        TL__DROW(3, c30, c31); TL__DROW(4, c40, c41); TL__DROW(5, c50, c51);
#undef TL__DROW
    } else {
        double t[6][8];
        int r, j;
        _mm256_storeu_pd(t[0], c00); _mm256_storeu_pd(t[0] + 4, c01);
        _mm256_storeu_pd(t[1], c10); _mm256_storeu_pd(t[1] + 4, c11);
        _mm256_storeu_pd(t[2], c20); _mm256_storeu_pd(t[2] + 4, c21);
        _mm256_storeu_pd(t[3], c30); _mm256_storeu_pd(t[3] + 4, c31);
        _mm256_storeu_pd(t[4], c40); _mm256_storeu_pd(t[4] + 4, c41);
        _mm256_storeu_pd(t[5], c50); _mm256_storeu_pd(t[5] + 4, c51);
        for (r = 0; r < mr; r++)
            for (j = 0; j < nr; j++) c[r * ldc + j] += t[r][j];
    }
}
#endif
static tl__skern_fn tl__skern(void) {
#if TL__X86_SIMD
    if (tl__simd() == 2) return tl__skern_avx2;
#endif
    return tl__skern_c;
}
static tl__dkern_fn tl__dkern(void) {
#if TL__X86_SIMD
    if (tl__simd() == 2) return tl__dkern_avx2;
#endif
    return tl__dkern_c;
}
#ifdef TL_USE_CBLAS
/* TL_USE_CBLAS: operands a BLAS can take (one unit stride, leading dimension >= the other size,
   sizes within int) go to cblas_?gemm; the rest (broadcast zero strides, views with two strides)
   keep the built-in path. The prototypes are CBLAS's (the enums passed as their int values: 101
   CblasRowMajor, 111 CblasNoTrans, 112 CblasTrans), so no cblas.h is needed. */
#ifdef __cplusplus
extern "C" {
#endif
void cblas_sgemm(int order, int transa, int transb, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);
void cblas_dgemm(int order, int transa, int transb, int m, int n, int k, double alpha, const double *a, int lda,
                 const double *b, int ldb, double beta, double *c, int ldc);
#ifdef __cplusplus
}
#endif
/* The CBLAS transpose flag and leading dimension of a rows x cols operand with strides (rs, cs). */
static int tl__blas_op(int64_t rows, int64_t cols, int64_t rs, int64_t cs, int *trans, int *ld) {
    if (cs == 1 && rs >= (cols > 1 ? cols : 1) && rs <= INT32_MAX) {
        *trans = 111;
        *ld = (int)rs;
        return 1;
    }
    if (rs == 1 && cs >= (rows > 1 ? rows : 1) && cs <= INT32_MAX) {
        *trans = 112;
        *ld = (int)cs;
        return 1;
    }
    return 0;
}
static int tl__blas_ok(int64_t m, int64_t n, int64_t k, int64_t ars, int64_t acs, int64_t brs, int64_t bcs,
                       int64_t ldc, int *ta, int *lda, int *tb, int *ldb) {
    return m > 0 && n > 0 && k > 0 && m <= INT32_MAX && n <= INT32_MAX && k <= INT32_MAX && ldc <= INT32_MAX &&
           ldc >= n && tl__blas_op(m, k, ars, acs, ta, lda) && tl__blas_op(k, n, brs, bcs, tb, ldb);
}
#endif
/* The entry points: the blocked path with the run-time kernel and the configured thread count. */
static void tl__sgemm(int64_t m, int64_t n, int64_t k, float alpha, const float *A, int64_t ars, int64_t acs,
                      const float *B, int64_t brs, int64_t bcs, float beta, float *C, int64_t ldc) {
#ifdef TL_USE_CBLAS
    int ta, lda, tb, ldb;
    if (tl__blas_ok(m, n, k, ars, acs, brs, bcs, ldc, &ta, &lda, &tb, &ldb)) {
        cblas_sgemm(101, ta, tb, (int)m, (int)n, (int)k, alpha, A, lda, B, ldb, beta, C, (int)ldc);
        return;
    }
#endif
    tl__sgemm_with(tl__skern(), 0, m, n, k, alpha, A, ars, acs, B, brs, bcs, beta, C, ldc);
}
static void tl__dgemm(int64_t m, int64_t n, int64_t k, double alpha, const double *A, int64_t ars, int64_t acs,
                      const double *B, int64_t brs, int64_t bcs, double beta, double *C, int64_t ldc) {
#ifdef TL_USE_CBLAS
    int ta, lda, tb, ldb;
    if (tl__blas_ok(m, n, k, ars, acs, brs, bcs, ldc, &ta, &lda, &tb, &ldb)) {
        cblas_dgemm(101, ta, tb, (int)m, (int)n, (int)k, alpha, A, lda, B, ldb, beta, C, (int)ldc);
        return;
    }
#endif
    tl__dgemm_with(tl__dkern(), 0, m, n, k, alpha, A, ars, acs, B, brs, bcs, beta, C, ldc);
}

/* ===== >>linalg =============================================================================== */

/* C[n,m] = A[n,k] @ B[k,m], all row-major contiguous (the dtypes computed in float or double). */
static void tl__gemm_f32(int64_t n, int64_t k, int64_t m, const float *A, const float *B, float *C) {
    tl__sgemm(n, m, k, 1.0f, A, k, 1, B, m, 1, 0.0f, C, m);
}
static void tl__gemm_f64(int64_t n, int64_t k, int64_t m, const double *A, const double *B, double *C) {
    tl__dgemm(n, m, k, 1.0, A, k, 1, B, m, 1, 0.0, C, m);
}
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

/* C[n,m] = A[n,k] @ B[k,m] for any element strides of A and B (C contiguous). Tiny products
   (n*k*m below TL__GEMM_SMALL, e.g. a batch-1 step) run these direct loops, which cost less than
   packing: rows of B contiguous -> i-p-j; B transposed (stride 1 along k) -> dot products. Larger
   ones go to the packed tl__sgemm/tl__dgemm. */
#define TL__GEMM_SMALL 4096
#define TL__GEMM_STRIDED(NAME, T, BIG)                                                             \
    static void NAME(int64_t n, int64_t k, int64_t m, const T *A, int64_t as0, int64_t as1, const T *B,   \
                     int64_t bs0, int64_t bs1, T *C) {                                            \
        int64_t i, j, p;                                                                           \
        if ((double)n * (double)k * (double)m >= TL__GEMM_SMALL) {                                 \
            BIG(n, m, k, 1, A, as0, as1, B, bs0, bs1, 0, C, m);                                    \
            return;                                                                                \
        }                                                                                          \
        if (bs1 == 1) {                                                                            \
            for (i = 0; i < n; i++) {                                                              \
                T *c = C + i * m;                                                                  \
                for (j = 0; j < m; j++) c[j] = 0;                                                  \
                for (p = 0; p < k; p++) {                                                          \
                    const T av = A[i * as0 + p * as1], *b = B + p * bs0;                           \
                    for (j = 0; j < m; j++) c[j] += av * b[j];                                     \
                }                                                                                  \
            }                                                                                      \
        } else if (as1 == 1 && bs0 == 1) { /* x @ w.t(): contiguous dot products */            \
            for (i = 0; i < n; i++)                                                                \
                for (j = 0; j < m; j++) {                                                          \
                    const T *a = A + i * as0, *b = B + j * bs1;                                    \
                    T acc = 0;                                                                     \
                    for (p = 0; p < k; p++) acc += a[p] * b[p];                                    \
                    C[i * m + j] = acc;                                                            \
                }                                                                                  \
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
TL__GEMM_STRIDED(tl__gemm_sf32, float, tl__sgemm)
TL__GEMM_STRIDED(tl__gemm_sf64, double, tl__dgemm)

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
    if (a->dtype == cdt && ct != TL__CT_I64) { /* packing reads any strides */
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

/* ===== >>functional =========================================================================== */

TLDEF tl_tensor *tl_linear(const tl_tensor *x, const tl_tensor *weight, const tl_tensor *bias) {
    tl_tensor *wt, *y, *r;
    TL__CHECK2("tl_linear", x, weight);
    if (weight->ndim != 2)
        return TL__FAILN(TL_ERR_SHAPE, "tl_linear: weight must be 2-D [out, in], got %s (input %s)", TL__SH(weight),
                         TL__SH(x));
    wt = tl__transpose("tl_linear", weight, 0, 1);
    y = wt ? tl__matmul("tl_linear", x, wt) : NULL;
    tl__release(wt);
    if (!y || !bias) return tl__ret(y);
    r = tl__binary("tl_linear", TL__OP_ADD, y, bias, 0, 0, 1);
    tl__release(y);
    if (r && r->grad_fn && x->ndim == 2) r->grad_fn->tname = "AddmmBackward0"; /* torch's fused addmm */
    return tl__ret(r);
}

/* ---- conv2d: im2col + GEMM per image and group; backward with col2im ---- */

typedef struct tl__conv {
    int64_t N, C, H, W, O, kh, kw, Ho, Wo, Cg, Og, K, L;
    int sh, sw, ph, pw, dh, dw, g;
} tl__conv;

/* The output columns ow whose input column ow * sw - pw + kj * dw lies in [0, W): [*lo, *hi). */
static void tl__conv_cols(const tl__conv *c, int64_t kj, int64_t *lo, int64_t *hi) {
    int64_t off = kj * c->dw - c->pw, a = 0, b;
    if (off < 0) a = (-off + c->sw - 1) / c->sw;       /* first ow with ow*sw + off >= 0 */
    b = c->W - off <= 0 ? 0 : (c->W - off - 1) / c->sw + 1; /* first ow with ow*sw + off >= W */
    if (b > c->Wo) b = c->Wo;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}
/* cols[K, L] from one image group x [Cg, H, W] (zeros outside the image): per row of cols and
   output row, the in-image span is computed once (a memcpy when the stride is 1). */
#define TL__IM2COL(NAME, T)                                                                        \
    static void NAME(const tl__conv *c, const T *x, T *cols) {                                    \
        int64_t ch, ki, kj, oh, ow, row = 0, lo, hi;                                               \
        for (ch = 0; ch < c->Cg; ch++)                                                             \
            for (ki = 0; ki < c->kh; ki++)                                                         \
                for (kj = 0; kj < c->kw; kj++, row++) {                                            \
                    T *dst = cols + row * c->L;                                                    \
                    int64_t off = kj * c->dw - c->pw;                                              \
                    tl__conv_cols(c, kj, &lo, &hi);                                                \
                    for (oh = 0; oh < c->Ho; oh++, dst += c->Wo) {                                 \
                        int64_t ih = oh * c->sh - c->ph + ki * c->dh, base;                        \
                        if (ih < 0 || ih >= c->H) {                                                \
                            for (ow = 0; ow < c->Wo; ow++) dst[ow] = 0;                            \
                            continue;                                                              \
                        }                                                                          \
                        base = (ch * c->H + ih) * c->W + off; /* + ow * sw >= row start for ow >= lo */ \
                        for (ow = 0; ow < lo; ow++) dst[ow] = 0;                                   \
                        if (c->sw == 1 && hi > lo)                                                 \
                            memcpy(dst + lo, x + base + lo, sizeof(T) * (size_t)(hi - lo));        \
                        else                                                                       \
                            for (ow = lo; ow < hi; ow++) dst[ow] = x[base + ow * c->sw];           \
                        for (ow = hi; ow < c->Wo; ow++) dst[ow] = 0;                               \
                    }                                                                              \
                }                                                                                  \
    }                                                                                              \
    static void NAME##_back(const tl__conv *c, const T *cols, T *x) { /* x += col2im(cols) */      \
        int64_t ch, ki, kj, oh, ow, row = 0, lo, hi;                                               \
        for (ch = 0; ch < c->Cg; ch++)                                                             \
            for (ki = 0; ki < c->kh; ki++)                                                         \
                for (kj = 0; kj < c->kw; kj++, row++) {                                            \
                    const T *src = cols + row * c->L;                                              \
                    int64_t off = kj * c->dw - c->pw;                                              \
                    tl__conv_cols(c, kj, &lo, &hi);                                                \
                    for (oh = 0; oh < c->Ho; oh++, src += c->Wo) {                                 \
                        int64_t ih = oh * c->sh - c->ph + ki * c->dh, base;                        \
                        if (ih < 0 || ih >= c->H) continue;                                        \
                        base = (ch * c->H + ih) * c->W + off;                                      \
                        if (c->sw == 1)                                                            \
                            for (ow = lo; ow < hi; ow++) x[base + ow] += src[ow];                  \
                        else                                                                       \
                            for (ow = lo; ow < hi; ow++) x[base + ow * c->sw] += src[ow];          \
                    }                                                                              \
                }                                                                                  \
    }
TL__IM2COL(tl__im2col_f32, float)
TL__IM2COL(tl__im2col_f64, double)

static int tl__conv_plan(const char *op, const tl_tensor *x, const tl_tensor *w, const tl_tensor *b,
                         const tl_conv2d_opts *o, tl__conv *c) {
    tl_conv2d_opts d;
    memset(&d, 0, sizeof d);
    if (!o) o = &d;
    if (x->ndim != 4 || w->ndim != 4) {
        TL__FAIL(TL_ERR_SHAPE, "%s: expected a 4-D input [N, C, H, W] and a 4-D weight [O, C/groups, kh, kw], got %s "
                 "and %s", op, TL__SH(x), TL__SH(w));
        return 0;
    }
    if (x->dtype != w->dtype || (x->dtype != TL_F32 && x->dtype != TL_F64) || (b && b->dtype != x->dtype)) {
        TL__FAIL(TL_ERR_DTYPE, "%s: input, weight and bias must share a float32/float64 dtype, got %s, %s%s%s", op,
                 TL__DT(x), TL__DT(w), b ? " and " : "", b ? TL__DT(b) : "");
        return 0;
    }
    memset(c, 0, sizeof *c);
    c->N = x->shape[0]; c->C = x->shape[1]; c->H = x->shape[2]; c->W = x->shape[3];
    c->O = w->shape[0]; c->kh = w->shape[2]; c->kw = w->shape[3];
    c->g = o->groups > 0 ? o->groups : 1;
    c->sh = o->stride[0] > 0 ? o->stride[0] : 1;
    c->sw = o->stride[1] > 0 ? o->stride[1] : 1;
    c->dh = o->dilation[0] > 0 ? o->dilation[0] : 1;
    c->dw = o->dilation[1] > 0 ? o->dilation[1] : 1;
    c->ph = o->padding[0];
    c->pw = o->padding[1];
    if (o->stride[0] < 0 || o->stride[1] < 0 || o->padding[0] < 0 || o->padding[1] < 0 || o->dilation[0] < 0 ||
        o->dilation[1] < 0 || o->groups < 0) {
        TL__FAIL(TL_ERR_ARG, "%s: stride, padding, dilation and groups must be non-negative (input %s)", op, TL__SH(x));
        return 0;
    }
    if (c->C % c->g || c->O % c->g || w->shape[1] * c->g != c->C) {
        TL__FAIL(TL_ERR_SHAPE, "%s: expected weight %s to have %lld input channels per group (input %s, groups %d)", op,
                 TL__SH(w), (long long)(c->C / c->g), TL__SH(x), c->g);
        return 0;
    }
    if (b && (b->ndim != 1 || b->shape[0] != c->O)) {
        TL__FAIL(TL_ERR_SHAPE, "%s: bias must be [%lld], got %s", op, (long long)c->O, TL__SH(b));
        return 0;
    }
    if (o->padding_same) {
        int64_t th = c->dh * (c->kh - 1), tw = c->dw * (c->kw - 1);
        if (c->sh != 1 || c->sw != 1) {
            TL__FAIL(TL_ERR_ARG, "%s: padding='same' is not supported for strided convolutions (input %s)", op,
                     TL__SH(x));
            return 0;
        }
        /* torch pads total // 2 before and the rest after: with an odd total the extra zero row
           or column is on the far side, which im2col's bounds check supplies */
        c->ph = (int)(th / 2);
        c->pw = (int)(tw / 2);
    }
    c->Ho = (c->H + 2 * c->ph - c->dh * (c->kh - 1) - 1) / c->sh + 1;
    c->Wo = (c->W + 2 * c->pw - c->dw * (c->kw - 1) - 1) / c->sw + 1;
    if (o->padding_same) {
        c->Ho = c->H;
        c->Wo = c->W;
    }
    if (c->H + 2 * c->ph < c->dh * (c->kh - 1) + 1 || c->W + 2 * c->pw < c->dw * (c->kw - 1) + 1 || c->Ho < 1 ||
        c->Wo < 1) {
        TL__FAIL(TL_ERR_SHAPE, "%s: calculated padded input size per channel (%lld x %lld) is smaller than the kernel "
                 "size (%lld x %lld) (input %s, weight %s)", op, (long long)(c->H + 2 * c->ph),
                 (long long)(c->W + 2 * c->pw), (long long)(c->dh * (c->kh - 1) + 1),
                 (long long)(c->dw * (c->kw - 1) + 1), TL__SH(x), TL__SH(w));
        return 0;
    }
    c->Cg = c->C / c->g;
    c->Og = c->O / c->g;
    c->K = c->Cg * c->kh * c->kw;
    c->L = c->Ho * c->Wo;
    return 1;
}

/* Images [t * per, (t + 1) * per) of a conv2d forward, on cols buffer t: every image is computed
   the same way whichever task runs it, so results do not depend on the thread count. */
typedef struct tl__conv_job {
    const tl__conv *c;
    const char *x, *w;
    char *out, *cols;
    const double *bias; /* [O] or NULL */
    size_t es, cols_bytes;
    int64_t per;
    int f32;
} tl__conv_job;
static void tl__conv_fwd_task(void *arg, int t) {
    const tl__conv_job *J = (const tl__conv_job *)arg;
    const tl__conv *c = J->c;
    char *cols = J->cols + (size_t)t * J->cols_bytes;
    int64_t n, g, oc, l, n1 = (t + 1) * J->per < c->N ? (t + 1) * J->per : c->N;
    for (n = t * J->per; n < n1; n++)
        for (g = 0; g < c->g; g++) {
            const char *xp = J->x + (size_t)((n * c->C + g * c->Cg) * c->H * c->W) * J->es;
            const char *wp = J->w + (size_t)(g * c->Og * c->K) * J->es;
            char *op_ = J->out + (size_t)((n * c->O + g * c->Og) * c->L) * J->es;
            if (J->f32) {
                tl__im2col_f32(c, (const float *)xp, (float *)cols);
                tl__gemm_sf32(c->Og, c->K, c->L, (const float *)wp, c->K, 1, (const float *)cols, c->L, 1, (float *)op_);
            } else {
                tl__im2col_f64(c, (const double *)xp, (double *)cols);
                tl__gemm_sf64(c->Og, c->K, c->L, (const double *)wp, c->K, 1, (const double *)cols, c->L, 1,
                              (double *)op_);
            }
            if (J->bias)
                for (oc = 0; oc < c->Og; oc++) {
                    double bv = J->bias[g * c->Og + oc];
                    if (J->f32) {
                        float *q = (float *)op_ + oc * c->L, fb = (float)bv;
                        for (l = 0; l < c->L; l++) q[l] += fb;
                    } else {
                        double *q = (double *)op_ + oc * c->L;
                        for (l = 0; l < c->L; l++) q[l] += bv;
                    }
                }
        }
}
/* How many image tasks: the thread count, when there is enough work per image to share. */
static int tl__conv_tasks(const tl__conv *c) {
    int nt = tl_get_num_threads();
    if ((double)c->N * (double)c->O * (double)c->K * (double)c->L < 2e6) nt = 1;
    if (nt > c->N) nt = (int)(c->N > 0 ? c->N : 1);
    return nt;
}
static tl_tensor *tl__conv2d(const char *op, const tl_tensor *x, const tl_tensor *w, const tl_tensor *b,
                             const tl_conv2d_opts *o) {
    tl__conv c;
    tl__conv_job J;
    tl_tensor *xc, *wc, *out;
    int64_t shape[4], oc;
    size_t es;
    void *cols;
    double *bias = NULL;
    tl_storage *hold = NULL, *bhold = NULL;
    int nt;
    if (!tl__conv_plan(op, x, w, b, o, &c)) return NULL;
    shape[0] = c.N; shape[1] = c.O; shape[2] = c.Ho; shape[3] = c.Wo;
    es = tl__dtype_sizes[x->dtype];
    nt = tl__conv_tasks(&c);
    xc = tl__contig(op, x);
    wc = xc ? tl__contig(op, w) : NULL;
    out = wc ? tl__new(op, 4, shape, x->dtype) : NULL;
    cols = out ? tl__scratch(tl__szmul(tl__szmul(tl__szn(c.K, es), tl__szn(c.L, 1)), (size_t)nt), &hold) : NULL;
    if (cols && b) bias = (double *)tl__scratch(tl__szn(c.O, sizeof(double)), &bhold);
    if (!cols || (b && !bias)) {
        if (out) TL__FAIL(TL_ERR_OOM, "%s: out of memory for the im2col buffer (%lld x %lld)", op, (long long)c.K,
                          (long long)c.L);
        tl__scratch_free(cols, hold);
        tl__release(xc);
        tl__release(wc);
        tl__release(out);
        return NULL;
    }
    for (oc = 0; b && oc < c.O; oc++)
        tl__load(&bias[oc], TL__CT_F64, (const char *)b->storage->data + (size_t)(b->offset + oc * b->stride[0]) * es,
                 b->dtype, 0, 1);
    J.c = &c;
    J.x = tl__ptr(xc);
    J.w = tl__ptr(wc);
    J.out = tl__ptr(out);
    J.cols = (char *)cols;
    J.bias = bias;
    J.es = es;
    J.cols_bytes = (size_t)(c.K * c.L) * es;
    J.per = (c.N + nt - 1) / nt;
    J.f32 = x->dtype == TL_F32;
    if (nt > 1) tl__pool_run(tl__conv_fwd_task, &J, nt);
    else tl__conv_fwd_task(&J, 0);
    tl__scratch_free(bias, bhold);
    tl__scratch_free(cols, hold);
    tl__release(xc);
    tl__release(wc);
    if (tl__wants_grad(x, w, b)) {
        tl__node *nd;
        if (!tl__record(out, TL__OP_CONV2D, x, w, b)) {
            tl__release(out);
            return NULL;
        }
        nd = out->grad_fn;
        nd->ip[0] = c.sh; nd->ip[1] = c.sw; nd->ip[2] = c.ph; nd->ip[3] = c.pw;
        nd->ip[4] = c.dh; nd->ip[5] = c.dw; nd->ip[6] = c.g; nd->ip[7] = o && o->padding_same;
        if (TL__NEED(nd, 1)) tl__save_in(nd, 0);
        if (TL__NEED(nd, 0)) tl__save_in(nd, 1);
    }
    return out;
}
TLDEF tl_tensor *tl_conv2d(const tl_tensor *x, const tl_tensor *weight, const tl_tensor *bias,
                           const tl_conv2d_opts *opts) {
    TL__CHECK2("tl_conv2d", x, weight);
    return tl__ret(tl__conv2d("tl_conv2d", x, weight, bias, opts));
}
/* dx = col2im(W_g^T @ g), dW_g += g @ cols^T, db = sum of g over N, H, W. */
/* dx for images [t * per, (t + 1) * per): x holds g, out holds dx, cols buffer t. */
static void tl__conv_dx_task(void *arg, int t) {
    const tl__conv_job *J = (const tl__conv_job *)arg;
    const tl__conv *c = J->c;
    char *cols = J->cols + (size_t)t * J->cols_bytes;
    int64_t nn, gg, n1 = (t + 1) * J->per < c->N ? (t + 1) * J->per : c->N;
    for (nn = t * J->per; nn < n1; nn++)
        for (gg = 0; gg < c->g; gg++) {
            const char *gp = J->x + (size_t)((nn * c->O + gg * c->Og) * c->L) * J->es;
            const char *wp = J->w + (size_t)(gg * c->Og * c->K) * J->es;
            char *xp = J->out + (size_t)((nn * c->C + gg * c->Cg) * c->H * c->W) * J->es;
            if (J->f32) { /* cols[K, L] = W_g^T [K, Og] @ g [Og, L] */
                tl__gemm_sf32(c->K, c->Og, c->L, (const float *)wp, 1, c->K, (const float *)gp, c->L, 1, (float *)cols);
                tl__im2col_f32_back(c, (const float *)cols, (float *)xp);
            } else {
                tl__gemm_sf64(c->K, c->Og, c->L, (const double *)wp, 1, c->K, (const double *)gp, c->L, 1,
                              (double *)cols);
                tl__im2col_f64_back(c, (const double *)cols, (double *)xp);
            }
        }
}
static tl_status tl__bwd_conv(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    tl_conv2d_opts o;
    tl__conv c;
    const tl_tensor *x = n->in[0], *w = n->in[1];
    tl_tensor *gc = NULL, *xc = NULL, *wc = NULL, *gx = NULL, *gw = NULL;
    void *cols = NULL;
    tl_storage *hold = NULL;
    int64_t nn, gg;
    size_t es;
    int f32, nt;
    memset(&o, 0, sizeof o);
    o.stride[0] = n->ip[0]; o.stride[1] = n->ip[1]; o.padding[0] = n->ip[2]; o.padding[1] = n->ip[3];
    o.dilation[0] = n->ip[4]; o.dilation[1] = n->ip[5]; o.groups = n->ip[6]; o.padding_same = n->ip[7];
    if (!tl__conv_plan("autograd", x, w, NULL, &o, &c)) return tl__tls.status;
    f32 = g->dtype == TL_F32;
    es = tl__dtype_sizes[g->dtype];
    nt = TL__NEED(n, 0) ? tl__conv_tasks(&c) : 1;
    gc = tl__contig("autograd", g);
    cols = gc ? tl__scratch(tl__szmul(tl__szmul(tl__szn(c.K, es), tl__szn(c.L, 1)), (size_t)nt), &hold) : NULL;
    if (!cols) goto fail;
    if (TL__NEED(n, 0)) { /* per image, split over the pool like the forward */
        tl__conv_job J;
        wc = tl__contig("autograd", w);
        gx = wc ? tl__full("autograd", 4, x->shape, 0, g->dtype) : NULL;
        if (!gx) goto fail;
        memset(&J, 0, sizeof J);
        J.c = &c;
        J.x = tl__ptr(gc);
        J.w = tl__ptr(wc);
        J.out = tl__ptr(gx);
        J.cols = (char *)cols;
        J.es = es;
        J.cols_bytes = (size_t)(c.K * c.L) * es;
        J.per = (c.N + nt - 1) / nt;
        J.f32 = f32;
        if (nt > 1) tl__pool_run(tl__conv_dx_task, &J, nt);
        else tl__conv_dx_task(&J, 0);
    }
    if (TL__NEED(n, 1)) {
        xc = tl__contig("autograd", x);
        gw = xc ? tl__full("autograd", 4, w->shape, 0, g->dtype) : NULL;
        if (!gw) goto fail;
        for (nn = 0; nn < c.N; nn++)
            for (gg = 0; gg < c.g; gg++) {
                const char *gp = tl__ptr(gc) + (size_t)((nn * c.O + gg * c.Og) * c.L) * es;
                const char *xp = tl__ptr(xc) + (size_t)((nn * c.C + gg * c.Cg) * c.H * c.W) * es;
                char *wp = tl__ptr(gw) + (size_t)(gg * c.Og * c.K) * es;
                if (f32) { /* dW_g[Og, K] += g [Og, L] @ cols^T [L, K] (beta 1: no temporary) */
                    tl__im2col_f32(&c, (const float *)xp, (float *)cols);
                    tl__sgemm(c.Og, c.K, c.L, 1.0f, (const float *)gp, c.L, 1, (const float *)cols, 1, c.L, 1.0f,
                              (float *)wp, c.K);
                } else {
                    tl__im2col_f64(&c, (const double *)xp, (double *)cols);
                    tl__dgemm(c.Og, c.K, c.L, 1.0, (const double *)gp, c.L, 1, (const double *)cols, 1, c.L, 1.0,
                              (double *)wp, c.K);
                }
            }
    }
    if (n->nin > 2 && TL__NEED(n, 2)) { /* bias: sum over N, H, W (in double, per channel) */
        int64_t oc, l;
        gin[2] = tl__new("autograd", 1, &c.O, g->dtype);
        if (!gin[2]) goto fail;
        for (oc = 0; oc < c.O; oc++) {
            double acc = 0;
            for (nn = 0; nn < c.N; nn++) {
                if (f32) {
                    const float *q = (const float *)tl__ptr(gc) + (nn * c.O + oc) * c.L;
                    for (l = 0; l < c.L; l++) acc += q[l];
                } else {
                    const double *q = (const double *)tl__ptr(gc) + (nn * c.O + oc) * c.L;
                    for (l = 0; l < c.L; l++) acc += q[l];
                }
            }
            if (f32) ((float *)tl__ptr(gin[2]))[oc] = (float)acc;
            else ((double *)tl__ptr(gin[2]))[oc] = acc;
        }
    }
    gin[0] = gx;
    gin[1] = gw;
    tl__scratch_free(cols, hold);
    tl__release(gc);
    tl__release(xc);
    tl__release(wc);
    return TL_OK;
fail:
    if (!tl__tls.status) TL__FAIL(TL_ERR_OOM, "autograd: out of memory in conv2d backward (input %s)", TL__SH(x));
    tl__scratch_free(cols, hold);
    tl__release(gc);
    tl__release(xc);
    tl__release(wc);
    tl__release(gx);
    tl__release(gw);
    return tl__tls.status;
}

/* ---- 2-D pooling ---- */

TLDEF tl_pool2d_opts tl_pool2d_opts_default(int kh, int kw) {
    tl_pool2d_opts o;
    memset(&o, 0, sizeof o);
    o.kernel[0] = o.stride[0] = kh;
    o.kernel[1] = o.stride[1] = kw;
    o.dilation[0] = o.dilation[1] = 1;
    o.count_include_pad = 1;
    return o;
}
typedef struct tl__pool { int64_t B, H, W, Ho, Wo; int kh, kw, sh, sw, ph, pw, dh, dw; } tl__pool;
/* torch's pooling_output_shape, including the ceil_mode rule that the last window must start
   inside the input or its left padding. */
static int64_t tl__pool_out(int64_t in, int k, int pad, int s, int d, int ceil_mode) {
    int64_t num = in + 2 * pad - (int64_t)d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), out = num / s + 1;
    if (num < 0) return 0;
    if (ceil_mode && (out - 1) * s >= in + pad) out--;
    return out;
}
static int tl__pool_plan(const char *op, const tl_tensor *x, const tl_pool2d_opts *o, tl__pool *p) {
    if (!o) {
        TL__FAIL(TL_ERR_ARG, "%s: options are NULL; start from tl_pool2d_opts_default(kh, kw) (input %s)", op,
                 TL__SH(x));
        return 0;
    }
    if (x->ndim != 3 && x->ndim != 4) {
        TL__FAIL(TL_ERR_SHAPE, "%s: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got %s", op, TL__SH(x));
        return 0;
    }
    if (x->dtype != TL_F32 && x->dtype != TL_F64) {
        TL__FAIL(TL_ERR_DTYPE, "%s: expected float32 or float64 input, got %s %s", op, TL__DT(x), TL__SH(x));
        return 0;
    }
    p->kh = o->kernel[0]; p->kw = o->kernel[1];
    p->sh = o->stride[0] > 0 ? o->stride[0] : p->kh;
    p->sw = o->stride[1] > 0 ? o->stride[1] : p->kw;
    p->ph = o->padding[0]; p->pw = o->padding[1];
    p->dh = o->dilation[0] > 0 ? o->dilation[0] : 1;
    p->dw = o->dilation[1] > 0 ? o->dilation[1] : 1;
    if (p->kh <= 0 || p->kw <= 0 || p->ph < 0 || p->pw < 0 || o->stride[0] < 0 || o->stride[1] < 0 ||
        o->dilation[0] < 0 || o->dilation[1] < 0) {
        TL__FAIL(TL_ERR_ARG, "%s: kernel size must be positive and padding/stride/dilation non-negative (kernel %d x "
                 "%d, input %s)", op, p->kh, p->kw, TL__SH(x));
        return 0;
    }
    if (2 * p->ph > p->kh || 2 * p->pw > p->kw) {
        TL__FAIL(TL_ERR_ARG, "%s: pad should be at most half of kernel size, but got pad=%d x %d and kernel_size=%d x %d "
                 "(input %s)", op, p->ph, p->pw, p->kh, p->kw, TL__SH(x));
        return 0;
    }
    p->H = x->shape[x->ndim - 2];
    p->W = x->shape[x->ndim - 1];
    p->B = tl_numel(x) / (p->H * p->W > 0 ? p->H * p->W : 1);
    p->Ho = tl__pool_out(p->H, p->kh, p->ph, p->sh, p->dh, o->ceil_mode);
    p->Wo = tl__pool_out(p->W, p->kw, p->pw, p->sw, p->dw, o->ceil_mode);
    if (p->Ho < 1 || p->Wo < 1) {
        TL__FAIL(TL_ERR_SHAPE, "%s: output size is too small (%lld x %lld) for input %s with kernel %d x %d", op,
                 (long long)p->Ho, (long long)p->Wo, TL__SH(x), p->kh, p->kw);
        return 0;
    }
    return 1;
}
static tl_tensor *tl__pool_new(const char *op, const tl_tensor *x, const tl__pool *p, tl_dtype dt) {
    int64_t shape[4];
    int d;
    for (d = 0; d < x->ndim - 2; d++) shape[d] = x->shape[d];
    shape[x->ndim - 2] = p->Ho;
    shape[x->ndim - 1] = p->Wo;
    return tl__new(op, x->ndim, shape, dt);
}
/* max_pool2d's 2x2 / stride 2 float32 windows, 8 outputs at a time with AVX2 (the same
   comparisons in the same order as the scalar loop below: a later element wins when it is larger
   or NaN). r0, r1: the two input rows; rowbase: r0's offset in the plane (the index base).
   Returns how many outputs of the row it did; 0 without AVX2, for other dtypes or huge planes. */
#if TL__X86_SIMD
__attribute__((target("avx2"))) static int64_t tl__mp2_avx2(const float *r0, const float *r1, int64_t rowbase,
                                                             int64_t W, int64_t Wo, float *out, int64_t *idx) {
    int64_t ow;
    const __m256i step = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14), one = _mm256_set1_epi32(1);
    const __m256i wv = _mm256_set1_epi32((int)W);
    for (ow = 0; ow + 8 <= Wo; ow += 8) {
        __m256 a = _mm256_loadu_ps(r0 + 2 * ow), b = _mm256_loadu_ps(r0 + 2 * ow + 8);
        __m256 c = _mm256_loadu_ps(r1 + 2 * ow), d = _mm256_loadu_ps(r1 + 2 * ow + 8);
        /* shuffle gives [x0 x2 y0 y2 | x4 x6 y4 y6]; the 64-bit permute puts them in order */
        __m256 e0 = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
        __m256 o0 = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
        __m256 e1 = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(c, d, 0x88)), 0xD8));
        __m256 o1 = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(c, d, 0xDD)), 0xD8));
        __m256i i0 = _mm256_add_epi32(_mm256_set1_epi32((int)(rowbase + 2 * ow)), step), bi = i0, i1;
        __m256 best = e0, m;
        m = _mm256_or_ps(_mm256_cmp_ps(o0, best, _CMP_GT_OQ), _mm256_cmp_ps(o0, o0, _CMP_UNORD_Q));
        best = _mm256_blendv_ps(best, o0, m);
        bi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bi), _mm256_castsi256_ps(_mm256_add_epi32(i0, one)), m));
        i1 = _mm256_add_epi32(i0, wv);
        m = _mm256_or_ps(_mm256_cmp_ps(e1, best, _CMP_GT_OQ), _mm256_cmp_ps(e1, e1, _CMP_UNORD_Q));
        best = _mm256_blendv_ps(best, e1, m);
        bi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bi), _mm256_castsi256_ps(i1), m));
        m = _mm256_or_ps(_mm256_cmp_ps(o1, best, _CMP_GT_OQ), _mm256_cmp_ps(o1, o1, _CMP_UNORD_Q));
        best = _mm256_blendv_ps(best, o1, m);
        bi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bi), _mm256_castsi256_ps(_mm256_add_epi32(i1, one)), m));
        _mm256_storeu_ps(out + ow, best);
        _mm256_storeu_si256((__m256i *)(void *)(idx + ow), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(bi)));
        _mm256_storeu_si256((__m256i *)(void *)(idx + ow + 4), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(bi, 1)));
    }
    return ow;
}
#endif
static int64_t tl__mp2_vec(size_t tsize, const void *r0, const void *r1, int64_t rowbase, int64_t H, int64_t W,
                           int64_t Wo, void *out, int64_t *idx) {
#if TL__X86_SIMD
    if (tsize == 4 && H * W < 0x7fffffff && tl__simd() == 2)
        return tl__mp2_avx2((const float *)r0, (const float *)r1, rowbase, W, Wo, (float *)out, idx);
#endif
    (void)tsize; (void)r0; (void)r1; (void)rowbase; (void)H; (void)W; (void)Wo; (void)out; (void)idx;
    return 0;
}
/* The max-pool loop on x's own dtype (exact: no conversion). The first maximum wins, a NaN wins
   (the last one, as torch's loop); 2x2 windows with stride 2 and no padding (the common case)
   take an unrolled loop with the same comparisons in the same order. */
#define TL__MAXPOOL(T)                                                                              \
    do {                                                                                            \
        int64_t *ixp = (int64_t *)tl__ptr(idx);                                                     \
        T *op_ = (T *)tl__ptr(out);                                                                 \
        for (b = 0; b < p.B; b++) {                                                                 \
            const T *xp = (const T *)tl__ptr(xc) + b * p.H * p.W;                                   \
            if (p.kh == 2 && p.kw == 2 && p.sh == 2 && p.sw == 2 && p.ph == 0 && p.pw == 0 && p.dh == 1 && \
                p.dw == 1 && 2 * p.Ho <= p.H && 2 * p.Wo <= p.W) {                                  \
                for (oh = 0; oh < p.Ho; oh++) {                                                     \
                    const T *r0 = xp + 2 * oh * p.W, *r1 = r0 + p.W;                                \
                    int64_t o = (b * p.Ho + oh) * p.Wo;                                             \
                    ow = tl__mp2_vec(sizeof(T), r0, r1, 2 * oh * p.W, p.H, p.W, p.Wo, op_ + o, ixp + o); \
                    for (; ow < p.Wo; ow++) { /* selects, not branches: random data mispredicts */  \
                        T best = r0[2 * ow], v;                                                     \
                        int64_t bi = 2 * oh * p.W + 2 * ow, c;                                      \
                        v = r0[2 * ow + 1];                                                         \
                        c = (v > best) | (v != v);                                                  \
                        best = c ? v : best;                                                        \
                        bi += c;                                                                    \
                        v = r1[2 * ow];                                                             \
                        c = (v > best) | (v != v);                                                  \
                        best = c ? v : best;                                                        \
                        bi = c ? (2 * oh + 1) * p.W + 2 * ow : bi;                                  \
                        v = r1[2 * ow + 1];                                                         \
                        c = (v > best) | (v != v);                                                  \
                        best = c ? v : best;                                                        \
                        bi = c ? (2 * oh + 1) * p.W + 2 * ow + 1 : bi;                              \
                        op_[o + ow] = best;                                                         \
                        ixp[o + ow] = bi;                                                           \
                    }                                                                               \
                }                                                                                   \
                continue;                                                                           \
            }                                                                                       \
            for (oh = 0; oh < p.Ho; oh++)                                                           \
                for (ow = 0; ow < p.Wo; ow++) {                                                     \
                    T best = -(T)INFINITY;                                                          \
                    int64_t bi = -1, ki, kj, o = (b * p.Ho + oh) * p.Wo + ow;                       \
                    for (ki = 0; ki < p.kh; ki++) {                                                 \
                        int64_t ih = oh * p.sh - p.ph + ki * p.dh;                                  \
                        if (ih < 0 || ih >= p.H) continue;                                          \
                        for (kj = 0; kj < p.kw; kj++) {                                             \
                            int64_t iw = ow * p.sw - p.pw + kj * p.dw;                              \
                            T v;                                                                    \
                            if (iw < 0 || iw >= p.W) continue;                                      \
                            v = xp[ih * p.W + iw];                                                  \
                            if (bi < 0 || v > best || v != v) {                                     \
                                best = v;                                                           \
                                bi = ih * p.W + iw;                                                 \
                            }                                                                       \
                        }                                                                           \
                    }                                                                               \
                    ixp[o] = bi;                                                                    \
                    op_[o] = bi < 0 ? -(T)INFINITY : best;                                          \
                }                                                                                   \
        }                                                                                           \
    } while (0)
TLDEF tl_tensor *tl_max_pool2d(const tl_tensor *x, const tl_pool2d_opts *opts, tl_tensor **indices) {
    tl__pool p;
    tl_tensor *xc, *out, *idx;
    int64_t b, oh, ow;
    if (indices) *indices = NULL;
    TL__CHECK1("tl_max_pool2d", x);
    if (!tl__pool_plan("tl_max_pool2d", x, opts, &p)) return NULL;
    xc = tl__contig("tl_max_pool2d", x);
    out = xc ? tl__pool_new("tl_max_pool2d", x, &p, x->dtype) : NULL;
    idx = out ? tl__pool_new("tl_max_pool2d", x, &p, TL_I64) : NULL;
    if (!idx) {
        tl__release(xc);
        tl__release(out);
        return NULL;
    }
    if (x->dtype == TL_F32) TL__MAXPOOL(float);
    else TL__MAXPOOL(double);
    tl__release(xc);
    if (tl__wants_grad(x, NULL, NULL)) {
        if (!tl__record(out, TL__OP_MAX_POOL2D, x, NULL, NULL)) {
            tl__release(out);
            tl__release(idx);
            return NULL;
        }
        out->grad_fn->aux = idx;
        idx->refcount++;
    }
    if (indices) *indices = tl__ret(idx);
    else tl__release(idx);
    return tl__ret(out);
}
TLDEF tl_tensor *tl_avg_pool2d(const tl_tensor *x, const tl_pool2d_opts *opts) {
    tl__pool p;
    tl_tensor *xc, *out;
    int64_t b, oh, ow;
    TL__CHECK1("tl_avg_pool2d", x);
    if (!tl__pool_plan("tl_avg_pool2d", x, opts, &p)) return NULL;
    if (p.dh != 1 || p.dw != 1)
        return TL__FAILN(TL_ERR_ARG, "tl_avg_pool2d: avg_pool2d has no dilation (got %d x %d, input %s)", p.dh, p.dw,
                         TL__SH(x));
    xc = tl__copy_as("tl_avg_pool2d", x, TL_F64);
    out = xc ? tl__pool_new("tl_avg_pool2d", x, &p, x->dtype) : NULL;
    if (!out) {
        tl__release(xc);
        return NULL;
    }
    for (b = 0; b < p.B; b++) {
        const double *xp = (const double *)tl__ptr(xc) + b * p.H * p.W;
        for (oh = 0; oh < p.Ho; oh++)
            for (ow = 0; ow < p.Wo; ow++) {
                int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw, o = (b * p.Ho + oh) * p.Wo + ow;
                int64_t h1 = h0 + p.kh < p.H + p.ph ? h0 + p.kh : p.H + p.ph;
                int64_t w1 = w0 + p.kw < p.W + p.pw ? w0 + p.kw : p.W + p.pw;
                int64_t div = (h1 - h0) * (w1 - w0), ih, iw;
                double acc = 0;
                if (h0 < 0) h0 = 0;
                if (w0 < 0) w0 = 0;
                if (h1 > p.H) h1 = p.H;
                if (w1 > p.W) w1 = p.W;
                if (!opts->count_include_pad) div = (h1 - h0) * (w1 - w0);
                for (ih = h0; ih < h1; ih++)
                    for (iw = w0; iw < w1; iw++) acc += xp[ih * p.W + iw];
                acc = div > 0 ? acc / (double)div : 0;
                tl__store(tl__ptr(out) + (size_t)o * tl__dtype_sizes[x->dtype], x->dtype, 0, &acc, TL__CT_F64, 1);
            }
    }
    tl__release(xc);
    if (tl__wants_grad(x, NULL, NULL)) {
        if (!tl__record(out, TL__OP_AVG_POOL2D, x, NULL, NULL)) {
            tl__release(out);
            return NULL;
        }
        out->grad_fn->ip[0] = p.kh; out->grad_fn->ip[1] = p.kw; out->grad_fn->ip[2] = p.sh;
        out->grad_fn->ip[3] = p.sw; out->grad_fn->ip[4] = p.ph; out->grad_fn->ip[5] = p.pw;
        out->grad_fn->ip[6] = opts->count_include_pad;
    }
    return tl__ret(out);
}
/* max: the gradient goes to the recorded index; avg: spread over each window by its divisor. */
static tl_status tl__bwd_pool(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    const tl_tensor *x = n->in[0];
    int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1], Ho = g->shape[g->ndim - 2],
            Wo = g->shape[g->ndim - 1], B = tl_numel(g) / (Ho * Wo > 0 ? Ho * Wo : 1), b, o;
    tl_tensor *gc, *gx;
    double *gxp, *gp;
    gin[0] = NULL;
    if (n->op == TL__OP_MAX_POOL2D && g->dtype == TL_F32) { /* float32: scatter in float, no copies */
        const int64_t *ip = (const int64_t *)tl__ptr(n->aux);
        float *fx, *fg;
        gc = tl__contig("autograd", g);
        gx = gc ? tl__full("autograd", x->ndim, x->shape, 0, TL_F32) : NULL;
        if (!gx) {
            tl__release(gc);
            return tl__tls.status;
        }
        fx = (float *)tl__ptr(gx);
        fg = (float *)tl__ptr(gc);
        for (b = 0; b < B; b++, fx += H * W, fg += Ho * Wo, ip += Ho * Wo)
            for (o = 0; o < Ho * Wo; o++)
                if (ip[o] >= 0) fx[ip[o]] += fg[o];
        tl__release(gc);
        gin[0] = gx;
        return TL_OK;
    }
    gc = tl__copy_as("autograd", g, TL_F64);
    gx = gc ? tl__full("autograd", x->ndim, x->shape, 0, TL_F64) : NULL;
    if (!gx) {
        tl__release(gc);
        return tl__tls.status;
    }
    gxp = (double *)tl__ptr(gx);
    gp = (double *)tl__ptr(gc);
    if (n->op == TL__OP_MAX_POOL2D) {
        const int64_t *ip = (const int64_t *)tl__ptr(n->aux);
        for (b = 0; b < B; b++)
            for (o = 0; o < Ho * Wo; o++)
                if (ip[b * Ho * Wo + o] >= 0) gxp[b * H * W + ip[b * Ho * Wo + o]] += gp[b * Ho * Wo + o];
    } else {
        int kh = n->ip[0], kw = n->ip[1], sh = n->ip[2], sw = n->ip[3], ph = n->ip[4], pw = n->ip[5];
        int64_t oh, ow, ih, iw;
        for (b = 0; b < B; b++)
            for (oh = 0; oh < Ho; oh++)
                for (ow = 0; ow < Wo; ow++) {
                    int64_t h0 = oh * sh - ph, w0 = ow * sw - pw;
                    int64_t h1 = h0 + kh < H + ph ? h0 + kh : H + ph, w1 = w0 + kw < W + pw ? w0 + kw : W + pw;
                    int64_t div = (h1 - h0) * (w1 - w0);
                    double gv;
                    if (h0 < 0) h0 = 0;
                    if (w0 < 0) w0 = 0;
                    if (h1 > H) h1 = H;
                    if (w1 > W) w1 = W;
                    if (!n->ip[6]) div = (h1 - h0) * (w1 - w0);
                    gv = div > 0 ? gp[(b * Ho + oh) * Wo + ow] / (double)div : 0;
                    for (ih = h0; ih < h1; ih++)
                        for (iw = w0; iw < w1; iw++) gxp[b * H * W + ih * W + iw] += gv;
                }
    }
    tl__release(gc);
    gin[0] = tl__sum_to(gx, x); /* converts back to x's dtype */
    return gin[0] ? TL_OK : tl__tls.status;
}

/* ---- losses ---- */

static tl_tensor *tl__reduce_loss(const char *op, tl_tensor *l, tl_reduction r) {
    tl_tensor *out;
    if (!l || r == TL_REDUCTION_NONE) return l;
    out = tl__reduce(op, r == TL_REDUCTION_SUM ? TL__OP_SUM : TL__OP_MEAN, l, 0, NULL, 0, 0, NULL);
    tl__release(l);
    return out;
}
static int tl__loss_check(const char *op, const tl_tensor *a, const tl_tensor *b, tl_reduction r) {
    if ((int)r < 0 || (int)r > 2) {
        TL__FAIL(TL_ERR_ARG, "%s: %d is not a valid reduction (use TL_REDUCTION_MEAN, _SUM or _NONE)", op, (int)r);
        return 0;
    }
    if (b && (a->ndim != b->ndim || memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim))) {
        TL__FAIL(TL_ERR_SHAPE, "%s: input %s and target %s must have the same shape", op, TL__SH(a), TL__SH(b));
        return 0;
    }
    return 1;
}

/* mse_loss, l1_loss and smooth_l1_loss broadcast input and target when their shapes differ, as
   torch does (torch.broadcast_tensors, after warning "Using a target size ... that is different to
   the input size ..."); the warning goes to stderr once per process. The two pointers become new
   untracked references to the expanded views (own[], released by the caller); shapes that do not
   broadcast fail. */
static int tl__loss_broadcast(const char *op, const tl_tensor **in, const tl_tensor **tg, tl_tensor **own) {
#ifndef TL_NO_STDIO
    static int warned; /* a benign race between threads at worst: the note may print twice */
#endif
    const tl_tensor *ts[2];
    int64_t shape[TL_MAX_DIMS];
    int nd;
    own[0] = own[1] = NULL;
    if ((*in)->ndim == (*tg)->ndim && !memcmp((*in)->shape, (*tg)->shape, sizeof(int64_t) * (size_t)(*in)->ndim)) return 1;
    ts[0] = *in;
    ts[1] = *tg;
    if (!tl__broadcast_n(op, 2, ts, &nd, shape)) return 0;
#ifndef TL_NO_STDIO
    if (!warned) {
        warned = 1;
        fprintf(stderr, "tensorlite: %s: using a target size (%s) that is different to the input size (%s); this will "
                "likely lead to incorrect results due to broadcasting (noted once)\n", op, TL__SH(*tg), TL__SH(*in));
    }
#endif
    own[0] = tl__expand(op, *in, nd, shape);
    own[1] = own[0] ? tl__expand(op, *tg, nd, shape) : NULL;
    if (!own[1]) {
        tl__release(own[0]);
        own[0] = NULL;
        return 0;
    }
    *in = own[0];
    *tg = own[1];
    return 1;
}
/* The broadcasting losses: broadcast, then the same-shape body. */
#define TL__BROADCAST_LOSS(op, body, ...)                                                        \
    do {                                                                                         \
        tl_tensor *own_[2], *r_ = NULL;                                                          \
        TL__CHECK2(op, input, target);                                                           \
        if (tl__loss_broadcast(op, &input, &target, own_)) r_ = body(input, target, __VA_ARGS__); \
        tl__release(own_[0]);                                                                    \
        tl__release(own_[1]);                                                                    \
        return r_;                                                                               \
    } while (0)

/* -w[t] * x[n, t] per sample (0 where t == ignore_index); mean divides by the summed weights. */
static tl_tensor *tl__nll(const char *op, const tl_tensor *x, const tl_tensor *t, const tl_tensor *w, int64_t ignore,
                          tl_reduction red) {
    int64_t N, C, i;
    tl_tensor *out;
    double total = 0, wsum = 0;
    if (x->ndim != 2 && x->ndim != 1)
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected input [N, C] or [C], got %s", op, TL__SH(x));
    if (!TL__IS_FLOAT(x->dtype))
        return TL__FAILN(TL_ERR_DTYPE, "%s: expected a floating input, got %s %s", op, TL__DT(x), TL__SH(x));
    if (t->dtype != TL_I64)
        return TL__FAILN(TL_ERR_DTYPE, "%s: expected int64 class indices as target, got %s %s", op, TL__DT(t),
                         TL__SH(t));
    N = x->ndim == 2 ? x->shape[0] : 1;
    C = x->shape[x->ndim - 1];
    if (t->ndim != x->ndim - 1 || (x->ndim == 2 && t->shape[0] != N))
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected target of shape [%lld], got %s (input %s)", op, (long long)N,
                         TL__SH(t), TL__SH(x));
    if (w && (w->ndim != 1 || w->shape[0] != C))
        return TL__FAILN(TL_ERR_SHAPE, "%s: weight must be [%lld], got %s", op, (long long)C, TL__SH(w));
    if (w && w->dtype != x->dtype)
        return TL__FAILN(TL_ERR_DTYPE, "%s: expected weight to have the input's dtype %s, got %s", op, TL__DT(x),
                         TL__DT(w));
    if (!tl__loss_check(op, x, NULL, red)) return NULL;
    out = red == TL_REDUCTION_NONE ? tl__new(op, x->ndim - 1, x->shape, x->dtype) : tl__new(op, 0, NULL, x->dtype);
    if (!out) return NULL;
    for (i = 0; i < N; i++) {
        int64_t ti = tl__index_at(t, t->offset + (t->ndim ? i * t->stride[0] : 0));
        double xv = 0, wv = 1, l = 0;
        if (ti != ignore) {
            if (ti < 0 || ti >= C) {
                tl__release(out);
                return TL__FAILN(TL_ERR_INDEX, "%s: target %lld is out of bounds for %lld classes (input %s)", op,
                                 (long long)ti, (long long)C, TL__SH(x));
            }
            tl__load(&xv, TL__CT_F64, (const char *)x->storage->data + (size_t)(x->offset + (x->ndim == 2 ?
                     i * x->stride[0] : 0) + ti * x->stride[x->ndim - 1]) * tl__dtype_sizes[x->dtype], x->dtype, 0, 1);
            if (w)
                tl__load(&wv, TL__CT_F64, (const char *)w->storage->data + (size_t)(w->offset + ti * w->stride[0]) *
                         tl__dtype_sizes[w->dtype], w->dtype, 0, 1);
            l = -wv * xv;
            wsum += wv;
        }
        total += l;
        if (red == TL_REDUCTION_NONE) tl__store(tl__ptr(out) + (size_t)i * tl__dtype_sizes[x->dtype], x->dtype, 0, &l,
                                                TL__CT_F64, 1);
    }
    if (red != TL_REDUCTION_NONE) {
        double v = red == TL_REDUCTION_MEAN ? total / wsum : total; /* all ignored: 0/0 = nan, as torch */
        tl__store(tl__ptr(out), x->dtype, 0, &v, TL__CT_F64, 1);
    }
    if (tl__wants_grad(x, NULL, NULL)) {
        if (!tl__record(out, TL__OP_NLL_LOSS, x, t, w)) {
            tl__release(out);
            return NULL;
        }
        out->grad_fn->lp[0] = ignore;
        out->grad_fn->ip[0] = (int)red;
        out->grad_fn->p[0] = wsum;
        tl__save_in(out->grad_fn, 1);
        if (w) tl__save_in(out->grad_fn, 2);
    }
    return out;
}
static tl_status tl__bwd_nll(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    const tl_tensor *x = n->in[0], *t = n->in[1], *w = n->nin > 2 ? n->in[2] : NULL;
    int64_t N = x->ndim == 2 ? x->shape[0] : 1, C = x->shape[x->ndim - 1], i;
    tl_reduction red = (tl_reduction)n->ip[0];
    tl_tensor *gx, *gc;
    gin[0] = gin[1] = gin[2] = NULL;
    if (!TL__NEED(n, 0)) return TL_OK;
    gx = tl__full("autograd", x->ndim, x->shape, 0, TL_F64);
    gc = gx ? tl__copy_as("autograd", g, TL_F64) : NULL;
    if (!gc) {
        tl__release(gx);
        return tl__tls.status;
    }
    for (i = 0; i < N; i++) {
        int64_t ti = tl__index_at(t, t->offset + (t->ndim ? i * t->stride[0] : 0));
        double wv = 1, gv = ((double *)tl__ptr(gc))[red == TL_REDUCTION_NONE ? i : 0];
        if (ti == n->lp[0]) continue;
        if (w)
            tl__load(&wv, TL__CT_F64, (const char *)w->storage->data + (size_t)(w->offset + ti * w->stride[0]) *
                     tl__dtype_sizes[w->dtype], w->dtype, 0, 1);
        if (red == TL_REDUCTION_MEAN) gv /= n->p[0];
        ((double *)tl__ptr(gx))[i * C + ti] = -wv * gv;
    }
    tl__release(gc);
    gin[0] = tl__sum_to(gx, x);
    return gin[0] ? TL_OK : tl__tls.status;
}
TLDEF tl_tensor *tl_nll_loss(const tl_tensor *input, const tl_tensor *target, const tl_tensor *weight,
                             int64_t ignore_index, tl_reduction reduction) {
    TL__CHECK2("tl_nll_loss", input, target);
    return tl__ret(tl__nll("tl_nll_loss", input, target, weight, ignore_index, reduction));
}
TLDEF tl_tensor *tl_cross_entropy(const tl_tensor *input, const tl_tensor *target, const tl_tensor *weight,
                                  int64_t ignore_index, tl_reduction reduction) {
    tl_ce_opts o = tl_ce_opts_default();
    o.weight = weight;
    o.ignore_index = ignore_index;
    o.reduction = reduction;
    return tl_cross_entropy_ex(input, target, &o);
}
static tl_tensor *tl__mse_loss(const tl_tensor *input, const tl_tensor *target, tl_reduction reduction) {
    tl_tensor *d, *sq;
    if (!tl__loss_check("tl_mse_loss", input, target, reduction)) return NULL;
    d = tl__binary("tl_mse_loss", TL__OP_SUB, input, target, 0, 0, 1);
    sq = d ? tl__binary("tl_mse_loss", TL__OP_MUL, d, d, 0, 0, 1) : NULL;
    tl__release(d);
    return tl__ret(tl__reduce_loss("tl_mse_loss", sq, reduction));
}
TLDEF tl_tensor *tl_mse_loss(const tl_tensor *input, const tl_tensor *target, tl_reduction reduction) {
    TL__BROADCAST_LOSS("tl_mse_loss", tl__mse_loss, reduction);
}
static tl_tensor *tl__l1_loss(const tl_tensor *input, const tl_tensor *target, tl_reduction reduction) {
    tl_tensor *d, *a;
    if (!tl__loss_check("tl_l1_loss", input, target, reduction)) return NULL;
    d = tl__binary("tl_l1_loss", TL__OP_SUB, input, target, 0, 0, 1);
    a = d ? tl__unary("tl_l1_loss", TL__OP_ABS, d, 0, 0) : NULL;
    tl__release(d);
    return tl__ret(tl__reduce_loss("tl_l1_loss", a, reduction));
}
TLDEF tl_tensor *tl_l1_loss(const tl_tensor *input, const tl_tensor *target, tl_reduction reduction) {
    TL__BROADCAST_LOSS("tl_l1_loss", tl__l1_loss, reduction);
}
/* |d| < beta ? 0.5 d^2 / beta : |d| - 0.5 beta, d = input - target. The backward is torch's
   kernel for each side (x <= -beta: -1, x >= beta: 1, else x / beta, with x = d for the input and
   x = -d for the target), which also fixes beta = 0 at d = 0 as torch does. */
static tl_tensor *tl__smooth_l1(const char *op, const tl_tensor *a, const tl_tensor *b, double beta) {
    tl_tensor *ac = tl__copy_as(op, a, TL_F64), *bc = ac ? tl__copy_as(op, b, TL_F64) : NULL, *out;
    int64_t i, n = tl_numel(a);
    out = bc ? tl__new(op, a->ndim, a->shape, tl_promote_types(a->dtype, b->dtype)) : NULL;
    for (i = 0; out && i < n; i++) {
        double d = ((double *)tl__ptr(ac))[i] - ((double *)tl__ptr(bc))[i], ad = fabs(d);
        double l = ad < beta ? 0.5 * d * d / beta : ad - 0.5 * beta;
        tl__store(tl__ptr(out) + (size_t)i * tl__dtype_sizes[out->dtype], out->dtype, 0, &l, TL__CT_F64, 1);
    }
    tl__release(ac);
    tl__release(bc);
    if (out && tl__wants_grad(a, b, NULL)) {
        if (!tl__record(out, TL__OP_SMOOTH_L1, a, b, NULL)) {
            tl__release(out);
            return NULL;
        }
        out->grad_fn->p[0] = beta;
        tl__save_in(out->grad_fn, 0);
        tl__save_in(out->grad_fn, 1);
    }
    return out;
}
static double tl__smooth_l1_grad(double x, double beta) {
    return x <= -beta ? -1 : x >= beta ? 1 : x / beta;
}
static tl_status tl__bwd_smoothl1(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    const tl_tensor *a = n->in[0], *b = n->in[1];
    double beta = n->p[0];
    int64_t i, cnt = tl_numel(a);
    tl_tensor *ac = tl__copy_as("autograd", a, TL_F64), *bc = ac ? tl__copy_as("autograd", b, TL_F64) : NULL;
    tl_tensor *gc = bc ? tl__copy_as("autograd", g, TL_F64) : NULL, *ga = NULL, *gb = NULL;
    gin[0] = gin[1] = NULL;
    if (gc && TL__NEED(n, 0)) ga = tl__new("autograd", a->ndim, a->shape, TL_F64);
    if (gc && TL__NEED(n, 1)) gb = tl__new("autograd", a->ndim, a->shape, TL_F64);
    for (i = 0; gc && i < cnt; i++) {
        double d = ((double *)tl__ptr(ac))[i] - ((double *)tl__ptr(bc))[i], gv = ((double *)tl__ptr(gc))[i];
        if (ga) ((double *)tl__ptr(ga))[i] = gv * tl__smooth_l1_grad(d, beta);
        if (gb) ((double *)tl__ptr(gb))[i] = gv * tl__smooth_l1_grad(-d, beta);
    }
    tl__release(ac);
    tl__release(bc);
    tl__release(gc);
    if (ga) gin[0] = tl__sum_to(ga, a);
    if (gb) gin[1] = tl__sum_to(gb, b);
    return (TL__NEED(n, 0) && !gin[0]) || (TL__NEED(n, 1) && !gin[1]) ? tl__tls.status : TL_OK;
}
static tl_tensor *tl__smooth_l1_loss(const tl_tensor *input, const tl_tensor *target, double beta,
                                     tl_reduction reduction) {
    const char *op = "tl_smooth_l1_loss";
    if (!tl__loss_check(op, input, target, reduction)) return NULL;
    if (!(beta >= 0)) return TL__FAILN(TL_ERR_ARG, "%s: beta must be non-negative (got %g)", op, beta);
    if (!TL__IS_FLOAT(input->dtype) || !TL__IS_FLOAT(target->dtype))
        return TL__FAILN(TL_ERR_DTYPE, "%s: expected floating input and target, got %s and %s", op, TL__DT(input),
                         TL__DT(target));
    return tl__ret(tl__reduce_loss(op, tl__smooth_l1(op, input, target, beta), reduction));
}
TLDEF tl_tensor *tl_smooth_l1_loss(const tl_tensor *input, const tl_tensor *target, double beta,
                                   tl_reduction reduction) {
    TL__BROADCAST_LOSS("tl_smooth_l1_loss", tl__smooth_l1_loss, beta, reduction);
}
/* -(y log(p) + (1 - y) log(1 - p)), each log clamped at -100; torch's backward
   (p - y) / max(p (1 - p), 1e-12), finite at p = 0 and 1. */
static tl_tensor *tl__bce(const char *op, const tl_tensor *p, const tl_tensor *y) {
    tl_tensor *pc, *yc, *out;
    int64_t i, n = tl_numel(p);
    if (!TL__IS_FLOAT(p->dtype) || !TL__IS_FLOAT(y->dtype))
        return TL__FAILN(TL_ERR_DTYPE, "%s: expected floating input and target, got %s and %s", op, TL__DT(p), TL__DT(y));
    pc = tl__copy_as(op, p, TL_F64);
    yc = pc ? tl__copy_as(op, y, TL_F64) : NULL;
    out = yc ? tl__new(op, p->ndim, p->shape, p->dtype) : NULL;
    for (i = 0; out && i < n; i++) {
        double pv = ((double *)tl__ptr(pc))[i], yv = ((double *)tl__ptr(yc))[i], l;
        if (!(pv >= 0 && pv <= 1)) {
            TL__FAIL(TL_ERR_ARG, "%s: all elements of input should be between 0 and 1 (got %g, input %s)", op, pv,
                     TL__SH(p));
            tl__release(out);
            out = NULL;
            break;
        }
        l = -(yv * fmax(log(pv), -100) + (1 - yv) * fmax(log1p(-pv), -100));
        tl__store(tl__ptr(out) + (size_t)i * tl__dtype_sizes[out->dtype], out->dtype, 0, &l, TL__CT_F64, 1);
    }
    tl__release(pc);
    tl__release(yc);
    if (out && tl__wants_grad(p, y, NULL)) {
        if (!tl__record(out, TL__OP_BCE, p, y, NULL)) {
            tl__release(out);
            return NULL;
        }
        tl__save_in(out->grad_fn, 0);
        tl__save_in(out->grad_fn, 1);
    }
    return out;
}
static tl_status tl__bwd_bce(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    const tl_tensor *p = n->in[0], *y = n->in[1];
    int64_t i, cnt = tl_numel(p);
    tl_tensor *pc = tl__copy_as("autograd", p, TL_F64), *yc = pc ? tl__copy_as("autograd", y, TL_F64) : NULL;
    tl_tensor *gc = yc ? tl__copy_as("autograd", g, TL_F64) : NULL, *gp = NULL, *gy = NULL;
    gin[0] = gin[1] = NULL;
    if (gc && TL__NEED(n, 0)) gp = tl__new("autograd", p->ndim, p->shape, TL_F64);
    if (gc && TL__NEED(n, 1)) gy = tl__new("autograd", p->ndim, p->shape, TL_F64);
    for (i = 0; gc && i < cnt; i++) {
        double pv = ((double *)tl__ptr(pc))[i], yv = ((double *)tl__ptr(yc))[i], gv = ((double *)tl__ptr(gc))[i];
        if (gp) ((double *)tl__ptr(gp))[i] = gv * (pv - yv) / fmax((1 - pv) * pv, (double)1e-12f); /* torch's float EPSILON */
        if (gy) ((double *)tl__ptr(gy))[i] = gv * (fmax(log1p(-pv), -100) - fmax(log(pv), -100));
    }
    tl__release(pc);
    tl__release(yc);
    tl__release(gc);
    if (gp) gin[0] = tl__sum_to(gp, p);
    if (gy) gin[1] = tl__sum_to(gy, y);
    return (TL__NEED(n, 0) && !gin[0]) || (TL__NEED(n, 1) && !gin[1]) ? tl__tls.status : TL_OK;
}
TLDEF tl_tensor *tl_bce_loss(const tl_tensor *input, const tl_tensor *target, tl_reduction reduction) {
    const char *op = "tl_bce_loss";
    TL__CHECK2(op, input, target);
    if (!tl__loss_check(op, input, target, reduction)) return NULL;
    return tl__ret(tl__reduce_loss(op, tl__bce(op, input, target), reduction));
}
/* torch's stable form: (1 - y) x + (1 + (pw - 1) y) (log1p(exp(-|x|)) + max(-x, 0)). */
TLDEF tl_tensor *tl_bce_with_logits(const tl_tensor *input, const tl_tensor *target, const tl_tensor *pos_weight,
                                    tl_reduction reduction) {
    tl_tensor *t[12], *r;
    int k;
    const char *op = "tl_bce_with_logits";
    TL__CHECK2(op, input, target);
    if (!tl__loss_check(op, input, target, reduction)) return NULL;
    memset(t, 0, sizeof t);
    t[0] = tl__unary(op, TL__OP_NEG, input, 0, 0);
    t[6] = tl__unary(op, TL__OP_SOFTPLUS, t[0], 1, 20);             /* softplus(-x) = -log(sigmoid(x)); t[1..5] unused */
    if (pos_weight) {
        t[7] = tl__binary(op, TL__OP_SUB, pos_weight, NULL, 1, 1, 1);
        t[8] = tl__binary(op, TL__OP_MUL, t[7], target, 0, 0, 1);
        t[9] = tl__binary(op, TL__OP_ADD, t[8], NULL, 1, 1, 1);
        t[10] = tl__binary(op, TL__OP_MUL, t[9], t[6], 0, 0, 1);
    } else {
        t[10] = t[6];
        if (t[6]) t[6]->refcount++;
    }
    t[11] = tl__rsub(op, target, 1);
    r = t[11] ? tl__binary(op, TL__OP_MUL, t[11], input, 0, 0, 1) : NULL;
    if (r) {
        tl_tensor *s = tl__binary(op, TL__OP_ADD, r, t[10], 0, 0, 1);
        tl__release(r);
        r = s;
    }
    for (k = 0; k < 12; k++) tl__release(t[k]);
    return tl__ret(tl__reduce_loss(op, r, reduction));
}

/* ---- adaptive average pooling: window i covers [floor(i*H/oh), ceil((i+1)*H/oh)) ---- */

TLDEF tl_tensor *tl_adaptive_avg_pool2d(const tl_tensor *x, int64_t oh, int64_t ow) {
    tl_pool2d_opts o = tl_pool2d_opts_default(1, 1);
    tl__pool p;
    tl_tensor *xc, *out;
    int64_t b, i, j, ih, iw;
    TL__CHECK1("tl_adaptive_avg_pool2d", x);
    if (oh <= 0 || ow <= 0)
        return TL__FAILN(TL_ERR_ARG, "tl_adaptive_avg_pool2d: output size must be positive (got %lld x %lld, input %s)",
                         (long long)oh, (long long)ow, TL__SH(x));
    if (!tl__pool_plan("tl_adaptive_avg_pool2d", x, &o, &p)) return NULL;
    p.Ho = oh;
    p.Wo = ow;
    xc = tl__copy_as("tl_adaptive_avg_pool2d", x, TL_F64);
    out = xc ? tl__pool_new("tl_adaptive_avg_pool2d", x, &p, x->dtype) : NULL;
    if (!out) {
        tl__release(xc);
        return NULL;
    }
    for (b = 0; b < p.B; b++)
        for (i = 0; i < oh; i++)
            for (j = 0; j < ow; j++) {
                int64_t h0 = i * p.H / oh, h1 = ((i + 1) * p.H + oh - 1) / oh;
                int64_t w0 = j * p.W / ow, w1 = ((j + 1) * p.W + ow - 1) / ow;
                double acc = 0;
                for (ih = h0; ih < h1; ih++)
                    for (iw = w0; iw < w1; iw++) acc += ((double *)tl__ptr(xc))[(b * p.H + ih) * p.W + iw];
                acc /= (double)((h1 - h0) * (w1 - w0));
                tl__store(tl__ptr(out) + (size_t)((b * oh + i) * ow + j) * tl__dtype_sizes[x->dtype], x->dtype, 0, &acc,
                          TL__CT_F64, 1);
            }
    tl__release(xc);
    if (tl__wants_grad(x, NULL, NULL) && !tl__record(out, TL__OP_ADAPTIVE_AVG_POOL2D, x, NULL, NULL)) {
        tl__release(out);
        return NULL;
    }
    return tl__ret(out);
}
static tl_status tl__bwd_adaptive(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    const tl_tensor *x = n->in[0];
    int64_t H = x->shape[x->ndim - 2], W = x->shape[x->ndim - 1], oh = g->shape[g->ndim - 2], ow = g->shape[g->ndim - 1];
    int64_t B = tl_numel(g) / (oh * ow > 0 ? oh * ow : 1), b, i, j, ih, iw;
    tl_tensor *gc = tl__copy_as("autograd", g, TL_F64), *gx = gc ? tl__full("autograd", x->ndim, x->shape, 0, TL_F64) : NULL;
    gin[0] = NULL;
    if (!gx) {
        tl__release(gc);
        return tl__tls.status;
    }
    for (b = 0; b < B; b++)
        for (i = 0; i < oh; i++)
            for (j = 0; j < ow; j++) {
                int64_t h0 = i * H / oh, h1 = ((i + 1) * H + oh - 1) / oh, w0 = j * W / ow, w1 = ((j + 1) * W + ow - 1) / ow;
                double gv = ((double *)tl__ptr(gc))[(b * oh + i) * ow + j] / (double)((h1 - h0) * (w1 - w0));
                for (ih = h0; ih < h1; ih++)
                    for (iw = w0; iw < w1; iw++) ((double *)tl__ptr(gx))[(b * H + ih) * W + iw] += gv;
            }
    tl__release(gc);
    gin[0] = tl__sum_to(gx, x);
    return gin[0] ? TL_OK : tl__tls.status;
}

/* ---- normalisation, dropout, embedding: compositions of recorded ops (autograd for free) ---- */

/* x viewed so that a per-channel [C] tensor broadcasts along dim 1 of x. */
static tl_tensor *tl__chan_view(const char *op, const tl_tensor *t, const tl_tensor *x) {
    int64_t shape[TL_MAX_DIMS];
    int d;
    for (d = 0; d < x->ndim; d++) shape[d] = d == 1 ? x->shape[1] : 1;
    return tl__view(op, t, x->ndim, shape, 1);
}
TLDEF tl_tensor *tl_batch_norm(const tl_tensor *x, tl_tensor *rm, tl_tensor *rv, const tl_tensor *weight,
                               const tl_tensor *bias, int training, double momentum, double eps,
                               tl_tensor *nbt) {
    const char *op = "tl_batch_norm";
    int dims[TL_MAX_DIMS], nd = 0, d, k;
    int64_t C, count;
    tl_tensor *t[12], *mean, *var, *y = NULL;
    TL__CHECK1(op, x);
    if (x->ndim < 2 || x->ndim > 4)
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected 2-D, 3-D or 4-D input [N, C, ...], got %s", op, TL__SH(x));
    if (!TL__IS_FLOAT(x->dtype))
        return TL__FAILN(TL_ERR_DTYPE, "%s: expected a floating input, got %s %s", op, TL__DT(x), TL__SH(x));
    C = x->shape[1];
    for (k = 0; k < 4; k++) {
        const tl_tensor *p = k == 0 ? rm : k == 1 ? rv : k == 2 ? weight : bias;
        if (p && (p->ndim != 1 || p->shape[0] != C))
            return TL__FAILN(TL_ERR_SHAPE, "%s: running_mean/running_var/weight/bias must be [%lld], got %s (input %s)",
                             op, (long long)C, TL__SH(p), TL__SH(x));
    }
    if (!training && (!rm || !rv))
        return TL__FAILN(TL_ERR_ARG, "%s: running_mean and running_var are required in eval mode (input %s)", op,
                         TL__SH(x));
    for (d = 0; d < x->ndim; d++)
        if (d != 1) dims[nd++] = d;
    count = tl_numel(x) / (C > 0 ? C : 1);
    if (training && count <= 1)
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected more than 1 value per channel when training, got input size %s",
                         op, TL__SH(x));
    memset(t, 0, sizeof t);
    if (training) {
        t[0] = tl__reduce(op, TL__OP_MEAN, x, nd, dims, 0, 0, NULL); /* [C] */
        t[1] = tl__reduce(op, TL__OP_VAR, x, nd, dims, 0, 0, NULL);  /* biased, normalises */
        mean = t[0];
        var = t[1];
        if (mean && var && rm && rv) { /* running stats: unbiased variance, not recorded */
            double mom = momentum;
            tl_tensor *uv, *dm, *dv;
            tl_no_grad_begin();
            if (momentum < 0) {
                if (!nbt) {
                    tl_no_grad_end();
                    for (k = 0; k < 12; k++) tl__release(t[k]);
                    return TL__FAILN(TL_ERR_ARG, "%s: momentum=None needs num_batches_tracked (input %s)", op, TL__SH(x));
                }
                mom = 1.0 / (double)(tl_item_i64(nbt) + 1);
            }
            uv = tl__binary(op, TL__OP_MUL, var, NULL, 1, (double)count / (double)(count - 1), 1);
            dm = tl__copy_as(op, mean, rm->dtype);
            dv = uv ? tl__copy_as(op, uv, rv->dtype) : NULL;
            if (dm && dv) {
                tl_mul_scalar_(rm, 1 - mom);
                tl_add_alpha_(rm, dm, mom);
                tl_mul_scalar_(rv, 1 - mom);
                tl_add_alpha_(rv, dv, mom);
            }
            tl__release(uv);
            tl__release(dm);
            tl__release(dv);
            tl_no_grad_end();
        }
        if (nbt) {
            tl_no_grad_begin();
            tl_add_scalar_(nbt, 1);
            tl_no_grad_end();
        }
    } else {
        mean = rm;
        var = rv;
    }
    t[2] = tl__chan_view(op, mean, x);
    t[3] = tl__chan_view(op, var, x);
    t[4] = tl__binary(op, TL__OP_ADD, t[3], NULL, 1, eps, 1);
    t[5] = tl__unary(op, TL__OP_RSQRT, t[4], 0, 0);
    t[6] = tl__binary(op, TL__OP_SUB, x, t[2], 0, 0, 1);
    t[7] = tl__binary(op, TL__OP_MUL, t[6], t[5], 0, 0, 1);
    y = t[7];
    if (y && weight) {
        t[8] = tl__chan_view(op, weight, x);
        t[9] = tl__binary(op, TL__OP_MUL, y, t[8], 0, 0, 1);
        y = t[9];
    }
    if (y && bias) {
        t[10] = tl__chan_view(op, bias, x);
        t[11] = tl__binary(op, TL__OP_ADD, y, t[10], 0, 0, 1);
        y = t[11];
    }
    if (y) y->refcount++;
    for (k = 0; k < 12; k++) tl__release(t[k]);
    return tl__ret(y);
}
TLDEF tl_tensor *tl_layer_norm(const tl_tensor *x, int ndims, const tl_tensor *weight, const tl_tensor *bias,
                               double eps) {
    const char *op = "tl_layer_norm";
    int dims[TL_MAX_DIMS], k;
    tl_tensor *t[8], *y;
    TL__CHECK1(op, x);
    if (ndims < 1 || ndims > x->ndim)
        return TL__FAILN(TL_ERR_ARG, "%s: normalized_shape must cover 1 to %d trailing dims, got %d (input %s)", op,
                         x->ndim, ndims, TL__SH(x));
    for (k = 0; k < 2; k++) {
        const tl_tensor *p = k ? bias : weight;
        if (p && (p->ndim != ndims || memcmp(p->shape, x->shape + x->ndim - ndims, sizeof(int64_t) * (size_t)ndims)))
            return TL__FAILN(TL_ERR_SHAPE, "%s: weight/bias must have the normalized shape %s, got %s", op,
                             tl__fmt_shape(ndims, x->shape + x->ndim - ndims), TL__SH(p));
    }
    for (k = 0; k < ndims; k++) dims[k] = x->ndim - ndims + k;
    memset(t, 0, sizeof t);
    t[0] = tl__reduce(op, TL__OP_MEAN, x, ndims, dims, 1, 0, NULL);
    t[1] = tl__reduce(op, TL__OP_VAR, x, ndims, dims, 1, 0, NULL);
    t[2] = tl__binary(op, TL__OP_ADD, t[1], NULL, 1, eps, 1);
    t[3] = tl__unary(op, TL__OP_RSQRT, t[2], 0, 0);
    t[4] = tl__binary(op, TL__OP_SUB, x, t[0], 0, 0, 1);
    t[5] = tl__binary(op, TL__OP_MUL, t[4], t[3], 0, 0, 1);
    y = t[5];
    if (y && weight) y = t[6] = tl__binary(op, TL__OP_MUL, y, weight, 0, 0, 1);
    if (y && bias) y = t[7] = tl__binary(op, TL__OP_ADD, y, bias, 0, 0, 1);
    if (y) y->refcount++;
    for (k = 0; k < 8; k++) tl__release(t[k]);
    return tl__ret(y);
}
TLDEF tl_tensor *tl_dropout(const tl_tensor *x, double p, int training) {
    tl_tensor *noise, *y;
    TL__CHECK1("tl_dropout", x);
    if (!(p >= 0 && p <= 1))
        return TL__FAILN(TL_ERR_ARG, "tl_dropout: dropout probability has to be between 0 and 1, but got %g (input %s)",
                         p, TL__SH(x));
    if (!training || p == 0) return tl_retain((tl_tensor *)x);
    if (!TL__IS_FLOAT(x->dtype))
        return TL__FAILN(TL_ERR_DTYPE, "tl_dropout: expected a floating input, got %s %s", TL__DT(x), TL__SH(x));
    /* torch: noise = empty_like(x).bernoulli_(1 - p).div_(1 - p); x * noise */
    noise = tl__new("tl_dropout", x->ndim, x->shape, x->dtype);
    if (!noise) return NULL;
    if (tl_bernoulli_(noise, 1 - p) != TL_OK) {
        tl__release(noise);
        return NULL;
    }
    if (p < 1) tl__binary_("tl_dropout", TL__OP_DIV, noise, NULL, 1, 1 - p, 1);
    y = tl__binary("tl_dropout", TL__OP_MUL, x, noise, 0, 0, 1);
    tl__release(noise);
    return tl__ret(y);
}
TLDEF tl_tensor *tl_embedding(const tl_tensor *indices, const tl_tensor *weight) {
    int64_t n, shape[TL_MAX_DIMS];
    tl_tensor *flat, *rows, *r;
    int d;
    TL__CHECK2("tl_embedding", indices, weight);
    if (weight->ndim != 2)
        return TL__FAILN(TL_ERR_SHAPE, "tl_embedding: weight must be 2-D [num_embeddings, dim], got %s", TL__SH(weight));
    if (indices->dtype != TL_I64 && indices->dtype != TL_I32)
        return TL__FAILN(TL_ERR_DTYPE, "tl_embedding: expected int64 or int32 indices, got %s %s", TL__DT(indices),
                         TL__SH(indices));
    if (indices->ndim >= TL_MAX_DIMS)
        return TL__FAILN(TL_ERR_SHAPE, "tl_embedding: indices %s have too many dims", TL__SH(indices));
    n = tl_numel(indices);
    flat = tl__view_impl("tl_embedding", indices, 1, &n, 1);
    rows = flat ? tl__index_select_impl("tl_embedding", weight, 0, flat) : NULL;
    tl__release(flat);
    if (!rows) return NULL;
    for (d = 0; d < indices->ndim; d++) shape[d] = indices->shape[d];
    shape[indices->ndim] = weight->shape[1];
    r = tl__view("tl_embedding", rows, indices->ndim + 1, shape, 1);
    tl__release(rows);
    return tl__ret(r);
}

TLDEF tl_ce_opts tl_ce_opts_default(void) {
    tl_ce_opts o;
    memset(&o, 0, sizeof o);
    o.ignore_index = -100;
    o.reduction = TL_REDUCTION_MEAN;
    return o;
}
/* torch's cross_entropy: class indices go through nll_loss (plus the label-smoothing term);
   probabilities use -(log_softmax * target * weight).sum(class dim). */
TLDEF tl_tensor *tl_cross_entropy_ex(const tl_tensor *input, const tl_tensor *target, const tl_ce_opts *opts) {
    const char *op = "tl_cross_entropy";
    tl_ce_opts o = opts ? *opts : tl_ce_opts_default();
    tl_tensor *t[16], *r = NULL;
    int k, cdim;
    int64_t C;
    double eps = o.label_smoothing;
    TL__CHECK2(op, input, target);
    if (input->ndim != 1 && input->ndim != 2)
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected logits [N, C] or [C], got %s", op, TL__SH(input));
    if (!(eps >= 0 && eps <= 1))
        return TL__FAILN(TL_ERR_ARG, "%s: label_smoothing must be between 0.0 and 1.0, got %g", op, eps);
    if ((int)o.reduction < 0 || (int)o.reduction > 2)
        return TL__FAILN(TL_ERR_ARG, "%s: %d is not a valid reduction", op, (int)o.reduction);
    cdim = input->ndim - 1;
    C = input->shape[cdim];
    memset(t, 0, sizeof t);
    t[0] = tl__lane(op, TL__OP_LOG_SOFTMAX, input, cdim);
    if (!t[0]) return NULL;
    if (TL__IS_FLOAT(target->dtype)) { /* probabilities */
        if (target->ndim != input->ndim || memcmp(target->shape, input->shape, sizeof(int64_t) * (size_t)input->ndim)) {
            tl__release(t[0]);
            return TL__FAILN(TL_ERR_SHAPE, "%s: probability targets must have the input's shape %s, got %s", op,
                             TL__SH(input), TL__SH(target));
        }
        t[1] = eps > 0 ? tl__binary(op, TL__OP_MUL, target, NULL, 1, 1 - eps, 1) : NULL;
        t[2] = eps > 0 ? tl__binary(op, TL__OP_ADD, t[1], NULL, 1, eps / (double)C, 1) : NULL;
        t[3] = tl__binary(op, TL__OP_MUL, t[0], eps > 0 ? t[2] : target, 0, 0, 1);
        t[4] = o.weight ? tl__binary(op, TL__OP_MUL, t[3], o.weight, 0, 0, 1) : NULL;
        t[5] = tl__reduce(op, TL__OP_SUM, o.weight ? t[4] : t[3], 1, &cdim, 0, 0, NULL);
        t[6] = t[5] ? tl__unary(op, TL__OP_NEG, t[5], 0, 0) : NULL;
        if (t[6] && o.reduction == TL_REDUCTION_MEAN) { /* mean over the batch, not the weights */
            t[7] = tl__reduce(op, TL__OP_SUM, t[6], 0, NULL, 0, 0, NULL);
            r = t[7] ? tl__binary(op, TL__OP_DIV, t[7], NULL, 1, (double)(tl_numel(input) / (C > 0 ? C : 1)), 1) : NULL;
        } else {
            r = tl__reduce_loss(op, t[6], o.reduction);
            t[6] = NULL;
        }
    } else {
        r = tl__nll(op, t[0], target, o.weight, o.ignore_index, o.reduction);
        if (r && eps > 0) { /* (1 - eps) nll + eps / C * smooth_loss */
            tl_tensor *mask;
            t[8] = r;
            t[9] = o.weight ? tl__binary(op, TL__OP_MUL, t[0], o.weight, 0, 0, 1) : NULL;
            t[10] = tl__reduce(op, TL__OP_SUM, o.weight ? t[9] : t[0], 1, &cdim, 0, 0, NULL);
            t[11] = t[10] ? tl__unary(op, TL__OP_NEG, t[10], 0, 0) : NULL;
            mask = tl__binary(op, TL__OP_EQ, target, NULL, 1, (double)o.ignore_index, 1);
            t[12] = t[11] && mask ? tl__where(op, mask, NULL, 0, t[11], 0) : NULL;
            if (t[12] && o.reduction == TL_REDUCTION_MEAN) {
                double denom = 0;
                int64_t i, N = target->ndim ? target->shape[0] : 1;
                for (i = 0; i < N; i++) {
                    int64_t ti = tl__index_at(target, target->offset + (target->ndim ? i * target->stride[0] : 0));
                    double wv = 1;
                    if (ti == o.ignore_index) continue;
                    if (o.weight && ti >= 0 && ti < C)
                        tl__load(&wv, TL__CT_F64, (const char *)o.weight->storage->data + (size_t)(o.weight->offset +
                                 ti * o.weight->stride[0]) * tl__dtype_sizes[o.weight->dtype], o.weight->dtype, 0, 1);
                    denom += wv;
                }
                t[13] = tl__reduce(op, TL__OP_SUM, t[12], 0, NULL, 0, 0, NULL);
                t[14] = t[13] ? tl__binary(op, TL__OP_DIV, t[13], NULL, 1, denom, 1) : NULL;
            } else if (t[12]) {
                t[14] = tl__reduce_loss(op, t[12], o.reduction);
                t[12] = NULL;
            }
            tl__release(mask);
            t[15] = t[14] ? tl__binary(op, TL__OP_MUL, t[8], NULL, 1, 1 - eps, 1) : NULL;
            r = t[15] ? tl__binary(op, TL__OP_ADD, t[15], t[14], 0, 0, eps / (double)C) : NULL;
        }
    }
    for (k = 0; k < 16; k++) tl__release(t[k]);
    return tl__ret(r);
}

/* ---- one_hot, pad, interpolate (issue 13) ---- */

TLDEF tl_tensor *tl_one_hot(const tl_tensor *t, int64_t num_classes) {
    tl_tensor *c, *r;
    int64_t shape[TL_MAX_DIMS], n, i, mx = -1;
    const int64_t *v;
    TL__CHECK1("tl_one_hot", t);
    if (t->dtype != TL_I64)
        return TL__FAILN(TL_ERR_DTYPE, "tl_one_hot: one_hot is only applicable to index tensor (int64), got %s %s",
                         TL__DT(t), TL__SH(t));
    if (t->ndim >= TL_MAX_DIMS)
        return TL__FAILN(TL_ERR_SHAPE, "tl_one_hot: %s has no room for the class dim (TL_MAX_DIMS %d)", TL__SH(t),
                         TL_MAX_DIMS);
    n = tl_numel(t);
    if (num_classes < -1)
        return TL__FAILN(TL_ERR_ARG, "tl_one_hot: num_classes should be -1 or positive (got %lld)",
                         (long long)num_classes);
    if (n == 0 && num_classes == -1)
        return TL__FAILN(TL_ERR_ARG, "tl_one_hot: can not infer total number of classes from empty tensor %s", TL__SH(t));
    c = tl__contig("tl_one_hot", t);
    if (!c) return NULL;
    v = (const int64_t *)tl__ptr(c);
    for (i = 0; i < n; i++) {
        if (v[i] < 0) {
            tl__release(c);
            return TL__FAILN(TL_ERR_INDEX, "tl_one_hot: class values must be non-negative (got %lld in %s)",
                             (long long)v[i], TL__SH(t));
        }
        if (v[i] > mx) mx = v[i];
    }
    if (num_classes == -1) num_classes = mx + 1;
    else if (mx >= num_classes) {
        tl__release(c);
        return TL__FAILN(TL_ERR_INDEX, "tl_one_hot: class values must be smaller than num_classes (%lld >= %lld)",
                         (long long)mx, (long long)num_classes);
    }
    memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    shape[t->ndim] = num_classes;
    r = tl__full("tl_one_hot", t->ndim + 1, shape, 0, TL_I64);
    if (r)
        for (i = 0; i < n; i++) ((int64_t *)tl__ptr(r))[i * num_classes + v[i]] = 1;
    tl__release(c);
    return tl__ret(r);
}

/* int64 index [lo + n + hi] into a dim of size n: reflect (no edge repeat) or replicate (clamp) */
static tl_tensor *tl__pad_index(int64_t n, int64_t lo, int64_t hi, int reflect) {
    int64_t m = lo + n + hi, i, *p;
    tl_tensor *r = tl__new("tl_pad", 1, &m, TL_I64);
    if (!r) return NULL;
    p = (int64_t *)tl__ptr(r);
    for (i = 0; i < m; i++) {
        int64_t j = i - lo;
        if (reflect) j = j < 0 ? -j : (j >= n ? 2 * (n - 1) - j : j);
        else j = j < 0 ? 0 : (j >= n ? n - 1 : j);
        p[i] = j;
    }
    return r;
}
TLDEF tl_tensor *tl_pad(const tl_tensor *x, int npad, const int64_t *pad, tl_pad_mode mode, double value) {
    tl_scope sc;
    tl_tensor *r;
    int k, np;
    TL__CHECK1("tl_pad", x);
    if (npad < 0 || npad % 2 || npad / 2 > x->ndim)
        return TL__FAILN(TL_ERR_ARG, "tl_pad: padding length must be divisible by 2 and at most twice the number of "
                         "dims (got %d for %s)", npad, TL__SH(x));
    np = npad / 2;
    if (mode != TL_PAD_CONSTANT) {
        if (mode != TL_PAD_REFLECT && mode != TL_PAD_REPLICATE)
            return TL__FAILN(TL_ERR_ARG, "tl_pad: unknown mode %d", (int)mode);
        if (np < 1 || np > 3 || (x->ndim != np + 1 && x->ndim != np + 2))
            return TL__FAILN(TL_ERR_SHAPE, "tl_pad: %s padding of %d dims needs a %dD or %dD input (got %s)",
                             mode == TL_PAD_REFLECT ? "reflect" : "replicate", np, np + 1, np + 2, TL__SH(x));
        for (k = 0; k < np; k++) {
            int64_t n = x->shape[x->ndim - 1 - k], lo = pad[2 * k], hi = pad[2 * k + 1];
            if (mode == TL_PAD_REFLECT && (lo >= n || hi >= n || lo < 0 || hi < 0))
                return TL__FAILN(TL_ERR_ARG, "tl_pad: padding size should be less than the corresponding input "
                                 "dimension, but got padding (%lld, %lld) at dimension %d of input %s",
                                 (long long)lo, (long long)hi, x->ndim - 1 - k, TL__SH(x));
            if (mode == TL_PAD_REPLICATE && (n == 0 || lo < 0 || hi < 0))
                return TL__FAILN(TL_ERR_ARG, "tl_pad: replicate padding (%lld, %lld) of dimension %d of %s",
                                 (long long)lo, (long long)hi, x->ndim - 1 - k, TL__SH(x));
        }
    } else {
        for (k = 0; k < np; k++)
            if (x->shape[x->ndim - 1 - k] + pad[2 * k] + pad[2 * k + 1] < 0)
                return TL__FAILN(TL_ERR_SHAPE, "tl_pad: the input size %lld, plus negative padding %lld and %lld "
                                 "resulted in a negative output size (dimension %d of %s)",
                                 (long long)x->shape[x->ndim - 1 - k], (long long)pad[2 * k], (long long)pad[2 * k + 1],
                                 x->ndim - 1 - k, TL__SH(x));
    }
    sc = tl_scope_begin();
    r = tl_clone(x);
    for (k = 0; k < np && r; k++) { /* pad[0], pad[1] pad the last dim, pad[2], pad[3] the one before, ... */
        int d = x->ndim - 1 - k;
        int64_t lo = pad[2 * k], hi = pad[2 * k + 1];
        if (mode == TL_PAD_CONSTANT) {
            int64_t shape[TL_MAX_DIMS];
            tl_tensor *parts[3];
            int m = 0;
            if (lo < 0) {
                r = tl_narrow(r, d, -lo, tl_shape(r)[d] + lo);
                lo = 0;
            }
            if (r && hi < 0) {
                r = tl_narrow(r, d, 0, tl_shape(r)[d] + hi);
                hi = 0;
            }
            if (!r) break;
            memcpy(shape, tl_shape(r), sizeof(int64_t) * (size_t)x->ndim);
            if (lo > 0) {
                shape[d] = lo;
                parts[m++] = tl_full(x->ndim, shape, value, x->dtype);
            }
            parts[m++] = r;
            if (hi > 0) {
                shape[d] = hi;
                parts[m++] = tl_full(x->ndim, shape, value, x->dtype);
            }
            r = m > 1 ? tl_cat(m, parts, d) : tl_contiguous(r);
        } else {
            r = tl_index_select(r, d, tl__ret(tl__pad_index(x->shape[d], lo, hi, mode == TL_PAD_REFLECT)));
        }
    }
    return tl__composite_end(sc, r);
}

/* Source positions of F.interpolate along one dim (torch's float arithmetic in the input's dtype):
   nearest: idx0 = min(floor(dst * in / out), in - 1); bilinear: idx0, idx1 = idx0 + (idx0 < in - 1),
   lam = src - idx0 with src = dst * (in - 1) / (out - 1) (align_corners) or max(0, (dst + 0.5) *
   in / out - 0.5). lam [out] in dtype dt (NULL for nearest). sf > 0: a scale_factor given to torch
   (nn.Upsample), whose kernels then use 1 / sf in place of in / out. */
static int tl__interp_axis(int64_t in, int64_t out, int bilinear, int align, double sf, tl_dtype dt, tl_tensor **i0,
                           tl_tensor **i1, tl_tensor **lam) {
    int64_t d, *p0, *p1 = NULL;
    *i0 = tl__ret(tl__new("tl_interpolate", 1, &out, TL_I64));
    *i1 = bilinear ? tl__ret(tl__new("tl_interpolate", 1, &out, TL_I64)) : NULL;
    *lam = bilinear ? tl__ret(tl__new("tl_interpolate", 1, &out, dt)) : NULL;
    if (!*i0 || (bilinear && (!*i1 || !*lam))) return 0;
    p0 = (int64_t *)tl__ptr(*i0);
    if (bilinear) p1 = (int64_t *)tl__ptr(*i1);
    for (d = 0; d < out; d++) {
        if (!bilinear) {
            float scale = sf > 0 ? (float)(1.0 / sf) : (float)in / (float)out;
            int64_t s = in == out ? d : (out == 2 * in ? d >> 1 : (int64_t)floorf((float)d * scale));
            p0[d] = s < in - 1 ? s : in - 1;
        } else if (dt == TL_F64) {
            double scale = align ? (out > 1 ? (double)(in - 1) / (double)(out - 1) : 0.0)
                                 : (sf > 0 ? 1.0 / sf : (double)in / (double)out);
            double src = align ? scale * (double)d : scale * ((double)d + 0.5) - 0.5;
            if (src < 0) src = 0;
            p0[d] = (int64_t)src;
            if (p0[d] > in - 1) p0[d] = in - 1;
            p1[d] = p0[d] + (p0[d] < in - 1 ? 1 : 0);
            ((double *)tl__ptr(*lam))[d] = src - (double)p0[d];
        } else {
            float scale = align ? (out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f)
                                : (sf > 0 ? (float)(1.0 / sf) : (float)in / (float)out);
            float src = align ? scale * (float)d : scale * ((float)d + 0.5f) - 0.5f;
            if (src < 0) src = 0;
            p0[d] = (int64_t)src;
            if (p0[d] > in - 1) p0[d] = in - 1;
            p1[d] = p0[d] + (p0[d] < in - 1 ? 1 : 0);
            ((float *)tl__ptr(*lam))[d] = src - (float)p0[d];
        }
    }
    return 1;
}
static tl_tensor *tl__interpolate(const tl_tensor *x, int64_t out_h, int64_t out_w, tl_interp_mode mode,
                                  int align_corners, double sf_h, double sf_w);
TLDEF tl_tensor *tl_interpolate(const tl_tensor *x, int64_t out_h, int64_t out_w, tl_interp_mode mode,
                                int align_corners) {
    return tl__interpolate(x, out_h, out_w, mode, align_corners, 0, 0);
}
/* tl_interpolate; sf_h, sf_w > 0: the scale factors torch was given (see tl__interp_axis). */
static tl_tensor *tl__interpolate(const tl_tensor *x, int64_t out_h, int64_t out_w, tl_interp_mode mode,
                                  int align_corners, double sf_h, double sf_w) {
    tl_scope sc;
    tl_tensor *h0, *h1, *lh, *w0, *w1, *lw, *r = NULL;
    int bil = mode == TL_INTERP_BILINEAR;
    TL__CHECK1("tl_interpolate", x);
    if (mode != TL_INTERP_NEAREST && mode != TL_INTERP_BILINEAR)
        return TL__FAILN(TL_ERR_ARG, "tl_interpolate: unknown mode %d", (int)mode);
    if (x->ndim != 4)
        return TL__FAILN(TL_ERR_SHAPE, "tl_interpolate: expected a 4-D input [N, C, H, W], got %s", TL__SH(x));
    if (!TL__IS_FLOAT(x->dtype))
        return TL__FAILN(TL_ERR_DTYPE, "tl_interpolate: not implemented for %s (input %s)", TL__DT(x), TL__SH(x));
    if (out_h <= 0 || out_w <= 0 || x->shape[2] <= 0 || x->shape[3] <= 0)
        return TL__FAILN(TL_ERR_SHAPE, "tl_interpolate: input and output sizes should be greater than 0, but got "
                         "input (H: %lld, W: %lld) output (H: %lld, W: %lld)", (long long)x->shape[2],
                         (long long)x->shape[3], (long long)out_h, (long long)out_w);
    sc = tl_scope_begin();
    if (tl__interp_axis(x->shape[2], out_h, bil, align_corners, sf_h, x->dtype, &h0, &h1, &lh) &&
        tl__interp_axis(x->shape[3], out_w, bil, align_corners, sf_w, x->dtype, &w0, &w1, &lw)) {
        if (!bil) {
            r = tl_index_select(tl_index_select(x, 2, h0), 3, w0);
        } else { /* torch's grouping: h0l * (w0l * x00 + w1l * x01) + h1l * (w0l * x10 + w1l * x11) */
            int64_t col[2];
            tl_tensor *lw1 = lw, *lw0 = tl_rsub_scalar(lw, 1), *lh1, *lh0;
            col[0] = out_h;
            col[1] = 1;
            lh1 = tl_view(lh, 2, col);
            lh0 = tl_rsub_scalar(lh1, 1);
            tl_tensor *rw = tl_add(tl_mul(tl_index_select(x, 3, w0), lw0), tl_mul(tl_index_select(x, 3, w1), lw1));
            r = tl_add(tl_mul(tl_index_select(rw, 2, h0), lh0), tl_mul(tl_index_select(rw, 2, h1), lh1));
        }
    }
    return tl__composite_end(sc, r);
}

/* ---- einsum (issue 13): one or two operands, through sum / permute / reshape / bmm ---- */

/* Parses "ij,jk->ik" (spaces ignored; no "->": the labels seen once, in alphabetical order) into
   lab[k] (operand k's labels) and out. 0 with an error naming the equation. */
static int tl__einsum_parse(const char *eq, int n, tl_tensor *const *ops, char lab[2][TL_MAX_DIMS + 1], char *out,
                            int64_t *size) {
    int k = 0, len[2] = {0, 0}, no = 0, arrow = 0, c, i, j, cnt[128];
    const char *p;
    memset(cnt, 0, sizeof cnt);
    for (c = 0; c < 128; c++) size[c] = -1;
    for (p = eq; *p; p++) {
        if (*p == ' ') continue;
        if (*p == '-' && p[1] == '>' && !arrow) {
            arrow = 1;
            p++;
            continue;
        }
        if (*p == ',' && !arrow) {
            if (++k >= n) break;
            continue;
        }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) {
            TL__FAIL(TL_ERR_ARG, "tl_einsum: invalid subscript '%c' in \"%s\" (letters, ',' and '->' only; no '...')",
                     *p, eq);
            return 0;
        }
        if (arrow) {
            if (no >= TL_MAX_DIMS) break;
            for (j = 0; j < no; j++)
                if (out[j] == *p) {
                    TL__FAIL(TL_ERR_ARG, "tl_einsum: output subscript '%c' appears more than once in \"%s\"", *p, eq);
                    return 0;
                }
            out[no++] = *p;
        } else {
            if (len[k] >= TL_MAX_DIMS) break;
            lab[k][len[k]++] = *p;
            cnt[(int)*p]++;
        }
    }
    if (*p || k != n - 1) {
        TL__FAIL(TL_ERR_ARG, "tl_einsum: \"%s\" does not describe %d operand%s of at most %d dims", eq, n,
                 n > 1 ? "s" : "", TL_MAX_DIMS);
        return 0;
    }
    for (k = 0; k < n; k++) {
        lab[k][len[k]] = 0;
        if (len[k] != ops[k]->ndim) {
            TL__FAIL(TL_ERR_SHAPE, "tl_einsum: the number of subscripts in \"%s\" (%d) does not match the number of "
                     "dimensions (%d) of operand %d %s", eq, len[k], ops[k]->ndim, k, TL__SH(ops[k]));
            return 0;
        }
        for (i = 0; i < len[k]; i++) {
            c = lab[k][i];
            if (size[c] >= 0 && size[c] != ops[k]->shape[i]) {
                TL__FAIL(TL_ERR_SHAPE, "tl_einsum: subscript '%c' has size %lld for operand %d %s, which does not "
                         "match the previous size %lld (\"%s\")", c, (long long)ops[k]->shape[i], k, TL__SH(ops[k]),
                         (long long)size[c], eq);
                return 0;
            }
            size[c] = ops[k]->shape[i];
        }
    }
    if (!arrow)
        for (c = 0; c < 128; c++)
            if (cnt[c] == 1 && no < TL_MAX_DIMS) out[no++] = (char)c;
    out[no] = 0;
    for (i = 0; i < no; i++)
        if (size[(int)out[i]] < 0) {
            TL__FAIL(TL_ERR_ARG, "tl_einsum: output subscript '%c' of \"%s\" appears in no operand", out[i], eq);
            return 0;
        }
    return 1;
}
TLDEF tl_tensor *tl_einsum(const char *equation, int n, tl_tensor *const *operands) {
    char lab[2][TL_MAX_DIMS + 1], out[TL_MAX_DIMS + 1];
    int64_t size[128];
    tl_tensor *x[2] = {NULL, NULL}, *r = NULL;
    tl_scope sc;
    int k, i;
    if (tl__null_in("tl_einsum", equation)) return NULL;
    if (!operands) return TL__FAILN(TL_ERR_ARG, "tl_einsum: operands is NULL (\"%s\")", equation);
    if (n < 1 || n > 2)
        return TL__FAILN(TL_ERR_ARG, "tl_einsum: 1 or 2 operands are supported (got %d for \"%s\")", n, equation);
    for (k = 0; k < n; k++)
        if (tl__null_in("tl_einsum", operands[k])) return NULL;
    if (!tl__einsum_parse(equation, n, operands, lab, out, size)) return NULL;
    sc = tl_scope_begin();
    /* a label repeated within an operand takes the diagonal: x where the two indices agree (a mask,
       so inf/NaN elsewhere stay out), summed over the second of the two dims */
    for (k = 0; k < n; k++) {
        int p, q, found = 1;
        x[k] = operands[k];
        while (found && x[k]) {
            found = 0;
            for (q = 1; lab[k][q] && !found; q++)
                for (p = 0; p < q && !found; p++)
                    if (lab[k][p] == lab[k][q]) {
                        int64_t ms[TL_MAX_DIMS], nn = x[k]->shape[p], a, b2;
                        tl_tensor *mask;
                        for (i = 0; i < x[k]->ndim; i++) ms[i] = i == p || i == q ? nn : 1;
                        mask = tl_zeros(x[k]->ndim, ms, TL_BOOL);
                        if (!mask) {
                            x[k] = NULL;
                            break;
                        }
                        for (a = 0; a < nn; a++)
                            for (b2 = 0; b2 < nn; b2++) ((uint8_t *)tl_data_ptr(mask))[a * nn + b2] = (uint8_t)(a == b2);
                        x[k] = tl_sum(tl_where(mask, x[k], tl_zeros(0, NULL, x[k]->dtype)), q, 0);
                        memmove(lab[k] + q, lab[k] + q + 1, strlen(lab[k] + q));
                        found = 1;
                    }
        }
    }
    /* sum out every label that is neither in the output nor in the other operand */
    for (k = 0; k < n; k++) {
        int dims[TL_MAX_DIMS], nd = 0, m = 0;
        char keep[TL_MAX_DIMS + 1];
        if (!x[k]) continue;
        for (i = 0; lab[k][i]; i++) {
            int c = lab[k][i];
            if (!strchr(out, c) && !(n == 2 && strchr(lab[1 - k], c))) dims[nd++] = i;
            else keep[m++] = (char)c;
        }
        keep[m] = 0;
        if (nd) {
            x[k] = tl_sum_dims(x[k], nd, dims, 0);
            memcpy(lab[k], keep, (size_t)m + 1);
        }
    }
    if (n == 1) {
        int perm[TL_MAX_DIMS];
        for (i = 0; out[i]; i++) perm[i] = (int)(strchr(lab[0], out[i]) - lab[0]);
        r = x[0] && x[0]->ndim ? tl_permute(x[0], x[0]->ndim, perm) : (x[0] ? tl_clone(x[0]) : NULL);
    } else if (x[0] && x[1]) {
        /* labels: batch (both, kept), contracted (both, summed), a-only and b-only (kept) */
        char bl[TL_MAX_DIMS + 1], al[TL_MAX_DIMS + 1], cl[TL_MAX_DIMS + 1], ol[TL_MAX_DIMS + 1], L[3 * TL_MAX_DIMS + 1];
        int nb = 0, na = 0, nc = 0, nob = 0, pa[TL_MAX_DIMS], pb[TL_MAX_DIMS], po[TL_MAX_DIMS], j, nl = 0;
        int64_t Bt = 1, M = 1, K = 1, N = 1, s3[3], rs[3 * TL_MAX_DIMS];
        memset(rs, 0, sizeof rs);
        for (i = 0; lab[0][i]; i++) {
            int c = lab[0][i];
            if (strchr(lab[1], c)) {
                if (strchr(out, c)) bl[nb++] = (char)c;
                else cl[nc++] = (char)c;
            } else al[na++] = (char)c;
        }
        for (i = 0; lab[1][i]; i++)
            if (!strchr(lab[0], lab[1][i])) ol[nob++] = lab[1][i];
        for (i = 0; i < nb; i++) Bt *= size[(int)bl[i]];
        for (i = 0; i < na; i++) M *= size[(int)al[i]];
        for (i = 0; i < nc; i++) K *= size[(int)cl[i]];
        for (i = 0; i < nob; i++) N *= size[(int)ol[i]];
        for (j = 0, i = 0; i < nb; i++) pa[j++] = (int)(strchr(lab[0], bl[i]) - lab[0]);
        for (i = 0; i < na; i++) pa[j++] = (int)(strchr(lab[0], al[i]) - lab[0]);
        for (i = 0; i < nc; i++) pa[j++] = (int)(strchr(lab[0], cl[i]) - lab[0]);
        for (j = 0, i = 0; i < nb; i++) pb[j++] = (int)(strchr(lab[1], bl[i]) - lab[1]);
        for (i = 0; i < nc; i++) pb[j++] = (int)(strchr(lab[1], cl[i]) - lab[1]);
        for (i = 0; i < nob; i++) pb[j++] = (int)(strchr(lab[1], ol[i]) - lab[1]);
        s3[0] = Bt;
        s3[1] = M;
        s3[2] = K;
        if (x[0]->ndim) x[0] = tl_permute(x[0], x[0]->ndim, pa);
        x[0] = tl_reshape(x[0], 3, s3);
        s3[1] = K;
        s3[2] = N;
        if (x[1] && x[1]->ndim) x[1] = tl_permute(x[1], x[1]->ndim, pb);
        x[1] = tl_reshape(x[1], 3, s3);
        r = tl_bmm(x[0], x[1]); /* [Bt, M, N] */
        for (i = 0; i < nb; i++) L[nl++] = bl[i];
        for (i = 0; i < na; i++) L[nl++] = al[i];
        for (i = 0; i < nob; i++) L[nl++] = ol[i];
        L[nl] = 0;
        for (i = 0; i < nl; i++) rs[i] = size[(int)L[i]];
        r = tl_reshape(r, nl, rs);
        for (i = 0; out[i]; i++) po[i] = (int)(strchr(L, out[i]) - L);
        if (r && nl) r = tl_permute(r, nl, po);
    }
    return tl__composite_end(sc, r);
}

/* ---- conv1d, conv_transpose2d, 1-D pools, group_norm (issue 13) ----
   conv1d and the 1-D pools run the 2-D kernels on [N, C, 1, L] (a recorded unsqueeze/squeeze, so
   their backward is conv2d's / the pools'). conv_transpose2d has its own node but no kernel of its
   own: its forward is conv2d's input gradient, its input gradient is a conv2d forward, and its
   weight gradient is conv2d's weight gradient with input and output swapped (all on the same
   im2col/col2im + GEMM as conv2d). group_norm is layer_norm over [N, G, C/G * spatial]. */

TLDEF tl_tensor *tl_conv1d(const tl_tensor *x, const tl_tensor *weight, const tl_tensor *bias,
                           const tl_conv1d_opts *opts) {
    const char *op = "tl_conv1d";
    tl_conv2d_opts o;
    tl_scope sc;
    tl_tensor *r, *wu;
    int g;
    TL__CHECK2(op, x, weight);
    if ((x->ndim != 2 && x->ndim != 3) || weight->ndim != 3)
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected a 2-D [C, L] or 3-D [N, C, L] input and a 3-D weight "
                         "[O, C/groups, k], got %s and %s", op, TL__SH(x), TL__SH(weight));
    memset(&o, 0, sizeof o);
    if (opts) {
        if (opts->stride < 0 || opts->padding < 0 || opts->dilation < 0 || opts->groups < 0)
            return TL__FAILN(TL_ERR_ARG, "%s: stride, padding, dilation and groups must be non-negative (input %s)", op,
                             TL__SH(x));
        o.stride[1] = opts->stride;
        o.padding[1] = opts->padding;
        o.dilation[1] = opts->dilation;
        o.groups = opts->groups;
        o.padding_same = opts->padding_same;
    }
    g = o.groups > 0 ? o.groups : 1;
    if (x->shape[x->ndim - 2] % g || weight->shape[0] % g || weight->shape[1] * g != x->shape[x->ndim - 2])
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected weight %s to have %lld input channels per group (input %s, groups "
                         "%d)", op, TL__SH(weight), (long long)(x->shape[x->ndim - 2] / g), TL__SH(x), g);
    if (!o.padding_same &&
        x->shape[x->ndim - 1] + 2 * (int64_t)o.padding[1] < (int64_t)(o.dilation[1] > 0 ? o.dilation[1] : 1) *
                                                              (weight->shape[2] - 1) + 1)
        return TL__FAILN(TL_ERR_SHAPE, "%s: calculated padded input size per channel (%lld) is smaller than the kernel "
                         "size (%lld) (input %s, weight %s)", op, (long long)(x->shape[x->ndim - 1] + 2 * o.padding[1]),
                         (long long)((o.dilation[1] > 0 ? o.dilation[1] : 1) * (weight->shape[2] - 1) + 1), TL__SH(x),
                         TL__SH(weight));
    sc = tl_scope_begin();
    r = tl_unsqueeze(x->ndim == 2 ? tl_unsqueeze(x, 0) : x, 2); /* [N, C, 1, L], weight [O, C/g, 1, k] */
    wu = tl_unsqueeze(weight, 2);
    r = r && wu ? tl__ret(tl__conv2d(op, r, wu, bias, &o)) : NULL;
    if (r) r = tl_squeeze_dim(r, 2);
    if (r && x->ndim == 2) r = tl_squeeze_dim(r, 0);
    else if (r && r->grad_fn) r->grad_fn->tname = "ConvolutionBackward0"; /* torch's grad_fn when batched */
    return tl__composite_end(sc, r);
}

/* The conv2d whose input gradient conv_transpose2d is: input = the transposed conv's output
   [N, O, Hout, Wout], weight = w [C, O/g, kh, kw] (conv2d's O is C), output = x [N, C, H, W]. */
static void tl__convt_geom(const tl_tensor *x, const tl_tensor *w, int64_t Hout, int64_t Wout, const int *ip,
                           tl__conv *c) {
    memset(c, 0, sizeof *c);
    c->sh = ip[0]; c->sw = ip[1]; c->ph = ip[2]; c->pw = ip[3]; c->dh = ip[4]; c->dw = ip[5]; c->g = ip[6];
    c->N = x->shape[0];
    c->O = x->shape[1];
    c->Ho = x->shape[2];
    c->Wo = x->shape[3];
    c->C = w->shape[1] * c->g;
    c->H = Hout;
    c->W = Wout;
    c->kh = w->shape[2];
    c->kw = w->shape[3];
    c->Cg = w->shape[1];
    c->Og = c->O / c->g;
    c->K = c->Cg * c->kh * c->kw;
    c->L = c->Ho * c->Wo;
}
/* Runs one of conv2d's per-image tasks over c: fwd = 1 is conv2d's forward (in [N, C, H, W] ->
   out [N, O, L]), fwd = 0 its input gradient (in [N, O, L] -> out += col2im, [N, C, H, W]). */
static int tl__convt_run(const tl__conv *c, int fwd, const tl_tensor *in, const tl_tensor *w, tl_tensor *out) {
    tl__conv_job J;
    size_t es = tl__dtype_sizes[in->dtype];
    int nt = tl__conv_tasks(c);
    void *cols = tl__malloc(tl__szmul(tl__szmul(tl__szn(c->K, es), tl__szn(c->L, 1)), (size_t)nt));
    if (!cols) return 0;
    memset(&J, 0, sizeof J);
    J.c = c;
    J.x = tl__ptr(in);
    J.w = tl__ptr(w);
    J.out = tl__ptr(out);
    J.cols = (char *)cols;
    J.es = es;
    J.cols_bytes = (size_t)(c->K * c->L) * es;
    J.per = (c->N + nt - 1) / nt;
    J.f32 = in->dtype == TL_F32;
    if (nt > 1) tl__pool_run(fwd ? tl__conv_fwd_task : tl__conv_dx_task, &J, nt);
    else if (fwd) tl__conv_fwd_task(&J, 0);
    else tl__conv_dx_task(&J, 0);
    tl__free(cols);
    return 1;
}
static tl_tensor *tl__conv_transpose2d(const char *op, const tl_tensor *x, const tl_tensor *w, const tl_tensor *b,
                                       const tl_conv_transpose2d_opts *opts) {
    tl_conv_transpose2d_opts d;
    tl__conv c;
    tl_tensor *xc, *wc, *out;
    int64_t shape[4], k, Cin, O, kk[2], outsz[2];
    int ip[7], g, i;
    memset(&d, 0, sizeof d);
    if (!opts) opts = &d;
    if (x->ndim != 4 || w->ndim != 4)
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected a 3-D [C, H, W] or 4-D [N, C, H, W] input and a 4-D weight "
                         "[C, O/groups, kh, kw], got %s and %s", op, TL__SH(x), TL__SH(w));
    if (x->dtype != w->dtype || (x->dtype != TL_F32 && x->dtype != TL_F64) || (b && b->dtype != x->dtype))
        return TL__FAILN(TL_ERR_DTYPE, "%s: input, weight and bias must share a float32/float64 dtype, got %s, %s%s%s",
                         op, TL__DT(x), TL__DT(w), b ? " and " : "", b ? TL__DT(b) : "");
    for (i = 0; i < 2; i++)
        if (opts->stride[i] < 0 || opts->padding[i] < 0 || opts->output_padding[i] < 0 || opts->dilation[i] < 0)
            return TL__FAILN(TL_ERR_ARG, "%s: stride, padding, output_padding and dilation must be non-negative "
                             "(input %s)", op, TL__SH(x));
    if (opts->groups < 0)
        return TL__FAILN(TL_ERR_ARG, "%s: groups must be positive, got %d (input %s)", op, opts->groups, TL__SH(x));
    g = opts->groups > 0 ? opts->groups : 1;
    Cin = x->shape[1];
    if (w->shape[0] != Cin || Cin % g)
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected weight %s to have %lld rows (the input's channels) divisible by "
                         "groups %d (input %s)", op, TL__SH(w), (long long)Cin, g, TL__SH(x));
    O = w->shape[1] * g;
    if (b && (b->ndim != 1 || b->shape[0] != O))
        return TL__FAILN(TL_ERR_SHAPE, "%s: bias must be [%lld], got %s (weight %s, groups %d)", op, (long long)O,
                         TL__SH(b), TL__SH(w), g);
    kk[0] = w->shape[2];
    kk[1] = w->shape[3];
    for (i = 0; i < 2; i++) {
        int s = opts->stride[i] > 0 ? opts->stride[i] : 1, dl = opts->dilation[i] > 0 ? opts->dilation[i] : 1;
        int opad = opts->output_padding[i];
        if (opad >= s && opad >= dl)
            return TL__FAILN(TL_ERR_ARG, "%s: output padding must be smaller than either stride or dilation, but got "
                             "output_padding (%d, %d), stride (%d, %d), dilation (%d, %d) (input %s)", op,
                             opts->output_padding[0], opts->output_padding[1],
                             opts->stride[0] > 0 ? opts->stride[0] : 1, opts->stride[1] > 0 ? opts->stride[1] : 1,
                             opts->dilation[0] > 0 ? opts->dilation[0] : 1,
                             opts->dilation[1] > 0 ? opts->dilation[1] : 1, TL__SH(x));
        outsz[i] = (x->shape[2 + i] - 1) * s - 2 * (int64_t)opts->padding[i] + (int64_t)dl * (kk[i] - 1) + opad + 1;
        ip[2 * 0 + i] = s;
        ip[2 * 1 + i] = opts->padding[i];
        ip[2 * 2 + i] = dl;
    }
    ip[6] = g;
    if (outsz[0] < 1 || outsz[1] < 1 || kk[0] < 1 || kk[1] < 1)
        return TL__FAILN(TL_ERR_SHAPE, "%s: given input %s and weight %s, the calculated output size (%lld x %lld) is "
                         "too small", op, TL__SH(x), TL__SH(w), (long long)outsz[0], (long long)outsz[1]);
    shape[0] = x->shape[0];
    shape[1] = O;
    shape[2] = outsz[0];
    shape[3] = outsz[1];
    tl__convt_geom(x, w, outsz[0], outsz[1], ip, &c);
    xc = tl__contig(op, x);
    wc = xc ? tl__contig(op, w) : NULL;
    out = wc ? tl__full(op, 4, shape, 0, x->dtype) : NULL;
    if (out && !tl__convt_run(&c, 0, xc, wc, out)) {
        TL__FAIL(TL_ERR_OOM, "%s: out of memory for the column buffer (%lld x %lld)", op, (long long)c.K,
                 (long long)c.L);
        tl__release(out);
        out = NULL;
    }
    tl__release(xc);
    tl__release(wc);
    if (!out) return NULL;
    if (b) { /* out[n, o, :] += b[o] (in the output's dtype, as conv2d's forward) */
        size_t es = tl__dtype_sizes[x->dtype];
        int64_t n, o, l, hw = outsz[0] * outsz[1];
        for (o = 0; o < O; o++) {
            double bv;
            tl__load(&bv, TL__CT_F64, (const char *)b->storage->data + (size_t)(b->offset + o * b->stride[0]) * es,
                     b->dtype, 0, 1);
            for (n = 0; n < shape[0]; n++) {
                if (x->dtype == TL_F32) {
                    float *q = (float *)tl__ptr(out) + (n * O + o) * hw, fb = (float)bv;
                    for (l = 0; l < hw; l++) q[l] += fb;
                } else {
                    double *q = (double *)tl__ptr(out) + (n * O + o) * hw;
                    for (l = 0; l < hw; l++) q[l] += bv;
                }
            }
        }
    }
    if (tl__wants_grad(x, w, b)) {
        tl__node *nd;
        if (!tl__record(out, TL__OP_CONV_TRANSPOSE2D, x, w, b)) {
            tl__release(out);
            return NULL;
        }
        nd = out->grad_fn;
        for (k = 0; k < 7; k++) nd->ip[k] = ip[k];
        if (TL__NEED(nd, 1)) tl__save_in(nd, 0);
        if (TL__NEED(nd, 0)) tl__save_in(nd, 1);
    }
    return out;
}
TLDEF tl_tensor *tl_conv_transpose2d(const tl_tensor *x, const tl_tensor *weight, const tl_tensor *bias,
                                     const tl_conv_transpose2d_opts *opts) {
    const char *op = "tl_conv_transpose2d";
    tl_scope sc;
    tl_tensor *r;
    TL__CHECK2(op, x, weight);
    if (x->ndim != 3) return tl__ret(tl__conv_transpose2d(op, x, weight, bias, opts));
    sc = tl_scope_begin(); /* unbatched [C, H, W]: as a batch of one */
    r = tl_unsqueeze(x, 0);
    r = r ? tl__ret(tl__conv_transpose2d(op, r, weight, bias, opts)) : NULL;
    if (r) r = tl_squeeze_dim(r, 0);
    return tl__composite_end(sc, r);
}
/* g [N, O, Hout, Wout]: dx = conv2d(g, w) (conv2d's forward on the geometry above), dW_g[C/g, K] +=
   x_g [C/g, H*W] @ im2col(g_g)^T (conv2d's weight gradient, input and output swapped), db = sum of g
   over N, Hout, Wout. */
static tl_status tl__bwd_convt(tl__node *n, const tl_tensor *g, tl_tensor **gin) {
    tl__conv c;
    const tl_tensor *x = n->in[0], *w = n->in[1];
    tl_tensor *gc = NULL, *xc = NULL, *wc = NULL, *gx = NULL, *gw = NULL;
    void *cols = NULL;
    int64_t nn, gg;
    size_t es = tl__dtype_sizes[g->dtype];
    int f32 = g->dtype == TL_F32;
    tl__convt_geom(x, w, g->shape[2], g->shape[3], n->ip, &c);
    gc = tl__contig("autograd", g);
    if (!gc) goto fail;
    if (TL__NEED(n, 0)) {
        wc = tl__contig("autograd", w);
        gx = wc ? tl__new("autograd", 4, x->shape, g->dtype) : NULL;
        if (!gx || !tl__convt_run(&c, 1, gc, wc, gx)) goto fail;
    }
    if (TL__NEED(n, 1)) {
        cols = tl__malloc(tl__szmul(tl__szn(c.K, es), tl__szn(c.L, 1)));
        xc = cols ? tl__contig("autograd", x) : NULL;
        gw = xc ? tl__full("autograd", 4, w->shape, 0, g->dtype) : NULL;
        if (!gw) goto fail;
        for (nn = 0; nn < c.N; nn++)
            for (gg = 0; gg < c.g; gg++) {
                const char *xp = tl__ptr(xc) + (size_t)((nn * c.O + gg * c.Og) * c.L) * es;
                const char *gp = tl__ptr(gc) + (size_t)((nn * c.C + gg * c.Cg) * c.H * c.W) * es;
                char *wp = tl__ptr(gw) + (size_t)(gg * c.Og * c.K) * es;
                if (f32) {
                    tl__im2col_f32(&c, (const float *)gp, (float *)cols);
                    tl__sgemm(c.Og, c.K, c.L, 1.0f, (const float *)xp, c.L, 1, (const float *)cols, 1, c.L, 1.0f,
                              (float *)wp, c.K);
                } else {
                    tl__im2col_f64(&c, (const double *)gp, (double *)cols);
                    tl__dgemm(c.Og, c.K, c.L, 1.0, (const double *)xp, c.L, 1, (const double *)cols, 1, c.L, 1.0,
                              (double *)wp, c.K);
                }
            }
    }
    if (n->nin > 2 && TL__NEED(n, 2)) { /* bias: sum over N, Hout, Wout (in double, per channel) */
        int64_t oc, l, hw = c.H * c.W;
        gin[2] = tl__new("autograd", 1, &c.C, g->dtype);
        if (!gin[2]) goto fail;
        for (oc = 0; oc < c.C; oc++) {
            double acc = 0;
            for (nn = 0; nn < c.N; nn++) {
                if (f32) {
                    const float *q = (const float *)tl__ptr(gc) + (nn * c.C + oc) * hw;
                    for (l = 0; l < hw; l++) acc += q[l];
                } else {
                    const double *q = (const double *)tl__ptr(gc) + (nn * c.C + oc) * hw;
                    for (l = 0; l < hw; l++) acc += q[l];
                }
            }
            if (f32) ((float *)tl__ptr(gin[2]))[oc] = (float)acc;
            else ((double *)tl__ptr(gin[2]))[oc] = acc;
        }
    }
    gin[0] = gx;
    gin[1] = gw;
    tl__free(cols);
    tl__release(gc);
    tl__release(xc);
    tl__release(wc);
    return TL_OK;
fail:
    if (!tl__tls.status)
        TL__FAIL(TL_ERR_OOM, "autograd: out of memory in conv_transpose2d backward (input %s)", TL__SH(x));
    tl__free(cols);
    tl__release(gc);
    tl__release(xc);
    tl__release(wc);
    tl__release(gx);
    tl__release(gw);
    return tl__tls.status;
}

TLDEF tl_pool1d_opts tl_pool1d_opts_default(int k) {
    tl_pool1d_opts o;
    memset(&o, 0, sizeof o);
    o.kernel = k;
    o.stride = k;
    o.dilation = 1;
    o.count_include_pad = 1;
    return o;
}
/* The 2-D pool options of a 1-D pool on [.., 1, L]; 0 with an error naming op and the 1-D shapes. */
static int tl__pool1d_as_2d(const char *op, const tl_tensor *x, const tl_pool1d_opts *o, tl_pool2d_opts *p) {
    int s, dl;
    int64_t L, Lo;
    if (!o) {
        TL__FAIL(TL_ERR_ARG, "%s: options are NULL; start from tl_pool1d_opts_default(k) (input %s)", op, TL__SH(x));
        return 0;
    }
    if (x->ndim != 2 && x->ndim != 3) {
        TL__FAIL(TL_ERR_SHAPE, "%s: expected a 2-D [C, L] or 3-D [N, C, L] input, got %s", op, TL__SH(x));
        return 0;
    }
    if (x->dtype != TL_F32 && x->dtype != TL_F64) {
        TL__FAIL(TL_ERR_DTYPE, "%s: expected float32 or float64 input, got %s %s", op, TL__DT(x), TL__SH(x));
        return 0;
    }
    s = o->stride > 0 ? o->stride : o->kernel;
    dl = o->dilation > 0 ? o->dilation : 1;
    if (o->kernel <= 0 || o->padding < 0 || o->stride < 0 || o->dilation < 0) {
        TL__FAIL(TL_ERR_ARG, "%s: kernel size must be positive and padding/stride/dilation non-negative (kernel %d, "
                 "input %s)", op, o->kernel, TL__SH(x));
        return 0;
    }
    if (2 * o->padding > o->kernel) {
        TL__FAIL(TL_ERR_ARG, "%s: pad should be at most half of kernel size, but got pad=%d and kernel_size=%d (input "
                 "%s)", op, o->padding, o->kernel, TL__SH(x));
        return 0;
    }
    L = x->shape[x->ndim - 1];
    Lo = tl__pool_out(L, o->kernel, o->padding, s, dl, o->ceil_mode);
    if (Lo < 1) {
        TL__FAIL(TL_ERR_SHAPE, "%s: output size is too small (%lld) for input %s with kernel %d", op, (long long)Lo,
                 TL__SH(x), o->kernel);
        return 0;
    }
    *p = tl_pool2d_opts_default(1, o->kernel);
    p->stride[1] = s;
    p->padding[1] = o->padding;
    p->dilation[1] = dl;
    p->ceil_mode = o->ceil_mode;
    p->count_include_pad = o->count_include_pad;
    return 1;
}
TLDEF tl_tensor *tl_max_pool1d(const tl_tensor *x, const tl_pool1d_opts *opts, tl_tensor **indices) {
    const char *op = "tl_max_pool1d";
    tl_pool2d_opts p;
    tl_scope sc;
    tl_tensor *r, *ix = NULL;
    if (indices) *indices = NULL;
    TL__CHECK1(op, x);
    if (!tl__pool1d_as_2d(op, x, opts, &p)) return NULL;
    sc = tl_scope_begin();
    r = tl_max_pool2d(tl_unsqueeze(x, x->ndim - 1), &p, indices ? &ix : NULL);
    if (r) r = tl_squeeze_dim(r, x->ndim - 1);
    if (ix) ix = tl_squeeze_dim(ix, x->ndim - 1); /* h is 0, so the 2-D index h * L + l is l */
    if (r && indices) {
        if (!ix) r = NULL;
        else *indices = tl_keep(tl_contiguous(ix));
    }
    return tl__composite_end(sc, r);
}
TLDEF tl_tensor *tl_avg_pool1d(const tl_tensor *x, const tl_pool1d_opts *opts) {
    const char *op = "tl_avg_pool1d";
    tl_pool2d_opts p;
    tl_scope sc;
    tl_tensor *r;
    TL__CHECK1(op, x);
    if (!tl__pool1d_as_2d(op, x, opts, &p)) return NULL;
    if (p.dilation[1] != 1)
        return TL__FAILN(TL_ERR_ARG, "%s: avg_pool1d has no dilation (got %d, input %s)", op, p.dilation[1], TL__SH(x));
    sc = tl_scope_begin();
    r = tl_avg_pool2d(tl_unsqueeze(x, x->ndim - 1), &p);
    if (r) r = tl_squeeze_dim(r, x->ndim - 1);
    return tl__composite_end(sc, r);
}

TLDEF tl_tensor *tl_group_norm(const tl_tensor *x, int64_t num_groups, const tl_tensor *weight,
                               const tl_tensor *bias, double eps) {
    const char *op = "tl_group_norm";
    int64_t C, s3[3], aff[TL_MAX_DIMS];
    tl_scope sc;
    tl_tensor *r;
    int d;
    TL__CHECK1(op, x);
    if (x->ndim < 2)
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected an input [N, C, *] of at least 2 dims, got %s", op, TL__SH(x));
    if (!TL__IS_FLOAT(x->dtype))
        return TL__FAILN(TL_ERR_DTYPE, "%s: expected a floating-point input, got %s %s", op, TL__DT(x), TL__SH(x));
    C = x->shape[1];
    if (num_groups <= 0 || C % num_groups)
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected number of channels in input to be divisible by num_groups, but "
                         "got input of shape %s and num_groups=%lld", op, TL__SH(x), (long long)num_groups);
    if ((weight && (weight->ndim != 1 || weight->shape[0] != C)) || (bias && (bias->ndim != 1 || bias->shape[0] != C)))
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected weight and bias of shape [%lld], got %s and %s (input %s)", op,
                         (long long)C, weight ? TL__SH(weight) : "None", bias ? TL__SH(bias) : "None", TL__SH(x));
    if ((weight && weight->dtype != x->dtype) || (bias && bias->dtype != x->dtype))
        return TL__FAILN(TL_ERR_DTYPE, "%s: expected weight and bias of the input's dtype %s, got %s and %s (input %s)",
                         op, TL__DT(x), weight ? TL__DT(weight) : "None", bias ? TL__DT(bias) : "None", TL__SH(x));
    sc = tl_scope_begin();
    s3[0] = x->shape[0];
    s3[1] = num_groups;
    s3[2] = -1;
    if (x->shape[0] == 0 || tl_numel(x) == 0) s3[2] = C / num_groups; /* -1 cannot be inferred from 0 elements */
    for (d = 2; d < x->ndim && s3[2] != -1; d++) s3[2] *= x->shape[d];
    r = tl_layer_norm(tl_reshape(x, 3, s3), 1, NULL, NULL, eps);
    r = r ? tl_reshape(r, x->ndim, x->shape) : NULL;
    aff[0] = C; /* weight/bias viewed as [C, 1, ...] against [N, C, *] */
    for (d = 1; d < x->ndim - 1; d++) aff[d] = 1;
    if (r && weight) r = tl_mul(r, tl_view(weight, x->ndim - 1, aff));
    if (r && bias) r = tl_add(r, tl_view(bias, x->ndim - 1, aff));
    if (r && r->grad_fn) r->grad_fn->tname = "NativeGroupNormBackward0"; /* torch's grad_fn name */
    return tl__composite_end(sc, r);
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

/* Order and lifetimes. Every recorded op makes a node (grad_fn) with a sequence number taken from a
   per-thread counter, so a node is always newer than the nodes of its inputs. tl_backward collects
   the nodes reachable from the roots (breadth-first over the edges), sorts them newest first and
   runs each node's backward function exactly once, after all of its consumers: its output gradient
   is complete by then, because every consumer is newer. Gradients flowing into a node are summed in
   its slot (fresh tensors, never aliased); gradients reaching a leaf are summed per leaf and added
   to .grad at the end (or captured for tl_autograd_grad), with hooks run on the sum. Nodes hold
   strong references to what they saved (inputs/outputs of the forward); retain_graph = 0 frees
   those saved tensors as each node finishes, so a second backward through it is an error naming
   the node, as torch's. The work list retains every queued node while the walk runs, so freeing a
   saved tensor can never free a node still to be visited; the graph itself dies with the last
   tensor that references its newest node. */
/* ---- the backward engine ---- */

#define TL__BW_INLINE 128 /* nodes and leaves a backward pass lists without allocating */
typedef struct tl__bw {
    tl__node **nodes;             /* reachable nodes (each retained while backward runs) */
    int n, cap;
    tl_tensor **leaves;           /* leaves reached, with their summed gradient */
    tl_tensor **leaf_grads;
    int nleaves, leaf_cap;
    int ncap;                     /* autograd.grad: capture these tensors' gradients */
    tl_tensor *const *cap_in;
    tl_tensor **cap_out;
    /* the lists start here, so an ordinary step's backward allocates nothing (grown past them) */
    tl__node *nodes0[TL__BW_INLINE];
    tl_tensor *leaves0[TL__BW_INLINE], *leaf_grads0[TL__BW_INLINE];
} tl__bw;

/* Grows a pair of parallel pointer arrays (capacity *cap, n used) by doubling; the first capacity
   is the struct's own inline arrays (never freed here). */
static int tl__grow2(void ***a, void ***b, int n, int *cap, void **a0, void **b0) {
    int nc = *cap * 2;
    void **na = (void **)tl__malloc(tl__szn(nc, sizeof(void *))), **nb = NULL;
    if (na && b) nb = (void **)tl__malloc(tl__szn(nc, sizeof(void *)));
    if (!na || (b && !nb)) {
        tl__free(na);
        TL__FAIL(TL_ERR_OOM, "tl_backward: out of memory growing the work list (%d entries)", n);
        return 0;
    }
    if (n) memcpy(na, *a, sizeof(void *) * (size_t)n);
    if (*a != a0) tl__free(*a);
    *a = na;
    if (b) {
        if (n) memcpy(nb, *b, sizeof(void *) * (size_t)n);
        if (*b != b0) tl__free(*b);
        *b = nb;
    }
    *cap = nc;
    return 1;
}
static int tl__bw_push(tl__bw *b, tl__node *n) {
    if (b->n == b->cap && !tl__grow2((void ***)&b->nodes, NULL, b->n, &b->cap, (void **)b->nodes0, NULL)) return 0;
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
        !tl__grow2((void ***)&b->leaves, (void ***)&b->leaf_grads, b->nleaves, &b->leaf_cap, (void **)b->leaves0,
                   (void **)b->leaf_grads0)) {
        tl__release(g);
        return 0;
    }
    b->leaves[b->nleaves] = t; /* retained until the flush: freeing a node's saved inputs as backward */
    t->refcount++;             /* goes must not free a leaf only the graph still held (issue 13) */
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
            tl__release(t);
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
        tl__release(t);
    }
    if (b->leaves != b->leaves0) tl__free(b->leaves);
    if (b->leaf_grads != b->leaf_grads0) tl__free(b->leaf_grads);
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
    b->nodes = b->nodes0;
    b->cap = TL__BW_INLINE;
    b->leaves = b->leaves0;
    b->leaf_grads = b->leaf_grads0;
    b->leaf_cap = TL__BW_INLINE;
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
            gin = (tl_tensor **)tl__malloc(tl__szn(nins, sizeof(tl_tensor *)));
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
    if (b->nodes != b->nodes0) tl__free(b->nodes);
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

/* ===== >>serialize ============================================================================ */
/* torch.save / torch.load (../shared/TORCH_FORMAT.md is the spec; section numbers below refer to
   it). Layout of this section:
     values     the tl_value tree (constructors, accessors, dict index, state_dict helper)
     repr       tl_value_to_string: Python's repr of the loaded object
     bytes      growable byte buffer, CRC-32, a small string->int64 hash map
     pickle out protocol-2 pickler emitting what Python's pickler emits for torch objects (3.2-3.3)
     zip out    torch's zip layout: prefix dir, 64-byte aligned payloads, descriptors, ZIP64 (2.x)
     inflate    raw DEFLATE decoder for deflated entries (torch itself never compresses)
     zip in     central directory reader (ZIP64, CRC check, local-header payload offsets)
     pickle in  safe subset unpickler (7.2): allowlisted globals only, every length/offset checked
     load       format detection (legacy, TorchScript), storages (aliasing one read buffer) */

#ifndef TL_LOAD_MAX_OBJECTS
#define TL_LOAD_MAX_OBJECTS (1L << 22) /* pickle objects per load (a state_dict tensor costs ~12) */
#endif
#ifndef TL_LOAD_MAX_DEPTH
#define TL_LOAD_MAX_DEPTH 200 /* nesting of containers in a loaded file (Python's repr limit ~1000) */
#endif
#ifndef TL_LOAD_MAX_INFLATED
#define TL_LOAD_MAX_INFLATED ((uint64_t)256 << 20) /* deflated records, inflated (torch never deflates) */
#endif
#ifndef TL_LOAD_MAX_STRINGS
#define TL_LOAD_MAX_STRINGS ((uint64_t)16 << 20) /* str bytes of one loaded tree */
#endif
#ifndef TL__ZIP64_LIMIT
#define TL__ZIP64_LIMIT 0xFFFFFFFFu /* record sizes >= this use ZIP64 fields (a test knob) */
#endif
#ifndef TL__ZIP64_OFFSET_LIMIT
#define TL__ZIP64_OFFSET_LIMIT 0xFFFFFFFFu /* offsets >= this use ZIP64 fields (a test knob) */
#endif
#define TL__VALUE_PRIVATE_NO_KEY ((size_t)-1)

struct tl_value {
    tl_value_kind kind;
    int flag;              /* bool: the value; tensor: is nn.Parameter; dict: is OrderedDict */
    int64_t i;
    double f;
    char *s;               /* string bytes, NUL-terminated */
    size_t slen;
    tl_tensor *t;          /* tensor: one owned reference */
    tl_value **items;      /* list/tuple: items; dict: key0, val0, key1, val1, ... */
    size_t n, cap;         /* slots used / allocated (dict: 2 per pair) */
    size_t *index;         /* dict: open-addressing hash index of pair numbers + 1 (NULL if small) */
    size_t index_cap;
    tl_value *meta;        /* OrderedDict: the _metadata attribute (owned), or NULL */
};

#define TL__FAILV(st, ...) (TL__FAIL((st), __VA_ARGS__), (tl_value *)NULL)

static const char *const tl__value_kind_names[] = {"None", "bool", "int", "float", "str",
                                                   "Tensor", "list", "tuple", "dict"};

TLDEF const char *tl_value_kind_name(tl_value_kind k) {
    return ((int)k >= 0 && (int)k <= (int)TL_VALUE_DICT) ? tl__value_kind_names[k] : "invalid";
}

static tl_value *tl__value_new(const char *op, tl_value_kind kind) {
    tl_value *v = (tl_value *)tl__malloc(sizeof(tl_value));
    if (!v) return TL__FAILV(TL_ERR_OOM, "%s: out of memory allocating a %s value", op, tl__value_kind_names[kind]);
    memset(v, 0, sizeof *v);
    v->kind = kind;
    return v;
}

TLDEF void tl_value_free(tl_value *v) {
    size_t k;
    if (!v) return;
    for (k = 0; k < v->n; k++) tl_value_free(v->items[k]);
    tl__free(v->items);
    tl__free(v->index);
    tl__free(v->s);
    tl_value_free(v->meta);
    if (v->t) tl__release(v->t);
    tl__free(v);
}

TLDEF tl_value *tl_value_none(void) { return tl__value_new("tl_value_none", TL_VALUE_NONE); }
TLDEF tl_value *tl_value_bool(int b) {
    tl_value *v = tl__value_new("tl_value_bool", TL_VALUE_BOOL);
    if (v) v->flag = b ? 1 : 0;
    return v;
}
TLDEF tl_value *tl_value_int(int64_t i) {
    tl_value *v = tl__value_new("tl_value_int", TL_VALUE_INT);
    if (v) v->i = i;
    return v;
}
TLDEF tl_value *tl_value_float(double f) {
    tl_value *v = tl__value_new("tl_value_float", TL_VALUE_FLOAT);
    if (v) v->f = f;
    return v;
}
static tl_value *tl__value_str(const char *op, const char *s, size_t len) {
    tl_value *v = tl__value_new(op, TL_VALUE_STRING);
    if (!v) return NULL;
    v->s = (char *)tl__malloc(tl__szadd(len, 1));
    if (!v->s) {
        tl__free(v);
        return TL__FAILV(TL_ERR_OOM, "%s: out of memory copying a %lu-byte string", op, (unsigned long)len);
    }
    if (len) memcpy(v->s, s, len);
    v->s[len] = 0;
    v->slen = len;
    return v;
}
TLDEF tl_value *tl_value_string(const char *s) {
    if (tl__null_in("tl_value_string", s)) return NULL;
    return tl__value_str("tl_value_string", s, strlen(s));
}
TLDEF tl_value *tl_value_string_n(const char *s, size_t len) {
    if (len && tl__null_in("tl_value_string_n", s)) return NULL;
    return tl__value_str("tl_value_string_n", s, len);
}
static tl_value *tl__value_tensor(const char *op, tl_tensor *t, int param) {
    tl_value *v;
    if (tl__null_in(op, t)) return NULL;
    v = tl__value_new(op, TL_VALUE_TENSOR);
    if (!v) return NULL;
    t->refcount++;
    v->t = t;
    v->flag = param;
    return v;
}
TLDEF tl_value *tl_value_tensor(tl_tensor *t) { return tl__value_tensor("tl_value_tensor", t, 0); }
TLDEF tl_value *tl_value_parameter(tl_tensor *t) { return tl__value_tensor("tl_value_parameter", t, 1); }
TLDEF tl_value *tl_value_list(void) { return tl__value_new("tl_value_list", TL_VALUE_LIST); }
TLDEF tl_value *tl_value_tuple(void) { return tl__value_new("tl_value_tuple", TL_VALUE_TUPLE); }
TLDEF tl_value *tl_value_dict(void) { return tl__value_new("tl_value_dict", TL_VALUE_DICT); }
TLDEF tl_value *tl_value_ordered_dict(void) {
    tl_value *v = tl__value_new("tl_value_ordered_dict", TL_VALUE_DICT);
    if (v) v->flag = 1;
    return v;
}

/* ---- accessors ---- */

TLDEF tl_value_kind tl_value_kind_of(const tl_value *v) { return v ? v->kind : TL_VALUE_NONE; }

/* 1 when v exists and has one of the two kinds; else records TL_ERR_ARG (unless NULL + pending). */
static int tl__value_is(const char *op, const tl_value *v, tl_value_kind k1, tl_value_kind k2) {
    if (tl__null_in(op, v)) return 0;
    if (v->kind == k1 || v->kind == k2) return 1;
    TL__FAIL(TL_ERR_ARG, "%s: expected %s %s value, got %s", op, k1 == TL_VALUE_INT ? "an" : "a", tl__value_kind_names[k1],
             tl__value_kind_names[v->kind]);
    return 0;
}
TLDEF int tl_value_as_bool(const tl_value *v) {
    return tl__value_is("tl_value_as_bool", v, TL_VALUE_BOOL, TL_VALUE_BOOL) ? v->flag : 0;
}
TLDEF int64_t tl_value_as_int(const tl_value *v) {
    if (!tl__value_is("tl_value_as_int", v, TL_VALUE_INT, TL_VALUE_BOOL)) return 0;
    return v->kind == TL_VALUE_BOOL ? v->flag : v->i;
}
TLDEF double tl_value_as_float(const tl_value *v) {
    if (tl__null_in("tl_value_as_float", v)) return 0;
    if (v->kind == TL_VALUE_FLOAT) return v->f;
    if (v->kind == TL_VALUE_INT) return (double)v->i;
    if (v->kind == TL_VALUE_BOOL) return (double)v->flag;
    TL__FAIL(TL_ERR_ARG, "tl_value_as_float: expected a float, int or bool value, got %s", tl__value_kind_names[v->kind]);
    return 0;
}
TLDEF const char *tl_value_as_string(const tl_value *v, size_t *len) {
    if (len) *len = 0;
    if (!tl__value_is("tl_value_as_string", v, TL_VALUE_STRING, TL_VALUE_STRING)) return NULL;
    if (len) *len = v->slen;
    return v->s;
}
TLDEF tl_tensor *tl_value_tensor_of(const tl_value *v) {
    if (!tl__value_is("tl_value_tensor_of", v, TL_VALUE_TENSOR, TL_VALUE_TENSOR)) return NULL;
    v->t->refcount++;
    return tl__ret(v->t);
}
TLDEF int tl_value_is_parameter(const tl_value *v) { return v && v->kind == TL_VALUE_TENSOR && v->flag; }
TLDEF int tl_value_is_ordered(const tl_value *v) { return v && v->kind == TL_VALUE_DICT && v->flag; }

TLDEF size_t tl_value_len(const tl_value *v) {
    if (!v) return 0;
    if (v->kind == TL_VALUE_DICT) return v->n / 2;
    if (v->kind == TL_VALUE_LIST || v->kind == TL_VALUE_TUPLE) return v->n;
    return 0;
}
TLDEF const tl_value *tl_value_item(const tl_value *v, size_t i) {
    size_t len;
    if (tl__null_in("tl_value_item", v)) return NULL;
    if (v->kind != TL_VALUE_LIST && v->kind != TL_VALUE_TUPLE && v->kind != TL_VALUE_DICT)
        return TL__FAILV(TL_ERR_ARG, "tl_value_item: a %s value has no items", tl__value_kind_names[v->kind]);
    len = tl_value_len(v);
    if (i >= len)
        return TL__FAILV(TL_ERR_INDEX, "tl_value_item: index %lu out of range for a %s of length %lu",
                         (unsigned long)i, tl__value_kind_names[v->kind], (unsigned long)len);
    return v->kind == TL_VALUE_DICT ? v->items[2 * i + 1] : v->items[i];
}
TLDEF const tl_value *tl_value_key(const tl_value *v, size_t i) {
    if (!tl__value_is("tl_value_key", v, TL_VALUE_DICT, TL_VALUE_DICT)) return NULL;
    if (i >= v->n / 2)
        return TL__FAILV(TL_ERR_INDEX, "tl_value_key: index %lu out of range for a dict of length %lu",
                         (unsigned long)i, (unsigned long)(v->n / 2));
    return v->items[2 * i];
}

/* ---- dict keys: str or int; small dicts scan, larger ones keep a hash index ---- */

static uint64_t tl__hash_bytes(const void *p, size_t n, uint64_t h) {
    const unsigned char *b = (const unsigned char *)p;
    size_t k;
    for (k = 0; k < n; k++) h = (h ^ b[k]) * 1099511628211ull;
    return h;
}
static uint64_t tl__key_hash(tl_value_kind kind, const char *s, size_t slen, int64_t i) {
    uint64_t h = 14695981039346656037ull;
    if (kind == TL_VALUE_STRING) return tl__hash_bytes(s, slen, h ^ 0x53);
    return tl__hash_bytes(&i, sizeof i, h ^ 0x49);
}
static int tl__key_eq(const tl_value *k, tl_value_kind kind, const char *s, size_t slen, int64_t i) {
    if (k->kind != kind) return 0;
    if (kind == TL_VALUE_STRING) return k->slen == slen && (slen == 0 || memcmp(k->s, s, slen) == 0);
    return k->i == i;
}
/* Pair number of the key in d, or TL__VALUE_PRIVATE_NO_KEY. */
static size_t tl__dict_find(const tl_value *d, tl_value_kind kind, const char *s, size_t slen, int64_t i) {
    size_t np = d->n / 2, p;
    if (d->index) {
        size_t mask = d->index_cap - 1, h = (size_t)tl__key_hash(kind, s, slen, i) & mask;
        while (d->index[h]) {
            p = d->index[h] - 1;
            if (tl__key_eq(d->items[2 * p], kind, s, slen, i)) return p;
            h = (h + 1) & mask;
        }
        return TL__VALUE_PRIVATE_NO_KEY;
    }
    for (p = 0; p < np; p++)
        if (tl__key_eq(d->items[2 * p], kind, s, slen, i)) return p;
    return TL__VALUE_PRIVATE_NO_KEY;
}
static void tl__dict_index_put(tl_value *d, size_t p) {
    const tl_value *k = d->items[2 * p];
    size_t mask = d->index_cap - 1, h = (size_t)tl__key_hash(k->kind, k->s, k->slen, k->i) & mask;
    while (d->index[h]) h = (h + 1) & mask;
    d->index[h] = p + 1;
}
/* (Re)builds the index when the dict passes 16 pairs or half the index; 0 on OOM. */
static int tl__dict_reindex(tl_value *d, size_t npairs) {
    size_t cap = 64, p;
    size_t *idx;
    if (npairs <= 16 || (d->index && npairs * 2 <= d->index_cap)) return 1;
    while (cap < npairs * 4) cap *= 2;
    idx = (size_t *)tl__malloc(tl__szmul(cap, sizeof(size_t)));
    if (!idx) return 0;
    memset(idx, 0, cap * sizeof(size_t));
    tl__free(d->index);
    d->index = idx;
    d->index_cap = cap;
    for (p = 0; p < d->n / 2; p++) tl__dict_index_put(d, p);
    return 1;
}

static int tl__value_reserve(tl_value *v, size_t extra) {
    size_t cap;
    tl_value **items;
    if (v->n + extra <= v->cap) return 1;
    cap = v->cap ? v->cap * 2 : 8;
    while (cap < v->n + extra) cap *= 2;
    items = (tl_value **)tl__malloc(tl__szmul(cap, sizeof(tl_value *)));
    if (!items) return 0;
    if (v->n) memcpy(items, v->items, v->n * sizeof(tl_value *));
    tl__free(v->items);
    v->items = items;
    v->cap = cap;
    return 1;
}

TLDEF tl_status tl_value_append(tl_value *c, tl_value *item) {
    if (tl__null_in("tl_value_append", c) || tl__null_in("tl_value_append", item)) {
        tl_value_free(item);
        return tl__tls.status ? tl__tls.status : TL_ERR_ARG;
    }
    if (c->kind != TL_VALUE_LIST && c->kind != TL_VALUE_TUPLE) {
        tl_value_free(item);
        return TL__FAIL(TL_ERR_ARG, "tl_value_append: cannot append to a %s (list or tuple expected)",
                        tl__value_kind_names[c->kind]);
    }
    if (item == c) return TL__FAIL(TL_ERR_ARG, "tl_value_append: cannot append a container to itself");
    if (!tl__value_reserve(c, 1)) {
        tl_value_free(item);
        return TL__FAIL(TL_ERR_OOM, "tl_value_append: out of memory growing a %s of %lu items",
                        tl__value_kind_names[c->kind], (unsigned long)c->n);
    }
    c->items[c->n++] = item;
    return TL_OK;
}

/* Inserts or replaces; takes ownership of key (a new str/int value) and val. */
static tl_status tl__dict_set(const char *op, tl_value *d, tl_value *key, tl_value *val) {
    size_t p;
    if (!key || !val) {
        tl_value_free(key);
        tl_value_free(val);
        return tl__tls.status ? tl__tls.status : TL__FAIL(TL_ERR_ARG, "%s: value is NULL", op);
    }
    if (d->kind != TL_VALUE_DICT) {
        tl_value_free(key);
        tl_value_free(val);
        return TL__FAIL(TL_ERR_ARG, "%s: cannot set a key on a %s (dict expected)", op, tl__value_kind_names[d->kind]);
    }
    if (val == d) {
        tl_value_free(key);
        return TL__FAIL(TL_ERR_ARG, "%s: cannot insert a dict into itself", op);
    }
    p = tl__dict_find(d, key->kind, key->s, key->slen, key->i);
    if (p != TL__VALUE_PRIVATE_NO_KEY) {
        tl_value_free(key);
        tl_value_free(d->items[2 * p + 1]);
        d->items[2 * p + 1] = val;
        return TL_OK;
    }
    if (!tl__value_reserve(d, 2) || !tl__dict_reindex(d, d->n / 2 + 1)) {
        tl_value_free(key);
        tl_value_free(val);
        return TL__FAIL(TL_ERR_OOM, "%s: out of memory growing a dict of %lu pairs", op, (unsigned long)(d->n / 2));
    }
    d->items[d->n++] = key;
    d->items[d->n++] = val;
    if (d->index) tl__dict_index_put(d, d->n / 2 - 1);
    return TL_OK;
}
TLDEF tl_status tl_value_set(tl_value *d, const char *key, tl_value *val) {
    if (tl__null_in("tl_value_set", d) || tl__null_in("tl_value_set", key)) {
        tl_value_free(val);
        return tl__tls.status ? tl__tls.status : TL_ERR_ARG;
    }
    if (!val) return tl__tls.status ? tl__tls.status : TL__FAIL(TL_ERR_ARG, "tl_value_set: value is NULL");
    return tl__dict_set("tl_value_set", d, tl__value_str("tl_value_set", key, strlen(key)), val);
}
TLDEF tl_status tl_value_set_int(tl_value *d, int64_t key, tl_value *val) {
    if (tl__null_in("tl_value_set_int", d)) {
        tl_value_free(val);
        return tl__tls.status ? tl__tls.status : TL_ERR_ARG;
    }
    if (!val) return tl__tls.status ? tl__tls.status : TL__FAIL(TL_ERR_ARG, "tl_value_set_int: value is NULL");
    return tl__dict_set("tl_value_set_int", d, tl_value_int(key), val);
}
TLDEF const tl_value *tl_value_get(const tl_value *d, const char *key) {
    size_t p;
    if (!tl__value_is("tl_value_get", d, TL_VALUE_DICT, TL_VALUE_DICT) || tl__null_in("tl_value_get", key)) return NULL;
    p = tl__dict_find(d, TL_VALUE_STRING, key, strlen(key), 0);
    return p == TL__VALUE_PRIVATE_NO_KEY ? NULL : d->items[2 * p + 1];
}
TLDEF const tl_value *tl_value_get_int(const tl_value *d, int64_t key) {
    size_t p;
    if (!tl__value_is("tl_value_get_int", d, TL_VALUE_DICT, TL_VALUE_DICT)) return NULL;
    p = tl__dict_find(d, TL_VALUE_INT, NULL, 0, key);
    return p == TL__VALUE_PRIVATE_NO_KEY ? NULL : d->items[2 * p + 1];
}

TLDEF tl_value *tl_value_copy(const tl_value *v) {
    tl_value *c;
    size_t k;
    if (tl__null_in("tl_value_copy", v)) return NULL;
    switch (v->kind) {
    case TL_VALUE_STRING: return tl__value_str("tl_value_copy", v->s, v->slen);
    case TL_VALUE_TENSOR: return tl__value_tensor("tl_value_copy", v->t, v->flag);
    default: break;
    }
    c = tl__value_new("tl_value_copy", v->kind);
    if (!c) return NULL;
    c->flag = v->flag;
    c->i = v->i;
    c->f = v->f;
    if (v->n && !tl__value_reserve(c, v->n)) {
        tl__free(c);
        return TL__FAILV(TL_ERR_OOM, "tl_value_copy: out of memory copying a %s", tl__value_kind_names[v->kind]);
    }
    for (k = 0; k < v->n; k++) {
        c->items[k] = tl_value_copy(v->items[k]);
        c->n = k + 1;
        if (!c->items[k]) {
            c->n = k;
            tl_value_free(c);
            return NULL;
        }
    }
    if (c->kind == TL_VALUE_DICT && !tl__dict_reindex(c, c->n / 2)) {
        tl_value_free(c);
        return TL__FAILV(TL_ERR_OOM, "tl_value_copy: out of memory indexing a dict");
    }
    if (v->meta && !(c->meta = tl_value_copy(v->meta))) {
        tl_value_free(c);
        return NULL;
    }
    return c;
}

/* ---- state_dict helpers (_metadata, section 5) ---- */

TLDEF const tl_value *tl_value_metadata(const tl_value *od) {
    if (!tl__value_is("tl_value_metadata", od, TL_VALUE_DICT, TL_VALUE_DICT)) return NULL;
    return od->meta;
}
TLDEF tl_status tl_value_add_module_version(tl_value *od, const char *path, int64_t version) {
    tl_value *ver;
    tl_status st;
    if (tl__null_in("tl_value_add_module_version", od) || tl__null_in("tl_value_add_module_version", path))
        return tl__tls.status ? tl__tls.status : TL_ERR_ARG;
    if (od->kind != TL_VALUE_DICT || !od->flag)
        return TL__FAIL(TL_ERR_ARG, "tl_value_add_module_version: _metadata belongs on an OrderedDict, got %s%s",
                        od->kind == TL_VALUE_DICT ? "a plain " : "", tl__value_kind_names[od->kind]);
    if (!od->meta && !(od->meta = tl_value_ordered_dict())) return tl__tls.status;
    ver = tl_value_dict();
    if (!ver) return tl__tls.status;
    st = tl_value_set(ver, "version", tl_value_int(version));
    if (st) {
        tl_value_free(ver);
        return st;
    }
    return tl_value_set(od->meta, path, ver);
}
TLDEF tl_value *tl_state_dict_build(int n, const char *const *keys, tl_tensor *const *tensors, int nmod,
                                    const char *const *module_paths, const int64_t *module_versions) {
    tl_value *od;
    int k;
    if (n < 0 || nmod < 0 || (n > 0 && (!keys || !tensors)) || (nmod > 0 && (!module_paths || !module_versions)))
        return TL__FAILV(TL_ERR_ARG, "tl_state_dict_build: bad arguments (n=%d, nmod=%d, or a NULL array)", n, nmod);
    od = tl_value_ordered_dict();
    if (!od) return NULL;
    for (k = 0; k < n; k++) {
        if (!keys[k] || !tensors[k]) {
            tl_value_free(od);
            return TL__FAILV(TL_ERR_ARG, "tl_state_dict_build: entry %d has a NULL key or tensor", k);
        }
        if (tl_value_get(od, keys[k])) {
            tl_value_free(od);
            return TL__FAILV(TL_ERR_ARG, "tl_state_dict_build: duplicate key '%s'", keys[k]);
        }
        if (tl_value_set(od, keys[k], tl_value_tensor(tensors[k]))) {
            tl_value_free(od);
            return NULL;
        }
    }
    for (k = 0; k < nmod; k++) {
        if (!module_paths[k] || tl_value_add_module_version(od, module_paths[k], module_versions[k])) {
            tl_value_free(od);
            return module_paths[k] ? NULL : TL__FAILV(TL_ERR_ARG, "tl_state_dict_build: module path %d is NULL", k);
        }
    }
    /* an empty module list still marks the dict as a state_dict with (empty) _metadata */
    if (!od->meta && !(od->meta = tl_value_ordered_dict())) {
        tl_value_free(od);
        return NULL;
    }
    return od;
}

/* ===== repr ===== */

/* Growable text/bytes buffer; oom is sticky (checked once at the end). */
typedef struct tl__bb { unsigned char *p; size_t n, cap; int oom; } tl__bb;
static int tl__bb_grow(tl__bb *b, size_t extra) {
    size_t cap;
    unsigned char *np;
    if (b->oom) return 0;
    if (b->n + extra + 1 <= b->cap) return 1;
    if (extra > ((size_t)-1) / 4 - b->n) {
        b->oom = 1;
        return 0;
    }
    cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra + 1) cap *= 2;
    np = (unsigned char *)tl__malloc(cap);
    if (!np) {
        b->oom = 1;
        return 0;
    }
    if (b->n) memcpy(np, b->p, b->n);
    tl__free(b->p);
    b->p = np;
    b->cap = cap;
    return 1;
}
static void tl__bb_put(tl__bb *b, const void *p, size_t n) {
    if (!n || !tl__bb_grow(b, n)) return;
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void tl__bb_byte(tl__bb *b, unsigned c) {
    unsigned char x = (unsigned char)c;
    tl__bb_put(b, &x, 1);
}
static void tl__bb_str(tl__bb *b, const char *s) { tl__bb_put(b, s, strlen(s)); }
static void tl__bb_u16(tl__bb *b, unsigned v) {
    unsigned char x[2];
    x[0] = (unsigned char)v;
    x[1] = (unsigned char)(v >> 8);
    tl__bb_put(b, x, 2);
}
static void tl__bb_u32(tl__bb *b, uint32_t v) {
    unsigned char x[4];
    int k;
    for (k = 0; k < 4; k++) x[k] = (unsigned char)(v >> (8 * k));
    tl__bb_put(b, x, 4);
}
static void tl__bb_u64(tl__bb *b, uint64_t v) {
    unsigned char x[8];
    int k;
    for (k = 0; k < 8; k++) x[k] = (unsigned char)(v >> (8 * k));
    tl__bb_put(b, x, 8);
}

/* Python's float repr: the shortest digits that round-trip, fixed notation for exponents in
   [-4, 16), else d.ddde+XX. */
static void tl__repr_float(tl__bb *b, double x) {
    char tmp[40], digits[24], out[48];
    int prec, exp10 = 0, nd = 0, k, o = 0;
    const char *e;
    if (x != x) { tl__bb_str(b, "nan"); return; }
    if (x > DBL_MAX) { tl__bb_str(b, "inf"); return; }
    if (x < -DBL_MAX) { tl__bb_str(b, "-inf"); return; }
    if (x == 0) { tl__bb_str(b, (1.0 / x < 0) ? "-0.0" : "0.0"); return; }
    for (prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, x);
        if (strtod(tmp, NULL) == x) break;
    }
    /* tmp = [-]d[.ddd]e[+-]XX */
    for (k = 0; tmp[k] && tmp[k] != 'e'; k++)
        if (tmp[k] >= '0' && tmp[k] <= '9' && nd < 20) digits[nd++] = tmp[k];
    e = strchr(tmp, 'e');
    if (e) exp10 = atoi(e + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    if (x < 0) out[o++] = '-';
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 < 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (k = 0; k < -exp10 - 1; k++) out[o++] = '0';
            for (k = 0; k < nd; k++) out[o++] = digits[k];
        } else {
            for (k = 0; k <= exp10; k++) out[o++] = k < nd ? digits[k] : '0';
            out[o++] = '.';
            if (nd > exp10 + 1)
                for (k = exp10 + 1; k < nd; k++) out[o++] = digits[k];
            else
                out[o++] = '0';
        }
        out[o] = 0;
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (k = 1; k < nd; k++) out[o++] = digits[k];
        }
        snprintf(out + o, sizeof out - (size_t)o, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    }
    tl__bb_str(b, out);
}

/* Python's str repr: single quotes unless the text has ' and no ", escapes for \\ \n \r \t and
   other control bytes; UTF-8 passes through. */
static void tl__repr_str(tl__bb *b, const char *s, size_t n) {
    size_t k;
    int has_sq = 0, has_dq = 0;
    char q;
    for (k = 0; k < n; k++) {
        if (s[k] == '\'') has_sq = 1;
        if (s[k] == '"') has_dq = 1;
    }
    q = (has_sq && !has_dq) ? '"' : '\'';
    tl__bb_byte(b, (unsigned char)q);
    for (k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        char esc[8];
        if (c == (unsigned char)q || c == '\\') {
            tl__bb_byte(b, '\\');
            tl__bb_byte(b, c);
        } else if (c == '\n') tl__bb_str(b, "\\n");
        else if (c == '\r') tl__bb_str(b, "\\r");
        else if (c == '\t') tl__bb_str(b, "\\t");
        else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", c);
            tl__bb_str(b, esc);
        } else tl__bb_byte(b, c);
    }
    tl__bb_byte(b, (unsigned char)q);
}

static int tl__repr(tl__bb *b, const tl_value *v, int depth) {
    char tmp[32];
    size_t k;
    if (depth > TL_LOAD_MAX_DEPTH * 4) {
        tl__bb_str(b, "...");
        return 1;
    }
    switch (v->kind) {
    case TL_VALUE_NONE: tl__bb_str(b, "None"); break;
    case TL_VALUE_BOOL: tl__bb_str(b, v->flag ? "True" : "False"); break;
    case TL_VALUE_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v->i);
        tl__bb_str(b, tmp);
        break;
    case TL_VALUE_FLOAT: tl__repr_float(b, v->f); break;
    case TL_VALUE_STRING: tl__repr_str(b, v->s, v->slen); break;
    case TL_VALUE_TENSOR: {
        int len;
        if (v->flag) tl__bb_str(b, "Parameter containing:\n");
        len = tl_to_string(v->t, NULL, 0);
        if (len < 0 || !tl__bb_grow(b, (size_t)len + 1)) return 0;
        tl_to_string(v->t, (char *)b->p + b->n, (size_t)len + 1);
        b->n += (size_t)len;
        break;
    }
    case TL_VALUE_LIST:
    case TL_VALUE_TUPLE:
        tl__bb_byte(b, v->kind == TL_VALUE_LIST ? '[' : '(');
        for (k = 0; k < v->n; k++) {
            if (k) tl__bb_str(b, ", ");
            if (!tl__repr(b, v->items[k], depth + 1)) return 0;
        }
        if (v->kind == TL_VALUE_TUPLE && v->n == 1) tl__bb_byte(b, ',');
        tl__bb_byte(b, v->kind == TL_VALUE_LIST ? ']' : ')');
        break;
    case TL_VALUE_DICT:
        if (v->flag) { /* Python 3.11's OrderedDict repr */
            if (v->n == 0) {
                tl__bb_str(b, "OrderedDict()");
                break;
            }
            tl__bb_str(b, "OrderedDict([");
            for (k = 0; k < v->n; k += 2) {
                tl__bb_str(b, k ? ", (" : "(");
                if (!tl__repr(b, v->items[k], depth + 1)) return 0;
                tl__bb_str(b, ", ");
                if (!tl__repr(b, v->items[k + 1], depth + 1)) return 0;
                tl__bb_byte(b, ')');
            }
            tl__bb_str(b, "])");
        } else {
            tl__bb_byte(b, '{');
            for (k = 0; k < v->n; k += 2) {
                if (k) tl__bb_str(b, ", ");
                if (!tl__repr(b, v->items[k], depth + 1)) return 0;
                tl__bb_str(b, ": ");
                if (!tl__repr(b, v->items[k + 1], depth + 1)) return 0;
            }
            tl__bb_byte(b, '}');
        }
        break;
    }
    return !b->oom;
}

TLDEF int tl_value_to_string(const tl_value *v, char *buf, size_t cap) {
    tl__bb b;
    int n;
    TL__CHECK1S("tl_value_to_string", v);
    memset(&b, 0, sizeof b);
    if (!tl__repr(&b, v, 0) || b.oom) {
        tl__free(b.p);
        if (tl__tls.status) return tl__tls.status;
        return TL__FAIL(TL_ERR_OOM, "tl_value_to_string: out of memory formatting a %s", tl__value_kind_names[v->kind]);
    }
    if (buf && cap > 0) {
        size_t c = b.n < cap - 1 ? b.n : cap - 1;
        if (c) memcpy(buf, b.p, c);
        buf[c] = 0;
    }
    n = b.n > (size_t)0x7fffffff ? 0x7fffffff : (int)b.n;
    tl__free(b.p);
    return n;
}
#ifndef TL_NO_STDIO
TLDEF tl_status tl_value_fprint(FILE *f, const tl_value *v) {
    tl__bb b;
    TL__CHECK2S("tl_value_fprint", f, v);
    memset(&b, 0, sizeof b);
    if (!tl__repr(&b, v, 0) || b.oom) {
        tl__free(b.p);
        if (tl__tls.status) return tl__tls.status;
        return TL__FAIL(TL_ERR_OOM, "tl_value_fprint: out of memory formatting a %s", tl__value_kind_names[v->kind]);
    }
    if (b.n) fwrite(b.p, 1, b.n, f);
    fputc('\n', f);
    tl__free(b.p);
    return TL_OK;
}
TLDEF tl_status tl_value_print(const tl_value *v) { return tl_value_fprint(stdout, v); }
#endif

/* ===== bytes: CRC-32 and a small hash map ===== */

/* ZIP's CRC-32 (reflected 0xEDB88320), slice-by-16: table k maps a byte to its CRC after k more zero
   bytes, so 16 input bytes fold in with 16 lookups and no serial dependency between them (about
   4x slice-by-4's speed). The tables (16 KB) live in the caller's context. */
typedef struct tl__crc { uint32_t t[16][256]; } tl__crc;
static void tl__crc_init(tl__crc *c) {
    uint32_t i, v;
    int k;
    for (i = 0; i < 256; i++) {
        v = i;
        for (k = 0; k < 8; k++) v = (v & 1) ? (v >> 1) ^ 0xEDB88320u : v >> 1;
        c->t[0][i] = v;
    }
    for (k = 1; k < 16; k++)
        for (i = 0; i < 256; i++) c->t[k][i] = (c->t[k - 1][i] >> 8) ^ c->t[0][c->t[k - 1][i] & 0xff];
}
static uint32_t tl__crc_update(const tl__crc *c, uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    crc = ~crc;
    while (n >= 16) {
        crc ^= (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
        crc = c->t[15][crc & 0xff] ^ c->t[14][(crc >> 8) & 0xff] ^ c->t[13][(crc >> 16) & 0xff] ^
              c->t[12][crc >> 24] ^ c->t[11][p[4]] ^ c->t[10][p[5]] ^ c->t[9][p[6]] ^ c->t[8][p[7]] ^
              c->t[7][p[8]] ^ c->t[6][p[9]] ^ c->t[5][p[10]] ^ c->t[4][p[11]] ^ c->t[3][p[12]] ^
              c->t[2][p[13]] ^ c->t[1][p[14]] ^ c->t[0][p[15]];
        p += 16;
        n -= 16;
    }
    while (n--) crc = c->t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* Byte-string keys -> int64 (open addressing; keys copied). */
typedef struct tl__hm_ent { uint64_t h; char *k; size_t kn; int64_t v; } tl__hm_ent;
typedef struct tl__hm { tl__hm_ent *e; size_t cap, n; } tl__hm;
static void tl__hm_free(tl__hm *m) {
    size_t k;
    for (k = 0; k < m->cap; k++) tl__free(m->e[k].k);
    tl__free(m->e);
    m->e = NULL;
    m->cap = m->n = 0;
}
static tl__hm_ent *tl__hm_slot(const tl__hm *m, uint64_t h, const void *k, size_t kn) {
    size_t mask = m->cap - 1, i = (size_t)h & mask;
    while (m->e[i].k) {
        if (m->e[i].h == h && m->e[i].kn == kn && memcmp(m->e[i].k, k, kn) == 0) break;
        i = (i + 1) & mask;
    }
    return &m->e[i];
}
static int64_t tl__hm_get(const tl__hm *m, const void *k, size_t kn) {
    tl__hm_ent *e;
    if (!m->cap) return -1;
    e = tl__hm_slot(m, tl__hash_bytes(k, kn, 14695981039346656037ull), k, kn);
    return e->k ? e->v : -1;
}
static int tl__hm_put(tl__hm *m, const void *k, size_t kn, int64_t v) {
    uint64_t h = tl__hash_bytes(k, kn, 14695981039346656037ull);
    tl__hm_ent *e;
    if ((m->n + 1) * 2 > m->cap) {
        tl__hm old = *m;
        size_t cap = m->cap ? m->cap * 2 : 64, i;
        m->e = (tl__hm_ent *)tl__malloc(tl__szmul(cap, sizeof(tl__hm_ent)));
        if (!m->e) {
            *m = old;
            return 0;
        }
        memset(m->e, 0, cap * sizeof(tl__hm_ent));
        m->cap = cap;
        for (i = 0; i < old.cap; i++)
            if (old.e[i].k) *tl__hm_slot(m, old.e[i].h, old.e[i].k, old.e[i].kn) = old.e[i];
        tl__free(old.e);
    }
    e = tl__hm_slot(m, h, k, kn);
    if (!e->k) {
        e->k = (char *)tl__malloc(kn ? kn : 1);
        if (!e->k) return 0;
        if (kn) memcpy(e->k, k, kn);
        e->kn = kn;
        e->h = h;
        m->n++;
    }
    e->v = v;
    return 1;
}

/* ===== pickle out (sections 3, 4, 5) ===== */

/* Pickler state. Memo keys: 's'+bytes (strings, deduplicated by content like Python's interned
   strings), 'k'+bytes (storage keys), 'g'+"module\nname" (globals), 't'/'P'+pointer (a tensor/parameter seen before is
   re-emitted with BINGET, so loading gives one object, as pickle does for one Python object). */
typedef struct tl__pw {
    tl__bb out;
    tl__hm memo;
    int64_t next_memo;
    tl__hm stmap;        /* storage pointer -> index */
    tl_storage **st;     /* storages in order of first appearance (key "0", "1", ...) */
    tl_dtype *st_dt;
    size_t nst, capst;
    const char *op;
    int failed;
} tl__pw;

static void tl__pw_memoize(tl__pw *w) {
    if (w->next_memo < 256) {
        tl__bb_byte(&w->out, 'q');
        tl__bb_byte(&w->out, (unsigned)w->next_memo);
    } else {
        tl__bb_byte(&w->out, 'r');
        tl__bb_u32(&w->out, (uint32_t)w->next_memo);
    }
    w->next_memo++;
}
static void tl__pw_get(tl__pw *w, int64_t idx) {
    if (idx < 256) {
        tl__bb_byte(&w->out, 'h');
        tl__bb_byte(&w->out, (unsigned)idx);
    } else {
        tl__bb_byte(&w->out, 'j');
        tl__bb_u32(&w->out, (uint32_t)idx);
    }
}
/* Emits BINGET when key is memoized (returns 1), else records key -> next memo index (returns 0;
   the caller emits the object, then tl__pw_memoize). */
static int tl__pw_memo_lookup(tl__pw *w, const void *key, size_t kn) {
    int64_t idx = tl__hm_get(&w->memo, key, kn);
    if (idx >= 0) {
        tl__pw_get(w, idx);
        return 1;
    }
    if (!tl__hm_put(&w->memo, key, kn, w->next_memo)) w->out.oom = 1;
    return 0;
}
static void tl__pw_int(tl__pw *w, int64_t v) {
    if (v >= 0 && v <= 0xff) {
        tl__bb_byte(&w->out, 'K');
        tl__bb_byte(&w->out, (unsigned)v);
    } else if (v >= 0 && v <= 0xffff) {
        tl__bb_byte(&w->out, 'M');
        tl__bb_u16(&w->out, (unsigned)v);
    } else if (v >= -2147483647 - 1 && v <= 2147483647) {
        tl__bb_byte(&w->out, 'J');
        tl__bb_u32(&w->out, (uint32_t)(int32_t)v);
    } else { /* LONG1: minimal two's complement, little-endian */
        unsigned char b[8];
        int n = 8, k;
        for (k = 0; k < 8; k++) b[k] = (unsigned char)((uint64_t)v >> (8 * k));
        while (n > 1 && ((b[n - 1] == 0 && !(b[n - 2] & 0x80)) || (b[n - 1] == 0xff && (b[n - 2] & 0x80)))) n--;
        tl__bb_byte(&w->out, 0x8a);
        tl__bb_byte(&w->out, (unsigned)n);
        tl__bb_put(&w->out, b, (size_t)n);
    }
}
static void tl__pw_float(tl__pw *w, double f) {
    uint64_t u;
    unsigned char b[8];
    int k;
    memcpy(&u, &f, 8);
    for (k = 0; k < 8; k++) b[k] = (unsigned char)(u >> (56 - 8 * k)); /* big-endian */
    tl__bb_byte(&w->out, 'G');
    tl__bb_put(&w->out, b, 8);
}
static void tl__pw_str_ns(tl__pw *w, const char *s, size_t n, int ns) {
    tl__bb key;
    int hit;
    memset(&key, 0, sizeof key);
    tl__bb_byte(&key, (unsigned)ns);
    tl__bb_put(&key, s, n);
    if (key.oom) {
        w->out.oom = 1;
        return;
    }
    hit = tl__pw_memo_lookup(w, key.p, key.n);
    tl__free(key.p);
    if (hit) return;
    tl__bb_byte(&w->out, 'X');
    tl__bb_u32(&w->out, (uint32_t)n);
    tl__bb_put(&w->out, s, n);
    tl__pw_memoize(w);
}
/* Strings of the object tree and torch's literals ('storage', 'cpu') share one namespace (Python
   re-emits interned strings with BINGET); storage keys ('0', '1', ...) have their own, as torch's
   id_map strings are distinct objects from any equal string elsewhere. */
static void tl__pw_str(tl__pw *w, const char *s, size_t n) { tl__pw_str_ns(w, s, n, 's'); }
static void tl__pw_global(tl__pw *w, const char *module, const char *name) {
    char key[128];
    int kn = snprintf(key, sizeof key, "g%s\n%s\n", module, name);
    if (tl__pw_memo_lookup(w, key, (size_t)kn)) return;
    tl__bb_byte(&w->out, 'c');
    tl__bb_put(&w->out, key + 1, (size_t)kn - 1);
    tl__pw_memoize(w);
}
static void tl__pw_int_tuple(tl__pw *w, int n, const int64_t *v) {
    int k;
    if (n == 0) {
        tl__bb_byte(&w->out, ')');
        return;
    }
    if (n > 3) tl__bb_byte(&w->out, '(');
    for (k = 0; k < n; k++) tl__pw_int(w, v[k]);
    tl__bb_byte(&w->out, n == 1 ? 0x85 : n == 2 ? 0x86 : n == 3 ? 0x87 : 't');
    tl__pw_memoize(w);
}
static void tl__pw_empty_odict(tl__pw *w) {
    tl__pw_global(w, "collections", "OrderedDict");
    tl__bb_byte(&w->out, ')');
    tl__bb_byte(&w->out, 'R');
    tl__pw_memoize(w);
}

/* Storage class names per dtype (table 4.3), in tl_dtype order. */
static const char *const tl__storage_names[TL_DTYPE_COUNT] = {
    "FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage",
    "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage"};

/* _rebuild_tensor_v2(storage pid, offset, size, stride, requires_grad, OrderedDict()) (4.1). */
static int tl__pw_tensor(tl__pw *w, const tl_tensor *t, int requires_grad) {
    int64_t idx;
    char key[24];
    size_t es = tl__dtype_sizes[t->dtype];
    tl_storage *s = t->storage;
    if (s->nbytes % es) {
        TL__FAIL(TL_ERR_DTYPE, "%s: a %s tensor's storage holds %lu bytes, not a whole number of elements",
                 w->op, TL__DT(t), (unsigned long)s->nbytes);
        return 0;
    }
    idx = tl__hm_get(&w->stmap, &s, sizeof s);
    if (idx >= 0 && w->st_dt[idx] != t->dtype) {
        TL__FAIL(TL_ERR_DTYPE, "%s: tensors of dtypes %s and %s share one storage; torch.save cannot write that",
                 w->op, tl__dtype_names[w->st_dt[idx]], TL__DT(t));
        return 0;
    }
    if (idx < 0) {
        if (w->nst == w->capst) {
            size_t cap = w->capst ? w->capst * 2 : 16;
            tl_storage **st = (tl_storage **)tl__malloc(tl__szmul(cap, sizeof(tl_storage *)));
            tl_dtype *dt = (tl_dtype *)tl__malloc(tl__szmul(cap, sizeof(tl_dtype)));
            if (!st || !dt) {
                tl__free(st);
                tl__free(dt);
                w->out.oom = 1;
                return 0;
            }
            if (w->nst) {
                memcpy(st, w->st, w->nst * sizeof(tl_storage *));
                memcpy(dt, w->st_dt, w->nst * sizeof(tl_dtype));
            }
            tl__free(w->st);
            tl__free(w->st_dt);
            w->st = st;
            w->st_dt = dt;
            w->capst = cap;
        }
        idx = (int64_t)w->nst;
        w->st[w->nst] = s;
        w->st_dt[w->nst++] = t->dtype;
        if (!tl__hm_put(&w->stmap, &s, sizeof s, idx)) {
            w->out.oom = 1;
            return 0;
        }
    }
    tl__pw_global(w, "torch._utils", "_rebuild_tensor_v2");
    tl__bb_byte(&w->out, '(');
    tl__bb_byte(&w->out, '(');
    tl__pw_str(w, "storage", 7);
    tl__pw_global(w, "torch", tl__storage_names[t->dtype]);
    snprintf(key, sizeof key, "%lld", (long long)idx);
    tl__pw_str_ns(w, key, strlen(key), 'k');
    tl__pw_str(w, "cpu", 3);
    tl__pw_int(w, (int64_t)(s->nbytes / es));
    tl__bb_byte(&w->out, 't');
    tl__pw_memoize(w);
    tl__bb_byte(&w->out, 'Q');
    tl__pw_int(w, t->offset);
    tl__pw_int_tuple(w, t->ndim, t->shape);
    tl__pw_int_tuple(w, t->ndim, t->stride);
    tl__bb_byte(&w->out, requires_grad ? 0x88 : 0x89);
    tl__pw_empty_odict(w);
    tl__bb_byte(&w->out, 't');
    tl__pw_memoize(w);
    tl__bb_byte(&w->out, 'R');
    tl__pw_memoize(w);
    return 1;
}

static int tl__utf8_valid(const unsigned char *s, size_t n) {
    size_t k = 0;
    while (k < n) {
        unsigned c = s[k];
        size_t len, j;
        uint32_t cp;
        if (c < 0x80) { k++; continue; }
        if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
        else return 0;
        if (k + len > n) return 0;
        for (j = 1; j < len; j++) {
            if ((s[k + j] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (s[k + j] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
        /* surrogates are allowed: Python pickles them with 'surrogatepass' */
        k += len;
    }
    return 1;
}

/* Batching exactly as CPython's C pickler (_pickle.c), so our data.pkl matches torch.save's:
   list (batch_list_exact): 1 item APPEND, else MARK ... APPENDS per batch of <= 1000;
   dict (batch_dict_exact): 1 item SETITEM, else MARK ... SETITEMS per batch of <= 1000 while the
   last batch was full (so a multiple of 1000 ends with an empty MARK SETITEMS);
   OrderedDict items (batch_dict over an iterator): batches of <= 1000, a lone last item SETITEM. */
static int tl__pw_value(tl__pw *w, const tl_value *v, int depth);
static int tl__pw_items(tl__pw *w, const tl_value *v, int depth) {
    int is_dict = v->kind == TL_VALUE_DICT, odict = is_dict && v->flag;
    size_t step = is_dict ? 2 : 1, total = v->n / step, pos = 0, k, batch;
    if (total == 0) return 1;
    if (total == 1) {
        for (k = 0; k < step; k++)
            if (!tl__pw_value(w, v->items[k], depth + 1)) return 0;
        tl__bb_byte(&w->out, is_dict ? 's' : 'a');
        return 1;
    }
    do {
        batch = total - pos < 1000 ? total - pos : 1000;
        if (odict && batch == 0) break;
        if (odict && batch == 1) {
            for (k = 0; k < 2; k++)
                if (!tl__pw_value(w, v->items[pos * 2 + k], depth + 1)) return 0;
            tl__bb_byte(&w->out, 's');
            break;
        }
        tl__bb_byte(&w->out, '(');
        for (k = 0; k < batch * step; k++)
            if (!tl__pw_value(w, v->items[pos * step + k], depth + 1)) return 0;
        tl__bb_byte(&w->out, is_dict ? 'u' : 'e');
        pos += batch;
    } while (is_dict ? batch == 1000 : pos < total);
    return 1;
}
static int tl__pw_value(tl__pw *w, const tl_value *v, int depth) {
    size_t k;
    if (depth > TL_LOAD_MAX_DEPTH) {
        TL__FAIL(TL_ERR_ARG, "%s: containers nested deeper than %d levels (TL_LOAD_MAX_DEPTH)", w->op, TL_LOAD_MAX_DEPTH);
        return 0;
    }
    if (w->out.oom) return 0;
    switch (v->kind) {
    case TL_VALUE_NONE: tl__bb_byte(&w->out, 'N'); break;
    case TL_VALUE_BOOL: tl__bb_byte(&w->out, v->flag ? 0x88 : 0x89); break;
    case TL_VALUE_INT: tl__pw_int(w, v->i); break;
    case TL_VALUE_FLOAT: tl__pw_float(w, v->f); break;
    case TL_VALUE_STRING:
        if (v->slen > 0xFFFFFFFFu || !tl__utf8_valid((const unsigned char *)v->s, v->slen)) {
            TL__FAIL(TL_ERR_ARG, "%s: string of %lu bytes is not valid UTF-8 (or longer than 4 GiB); Python could not load it",
                     w->op, (unsigned long)v->slen);
            return 0;
        }
        tl__pw_str(w, v->s, v->slen);
        break;
    case TL_VALUE_TENSOR: {
        unsigned char key[1 + sizeof(void *)];
        key[0] = (unsigned char)(v->flag ? 'P' : 't');
        memcpy(key + 1, &v->t, sizeof(void *));
        if (tl__pw_memo_lookup(w, key, sizeof key)) break;
        if (v->flag) { /* _rebuild_parameter(data, requires_grad, OrderedDict()) (4.5) */
            tl__pw_global(w, "torch._utils", "_rebuild_parameter");
            if (!tl__pw_tensor(w, v->t, 0)) return 0;
            tl__bb_byte(&w->out, v->t->requires_grad ? 0x88 : 0x89);
            tl__pw_empty_odict(w);
            tl__bb_byte(&w->out, 0x87);
            tl__pw_memoize(w);
            tl__bb_byte(&w->out, 'R');
            /* the parameter object gets the memo slot after everything it contains */
            if (!tl__hm_put(&w->memo, key, sizeof key, w->next_memo)) w->out.oom = 1;
            tl__pw_memoize(w);
        } else {
            if (!tl__pw_tensor(w, v->t, v->t->requires_grad)) return 0;
            /* tl__pw_tensor's last memoize is the tensor itself */
            if (!tl__hm_put(&w->memo, key, sizeof key, w->next_memo - 1)) w->out.oom = 1;
        }
        break;
    }
    case TL_VALUE_LIST:
        tl__bb_byte(&w->out, ']');
        tl__pw_memoize(w);
        if (!tl__pw_items(w, v, depth)) return 0;
        break;
    case TL_VALUE_TUPLE:
        if (v->n == 0) {
            tl__bb_byte(&w->out, ')');
            break;
        }
        if (v->n > 3) tl__bb_byte(&w->out, '(');
        for (k = 0; k < v->n; k++)
            if (!tl__pw_value(w, v->items[k], depth + 1)) return 0;
        tl__bb_byte(&w->out, v->n == 1 ? 0x85 : v->n == 2 ? 0x86 : v->n == 3 ? 0x87 : 't');
        tl__pw_memoize(w);
        break;
    case TL_VALUE_DICT:
        if (v->flag) { /* OrderedDict.__reduce__: cls, (), state, None, items */
            tl__pw_empty_odict(w);
            if (!tl__pw_items(w, v, depth)) return 0;
            if (v->meta) {
                tl__bb_byte(&w->out, '}');
                tl__pw_memoize(w);
                tl__pw_str(w, "_metadata", 9);
                if (!tl__pw_value(w, v->meta, depth + 1)) return 0;
                tl__bb_byte(&w->out, 's');
                tl__bb_byte(&w->out, 'b');
            }
        } else {
            tl__bb_byte(&w->out, '}');
            tl__pw_memoize(w);
            if (!tl__pw_items(w, v, depth)) return 0;
        }
        break;
    }
    return !w->out.oom;
}

/* ===== zip out (section 2) ===== */

typedef struct tl__sink {
    tl_write_fn fn;
    void *user;
    uint64_t off;
    int failed;
} tl__sink;
static int tl__sink_put(tl__sink *s, const void *p, size_t n) {
    if (s->failed) return 0;
    if (n && s->fn(p, n, s->user) != 0) {
        s->failed = 1;
        return 0;
    }
    s->off += n;
    return 1;
}
static int tl__sink_bb(tl__sink *s, tl__bb *b) {
    int ok;
    if (b->oom) return 0;
    ok = tl__sink_put(s, b->p, b->n);
    b->n = 0;
    return ok;
}

/* One record of the archive as written: name is "<prefix>/<record>". */
typedef struct tl__zrec { char *name; uint64_t off, size; uint32_t crc; } tl__zrec;

/* Writes a torch-layout zip of n records (names relative to prefix) to s. Returns 0 after
   recording an error naming op ("write failed" or OOM). Sizes >= z64limit and offsets >= z64off use
   ZIP64 fields (torch: 0xFFFFFFFF for both; tests pass small limits to exercise the ZIP64 paths;
   note miniz 2.1 rejects a small archive whose offsets use ZIP64, as only > 4 GiB files can). */
static int tl__zip_write(const char *op, tl__sink *s, const char *prefix, size_t n, const char *const *names,
                         const void *const *datas, const uint64_t *sizes, uint64_t z64limit,
                         uint64_t z64off) {
    tl__crc crc;
    tl__bb h;
    tl__zrec *rec;
    size_t k, plen = strlen(prefix);
    uint64_t cd_off, cd_size;
    int ok = 1;
    memset(&h, 0, sizeof h);
    rec = (tl__zrec *)tl__malloc(tl__szmul(n ? n : 1, sizeof(tl__zrec)));
    if (!rec) {
        TL__FAIL(TL_ERR_OOM, "%s: out of memory listing %lu zip records", op, (unsigned long)n);
        return 0;
    }
    memset(rec, 0, (n ? n : 1) * sizeof(tl__zrec));
    tl__crc_init(&crc);
    for (k = 0; k < n && ok; k++) {
        size_t nl = strlen(names[k]), fl = plen + 1 + nl;
        int big_size, big_off, zlen;
        uint64_t start, pad, size = sizes[k];
        rec[k].name = (char *)tl__malloc(tl__szadd(fl, 1));
        if (!rec[k].name) {
            ok = 0;
            h.oom = 1;
            break;
        }
        memcpy(rec[k].name, prefix, plen);
        rec[k].name[plen] = '/';
        memcpy(rec[k].name + plen + 1, names[k], nl + 1);
        rec[k].off = s->off;
        rec[k].size = size;
        rec[k].crc = tl__crc_update(&crc, 0, datas[k], (size_t)size);
        big_size = size >= z64limit;
        big_off = s->off >= z64off;
        zlen = (big_size || big_off) ? 4 + 16 * big_size + 8 * big_off : 0;
        /* local header (2.2) with the FB padding extra that aligns the payload to 64 (2.3) */
        start = s->off + 30 + fl + (uint64_t)zlen + 4;
        pad = (64 - start % 64) % 64;
        tl__bb_u32(&h, 0x04034b50u);
        tl__bb_u16(&h, 0);
        tl__bb_u16(&h, size ? 0x0808 : 0x0800);
        tl__bb_u16(&h, 0);
        tl__bb_u16(&h, 0);
        tl__bb_u16(&h, 0);
        tl__bb_u32(&h, 0);
        tl__bb_u32(&h, 0);
        tl__bb_u32(&h, 0);
        tl__bb_u16(&h, (unsigned)fl);
        tl__bb_u16(&h, (unsigned)(zlen + 4 + pad));
        tl__bb_put(&h, rec[k].name, fl);
        if (zlen) {
            tl__bb_u16(&h, 1);
            tl__bb_u16(&h, (unsigned)(zlen - 4));
            if (big_size) {
                tl__bb_u64(&h, size);
                tl__bb_u64(&h, size);
            }
            if (big_off) tl__bb_u64(&h, s->off);
        }
        tl__bb_u16(&h, 0x4246);
        tl__bb_u16(&h, (unsigned)pad);
        while (pad--) tl__bb_byte(&h, 'Z');
        ok = tl__sink_bb(s, &h) && tl__sink_put(s, datas[k], (size_t)size);
        if (ok && size) { /* data descriptor (2.4): 8-byte sizes when the record has a ZIP64 extra */
            tl__bb_u32(&h, 0x08074b50u);
            tl__bb_u32(&h, rec[k].crc);
            if (zlen) {
                tl__bb_u64(&h, size);
                tl__bb_u64(&h, size);
            } else {
                tl__bb_u32(&h, (uint32_t)size);
                tl__bb_u32(&h, (uint32_t)size);
            }
            ok = tl__sink_bb(s, &h);
        }
    }
    /* central directory (2.6), ZIP64 end record + locator (always, as torch), end record (2.7) */
    cd_off = s->off;
    for (k = 0; k < n && ok; k++) {
        size_t fl = strlen(rec[k].name);
        int big_size = rec[k].size >= z64limit, big_off = rec[k].off >= z64off;
        int zlen = (big_size || big_off) ? 4 + 16 * big_size + 8 * big_off : 0;
        tl__bb_u32(&h, 0x02014b50u);
        tl__bb_u16(&h, 0);
        tl__bb_u16(&h, 0);
        tl__bb_u16(&h, rec[k].size ? 0x0808 : 0x0800);
        tl__bb_u16(&h, 0);
        tl__bb_u16(&h, 0);
        tl__bb_u16(&h, 0);
        tl__bb_u32(&h, rec[k].crc);
        tl__bb_u32(&h, big_size ? 0xFFFFFFFFu : (uint32_t)rec[k].size);
        tl__bb_u32(&h, big_size ? 0xFFFFFFFFu : (uint32_t)rec[k].size);
        tl__bb_u16(&h, (unsigned)fl);
        tl__bb_u16(&h, (unsigned)zlen);
        tl__bb_u16(&h, 0);
        tl__bb_u16(&h, 0);
        tl__bb_u16(&h, 0);
        tl__bb_u32(&h, 0);
        tl__bb_u32(&h, big_off ? 0xFFFFFFFFu : (uint32_t)rec[k].off);
        tl__bb_put(&h, rec[k].name, fl);
        if (zlen) {
            tl__bb_u16(&h, 1);
            tl__bb_u16(&h, (unsigned)(zlen - 4));
            if (big_size) {
                tl__bb_u64(&h, rec[k].size);
                tl__bb_u64(&h, rec[k].size);
            }
            if (big_off) tl__bb_u64(&h, rec[k].off);
        }
        ok = tl__sink_bb(s, &h);
    }
    if (ok) {
        uint64_t z64 = s->off;
        cd_size = s->off - cd_off;
        tl__bb_u32(&h, 0x06064b50u);
        tl__bb_u64(&h, 44);
        tl__bb_u16(&h, 0x031E);
        tl__bb_u16(&h, 0x002D);
        tl__bb_u32(&h, 0);
        tl__bb_u32(&h, 0);
        tl__bb_u64(&h, n);
        tl__bb_u64(&h, n);
        tl__bb_u64(&h, cd_size);
        tl__bb_u64(&h, cd_off);
        tl__bb_u32(&h, 0x07064b50u);
        tl__bb_u32(&h, 0);
        tl__bb_u64(&h, z64);
        tl__bb_u32(&h, 1);
        tl__bb_u32(&h, 0x06054b50u);
        tl__bb_u16(&h, 0);
        tl__bb_u16(&h, 0);
        tl__bb_u16(&h, n >= 0xFFFF ? 0xFFFF : (unsigned)n);
        tl__bb_u16(&h, n >= 0xFFFF ? 0xFFFF : (unsigned)n);
        tl__bb_u32(&h, cd_size >= z64off ? 0xFFFFFFFFu : (uint32_t)cd_size);
        tl__bb_u32(&h, cd_off >= z64off ? 0xFFFFFFFFu : (uint32_t)cd_off);
        tl__bb_u16(&h, 0);
        ok = tl__sink_bb(s, &h);
    }
    for (k = 0; k < n; k++) tl__free(rec[k].name);
    tl__free(rec);
    tl__free(h.p);
    if (!ok) {
        if (h.oom) TL__FAIL(TL_ERR_OOM, "%s: out of memory writing the zip container", op);
        else TL__FAIL(TL_ERR_IO, "%s: write failed at byte %llu of the checkpoint", op, (unsigned long long)s->off);
    }
    return ok;
}

static int tl__host_is_little(void) {
    uint16_t x = 1;
    unsigned char c;
    memcpy(&c, &x, 1);
    return c == 1;
}

typedef struct tl__skey { char key[24]; size_t idx; } tl__skey;
static int tl__skey_cmp(const void *a, const void *b) {
    return strcmp(((const tl__skey *)a)->key, ((const tl__skey *)b)->key);
}

/* torch.save(v) into s with the given zip prefix: data.pkl, byteorder, data/<k> (lexicographic
   key order, as torch 1.6-2.6), version (the torch 2.1-2.6 record order, 2.1). */
static tl_status tl__ckpt_save(const char *op, const tl_value *v, tl__sink *s, const char *prefix) {
    tl__pw w;
    tl__skey *keys = NULL;
    const char **names = NULL;
    const void **datas = NULL;
    uint64_t *sizes = NULL;
    char **keynames = NULL;
    size_t k, n = 0;
    tl_status st = TL_OK;
    if (tl__null_in(op, v)) return tl__tls.status ? tl__tls.status : TL_ERR_ARG;
    if (!tl__host_is_little())
        return TL__FAIL(TL_ERR_STATE, "%s: saving on a big-endian host is not supported yet", op);
    memset(&w, 0, sizeof w);
    w.op = op;
    tl__bb_byte(&w.out, 0x80);
    tl__bb_byte(&w.out, 2);
    if (!tl__pw_value(&w, v, 0)) {
        st = w.out.oom ? TL__FAIL(TL_ERR_OOM, "%s: out of memory writing data.pkl", op) : tl__tls.status;
        goto done;
    }
    tl__bb_byte(&w.out, '.');
    if (w.out.oom) {
        st = TL__FAIL(TL_ERR_OOM, "%s: out of memory writing data.pkl", op);
        goto done;
    }
    n = w.nst + 3;
    keys = (tl__skey *)tl__malloc(tl__szmul(w.nst ? w.nst : 1, sizeof(tl__skey)));
    names = (const char **)tl__malloc(tl__szmul(n, sizeof(char *)));
    datas = (const void **)tl__malloc(tl__szmul(n, sizeof(void *)));
    sizes = (uint64_t *)tl__malloc(tl__szmul(n, sizeof(uint64_t)));
    keynames = (char **)tl__malloc(tl__szmul(w.nst ? w.nst : 1, sizeof(char *)));
    /* zeroed before anything can fail: the cleanup below frees every entry */
    if (keynames) memset(keynames, 0, (w.nst ? w.nst : 1) * sizeof(char *));
    if (!keys || !names || !datas || !sizes || !keynames) {
        st = TL__FAIL(TL_ERR_OOM, "%s: out of memory listing %lu storages", op, (unsigned long)w.nst);
        goto done;
    }
    for (k = 0; k < w.nst; k++) {
        snprintf(keys[k].key, sizeof keys[k].key, "%lu", (unsigned long)k);
        keys[k].idx = k;
    }
    qsort(keys, w.nst, sizeof(tl__skey), tl__skey_cmp);
    names[0] = "data.pkl";
    datas[0] = w.out.p;
    sizes[0] = w.out.n;
    names[1] = "byteorder";
    datas[1] = "little";
    sizes[1] = 6;
    for (k = 0; k < w.nst; k++) {
        tl_storage *sto = w.st[keys[k].idx];
        keynames[k] = (char *)tl__malloc(strlen(keys[k].key) + 6);
        if (!keynames[k]) {
            st = TL__FAIL(TL_ERR_OOM, "%s: out of memory naming storage records", op);
            goto done;
        }
        snprintf(keynames[k], strlen(keys[k].key) + 6, "data/%s", keys[k].key);
        names[2 + k] = keynames[k];
        datas[2 + k] = sto->data;
        sizes[2 + k] = sto->nbytes;
    }
    names[n - 1] = "version";
    datas[n - 1] = "3\n";
    sizes[n - 1] = 2;
    if (!tl__zip_write(op, s, prefix, n, names, datas, sizes, TL__ZIP64_LIMIT, TL__ZIP64_OFFSET_LIMIT)) st = tl__tls.status ? tl__tls.status : TL_ERR_IO;
done:
    if (keynames)
        for (k = 0; k < w.nst; k++) tl__free(keynames[k]);
    tl__free(keynames);
    tl__free(keys);
    tl__free((void *)names);
    tl__free((void *)datas);
    tl__free(sizes);
    tl__free(w.out.p);
    tl__hm_free(&w.memo);
    tl__hm_free(&w.stmap);
    tl__free(w.st);
    tl__free(w.st_dt);
    return st;
}

TLDEF tl_status tl_save_to_writer(const tl_value *v, tl_write_fn write, void *user) {
    tl__sink s;
    if (!write) return TL__FAIL(TL_ERR_ARG, "tl_save_to_writer: write callback is NULL");
    memset(&s, 0, sizeof s);
    s.fn = write;
    s.user = user;
    return tl__ckpt_save("tl_save_to_writer", v, &s, "archive");
}

static int tl__bb_writer(const void *data, size_t size, void *user) {
    tl__bb *b = (tl__bb *)user;
    tl__bb_put(b, data, size);
    if (!b->oom) return 0;
    /* recorded here, so the first error says out of memory rather than the writer's "write failed" */
    TL__FAIL(TL_ERR_OOM, "tl_save_to_buffer: out of memory growing the output buffer past %lu bytes",
             (unsigned long)b->n);
    return 1;
}
TLDEF tl_status tl_save_to_buffer(const tl_value *v, void **data, size_t *size) {
    tl__sink s;
    tl__bb b;
    tl_status st;
    if (!data || !size) return TL__FAIL(TL_ERR_ARG, "tl_save_to_buffer: data or size is NULL");
    *data = NULL;
    *size = 0;
    memset(&s, 0, sizeof s);
    memset(&b, 0, sizeof b);
    s.fn = tl__bb_writer;
    s.user = &b;
    st = tl__ckpt_save("tl_save_to_buffer", v, &s, "archive");
    if (st == TL_ERR_IO && b.oom) { /* our own buffer failed: that is an OOM, not I/O */
        tl__free(b.p);
        return TL_ERR_OOM;
    }
    if (st) {
        tl__free(b.p);
        return st;
    }
    *data = b.p;
    *size = b.n;
    return TL_OK;
}
TLDEF void tl_free_buffer(void *data) { tl__free(data); }

#ifndef TL_NO_STDIO
TL__PRIVATE int tl__file_writer(const void *data, size_t size, void *user) {
    return fwrite(data, 1, size, (FILE *)user) == size ? 0 : 1;
}
/* torch's archive name: base name of the path without its extension (caffe2 basename()); we fall
   back to "archive" when that is empty. */
static void tl__zip_prefix(const char *path, char *out, size_t cap) {
    const char *b = path, *p, *dot = NULL;
    size_t len;
    for (p = path; *p; p++)
        if (*p == '/' || *p == '\\') b = p + 1;
    for (p = b; *p; p++)
        if (*p == '.') dot = p;
    len = dot ? (size_t)(dot - b) : strlen(b);
    if (len == 0 || len >= cap) {
        snprintf(out, cap, "archive");
        return;
    }
    memcpy(out, b, len);
    out[len] = 0;
}
#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <unistd.h>
#include <dirent.h>
#define TL__POSIX_SAVE 1
#endif

#ifdef TL__POSIX_SAVE
/* Atomic save on POSIX. The temporary is "<path>.tmp-<pid>-<n>", created O_EXCL and write-locked
   (fcntl) for as long as its writer lives: a process killed mid-save leaves it behind UNLOCKED, and
   the next save to the same path removes every unlocked temporary of that path before it starts
   (fcntl locks die with their process; another process's save in progress keeps its lock and its
   file; our own process's are recognised by the pid). Data goes through write(2) with a 64 KiB
   buffer, then fsync, rename over the target, and fsync of the directory. */
typedef struct tl__fdw { int fd; size_t n; unsigned char buf[65536]; } tl__fdw;
static int tl__fdw_flush(tl__fdw *w) {
    size_t off = 0;
    while (off < w->n) {
        ssize_t r = write(w->fd, w->buf + off, w->n - off);
        if (r <= 0) return 0;
        off += (size_t)r;
    }
    w->n = 0;
    return 1;
}
static int tl__fdw_write(const void *data, size_t size, void *user) {
    tl__fdw *w = (tl__fdw *)user;
    const unsigned char *p = (const unsigned char *)data;
    while (size) {
        size_t k = sizeof w->buf - w->n < size ? sizeof w->buf - w->n : size;
        memcpy(w->buf + w->n, p, k);
        w->n += k;
        p += k;
        size -= k;
        if (w->n == sizeof w->buf && !tl__fdw_flush(w)) return 1;
    }
    return 0;
}
static int tl__lock_fd(int fd) {
    struct flock l;
    memset(&l, 0, sizeof l);
    l.l_type = F_WRLCK;
    l.l_whence = SEEK_SET;
    return fcntl(fd, F_SETLK, &l) == 0;
}
/* dir ("." when path has no '/') and base name of path, into the caller's buffers. */
static void tl__split_path(const char *path, char *dir, size_t dcap, const char **base) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, dcap, ".");
        *base = path;
    } else {
        snprintf(dir, dcap, "%.*s", slash == path ? 1 : (int)(slash - path), path);
        *base = slash + 1;
    }
}
/* Removes the stale temporaries of path: "<base>.tmp-<pid>-<n>" of other processes that nobody
   holds locked, and "<base>.tmp-XXXXXXXX" left by tensorlite before 0.3. */
static void tl__remove_stale_temps(const char *path) {
    char dir[4096], full[8192], mine[40];
    const char *base;
    size_t bl;
    DIR *d;
    struct dirent *ent;
    tl__split_path(path, dir, sizeof dir, &base);
    bl = strlen(base);
    snprintf(mine, sizeof mine, ".tmp-%ld-", (long)getpid());
    d = opendir(dir);
    if (!d) return;
    while ((ent = readdir(d)) != NULL) {
        const char *nm = ent->d_name, *rest;
        int fd;
        if (strncmp(nm, base, bl) != 0 || strncmp(nm + bl, ".tmp-", 5) != 0) continue;
        rest = nm + bl + 5;
        if (strspn(rest, "0123456789-abcdef") != strlen(rest) || !*rest) continue; /* not ours */
        if (strncmp(nm + bl, mine, strlen(mine)) == 0) continue; /* this process's: may be in use */
        snprintf(full, sizeof full, "%s/%s", dir, nm);
        fd = open(full, O_RDWR);
        if (fd < 0) continue;
        if (tl__lock_fd(fd)) unlink(full); /* nobody holds it: its writer died */
        close(fd);
    }
    closedir(d);
}
/* The atomic write itself: produce(ctx, sink) streams the file's bytes (and records its own
   errors); op names the public call in messages. */
typedef tl_status (*tl__produce_fn)(void *ctx, tl__sink *s);
static tl_status tl__atomic_write(const char *op, const char *path, tl__produce_fn produce, void *ctx) {
    static long counter; /* temp names of this process: pid + counter */
    char *tmp, dir[4096];
    const char *base;
    size_t plen = strlen(path);
    tl__fdw *w;
    tl__sink s;
    tl_status st;
    int fd;
    tmp = (char *)tl__malloc(tl__szadd(plen, 64));
    w = (tl__fdw *)tl__malloc(sizeof(tl__fdw));
    if (!tmp || !w) {
        tl__free(tmp);
        tl__free(w);
        return TL__FAIL(TL_ERR_OOM, "%s: out of memory", op);
    }
    tl__remove_stale_temps(path);
    snprintf(tmp, plen + 64, "%s.tmp-%ld-%lx", path, (long)getpid(), (unsigned long)TL__ATOMIC_ADD(&counter, 1));
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        st = TL__FAIL(TL_ERR_IO, "%s: cannot create the temporary file '%s' next to '%s'", op, tmp, path);
        tl__free(tmp);
        tl__free(w);
        return st;
    }
    tl__lock_fd(fd); /* marks it in use; without locks (some network file systems) it just stays unmarked */
    w->fd = fd;
    w->n = 0;
    memset(&s, 0, sizeof s);
    s.fn = tl__fdw_write;
    s.user = w;
    st = produce(ctx, &s);
    if (!st && !tl__fdw_flush(w)) st = TL__FAIL(TL_ERR_IO, "%s: writing '%s' failed", op, tmp);
    if (!st && fsync(fd) != 0) st = TL__FAIL(TL_ERR_IO, "%s: fsync of '%s' failed", op, tmp);
    if (!st && rename(tmp, path) != 0) st = TL__FAIL(TL_ERR_IO, "%s: cannot rename '%s' to '%s'", op, tmp, path);
    if (st) unlink(tmp);
    close(fd); /* after the rename: the lock protects the temporary until it has its final name */
    if (!st) { /* make the rename itself durable */
        int dfd;
        tl__split_path(path, dir, sizeof dir, &base);
        dfd = open(dir, O_RDONLY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    tl__free(tmp);
    tl__free(w);
    return st;
}
#else
/* Portable fallback (no POSIX): stdio, rename; a crash can leave "<path>.tmp-XXXXXXXX" behind. */
typedef tl_status (*tl__produce_fn)(void *ctx, tl__sink *s);
static tl_status tl__atomic_write(const char *op, const char *path, tl__produce_fn produce, void *ctx) {
    char *tmp;
    size_t plen = strlen(path);
    FILE *f;
    tl__sink s;
    tl_status st;
    unsigned long salt;
    tmp = (char *)tl__malloc(tl__szadd(plen, 32));
    if (!tmp) return TL__FAIL(TL_ERR_OOM, "%s: out of memory", op);
    salt = (unsigned long)(size_t)tmp ^ (unsigned long)(size_t)&salt ^ (unsigned long)plen * 2654435761ul;
    snprintf(tmp, plen + 32, "%s.tmp-%08lx", path, salt & 0xfffffffful);
    f = fopen(tmp, "wb");
    if (!f) {
        st = TL__FAIL(TL_ERR_IO, "%s: cannot create the temporary file '%s' next to '%s'", op, tmp, path);
        tl__free(tmp);
        return st;
    }
    memset(&s, 0, sizeof s);
    s.fn = tl__file_writer;
    s.user = f;
    st = produce(ctx, &s);
    if (!st && fflush(f) != 0) st = TL__FAIL(TL_ERR_IO, "%s: flushing '%s' failed", op, tmp);
    if (fclose(f) != 0 && !st) st = TL__FAIL(TL_ERR_IO, "%s: closing '%s' failed", op, tmp);
    if (!st && rename(tmp, path) != 0) st = TL__FAIL(TL_ERR_IO, "%s: cannot rename '%s' to '%s'", op, tmp, path);
    if (st) remove(tmp);
    tl__free(tmp);
    return st;
}
#endif
typedef struct tl__save_ctx { const tl_value *v; const char *prefix; } tl__save_ctx;
static tl_status tl__save_produce(void *ctx, tl__sink *s) {
    tl__save_ctx *c = (tl__save_ctx *)ctx;
    return tl__ckpt_save("tl_save", c->v, s, c->prefix);
}
TLDEF tl_status tl_save(const tl_value *v, const char *path) {
    char prefix[256];
    tl__save_ctx c;
    if (tl__null_in("tl_save", v) || tl__null_in("tl_save", path)) return tl__tls.status ? tl__tls.status : TL_ERR_ARG;
    tl__zip_prefix(path, prefix, sizeof prefix);
    c.v = v;
    c.prefix = prefix;
    return tl__atomic_write("tl_save", path, tl__save_produce, &c);
}
TLDEF tl_status tl_save_tensor(const tl_tensor *t, const char *path) {
    tl_value *v;
    tl_status st;
    TL__CHECK1S("tl_save_tensor", t);
    v = tl_value_tensor((tl_tensor *)t);
    if (!v) return tl__tls.status;
    st = tl_save(v, path);
    tl_value_free(v);
    return st;
}
#endif

/* ===== inflate (RFC 1951), for zip entries stored with method 8 ===== */
/* A canonical-Huffman decoder with a lookup table: the next TL__INF_FAST bits of the stream index
   a table giving the symbol and its code length for every code that short (nearly all of them in
   real data); longer codes are walked bit by bit. A 64-bit bit buffer is refilled a byte at a
   time. Every input read and output write is checked. (torch never compresses; gzip'd data sets
   and re-zipped checkpoints do.) */
#define TL__INF_FAST 10

typedef struct tl__inf {
    const unsigned char *in;
    size_t inlen, pos;
    uint64_t bitbuf;
    int bitcnt;
    unsigned char *out;
    size_t outlen, outpos;
} tl__inf;
typedef struct tl__huff {
    short count[16];
    short sym[320];
    uint16_t fast[1 << TL__INF_FAST]; /* (length << 9) | symbol, 0: code longer than TL__INF_FAST */
} tl__huff;

static const short tl__inf_lbase[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27,
                                        31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const short tl__inf_lext[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                       2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const int tl__inf_dbase[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129,
                                      193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
                                      6145, 8193, 12289, 16385, 24577};
static const short tl__inf_dext[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                                       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
static const unsigned char tl__inf_clorder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5,
                                                  11, 4, 12, 3, 13, 2, 14, 1, 15};

static void tl__inf_refill(tl__inf *s) {
    while (s->bitcnt <= 56 && s->pos < s->inlen) {
        s->bitbuf |= (uint64_t)s->in[s->pos++] << s->bitcnt;
        s->bitcnt += 8;
    }
}
/* n bits (n <= 16), LSB first; -1 when the input runs out. */
static long tl__inf_bits(tl__inf *s, int n) {
    long v;
    if (s->bitcnt < n) {
        tl__inf_refill(s);
        if (s->bitcnt < n) return -1;
    }
    v = (long)(s->bitbuf & ((1u << n) - 1u));
    s->bitbuf >>= n;
    s->bitcnt -= n;
    return v;
}
/* Canonical code from code lengths; 0 = ok, -1 = over-subscribed (incomplete codes are allowed and
   fail only when an unused code is met). */
static int tl__huff_build(tl__huff *h, const unsigned char *len, int n) {
    short offs[16];
    int k, left = 1;
    memset(h->count, 0, sizeof h->count);
    for (k = 0; k < n; k++) h->count[len[k]]++;
    for (k = 1; k < 16; k++) {
        left = left * 2 - h->count[k];
        if (left < 0) return -1;
    }
    offs[1] = 0;
    for (k = 1; k < 15; k++) offs[k + 1] = (short)(offs[k] + h->count[k]);
    for (k = 0; k < n; k++)
        if (len[k]) h->sym[offs[len[k]]++] = (short)k;
    /* the lookup table: canonical codes in (length, symbol) order, bit-reversed (deflate sends
       Huffman codes most significant bit first into an LSB-first stream) */
    memset(h->fast, 0, sizeof h->fast);
    {
        int l, j, index = 0, code = 0;
        for (l = 1; l < 16; l++, code <<= 1)
            for (j = 0; j < h->count[l]; j++, code++, index++) {
                int rev = 0, b, x;
                if (l > TL__INF_FAST) continue;
                for (b = 0; b < l; b++) rev |= ((code >> b) & 1) << (l - 1 - b);
                for (x = rev; x < (1 << TL__INF_FAST); x += 1 << l) h->fast[x] = (uint16_t)((l << 9) | h->sym[index]);
            }
    }
    return 0;
}
/* Next symbol, or -1 (input exhausted or an unused code). */
static int tl__huff_decode(tl__inf *s, const tl__huff *h) {
    int len, code = 0, first = 0, index = 0;
    uint16_t e;
    if (s->bitcnt < 16) tl__inf_refill(s);
    e = h->fast[s->bitbuf & ((1u << TL__INF_FAST) - 1u)];
    if (e && (e >> 9) <= s->bitcnt) {
        s->bitbuf >>= e >> 9;
        s->bitcnt -= e >> 9;
        return e & 511;
    }
    for (len = 1; len < 16; len++) { /* a longer code (or the last bits of the stream) */
        long b = tl__inf_bits(s, 1);
        int count = h->count[len];
        if (b < 0) return -1;
        code |= (int)b;
        if (code - first < count) return h->sym[index + code - first];
        index += count;
        first = (first + count) << 1;
        code <<= 1;
    }
    return -1;
}
/* Decodes one block's symbols with the given codes. 0 ok, else a message. */
static const char *tl__inf_codes(tl__inf *s, const tl__huff *lit, const tl__huff *dist) {
    for (;;) {
        int sym = tl__huff_decode(s, lit);
        if (sym < 0) return "invalid literal/length code or truncated data";
        if (sym < 256) {
            if (s->outpos >= s->outlen) return "more output than the entry's declared size";
            s->out[s->outpos++] = (unsigned char)sym;
        } else if (sym == 256) {
            return NULL;
        } else {
            long e, len, d;
            size_t dd, k;
            sym -= 257;
            if (sym >= 29) return "invalid length symbol";
            e = tl__inf_bits(s, tl__inf_lext[sym]);
            if (e < 0) return "truncated data";
            len = tl__inf_lbase[sym] + e;
            sym = tl__huff_decode(s, dist);
            if (sym < 0 || sym >= 30) return "invalid distance code";
            e = tl__inf_bits(s, tl__inf_dext[sym]);
            if (e < 0) return "truncated data";
            d = tl__inf_dbase[sym] + e;
            dd = (size_t)d;
            if (dd > s->outpos) return "distance reaches before the start of the output";
            if ((size_t)len > s->outlen - s->outpos) return "more output than the entry's declared size";
            if (dd >= (size_t)len) { /* no overlap: one copy */
                memcpy(s->out + s->outpos, s->out + s->outpos - dd, (size_t)len);
                s->outpos += (size_t)len;
            } else {
                for (k = 0; k < (size_t)len; k++, s->outpos++) s->out[s->outpos] = s->out[s->outpos - dd];
            }
        }
    }
}
/* Inflates in[0..inlen) into exactly outlen bytes; NULL on success, else what was wrong. */
static const char *tl__inflate(const unsigned char *in, size_t inlen, unsigned char *out, size_t outlen) {
    tl__inf s;
    tl__huff lit, dist;
    unsigned char lens[320];
    long last, type;
    memset(&s, 0, sizeof s);
    s.in = in;
    s.inlen = inlen;
    s.out = out;
    s.outlen = outlen;
    do {
        const char *err = NULL;
        last = tl__inf_bits(&s, 1);
        type = tl__inf_bits(&s, 2);
        if (last < 0 || type < 0) return "truncated data";
        if (type == 0) { /* stored */
            unsigned len, nlen;
            /* to the next byte boundary, and give back the whole bytes the bit buffer read ahead */
            s.bitcnt -= s.bitcnt & 7;
            s.pos -= (size_t)(s.bitcnt / 8);
            s.bitbuf = 0;
            s.bitcnt = 0;
            if (s.inlen - s.pos < 4) return "truncated stored block";
            len = s.in[s.pos] | ((unsigned)s.in[s.pos + 1] << 8);
            nlen = s.in[s.pos + 2] | ((unsigned)s.in[s.pos + 3] << 8);
            s.pos += 4;
            if (len != (~nlen & 0xffffu)) return "stored block length check failed";
            if (s.inlen - s.pos < len) return "truncated stored block";
            if (s.outlen - s.outpos < len) return "more output than the entry's declared size";
            if (len) memcpy(s.out + s.outpos, s.in + s.pos, len);
            s.pos += len;
            s.outpos += len;
        } else if (type == 1) { /* fixed codes */
            int k;
            for (k = 0; k < 144; k++) lens[k] = 8;
            for (; k < 256; k++) lens[k] = 9;
            for (; k < 280; k++) lens[k] = 7;
            for (; k < 288; k++) lens[k] = 8;
            tl__huff_build(&lit, lens, 288);
            for (k = 0; k < 30; k++) lens[k] = 5;
            tl__huff_build(&dist, lens, 30);
            err = tl__inf_codes(&s, &lit, &dist);
        } else if (type == 2) { /* dynamic codes */
            long nlen = tl__inf_bits(&s, 5), ndist = tl__inf_bits(&s, 5), ncode = tl__inf_bits(&s, 4);
            int k = 0;
            if (nlen < 0 || ndist < 0 || ncode < 0) return "truncated data";
            nlen += 257;
            ndist += 1;
            ncode += 4;
            if (nlen > 286 || ndist > 30) return "bad code counts";
            memset(lens, 0, sizeof lens);
            for (k = 0; k < ncode; k++) {
                long b = tl__inf_bits(&s, 3);
                if (b < 0) return "truncated data";
                lens[tl__inf_clorder[k]] = (unsigned char)b;
            }
            if (tl__huff_build(&lit, lens, 19) != 0) return "over-subscribed code-length code";
            k = 0;
            while (k < nlen + ndist) {
                int sym = tl__huff_decode(&s, &lit), rep, val = 0;
                long b;
                if (sym < 0) return "invalid code-length code";
                if (sym < 16) {
                    lens[k++] = (unsigned char)sym;
                    continue;
                }
                if (sym == 16) {
                    if (k == 0) return "repeat with no previous length";
                    val = lens[k - 1];
                    b = tl__inf_bits(&s, 2);
                    rep = 3 + (int)b;
                } else if (sym == 17) {
                    b = tl__inf_bits(&s, 3);
                    rep = 3 + (int)b;
                } else {
                    b = tl__inf_bits(&s, 7);
                    rep = 11 + (int)b;
                }
                if (b < 0) return "truncated data";
                if (k + rep > nlen + ndist) return "code lengths overflow the alphabet";
                while (rep--) lens[k++] = (unsigned char)val;
            }
            if (lens[256] == 0) return "no end-of-block code";
            if (tl__huff_build(&lit, lens, (int)nlen) != 0) return "over-subscribed literal/length code";
            if (tl__huff_build(&dist, lens + nlen, (int)ndist) != 0) return "over-subscribed distance code";
            err = tl__inf_codes(&s, &lit, &dist);
        } else {
            return "invalid block type 3";
        }
        if (err) return err;
    } while (!last);
    if (s.outpos != s.outlen) return "less output than the entry's declared size";
    return NULL;
}

/* ===== zip in ===== */

/* Open-addressing index of item numbers by key hash (slot k1 = item + 1, 0 = empty); the caller
   compares keys. Sized once for its items (the loader knows how many records a file has), so the
   zip-record and storage lookups of a load are O(1) instead of a scan per lookup. */
typedef struct tl__islot { uint64_t h; size_t k1; } tl__islot;
typedef struct tl__idx { tl__islot *s; size_t mask; } tl__idx;
static int tl__idx_init(tl__idx *x, size_t items) {
    size_t cap = 16;
    while (cap < items * 2 && cap < ((size_t)1 << (sizeof(size_t) * 8 - 2))) cap *= 2;
    x->s = (tl__islot *)tl__malloc(tl__szmul(cap, sizeof(tl__islot)));
    if (!x->s) return 0;
    memset(x->s, 0, cap * sizeof(tl__islot));
    x->mask = cap - 1;
    return 1;
}
static void tl__idx_add(tl__idx *x, uint64_t h, size_t item) {
    size_t i = (size_t)h & x->mask;
    while (x->s[i].k1) i = (i + 1) & x->mask;
    x->s[i].h = h;
    x->s[i].k1 = item + 1;
}
static void tl__idx_free(tl__idx *x) {
    tl__free(x->s);
    x->s = NULL;
}
/* FNV-1a over ASCII-lower-cased bytes (zip names match case-insensitively, as in miniz). */
static uint64_t tl__hash_lower(const char *p, size_t n) {
    uint64_t h = 14695981039346656037ull;
    size_t k;
    for (k = 0; k < n; k++) {
        unsigned c = (unsigned char)p[k];
        if (c >= 'A' && c <= 'Z') c += 32;
        h = (h ^ c) * 1099511628211ull;
    }
    return h;
}

typedef struct tl__zent {
    const char *name;
    size_t nlen;
    uint64_t lho, csize, usize;
    uint32_t crc;
    unsigned method, flags;
} tl__zent;

static unsigned tl__rd16(const unsigned char *p) { return (unsigned)p[0] | ((unsigned)p[1] << 8); }
static uint32_t tl__rd32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t tl__rd64(const unsigned char *p) { return tl__rd32(p) | ((uint64_t)tl__rd32(p + 4) << 32); }

/* One storage record as loaded: key -> storage (the load context holds one reference). */
typedef struct tl__lstore {
    const char *key;
    size_t klen;
    tl_storage *st;
    int dtype;          /* tl_dtype, or -1 for torch.storage.UntypedStorage (bytes) */
    uint64_t numel;
} tl__lstore;

/* The read buffer loaded tensors alias: refcounted, freed (or handed back to the user) when the
   last aliasing storage dies. */
typedef struct tl__rblock {
    int refcount;
    void *data;
    int owned;                          /* 1: tl__free(data) */
    void (*release)(void *data, void *user);
    void *user;
} tl__rblock;
static void tl__rblock_unref(void *data, void *user) {
    tl__rblock *b = (tl__rblock *)user;
    (void)data;
    if (!b || --b->refcount > 0) return;
    if (b->owned) tl__free(b->data);
    else if (b->release) b->release(b->data, b->user);
    tl__free(b);
}

typedef struct tl__pobj tl__pobj;

/* Load context. */
typedef struct tl__ld {
    const char *op, *src;
    const unsigned char *p;
    size_t n;
    tl__rblock *block;          /* NULL: copy every storage */
    tl__crc crc;
    tl__zent *ents;
    size_t nents;
    const char *prefix;
    size_t plen;
    int swap;                   /* byteorder 'big': swap elements */
    /* unpickler */
    const unsigned char *pk;
    size_t pklen, pos, oppos;
    tl__pobj *all;
    long nobj;
    tl__pobj **stack;
    size_t sp, stcap;
    size_t *marks;
    size_t nmarks, mkcap;
    tl__pobj **memo;
    size_t memocap, memolen;
    tl__lstore *stores;
    size_t nstores, capstores;
    tl__idx zidx;               /* zip records by lower-cased name after the prefix */
    tl__idx sidx;               /* loaded storages by key */
    tl_load_opts lim;           /* the caller's limits, and what this load has used of them: */
    uint64_t inflated, storage_bytes, string_bytes;
    int64_t expanded, expand_cap;
    int failed;
    int any_names;              /* 1: entries may sit at the top level (.npz), no torch prefix check */
} tl__ld;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static void tl__ld_fail(tl__ld *ld, tl_status st, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    if (ld->failed) return;
    ld->failed = 1;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    TL__FAIL(st, "%s: %s: %s", ld->op, ld->src, msg);
}
/* The same, prefixed with the data.pkl offset of the current opcode. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void tl__pk_fail(tl__ld *ld, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tl__ld_fail(ld, TL_ERR_FORMAT, "data.pkl offset %lu: %s", (unsigned long)ld->oppos, msg);
}
#define TL__PK_FAIL tl__pk_fail
/* Adds n to *used and refuses the file when that passes limit (0: none), naming the option. */
static int tl__ld_charge(tl__ld *ld, uint64_t *used, uint64_t n, uint64_t limit, const char *what, const char *field) {
    if (limit && (n > limit || *used > limit - n)) {
        tl__ld_fail(ld, TL_ERR_FORMAT, "%s: %llu bytes would pass the limit of %llu (tl_load_opts.%s; raise it and "
                    "load with tl_load_ex or tl_load_from_buffer_opts)", what, (unsigned long long)(*used + n),
                    (unsigned long long)limit, field);
        return 0;
    }
    *used += n;
    return 1;
}

static int tl__zip_parse(tl__ld *ld) {
    const unsigned char *p = ld->p;
    size_t n = ld->n, eocd = 0, k, lo;
    int found = 0;
    uint64_t count, cdsize, cdoff, pos;
    if (n < 22) {
        tl__ld_fail(ld, TL_ERR_FORMAT, "%lu bytes is too short for a zip archive", (unsigned long)n);
        return 0;
    }
    lo = n - 22 > 65535 ? n - 22 - 65535 : 0;
    for (k = n - 22 + 1; k-- > lo;) {
        if (tl__rd32(p + k) == 0x06054b50u && k + 22 + tl__rd16(p + k + 20) <= n) {
            eocd = k;
            found = 1;
            break;
        }
    }
    if (!found) {
        tl__ld_fail(ld, TL_ERR_FORMAT, "no zip end-of-central-directory record (truncated file?)");
        return 0;
    }
    count = tl__rd16(p + eocd + 10);
    cdsize = tl__rd32(p + eocd + 12);
    cdoff = tl__rd32(p + eocd + 16);
    if (eocd >= 20 && tl__rd32(p + eocd - 20) == 0x07064b50u) { /* ZIP64 locator (2.7) */
        uint64_t z = tl__rd64(p + eocd - 12);
        if (z > n || n - z < 56 || tl__rd32(p + z) != 0x06064b50u) {
            tl__ld_fail(ld, TL_ERR_FORMAT, "ZIP64 end record offset %llu is invalid", (unsigned long long)z);
            return 0;
        }
        count = tl__rd64(p + z + 32);
        cdsize = tl__rd64(p + z + 40);
        cdoff = tl__rd64(p + z + 48);
    } else if (count == 0xFFFF || cdsize == 0xFFFFFFFFu || cdoff == 0xFFFFFFFFu) {
        tl__ld_fail(ld, TL_ERR_FORMAT, "zip end record is saturated but there is no ZIP64 locator");
        return 0;
    }
    if (cdoff > n || cdsize > n - cdoff || count > cdsize / 46) {
        tl__ld_fail(ld, TL_ERR_FORMAT, "central directory (offset %llu, %llu bytes, %llu entries) lies outside the %lu-byte file",
                    (unsigned long long)cdoff, (unsigned long long)cdsize, (unsigned long long)count, (unsigned long)n);
        return 0;
    }
    if (count == 0) {
        tl__ld_fail(ld, TL_ERR_FORMAT, "the zip archive is empty");
        return 0;
    }
    ld->ents = (tl__zent *)tl__malloc(tl__szmul((size_t)count, sizeof(tl__zent)));
    if (!ld->ents) {
        tl__ld_fail(ld, TL_ERR_OOM, "out of memory for %llu zip entries", (unsigned long long)count);
        return 0;
    }
    pos = cdoff;
    for (k = 0; k < (size_t)count; k++) {
        tl__zent *e = &ld->ents[k];
        const unsigned char *h = p + pos, *x, *xend;
        unsigned nl, xl, cl;
        if (cdoff + cdsize - pos < 46 || tl__rd32(h) != 0x02014b50u) {
            tl__ld_fail(ld, TL_ERR_FORMAT, "central directory entry %lu is malformed", (unsigned long)k);
            return 0;
        }
        nl = tl__rd16(h + 28);
        xl = tl__rd16(h + 30);
        cl = tl__rd16(h + 32);
        if (cdoff + cdsize - pos - 46 < (uint64_t)nl + xl + cl) {
            tl__ld_fail(ld, TL_ERR_FORMAT, "central directory entry %lu runs past the directory", (unsigned long)k);
            return 0;
        }
        e->flags = tl__rd16(h + 8);
        e->method = tl__rd16(h + 10);
        e->crc = tl__rd32(h + 16);
        e->csize = tl__rd32(h + 20);
        e->usize = tl__rd32(h + 24);
        e->lho = tl__rd32(h + 42);
        e->name = (const char *)h + 46;
        e->nlen = nl;
        x = h + 46 + nl;
        xend = x + xl;
        while (xend - x >= 4) { /* ZIP64 extended information: only the saturated fields, in order */
            unsigned id = tl__rd16(x), sz = tl__rd16(x + 2);
            const unsigned char *f = x + 4, *fend = x + 4 + sz;
            if ((size_t)(xend - x - 4) < sz) break;
            if (id == 1) {
                if (e->usize == 0xFFFFFFFFu) {
                    if (fend - f < 8) goto bad64;
                    e->usize = tl__rd64(f);
                    f += 8;
                }
                if (e->csize == 0xFFFFFFFFu) {
                    if (fend - f < 8) goto bad64;
                    e->csize = tl__rd64(f);
                    f += 8;
                }
                if (e->lho == 0xFFFFFFFFu) {
                    if (fend - f < 8) goto bad64;
                    e->lho = tl__rd64(f);
                }
            }
            x = fend;
        }
        if (e->usize == 0xFFFFFFFFu || e->csize == 0xFFFFFFFFu || e->lho == 0xFFFFFFFFu) {
        bad64:
            tl__ld_fail(ld, TL_ERR_FORMAT, "zip entry '%.*s' lacks its ZIP64 sizes/offset", (int)(nl > 200 ? 200 : nl), e->name);
            return 0;
        }
        if (e->flags & 1) {
            tl__ld_fail(ld, TL_ERR_FORMAT, "zip entry '%.*s' is encrypted", (int)(nl > 200 ? 200 : nl), e->name);
            return 0;
        }
        pos += 46 + (uint64_t)nl + xl + cl;
        ld->nents = k + 1;
    }
    if (ld->any_names) return 1;
    /* the prefix: the first entry's name up to its first '/' (2.1) */
    {
        const tl__zent *e0 = &ld->ents[0];
        const char *slash = (const char *)memchr(e0->name, '/', e0->nlen);
        if (!slash || slash == e0->name) {
            tl__ld_fail(ld, TL_ERR_FORMAT, "file in archive is not in a subdirectory: '%.*s' (torch.save puts every record under one directory)",
                        (int)(e0->nlen > 200 ? 200 : e0->nlen), e0->name);
            return 0;
        }
        ld->prefix = e0->name;
        ld->plen = (size_t)(slash - e0->name);
        for (k = 0; k < ld->nents; k++) {
            const tl__zent *e = &ld->ents[k];
            if (e->nlen <= ld->plen || memcmp(e->name, ld->prefix, ld->plen) != 0 || e->name[ld->plen] != '/') {
                tl__ld_fail(ld, TL_ERR_FORMAT, "record '%.*s' is not under the archive directory '%.*s/'",
                            (int)(e->nlen > 200 ? 200 : e->nlen), e->name, (int)ld->plen, ld->prefix);
                return 0;
            }
        }
    }
    return 1;
}

/* 1 when zip name a (after the prefix) equals rel, ASCII case-insensitively (like miniz). */
static int tl__zip_name_is(const tl__ld *ld, const tl__zent *e, const char *rel, size_t rlen) {
    size_t j;
    if (e->nlen != ld->plen + 1 + rlen) return 0;
    for (j = 0; j < rlen; j++) {
        int a = (unsigned char)e->name[ld->plen + 1 + j], b = (unsigned char)rel[j];
        if (a >= 'A' && a <= 'Z') a += 32;
        if (b >= 'A' && b <= 'Z') b += 32;
        if (a != b) return 0;
    }
    return 1;
}
/* Entry "<prefix>/<rel>" or NULL: through the index once tl__zip_index has built it. */
static const tl__zent *tl__zip_find(const tl__ld *ld, const char *rel, size_t rlen) {
    size_t k;
    if (ld->zidx.s) {
        uint64_t h = tl__hash_lower(rel, rlen);
        for (k = (size_t)h & ld->zidx.mask; ld->zidx.s[k].k1; k = (k + 1) & ld->zidx.mask)
            if (ld->zidx.s[k].h == h && tl__zip_name_is(ld, &ld->ents[ld->zidx.s[k].k1 - 1], rel, rlen))
                return &ld->ents[ld->zidx.s[k].k1 - 1];
        return NULL;
    }
    for (k = 0; k < ld->nents; k++)
        if (tl__zip_name_is(ld, &ld->ents[k], rel, rlen)) return &ld->ents[k];
    return NULL;
}
/* A record's bytes in the file: [start, end) from its local header through its payload. */
typedef struct tl__zspan { uint64_t start, end; size_t k; } tl__zspan;
static int tl__zspan_cmp(const void *a, const void *b) {
    uint64_t x = ((const tl__zspan *)a)->start, y = ((const tl__zspan *)b)->start;
    return x < y ? -1 : x > y;
}
/* Refuses records whose bytes overlap: one payload read as several records multiplies what a copy
   or an inflate costs (the "overlapping files" zip bomb); torch.save never writes that. */
static int tl__zip_no_overlap(tl__ld *ld) {
    tl__zspan *sp = (tl__zspan *)tl__malloc(tl__szmul(ld->nents, sizeof(tl__zspan)));
    size_t k, n = 0;
    int ok = 1;
    if (!sp) {
        tl__ld_fail(ld, TL_ERR_OOM, "out of memory checking %lu zip records", (unsigned long)ld->nents);
        return 0;
    }
    for (k = 0; k < ld->nents; k++) {
        const tl__zent *e = &ld->ents[k];
        if (e->lho > ld->n || ld->n - e->lho < 30 || tl__rd32(ld->p + e->lho) != 0x04034b50u)
            continue; /* no local header there: tl__zip_read refuses it when it is read */
        sp[n].start = e->lho;
        sp[n].end = e->lho + 30 + tl__rd16(ld->p + e->lho + 26) + tl__rd16(ld->p + e->lho + 28) + e->csize;
        if (e->csize > ld->n || sp[n].end > ld->n) continue; /* truncated: tl__zip_read says so */
        sp[n++].k = k;
    }
    qsort(sp, n, sizeof *sp, tl__zspan_cmp);
    for (k = 1; k < n && ok; k++)
        if (sp[k].start < sp[k - 1].end) {
            const tl__zent *a = &ld->ents[sp[k - 1].k], *b = &ld->ents[sp[k].k];
            tl__ld_fail(ld, TL_ERR_FORMAT, "records '%.*s' and '%.*s' overlap in the file", (int)(a->nlen > 200 ? 200 : a->nlen),
                        a->name, (int)(b->nlen > 200 ? 200 : b->nlen), b->name);
            ok = 0;
        }
    tl__free(sp);
    return ok;
}
/* Indexes the records by name, refusing two records with one name (which one would torch read?)
   and records that overlap. */
static int tl__zip_index(tl__ld *ld) {
    size_t k;
    if (!tl__zip_no_overlap(ld)) return 0;
    if (!tl__idx_init(&ld->zidx, ld->nents) || !tl__idx_init(&ld->sidx, ld->nents)) {
        tl__ld_fail(ld, TL_ERR_OOM, "out of memory indexing %lu zip records", (unsigned long)ld->nents);
        return 0;
    }
    for (k = 0; k < ld->nents; k++) {
        const tl__zent *e = &ld->ents[k];
        const char *rel = e->name + ld->plen + 1;
        size_t rlen = e->nlen - ld->plen - 1;
        if (tl__zip_find(ld, rel, rlen)) {
            tl__ld_fail(ld, TL_ERR_FORMAT, "the archive has two records named '%.*s'", (int)(e->nlen > 200 ? 200 : e->nlen),
                        e->name);
            return 0;
        }
        tl__idx_add(&ld->zidx, tl__hash_lower(rel, rlen), k);
    }
    return 1;
}

/* The bytes of an entry: *ptr into the file (stored), or a new buffer in *owned (deflated).
   Checks the local header, bounds, sizes and the CRC (a CRC of 0 means "not computed"). */
static int tl__zip_read(tl__ld *ld, const tl__zent *e, const unsigned char **ptr, unsigned char **owned) {
    const unsigned char *h;
    uint64_t payload;
    int nl = (int)(e->nlen > 200 ? 200 : e->nlen);
    *ptr = NULL;
    *owned = NULL;
    if (e->lho > ld->n || ld->n - e->lho < 30 || tl__rd32(ld->p + e->lho) != 0x04034b50u) {
        tl__ld_fail(ld, TL_ERR_FORMAT, "record '%.*s': no local header at offset %llu", nl, e->name, (unsigned long long)e->lho);
        return 0;
    }
    h = ld->p + e->lho;
    payload = e->lho + 30 + tl__rd16(h + 26) + tl__rd16(h + 28);
    if (payload > ld->n || e->csize > ld->n - payload) {
        tl__ld_fail(ld, TL_ERR_FORMAT, "record '%.*s' is truncated (%llu bytes at offset %llu, file has %lu)", nl, e->name,
                    (unsigned long long)e->csize, (unsigned long long)payload, (unsigned long)ld->n);
        return 0;
    }
    if (e->method == 0) {
        if (e->csize != e->usize) {
            tl__ld_fail(ld, TL_ERR_FORMAT, "record '%.*s' is stored with compressed size %llu != size %llu", nl, e->name,
                        (unsigned long long)e->csize, (unsigned long long)e->usize);
            return 0;
        }
        *ptr = ld->p + payload;
    } else if (e->method == 8) {
        const char *err;
        if (e->usize > e->csize * 1040 + 1024 || e->usize > (uint64_t)(size_t)-1 / 2) {
            tl__ld_fail(ld, TL_ERR_FORMAT, "record '%.*s' claims %llu bytes from %llu deflated bytes, more than DEFLATE can produce",
                        nl, e->name, (unsigned long long)e->usize, (unsigned long long)e->csize);
            return 0;
        }
        {
            char what[260];
            snprintf(what, sizeof what, "record '%.*s' inflates to %llu bytes, so the inflated records", nl, e->name,
                     (unsigned long long)e->usize);
            if (!tl__ld_charge(ld, &ld->inflated, e->usize, ld->lim.max_inflated_bytes, what, "max_inflated_bytes"))
                return 0;
        }
        *owned = (unsigned char *)tl__malloc((size_t)e->usize);
        if (!*owned) {
            tl__ld_fail(ld, TL_ERR_OOM, "out of memory inflating record '%.*s' (%llu bytes)", nl, e->name, (unsigned long long)e->usize);
            return 0;
        }
        err = tl__inflate(ld->p + payload, (size_t)e->csize, *owned, (size_t)e->usize);
        if (err) {
            tl__free(*owned);
            *owned = NULL;
            tl__ld_fail(ld, TL_ERR_FORMAT, "record '%.*s': bad deflate data: %s", nl, e->name, err);
            return 0;
        }
        *ptr = *owned;
    } else {
        tl__ld_fail(ld, TL_ERR_FORMAT, "record '%.*s' uses zip compression method %u (only stored and deflate are supported)",
                    nl, e->name, e->method);
        return 0;
    }
    if (e->crc != 0 && tl__crc_update(&ld->crc, 0, *ptr, (size_t)e->usize) != e->crc) {
        tl__free(*owned);
        *owned = NULL;
        tl__ld_fail(ld, TL_ERR_FORMAT, "record '%.*s' fails its CRC-32 check (corrupted file)", nl, e->name);
        return 0;
    }
    return 1;
}

/* ===== pickle in: the safe subset unpickler (section 7.2) ===== */

enum {
    TL__P_NONE, TL__P_BOOL, TL__P_INT, TL__P_FLOAT, TL__P_STR, TL__P_TUPLE, TL__P_LIST, TL__P_DICT,
    TL__P_TENSOR, TL__P_STORAGE, TL__P_GLOBAL
};
static const char *const tl__pobj_names[] = {"None", "bool", "int", "float", "str", "tuple", "list",
                                             "dict", "Tensor", "storage", "class/function"};

/* An unpickled object. Objects may be shared (memo) or even cyclic while unpickling; they live in
   one list owned by the load context and become a tl_value tree at the end. */
struct tl__pobj {
    int kind;
    int flag;               /* bool value; dict: OrderedDict; tensor: nn.Parameter */
    int visiting;           /* cycle detection during conversion */
    int converted;          /* converted once already: a second conversion is memo expansion */
    int g;                  /* GLOBAL: index in tl__globals; STORAGE: index in ld->stores */
    int64_t i;
    double f;
    const char *s;          /* STR: bytes inside data.pkl (not NUL-terminated) */
    size_t slen;
    tl_tensor *t;           /* TENSOR: one owned reference */
    tl__pobj **items;       /* TUPLE/LIST: items; DICT: key, value, key, value, ... */
    size_t n, cap;
    tl__pobj *meta;         /* OrderedDict _metadata (via BUILD) */
    tl__pobj *next;         /* the context's list of all objects */
};

/* The allowlist (7.1/7.2): nothing outside this table is ever looked up, imported or called. */
enum {
    TL__G_ODICT = 1, TL__G_RT_V2, TL__G_RT, TL__G_RT_V3, TL__G_RPARAM, TL__G_RPARAM_STATE,
    TL__G_FROM_TYPE_V2, TL__G_STORAGE, TL__G_USTORAGE, TL__G_UNSUP_STORAGE, TL__G_TENSOR_CLS,
    TL__G_PARAM_CLS, TL__G_DTYPE
};
typedef struct tl__gdef { const char *module, *name; int kind, dtype; } tl__gdef;
static const tl__gdef tl__globals[] = {
    {"collections", "OrderedDict", TL__G_ODICT, -1},
    {"torch._utils", "_rebuild_tensor_v2", TL__G_RT_V2, -1},
    {"torch._utils", "_rebuild_tensor", TL__G_RT, -1},
    {"torch._utils", "_rebuild_tensor_v3", TL__G_RT_V3, -1},
    {"torch._utils", "_rebuild_parameter", TL__G_RPARAM, -1},
    {"torch._utils", "_rebuild_parameter_with_state", TL__G_RPARAM_STATE, -1},
    {"torch._tensor", "_rebuild_from_type_v2", TL__G_FROM_TYPE_V2, -1},
    {"torch", "FloatStorage", TL__G_STORAGE, TL_F32},
    {"torch", "DoubleStorage", TL__G_STORAGE, TL_F64},
    {"torch", "HalfStorage", TL__G_STORAGE, TL_F16},
    {"torch", "BFloat16Storage", TL__G_STORAGE, TL_BF16},
    {"torch", "LongStorage", TL__G_STORAGE, TL_I64},
    {"torch", "IntStorage", TL__G_STORAGE, TL_I32},
    {"torch", "ShortStorage", TL__G_STORAGE, TL_I16},
    {"torch", "CharStorage", TL__G_STORAGE, TL_I8},
    {"torch", "ByteStorage", TL__G_STORAGE, TL_U8},
    {"torch", "BoolStorage", TL__G_STORAGE, TL_BOOL},
    {"torch", "ComplexFloatStorage", TL__G_UNSUP_STORAGE, -1},
    {"torch", "ComplexDoubleStorage", TL__G_UNSUP_STORAGE, -1},
    {"torch", "QInt8Storage", TL__G_UNSUP_STORAGE, -1},
    {"torch", "QUInt8Storage", TL__G_UNSUP_STORAGE, -1},
    {"torch", "QInt32Storage", TL__G_UNSUP_STORAGE, -1},
    {"torch.storage", "UntypedStorage", TL__G_USTORAGE, -1},
    {"torch", "UntypedStorage", TL__G_USTORAGE, -1},
    {"torch", "Tensor", TL__G_TENSOR_CLS, -1},
    {"torch.nn.parameter", "Parameter", TL__G_PARAM_CLS, -1},
    {"torch", "float32", TL__G_DTYPE, TL_F32},
    {"torch", "float", TL__G_DTYPE, TL_F32},
    {"torch", "float64", TL__G_DTYPE, TL_F64},
    {"torch", "double", TL__G_DTYPE, TL_F64},
    {"torch", "float16", TL__G_DTYPE, TL_F16},
    {"torch", "half", TL__G_DTYPE, TL_F16},
    {"torch", "bfloat16", TL__G_DTYPE, TL_BF16},
    {"torch", "int64", TL__G_DTYPE, TL_I64},
    {"torch", "long", TL__G_DTYPE, TL_I64},
    {"torch", "int32", TL__G_DTYPE, TL_I32},
    {"torch", "int", TL__G_DTYPE, TL_I32},
    {"torch", "int16", TL__G_DTYPE, TL_I16},
    {"torch", "short", TL__G_DTYPE, TL_I16},
    {"torch", "int8", TL__G_DTYPE, TL_I8},
    {"torch", "uint8", TL__G_DTYPE, TL_U8},
    {"torch", "bool", TL__G_DTYPE, TL_BOOL}};
#define TL__NGLOBALS ((int)(sizeof tl__globals / sizeof tl__globals[0]))

static tl__pobj *tl__ld_obj(tl__ld *ld, int kind) {
    tl__pobj *o;
    if (ld->lim.max_objects > 0 && ld->nobj >= ld->lim.max_objects) {
        TL__PK_FAIL(ld, "the pickle makes more than %lld objects (tl_load_opts.max_objects; raise it and load with "
                    "tl_load_ex or tl_load_from_buffer_opts)", (long long)ld->lim.max_objects);
        return NULL;
    }
    o = (tl__pobj *)tl__malloc(sizeof(tl__pobj));
    if (!o) {
        tl__ld_fail(ld, TL_ERR_OOM, "out of memory unpickling data.pkl");
        return NULL;
    }
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->next = ld->all;
    ld->all = o;
    ld->nobj++;
    return o;
}
static int tl__ld_push(tl__ld *ld, tl__pobj *o) {
    if (!o) return 0;
    if (ld->sp == ld->stcap) {
        size_t cap = ld->stcap ? ld->stcap * 2 : 64;
        tl__pobj **s = (tl__pobj **)tl__malloc(tl__szmul(cap, sizeof(tl__pobj *)));
        if (!s) {
            tl__ld_fail(ld, TL_ERR_OOM, "out of memory growing the unpickler stack");
            return 0;
        }
        if (ld->sp) memcpy(s, ld->stack, ld->sp * sizeof(tl__pobj *));
        tl__free(ld->stack);
        ld->stack = s;
        ld->stcap = cap;
    }
    ld->stack[ld->sp++] = o;
    return 1;
}
/* Number of items above the innermost MARK. */
static size_t tl__ld_avail(const tl__ld *ld) { return ld->sp - (ld->nmarks ? ld->marks[ld->nmarks - 1] : 0); }
static tl__pobj *tl__ld_pop(tl__ld *ld) {
    if (tl__ld_avail(ld) == 0) {
        TL__PK_FAIL(ld, "unpickling stack underflow");
        return NULL;
    }
    return ld->stack[--ld->sp];
}
static tl__pobj *tl__ld_top(tl__ld *ld) {
    if (tl__ld_avail(ld) == 0) {
        TL__PK_FAIL(ld, "unpickling stack underflow");
        return NULL;
    }
    return ld->stack[ld->sp - 1];
}
/* Pops the innermost MARK; returns the stack index where its items start. */
static int tl__ld_popmark(tl__ld *ld, size_t *start) {
    if (!ld->nmarks) {
        TL__PK_FAIL(ld, "opcode needs a MARK but none is open");
        return 0;
    }
    *start = ld->marks[--ld->nmarks];
    return 1;
}
static int tl__pobj_add(tl__ld *ld, tl__pobj *c, tl__pobj *item) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        tl__pobj **it = (tl__pobj **)tl__malloc(tl__szmul(cap, sizeof(tl__pobj *)));
        if (!it) {
            tl__ld_fail(ld, TL_ERR_OOM, "out of memory growing a %s", tl__pobj_names[c->kind]);
            return 0;
        }
        if (c->n) memcpy(it, c->items, c->n * sizeof(tl__pobj *));
        tl__free(c->items);
        c->items = it;
        c->cap = cap;
    }
    c->items[c->n++] = item;
    return 1;
}
/* A tuple of the stack items [start, sp), which are popped. */
static int tl__ld_tuple_from(tl__ld *ld, size_t start) {
    tl__pobj *t = tl__ld_obj(ld, TL__P_TUPLE);
    size_t k;
    if (!t) return 0;
    for (k = start; k < ld->sp; k++)
        if (!tl__pobj_add(ld, t, ld->stack[k])) return 0;
    ld->sp = start;
    return tl__ld_push(ld, t);
}
static int tl__ld_need(tl__ld *ld, size_t n) {
    if (ld->pklen - ld->pos < n) {
        TL__PK_FAIL(ld, "truncated pickle: opcode argument needs %lu bytes, %lu left", (unsigned long)n,
                    (unsigned long)(ld->pklen - ld->pos));
        return 0;
    }
    return 1;
}
static int tl__ld_memo_put(tl__ld *ld, uint64_t idx) {
    tl__pobj *top = tl__ld_top(ld);
    if (!top) return 0;
    if (idx > ld->pklen) { /* a memo index needs at least one byte of pickle per entry before it */
        TL__PK_FAIL(ld, "memo index %llu is out of range", (unsigned long long)idx);
        return 0;
    }
    if (idx >= ld->memocap) {
        size_t cap = ld->memocap ? ld->memocap : 64;
        tl__pobj **m;
        while (cap <= idx) cap *= 2;
        m = (tl__pobj **)tl__malloc(tl__szmul(cap, sizeof(tl__pobj *)));
        if (!m) {
            tl__ld_fail(ld, TL_ERR_OOM, "out of memory growing the pickle memo");
            return 0;
        }
        memset(m, 0, cap * sizeof(tl__pobj *));
        if (ld->memocap) memcpy(m, ld->memo, ld->memocap * sizeof(tl__pobj *));
        tl__free(ld->memo);
        ld->memo = m;
        ld->memocap = cap;
    }
    if (!ld->memo[idx]) ld->memolen++;
    ld->memo[idx] = top;
    return 1;
}
static int tl__ld_memo_get(tl__ld *ld, uint64_t idx) {
    if (idx >= ld->memocap || !ld->memo[idx]) {
        TL__PK_FAIL(ld, "bad memo index %llu (BINGET of an object never stored with BINPUT)", (unsigned long long)idx);
        return 0;
    }
    return tl__ld_push(ld, ld->memo[idx]);
}
static int tl__ld_global(tl__ld *ld, const char *mod, size_t ml, const char *name, size_t nl) {
    int k;
    tl__pobj *o;
    for (k = 0; k < TL__NGLOBALS; k++) {
        const tl__gdef *g = &tl__globals[k];
        if (strlen(g->module) == ml && strlen(g->name) == nl && memcmp(g->module, mod, ml) == 0 &&
            memcmp(g->name, name, nl) == 0)
            break;
    }
    if (k == TL__NGLOBALS) {
        TL__PK_FAIL(ld, "refused global '%.*s.%.*s': only tensor, storage and container types are allowed (nothing is imported or executed)",
                    (int)(ml > 100 ? 100 : ml), mod, (int)(nl > 100 ? 100 : nl), name);
        return 0;
    }
    o = tl__ld_obj(ld, TL__P_GLOBAL);
    if (!o) return 0;
    o->g = k;
    return tl__ld_push(ld, o);
}
static int tl__pobj_is_str(const tl__pobj *o, const char *s) {
    return o->kind == TL__P_STR && o->slen == strlen(s) && memcmp(o->s, s, o->slen) == 0;
}
static int tl__dict_len0(const tl__pobj *o) { return o->kind == TL__P_DICT && o->n == 0; }

/* persistent_load(('storage', cls, key, location, numel)) (4.2): one storage per key, read once. */
static int tl__ld_persid(tl__ld *ld) {
    tl__pobj *pid = tl__ld_pop(ld), *cls, *key, *loc, *num, *o;
    tl__lstore *ls = NULL;
    char rel[300];
    const tl__zent *e;
    size_t k;
    int dtype, rl;
    uint64_t es, nbytes, hkey;
    if (!pid) return 0;
    if (pid->kind != TL__P_TUPLE || pid->n == 0 || !tl__pobj_is_str(pid->items[0], "storage")) {
        TL__PK_FAIL(ld, "persistent id is not a ('storage', ...) tuple");
        return 0;
    }
    if (pid->n == 6) {
        TL__PK_FAIL(ld, "persistent id with view metadata: legacy (pre-1.6) torch.save format, not supported");
        return 0;
    }
    if (pid->n != 5) {
        TL__PK_FAIL(ld, "persistent id has %lu items, expected 5 ('storage', class, key, location, numel)", (unsigned long)pid->n);
        return 0;
    }
    cls = pid->items[1];
    key = pid->items[2];
    loc = pid->items[3];
    num = pid->items[4];
    if (cls->kind != TL__P_GLOBAL || (tl__globals[cls->g].kind != TL__G_STORAGE && tl__globals[cls->g].kind != TL__G_USTORAGE)) {
        if (cls->kind == TL__P_GLOBAL && tl__globals[cls->g].kind == TL__G_UNSUP_STORAGE)
            TL__PK_FAIL(ld, "storage class torch.%s: that dtype is not supported by tensorlite", tl__globals[cls->g].name);
        else
            TL__PK_FAIL(ld, "persistent id: item 2 is a %s, not a storage class", tl__pobj_names[cls->kind]);
        return 0;
    }
    if (key->kind != TL__P_STR || key->slen == 0 || key->slen > 256 || loc->kind != TL__P_STR || num->kind != TL__P_INT ||
        num->i < 0) {
        TL__PK_FAIL(ld, "persistent id: key must be a short str, location a str and numel an int >= 0");
        return 0;
    }
    if (!(loc->slen >= 3 && (memcmp(loc->s, "cpu", 3) == 0 || memcmp(loc->s, "cud", 3) == 0 || memcmp(loc->s, "mps", 3) == 0))) {
        TL__PK_FAIL(ld, "storage location '%.*s' is not supported (cpu, cuda or mps data is loaded to the CPU)",
                    (int)(loc->slen > 40 ? 40 : loc->slen), loc->s);
        return 0;
    }
    dtype = tl__globals[cls->g].kind == TL__G_USTORAGE ? -1 : tl__globals[cls->g].dtype;
    es = dtype < 0 ? 1 : tl__dtype_sizes[dtype];
    hkey = tl__hash_bytes(key->s, key->slen, 14695981039346656037ull);
    for (k = (size_t)hkey & ld->sidx.mask; ld->sidx.s[k].k1; k = (k + 1) & ld->sidx.mask) {
        tl__lstore *c = &ld->stores[ld->sidx.s[k].k1 - 1];
        if (ld->sidx.s[k].h == hkey && c->klen == key->slen && memcmp(c->key, key->s, key->slen) == 0) {
            ls = c;
            break;
        }
    }
    if (ls) { /* a later reference: same class, numel within the first (4.4) */
        if (ls->dtype != dtype || (uint64_t)num->i > ls->numel) {
            TL__PK_FAIL(ld, "storage '%.*s' is referenced as %s[%lld] after %s[%llu]", (int)key->slen, key->s,
                        tl__globals[cls->g].name, (long long)num->i, ls->dtype < 0 ? "UntypedStorage" : tl__storage_names[ls->dtype],
                        (unsigned long long)ls->numel);
            return 0;
        }
    } else {
        const unsigned char *ptr;
        unsigned char *owned;
        tl_storage *st;
        if ((uint64_t)num->i > (uint64_t)INT64_MAX / es) {
            TL__PK_FAIL(ld, "storage '%.*s' numel %lld overflows", (int)key->slen, key->s, (long long)num->i);
            return 0;
        }
        nbytes = (uint64_t)num->i * es;
        rl = snprintf(rel, sizeof rel, "data/%.*s", (int)key->slen, key->s);
        e = tl__zip_find(ld, rel, (size_t)rl);
        if (!e) {
            TL__PK_FAIL(ld, "storage record '%s' is missing from the archive", rel);
            return 0;
        }
        if (e->usize < nbytes) {
            TL__PK_FAIL(ld, "storage record '%s' has %llu bytes but %s[%lld] needs %llu", rel, (unsigned long long)e->usize,
                        tl__globals[cls->g].name, (long long)num->i, (unsigned long long)nbytes);
            return 0;
        }
        if (nbytes > (uint64_t)(size_t)-1 / 2) {
            TL__PK_FAIL(ld, "storage record '%s' is too large for this platform", rel);
            return 0;
        }
        {
            char what[400];
            snprintf(what, sizeof what, "storage '%.300s' (%llu bytes) makes the storages", rel, (unsigned long long)nbytes);
            if (!tl__ld_charge(ld, &ld->storage_bytes, nbytes, ld->lim.max_storage_bytes, what, "max_storage_bytes"))
                return 0;
        }
        if (!tl__zip_read(ld, e, &ptr, &owned)) return 0;
        if (ld->block && !owned && !ld->swap && ((uintptr_t)ptr % (dtype < 0 ? 16 : es)) == 0) {
            st = (tl_storage *)tl__malloc(sizeof(tl_storage)); /* alias the read buffer */
            if (st) {
                memset(st, 0, sizeof *st);
                st->refcount = 1;
                st->bucket = -1;
                st->data = (void *)(uintptr_t)ptr;
                st->nbytes = (size_t)nbytes;
                st->borrowed = 1;
                st->release = tl__rblock_unref;
                st->release_user = ld->block;
                ld->block->refcount++;
                TL__ATOMIC_ADD(&tl__live_storages_n, 1);
            }
        } else {
            st = tl__storage_new((size_t)nbytes);
            if (st && nbytes) {
                if (ld->swap && es > 1) { /* byteorder 'big' (2.1): swap each element */
                    size_t i, j;
                    unsigned char *d = (unsigned char *)st->data;
                    for (i = 0; i < (size_t)nbytes; i += (size_t)es)
                        for (j = 0; j < (size_t)es; j++) d[i + j] = ptr[i + (size_t)es - 1 - j];
                } else {
                    memcpy(st->data, ptr, (size_t)nbytes);
                }
            }
        }
        tl__free(owned);
        if (!st) {
            tl__ld_fail(ld, TL_ERR_OOM, "out of memory for storage '%s' (%llu bytes)", rel, (unsigned long long)nbytes);
            return 0;
        }
        if (ld->nstores == ld->capstores) {
            size_t cap = ld->capstores ? ld->capstores * 2 : 16;
            tl__lstore *s2 = (tl__lstore *)tl__malloc(tl__szmul(cap, sizeof(tl__lstore)));
            if (!s2) {
                tl__storage_release(st);
                tl__ld_fail(ld, TL_ERR_OOM, "out of memory listing storages");
                return 0;
            }
            if (ld->nstores) memcpy(s2, ld->stores, ld->nstores * sizeof(tl__lstore));
            tl__free(ld->stores);
            ld->stores = s2;
            ld->capstores = cap;
        }
        if (ld->nstores >= ld->nents) { /* cannot happen: each storage is its own record */
            tl__storage_release(st);
            TL__PK_FAIL(ld, "more storages than records");
            return 0;
        }
        tl__idx_add(&ld->sidx, hkey, ld->nstores);
        ls = &ld->stores[ld->nstores++];
        ls->key = key->s;
        ls->klen = key->slen;
        ls->st = st;
        ls->dtype = dtype;
        ls->numel = (uint64_t)num->i;
    }
    o = tl__ld_obj(ld, TL__P_STORAGE);
    if (!o) return 0;
    o->g = (int)(ls - ld->stores);
    return tl__ld_push(ld, o);
}

/* Builds a tensor over a loaded storage after checking every size, stride and the offset against
   the storage (4.4): sizes >= 0, strides >= 0, no overflow, last element inside the storage. */
static tl__pobj *tl__ld_tensor(tl__ld *ld, tl__pobj *sto, tl__pobj *off, tl__pobj *size, tl__pobj *stride,
                               tl__pobj *rg, int dtype) {
    tl__lstore *ls;
    tl_tensor *t;
    tl__pobj *o;
    int d, nd;
    uint64_t es, cap_el, maxi;
    int empty = 0;
    if (sto->kind != TL__P_STORAGE) {
        TL__PK_FAIL(ld, "tensor rebuild: argument 1 is a %s, not a storage", tl__pobj_names[sto->kind]);
        return NULL;
    }
    ls = &ld->stores[sto->g];
    if (dtype < 0) dtype = ls->dtype;
    if (dtype < 0) {
        TL__PK_FAIL(ld, "tensor rebuild: an UntypedStorage needs _rebuild_tensor_v3's dtype");
        return NULL;
    }
    if (off->kind != TL__P_INT || size->kind != TL__P_TUPLE || stride->kind != TL__P_TUPLE ||
        (rg && rg->kind != TL__P_BOOL)) {
        TL__PK_FAIL(ld, "tensor rebuild: expected (storage, int offset, tuple size, tuple stride, bool requires_grad, ...)");
        return NULL;
    }
    nd = (int)size->n;
    if (size->n > TL_MAX_DIMS || stride->n != size->n) {
        TL__PK_FAIL(ld, "tensor rebuild: %lu sizes and %lu strides (at most %d dimensions, one stride per size)",
                    (unsigned long)size->n, (unsigned long)stride->n, TL_MAX_DIMS);
        return NULL;
    }
    for (d = 0; d < nd; d++) {
        if (size->items[d]->kind != TL__P_INT || stride->items[d]->kind != TL__P_INT) {
            TL__PK_FAIL(ld, "tensor rebuild: sizes and strides must be ints");
            return NULL;
        }
        if (size->items[d]->i < 0 || stride->items[d]->i < 0) {
            TL__PK_FAIL(ld, "tensor rebuild: negative %s %lld in dimension %d", size->items[d]->i < 0 ? "size" : "stride",
                        (long long)(size->items[d]->i < 0 ? size->items[d]->i : stride->items[d]->i), d);
            return NULL;
        }
        if (size->items[d]->i == 0) empty = 1;
    }
    if (off->i < 0) {
        TL__PK_FAIL(ld, "tensor rebuild: negative storage offset %lld", (long long)off->i);
        return NULL;
    }
    es = tl__dtype_sizes[dtype];
    cap_el = ls->st->nbytes / es;
    maxi = (uint64_t)off->i;
    if (!empty) {
        double total = 1;
        for (d = 0; d < nd; d++) {
            uint64_t sz = (uint64_t)size->items[d]->i - 1, sd = (uint64_t)stride->items[d]->i;
            total *= (double)size->items[d]->i;
            if (sd && sz > (UINT64_MAX / 2 - maxi) / sd) {
                maxi = UINT64_MAX;
                break;
            }
            maxi += sz * sd;
        }
        if (maxi >= cap_el || total > 9.0e18) {
            int64_t szs[TL_MAX_DIMS], sds[TL_MAX_DIMS];
            for (d = 0; d < nd; d++) {
                szs[d] = size->items[d]->i;
                sds[d] = stride->items[d]->i;
            }
            TL__PK_FAIL(ld, "tensor of size %s, stride %s, offset %lld reaches element %llu of a %s storage with %llu elements",
                        tl__fmt_shape(nd, szs), tl__fmt_shape(nd, sds), (long long)off->i, (unsigned long long)maxi,
                        tl__dtype_names[dtype], (unsigned long long)cap_el);
            return NULL;
        }
    } else if (maxi > cap_el) {
        TL__PK_FAIL(ld, "empty tensor's storage offset %lld is beyond its %llu-element storage", (long long)off->i,
                    (unsigned long long)cap_el);
        return NULL;
    }
    if (rg && rg->flag && !TL__IS_FLOAT((tl_dtype)dtype)) {
        TL__PK_FAIL(ld, "a %s tensor cannot require grad", tl__dtype_names[dtype]);
        return NULL;
    }
    t = tl__header();
    if (!t) {
        tl__ld_fail(ld, TL_ERR_OOM, "out of memory allocating a tensor header");
        return NULL;
    }
    t->storage = ls->st;
    ls->st->refcount++;
    t->dtype = (tl_dtype)dtype;
    t->ndim = nd;
    t->offset = off->i;
    for (d = 0; d < nd; d++) {
        t->shape[d] = size->items[d]->i;
        t->stride[d] = stride->items[d]->i;
    }
    t->requires_grad = rg ? rg->flag : 0;
    o = tl__ld_obj(ld, TL__P_TENSOR);
    if (!o) {
        tl__release(t);
        return NULL;
    }
    o->t = t;
    return o;
}

/* Empty backward-hooks / metadata / state arguments: an empty dict or OrderedDict (or None). */
static int tl__ld_empty_arg(tl__ld *ld, const tl__pobj *o, const char *what) {
    if (o->kind == TL__P_NONE || tl__dict_len0(o)) return 1;
    TL__PK_FAIL(ld, "%s must be empty, got a %s with %lu items (not supported)", what, tl__pobj_names[o->kind], (unsigned long)o->n);
    return 0;
}

/* callable(*args) for the allowlisted callables only. */
static tl__pobj *tl__ld_call(tl__ld *ld, const tl__pobj *fn, tl__pobj *args, int depth) {
    int kind;
    tl__pobj **a;
    size_t n;
    if (fn->kind != TL__P_GLOBAL) {
        TL__PK_FAIL(ld, "REDUCE on a %s, which is not callable", tl__pobj_names[fn->kind]);
        return NULL;
    }
    if (args->kind != TL__P_TUPLE) {
        TL__PK_FAIL(ld, "REDUCE arguments are a %s, not a tuple", tl__pobj_names[args->kind]);
        return NULL;
    }
    kind = tl__globals[fn->g].kind;
    a = args->items;
    n = args->n;
    switch (kind) {
    case TL__G_ODICT: {
        tl__pobj *o;
        if (n != 0) {
            TL__PK_FAIL(ld, "collections.OrderedDict called with %lu arguments (only OrderedDict() is supported)", (unsigned long)n);
            return NULL;
        }
        o = tl__ld_obj(ld, TL__P_DICT);
        if (o) o->flag = 1;
        return o;
    }
    case TL__G_RT_V2: /* (storage, offset, size, stride, requires_grad, hooks[, metadata]) */
        if (n != 6 && n != 7) break;
        if (!tl__ld_empty_arg(ld, a[5], "backward hooks") || (n == 7 && !tl__ld_empty_arg(ld, a[6], "tensor metadata")))
            return NULL;
        return tl__ld_tensor(ld, a[0], a[1], a[2], a[3], a[4], -1);
    case TL__G_RT: /* (storage, offset, size, stride) */
        if (n != 4) break;
        return tl__ld_tensor(ld, a[0], a[1], a[2], a[3], NULL, -1);
    case TL__G_RT_V3: /* (storage, offset, size, stride, requires_grad, hooks, dtype[, metadata]) */
        if (n != 7 && n != 8) break;
        if (a[6]->kind != TL__P_GLOBAL || tl__globals[a[6]->g].kind != TL__G_DTYPE) {
            TL__PK_FAIL(ld, "_rebuild_tensor_v3: argument 7 is not a supported torch dtype");
            return NULL;
        }
        if (!tl__ld_empty_arg(ld, a[5], "backward hooks") || (n == 8 && !tl__ld_empty_arg(ld, a[7], "tensor metadata")))
            return NULL;
        return tl__ld_tensor(ld, a[0], a[1], a[2], a[3], a[4], tl__globals[a[6]->g].dtype);
    case TL__G_RPARAM:       /* (data, requires_grad, hooks) */
    case TL__G_RPARAM_STATE: /* (data, requires_grad, hooks, state) */ {
        tl__pobj *o;
        tl_tensor *t;
        if (n != (kind == TL__G_RPARAM ? 3u : 4u)) break;
        if (a[0]->kind != TL__P_TENSOR || a[1]->kind != TL__P_BOOL) {
            TL__PK_FAIL(ld, "_rebuild_parameter: expected (Tensor, bool, OrderedDict)");
            return NULL;
        }
        if (!tl__ld_empty_arg(ld, a[2], "backward hooks")) return NULL;
        if (kind == TL__G_RPARAM_STATE && a[3]->kind != TL__P_DICT && a[3]->kind != TL__P_NONE && a[3]->kind != TL__P_TUPLE) {
            TL__PK_FAIL(ld, "_rebuild_parameter_with_state: state is a %s", tl__pobj_names[a[3]->kind]);
            return NULL;
        }
        if (a[1]->flag && !TL__IS_FLOAT(a[0]->t->dtype)) {
            TL__PK_FAIL(ld, "a %s Parameter cannot require grad", TL__DT(a[0]->t));
            return NULL;
        }
        t = tl__alias("tl_load", a[0]->t); /* Parameter(data) shares data's storage */
        if (!t) {
            ld->failed = 1;
            return NULL;
        }
        t->requires_grad = a[1]->flag;
        o = tl__ld_obj(ld, TL__P_TENSOR);
        if (!o) {
            tl__release(t);
            return NULL;
        }
        o->t = t;
        o->flag = 1;
        return o;
    }
    case TL__G_FROM_TYPE_V2: { /* (func, type, args, state): func(*args), then as_subclass(type) */
        tl__pobj *r;
        int tk;
        if (n != 4) break;
        if (depth > 0 || a[0]->kind != TL__P_GLOBAL || a[1]->kind != TL__P_GLOBAL) {
            TL__PK_FAIL(ld, "_rebuild_from_type_v2: expected (rebuild function, tensor class, args, state)");
            return NULL;
        }
        tk = tl__globals[a[1]->g].kind;
        if (tk != TL__G_TENSOR_CLS && tk != TL__G_PARAM_CLS) {
            TL__PK_FAIL(ld, "_rebuild_from_type_v2: class torch.%s is not torch.Tensor or Parameter", tl__globals[a[1]->g].name);
            return NULL;
        }
        if (!tl__ld_empty_arg(ld, a[3], "tensor subclass state")) return NULL;
        r = tl__ld_call(ld, a[0], a[2], depth + 1);
        if (!r) return NULL;
        if (r->kind != TL__P_TENSOR) {
            TL__PK_FAIL(ld, "_rebuild_from_type_v2: the rebuild function did not produce a tensor");
            return NULL;
        }
        if (tk == TL__G_PARAM_CLS) r->flag = 1;
        return r;
    }
    default:
        TL__PK_FAIL(ld, "cannot call %s.%s (only OrderedDict and torch's tensor rebuild functions are callable)",
                    tl__globals[fn->g].module, tl__globals[fn->g].name);
        return NULL;
    }
    TL__PK_FAIL(ld, "%s.%s called with %lu arguments", tl__globals[fn->g].module, tl__globals[fn->g].name, (unsigned long)n);
    return NULL;
}

static int tl__ld_setitems(tl__ld *ld, size_t start) {
    tl__pobj *d;
    size_t k;
    if (start == 0 || start > ld->sp) {
        TL__PK_FAIL(ld, "SETITEM(S) with no dict below its items");
        return 0;
    }
    if ((ld->sp - start) % 2) {
        TL__PK_FAIL(ld, "SETITEMS with an odd number of items");
        return 0;
    }
    d = ld->stack[start - 1];
    if (d->kind != TL__P_DICT) {
        TL__PK_FAIL(ld, "SETITEM(S) on a %s (only dict and OrderedDict take items)", tl__pobj_names[d->kind]);
        return 0;
    }
    for (k = start; k < ld->sp; k += 2) {
        int kk = ld->stack[k]->kind;
        if (kk != TL__P_STR && kk != TL__P_INT) {
            TL__PK_FAIL(ld, "dict key of type %s is not supported (str and int keys only)", tl__pobj_names[kk]);
            return 0;
        }
        if (!tl__pobj_add(ld, d, ld->stack[k]) || !tl__pobj_add(ld, d, ld->stack[k + 1])) return 0;
    }
    ld->sp = start;
    return 1;
}
static int tl__ld_appends(tl__ld *ld, size_t start) {
    tl__pobj *l;
    size_t k;
    if (start == 0 || start > ld->sp) {
        TL__PK_FAIL(ld, "APPEND(S) with no list below its items");
        return 0;
    }
    l = ld->stack[start - 1];
    if (l->kind != TL__P_LIST) {
        TL__PK_FAIL(ld, "APPEND(S) on a %s (only lists take appends)", tl__pobj_names[l->kind]);
        return 0;
    }
    for (k = start; k < ld->sp; k++)
        if (!tl__pobj_add(ld, l, ld->stack[k])) return 0;
    ld->sp = start;
    return 1;
}

/* The unpickler is a stack machine over pickle opcodes (protocols 2-5): each opcode pushes an object
   (tl__pobj: None/bool/int/float/str/bytes, tuple/list/dict, a global, a persistent id, a built
   object), pops some to build another (TUPLE2, SETITEMS, REDUCE, BUILD), or moves objects between
   the stack and the memo (BINPUT/BINGET). MARK pushes a stack depth onto the mark stack; opcodes
   like TUPLE and APPENDS take everything above the last mark. Only allowlisted globals exist
   (torch._utils._rebuild_tensor_v2/_rebuild_parameter, collections.OrderedDict, torch.*Storage,
   ...); REDUCE of anything else is refused, so nothing is ever imported or executed. Persistent
   ids ('storage', type, key, location, numel) resolve to the zip record data/<key> through the
   storage index. Every count is checked against ld->lim as it grows: objects made (max_objects),
   container depth (max_depth), bytes of strings (max_string_bytes), values a memo reference
   re-expands (max_expanded_values), and storage bytes, so hostile files fail fast with a message
   naming the limit. Objects live on ld->all and are freed together when the load ends. */
/* Runs data.pkl; on success *result is the object STOP returned. */
static int tl__ld_unpickle(tl__ld *ld, tl__pobj **result) {
    *result = NULL;
    while (!ld->failed) {
        unsigned op;
        tl__pobj *o = NULL;
        size_t start;
        ld->oppos = ld->pos;
        if (ld->pos >= ld->pklen) {
            TL__PK_FAIL(ld, "truncated pickle: no STOP opcode");
            return 0;
        }
        op = ld->pk[ld->pos++];
        switch (op) {
        case 0x80: /* PROTO */
            if (!tl__ld_need(ld, 1)) return 0;
            if (ld->pk[ld->pos] < 2 || ld->pk[ld->pos] > 5) {
                TL__PK_FAIL(ld, "pickle protocol %u is not supported (torch.save writes 2)", ld->pk[ld->pos]);
                return 0;
            }
            ld->pos++;
            break;
        case 0x95: /* FRAME (protocol 4): a length we do not need */
            if (!tl__ld_need(ld, 8)) return 0;
            ld->pos += 8;
            break;
        case '.': /* STOP */
            if (ld->nmarks || ld->sp != 1) {
                TL__PK_FAIL(ld, "STOP with %lu values and %lu open MARKs on the stack (expected exactly one value)",
                            (unsigned long)ld->sp, (unsigned long)ld->nmarks);
                return 0;
            }
            if (ld->pos != ld->pklen) {
                TL__PK_FAIL(ld, "%lu bytes after STOP", (unsigned long)(ld->pklen - ld->pos));
                return 0;
            }
            *result = ld->stack[0];
            return 1;
        case '(': /* MARK */
            if (ld->nmarks >= 4096) {
                TL__PK_FAIL(ld, "MARKs nested deeper than 4096");
                return 0;
            }
            if (ld->nmarks == ld->mkcap) {
                size_t cap = ld->mkcap ? ld->mkcap * 2 : 16;
                size_t *m = (size_t *)tl__malloc(tl__szmul(cap, sizeof(size_t)));
                if (!m) {
                    tl__ld_fail(ld, TL_ERR_OOM, "out of memory for MARKs");
                    return 0;
                }
                if (ld->nmarks) memcpy(m, ld->marks, ld->nmarks * sizeof(size_t));
                tl__free(ld->marks);
                ld->marks = m;
                ld->mkcap = cap;
            }
            ld->marks[ld->nmarks++] = ld->sp;
            break;
        case ')': if (!tl__ld_push(ld, tl__ld_obj(ld, TL__P_TUPLE))) return 0; break;
        case ']': if (!tl__ld_push(ld, tl__ld_obj(ld, TL__P_LIST))) return 0; break;
        case '}': if (!tl__ld_push(ld, tl__ld_obj(ld, TL__P_DICT))) return 0; break;
        case 'N': if (!tl__ld_push(ld, tl__ld_obj(ld, TL__P_NONE))) return 0; break;
        case 't': /* TUPLE */
            if (!tl__ld_popmark(ld, &start) || !tl__ld_tuple_from(ld, start)) return 0;
            break;
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            size_t cnt = op - 0x84;
            if (tl__ld_avail(ld) < cnt) {
                TL__PK_FAIL(ld, "TUPLE%lu needs %lu items on the stack", (unsigned long)cnt, (unsigned long)cnt);
                return 0;
            }
            if (!tl__ld_tuple_from(ld, ld->sp - cnt)) return 0;
            break;
        }
        case 0x88: case 0x89: /* NEWTRUE / NEWFALSE */
            o = tl__ld_obj(ld, TL__P_BOOL);
            if (o) o->flag = op == 0x88;
            if (!tl__ld_push(ld, o)) return 0;
            break;
        case 'K': case 'M': case 'J': { /* BININT1 / BININT2 / BININT */
            size_t w = op == 'K' ? 1 : op == 'M' ? 2 : 4;
            if (!tl__ld_need(ld, w)) return 0;
            o = tl__ld_obj(ld, TL__P_INT);
            if (!o) return 0;
            o->i = op == 'K' ? ld->pk[ld->pos] : op == 'M' ? (int64_t)tl__rd16(ld->pk + ld->pos)
                                                           : (int64_t)(int32_t)tl__rd32(ld->pk + ld->pos);
            ld->pos += w;
            if (!tl__ld_push(ld, o)) return 0;
            break;
        }
        case 0x8a: case 0x8b: { /* LONG1 / LONG4: little-endian two's complement */
            uint64_t len, u = 0;
            size_t k;
            if (!tl__ld_need(ld, op == 0x8a ? 1 : 4)) return 0;
            len = op == 0x8a ? ld->pk[ld->pos] : tl__rd32(ld->pk + ld->pos);
            ld->pos += op == 0x8a ? 1 : 4;
            if (len > 8) {
                TL__PK_FAIL(ld, "integer of %llu bytes does not fit in int64", (unsigned long long)len);
                return 0;
            }
            if (!tl__ld_need(ld, (size_t)len)) return 0;
            for (k = 0; k < len; k++) u |= (uint64_t)ld->pk[ld->pos + k] << (8 * k);
            if (len > 0 && len < 8 && (ld->pk[ld->pos + len - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * len);
            ld->pos += (size_t)len;
            o = tl__ld_obj(ld, TL__P_INT);
            if (!o) return 0;
            memcpy(&o->i, &u, 8);
            if (!tl__ld_push(ld, o)) return 0;
            break;
        }
        case 'G': { /* BINFLOAT: big-endian double */
            uint64_t u = 0;
            int k;
            if (!tl__ld_need(ld, 8)) return 0;
            for (k = 0; k < 8; k++) u = (u << 8) | ld->pk[ld->pos + (size_t)k];
            ld->pos += 8;
            o = tl__ld_obj(ld, TL__P_FLOAT);
            if (!o) return 0;
            memcpy(&o->f, &u, 8);
            if (!tl__ld_push(ld, o)) return 0;
            break;
        }
        case 'X': case 0x8c: case 0x8d: case 'U': case 'T': { /* BINUNICODE, SHORT_BINUNICODE, BINUNICODE8, SHORT_BINSTRING, BINSTRING */
            size_t w = (op == 0x8c || op == 'U') ? 1 : op == 0x8d ? 8 : 4;
            uint64_t len;
            if (!tl__ld_need(ld, w)) return 0;
            len = w == 1 ? ld->pk[ld->pos] : w == 4 ? tl__rd32(ld->pk + ld->pos) : tl__rd64(ld->pk + ld->pos);
            if (op == 'T' && (len & 0x80000000u)) {
                TL__PK_FAIL(ld, "negative BINSTRING length");
                return 0;
            }
            ld->pos += w;
            if (len > ld->pklen - ld->pos) {
                TL__PK_FAIL(ld, "string of %llu bytes runs past the end of data.pkl", (unsigned long long)len);
                return 0;
            }
            o = tl__ld_obj(ld, TL__P_STR);
            if (!o) return 0;
            o->s = (const char *)ld->pk + ld->pos;
            o->slen = (size_t)len;
            ld->pos += (size_t)len;
            if (!tl__ld_push(ld, o)) return 0;
            break;
        }
        case 'c': { /* GLOBAL module\nname\n */
            const unsigned char *m = ld->pk + ld->pos, *nl1, *nl2;
            size_t left = ld->pklen - ld->pos;
            nl1 = (const unsigned char *)memchr(m, '\n', left < 256 ? left : 256);
            nl2 = nl1 ? (const unsigned char *)memchr(nl1 + 1, '\n', (size_t)(m + left - nl1 - 1) < 256 ? (size_t)(m + left - nl1 - 1) : 256) : NULL;
            if (!nl1 || !nl2) {
                TL__PK_FAIL(ld, "GLOBAL without 'module\\nname\\n'");
                return 0;
            }
            ld->pos += (size_t)(nl2 + 1 - m);
            if (!tl__ld_global(ld, (const char *)m, (size_t)(nl1 - m), (const char *)nl1 + 1, (size_t)(nl2 - nl1 - 1))) return 0;
            break;
        }
        case 0x93: { /* STACK_GLOBAL (protocol 4) */
            tl__pobj *name = tl__ld_pop(ld), *mod = name ? tl__ld_pop(ld) : NULL;
            if (!mod) return 0;
            if (mod->kind != TL__P_STR || name->kind != TL__P_STR) {
                TL__PK_FAIL(ld, "STACK_GLOBAL needs two strings");
                return 0;
            }
            if (!tl__ld_global(ld, mod->s, mod->slen, name->s, name->slen)) return 0;
            break;
        }
        case 'R': { /* REDUCE */
            tl__pobj *args = tl__ld_pop(ld), *fn = args ? tl__ld_pop(ld) : NULL;
            if (!fn || !tl__ld_push(ld, tl__ld_call(ld, fn, args, 0))) return 0;
            break;
        }
        case 'b': { /* BUILD: only OrderedDict's __dict__ (state_dict _metadata) */
            tl__pobj *state = tl__ld_pop(ld), *target = state ? tl__ld_top(ld) : NULL;
            size_t k;
            if (!target) return 0;
            if (target->kind == TL__P_TENSOR && tl__ld_empty_arg(ld, state, "tensor BUILD state")) break;
            if (ld->failed) return 0;
            if (target->kind != TL__P_DICT || !target->flag || state->kind != TL__P_DICT) {
                TL__PK_FAIL(ld, "BUILD of a %s with a %s state (only an OrderedDict's attributes are supported)",
                            tl__pobj_names[target->kind], tl__pobj_names[state->kind]);
                return 0;
            }
            for (k = 0; k < state->n; k += 2)
                if (tl__pobj_is_str(state->items[k], "_metadata")) target->meta = state->items[k + 1];
            break;
        }
        case 'Q': if (!tl__ld_persid(ld)) return 0; break;
        case 's': /* SETITEM */
            if (tl__ld_avail(ld) < 3) {
                TL__PK_FAIL(ld, "SETITEM needs a dict, a key and a value on the stack");
                return 0;
            }
            if (!tl__ld_setitems(ld, ld->sp - 2)) return 0;
            break;
        case 'u': if (!tl__ld_popmark(ld, &start) || !tl__ld_setitems(ld, start)) return 0; break;
        case 'a':
            if (tl__ld_avail(ld) < 2) {
                TL__PK_FAIL(ld, "APPEND needs a list and a value on the stack");
                return 0;
            }
            if (!tl__ld_appends(ld, ld->sp - 1)) return 0;
            break;
        case 'e': if (!tl__ld_popmark(ld, &start) || !tl__ld_appends(ld, start)) return 0; break;
        case 'q':
            if (!tl__ld_need(ld, 1) || !tl__ld_memo_put(ld, ld->pk[ld->pos++])) return 0;
            break;
        case 'r':
            if (!tl__ld_need(ld, 4)) return 0;
            ld->pos += 4;
            if (!tl__ld_memo_put(ld, tl__rd32(ld->pk + ld->pos - 4))) return 0;
            break;
        case 0x94: if (!tl__ld_memo_put(ld, ld->memolen)) return 0; break; /* MEMOIZE */
        case 'h':
            if (!tl__ld_need(ld, 1) || !tl__ld_memo_get(ld, ld->pk[ld->pos++])) return 0;
            break;
        case 'j':
            if (!tl__ld_need(ld, 4)) return 0;
            ld->pos += 4;
            if (!tl__ld_memo_get(ld, tl__rd32(ld->pk + ld->pos - 4))) return 0;
            break;
        default: {
            const char *name = op == 'i' ? "INST" : op == 'o' ? "OBJ" : op == 0x81 ? "NEWOBJ" : op == 0x92 ? "NEWOBJ_EX"
                             : op == 'P' ? "PERSID" : op == 0x8f ? "EMPTY_SET" : op == 'I' ? "INT" : op == 'L' ? "LONG"
                             : op == 'V' ? "UNICODE" : op == 'S' ? "STRING" : op == 'F' ? "FLOAT" : op == 'g' ? "GET"
                             : op == 'p' ? "PUT" : op == '0' ? "POP" : op == '2' ? "DUP" : "unknown";
            TL__PK_FAIL(ld, "opcode 0x%02x (%s) is not in the supported subset", op, name);
            return 0;
        }
        }
    }
    return 0;
}

/* Converts the unpickled object graph into a tl_value tree. Shared containers are copied (tensors
   stay shared: one tl_tensor, more references); cycles and runaway nesting or expansion are refused. */
/* Converts an unpickled object to a value tree. Objects referenced more than once (memo) are
   converted once per reference, as Python sees one object in several places; those repeated
   conversions ("expansion") are what a memo bomb multiplies, so they are counted against
   ld->expand_cap, and every str's bytes against max_string_bytes. */
static tl_value *tl__ld_conv(tl__ld *ld, tl__pobj *o, int depth, int shared) {
    tl_value *v = NULL;
    size_t k;
    if (depth > ld->lim.max_depth) {
        tl__ld_fail(ld, TL_ERR_FORMAT, "containers nested deeper than %d levels (tl_load_opts.max_depth; raise it and load "
                    "with tl_load_ex or tl_load_from_buffer_opts)", ld->lim.max_depth);
        return NULL;
    }
    shared |= o->converted;
    o->converted = 1;
    if (shared && ld->expand_cap >= 0 && ++ld->expanded > ld->expand_cap) {
        tl__ld_fail(ld, TL_ERR_FORMAT, "shared (memoized) objects expand to more than %lld extra values "
                    "(tl_load_opts.max_expanded_values; raise it and load with tl_load_ex or tl_load_from_buffer_opts)",
                    (long long)ld->expand_cap);
        return NULL;
    }
    if (o->kind == TL__P_STR &&
        !tl__ld_charge(ld, &ld->string_bytes, o->slen, ld->lim.max_string_bytes, "the strings of the loaded tree",
                       "max_string_bytes"))
        return NULL;
    if (o->visiting) {
        tl__ld_fail(ld, TL_ERR_FORMAT, "a %s contains itself (recursive structures are not supported)", tl__pobj_names[o->kind]);
        return NULL;
    }
    switch (o->kind) {
    case TL__P_NONE: v = tl_value_none(); break;
    case TL__P_BOOL: v = tl_value_bool(o->flag); break;
    case TL__P_INT: v = tl_value_int(o->i); break;
    case TL__P_FLOAT: v = tl_value_float(o->f); break;
    case TL__P_STR: v = tl__value_str(ld->op, o->s, o->slen); break;
    case TL__P_TENSOR: v = tl__value_tensor(ld->op, o->t, o->flag); break;
    case TL__P_TUPLE: case TL__P_LIST: case TL__P_DICT:
        v = tl__value_new(ld->op, o->kind == TL__P_TUPLE ? TL_VALUE_TUPLE : o->kind == TL__P_LIST ? TL_VALUE_LIST : TL_VALUE_DICT);
        if (!v) break;
        v->flag = o->kind == TL__P_DICT ? o->flag : 0;
        o->visiting = 1;
        for (k = 0; k < o->n; k++) {
            tl_value *item = tl__ld_conv(ld, o->items[k], depth + 1, shared);
            tl_status st;
            if (!item) {
                o->visiting = 0;
                tl_value_free(v);
                return NULL;
            }
            if (o->kind == TL__P_DICT) {
                tl_value *val = tl__ld_conv(ld, o->items[++k], depth + 1, shared);
                if (!val) {
                    tl_value_free(item);
                    o->visiting = 0;
                    tl_value_free(v);
                    return NULL;
                }
                st = tl__dict_set(ld->op, v, item, val);
            } else {
                st = tl_value_append(v, item);
            }
            if (st) {
                ld->failed = 1;
                o->visiting = 0;
                tl_value_free(v);
                return NULL;
            }
        }
        if (o->meta) {
            if (o->meta->kind != TL__P_DICT) {
                tl__ld_fail(ld, TL_ERR_FORMAT, "_metadata is a %s, not a dict", tl__pobj_names[o->meta->kind]);
                o->visiting = 0;
                tl_value_free(v);
                return NULL;
            }
            v->meta = tl__ld_conv(ld, o->meta, depth + 1, shared);
            if (!v->meta) {
                o->visiting = 0;
                tl_value_free(v);
                return NULL;
            }
        }
        o->visiting = 0;
        return v;
    default:
        tl__ld_fail(ld, TL_ERR_FORMAT, "a bare %s is not a supported value", tl__pobj_names[o->kind]);
        return NULL;
    }
    if (!v) ld->failed = 1;
    return v;
}

static void tl__ld_free(tl__ld *ld) {
    size_t k;
    while (ld->all) {
        tl__pobj *o = ld->all;
        ld->all = o->next;
        if (o->t) tl__release(o->t);
        tl__free(o->items);
        tl__free(o);
    }
    for (k = 0; k < ld->nstores; k++) tl__storage_release(ld->stores[k].st);
    tl__free(ld->stores);
    tl__free(ld->stack);
    tl__free(ld->marks);
    tl__free(ld->memo);
    tl__free(ld->ents);
    tl__idx_free(&ld->zidx);
    tl__idx_free(&ld->sidx);
}

/* ===== load ===== */

static int tl__has_prefix(const unsigned char *p, size_t n, const char *magic, size_t mlen) {
    return n >= mlen && memcmp(p, magic, mlen) == 0;
}

/* Loads the archive in p[0..n). block: the read buffer tensors may alias (NULL = copy). */
TLDEF tl_load_opts tl_load_opts_default(void) {
    tl_load_opts o;
    memset(&o, 0, sizeof o);
    o.max_inflated_bytes = TL_LOAD_MAX_INFLATED;
    o.max_string_bytes = TL_LOAD_MAX_STRINGS;
    o.max_objects = TL_LOAD_MAX_OBJECTS;
    o.max_depth = TL_LOAD_MAX_DEPTH;
    return o;
}

static tl_value *tl__ckpt_load(const char *op, const char *src, const unsigned char *p, size_t n, tl__rblock *block,
                               const tl_load_opts *opts) {
    tl__ld ld;
    const tl__zent *e;
    const unsigned char *rec;
    unsigned char *owned = NULL;
    tl__pobj *root;
    tl_value *v = NULL;
    static const unsigned char legacy[14] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    memset(&ld, 0, sizeof ld);
    ld.op = op;
    ld.src = src;
    ld.p = p;
    ld.n = n;
    ld.block = block;
    ld.lim = opts ? *opts : tl_load_opts_default();
    if (ld.lim.max_depth <= 0) ld.lim.max_depth = TL_LOAD_MAX_DEPTH;
    if (ld.lim.max_input_bytes && (uint64_t)n > ld.lim.max_input_bytes) {
        tl__ld_fail(&ld, TL_ERR_FORMAT, "the input has %llu bytes, more than the limit of %llu (tl_load_opts.max_input_bytes; "
                    "raise it and load with tl_load_ex or tl_load_from_buffer_opts)", (unsigned long long)n,
                    (unsigned long long)ld.lim.max_input_bytes);
        return NULL;
    }
    if (!tl__host_is_little()) {
        tl__ld_fail(&ld, TL_ERR_STATE, "loading on a big-endian host is not supported yet");
        return NULL;
    }
    /* format detection (section 8) */
    if (!tl__has_prefix(p, n, "PK\x03\x04", 4)) {
        if (tl__has_prefix(p, n, (const char *)legacy, sizeof legacy))
            tl__ld_fail(&ld, TL_ERR_FORMAT, "legacy torch.save format (PyTorch < 1.6 or _use_new_zipfile_serialization=False) "
                                            "is not supported; load it in PyTorch and torch.save it again");
        else if (n > 262 && memcmp(p + 257, "ustar", 5) == 0)
            tl__ld_fail(&ld, TL_ERR_FORMAT, "tar-based torch.save format (PyTorch <= 0.3) is not supported");
        else if (tl__has_prefix(p, n, "PYTORCH1", 8))
            tl__ld_fail(&ld, TL_ERR_FORMAT, "PYTORCH1 container (a preview-release format) is not supported");
        else if (tl__has_prefix(p, n, "\x1f\x8b", 2))
            tl__ld_fail(&ld, TL_ERR_FORMAT, "gzip-compressed data, not a torch.save file (decompress it first)");
        else if (n >= 1 && p[0] == 0x80)
            tl__ld_fail(&ld, TL_ERR_FORMAT, "a bare pickle stream, not a torch.save zip archive");
        else
            tl__ld_fail(&ld, TL_ERR_FORMAT, "not a torch.save file (it does not start with the zip signature PK\\3\\4)");
        return NULL;
    }
    tl__crc_init(&ld.crc);
    if (!tl__zip_parse(&ld) || !tl__zip_index(&ld)) goto done;
    if (tl__zip_find(&ld, "constants.pkl", 13)) {
        tl__ld_fail(&ld, TL_ERR_FORMAT, "this is a TorchScript archive (torch.jit.save: it has constants.pkl), not a torch.save "
                                        "checkpoint; save the module's state_dict() with torch.save instead");
        goto done;
    }
    e = tl__zip_find(&ld, "version", 7);
    if (!e) e = tl__zip_find(&ld, ".data/version", 13);
    if (!e) {
        tl__ld_fail(&ld, TL_ERR_FORMAT, "the archive has no 'version' record (torch.load requires it)");
        goto done;
    }
    if (!tl__zip_read(&ld, e, &rec, &owned)) goto done;
    {
        uint64_t ver = 0, k;
        int digits = 0;
        for (k = 0; k < e->usize && rec[k] >= '0' && rec[k] <= '9' && ver < 1000; k++, digits++) ver = ver * 10 + (rec[k] - '0');
        while (k < e->usize && (rec[k] == '\n' || rec[k] == '\r' || rec[k] == ' ')) k++;
        tl__free(owned);
        owned = NULL;
        if (!digits || k != e->usize || ver < 1 || ver > 10) {
            tl__ld_fail(&ld, TL_ERR_FORMAT, "unsupported archive version record (torch.save writes '3'; 1 to 10 are readable)");
            goto done;
        }
    }
    e = tl__zip_find(&ld, "byteorder", 9);
    if (e) {
        if (!tl__zip_read(&ld, e, &rec, &owned)) goto done;
        if (e->usize == 3 && memcmp(rec, "big", 3) == 0) ld.swap = 1;
        else if (!(e->usize == 6 && memcmp(rec, "little", 6) == 0)) {
            tl__ld_fail(&ld, TL_ERR_FORMAT, "byteorder record must be 'little' or 'big'");
            goto done;
        }
        tl__free(owned);
        owned = NULL;
    }
    e = tl__zip_find(&ld, "data.pkl", 8);
    if (!e) {
        tl__ld_fail(&ld, TL_ERR_FORMAT, "the archive has no data.pkl record");
        goto done;
    }
    if (!tl__zip_read(&ld, e, &rec, &owned)) goto done;
    ld.pk = rec;
    ld.pklen = (size_t)e->usize;
    if (tl__ld_unpickle(&ld, &root)) {
        ld.expand_cap = ld.lim.max_expanded_values > 0 ? ld.lim.max_expanded_values
                        : ld.lim.max_expanded_values < 0 ? -1 : (ld.nobj > 65536 ? (int64_t)ld.nobj : 65536);
        v = tl__ld_conv(&ld, root, 0, 0);
    }
done:
    if (ld.failed && !tl__tls.status) TL__FAIL(TL_ERR_FORMAT, "%s: %s: load failed", op, src);
    if (ld.failed) {
        tl_value_free(v);
        v = NULL;
    }
    tl__ld_free(&ld); /* strings were copied by tl__ld_conv: data.pkl can go now */
    tl__free(owned);
    return v;
}

TLDEF tl_value *tl_load_from_buffer_opts(const void *data, size_t size, const tl_load_opts *opts) {
    if (tl__null_in("tl_load_from_buffer", data)) return NULL;
    return tl__ckpt_load("tl_load_from_buffer", "buffer", (const unsigned char *)data, size, NULL, opts);
}
TLDEF tl_value *tl_load_from_buffer(const void *data, size_t size) { return tl_load_from_buffer_opts(data, size, NULL); }
TLDEF tl_value *tl_load_from_buffer_ex_opts(void *data, size_t size, void (*release)(void *data, void *user), void *user,
                                            const tl_load_opts *opts) {
    tl__rblock *b;
    tl_value *v;
    if (tl__null_in("tl_load_from_buffer_ex", data)) return NULL;
    b = (tl__rblock *)tl__malloc(sizeof(tl__rblock));
    if (!b) {
        if (release) release(data, user);
        return TL__FAILV(TL_ERR_OOM, "tl_load_from_buffer_ex: out of memory");
    }
    b->refcount = 1;
    b->data = data;
    b->owned = 0;
    b->release = release;
    b->user = user;
    v = tl__ckpt_load("tl_load_from_buffer_ex", "buffer", (const unsigned char *)data, size, b, opts);
    tl__rblock_unref(data, b);
    return v;
}
TLDEF tl_value *tl_load_from_buffer_ex(void *data, size_t size, void (*release)(void *data, void *user), void *user) {
    return tl_load_from_buffer_ex_opts(data, size, release, user, NULL);
}
#ifndef TL_NO_STDIO
/* Reads the whole file at path into a new buffer (*buf, free with tl__free; *len bytes, plus 64
   bytes of slack that keep alignment guarantees meaningful for empty files). A file over max_bytes
   (0: no limit) is refused before it is read, naming limit_name. Records an error naming op and
   path on failure. Also used by the data readers (>>data). */
static tl_status tl__read_file(const char *op, const char *path, uint64_t max_bytes, const char *limit_name,
                               unsigned char **buf, size_t *len) {
    FILE *f;
    long n;
    *buf = NULL;
    *len = 0;
    f = fopen(path, "rb");
    if (!f) return TL__FAIL(TL_ERR_IO, "%s: cannot open '%s'", op, path);
    /* a directory opens on POSIX but cannot be read (and its "size" is 2^63 - 1) */
    if (fgetc(f) == EOF && ferror(f)) {
        fclose(f);
        return TL__FAIL(TL_ERR_IO, "%s: cannot read '%s' (is it a directory?)", op, path);
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return TL__FAIL(TL_ERR_IO, "%s: cannot determine the size of '%s'", op, path);
    }
    if (max_bytes && (uint64_t)n > max_bytes) {
        fclose(f);
        return TL__FAIL(TL_ERR_FORMAT, "%s: %s: the file has %ld bytes, more than the limit of %llu (%s)", op, path, n,
                        (unsigned long long)max_bytes, limit_name);
    }
    *buf = (unsigned char *)tl__malloc(tl__szadd((size_t)n, 64));
    if (!*buf) {
        fclose(f);
        return TL__FAIL(TL_ERR_OOM, "%s: out of memory reading '%s' (%ld bytes)", op, path, n);
    }
    if (fread(*buf, 1, (size_t)n, f) != (size_t)n) {
        tl__free(*buf);
        *buf = NULL;
        fclose(f);
        return TL__FAIL(TL_ERR_IO, "%s: reading '%s' failed", op, path);
    }
    fclose(f);
    *len = (size_t)n;
    return TL_OK;
}
TLDEF tl_value *tl_load(const char *path) { return tl_load_ex(path, NULL); }
TLDEF tl_value *tl_load_ex(const char *path, const tl_load_opts *opts) {
    size_t len;
    unsigned char *buf;
    tl__rblock *b;
    tl_value *v;
    if (tl__null_in("tl_load", path)) return NULL;
    if (tl__read_file("tl_load", path, opts ? opts->max_input_bytes : 0,
                      "tl_load_opts.max_input_bytes; raise it and load with tl_load_ex", &buf, &len) != TL_OK)
        return NULL;
    b = (tl__rblock *)tl__malloc(sizeof(tl__rblock));
    if (!b) {
        tl__free(buf);
        return TL__FAILV(TL_ERR_OOM, "tl_load: out of memory reading '%s'", path);
    }
    b->refcount = 1;
    b->data = buf;
    b->owned = 1;
    b->release = NULL;
    b->user = NULL;
    v = tl__ckpt_load("tl_load", path, buf, len, b, opts);
    tl__rblock_unref(buf, b);
    return v;
}
#endif

/* ===== >>random =============================================================================== */
/* PyTorch's CPU generator and the samplers built on it, reproduced bit for bit. The specification
   is TORCH_RNG.md (torch 1.13.1 read and verified against its binary); section numbers below (§)
   refer to it.

   Build variant. Some torch results depend on how torch itself was compiled: its AVX2 kernels
   (chosen at run time on every x86-64 CPU with AVX2+FMA, i.e. nearly all since 2013, and also on
   AVX512 machines because 1.13 registers no AVX512 normal kernel) let GCC fuse a*b+c into one FMA;
   its DEFAULT kernels (old CPUs, or ATEN_CPU_CAPABILITY=default) do not. We reproduce the AVX2
   build: fmaf/fma appear exactly where that build fuses (marked FMA below) and nowhere else, and
   every other operation is written so that a compiler that contracts a*b+c on its own (GCC's
   -ffp-contract=fast default outside ISO C modes, clang's per-expression contraction) either
   cannot or provably changes nothing (the products it could fuse are exact). fmaf/fma are libm's
   correctly rounded functions, so the results do not depend on this library's compile flags or on
   the CPU; do not build with -ffast-math, and do not use x87 arithmetic (FLT_EVAL_METHOD must be
   0, as on x86-64/ARM64). log/sin/cos/logf/sinf/cosf are the C library's: glibc matches torch on
   Linux (other libms are not guaranteed to round the same way).

   Generators. tl_generator holds the 624-word mt19937 state with torch's counters (left, next),
   the 64-bit initial seed and the normal caches. Each thread has a default generator in TLS; a
   zeroed one means "not seeded yet" and is seeded with 67280421310721 (what torch.Generator()
   uses) on first use. torch seeds its process-wide default generator from /dev/urandom instead;
   we prefer a reproducible default (tl_seed() gives the non-deterministic one). So a new thread
   starts with the same stream as every other new thread: seed worker threads yourself. */

#include <time.h>

#define TL__MT_N 624
#define TL__MT_M 397
#define TL__RNG_DEFAULT_SEED UINT64_C(67280421310721)
#define TL__RNG_STATE_BYTES 5056 /* sizeof(CPUGeneratorImplState) */
#define TL__RNG_STATE_LEGACY 5048 /* sizeof(THGeneratorState), still accepted by torch */

struct tl_generator {
    uint32_t s[TL__MT_N];
    int left;          /* draws until the next twist (1 right after seeding: the first draw twists) */
    uint32_t next;     /* index of the next state word */
    uint64_t seed;     /* initial_seed(): all 64 bits */
    int seeded;        /* 0: not seeded yet */
    int heap;          /* 1: made by tl_generator_new (tl_generator_free frees it) */
    int has_dcache;    /* a cached normal from the scalar Box-Muller path (§4.2) */
    double dcache;
    int has_fcache;    /* torch's float cache: no sampler uses it; kept for get/set_state */
    float fcache;
};

static TL__TLS tl_generator tl__rng; /* this thread's default generator (zero = unseeded) */

/* ---- the engine (§1) ---- */

static void tl__mt_seed(tl_generator *g, uint64_t seed) {
    uint32_t *s = g->s;
    int j;
    s[0] = (uint32_t)(seed & 0xffffffffu); /* only the low word seeds the state */
    for (j = 1; j < TL__MT_N; j++) s[j] = 1812433253u * (s[j - 1] ^ (s[j - 1] >> 30)) + (uint32_t)j;
    g->left = 1;
    g->next = 0;
    g->seed = seed;
    g->seeded = 1;
    g->has_dcache = 0;
    g->dcache = 0;
    g->has_fcache = 0;
    g->fcache = 0;
}
static void tl__mt_twist(uint32_t *s) {
    int i;
#define TL__MT_MIX(a, b, c) ((c) ^ ((((a) & 0x80000000u) | ((b) & 0x7fffffffu)) >> 1) ^ (((b) & 1u) ? 0x9908b0dfu : 0u))
    for (i = 0; i < TL__MT_N - TL__MT_M; i++) s[i] = TL__MT_MIX(s[i], s[i + 1], s[i + TL__MT_M]);
    for (; i < TL__MT_N - 1; i++) s[i] = TL__MT_MIX(s[i], s[i + 1], s[i + TL__MT_M - TL__MT_N]);
    s[TL__MT_N - 1] = TL__MT_MIX(s[TL__MT_N - 1], s[0], s[TL__MT_M - 1]);
#undef TL__MT_MIX
}
/* random(): one tempered 32-bit word. */
static uint32_t tl__mt_u32(tl_generator *g) {
    uint32_t y;
    if (--g->left <= 0) {
        tl__mt_twist(g->s);
        g->left = TL__MT_N;
        g->next = 0;
    }
    y = g->s[g->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}
/* random64(): the first word is the high half. */
static uint64_t tl__mt_u64(tl_generator *g) {
    uint64_t hi = tl__mt_u32(g);
    return (hi << 32) | tl__mt_u32(g);
}
/* §3.1: float32 uniform in [0,1) from the LOW 24 bits of one word (exact). */
static float tl__u24(tl_generator *g) { return (float)(tl__mt_u32(g) & 0xffffffu) * 5.9604644775390625e-08f; }
/* §3.2: float64 uniform in [0,1) from the low 53 bits of random64 (exact). */
static double tl__u53(tl_generator *g) {
    return (double)(tl__mt_u64(g) & UINT64_C(0x1fffffffffffff)) * 1.1102230246251565404236316680908203125e-16;
}

/* A splitmix64 finaliser over whatever entropy is around (tl_seed). */
static uint64_t tl__rng_entropy(void) {
    static TL__TLS uint64_t calls;
    uint64_t x = (uint64_t)time(NULL) * UINT64_C(0x9e3779b97f4a7c15);
    x ^= (uint64_t)clock() << 21;
    x ^= (uint64_t)(size_t)&x; /* stack address: differs per thread and, with ASLR, per run */
    x ^= ++calls * UINT64_C(0xbf58476d1ce4e5b9);
#if !defined(TL_NO_STDIO) && !defined(_WIN32)
    {
        FILE *f = fopen("/dev/urandom", "rb");
        if (f) {
            uint64_t y = 0;
            if (fread(&y, sizeof y, 1, f) == 1) x ^= y;
            fclose(f);
        }
    }
#endif
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* The generator an op uses: g, or this thread's default (seeded on first use). */
static tl_generator *tl__gen(tl_generator *g) {
    if (!g) g = &tl__rng;
    if (!g->seeded) tl__mt_seed(g, TL__RNG_DEFAULT_SEED);
    return g;
}

/* ---- generator API ---- */

TLDEF void tl_manual_seed(uint64_t seed) { tl__mt_seed(&tl__rng, seed); }
TLDEF uint64_t tl_initial_seed(void) { return tl__gen(NULL)->seed; }
TLDEF uint64_t tl_seed(void) {
    uint64_t s = tl__rng_entropy();
    tl__mt_seed(&tl__rng, s);
    return s;
}
TLDEF tl_generator *tl_generator_new(uint64_t seed) {
    tl_generator *g = (tl_generator *)tl__malloc(sizeof(tl_generator));
    if (!g) {
        TL__FAIL(TL_ERR_OOM, "tl_generator_new: out of memory (%lu bytes)", (unsigned long)sizeof(tl_generator));
        return NULL;
    }
    memset(g, 0, sizeof *g);
    tl__mt_seed(g, seed);
    g->heap = 1;
    return g;
}
TLDEF void tl_generator_free(tl_generator *g) {
    if (g && g != &tl__rng && g->heap) tl__free(g); /* never a thread's default generator */
}
TLDEF tl_generator *tl_default_generator(void) { return tl__gen(NULL); }
TLDEF void tl_generator_manual_seed(tl_generator *g, uint64_t seed) { tl__mt_seed(g ? g : &tl__rng, seed); }
TLDEF uint64_t tl_generator_initial_seed(tl_generator *g) { return tl__gen(g)->seed; }
TLDEF uint32_t tl_generator_next_u32(tl_generator *g) { return tl__mt_u32(tl__gen(g)); }
TLDEF uint64_t tl_generator_next_u64(tl_generator *g) { return tl__mt_u64(tl__gen(g)); }

/* Little-endian field access for the state blob (§1.6). */
static void tl__put_le(uint8_t *p, uint64_t v, int n) {
    int i;
    for (i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t tl__get_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    int i;
    for (i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
/* torch's get_state layout: u64 seed @0, i32 left @8, i32 seeded @12, u64 next @16, 624 x u64
   words @24, f64 normal_x @5016 (0), f64 normal_y @5024 (the cached normal), f64 normal_rho @5032
   (0), i32 normal_is_valid @5040, f32 float cache @5048, u8 valid @5052; padding zero. */
TLDEF tl_tensor *tl_generator_get_state(tl_generator *g) {
    int64_t n = TL__RNG_STATE_BYTES;
    uint8_t *p;
    uint64_t bits;
    uint32_t fb;
    int i;
    tl_tensor *t = tl__new(g ? "tl_generator_get_state" : "tl_get_rng_state", 1, &n, TL_U8);
    if (!t) return NULL;
    g = tl__gen(g);
    p = (uint8_t *)tl__ptr(t);
    memset(p, 0, (size_t)n);
    tl__put_le(p, g->seed, 8);
    tl__put_le(p + 8, (uint64_t)(uint32_t)g->left, 4);
    tl__put_le(p + 12, 1, 4);
    tl__put_le(p + 16, g->next, 8);
    for (i = 0; i < TL__MT_N; i++) tl__put_le(p + 24 + 8 * i, g->s[i], 8);
    if (g->has_dcache) {
        memcpy(&bits, &g->dcache, 8);
        tl__put_le(p + 5024, bits, 8);
        tl__put_le(p + 5040, 1, 4);
    }
    if (g->has_fcache) {
        memcpy(&fb, &g->fcache, 4);
        tl__put_le(p + 5048, fb, 4);
        p[5052] = 1;
    }
    return tl__ret(t);
}
TLDEF tl_tensor *tl_get_rng_state(void) { return tl_generator_get_state(NULL); }

/* torch's set_state: the current (5056) or legacy (5048) layout; the legacy one stores the cached
   normal as normal_rho * sin(2*pi*normal_x), the current one as normal_y. Words are truncated to
   32 bits; the state must be "valid" (seeded, 1 <= left <= 624, next <= 624). */
TLDEF tl_status tl_generator_set_state(tl_generator *g, const tl_tensor *state) {
    const char *op = g ? "tl_generator_set_state" : "tl_set_rng_state";
    tl_tensor *c;
    const uint8_t *p;
    int64_t n;
    int64_t left;
    uint32_t next;
    int i;
    TL__CHECK1S(op, state);
    if (state->dtype != TL_U8)
        return TL__FAIL(TL_ERR_DTYPE, "%s: RNG state must be a uint8 tensor (torch.ByteTensor), got %s", op,
                        TL__DT(state));
    n = tl__prod(state->ndim, state->shape);
    if (n != TL__RNG_STATE_BYTES && n != TL__RNG_STATE_LEGACY)
        return TL__FAIL(TL_ERR_ARG, "%s: expected either a legacy RNG state of size %d or a state of size %d but "
                        "found the input RNG state size to be %lld", op, TL__RNG_STATE_LEGACY, TL__RNG_STATE_BYTES,
                        (long long)n);
    c = tl__contig(op, state);
    if (!c) return tl__tls.status;
    p = (const uint8_t *)tl__ptr(c);
    left = (int64_t)(int32_t)(uint32_t)tl__get_le(p + 8, 4);
    next = (uint32_t)tl__get_le(p + 16, 8);
    if (tl__get_le(p + 12, 4) == 0 || left < 1 || left > TL__MT_N || next > TL__MT_N) {
        tl__release(c);
        return TL__FAIL(TL_ERR_ARG, "%s: invalid mt19937 state (seeded %u, left %lld, next %u)", op,
                        (unsigned)tl__get_le(p + 12, 4), (long long)left, (unsigned)next);
    }
    g = tl__gen(g);
    g->seed = tl__get_le(p, 8);
    g->left = (int)left;
    g->next = next;
    for (i = 0; i < TL__MT_N; i++) g->s[i] = (uint32_t)tl__get_le(p + 24 + 8 * i, 8);
    g->has_dcache = tl__get_le(p + 5040, 4) != 0;
    g->dcache = 0;
    if (g->has_dcache) {
        uint64_t b;
        double x, rho;
        if (n == TL__RNG_STATE_BYTES) {
            b = tl__get_le(p + 5024, 8);
            memcpy(&g->dcache, &b, 8);
        } else {
            b = tl__get_le(p + 5016, 8);
            memcpy(&x, &b, 8);
            b = tl__get_le(p + 5032, 8);
            memcpy(&rho, &b, 8);
            g->dcache = rho * sin(2.0 * 3.141592653589793238462643383279502884 * x);
        }
    }
    g->has_fcache = 0;
    g->fcache = 0;
    if (n == TL__RNG_STATE_BYTES && p[5052]) {
        uint32_t fb = (uint32_t)tl__get_le(p + 5048, 4);
        memcpy(&g->fcache, &fb, 4);
        g->has_fcache = 1;
    }
    tl__release(c);
    return TL_OK;
}
TLDEF tl_status tl_set_rng_state(const tl_tensor *state) { return tl_generator_set_state(NULL, state); }

/* ---- float32 Box-Muller of torch's AVX2 kernel (§4.3): Cephes log and sincos as avx_mathfun.h
   computes them, with the FMAs GCC generated for that binary ---- */

static float tl__fbits(uint32_t b) {
    float f;
    memcpy(&f, &b, 4);
    return f;
}
static uint32_t tl__bitsf(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}
typedef struct tl__cephes {
    float sqrthf, p[9], q1, q2, min_norm;        /* log */
    float fopi, dp1, dp2, dp3, s[3], c[3], twopi; /* sincos; 2*pi as float */
} tl__cephes;
static void tl__cephes_init(tl__cephes *k) {
    static const uint32_t pb[9] = {0x3d9021bbu, 0xbdebd1b8u, 0x3def251au, 0xbdfe5d4fu, 0x3e11e9bfu,
                                   0xbe2aae50u, 0x3e4cceacu, 0xbe7ffffcu, 0x3eaaaaaau};
    int i;
    k->sqrthf = tl__fbits(0x3f3504f3u);
    for (i = 0; i < 9; i++) k->p[i] = tl__fbits(pb[i]);
    k->q1 = tl__fbits(0xb95e8083u);
    k->q2 = tl__fbits(0x3f318000u);
    k->min_norm = tl__fbits(0x00800000u);
    k->fopi = tl__fbits(0x3fa2f983u);
    k->dp1 = tl__fbits(0xbf490000u);
    k->dp2 = tl__fbits(0xb97da000u);
    k->dp3 = tl__fbits(0xb3222169u);
    k->s[0] = tl__fbits(0xb94ca1f9u);
    k->s[1] = tl__fbits(0x3c08839eu);
    k->s[2] = tl__fbits(0xbe2aaaa3u);
    k->c[0] = tl__fbits(0x37ccf5ceu);
    k->c[1] = tl__fbits(0xbab6061au);
    k->c[2] = tl__fbits(0x3d2aaaa5u);
    k->twopi = tl__fbits(0x40c90fdbu);
}
/* log256_ps for x in (0, 1]. */
static float tl__cephes_log(const tl__cephes *k, float x) {
    uint32_t b;
    float e, m, t, z, y;
    int i;
    if (!(x > k->min_norm)) x = k->min_norm;
    b = tl__bitsf(x);
    e = (float)((int32_t)(b >> 23) - 127) + 1.0f;
    m = tl__fbits((b & 0x807fffffu) | 0x3f000000u);
    if (m < k->sqrthf) {
        e = e - 1.0f;
        t = (m - 1.0f) + m;
    } else {
        t = m - 1.0f;
    }
    z = t * t;
    y = k->p[0];
    for (i = 1; i < 9; i++) y = fmaf(y, t, k->p[i]); /* FMA */
    y = y * t;
    y = fmaf(y, z, e * k->q1); /* FMA; e*q1 rounded first */
    y = y - 0.5f * z;          /* 0.5*z is exact: fusing it changes nothing */
    return (t + y) + e * k->q2; /* e*q2 is exact (q2 has 9 significant bits) */
}
/* sincos256_ps for th >= 0. */
static void tl__cephes_sincos(const tl__cephes *k, float th, float *sn, float *cs) {
    uint32_t sign_sin = tl__bitsf(th) & 0x80000000u, sign_cos;
    float a = fabsf(th), y, r, z, c, s, S, C;
    int32_t j = (int32_t)(a * k->fopi);
    j = (j + 1) & ~1;
    y = (float)j;
    sign_sin ^= (uint32_t)(j & 4) << 29;
    sign_cos = (uint32_t)(~(j - 2) & 4) << 29;
    r = fmaf(y, k->dp1, a); /* FMA x3: extended-precision reduction */
    r = fmaf(y, k->dp2, r);
    r = fmaf(y, k->dp3, r);
    z = r * r;
    c = fmaf(k->c[0], z, k->c[1]); /* FMA */
    c = fmaf(c, z, k->c[2]);       /* FMA */
    c = c * z;
    c = fmaf(c, z, -(0.5f * z)); /* FMA */
    c = c + 1.0f;
    s = fmaf(k->s[0], z, k->s[1]); /* FMA */
    s = fmaf(s, z, k->s[2]);       /* FMA */
    s = s * z;
    s = fmaf(s, r, r); /* FMA */
    /* the and/andnot/sub/add blend of avx_mathfun: the chosen value plus +0.0 (so -0 -> +0) */
    if ((j & 2) == 0) {
        S = s + 0.0f;
        C = c + 0.0f;
    } else {
        S = c + 0.0f;
        C = s + 0.0f;
    }
    *sn = tl__fbits(tl__bitsf(S) ^ sign_sin);
    *cs = tl__fbits(tl__bitsf(C) ^ sign_cos);
}
/* normal_fill_16_AVX2: d[0..15] holds uniforms; lanes j and j+8 become a Box-Muller pair. */
static void tl__normal16_f32(const tl__cephes *k, float *d, float mean, float std) {
    float u[16], R, th, sn, cs;
    int j;
    memcpy(u, d, sizeof u);
    for (j = 0; j < 8; j++) {
        R = sqrtf(-2.0f * tl__cephes_log(k, 1.0f - u[j]));
        th = k->twopi * u[j + 8];
        tl__cephes_sincos(k, th, &sn, &cs);
        d[j] = fmaf(R * cs, std, mean);     /* explicit _mm256_fmadd_ps in torch */
        d[j + 8] = fmaf(R * sn, std, mean);
    }
}
/* normal_fill_16<double> (§4.5). */
static void tl__normal16_f64(double *d, double mean, double std) {
    const double two_pi = 6.283185307179586476925286766559; /* 0x401921fb54442d18 */
    double u[16], R, th;
    int j;
    memcpy(u, d, sizeof u);
    for (j = 0; j < 8; j++) {
        R = sqrt(-2.0 * log(1.0 - u[j]));
        th = two_pi * u[j + 8];
        d[j] = fma(R * cos(th), std, mean); /* FMA */
        d[j + 8] = fma(R * sin(th), std, mean);
    }
}
/* normal_fill_16<Half> and <BFloat16> (h16 = 1: float16). c10::Half has no math overloads:
   log/sqrt/cos/sin run in float and only the named values (u1, radius, theta, the result) are
   rounded to half, so the final multiply-add is one float expression, fused by GCC (FMA).
   c10::BFloat16 does have them (BFloat16-math.h: each returns BFloat16) and its * and + return
   BFloat16 too, so every step is rounded to bfloat16 and nothing can fuse. */
static float tl__round16(float x, int h16) { return h16 ? tl__h2f(tl__f2h(x)) : tl__bf2f(tl__f2bf(x)); }
static void tl__normal16_half(uint16_t *d, float mean, float std, int h16) {
    const double two_pi = 6.283185307179586476925286766559;
    float u[16], x, R, th, v, w;
    int j;
    for (j = 0; j < 16; j++) u[j] = h16 ? tl__h2f(d[j]) : tl__bf2f(d[j]);
    for (j = 0; j < 8; j++) {
        x = tl__round16(1.0f - u[j], h16);
        th = tl__round16((float)(two_pi * (double)u[j + 8]), h16);
        if (h16) {
            R = tl__round16(sqrtf(-2.0f * logf(x)), 1);
            v = fmaf(R * cosf(th), std, mean); /* FMA */
            w = fmaf(R * sinf(th), std, mean); /* FMA */
            d[j] = tl__f2h(v);
            d[j + 8] = tl__f2h(w);
        } else {
            R = tl__round16(sqrtf(tl__round16(-2.0f * tl__round16(logf(x), 0), 0)), 0);
            v = tl__round16(tl__round16(R * tl__round16(cosf(th), 0), 0) * std, 0) + mean;
            w = tl__round16(tl__round16(R * tl__round16(sinf(th), 0), 0) * std, 0) + mean;
            d[j] = tl__f2bf(v);
            d[j + 8] = tl__f2bf(w);
        }
    }
}

/* ---- per-element samplers, run over a tensor in memory order ---- */

enum {
    TL__RS_UNIFORM, /* a = from, b = to (§3) */
    TL__RS_NORMAL,  /* scalar Box-Muller path (§4.2): a = mean, b = std */
    TL__RS_BERN,    /* a = p (§7.1) */
    TL__RS_BERN_T,  /* p from operand 1 (§7.3) */
    TL__RS_EXP,     /* a = lambda (§8.1) */
    TL__RS_RANDOM,  /* random_() (§5.2) */
    TL__RS_RANGE    /* random_(from, to) (§5.1): base + v % range */
};
typedef struct tl__rs {
    tl_generator *g;
    int kind;
    tl_dtype dt;  /* the tensor's dtype */
    tl_dtype pdt; /* TL__RS_BERN_T: p's dtype */
    double a, b;
    float fa, frange; /* uniform in float32/float16/bfloat16 */
    uint64_t range;
    int64_t base;
    int wide; /* TL__RS_RANGE: draw random64 */
} tl__rs;

typedef union tl__rs_buf { double d[TL__CHUNK]; float f[TL__CHUNK]; int64_t i[TL__CHUNK]; } tl__rs_buf;
/* Draws m values into buf (a tl__rs_buf); returns its compute type (TL__CT_F32 / _F64 / _I64). */
static int tl__rs_draw(tl__rs *c, void *buf, int64_t m, const char *pp, int64_t ps) {
    tl_generator *g = c->g;
    float *f = ((tl__rs_buf *)buf)->f;
    double *d = ((tl__rs_buf *)buf)->d;
    int64_t *q = ((tl__rs_buf *)buf)->i;
    int64_t i;
    switch (c->kind) {
    case TL__RS_UNIFORM:
        if (c->dt == TL_F64) {
            double range = c->b - c->a;
            for (i = 0; i < m; i++) d[i] = fma(tl__u53(g), range, c->a); /* FMA */
            return TL__CT_F64;
        }
        if (c->dt == TL_F32) {
            for (i = 0; i < m; i++) f[i] = fmaf(tl__u24(g), c->frange, c->fa); /* FMA */
        } else { /* float16 / bfloat16: 11 / 8 low bits (§3.3) */
            uint32_t mask = c->dt == TL_F16 ? 0x7ffu : 0xffu;
            float scale = c->dt == TL_F16 ? 4.8828125e-04f : 3.90625e-03f;
            for (i = 0; i < m; i++) f[i] = fmaf((float)(tl__mt_u32(g) & mask) * scale, c->frange, c->fa);
        }
        return TL__CT_F32;
    case TL__RS_NORMAL:
        for (i = 0; i < m; i++) {
            double z;
            if (g->has_dcache) {
                z = g->dcache;
                g->has_dcache = 0;
            } else {
                const double two_pi = 6.283185307179586476925286766559;
                double u1 = tl__u53(g), u2 = tl__u53(g);
                double r = sqrt(-2.0 * log(1.0 - u2)), th = two_pi * u1;
                g->dcache = r * sin(th);
                g->has_dcache = 1;
                z = r * cos(th);
            }
            d[i] = fma(z, c->b, c->a); /* FMA */
        }
        return TL__CT_F64;
    case TL__RS_BERN:
        for (i = 0; i < m; i++) q[i] = tl__u53(g) < c->a;
        return TL__CT_I64;
    case TL__RS_BERN_T: {
        double pv[TL__CHUNK];
        tl__load(pv, TL__CT_F64, pp, c->pdt, ps, m);
        if (c->pdt == TL_F64)
            for (i = 0; i < m; i++) q[i] = tl__u53(g) < pv[i];
        else /* float32/bfloat16 p: a float32 uniform, compared in float */
            for (i = 0; i < m; i++) q[i] = tl__u24(g) < (float)pv[i];
        return TL__CT_I64;
    }
    case TL__RS_EXP:
        for (i = 0; i < m; i++) d[i] = (-1.0 / c->a) * log(1.0 - tl__u53(g));
        return TL__CT_F64;
    case TL__RS_RANDOM:
        for (i = 0; i < m; i++) {
            switch (c->dt) {
            case TL_I64: q[i] = (int64_t)(tl__mt_u64(g) & UINT64_C(0x7fffffffffffffff)); break;
            case TL_F64: q[i] = (int64_t)(tl__mt_u64(g) % ((UINT64_C(1) << 53) + 1u)); break;
            case TL_F32: q[i] = (int64_t)(tl__mt_u32(g) % ((1u << 24) + 1u)); break;
            case TL_F16: q[i] = (int64_t)(tl__mt_u32(g) % ((1u << 11) + 1u)); break;
            case TL_BF16: q[i] = (int64_t)(tl__mt_u32(g) % ((1u << 8) + 1u)); break;
            case TL_I32: q[i] = (int64_t)(tl__mt_u32(g) & 0x7fffffffu); break;
            case TL_I16: q[i] = (int64_t)(tl__mt_u32(g) & 0x7fffu); break;
            case TL_I8: q[i] = (int64_t)(tl__mt_u32(g) & 0x7fu); break;
            case TL_U8: q[i] = (int64_t)(tl__mt_u32(g) & 0xffu); break;
            default: q[i] = (int64_t)(tl__mt_u32(g) & 1u); break; /* bool */
            }
        }
        return TL__CT_I64;
    default: /* TL__RS_RANGE: wrap-around arithmetic in uint64, as torch */
        for (i = 0; i < m; i++) {
            uint64_t v = c->wide ? tl__mt_u64(g) : (uint64_t)tl__mt_u32(g);
            q[i] = (int64_t)(v % c->range + (uint64_t)c->base);
        }
        return TL__CT_I64;
    }
}
static void tl__rs_inner(void *vctx, int64_t n, char **p, const int64_t *s) {
    tl__rs *c = (tl__rs *)vctx;
    tl__rs_buf buf;
    int64_t off, m;
    for (off = 0; off < n; off += m) {
        int ct;
        m = n - off < TL__CHUNK ? n - off : TL__CHUNK;
        ct = tl__rs_draw(c, &buf, m, c->kind == TL__RS_BERN_T ? p[1] + off * s[1] : NULL,
                         c->kind == TL__RS_BERN_T ? s[1] : 0);
        tl__store(p[0] + off * s[0], c->dt, s[0], &buf, ct, m);
    }
}

/* TensorIterator's dimension order for one operand (reorder_dimensions): dims of size > 1, from
   the outermost to the innermost in memory. Strides decide; stride-0 dims are "ambiguous" and keep
   their place; equal strides put the smaller size inside. Returns the number of dims in perm. */
static int tl__mem_order(int ndim, const int64_t *shape, const int64_t *stride, int *perm) {
    int inner[TL_MAX_DIMS], nd = 0, i, d0, d1, k;
    if (ndim < 0 || ndim > TL_MAX_DIMS) return 0; /* never: tensors have 0..TL_MAX_DIMS dims */
    for (i = ndim - 1; i >= 0; i--) /* innermost first, as TensorIterator's perm_ starts */
        if (shape[i] != 1) inner[nd++] = i;
    for (i = 1; i < nd; i++) {
        d1 = i;
        for (d0 = i - 1; d0 >= 0; d0--) {
            int64_t s0 = stride[inner[d0]], s1 = stride[inner[d1]];
            int cmp = 0;
            if (s0 != 0 && s1 != 0) {
                if (s0 < s1) cmp = -1;
                else if (s0 > s1) cmp = 1;
                else if (shape[inner[d0]] > shape[inner[d1]]) cmp = 1;
            }
            if (cmp > 0) {
                k = inner[d0];
                inner[d0] = inner[d1];
                inner[d1] = k;
                d1 = d0;
            } else if (cmp < 0) {
                break;
            }
        }
    }
    for (i = 0; i < nd; i++) perm[i] = inner[nd - 1 - i];
    return nd;
}

/* Runs sampler c over every element of t in memory order (p, if given, broadcasts to t). */
static void tl__rs_run(tl_tensor *t, const tl_tensor *p, tl__rs *c) {
    int perm[TL_MAX_DIMS], nd, i;
    int64_t shp[TL_MAX_DIMS], st[TL_MAX_DIMS], pst[TL_MAX_DIMS], pb[TL_MAX_DIMS];
    tl__iter it;
    if (tl__prod(t->ndim, t->shape) == 0) return;
    memset(shp, 0, sizeof shp);
    memset(st, 0, sizeof st);
    memset(pst, 0, sizeof pst);
    nd = tl__mem_order(t->ndim, t->shape, t->stride, perm);
    if (p) tl__bcast_strides(p, t->ndim, t->shape, pb);
    for (i = 0; i < nd; i++) {
        shp[i] = t->shape[perm[i]];
        st[i] = t->stride[perm[i]];
        if (p) pst[i] = pb[perm[i]];
    }
    tl__iter_init(&it, nd, shp);
    tl__iter_add(&it, tl__ptr(t), st, tl__dtype_sizes[t->dtype]);
    if (p) tl__iter_add(&it, tl__ptr(p), pst, tl__dtype_sizes[p->dtype]);
    tl__iter_coalesce(&it);
    tl__iter_run(&it, tl__rs_inner, c);
}

/* ---- shared checks for the in-place samplers ---- */

/* NULL, dtype and writability checks; then, when autograd must see the write, the history move
   of tl__inplace_prepare (old[0] receives the pre-write value, old[1] its base's copy; else NULL).
   The autograd part is tl_fill_'s, step for step: keep the two in sync. 0 on failure. */
static int tl__rs_prepare(const char *op, tl_tensor *t, int floating_only, tl_tensor **old) {
    old[0] = old[1] = NULL;
    if (tl__null_in(op, t)) return 0;
    if (floating_only && !TL__IS_FLOAT(t->dtype)) {
        TL__FAIL(TL_ERR_DTYPE, "%s: not implemented for %s (floating dtypes only)", op, TL__DT(t));
        return 0;
    }
    if (!tl__check_writable(op, t)) return 0;
    if (tl__wants_grad(t, NULL, NULL) && !(old[0] = tl__inplace_prepare(op, t, &old[1]))) return 0;
    return 1;
}
/* After the write: bump the version and record the op (its gradient is zero, like fill_'s). */
static tl_status tl__rs_finish(tl_tensor *t, tl_tensor **old, const char *tname) {
    t->storage->version++;
    if (old[0]) {
        int ok = tl__record(t, TL__OP_FILL, old[0], NULL, NULL);
        tl__release(old[0]);
        if (!tl__inplace_finish(t, old[1], ok)) return tl__tls.status;
        if (t->grad_fn) t->grad_fn->tname = tname;
    }
    return TL_OK;
}
static double tl__dtype_max(tl_dtype dt) {
    switch (dt) {
    case TL_F32: return FLT_MAX;
    case TL_F64: return DBL_MAX;
    case TL_F16: return 65504.0;
    case TL_BF16: return 3.3895313892515355e+38;
    default: return 0;
    }
}

/* ---- uniform_ (§3) ---- */

TLDEF tl_status tl_uniform_gen_(tl_tensor *t, double from, double to, tl_generator *g) {
    const char *op = "tl_uniform_";
    tl_tensor *old[2];
    tl__rs c;
    TL__CHECK1S(op, t);
    memset(&c, 0, sizeof c);
    c.kind = TL__RS_UNIFORM;
    c.dt = t->dtype;
    c.a = from;
    c.b = to;
    if (TL__IS_FLOAT(t->dtype)) {
        if (!(from <= to))
            return TL__FAIL(TL_ERR_ARG, "%s: uniform_ expects to return a [from, to) range, but found from=%g > to=%g",
                            op, from, to);
        if (t->dtype == TL_F32) {
            c.fa = (float)from;
            c.frange = (float)to - c.fa; /* float subtraction, as torch */
        } else if (t->dtype != TL_F64) { /* float16/bfloat16: bounds and range rounded to the type */
            int h16 = t->dtype == TL_F16;
            float fr = tl__round16((float)from, h16), tt = tl__round16((float)to, h16);
            c.fa = fr;
            c.frange = tl__round16(tt - fr, h16);
        }
        if (!(to - from <= tl__dtype_max(t->dtype)) || !(c.frange <= tl__dtype_max(t->dtype)))
            return TL__FAIL(TL_ERR_ARG, "%s: uniform_ expects to-from <= the largest %s, but found to=%g and from=%g "
                            "which result in to-from to exceed the limit", op, TL__DT(t), to, from);
    }
    if (!tl__rs_prepare(op, t, 1, old)) return tl__tls.status ? tl__tls.status : TL_ERR_ARG;
    c.g = tl__gen(g);
    tl__rs_run(t, NULL, &c);
    return tl__rs_finish(t, old, "UniformBackward0");
}
TLDEF tl_status tl_uniform_(tl_tensor *t, double from, double to) { return tl_uniform_gen_(t, from, to, NULL); }

/* ---- normal_ (§4) ---- */

TLDEF tl_status tl_normal_gen_(tl_tensor *t, double mean, double std, tl_generator *g) {
    const char *op = "tl_normal_";
    tl_tensor *old[2];
    int64_t n, i;
    TL__CHECK1S(op, t);
    if (!(std >= 0.0)) return TL__FAIL(TL_ERR_ARG, "%s: normal expects std >= 0.0, but found std %g", op, std);
    if (!tl__rs_prepare(op, t, 1, old)) return tl__tls.status ? tl__tls.status : TL_ERR_ARG;
    g = tl__gen(g);
    n = tl__prod(t->ndim, t->shape);
    if (n >= 16 && tl_is_contiguous(t)) { /* torch's vectorised fills (§4.3, §4.5) */
        if (t->dtype == TL_F32) {
            float *d = (float *)(void *)tl__ptr(t), fm = (float)mean, fs = (float)std;
            tl__cephes k;
            tl__cephes_init(&k);
            for (i = 0; i < n; i++) d[i] = tl__u24(g);
            for (i = 0; i + 16 <= n; i += 16) tl__normal16_f32(&k, d + i, fm, fs);
            if (n % 16) { /* redraw the last 16 slots and transform them again */
                for (i = n - 16; i < n; i++) d[i] = tl__u24(g);
                tl__normal16_f32(&k, d + n - 16, fm, fs);
            }
        } else if (t->dtype == TL_F64) {
            double *d = (double *)(void *)tl__ptr(t);
            for (i = 0; i < n; i++) d[i] = tl__u53(g);
            for (i = 0; i + 16 <= n; i += 16) tl__normal16_f64(d + i, mean, std);
            if (n % 16) {
                for (i = n - 16; i < n; i++) d[i] = tl__u53(g);
                tl__normal16_f64(d + n - 16, mean, std);
            }
        } else { /* float16 / bfloat16: uniforms of 11 / 8 bits stored in the type (exact) */
            uint16_t *d = (uint16_t *)(void *)tl__ptr(t);
            int h16 = t->dtype == TL_F16;
            float hm = tl__round16((float)mean, h16), hs = tl__round16((float)std, h16);
            for (i = 0; i < n; i++) {
                uint32_t r = tl__mt_u32(g);
                d[i] = h16 ? tl__f2h((float)(r & 0x7ffu) * 4.8828125e-04f) : tl__f2bf((float)(r & 0xffu) * 3.90625e-03f);
            }
            for (i = 0; i + 16 <= n; i += 16) tl__normal16_half(d + i, hm, hs, h16);
            if (n % 16) {
                for (i = n - 16; i < n; i++) {
                    uint32_t r = tl__mt_u32(g);
                    d[i] = h16 ? tl__f2h((float)(r & 0x7ffu) * 4.8828125e-04f)
                               : tl__f2bf((float)(r & 0xffu) * 3.90625e-03f);
                }
                tl__normal16_half(d + n - 16, hm, hs, h16);
            }
        }
    } else { /* n < 16 or not contiguous: the scalar path, element by element in memory order */
        tl__rs c;
        memset(&c, 0, sizeof c);
        c.g = g;
        c.kind = TL__RS_NORMAL;
        c.dt = t->dtype;
        c.a = mean;
        c.b = std;
        tl__rs_run(t, NULL, &c);
    }
    return tl__rs_finish(t, old, "NormalBackward0");
}
TLDEF tl_status tl_normal_(tl_tensor *t, double mean, double std) { return tl_normal_gen_(t, mean, std, NULL); }

/* ---- bernoulli (§7; the non-MKL kernels) ---- */

TLDEF tl_status tl_bernoulli_gen_(tl_tensor *t, double p, tl_generator *g) {
    const char *op = "tl_bernoulli_";
    tl_tensor *old[2];
    tl__rs c;
    TL__CHECK1S(op, t);
    if (!(p >= 0 && p <= 1))
        return TL__FAIL(TL_ERR_ARG, "%s: bernoulli_ expects p to be in [0, 1], but got p=%g", op, p);
    if (!tl__rs_prepare(op, t, 0, old)) return tl__tls.status ? tl__tls.status : TL_ERR_ARG;
    memset(&c, 0, sizeof c);
    c.g = tl__gen(g);
    c.kind = TL__RS_BERN;
    c.dt = t->dtype;
    c.a = p;
    tl__rs_run(t, NULL, &c);
    return tl__rs_finish(t, old, "BernoulliBackward1");
}
TLDEF tl_status tl_bernoulli_(tl_tensor *t, double p) { return tl_bernoulli_gen_(t, p, NULL); }

TLDEF tl_status tl_bernoulli_tensor_gen_(tl_tensor *t, const tl_tensor *p, tl_generator *g) {
    const char *op = "tl_bernoulli_";
    tl_tensor *old[2], *pc;
    tl__rs c;
    int64_t n, i;
    int d;
    const double *pv;
    TL__CHECK2S(op, t, p);
    if (p->dtype != TL_F32 && p->dtype != TL_F64 && p->dtype != TL_BF16)
        return TL__FAIL(TL_ERR_DTYPE, "%s: probabilities must be float32, float64 or bfloat16, got %s", op,
                        TL__DT(p));
    if (p->ndim > t->ndim)
        return TL__FAIL(TL_ERR_SHAPE, "%s: probabilities %s cannot be expanded to the tensor's shape %s", op,
                        TL__SH(p), TL__SH(t));
    for (d = 0; d < p->ndim; d++) {
        int64_t ps = p->shape[d], ts = t->shape[t->ndim - p->ndim + d];
        if (ps != ts && ps != 1)
            return TL__FAIL(TL_ERR_SHAPE, "%s: probabilities %s cannot be expanded to the tensor's shape %s", op,
                            TL__SH(p), TL__SH(t));
    }
    /* torch checks each p inside the sampling loop; we check them all first (nothing drawn on error) */
    pc = tl__contig_as(op, p, TL_F64);
    if (!pc) return tl__tls.status;
    pv = (const double *)(const void *)tl__ptr(pc);
    n = tl__prod(pc->ndim, pc->shape);
    for (i = 0; i < n; i++)
        if (!(pv[i] >= 0 && pv[i] <= 1)) {
            tl__release(pc);
            return TL__FAIL(TL_ERR_ARG, "%s: probability %g at flat index %lld is not in [0, 1]", op, pv[i],
                            (long long)i);
        }
    tl__release(pc);
    if (!tl__rs_prepare(op, t, 0, old)) return tl__tls.status ? tl__tls.status : TL_ERR_ARG;
    memset(&c, 0, sizeof c);
    c.g = tl__gen(g);
    c.kind = TL__RS_BERN_T;
    c.dt = t->dtype;
    c.pdt = p->dtype;
    tl__rs_run(t, p, &c);
    return tl__rs_finish(t, old, "BernoulliBackward2");
}
TLDEF tl_status tl_bernoulli_tensor_(tl_tensor *t, const tl_tensor *p) { return tl_bernoulli_tensor_gen_(t, p, NULL); }

TLDEF tl_tensor *tl_bernoulli_gen(const tl_tensor *p, tl_generator *g) {
    tl_tensor *r;
    TL__CHECK1("tl_bernoulli", p);
    if (p->dtype != TL_F32 && p->dtype != TL_F64 && p->dtype != TL_BF16)
        return TL__FAILN(TL_ERR_DTYPE, "tl_bernoulli: probabilities must be float32, float64 or bfloat16, got %s",
                         TL__DT(p));
    r = tl__new("tl_bernoulli", p->ndim, p->shape, p->dtype); /* contiguous, as torch's result */
    if (!r) return NULL;
    if (tl_bernoulli_tensor_gen_(r, p, g) != TL_OK) {
        tl__release(r);
        return NULL;
    }
    return tl__ret(r);
}
TLDEF tl_tensor *tl_bernoulli(const tl_tensor *p) { return tl_bernoulli_gen(p, NULL); }

TLDEF tl_tensor *tl_bernoulli_p_gen(const tl_tensor *t, double p, tl_generator *g) {
    tl_tensor *r;
    TL__CHECK1("tl_bernoulli_p", t);
    r = tl__new("tl_bernoulli_p", t->ndim, t->shape, t->dtype);
    if (!r) return NULL;
    if (tl_bernoulli_gen_(r, p, g) != TL_OK) {
        tl__release(r);
        return NULL;
    }
    return tl__ret(r);
}
TLDEF tl_tensor *tl_bernoulli_p(const tl_tensor *t, double p) { return tl_bernoulli_p_gen(t, p, NULL); }

/* ---- exponential_ (§8.1), random_ (§5.2) ---- */

TLDEF tl_status tl_exponential_gen_(tl_tensor *t, double lambd, tl_generator *g) {
    const char *op = "tl_exponential_";
    tl_tensor *old[2];
    tl__rs c;
    TL__CHECK1S(op, t);
    if (!(lambd >= 0.0))
        return TL__FAIL(TL_ERR_ARG, "%s: exponential_ expects lambda >= 0.0, but found lambda=%g", op, lambd);
    if (!tl__rs_prepare(op, t, 1, old)) return tl__tls.status ? tl__tls.status : TL_ERR_ARG;
    memset(&c, 0, sizeof c);
    c.g = tl__gen(g);
    c.kind = TL__RS_EXP;
    c.dt = t->dtype;
    c.a = lambd;
    tl__rs_run(t, NULL, &c);
    return tl__rs_finish(t, old, "ExponentialBackward0");
}
TLDEF tl_status tl_exponential_(tl_tensor *t, double lambd) { return tl_exponential_gen_(t, lambd, NULL); }

TLDEF tl_status tl_random_gen_(tl_tensor *t, tl_generator *g) {
    tl_tensor *old[2];
    tl__rs c;
    if (!tl__rs_prepare("tl_random_", t, 0, old)) return tl__tls.status ? tl__tls.status : TL_ERR_ARG;
    memset(&c, 0, sizeof c);
    c.g = tl__gen(g);
    c.kind = TL__RS_RANDOM;
    c.dt = t->dtype;
    tl__rs_run(t, NULL, &c);
    return tl__rs_finish(t, old, "RandomBackward0");
}
TLDEF tl_status tl_random_(tl_tensor *t) { return tl_random_gen_(t, NULL); }

/* ---- factories ---- */

static tl_tensor *tl__rand_new(const char *op, int ndim, const int64_t *shape, tl_dtype dt) {
    if (TL__VALID_DT(dt) && !TL__IS_FLOAT(dt))
        return TL__FAILN(TL_ERR_DTYPE, "%s: not implemented for %s (floating dtypes only)", op, tl__dtype_names[dt]);
    return tl__new(op, ndim, shape, dt);
}
TLDEF tl_tensor *tl_rand_gen(int ndim, const int64_t *shape, tl_dtype dt, tl_generator *g) {
    tl_tensor *t = tl__rand_new("tl_rand", ndim, shape, dt);
    if (t && tl_uniform_gen_(t, 0, 1, g) != TL_OK) {
        tl__release(t);
        return NULL;
    }
    return tl__ret(t);
}
TLDEF tl_tensor *tl_rand(int ndim, const int64_t *shape, tl_dtype dt) { return tl_rand_gen(ndim, shape, dt, NULL); }
TLDEF tl_tensor *tl_randn_gen(int ndim, const int64_t *shape, tl_dtype dt, tl_generator *g) {
    tl_tensor *t = tl__rand_new("tl_randn", ndim, shape, dt);
    if (t && tl_normal_gen_(t, 0, 1, g) != TL_OK) {
        tl__release(t);
        return NULL;
    }
    return tl__ret(t);
}
TLDEF tl_tensor *tl_randn(int ndim, const int64_t *shape, tl_dtype dt) { return tl_randn_gen(ndim, shape, dt, NULL); }

/* Largest integer value of an integer dtype, or the float range torch checks randint bounds against. */
static int tl__int_bounds(tl_dtype dt, int64_t *lo, int64_t *hi) {
    switch (dt) {
    case TL_I64: *lo = INT64_MIN; *hi = INT64_MAX; return 1;
    case TL_I32: *lo = INT32_MIN; *hi = INT32_MAX; return 1;
    case TL_I16: *lo = INT16_MIN; *hi = INT16_MAX; return 1;
    case TL_I8: *lo = INT8_MIN; *hi = INT8_MAX; return 1;
    case TL_U8: *lo = 0; *hi = UINT8_MAX; return 1;
    case TL_BOOL: *lo = 0; *hi = 1; return 1;
    case TL_F16: *lo = -65504; *hi = 65504; return 1;
    default: return 0; /* float32/float64/bfloat16: every int64 fits */
    }
}
/* (int64)(scalar_t)v for a floating dtype, with x86's result (INT64_MIN) when out of range. */
static int64_t tl__through_float(int64_t v, tl_dtype dt) {
    double d;
    switch (dt) {
    case TL_F32: d = (double)(float)v; break;
    case TL_F16: d = (double)tl__h2f(tl__f2h((float)v)); break;
    case TL_BF16: d = (double)tl__bf2f(tl__f2bf((float)v)); break;
    default: d = (double)v; break;
    }
    return tl__d2i(d);
}
static int tl__float_digits(tl_dtype dt) {
    return dt == TL_F32 ? 24 : dt == TL_F64 ? 53 : dt == TL_F16 ? 11 : 8;
}
static int tl__floor_log2(uint64_t x) {
    int n = 0;
    while (x >>= 1) ++n;
    return n;
}
TLDEF tl_tensor *tl_randint_gen(int64_t low, int64_t high, int ndim, const int64_t *shape, tl_dtype dt,
                                tl_generator *g) {
    const char *op = "tl_randint";
    tl_tensor *t;
    tl__rs c;
    int64_t lo, hi;
    if (low >= high)
        return TL__FAILN(TL_ERR_ARG, "%s: random_ expects 'from' to be less than 'to', but got from=%lld >= to=%lld",
                         op, (long long)low, (long long)high);
    if (TL__VALID_DT(dt) && TL__IS_FLOAT(dt)) {
        /* torch's update_from/update_to: a bound the dtype rounds outwards moves inwards to the
           next integer the dtype represents, so every drawn value converts exactly */
        int64_t lp1 = tl__through_float(low + 1, dt), hm1 = tl__through_float(high - 1, dt);
        int digits = tl__float_digits(dt);
        if (lp1 < low) {
            uint64_t a = low + 1 < 0 ? (uint64_t)0 - (uint64_t)(low + 1) : (uint64_t)(low + 1);
            low = (int64_t)((uint64_t)lp1 + (UINT64_C(1) << (tl__floor_log2(a) - digits + 1)));
        }
        if (hm1 >= high) {
            uint64_t a = high - 1 < 0 ? (uint64_t)0 - (uint64_t)(high - 1) : (uint64_t)(high - 1);
            high = (int64_t)((uint64_t)hm1 - (UINT64_C(1) << (tl__floor_log2(a) - digits + 1)));
        }
        if (low >= high)
            return TL__FAILN(TL_ERR_ARG, "%s: random_ expects 'from' casted to %s to be less than 'to' casted to %s, "
                             "but got from=%lld >= to=%lld", op, tl__dtype_names[dt], tl__dtype_names[dt],
                             (long long)low, (long long)high);
    }
    if (TL__VALID_DT(dt) && tl__int_bounds(dt, &lo, &hi)) {
        if (low < lo || low > hi)
            return TL__FAILN(TL_ERR_ARG, "%s: from=%lld is out of bounds for %s", op, (long long)low,
                             tl__dtype_names[dt]);
        if (high - 1 < lo || high - 1 > hi)
            return TL__FAILN(TL_ERR_ARG, "%s: to - 1 = %lld is out of bounds for %s", op, (long long)(high - 1),
                             tl__dtype_names[dt]);
    }
    t = tl__new(op, ndim, shape, dt);
    if (!t) return NULL;
    memset(&c, 0, sizeof c);
    c.g = tl__gen(g);
    c.kind = TL__RS_RANGE;
    c.dt = dt;
    c.range = (uint64_t)high - (uint64_t)low;
    c.base = low;
    c.wide = (dt == TL_I64 || dt == TL_F32 || dt == TL_F64 || dt == TL_BF16) && c.range >= (UINT64_C(1) << 32);
    tl__rs_run(t, NULL, &c);
    return tl__ret(t);
}
TLDEF tl_tensor *tl_randint(int64_t low, int64_t high, int ndim, const int64_t *shape, tl_dtype dt) {
    return tl_randint_gen(low, high, ndim, shape, dt, NULL);
}

/* §6: r[i] = i, then for i = 0 .. n-2 swap r[i] with r[i + random() % (n - i)]. */
TLDEF tl_tensor *tl_randperm_gen(int64_t n, tl_dtype dt, tl_generator *g) {
    const char *op = "tl_randperm";
    tl_tensor *t;
    int64_t *r, i, lo, hi;
    if (n < 0) return TL__FAILN(TL_ERR_ARG, "%s: n must be non-negative, got %lld", op, (long long)n);
    if (dt == TL_BOOL) return TL__FAILN(TL_ERR_DTYPE, "%s: \"randperm\" is not implemented for bool", op);
    if (TL__VALID_DT(dt)) {
        if (dt == TL_F16 && n > 2049)
            return TL__FAILN(TL_ERR_ARG, "%s: n cannot be greater than 2049 for float16, got %lld", op, (long long)n);
        if (dt == TL_F32 && n > (INT64_C(1) << 24) + 1)
            return TL__FAILN(TL_ERR_ARG, "%s: n cannot be greater than 2^24+1 for float32, got %lld", op, (long long)n);
        if (dt == TL_F64 && n > (INT64_C(1) << 53) + 1)
            return TL__FAILN(TL_ERR_ARG, "%s: n cannot be greater than 2^53+1 for float64, got %lld", op, (long long)n);
        if (dt != TL_F16 && tl__int_bounds(dt, &lo, &hi) && n - 1 > hi)
            return TL__FAILN(TL_ERR_ARG, "%s: n = %lld is too large for %s", op, (long long)n, tl__dtype_names[dt]);
    }
    t = tl__new(op, 1, &n, dt);
    if (!t) return NULL;
    g = tl__gen(g);
    if (dt == TL_I64) {
        r = (int64_t *)(void *)tl__ptr(t);
    } else {
        r = (int64_t *)tl__malloc(tl__szn(n > 0 ? n : 1, sizeof(int64_t)));
        if (!r) {
            tl__release(t);
            return TL__FAILN(TL_ERR_OOM, "%s: out of memory for a permutation of %lld", op, (long long)n);
        }
    }
    for (i = 0; i < n; i++) r[i] = i;
    for (i = 0; i + 1 < n; i++) {
        int64_t z = (int64_t)(tl__mt_u32(g) % (uint64_t)(n - i)), sv = r[i];
        r[i] = r[i + z];
        r[i + z] = sv;
    }
    if (dt != TL_I64) {
        tl__store(tl__ptr(t), dt, (int64_t)tl__dtype_sizes[dt], r, TL__CT_I64, n);
        tl__free(r);
    }
    return tl__ret(t);
}
TLDEF tl_tensor *tl_randperm(int64_t n, tl_dtype dt) { return tl_randperm_gen(n, dt, NULL); }

/* ---- multinomial (§8.2, §8.3) ---- */

/* Top-k as torch 1.13's CPU topk does it (sorted, largest), including the order of EQUAL keys:
   torch sorts (key, index) pairs with std::partial_sort when k * 64 <= n, else std::nth_element
   followed by std::sort of the first k - 1, all with the comparator "x is NaN and y is not, or
   x > y", which is not stable. The functions below are libstdc++'s (GCC 12) algorithms
   (introsort/introselect, median-of-three pivot, insertion sort below 16, heap select), ported
   step by step so that ties (bfloat16 keys, zero probabilities) come out in torch's order. */
typedef struct tl__mkey { double key; int64_t idx; } tl__mkey;
static int tl__mk_gt(const tl__mkey *x, const tl__mkey *y) {
    return (x->key != x->key && y->key == y->key) || x->key > y->key;
}
static void tl__mk_swap(tl__mkey *a, tl__mkey *b) {
    tl__mkey t = *a;
    *a = *b;
    *b = t;
}
static int64_t tl__lg(int64_t n) {
    int64_t k = 0;
    while (n >>= 1) k++;
    return k;
}
static void tl__mk_push_heap(tl__mkey *f, int64_t hole, int64_t top, tl__mkey v) {
    int64_t parent = (hole - 1) / 2;
    while (hole > top && tl__mk_gt(&f[parent], &v)) {
        f[hole] = f[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    f[hole] = v;
}
static void tl__mk_adjust_heap(tl__mkey *f, int64_t hole, int64_t len, tl__mkey v) {
    int64_t top = hole, child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (tl__mk_gt(&f[child], &f[child - 1])) child--;
        f[hole] = f[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        f[hole] = f[child - 1];
        hole = child - 1;
    }
    tl__mk_push_heap(f, hole, top, v);
}
static void tl__mk_heap_select(tl__mkey *f, int64_t mid, int64_t last) {
    int64_t i, parent;
    if (mid >= 2) { /* make_heap */
        for (parent = (mid - 2) / 2;; parent--) {
            tl__mk_adjust_heap(f, parent, mid, f[parent]);
            if (parent == 0) break;
        }
    }
    for (i = mid; i < last; i++)
        if (tl__mk_gt(&f[i], &f[0])) { /* pop_heap(first, middle, i) */
            tl__mkey v = f[i];
            f[i] = f[0];
            tl__mk_adjust_heap(f, 0, mid, v);
        }
}
static void tl__mk_sort_heap(tl__mkey *f, int64_t last) {
    while (last > 1) {
        tl__mkey v;
        last--;
        v = f[last];
        f[last] = f[0];
        tl__mk_adjust_heap(f, 0, last, v);
    }
}
static void tl__mk_insertion_sort(tl__mkey *f, int64_t n) {
    int64_t i, j;
    for (i = 1; i < n; i++) {
        tl__mkey v = f[i];
        if (tl__mk_gt(&v, &f[0])) {
            memmove(f + 1, f, sizeof(tl__mkey) * (size_t)i);
            f[0] = v;
        } else {
            for (j = i; tl__mk_gt(&v, &f[j - 1]); j--) f[j] = f[j - 1];
            f[j] = v;
        }
    }
}
/* __unguarded_partition_pivot: median of (f[1], f[mid], f[n-1]) moved to f[0], then Hoare. */
static int64_t tl__mk_partition(tl__mkey *f, int64_t n) {
    int64_t a = 1, b = n / 2, c = n - 1, lo = 1, hi = n;
    if (tl__mk_gt(&f[a], &f[b])) {
        if (tl__mk_gt(&f[b], &f[c])) tl__mk_swap(&f[0], &f[b]);
        else if (tl__mk_gt(&f[a], &f[c])) tl__mk_swap(&f[0], &f[c]);
        else tl__mk_swap(&f[0], &f[a]);
    } else if (tl__mk_gt(&f[a], &f[c])) {
        tl__mk_swap(&f[0], &f[a]);
    } else if (tl__mk_gt(&f[b], &f[c])) {
        tl__mk_swap(&f[0], &f[c]);
    } else {
        tl__mk_swap(&f[0], &f[b]);
    }
    for (;;) {
        while (tl__mk_gt(&f[lo], &f[0])) lo++;
        hi--;
        while (tl__mk_gt(&f[0], &f[hi])) hi--;
        if (!(lo < hi)) return lo;
        tl__mk_swap(&f[lo], &f[hi]);
        lo++;
    }
}
static void tl__mk_introsort(tl__mkey *f, int64_t n, int64_t depth) {
    while (n > 16) {
        int64_t cut;
        if (depth == 0) { /* partial_sort(first, last, last) */
            tl__mk_heap_select(f, n, n);
            tl__mk_sort_heap(f, n);
            return;
        }
        depth--;
        cut = tl__mk_partition(f, n);
        tl__mk_introsort(f + cut, n - cut, depth);
        n = cut;
    }
}
static void tl__mk_sort(tl__mkey *f, int64_t n) { /* std::sort */
    int64_t i, j;
    if (n < 2) return;
    tl__mk_introsort(f, n, 2 * tl__lg(n));
    if (n > 16) {
        tl__mk_insertion_sort(f, 16);
        for (i = 16; i < n; i++) { /* unguarded insertion */
            tl__mkey v = f[i];
            for (j = i; tl__mk_gt(&v, &f[j - 1]); j--) f[j] = f[j - 1];
            f[j] = v;
        }
    } else {
        tl__mk_insertion_sort(f, n);
    }
}
static void tl__mk_nth_element(tl__mkey *f, int64_t nth, int64_t n) {
    int64_t lo = 0, hi = n, depth = 2 * tl__lg(n);
    if (n == 0 || nth == n) return;
    while (hi - lo > 3) {
        int64_t cut;
        if (depth == 0) {
            tl__mk_heap_select(f + lo, nth - lo + 1, hi - lo);
            tl__mk_swap(&f[lo], &f[nth]);
            return;
        }
        depth--;
        cut = lo + tl__mk_partition(f + lo, hi - lo);
        if (cut <= nth) lo = cut;
        else hi = cut;
    }
    tl__mk_insertion_sort(f + lo, hi - lo);
}
/* The k largest of f[0..n) in f[0..k), in torch's order. */
static void tl__mk_topk(tl__mkey *f, int64_t k, int64_t n) {
    if (k * 64 <= n) {
        tl__mk_heap_select(f, k, n); /* std::partial_sort */
        tl__mk_sort_heap(f, k);
    } else {
        tl__mk_nth_element(f, k - 1, n);
        tl__mk_sort(f, k - 1);
    }
}
/* v rounded to dtype dt (float32 / bfloat16 / float64), as a double. */
static double tl__round_to(double v, tl_dtype dt) {
    if (dt == TL_F32) return (double)(float)v;
    if (dt == TL_BF16) return (double)tl__bf2f(tl__f2bf((float)v));
    return v;
}
TLDEF tl_tensor *tl_multinomial_gen(const tl_tensor *probs, int64_t k, int replacement, tl_generator *g) {
    const char *op = "tl_multinomial";
    tl_tensor *pc = NULL, *out;
    const double *pv;
    double *work = NULL;
    tl__mkey *keys = NULL;
    int64_t rows, K, i, j, oshape[2];
    tl_dtype dt;
    TL__CHECK1(op, probs);
    dt = probs->dtype;
    if (probs->ndim < 1 || probs->ndim > 2)
        return TL__FAILN(TL_ERR_SHAPE, "%s: prob_dist must be 1 or 2 dim, got %s", op, TL__SH(probs));
    if (!TL__IS_FLOAT(dt))
        return TL__FAILN(TL_ERR_DTYPE, "%s: multinomial only supports floating-point dtypes for input, got %s", op,
                         TL__DT(probs));
    if (dt == TL_F16) return TL__FAILN(TL_ERR_DTYPE, "%s: multinomial is not implemented for float16 on CPU", op);
    if (k <= 0) return TL__FAILN(TL_ERR_ARG, "%s: cannot sample n_sample <= 0 samples (got %lld)", op, (long long)k);
    K = probs->shape[probs->ndim - 1];
    rows = probs->ndim == 2 ? probs->shape[0] : 1;
    if (!replacement && k > K)
        return TL__FAILN(TL_ERR_ARG, "%s: cannot sample n_sample > prob_dist.size(-1) samples without replacement "
                         "(%lld > %lld)", op, (long long)k, (long long)K);
    if (K > (INT64_C(1) << 24)) return TL__FAILN(TL_ERR_ARG, "%s: number of categories cannot exceed 2^24", op);
    oshape[0] = rows;
    oshape[1] = k;
    if (probs->ndim == 1) oshape[0] = k;
    if (rows == 0) return tl__ret(tl__new(op, probs->ndim, oshape, TL_I64));
    pc = tl__contig_as(op, probs, TL_F64); /* exact for float32/bfloat16 */
    if (!pc) return NULL;
    pv = (const double *)(const void *)tl__ptr(pc);
    /* validate everything before drawing (torch fails part-way for with-replacement rows) */
    for (i = 0; i < rows; i++) {
        int nz = 0;
        for (j = 0; j < K; j++) {
            double v = pv[i * K + j];
            if (replacement && v < 0) {
                tl__release(pc);
                return TL__FAILN(TL_ERR_ARG, "%s: invalid multinomial distribution (encountering probability entry < 0)", op);
            }
            if (replacement && !(v - v == 0)) {
                tl__release(pc);
                return TL__FAILN(TL_ERR_ARG, "%s: invalid multinomial distribution (encountering probability entry = "
                                 "infinity or NaN)", op);
            }
            if (!replacement && !(v >= 0 && v - v == 0)) {
                tl__release(pc);
                return TL__FAILN(TL_ERR_ARG, "%s: probability tensor contains either inf, nan or element < 0", op);
            }
            if (v > 0) nz = 1;
        }
        if (!nz) {
            tl__release(pc);
            return TL__FAILN(TL_ERR_ARG, "%s: invalid multinomial distribution (sum of probabilities <= 0) in row %lld",
                             op, (long long)i);
        }
    }
    out = tl__new(op, probs->ndim, oshape, TL_I64);
    if (!out) {
        tl__release(pc);
        return NULL;
    }
    g = tl__gen(g);
    work = (double *)tl__malloc(replacement ? tl__szn(K, sizeof(double)) : tl__szmul(tl__szn(rows, sizeof(double)), tl__szn(K, 1)));
    keys = replacement ? NULL : (tl__mkey *)tl__malloc(tl__szn(K, sizeof(tl__mkey)));
    if (!work || (!replacement && !keys)) {
        tl__free(work);
        tl__free(keys);
        tl__release(pc);
        tl__release(out);
        return TL__FAILN(TL_ERR_OOM, "%s: out of memory for %lld x %lld probabilities", op, (long long)rows, (long long)K);
    }
    if (!replacement) {
        /* q = empty_like(probs).exponential_(1): drawn in probs' memory order, in probs' dtype */
        int perm[TL_MAX_DIMS], nd, d;
        int64_t idx[2] = {0, 0}, cnt = rows * K, e;
        nd = tl__mem_order(probs->ndim, probs->shape, probs->stride, perm);
        for (e = 0; e < cnt; e++) {
            int64_t flat = 0;
            double q = tl__round_to(-log(1.0 - tl__u53(g)), dt); /* (-1/lambda) * log(1 - u), lambda = 1 */
            for (d = 0; d < probs->ndim; d++) flat = flat * probs->shape[d] + idx[d];
            work[flat] = q;
            for (d = nd - 1; d >= 0; d--) { /* advance the memory-order odometer */
                if (++idx[perm[d]] < probs->shape[perm[d]]) break;
                idx[perm[d]] = 0;
            }
        }
        for (i = 0; i < rows; i++) {
            int64_t *o = (int64_t *)(void *)tl__ptr(out) + i * k;
            for (j = 0; j < K; j++) { /* key = p / q in the probs dtype (bfloat16: float, rounded) */
                if (dt == TL_F64) keys[j].key = pv[i * K + j] / work[i * K + j];
                else keys[j].key = tl__round_to((double)((float)pv[i * K + j] / (float)work[i * K + j]), dt);
                keys[j].idx = j;
            }
            if (k == 1) { /* argmax: the first largest key, NaN counting as largest */
                int64_t best = 0;
                for (j = 1; j < K && keys[best].key == keys[best].key; j++)
                    if (keys[j].key != keys[j].key || keys[j].key > keys[best].key) best = j;
                o[0] = best;
            } else {
                tl__mk_topk(keys, k, K);
                for (j = 0; j < k; j++) o[j] = keys[j].idx;
            }
        }
    } else {
        for (i = 0; i < rows; i++) {
            int64_t *o = (int64_t *)(void *)tl__ptr(out) + i * k;
            double sum = 0;
            float fsum = 0;
            /* running sum, then normalised: in float64 for float64, in float32 otherwise (bfloat16
               accumulates and keeps its cumulative distribution in float32) */
            for (j = 0; j < K; j++) {
                if (dt == TL_F64) {
                    sum += pv[i * K + j];
                    work[j] = sum;
                } else {
                    fsum += (float)pv[i * K + j];
                    work[j] = fsum;
                }
            }
            for (j = 0; j < K; j++) work[j] = dt == TL_F64 ? work[j] / sum : (double)((float)work[j] / fsum);
            work[K - 1] = 1;
            for (j = 0; j < k; j++) {
                double u = tl__u53(g);
                int64_t left = 0, right = K;
                while (right > left) {
                    int64_t mid = left + (right - left) / 2;
                    if (work[mid] < u) left = mid + 1;
                    else right = mid;
                }
                o[j] = left;
            }
        }
    }
    tl__free(work);
    tl__free(keys);
    tl__release(pc);
    return tl__ret(out);
}
TLDEF tl_tensor *tl_multinomial(const tl_tensor *probs, int64_t num_samples, int replacement) {
    return tl_multinomial_gen(probs, num_samples, replacement, NULL);
}

/* ===== >>modules ============================================================================== */

typedef struct tl__mentry { char *name; tl_tensor *t; int persistent; } tl__mentry;
typedef struct tl__mchild { char *name; tl_module *m; } tl__mchild;
struct tl_module {
    int refcount;
    char type[40];
    tl_forward_fn forward;
    int training;
    int version;                    /* torch's Module._version, saved in state_dict _metadata */
    tl__mentry *params, *bufs;
    int nparams, nbufs, cap_params, cap_bufs;
    tl__mchild *children;
    int nchildren, cap_children;
    void *user;
    void (*free_user)(void *user);
    char *extra;                    /* extra_repr */
    double fp[2];                   /* built-in layers' scalar options */
    int ip[4];
    tl_conv2d_opts conv;
    tl_pool2d_opts pool;
};

static char *tl__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *r = (char *)tl__malloc(n);
    if (r) memcpy(r, s, n);
    return r;
}
/* Makes room for one more element in a growable array (elements of size esz). */
static int tl__grow_array(void **arr, int *cap, int n, size_t esz) {
    void *na;
    int nc;
    if (n < *cap) return 1;
    nc = *cap ? *cap * 2 : 4;
    na = tl__malloc(tl__szn(nc, esz));
    if (!na) return 0;
    if (n) memcpy(na, *arr, esz * (size_t)n);
    tl__free(*arr);
    *arr = na;
    *cap = nc;
    return 1;
}
/* kind: 0 parameter, 1 buffer, 2 child. A name may be re-registered as the same kind only
   (torch: KeyError "attribute 'w' already exists"). */
static int tl__valid_name_kind(const char *op, const tl_module *m, const char *name, int kind) {
    int i, clash = 0;
    if (!name || !*name || strchr(name, '.')) {
        TL__FAIL(TL_ERR_ARG, "%s: name \"%s\" is empty or contains \".\" (module %s)", op, name ? name : "(null)",
                 m->type);
        return 0;
    }
    for (i = 0; i < m->nparams && kind != 0; i++) clash |= !strcmp(m->params[i].name, name);
    for (i = 0; i < m->nbufs && kind != 1; i++) clash |= !strcmp(m->bufs[i].name, name);
    for (i = 0; i < m->nchildren && kind != 2; i++) clash |= !strcmp(m->children[i].name, name);
    if (clash) {
        TL__FAIL(TL_ERR_ARG, "%s: attribute '%s' already exists in %s", op, name, m->type);
        return 0;
    }
    return 1;
}
#define tl__valid_name(op, m, name) tl__valid_name_kind(op, m, name, -1)

TLDEF tl_module *tl_module_new(const char *type_name, tl_forward_fn forward) {
    tl_module *m = (tl_module *)tl__malloc(sizeof(tl_module));
    if (!m) {
        TL__FAIL(TL_ERR_OOM, "tl_module_new: out of memory creating %s", type_name ? type_name : "Module");
        return NULL;
    }
    memset(m, 0, sizeof *m);
    m->refcount = 1;
    m->training = 1;
    m->version = 1;
    m->forward = forward;
    snprintf(m->type, sizeof m->type, "%s", type_name && *type_name ? type_name : "Module");
    return m;
}
TLDEF tl_module *tl_module_retain(tl_module *m) {
    if (m) m->refcount++;
    return m;
}
TLDEF void tl_module_free(tl_module *m) {
    int i;
    if (!m || --m->refcount > 0) return;
    for (i = 0; i < m->nparams; i++) {
        tl__free(m->params[i].name);
        tl__release(m->params[i].t);
    }
    for (i = 0; i < m->nbufs; i++) {
        tl__free(m->bufs[i].name);
        tl__release(m->bufs[i].t);
    }
    for (i = 0; i < m->nchildren; i++) {
        tl__free(m->children[i].name);
        tl_module_free(m->children[i].m);
    }
    tl__free(m->params);
    tl__free(m->bufs);
    tl__free(m->children);
    tl__free(m->extra);
    if (m->free_user) m->free_user(m->user);
    tl__free(m);
}
/* Sets name -> t in a list of entries (replacing an existing entry of that name). */
static tl_status tl__mentry_set(const char *op, tl__mentry **arr, int *n, int *cap, const char *name, tl_tensor *t,
                                int persistent) {
    int i;
    for (i = 0; i < *n; i++)
        if (strcmp((*arr)[i].name, name) == 0) {
            if (t) t->refcount++;
            tl__release((*arr)[i].t);
            (*arr)[i].t = t;
            (*arr)[i].persistent = persistent;
            return TL_OK;
        }
    if (!tl__grow_array((void **)arr, cap, *n, sizeof(tl__mentry)))
        return TL__FAIL(TL_ERR_OOM, "%s: out of memory registering \"%s\"", op, name);
    (*arr)[*n].name = tl__strdup(name);
    if (!(*arr)[*n].name) return TL__FAIL(TL_ERR_OOM, "%s: out of memory registering \"%s\"", op, name);
    if (t) t->refcount++;
    (*arr)[*n].t = t;
    (*arr)[*n].persistent = persistent;
    (*n)++;
    return TL_OK;
}
TLDEF tl_status tl_module_register_parameter(tl_module *m, const char *name, tl_tensor *param) {
    TL__CHECK1S("tl_module_register_parameter", m);
    if (!tl__valid_name_kind("tl_module_register_parameter", m, name, 0)) return tl__tls.status;
    if (param && param->grad_fn)
        return TL__FAIL(TL_ERR_STATE, "tl_module_register_parameter: parameter \"%s\" of %s must be a leaf tensor "
                        "(%s is the output of %s); pass tl_detach of it", name, m->type, TL__SH(param),
                        tl_grad_fn_name(param));
    if (param && !TL__IS_FLOAT(param->dtype))
        return TL__FAIL(TL_ERR_DTYPE, "tl_module_register_parameter: only floating point tensors can be parameters "
                        "(\"%s\" is %s %s)", name, TL__DT(param), TL__SH(param));
    if (param) param->requires_grad = 1;
    return tl__mentry_set("tl_module_register_parameter", &m->params, &m->nparams, &m->cap_params, name, param, 1);
}
TLDEF tl_status tl_module_register_buffer(tl_module *m, const char *name, tl_tensor *buffer, int persistent) {
    TL__CHECK1S("tl_module_register_buffer", m);
    if (!tl__valid_name_kind("tl_module_register_buffer", m, name, 1)) return tl__tls.status;
    return tl__mentry_set("tl_module_register_buffer", &m->bufs, &m->nbufs, &m->cap_bufs, name, buffer,
                          persistent ? 1 : 0);
}
TLDEF tl_status tl_module_add_module(tl_module *m, const char *name, tl_module *child) {
    int i;
    if (!m || !child) {
        tl_module_free(child);
        if (!m) return TL__FAIL(TL_ERR_ARG, "tl_module_add_module: module is NULL");
        if (tl__tls.status) return tl__tls.status; /* the child's constructor failed: keep its error */
        return TL__FAIL(TL_ERR_ARG, "tl_module_add_module: child \"%s\" of %s is NULL", name ? name : "", m->type);
    }
    if (!tl__valid_name_kind("tl_module_add_module", m, name, 2)) {
        tl_module_free(child);
        return tl__tls.status;
    }
    for (i = 0; i < m->nchildren; i++)
        if (strcmp(m->children[i].name, name) == 0) {
            tl_module_free(m->children[i].m);
            m->children[i].m = child;
            return TL_OK;
        }
    if (!tl__grow_array((void **)&m->children, &m->cap_children, m->nchildren, sizeof(tl__mchild)) ||
        !(m->children[m->nchildren].name = tl__strdup(name))) {
        tl_module_free(child);
        return TL__FAIL(TL_ERR_OOM, "tl_module_add_module: out of memory adding \"%s\" to %s", name, m->type);
    }
    m->children[m->nchildren++].m = child;
    return TL_OK;
}
TLDEF void tl_module_set_user(tl_module *m, void *user, void (*free_user)(void *user)) {
    if (!m) return;
    m->user = user;
    m->free_user = free_user;
}
TLDEF void *tl_module_user(const tl_module *m) { return m ? m->user : NULL; }
TLDEF tl_status tl_module_set_extra_repr(tl_module *m, const char *extra) {
    char *e;
    TL__CHECK1S("tl_module_set_extra_repr", m);
    e = tl__strdup(extra ? extra : "");
    if (!e) return TL__FAIL(TL_ERR_OOM, "tl_module_set_extra_repr: out of memory");
    tl__free(m->extra);
    m->extra = e;
    return TL_OK;
}
TLDEF const char *tl_module_type(const tl_module *m) { return m ? m->type : ""; }
TLDEF int tl_module_len(const tl_module *m) { return m ? m->nchildren : 0; }
TLDEF tl_module *tl_module_at(const tl_module *m, int index) {
    if (tl__null_in("tl_module_at", m)) return NULL;
    if (index < 0) index += m->nchildren;
    if (index < 0 || index >= m->nchildren) {
        TL__FAIL(TL_ERR_INDEX, "tl_module_at: index %d is out of range for %s with %d children", index, m->type,
                 m->nchildren);
        return NULL;
    }
    return m->children[index].m;
}
TLDEF const char *tl_module_child_name(const tl_module *m, int index) {
    return m && index >= 0 && index < m->nchildren ? m->children[index].name : NULL;
}
static tl_module *tl__child_n(const tl_module *m, const char *name, size_t len) {
    int i;
    for (i = 0; i < m->nchildren; i++)
        if (strlen(m->children[i].name) == len && memcmp(m->children[i].name, name, len) == 0) return m->children[i].m;
    return NULL;
}
/* Walks "a.b.c": returns the module holding the last component (*last points at it). */
static const tl_module *tl__walk_path(const char *op, const tl_module *m, const char *path, const char **last) {
    const char *p = path, *dot;
    while ((dot = strchr(p, '.')) != NULL) {
        const tl_module *c = tl__child_n(m, p, (size_t)(dot - p));
        if (!c) {
            TL__FAIL(TL_ERR_ARG, "%s: %s has no submodule \"%.*s\" (path \"%s\")", op, m->type, (int)(dot - p), p, path);
            return NULL;
        }
        m = c;
        p = dot + 1;
    }
    *last = p;
    return m;
}
TLDEF tl_module *tl_module_child(const tl_module *m, const char *path) {
    const char *last;
    tl_module *c;
    if (tl__null_in("tl_module_child", m) || tl__null_in("tl_module_child", path)) return NULL;
    m = tl__walk_path("tl_module_child", m, path, &last);
    if (!m) return NULL;
    c = tl__child_n(m, last, strlen(last));
    if (!c) TL__FAIL(TL_ERR_ARG, "tl_module_child: %s has no submodule \"%s\" (path \"%s\")", m->type, last, path);
    return c;
}
TLDEF tl_tensor *tl_module_get(const tl_module *m, const char *path) {
    const char *last;
    int i;
    if (tl__null_in("tl_module_get", m) || tl__null_in("tl_module_get", path)) return NULL;
    m = tl__walk_path("tl_module_get", m, path, &last);
    if (!m) return NULL;
    for (i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, last) == 0) return m->params[i].t ? tl_retain(m->params[i].t) : NULL;
    for (i = 0; i < m->nbufs; i++)
        if (strcmp(m->bufs[i].name, last) == 0) return m->bufs[i].t ? tl_retain(m->bufs[i].t) : NULL;
    return TL__FAILN(TL_ERR_ARG, "tl_module_get: %s has no parameter or buffer \"%s\" (path \"%s\")", m->type, last,
                     path);
}
/* The module's own parameter by name (borrowed; NULL for None or missing). */
static tl_tensor *tl__mparam(const tl_module *m, const char *name) {
    int i;
    for (i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0) return m->params[i].t;
    return NULL;
}

TLDEF tl_tensor *tl_module_forward(tl_module *m, const tl_tensor *input) {
    if (tl__null_in("tl_module_forward", m) || tl__null_in("tl_module_forward", input)) return NULL;
    if (!m->forward)
        return TL__FAILN(TL_ERR_STATE, "tl_module_forward: %s has no forward function (input %s)", m->type,
                         TL__SH(input));
    {
        tl_status before = tl__tls.status;
        tl_tensor *out = m->forward(m, input); /* the forward function returns a tracked new reference */
        if (!out && before == TL_OK && tl__tls.status == TL_OK) /* a user's forward that forgot to say why */
            TL__FAIL(TL_ERR_STATE, "tl_module_forward: the forward function of %s returned NULL without recording an "
                     "error (input %s)", m->type, TL__SH(input));
        return out;
    }
}

/* ---- traversals ---- */

typedef struct tl__seen { const void **p; int n, cap; } tl__seen;
static int tl__seen_add(tl__seen *s, const void *p) { /* 1 when new, 0 when seen, -1 on OOM */
    int i;
    for (i = 0; i < s->n; i++)
        if (s->p[i] == p) return 0;
    if (!tl__grow_array((void **)&s->p, &s->cap, s->n, sizeof(void *))) return -1;
    s->p[s->n++] = p;
    return 1;
}
/* cap[0]: capacity of l->names, cap[1]: of l->tensors (grown separately, so a failure leaves
   both arrays consistent and nothing orphaned). */
static int tl__named_push(tl_named_tensors *l, int *cap, const char *prefix, const char *name, tl_tensor *t) {
    size_t n1 = strlen(prefix), n2 = strlen(name);
    char *full;
    if (!tl__grow_array((void **)&l->names, &cap[0], l->n, sizeof(char *)) ||
        !tl__grow_array((void **)&l->tensors, &cap[1], l->n, sizeof(tl_tensor *)))
        return 0;
    full = (char *)tl__malloc(n1 + n2 + 1);
    if (!full) return 0;
    memcpy(full, prefix, n1);
    memcpy(full + n1, name, n2 + 1);
    l->names[l->n] = full;
    l->tensors[l->n] = t;
    t->refcount++;
    l->n++;
    return 1;
}
/* named_parameters / named_buffers (torch's remove_duplicate: modules and tensors once). */
static int tl__collect(const tl_module *m, const char *prefix, int buffers, tl_named_tensors *l, int *cap,
                       tl__seen *mods, tl__seen *tens) {
    int i, r;
    char sub[512];
    r = tl__seen_add(mods, m);
    if (r <= 0) return r == 0;
    for (i = 0; i < (buffers ? m->nbufs : m->nparams); i++) {
        tl__mentry *e = buffers ? &m->bufs[i] : &m->params[i];
        if (!e->t) continue;
        r = tl__seen_add(tens, e->t);
        if (r < 0 || (r == 1 && !tl__named_push(l, cap, prefix, e->name, e->t))) return 0;
    }
    for (i = 0; i < m->nchildren; i++) {
        snprintf(sub, sizeof sub, "%s%s.", prefix, m->children[i].name);
        if (!tl__collect(m->children[i].m, sub, buffers, l, cap, mods, tens)) return 0;
    }
    return 1;
}
static tl_named_tensors *tl__named(const char *op, const tl_module *m, int buffers) {
    tl_named_tensors *l;
    tl__seen mods, tens;
    int cap[2] = {0, 0}, ok;
    if (tl__null_in(op, m)) return NULL;
    l = (tl_named_tensors *)tl__malloc(sizeof *l);
    if (!l) {
        TL__FAIL(TL_ERR_OOM, "%s: out of memory", op);
        return NULL;
    }
    memset(l, 0, sizeof *l);
    memset(&mods, 0, sizeof mods);
    memset(&tens, 0, sizeof tens);
    ok = tl__collect(m, "", buffers, l, cap, &mods, &tens);
    tl__free(mods.p);
    tl__free(tens.p);
    if (!ok) {
        tl_named_tensors_free(l);
        TL__FAIL(TL_ERR_OOM, "%s: out of memory listing the tensors of %s", op, m->type);
        return NULL;
    }
    return l;
}
TLDEF tl_named_tensors *tl_module_named_parameters(const tl_module *m) {
    return tl__named("tl_module_named_parameters", m, 0);
}
TLDEF tl_named_tensors *tl_module_named_buffers(const tl_module *m) { return tl__named("tl_module_named_buffers", m, 1); }
TLDEF void tl_named_tensors_free(tl_named_tensors *l) {
    int i;
    if (!l) return;
    for (i = 0; i < l->n; i++) {
        tl__free(l->names[i]);
        tl__release(l->tensors[i]);
    }
    tl__free(l->names);
    tl__free(l->tensors);
    tl__free(l);
}
TLDEF int64_t tl_module_num_parameters(const tl_module *m) {
    tl_named_tensors *l = tl_module_named_parameters(m);
    int64_t n = 0;
    int i;
    if (!l) return 0;
    for (i = 0; i < l->n; i++) n += tl_numel(l->tensors[i]);
    tl_named_tensors_free(l);
    return n;
}
/* Swaps a converted copy's storage into each tensor: t keeps its identity, shape and flags, and
   gets contiguous strides over a new storage of dtype dt (the old storage dies with the copy); a
   floating .grad is replaced by a converted copy. */
static tl_status tl__to_dtype_inplace(const char *op, tl_named_tensors *l, tl_dtype dt) {
    int i, d;
    for (i = 0; l && i < l->n; i++) {
        tl_tensor *t = l->tensors[i], *c;
        tl_storage *st;
        tl_status s;
        if (!TL__IS_FLOAT(t->dtype) || t->dtype == dt) continue;
        c = tl__new(op, t->ndim, t->shape, dt);
        if (!c) return tl__tls.status;
        tl_no_grad_begin();
        s = tl_copy_(c, t);
        tl_no_grad_end();
        if (s != TL_OK) {
            tl__release(c);
            return s;
        }
        st = t->storage;
        t->storage = c->storage;
        c->storage = st;
        c->dtype = t->dtype; /* the copy now describes the old storage, which it frees */
        c->offset = t->offset;
        for (d = 0; d < t->ndim; d++) {
            int64_t x = c->stride[d];
            c->stride[d] = t->stride[d];
            t->stride[d] = x;
        }
        t->dtype = dt;
        t->offset = 0;
        tl__release(c);
        if (t->grad && TL__IS_FLOAT(t->grad->dtype) && t->grad->dtype != dt) { /* torch converts .grad too */
            tl_tensor *g = tl__new(op, t->grad->ndim, t->grad->shape, dt);
            if (!g) return tl__tls.status;
            tl_no_grad_begin();
            s = tl_copy_(g, t->grad);
            tl_no_grad_end();
            if (s != TL_OK) {
                tl__release(g);
                return s;
            }
            tl__release(t->grad);
            t->grad = g;
        }
    }
    return TL_OK;
}
TLDEF tl_status tl_module_to_dtype(tl_module *m, tl_dtype dt) {
    const char *op = "tl_module_to_dtype";
    tl_named_tensors *p, *b;
    tl_status st;
    if (!m) return tl__tls.status ? tl__tls.status : TL__FAIL(TL_ERR_ARG, "%s: module is NULL", op);
    if (!TL__IS_FLOAT(dt))
        return TL__FAIL(TL_ERR_DTYPE, "%s: nn.Module.to only accepts floating point dtypes, got %s", op,
                        tl_dtype_name(dt));
    p = tl_module_named_parameters(m);
    b = p ? tl_module_named_buffers(m) : NULL;
    st = b ? tl__to_dtype_inplace(op, p, dt) : tl__tls.status;
    if (st == TL_OK) st = tl__to_dtype_inplace(op, b, dt);
    tl_named_tensors_free(p);
    tl_named_tensors_free(b);
    return st;
}
TLDEF void tl_module_train(tl_module *m, int mode) {
    int i;
    if (!m) return;
    m->training = mode ? 1 : 0;
    for (i = 0; i < m->nchildren; i++) tl_module_train(m->children[i].m, mode);
}
TLDEF void tl_module_eval(tl_module *m) { tl_module_train(m, 0); }
TLDEF int tl_module_training(const tl_module *m) { return m ? m->training : 0; }
TLDEF tl_status tl_module_requires_grad_(tl_module *m, int requires_grad) {
    int i;
    TL__CHECK1S("tl_module_requires_grad_", m);
    for (i = 0; i < m->nparams; i++)
        if (m->params[i].t) m->params[i].t->requires_grad = requires_grad ? 1 : 0;
    for (i = 0; i < m->nchildren; i++) tl_module_requires_grad_(m->children[i].m, requires_grad);
    return TL_OK;
}
TLDEF void tl_module_zero_grad(tl_module *m) {
    int i;
    if (!m) return;
    for (i = 0; i < m->nparams; i++)
        if (m->params[i].t) {
            tl__release(m->params[i].t->grad);
            m->params[i].t->grad = NULL;
        }
    for (i = 0; i < m->nchildren; i++) tl_module_zero_grad(m->children[i].m);
}
TLDEF tl_status tl_module_apply(tl_module *m, tl_status (*fn)(tl_module *m, void *user), void *user) {
    int i;
    tl_status st;
    TL__CHECK1S("tl_module_apply", m);
    if (!fn) return TL__FAIL(TL_ERR_ARG, "tl_module_apply: fn is NULL (module %s)", m->type);
    for (i = 0; i < m->nchildren; i++) {
        int j, dup = 0; /* torch's children() yields a module held twice by one parent once */
        for (j = 0; j < i; j++) dup |= m->children[j].m == m->children[i].m;
        if (!dup && (st = tl_module_apply(m->children[i].m, fn, user)) != TL_OK) return st;
    }
    return fn(m, user);
}

/* ---- state_dict ---- */

typedef struct tl__sd {
    int n, cap, capt, nmod, capmod, capv; /* keys/tensors and paths/versions grow separately */
    char **keys;
    tl_tensor **tensors;
    char **paths;
    int64_t *versions;
} tl__sd;
/* (*arr)[n] = a + b, growing *arr first; on failure nothing is stored or orphaned. */
static int tl__sd_push(char ***arr, int *cap, int n, const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *s;
    if (!tl__grow_array((void **)arr, cap, n, sizeof(char *))) return 0;
    s = (char *)tl__malloc(na + nb + 1);
    if (!s) return 0;
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
    (*arr)[n] = s;
    return 1;
}
/* Module.state_dict order: own parameters, own persistent buffers, then each child (no dedup).
   Each parallel array is grown before its partner's string is allocated, so an allocation failure
   at any point leaves n/nmod counting exactly what tl__sd_free must free. */
static int tl__sd_walk(const tl_module *m, const char *prefix, tl__sd *sd, int depth) {
    int i;
    char sub[512];
    if (depth > 64) return 0;
    {
        size_t pl = strlen(prefix);
        char path[512];
        snprintf(path, sizeof path, "%.*s", pl ? (int)pl - 1 : 0, prefix); /* "fc1." -> "fc1" */
        if (!tl__grow_array((void **)&sd->versions, &sd->capv, sd->nmod, sizeof(int64_t)) ||
            !tl__sd_push(&sd->paths, &sd->capmod, sd->nmod, path, ""))
            return 0;
        sd->versions[sd->nmod++] = m->version;
    }
    for (i = 0; i < m->nparams + m->nbufs; i++) {
        tl__mentry *e = i < m->nparams ? &m->params[i] : &m->bufs[i - m->nparams];
        if (!e->t || !e->persistent) continue;
        if (!tl__grow_array((void **)&sd->tensors, &sd->capt, sd->n, sizeof(tl_tensor *)) ||
            !tl__sd_push(&sd->keys, &sd->cap, sd->n, prefix, e->name))
            return 0;
        sd->tensors[sd->n++] = e->t;
    }
    for (i = 0; i < m->nchildren; i++) {
        snprintf(sub, sizeof sub, "%s%s.", prefix, m->children[i].name);
        if (!tl__sd_walk(m->children[i].m, sub, sd, depth + 1)) return 0;
    }
    return 1;
}
static void tl__sd_free(tl__sd *sd) {
    int i;
    for (i = 0; i < sd->n; i++) tl__free(sd->keys[i]);
    for (i = 0; i < sd->nmod; i++) tl__free(sd->paths[i]);
    tl__free(sd->keys);
    tl__free(sd->tensors);
    tl__free(sd->paths);
    tl__free(sd->versions);
}
TLDEF tl_value *tl_module_state_dict(const tl_module *m) {
    tl__sd sd;
    tl_value *v = NULL;
    if (tl__null_in("tl_module_state_dict", m)) return NULL;
    memset(&sd, 0, sizeof sd);
    if (!tl__sd_walk(m, "", &sd, 0)) {
        TL__FAIL(TL_ERR_OOM, "tl_module_state_dict: out of memory walking %s", m->type);
    } else { /* torch's state_dict holds detached tensors sharing the parameters' storage */
        int i, ok = 1;
        for (i = 0; i < sd.n && ok; i++) {
            tl_tensor *d = tl__alias("tl_module_state_dict", sd.tensors[i]);
            ok = d != NULL;
            sd.tensors[i] = d;
        }
        if (ok)
            v = tl_state_dict_build(sd.n, (const char *const *)sd.keys, sd.tensors, sd.nmod,
                                    (const char *const *)sd.paths, sd.versions);
        while (i-- > 0) tl__release(sd.tensors[i]);
    }
    tl__sd_free(&sd);
    return v;
}
/* torch's BatchNorm (version 2) accepts state_dicts of version 1, which had no
   num_batches_tracked: such a missing key is filled with 0 instead of being reported. */
static int tl__bn_old_counter(const tl_value *sd, const char *key) {
    const char *suffix = "num_batches_tracked";
    size_t kl = strlen(key), sl = strlen(suffix);
    const tl_value *meta = tl_value_metadata(sd), *ver;
    char prefix[512];
    if (kl < sl || strcmp(key + kl - sl, suffix) != 0 || (kl > sl && key[kl - sl - 1] != '.')) return 0;
    snprintf(prefix, sizeof prefix, "%.*s", kl > sl ? (int)(kl - sl - 1) : 0, key);
    if (!meta) return 1;
    ver = tl_value_get(meta, prefix);
    ver = ver ? tl_value_get(ver, "version") : NULL;
    return !ver || tl_value_as_int(ver) < 2;
}
static void tl__append_key(char *buf, size_t cap, const char *key) {
    size_t n = strlen(buf);
    if (n >= 5 && strcmp(buf + n - 5, ", ...") == 0) return;
    if (n + strlen(key) + 12 < cap) snprintf(buf + n, cap - n, "%s\"%s\"", n ? ", " : "", key);
    else snprintf(buf + n, cap - n, ", ...");
}
/* torch's check for unexpected keys, module by module in load order: a key under this module's
   prefix whose next name component is neither one of its children nor one of its (non-None)
   parameters and persistent buffers. */
static void tl__unexpected_walk(const tl_module *m, const char *prefix, const tl_value *sd, tl_load_report *rep,
                                int depth) {
    size_t i, nkeys = tl_value_len(sd), pl = strlen(prefix);
    int c;
    char sub[512];
    if (depth > 64) return;
    for (i = 0; i < nkeys; i++) {
        const tl_value *key = tl_value_key(sd, i);
        const char *ks = tl_value_kind_of(key) == TL_VALUE_STRING ? tl_value_as_string(key, NULL) : NULL;
        const char *rest, *dot;
        size_t len;
        int k, known = 0;
        if (!ks || strncmp(ks, prefix, pl) != 0) continue;
        rest = ks + pl;
        dot = strchr(rest, '.');
        len = dot ? (size_t)(dot - rest) : strlen(rest);
        for (k = 0; k < m->nchildren && !known; k++)
            known = strlen(m->children[k].name) == len && !memcmp(m->children[k].name, rest, len);
        for (k = 0; k < m->nparams && !known; k++)
            known = m->params[k].t && strlen(m->params[k].name) == len && !memcmp(m->params[k].name, rest, len);
        for (k = 0; k < m->nbufs && !known; k++)
            known = m->bufs[k].t && m->bufs[k].persistent && strlen(m->bufs[k].name) == len &&
                    !memcmp(m->bufs[k].name, rest, len);
        if (!known) {
            rep->unexpected++;
            tl__append_key(rep->unexpected_keys, sizeof rep->unexpected_keys, ks);
        }
    }
    for (c = 0; c < m->nchildren; c++) {
        snprintf(sub, sizeof sub, "%s%s.", prefix, m->children[c].name);
        tl__unexpected_walk(m->children[c].m, sub, sd, rep, depth + 1);
    }
}
static const char *tl__py_type(tl_value_kind k) {
    switch (k) {
    case TL_VALUE_NONE: return "<class 'NoneType'>";
    case TL_VALUE_BOOL: return "<class 'bool'>";
    case TL_VALUE_INT: return "<class 'int'>";
    case TL_VALUE_FLOAT: return "<class 'float'>";
    case TL_VALUE_STRING: return "<class 'str'>";
    case TL_VALUE_LIST: return "<class 'list'>";
    case TL_VALUE_TUPLE: return "<class 'tuple'>";
    case TL_VALUE_DICT: return "<class 'dict'>";
    default: return "<class 'object'>";
    }
}
/* torch's Module.load_state_dict: every matching tensor is copied (into the existing tensors, so
   optimizers keep their references); then errors, if any, are reported together. */
TLDEF tl_status tl_module_load_state_dict(tl_module *m, const tl_value *state_dict, int strict,
                                          tl_load_report *report) {
    tl__sd sd;
    tl_load_report rep;
    tl__sb errs;
    int k;
    tl_status st = TL_OK;
    TL__CHECK2S("tl_module_load_state_dict", m, state_dict);
    if (tl_value_kind_of(state_dict) != TL_VALUE_DICT)
        return TL__FAIL(TL_ERR_ARG, "tl_module_load_state_dict: expected a dict, got %s (module %s)",
                        tl_value_kind_name(tl_value_kind_of(state_dict)), m->type);
    memset(&rep, 0, sizeof rep);
    memset(&sd, 0, sizeof sd);
    memset(&errs, 0, sizeof errs);
    if (!tl__sd_walk(m, "", &sd, 0)) {
        tl__sd_free(&sd);
        return TL__FAIL(TL_ERR_OOM, "tl_module_load_state_dict: out of memory walking %s", m->type);
    }
    tl_no_grad_begin();
    for (k = 0; k < sd.n; k++) {
        const tl_value *v = tl_value_get(state_dict, sd.keys[k]);
        tl_tensor *dst = sd.tensors[k], *src, *use;
        char line[600];
        if (!v) {
            if (tl__bn_old_counter(state_dict, sd.keys[k])) { /* torch fills it with 0 */
                tl_fill_(dst, 0);
                continue;
            }
            rep.missing++;
            tl__append_key(rep.missing_keys, sizeof rep.missing_keys, sd.keys[k]);
            continue;
        }
        if (tl_value_kind_of(v) != TL_VALUE_TENSOR) {
            snprintf(line, sizeof line, "\n\tWhile copying the parameter named \"%s\", expected torch.Tensor or "
                     "Tensor-like object from checkpoint but received %s", sd.keys[k],
                     tl__py_type(tl_value_kind_of(v)));
            tl__sb_str(&errs, line);
            continue;
        }
        src = tl_value_tensor_of(v);
        if (!src) continue;
        use = src;
        if (dst->ndim == 0 && src->ndim == 1 && src->shape[0] >= 1) /* torch's backward compatibility */
            use = tl__select("tl_module_load_state_dict", src, 0, 0);
        if (use && (use->ndim != dst->ndim ||
                    memcmp(use->shape, dst->shape, sizeof(int64_t) * (size_t)dst->ndim))) {
            snprintf(line, sizeof line, "\n\tsize mismatch for %s: copying a param with shape torch.Size(%s) from "
                     "checkpoint, the shape in current model is torch.Size(%s).", sd.keys[k], TL__SH(src),
                     TL__SH(dst));
            tl__sb_str(&errs, line);
        } else if (use) {
            tl_copy_(dst, use);
        }
        if (use != src) tl__release(use);
        if (tl__tls.scope_depth == 0) tl__release(src);
    }
    tl_no_grad_end();
    tl__unexpected_walk(m, "", state_dict, &rep, 0);
    if (errs.oom) {
        st = TL__FAIL(TL_ERR_OOM, "tl_module_load_state_dict: out of memory");
    } else if (errs.n || (strict && (rep.missing || rep.unexpected))) {
        st = TL__FAIL(TL_ERR_STATE, "tl_module_load_state_dict: Error(s) in loading state_dict for %s:%s%s%s%s%s%s%s",
                      m->type, strict && rep.missing ? "\n\tMissing key(s) in state_dict: " : "",
                      strict && rep.missing ? rep.missing_keys : "", strict && rep.missing ? ". " : "",
                      strict && rep.unexpected ? "\n\tUnexpected key(s) in state_dict: " : "",
                      strict && rep.unexpected ? rep.unexpected_keys : "", strict && rep.unexpected ? ". " : "",
                      errs.p ? errs.p : "");
    }
    tl__free(errs.p);
    tl__sd_free(&sd);
    if (report) *report = rep;
    return st;
}
#ifndef TL_NO_STDIO
TLDEF tl_status tl_save_state_dict(const tl_module *m, const char *path) {
    tl_value *sd = tl_module_state_dict(m);
    tl_status st;
    if (!sd) return tl__tls.status ? tl__tls.status : TL_ERR_ARG;
    st = tl_save(sd, path);
    tl_value_free(sd);
    return st;
}
TLDEF tl_status tl_load_state_dict(tl_module *m, const char *path, int strict) {
    tl_value *sd;
    tl_status st;
    TL__CHECK1S("tl_load_state_dict", m);
    sd = tl_load(path);
    if (!sd) return tl__tls.status ? tl__tls.status : TL_ERR_IO;
    st = tl_module_load_state_dict(m, sd, strict, NULL);
    tl_value_free(sd);
    return st;
}
#endif

/* ---- repr ---- */

/* Appends str with every line after the first indented by n spaces (torch's _addindent). */
static void tl__sb_addindent(tl__sb *s, const char *str, int n) {
    for (; *str; str++) {
        tl__sb_put(s, str, 1);
        if (*str == '\n') tl__sb_rep(s, ' ', n);
    }
}
/* torch's Module.__repr__: extra_repr lines, then "(name): child" lines. */
static void tl__mrepr(const tl_module *m, tl__sb *s, int depth) {
    const char *extra = m->extra && *m->extra ? m->extra : NULL;
    int i, multi_extra = extra && strchr(extra, '\n') != NULL;
    tl__sb_str(s, m->type);
    tl__sb_put(s, "(", 1);
    if ((extra || m->nchildren) && depth < 64) {
        if (extra && !multi_extra && m->nchildren == 0) {
            tl__sb_str(s, extra);
        } else {
            if (extra) {
                tl__sb_str(s, "\n  ");
                tl__sb_addindent(s, extra, 2);
            }
            for (i = 0; i < m->nchildren; i++) {
                tl__sb child;
                memset(&child, 0, sizeof child);
                tl__mrepr(m->children[i].m, &child, depth + 1);
                tl__sb_str(s, "\n  (");
                tl__sb_str(s, m->children[i].name);
                tl__sb_str(s, "): ");
                if (child.p) tl__sb_addindent(s, child.p, 2);
                s->oom |= child.oom;
                tl__free(child.p);
            }
            tl__sb_put(s, "\n", 1);
        }
    }
    tl__sb_put(s, ")", 1);
}
TLDEF int tl_module_to_string(const tl_module *m, char *buf, size_t cap) {
    tl__sb s;
    int n;
    TL__CHECK1S("tl_module_to_string", m);
    memset(&s, 0, sizeof s);
    tl__mrepr(m, &s, 0);
    if (s.oom) {
        tl__free(s.p);
        return TL__FAIL(TL_ERR_OOM, "tl_module_to_string: out of memory");
    }
    if (buf && cap > 0) {
        size_t c = s.n < cap - 1 ? s.n : cap - 1;
        if (s.p) memcpy(buf, s.p, c);
        buf[c] = 0;
    }
    n = (int)s.n;
    tl__free(s.p);
    return n;
}
#ifndef TL_NO_STDIO
TLDEF tl_status tl_module_print(const tl_module *m) {
    int n = tl_module_to_string(m, NULL, 0);
    char *b;
    if (n < 0) return (tl_status)n;
    b = (char *)tl__malloc(tl__szadd((size_t)n, 1));
    if (!b) return TL__FAIL(TL_ERR_OOM, "tl_module_print: out of memory");
    tl_module_to_string(m, b, (size_t)n + 1);
    puts(b);
    tl__free(b);
    return TL_OK;
}
#endif

/* ---- nn.init ---- */

TLDEF double tl_init_calculate_gain(const char *nl, double param) {
    if (!nl) nl = "linear";
    if (!strcmp(nl, "linear") || !strncmp(nl, "conv", 4) || !strcmp(nl, "sigmoid")) return 1;
    if (!strcmp(nl, "tanh")) return 5.0 / 3;
    if (!strcmp(nl, "relu")) return sqrt(2.0);
    if (!strcmp(nl, "leaky_relu")) {
        double slope = param != param ? 0.01 : param; /* NAN means torch's default */
        return sqrt(2.0 / (1 + slope * slope));
    }
    if (!strcmp(nl, "selu")) return 3.0 / 4;
    TL__FAIL(TL_ERR_ARG, "tl_init_calculate_gain: unsupported nonlinearity \"%s\"", nl);
    return NAN;
}
static int tl__fans(const char *op, const tl_tensor *t, double *fan_in, double *fan_out) {
    int64_t rf = 1;
    int d;
    if (t->ndim < 2) {
        TL__FAIL(TL_ERR_SHAPE, "%s: fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
                 "(%s)", op, TL__SH(t));
        return 0;
    }
    for (d = 2; d < t->ndim; d++) rf *= t->shape[d];
    *fan_in = (double)(t->shape[1] * rf);
    *fan_out = (double)(t->shape[0] * rf);
    return 1;
}
/* nn.init runs under torch.no_grad(). */
#define TL__NOGRAD(expr)                                                                           \
    do {                                                                                           \
        tl_status st_;                                                                             \
        tl_no_grad_begin();                                                                        \
        st_ = (expr);                                                                              \
        tl_no_grad_end();                                                                          \
        return st_;                                                                                \
    } while (0)
TLDEF tl_status tl_init_uniform_(tl_tensor *t, double a, double b) { TL__NOGRAD(tl_uniform_(t, a, b)); }
TLDEF tl_status tl_init_normal_(tl_tensor *t, double mean, double std) { TL__NOGRAD(tl_normal_(t, mean, std)); }
TLDEF tl_status tl_init_constant_(tl_tensor *t, double value) { TL__NOGRAD(tl_fill_(t, value)); }
TLDEF tl_status tl_init_zeros_(tl_tensor *t) { TL__NOGRAD(tl_fill_(t, 0)); }
TLDEF tl_status tl_init_ones_(tl_tensor *t) { TL__NOGRAD(tl_fill_(t, 1)); }
TLDEF tl_status tl_init_eye_(tl_tensor *t) {
    tl_tensor *e;
    tl_status st;
    TL__CHECK1S("tl_init_eye_", t);
    if (t->ndim != 2) return TL__FAIL(TL_ERR_SHAPE, "tl_init_eye_: only 2-D tensors are supported, got %s", TL__SH(t));
    e = tl_eye(t->shape[0], t->shape[1], t->dtype);
    if (!e) return tl__tls.status;
    tl_no_grad_begin();
    st = tl_copy_(t, e);
    tl_no_grad_end();
    if (tl__tls.scope_depth == 0) tl__release(e);
    return st;
}
TLDEF tl_status tl_init_xavier_uniform_(tl_tensor *t, double gain) {
    double fi, fo, std;
    TL__CHECK1S("tl_init_xavier_uniform_", t);
    if (!tl__fans("tl_init_xavier_uniform_", t, &fi, &fo)) return tl__tls.status;
    std = gain * sqrt(2.0 / (fi + fo));
    TL__NOGRAD(tl_uniform_(t, -sqrt(3.0) * std, sqrt(3.0) * std));
}
TLDEF tl_status tl_init_xavier_normal_(tl_tensor *t, double gain) {
    double fi, fo;
    TL__CHECK1S("tl_init_xavier_normal_", t);
    if (!tl__fans("tl_init_xavier_normal_", t, &fi, &fo)) return tl__tls.status;
    TL__NOGRAD(tl_normal_(t, 0, gain * sqrt(2.0 / (fi + fo))));
}
static int tl__kaiming_std(const char *op, const tl_tensor *t, double a, const char *mode, const char *nl, double *std) {
    double fi, fo, gain;
    if (!tl__fans(op, t, &fi, &fo)) return 0;
    if (!mode) mode = "fan_in";
    if (strcmp(mode, "fan_in") && strcmp(mode, "fan_out")) {
        TL__FAIL(TL_ERR_ARG, "%s: mode \"%s\" not supported, please use one of fan_in, fan_out", op, mode);
        return 0;
    }
    gain = tl_init_calculate_gain(nl ? nl : "leaky_relu", a);
    if (gain != gain) return 0;
    *std = gain / sqrt(!strcmp(mode, "fan_in") ? fi : fo);
    return 1;
}
TLDEF tl_status tl_init_kaiming_uniform_(tl_tensor *t, double a, const char *mode, const char *nonlinearity) {
    double std, bound;
    TL__CHECK1S("tl_init_kaiming_uniform_", t);
    if (!tl__kaiming_std("tl_init_kaiming_uniform_", t, a, mode, nonlinearity, &std)) return tl__tls.status;
    bound = sqrt(3.0) * std;
    TL__NOGRAD(tl_uniform_(t, -bound, bound));
}
TLDEF tl_status tl_init_kaiming_normal_(tl_tensor *t, double a, const char *mode, const char *nonlinearity) {
    double std;
    TL__CHECK1S("tl_init_kaiming_normal_", t);
    if (!tl__kaiming_std("tl_init_kaiming_normal_", t, a, mode, nonlinearity, &std)) return tl__tls.status;
    TL__NOGRAD(tl_normal_(t, 0, std));
}

/* ---- layers ---- */

static tl_tensor *tl__seq_forward(tl_module *m, const tl_tensor *x) {
    tl_tensor *cur = (tl_tensor *)x, *next;
    int i;
    tl_scope s = tl_scope_begin(); /* intermediates die here; the result is kept */
    for (i = 0; i < m->nchildren && cur; i++) {
        next = tl_module_forward(m->children[i].m, cur);
        cur = next;
    }
    if (cur == x) cur = tl_retain(cur);
    cur = tl_keep(cur);
    tl_scope_end(s);
    return cur;
}
TLDEF tl_module *tl_nn_sequential(int n, tl_module *const *mods) {
    tl_module *m = tl_module_new("Sequential", tl__seq_forward);
    int i;
    for (i = 0; i < n; i++) {
        if (!m) {
            tl_module_free(mods[i]);
            continue;
        }
        if (tl_sequential_append(m, mods[i]) != TL_OK) {
            tl_module_free(m);
            m = NULL;
        }
    }
    return m;
}
TLDEF tl_status tl_sequential_append(tl_module *seq, tl_module *m) {
    char name[16];
    snprintf(name, sizeof name, "%d", seq ? seq->nchildren : 0);
    return tl_module_add_module(seq, name, m);
}
TLDEF tl_module *tl_nn_module_list(int n, tl_module *const *mods) {
    tl_module *m = tl_nn_sequential(n, mods);
    if (m) {
        snprintf(m->type, sizeof m->type, "ModuleList");
        m->forward = NULL;
    }
    return m;
}
static tl_tensor *tl__linear_forward(tl_module *m, const tl_tensor *x) {
    return tl_linear(x, tl__mparam(m, "weight"), tl__mparam(m, "bias"));
}
/* Registers weight [shape] and bias [nbias] initialised as torch's reset_parameters does:
   kaiming_uniform_(weight, a=sqrt(5)), then bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (fan_in of the
   weight as torch computes it: size(1) * receptive field). */
static tl_module *tl__weighted_n(tl_module *m, int ndim, const int64_t *shape, int bias, int64_t nbias) {
    tl_tensor *w, *b = NULL;
    double fi = 0, fo = 0, bound;
    int ok;
    if (!m) return NULL;
    w = tl__new("tl_nn", ndim, shape, TL_F32);
    ok = w && tl_init_kaiming_uniform_(w, sqrt(5.0), "fan_in", "leaky_relu") == TL_OK &&
         tl_module_register_parameter(m, "weight", w) == TL_OK;
    if (ok && bias) {
        b = tl__new("tl_nn", 1, &nbias, TL_F32);
        ok = b && tl__fans("tl_nn", w, &fi, &fo);
        bound = fi > 0 ? 1 / sqrt(fi) : 0;
        ok = ok && tl_init_uniform_(b, -bound, bound) == TL_OK && tl_module_register_parameter(m, "bias", b) == TL_OK;
    } else if (ok) {
        ok = tl_module_register_parameter(m, "bias", NULL) == TL_OK;
    }
    tl__release(w);
    tl__release(b);
    if (!ok) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}
static tl_module *tl__weighted(tl_module *m, int ndim, const int64_t *shape, int bias) { /* bias [shape[0]] */
    return tl__weighted_n(m, ndim, shape, bias, shape[0]);
}
TLDEF tl_module *tl_nn_linear(int64_t in_features, int64_t out_features, int bias) {
    int64_t shape[2];
    char extra[128];
    tl_module *m;
    if (in_features < 0 || out_features < 0)
        return (tl_module *)(void *)TL__FAILN(TL_ERR_ARG, "tl_nn_linear: sizes must be non-negative (got %lld, %lld)",
                                             (long long)in_features, (long long)out_features);
    shape[0] = out_features;
    shape[1] = in_features;
    m = tl__weighted(tl_module_new("Linear", tl__linear_forward), 2, shape, bias);
    snprintf(extra, sizeof extra, "in_features=%lld, out_features=%lld, bias=%s", (long long)in_features,
             (long long)out_features, bias ? "True" : "False");
    if (m && tl_module_set_extra_repr(m, extra) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}
static tl_tensor *tl__conv_forward(tl_module *m, const tl_tensor *x) {
    return tl_conv2d(x, tl__mparam(m, "weight"), tl__mparam(m, "bias"), &m->conv);
}
TLDEF tl_module *tl_nn_conv2d(int64_t in_channels, int64_t out_channels, int kh, int kw, const tl_conv2d_opts *opts,
                              int bias) {
    tl_conv2d_opts o;
    int64_t shape[4];
    char extra[256];
    size_t n;
    tl_module *m;
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    if (o.stride[0] <= 0) o.stride[0] = 1;
    if (o.stride[1] <= 0) o.stride[1] = 1;
    if (o.dilation[0] <= 0) o.dilation[0] = 1;
    if (o.dilation[1] <= 0) o.dilation[1] = 1;
    if (o.groups <= 0) o.groups = 1;
    if (in_channels <= 0 || out_channels <= 0 || kh <= 0 || kw <= 0 || in_channels % o.groups || out_channels % o.groups)
        return (tl_module *)(void *)TL__FAILN(TL_ERR_ARG, "tl_nn_conv2d: invalid configuration (in %lld, out %lld, "
                                             "kernel %d x %d, groups %d)", (long long)in_channels,
                                             (long long)out_channels, kh, kw, o.groups);
    shape[0] = out_channels;
    shape[1] = in_channels / o.groups;
    shape[2] = kh;
    shape[3] = kw;
    m = tl__weighted(tl_module_new("Conv2d", tl__conv_forward), 4, shape, bias);
    if (!m) return NULL;
    m->conv = o;
    n = (size_t)snprintf(extra, sizeof extra, "%lld, %lld, kernel_size=(%d, %d), stride=(%d, %d)", (long long)in_channels,
                         (long long)out_channels, kh, kw, o.stride[0], o.stride[1]);
    if (o.padding_same) n += (size_t)snprintf(extra + n, sizeof extra - n, ", padding=same");
    else if (o.padding[0] || o.padding[1])
        n += (size_t)snprintf(extra + n, sizeof extra - n, ", padding=(%d, %d)", o.padding[0], o.padding[1]);
    if (o.dilation[0] != 1 || o.dilation[1] != 1)
        n += (size_t)snprintf(extra + n, sizeof extra - n, ", dilation=(%d, %d)", o.dilation[0], o.dilation[1]);
    if (o.groups != 1) n += (size_t)snprintf(extra + n, sizeof extra - n, ", groups=%d", o.groups);
    if (!bias) snprintf(extra + n, sizeof extra - n, ", bias=False");
    if (tl_module_set_extra_repr(m, extra) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}
/* ---- Conv1d, ConvTranspose2d, GroupNorm, Upsample (issue 13) ---- */
static const char *tl__pyfloat(char *buf, size_t cap, double x);
static tl_tensor *tl__conv1d_forward(tl_module *m, const tl_tensor *x) {
    tl_conv1d_opts o;
    o.stride = m->conv.stride[0];
    o.padding = m->conv.padding[0];
    o.dilation = m->conv.dilation[0];
    o.groups = m->conv.groups;
    o.padding_same = m->conv.padding_same;
    return tl_conv1d(x, tl__mparam(m, "weight"), tl__mparam(m, "bias"), &o);
}
TLDEF tl_module *tl_nn_conv1d(int64_t in_channels, int64_t out_channels, int kernel_size, const tl_conv1d_opts *opts,
                              int bias) {
    tl_conv1d_opts o;
    int64_t shape[3];
    char extra[256];
    size_t n;
    tl_module *m;
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    if (o.stride <= 0) o.stride = 1;
    if (o.dilation <= 0) o.dilation = 1;
    if (o.groups <= 0) o.groups = 1;
    if (in_channels <= 0 || out_channels <= 0 || kernel_size <= 0 || o.padding < 0 || in_channels % o.groups ||
        out_channels % o.groups || (o.padding_same && o.stride != 1))
        return (tl_module *)(void *)TL__FAILN(TL_ERR_ARG, "tl_nn_conv1d: invalid configuration (in %lld, out %lld, "
                                             "kernel %d, stride %d, padding %d, groups %d)", (long long)in_channels,
                                             (long long)out_channels, kernel_size, o.stride, o.padding, o.groups);
    shape[0] = out_channels;
    shape[1] = in_channels / o.groups;
    shape[2] = kernel_size;
    m = tl__weighted(tl_module_new("Conv1d", tl__conv1d_forward), 3, shape, bias);
    if (!m) return NULL;
    m->conv.stride[0] = o.stride;
    m->conv.padding[0] = o.padding;
    m->conv.dilation[0] = o.dilation;
    m->conv.groups = o.groups;
    m->conv.padding_same = o.padding_same;
    n = (size_t)snprintf(extra, sizeof extra, "%lld, %lld, kernel_size=(%d,), stride=(%d,)", (long long)in_channels,
                         (long long)out_channels, kernel_size, o.stride);
    if (o.padding_same) n += (size_t)snprintf(extra + n, sizeof extra - n, ", padding=same");
    else if (o.padding) n += (size_t)snprintf(extra + n, sizeof extra - n, ", padding=(%d,)", o.padding);
    if (o.dilation != 1) n += (size_t)snprintf(extra + n, sizeof extra - n, ", dilation=(%d,)", o.dilation);
    if (o.groups != 1) n += (size_t)snprintf(extra + n, sizeof extra - n, ", groups=%d", o.groups);
    if (!bias) snprintf(extra + n, sizeof extra - n, ", bias=False");
    if (tl_module_set_extra_repr(m, extra) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}
static tl_tensor *tl__convt_forward(tl_module *m, const tl_tensor *x) {
    tl_conv_transpose2d_opts o;
    int i;
    memset(&o, 0, sizeof o);
    for (i = 0; i < 2; i++) {
        o.stride[i] = m->conv.stride[i];
        o.padding[i] = m->conv.padding[i];
        o.dilation[i] = m->conv.dilation[i];
        o.output_padding[i] = m->ip[i];
    }
    o.groups = m->conv.groups;
    return tl_conv_transpose2d(x, tl__mparam(m, "weight"), tl__mparam(m, "bias"), &o);
}
TLDEF tl_module *tl_nn_conv_transpose2d(int64_t in_channels, int64_t out_channels, int kh, int kw,
                                        const tl_conv_transpose2d_opts *opts, int bias) {
    tl_conv_transpose2d_opts o;
    int64_t shape[4];
    char extra[320];
    size_t n;
    int i, bad = 0;
    tl_module *m;
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    for (i = 0; i < 2; i++) {
        if (o.stride[i] <= 0) o.stride[i] = 1;
        if (o.dilation[i] <= 0) o.dilation[i] = 1;
        bad |= o.padding[i] < 0 || o.output_padding[i] < 0 ||
               (o.output_padding[i] >= o.stride[i] && o.output_padding[i] >= o.dilation[i]);
    }
    if (o.groups <= 0) o.groups = 1;
    if (bad || in_channels <= 0 || out_channels <= 0 || kh <= 0 || kw <= 0 || in_channels % o.groups ||
        out_channels % o.groups)
        return (tl_module *)(void *)TL__FAILN(TL_ERR_ARG, "tl_nn_conv_transpose2d: invalid configuration (in %lld, "
                                             "out %lld, kernel %d x %d, output_padding (%d, %d), groups %d)",
                                             (long long)in_channels, (long long)out_channels, kh, kw,
                                             o.output_padding[0], o.output_padding[1], o.groups);
    shape[0] = in_channels;
    shape[1] = out_channels / o.groups;
    shape[2] = kh;
    shape[3] = kw;
    m = tl__weighted_n(tl_module_new("ConvTranspose2d", tl__convt_forward), 4, shape, bias, out_channels);
    if (!m) return NULL;
    for (i = 0; i < 2; i++) {
        m->conv.stride[i] = o.stride[i];
        m->conv.padding[i] = o.padding[i];
        m->conv.dilation[i] = o.dilation[i];
        m->ip[i] = o.output_padding[i];
    }
    m->conv.groups = o.groups;
    n = (size_t)snprintf(extra, sizeof extra, "%lld, %lld, kernel_size=(%d, %d), stride=(%d, %d)",
                         (long long)in_channels, (long long)out_channels, kh, kw, o.stride[0], o.stride[1]);
    if (o.padding[0] || o.padding[1])
        n += (size_t)snprintf(extra + n, sizeof extra - n, ", padding=(%d, %d)", o.padding[0], o.padding[1]);
    if (o.dilation[0] != 1 || o.dilation[1] != 1)
        n += (size_t)snprintf(extra + n, sizeof extra - n, ", dilation=(%d, %d)", o.dilation[0], o.dilation[1]);
    if (o.output_padding[0] || o.output_padding[1])
        n += (size_t)snprintf(extra + n, sizeof extra - n, ", output_padding=(%d, %d)", o.output_padding[0],
                              o.output_padding[1]);
    if (o.groups != 1) n += (size_t)snprintf(extra + n, sizeof extra - n, ", groups=%d", o.groups);
    if (!bias) snprintf(extra + n, sizeof extra - n, ", bias=False");
    if (tl_module_set_extra_repr(m, extra) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}
static tl_tensor *tl__gn_forward(tl_module *m, const tl_tensor *x) {
    return tl_group_norm(x, m->ip[0], tl__mparam(m, "weight"), tl__mparam(m, "bias"), m->fp[0]);
}
TLDEF tl_module *tl_nn_group_norm(int64_t num_groups, int64_t num_channels, double eps, int affine) {
    char extra[160], epsb[40];
    int ok = 1;
    tl_module *m;
    if (num_groups <= 0 || num_channels <= 0 || num_groups > 0x7fffffff || num_channels % num_groups)
        return (tl_module *)(void *)TL__FAILN(TL_ERR_ARG, "tl_nn_group_norm: num_channels must be divisible by "
                                             "num_groups (got %lld channels, %lld groups)", (long long)num_channels,
                                             (long long)num_groups);
    m = tl_module_new("GroupNorm", tl__gn_forward);
    if (!m) return NULL;
    m->ip[0] = (int)num_groups;
    m->fp[0] = eps;
    if (affine) { /* torch's reset_parameters: ones_(weight), zeros_(bias); no random draws */
        tl_tensor *w = tl__full("tl_nn_group_norm", 1, &num_channels, 1, TL_F32);
        tl_tensor *b = tl__full("tl_nn_group_norm", 1, &num_channels, 0, TL_F32);
        ok = w && b && tl_module_register_parameter(m, "weight", w) == TL_OK &&
             tl_module_register_parameter(m, "bias", b) == TL_OK;
        tl__release(w);
        tl__release(b);
    }
    snprintf(extra, sizeof extra, "%lld, %lld, eps=%s, affine=%s", (long long)num_groups, (long long)num_channels,
             tl__pyfloat(epsb, sizeof epsb, eps), affine ? "True" : "False");
    if (!ok || tl_module_set_extra_repr(m, extra) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}
/* ip: out_h, out_w (0: from scale_factor fp[0]), mode, align_corners */
static tl_tensor *tl__upsample_forward(tl_module *m, const tl_tensor *x) {
    int64_t oh = m->ip[0], ow = m->ip[1];
    if (x && !oh) {
        if (x->ndim != 4)
            return TL__FAILN(TL_ERR_SHAPE, "Upsample: expected a 4-D input [N, C, H, W], got %s", TL__SH(x));
        oh = (int64_t)floor((double)x->shape[2] * m->fp[0]); /* torch: floor(in * scale_factor), in double */
        ow = (int64_t)floor((double)x->shape[3] * m->fp[0]);
    }
    return tl__interpolate(x, oh, ow, (tl_interp_mode)m->ip[2], m->ip[3], m->fp[0], m->fp[0]);
}
TLDEF tl_module *tl_nn_upsample(int64_t out_h, int64_t out_w, double scale_factor, tl_interp_mode mode,
                                int align_corners) {
    char extra[160], sb[40];
    tl_module *m;
    if (mode != TL_INTERP_NEAREST && mode != TL_INTERP_BILINEAR)
        return (tl_module *)(void *)TL__FAILN(TL_ERR_ARG, "tl_nn_upsample: unknown mode %d", (int)mode);
    if (mode == TL_INTERP_NEAREST && align_corners)
        return (tl_module *)(void *)TL__FAILN(TL_ERR_ARG, "tl_nn_upsample: align_corners option can only be set with "
                                             "the interpolating modes: linear | bilinear | bicubic | trilinear");
    if (out_h > 0 ? (out_w <= 0 || out_h > 0x7fffffff || out_w > 0x7fffffff) : !(scale_factor > 0))
        return (tl_module *)(void *)TL__FAILN(TL_ERR_ARG, "tl_nn_upsample: give a positive size (out_h, out_w) or a "
                                             "positive scale_factor (got size (%lld, %lld), scale_factor %g)",
                                             (long long)out_h, (long long)out_w, scale_factor);
    m = tl_module_new("Upsample", tl__upsample_forward);
    if (!m) return NULL;
    m->ip[0] = out_h > 0 ? (int)out_h : 0;
    m->ip[1] = out_h > 0 ? (int)out_w : 0;
    m->ip[2] = (int)mode;
    m->ip[3] = align_corners != 0;
    m->fp[0] = out_h > 0 ? 0 : scale_factor;
    if (out_h > 0)
        snprintf(extra, sizeof extra, "size=(%lld, %lld), mode=%s", (long long)out_h, (long long)out_w,
                 mode == TL_INTERP_NEAREST ? "nearest" : "bilinear");
    else
        snprintf(extra, sizeof extra, "scale_factor=%s, mode=%s", tl__pyfloat(sb, sizeof sb, scale_factor),
                 mode == TL_INTERP_NEAREST ? "nearest" : "bilinear");
    if (tl_module_set_extra_repr(m, extra) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}
static tl_tensor *tl__maxpool_forward(tl_module *m, const tl_tensor *x) { return tl_max_pool2d(x, &m->pool, NULL); }
static tl_tensor *tl__avgpool_forward(tl_module *m, const tl_tensor *x) { return tl_avg_pool2d(x, &m->pool); }
/* torch prints an int when both sides of a pair are equal (kernel_size=2), else a tuple. */
/* Python's repr of a float ("0.0", "0.123456789", "1e-05") into buf. */
static const char *tl__pyfloat(char *buf, size_t cap, double x) {
    tl__bb b;
    memset(&b, 0, sizeof b);
    tl__repr_float(&b, x);
    snprintf(buf, cap, "%.*s", b.p && !b.oom ? (int)b.n : 1, b.p && !b.oom ? (const char *)b.p : "?");
    tl__free(b.p);
    return buf;
}
static void tl__pair(char *b, size_t cap, const char *name, const int *v) {
    size_t n = strlen(b);
    if (v[0] == v[1]) snprintf(b + n, cap - n, "%s%s=%d", n ? ", " : "", name, v[0]);
    else snprintf(b + n, cap - n, "%s%s=(%d, %d)", n ? ", " : "", name, v[0], v[1]);
}
static tl_module *tl__pool_module(const char *type, tl_forward_fn fwd, const tl_pool2d_opts *opts, int is_max) {
    tl_module *m;
    char extra[256];
    tl_pool2d_opts o;
    if (!opts || opts->kernel[0] <= 0 || opts->kernel[1] <= 0)
        return (tl_module *)(void *)TL__FAILN(TL_ERR_ARG, "tl_nn_%s: options with a positive kernel size are required "
                                             "(use tl_pool2d_opts_default)", is_max ? "max_pool2d" : "avg_pool2d");
    o = *opts;
    if (o.stride[0] <= 0) o.stride[0] = o.kernel[0];
    if (o.stride[1] <= 0) o.stride[1] = o.kernel[1];
    if (o.dilation[0] <= 0) o.dilation[0] = 1;
    if (o.dilation[1] <= 0) o.dilation[1] = 1;
    m = tl_module_new(type, fwd);
    if (!m) return NULL;
    m->pool = o;
    extra[0] = 0;
    tl__pair(extra, sizeof extra, "kernel_size", o.kernel);
    tl__pair(extra, sizeof extra, "stride", o.stride);
    tl__pair(extra, sizeof extra, "padding", o.padding);
    if (is_max) {
        tl__pair(extra, sizeof extra, "dilation", o.dilation);
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ", ceil_mode=%s", o.ceil_mode ? "True" : "False");
    }
    if (tl_module_set_extra_repr(m, extra) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}
TLDEF tl_module *tl_nn_max_pool2d(const tl_pool2d_opts *opts) {
    return tl__pool_module("MaxPool2d", tl__maxpool_forward, opts, 1);
}
TLDEF tl_module *tl_nn_avg_pool2d(const tl_pool2d_opts *opts) {
    return tl__pool_module("AvgPool2d", tl__avgpool_forward, opts, 0);
}
static tl_tensor *tl__act_forward(tl_module *m, const tl_tensor *x) {
    switch (m->ip[0]) {
    case 0: return tl_relu(x);
    case 1: return tl_tanh(x);
    case 2: return tl_sigmoid(x);
    case 3: return tl_silu(x);
    case 4: return tl_gelu(x, m->ip[1]);
    case 5: return tl_leaky_relu(x, m->fp[0]);
    case 6: return tl_softmax(x, m->ip[1]);
    case 7: return tl_log_softmax(x, m->ip[1]);
    case 8: return tl_flatten(x, m->ip[1], m->ip[2]);
    default: return tl_retain((tl_tensor *)x); /* Identity */
    }
}
static tl_module *tl__act(const char *type, int kind, int i1, int i2, double f0, const char *extra) {
    tl_module *m = tl_module_new(type, tl__act_forward);
    if (!m) return NULL;
    m->ip[0] = kind;
    m->ip[1] = i1;
    m->ip[2] = i2;
    m->fp[0] = f0;
    if (extra && tl_module_set_extra_repr(m, extra) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}
TLDEF tl_module *tl_nn_relu(void) { return tl__act("ReLU", 0, 0, 0, 0, NULL); }
TLDEF tl_module *tl_nn_tanh(void) { return tl__act("Tanh", 1, 0, 0, 0, NULL); }
TLDEF tl_module *tl_nn_sigmoid(void) { return tl__act("Sigmoid", 2, 0, 0, 0, NULL); }
TLDEF tl_module *tl_nn_silu(void) { return tl__act("SiLU", 3, 0, 0, 0, NULL); }
TLDEF tl_module *tl_nn_gelu(int approximate_tanh) {
    return tl__act("GELU", 4, approximate_tanh ? 1 : 0, 0, 0, approximate_tanh ? "approximate='tanh'" : "approximate='none'");
}
TLDEF tl_module *tl_nn_leaky_relu(double negative_slope) {
    char extra[64], nb[40];
    snprintf(extra, sizeof extra, "negative_slope=%s", tl__pyfloat(nb, sizeof nb, negative_slope));
    return tl__act("LeakyReLU", 5, 0, 0, negative_slope, extra);
}
TLDEF tl_module *tl_nn_softmax(int dim) {
    char extra[32];
    snprintf(extra, sizeof extra, "dim=%d", dim);
    return tl__act("Softmax", 6, dim, 0, 0, extra);
}
TLDEF tl_module *tl_nn_log_softmax(int dim) {
    char extra[32];
    snprintf(extra, sizeof extra, "dim=%d", dim);
    return tl__act("LogSoftmax", 7, dim, 0, 0, extra);
}
TLDEF tl_module *tl_nn_flatten(int start_dim, int end_dim) {
    char extra[64];
    snprintf(extra, sizeof extra, "start_dim=%d, end_dim=%d", start_dim, end_dim);
    return tl__act("Flatten", 8, start_dim, end_dim, 0, extra);
}
TLDEF tl_module *tl_nn_identity(void) { return tl__act("Identity", 9, 0, 0, 0, NULL); }
TLDEF tl_named_modules *tl_module_named_modules(const tl_module *m) {
    tl_named_modules *l;
    tl__seen seen;
    int cap = 0, ok = 1;
    char **names = NULL;
    if (tl__null_in("tl_module_named_modules", m)) return NULL;
    l = (tl_named_modules *)tl__malloc(sizeof *l);
    if (!l) {
        TL__FAIL(TL_ERR_OOM, "tl_module_named_modules: out of memory");
        return NULL;
    }
    memset(l, 0, sizeof *l);
    memset(&seen, 0, sizeof seen);
    /* pre-order with an explicit stack of (module, prefix) kept in the result arrays themselves */
    {
        const tl_module *stack[256];
        char *prefixes[256];
        int sp = 0;
        stack[sp] = m;
        prefixes[sp++] = tl__strdup("");
        while (sp > 0 && ok) {
            const tl_module *cur = stack[--sp];
            char *name = prefixes[sp];
            int i, r;
            if (!name) { ok = 0; break; }
            r = tl__seen_add(&seen, cur);
            if (r < 0) { tl__free(name); ok = 0; break; }
            if (r == 0) { tl__free(name); continue; }
            if (!tl__grow_array((void **)&names, &cap, l->n, sizeof(char *))) { tl__free(name); ok = 0; break; }
            {
                tl_module **nm = (tl_module **)tl__malloc(tl__szn(cap, sizeof(tl_module *)));
                if (!nm) { tl__free(name); ok = 0; break; }
                if (l->n) memcpy(nm, l->modules, sizeof(tl_module *) * (size_t)l->n);
                tl__free(l->modules);
                l->modules = nm;
            }
            names[l->n] = name;
            l->modules[l->n++] = (tl_module *)cur;
            l->names = names;
            for (i = cur->nchildren - 1; i >= 0; i--) { /* pushed in reverse: visited in order */
                char buf[512];
                if (sp >= 256) { ok = 0; break; }
                snprintf(buf, sizeof buf, "%s%s%s", name, *name ? "." : "", cur->children[i].name);
                stack[sp] = cur->children[i].m;
                prefixes[sp++] = tl__strdup(buf);
            }
        }
        while (sp > 0) tl__free(prefixes[--sp]);
    }
    tl__free(seen.p);
    l->names = names;
    if (!ok) {
        tl_named_modules_free(l);
        TL__FAIL(TL_ERR_OOM, "tl_module_named_modules: out of memory (or deeper than 256) walking %s", m->type);
        return NULL;
    }
    return l;
}
TLDEF void tl_named_modules_free(tl_named_modules *l) {
    int i;
    if (!l) return;
    for (i = 0; i < l->n; i++) tl__free(l->names[i]);
    tl__free(l->names);
    tl__free(l->modules);
    tl__free(l);
}

static tl_tensor *tl__bn_forward(tl_module *m, const tl_tensor *x) {
    tl_tensor *rm = NULL, *rv = NULL, *nbt = NULL;
    int track = m->ip[1], training = m->training;
    if ((m->ip[0] == 1 && x->ndim != 2 && x->ndim != 3) || (m->ip[0] == 2 && x->ndim != 4))
        return TL__FAILN(TL_ERR_SHAPE, "tl_module_forward: %s expected %s input, got %s", m->type,
                         m->ip[0] == 1 ? "2-D or 3-D" : "4-D", TL__SH(x));
    if (track) {
        int i;
        for (i = 0; i < m->nbufs; i++) {
            if (!strcmp(m->bufs[i].name, "running_mean")) rm = m->bufs[i].t;
            if (!strcmp(m->bufs[i].name, "running_var")) rv = m->bufs[i].t;
            if (!strcmp(m->bufs[i].name, "num_batches_tracked")) nbt = m->bufs[i].t;
        }
    }
    /* torch: batch statistics in training or without running stats; running stats updated only
       when training and tracking */
    return tl_batch_norm(x, rm, rv, tl__mparam(m, "weight"), tl__mparam(m, "bias"), training || !track, m->fp[0],
                         m->fp[1], training && track ? nbt : NULL);
}
static tl_module *tl__bn(int kind, int64_t C, double eps, double momentum, int affine, int track) {
    char extra[160], mom[32];
    tl_module *m = tl_module_new(kind == 1 ? "BatchNorm1d" : "BatchNorm2d", tl__bn_forward);
    int ok = m != NULL;
    if (!m) return NULL;
    m->version = 2;
    m->ip[0] = kind;
    m->ip[1] = track;
    m->fp[0] = momentum;
    m->fp[1] = eps;
    if (affine) {
        tl_tensor *w = tl__full("tl_nn_batch_norm", 1, &C, 1, TL_F32), *b = tl__full("tl_nn_batch_norm", 1, &C, 0, TL_F32);
        ok = w && b && tl_module_register_parameter(m, "weight", w) == TL_OK &&
             tl_module_register_parameter(m, "bias", b) == TL_OK;
        tl__release(w);
        tl__release(b);
    }
    if (ok && track) {
        tl_tensor *rm = tl__full("tl_nn_batch_norm", 1, &C, 0, TL_F32), *rv = tl__full("tl_nn_batch_norm", 1, &C, 1, TL_F32);
        tl_tensor *nbt = tl__full("tl_nn_batch_norm", 0, NULL, 0, TL_I64);
        ok = rm && rv && nbt && tl_module_register_buffer(m, "running_mean", rm, 1) == TL_OK &&
             tl_module_register_buffer(m, "running_var", rv, 1) == TL_OK &&
             tl_module_register_buffer(m, "num_batches_tracked", nbt, 1) == TL_OK;
        tl__release(rm);
        tl__release(rv);
        tl__release(nbt);
    }
    {
        char epsb[40];
        if (momentum < 0) snprintf(mom, sizeof mom, "None");
        else tl__pyfloat(mom, sizeof mom, momentum);
        snprintf(extra, sizeof extra, "%lld, eps=%s, momentum=%s, affine=%s, track_running_stats=%s", (long long)C,
                 tl__pyfloat(epsb, sizeof epsb, eps), mom, affine ? "True" : "False", track ? "True" : "False");
    }
    if (!ok || tl_module_set_extra_repr(m, extra) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}
TLDEF tl_module *tl_nn_batch_norm1d(int64_t num_features, double eps, double momentum, int affine,
                                    int track_running_stats) {
    return tl__bn(1, num_features, eps, momentum, affine, track_running_stats);
}
TLDEF tl_module *tl_nn_batch_norm2d(int64_t num_features, double eps, double momentum, int affine,
                                    int track_running_stats) {
    return tl__bn(2, num_features, eps, momentum, affine, track_running_stats);
}
static tl_tensor *tl__ln_forward(tl_module *m, const tl_tensor *x) {
    return tl_layer_norm(x, m->ip[0], tl__mparam(m, "weight"), tl__mparam(m, "bias"), m->fp[1]);
}
TLDEF tl_module *tl_nn_layer_norm(int ndims, const int64_t *normalized_shape, double eps, int elementwise_affine) {
    char extra[200];
    size_t n;
    int i, ok = 1;
    tl_module *m;
    if (ndims < 1 || ndims > TL_MAX_DIMS || !normalized_shape)
        return (tl_module *)(void *)TL__FAILN(TL_ERR_ARG, "tl_nn_layer_norm: normalized_shape needs 1 to %d sizes",
                                             TL_MAX_DIMS);
    m = tl_module_new("LayerNorm", tl__ln_forward);
    if (!m) return NULL;
    m->ip[0] = ndims;
    m->fp[1] = eps;
    if (elementwise_affine) {
        tl_tensor *w = tl__full("tl_nn_layer_norm", ndims, normalized_shape, 1, TL_F32);
        tl_tensor *b = tl__full("tl_nn_layer_norm", ndims, normalized_shape, 0, TL_F32);
        ok = w && b && tl_module_register_parameter(m, "weight", w) == TL_OK &&
             tl_module_register_parameter(m, "bias", b) == TL_OK;
        tl__release(w);
        tl__release(b);
    }
    n = (size_t)snprintf(extra, sizeof extra, "(");
    for (i = 0; i < ndims; i++) n += (size_t)snprintf(extra + n, sizeof extra - n, i ? ", %lld" : "%lld", (long long)normalized_shape[i]);
    {
        char epsb[40];
        snprintf(extra + n, sizeof extra - n, "%s, eps=%s, elementwise_affine=%s", ndims == 1 ? ",)" : ")",
                 tl__pyfloat(epsb, sizeof epsb, eps), elementwise_affine ? "True" : "False");
    }
    if (!ok || tl_module_set_extra_repr(m, extra) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}
static tl_tensor *tl__dropout_forward(tl_module *m, const tl_tensor *x) { return tl_dropout(x, m->fp[0], m->training); }
TLDEF tl_module *tl_nn_dropout(double p) {
    char extra[64];
    tl_module *m;
    if (!(p >= 0 && p <= 1))
        return (tl_module *)(void *)TL__FAILN(TL_ERR_ARG, "tl_nn_dropout: dropout probability has to be between 0 and 1, "
                                             "but got %g", p);
    m = tl_module_new("Dropout", tl__dropout_forward);
    if (!m) return NULL;
    m->fp[0] = p;
    {
        char pb[40];
        snprintf(extra, sizeof extra, "p=%s, inplace=False", tl__pyfloat(pb, sizeof pb, p));
    }
    if (tl_module_set_extra_repr(m, extra) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}
static tl_tensor *tl__embedding_forward(tl_module *m, const tl_tensor *x) { return tl_embedding(x, tl__mparam(m, "weight")); }
TLDEF tl_module *tl_nn_embedding(int64_t num_embeddings, int64_t embedding_dim) {
    int64_t shape[2];
    char extra[64];
    tl_tensor *w;
    int ok;
    tl_module *m = tl_module_new("Embedding", tl__embedding_forward);
    if (!m) return NULL;
    shape[0] = num_embeddings;
    shape[1] = embedding_dim;
    w = tl__new("tl_nn_embedding", 2, shape, TL_F32);
    ok = w && tl_init_normal_(w, 0, 1) == TL_OK && tl_module_register_parameter(m, "weight", w) == TL_OK;
    tl__release(w);
    snprintf(extra, sizeof extra, "%lld, %lld", (long long)num_embeddings, (long long)embedding_dim);
    if (!ok || tl_module_set_extra_repr(m, extra) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}
static tl_tensor *tl__aap_forward(tl_module *m, const tl_tensor *x) {
    return tl_adaptive_avg_pool2d(x, m->ip[0], m->ip[1]);
}
TLDEF tl_module *tl_nn_adaptive_avg_pool2d(int64_t out_h, int64_t out_w) {
    char extra[64];
    tl_module *m = tl_module_new("AdaptiveAvgPool2d", tl__aap_forward);
    if (!m) return NULL;
    m->ip[0] = (int)out_h;
    m->ip[1] = (int)out_w;
    snprintf(extra, sizeof extra, "output_size=(%lld, %lld)", (long long)out_h, (long long)out_w);
    if (tl_module_set_extra_repr(m, extra) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}

/* ---- recurrent layers (nn.LSTM, nn.GRU) and nn.MultiheadAttention ----
   Built from differentiable ops (linear, sigmoid, tanh, narrow, stack, bmm, softmax), so autograd
   needs nothing of its own. RNN options live in m->ip: [0] input_size, [1] hidden_size,
   [2] num_layers, [3] flags (TL__RNN_*). MultiheadAttention: [0] embed_dim, [1] num_heads,
   [2] batch_first. */
#define TL__RNN_BIAS 1
#define TL__RNN_BATCH_FIRST 2
#define TL__RNN_BIDIR 4
#define TL__RNN_GRU 8
#define TL__RNN_MAXSIZE 2147483647 /* sizes are kept in m->ip (int) */

static tl_tensor *tl__rnn_module_forward(tl_module *m, const tl_tensor *x);
/* One registered U(-stdv, stdv) parameter of nn.RNNBase (reset_parameters' order = creation order). */
static int tl__rnn_param(tl_module *m, const char *name, int ndim, int64_t d0, int64_t d1, double stdv) {
    int64_t shape[2];
    tl_tensor *p;
    int ok;
    shape[0] = d0;
    shape[1] = d1;
    p = tl__new("tl_nn_rnn", ndim, shape, TL_F32);
    ok = p && tl_init_uniform_(p, -stdv, stdv) == TL_OK && tl_module_register_parameter(m, name, p) == TL_OK;
    tl__release(p);
    return ok;
}
static tl_module *tl__rnn_new(const char *op, int gru, int64_t in, int64_t H, int nl, int bias, int bf, int bidir) {
    const char *type = gru ? "GRU" : "LSTM";
    int64_t G = (gru ? 3 : 4) * H;
    int D = bidir ? 2 : 1, l, d, ok = 1;
    double stdv;
    char extra[200], name[64];
    size_t n;
    tl_module *m;
    if (H <= 0 || H > TL__RNN_MAXSIZE)
        return (tl_module *)(void *)TL__FAILN(TL_ERR_ARG, "%s: hidden_size must be greater than zero (got %lld)", op,
                                             (long long)H);
    if (nl <= 0)
        return (tl_module *)(void *)TL__FAILN(TL_ERR_ARG, "%s: num_layers must be greater than zero (got %d)", op, nl);
    if (in < 0 || in > TL__RNN_MAXSIZE)
        return (tl_module *)(void *)TL__FAILN(TL_ERR_ARG, "%s: input_size must be non-negative (got %lld)", op,
                                             (long long)in);
    m = tl_module_new(type, tl__rnn_module_forward);
    if (!m) return NULL;
    m->ip[0] = (int)in;
    m->ip[1] = (int)H;
    m->ip[2] = nl;
    m->ip[3] = (bias ? TL__RNN_BIAS : 0) | (bf ? TL__RNN_BATCH_FIRST : 0) | (bidir ? TL__RNN_BIDIR : 0) |
               (gru ? TL__RNN_GRU : 0);
    stdv = 1.0 / sqrt((double)H);
    for (l = 0; l < nl && ok; l++) {
        for (d = 0; d < D && ok; d++) {
            const char *sfx = d ? "_reverse" : "";
            int64_t lin = l == 0 ? in : H * D;
            snprintf(name, sizeof name, "weight_ih_l%d%s", l, sfx);
            ok = tl__rnn_param(m, name, 2, G, lin, stdv);
            snprintf(name, sizeof name, "weight_hh_l%d%s", l, sfx);
            ok = ok && tl__rnn_param(m, name, 2, G, H, stdv);
            if (bias) {
                snprintf(name, sizeof name, "bias_ih_l%d%s", l, sfx);
                ok = ok && tl__rnn_param(m, name, 1, G, 0, stdv);
                snprintf(name, sizeof name, "bias_hh_l%d%s", l, sfx);
                ok = ok && tl__rnn_param(m, name, 1, G, 0, stdv);
            }
        }
    }
    /* torch's RNNBase.extra_repr: only the options that differ from the defaults */
    n = (size_t)snprintf(extra, sizeof extra, "%lld, %lld", (long long)in, (long long)H);
    if (nl != 1) n += (size_t)snprintf(extra + n, sizeof extra - n, ", num_layers=%d", nl);
    if (!bias) n += (size_t)snprintf(extra + n, sizeof extra - n, ", bias=False");
    if (bf) n += (size_t)snprintf(extra + n, sizeof extra - n, ", batch_first=True");
    if (bidir) snprintf(extra + n, sizeof extra - n, ", bidirectional=True");
    if (!ok || tl_module_set_extra_repr(m, extra) != TL_OK) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}
TLDEF tl_module *tl_nn_lstm(int64_t input_size, int64_t hidden_size, int num_layers, int bias, int batch_first,
                            int bidirectional) {
    return tl__rnn_new("tl_nn_lstm", 0, input_size, hidden_size, num_layers, bias, batch_first, bidirectional);
}
TLDEF tl_module *tl_nn_gru(int64_t input_size, int64_t hidden_size, int num_layers, int bias, int batch_first,
                           int bidirectional) {
    return tl__rnn_new("tl_nn_gru", 1, input_size, hidden_size, num_layers, bias, batch_first, bidirectional);
}

/* One direction of one layer over the sequence, in the caller's scope. x [L, N, in]; h, c [N, H]
   (c unused by GRU). The input projection of every step is one linear ([L, N, G*H]); each step
   adds linear(h, w_hh, b_hh) and applies the gates as torch's LSTMCell / GRUCell (RNN.cpp):
   LSTM c' = f*c + i*g, h' = o*tanh(c'); GRU n = tanh(x_n + r*(W_hn h + b_hn)), h' = (h - n)*z + n.
   Returns the outputs stacked in time order [L, N, H]; *hn, *cn get the last state. */
static tl_tensor *tl__rnn_dir(int gru, const tl_tensor *x, const tl_tensor *wih, const tl_tensor *whh,
                              const tl_tensor *bih, const tl_tensor *bhh, tl_tensor *h, tl_tensor *c, int reverse,
                              tl_tensor **hn, tl_tensor **cn) {
    int64_t L = x->shape[0], H = whh->shape[1], k;
    tl_tensor *xw = tl_linear(x, wih, bih), **outs, *out;
    outs = (tl_tensor **)tl__malloc(tl__szn((size_t)L, sizeof(tl_tensor *)));
    if (!outs) return TL__FAILN(TL_ERR_OOM, "tl_nn_rnn: out of memory (%lld steps)", (long long)L);
    for (k = 0; k < L && h; k++) {
        int64_t t = reverse ? L - 1 - k : k;
        tl_tensor *xt = tl_select(xw, 0, t), *hw = tl_linear(h, whh, bhh);
        if (!gru) {
            tl_tensor *g = tl_add(hw, xt);
            tl_tensor *i = tl_sigmoid(tl_narrow(g, 1, 0, H)), *f = tl_sigmoid(tl_narrow(g, 1, H, H));
            tl_tensor *gg = tl_tanh(tl_narrow(g, 1, 2 * H, H)), *o = tl_sigmoid(tl_narrow(g, 1, 3 * H, H));
            c = tl_add(tl_mul(f, c), tl_mul(i, gg));
            h = tl_mul(o, tl_tanh(c));
        } else {
            tl_tensor *r = tl_sigmoid(tl_add(tl_narrow(hw, 1, 0, H), tl_narrow(xt, 1, 0, H)));
            tl_tensor *z = tl_sigmoid(tl_add(tl_narrow(hw, 1, H, H), tl_narrow(xt, 1, H, H)));
            tl_tensor *nn = tl_tanh(tl_add(tl_narrow(xt, 1, 2 * H, H), tl_mul(tl_narrow(hw, 1, 2 * H, H), r)));
            h = tl_add(tl_mul(tl_sub(h, nn), z), nn);
        }
        outs[t] = h;
    }
    out = h ? tl_stack((int)L, outs, 0) : NULL;
    tl__free(outs);
    *hn = h;
    *cn = c;
    return out;
}

/* Shared by tl_lstm_forward / tl_gru_forward: checks as torch's RNNBase.check_forward_args, then
   runs every layer and direction. Results are new references kept out of the internal scope. */
static tl_tensor *tl__rnn_run(const char *op, int gru, tl_module *m, const tl_tensor *x, const tl_tensor *h0,
                              const tl_tensor *c0, tl_tensor **h_n, tl_tensor **c_n) {
    int64_t in, H, N, L, hs[3];
    int nl, D, bf, bias, batched, l, d, i;
    tl_tensor *seq, *out = NULL, *hn = NULL, *cn = NULL, *hx = NULL, *cx = NULL, **hl = NULL, **cl = NULL;
    char who[220];
    tl_scope s;
    if (h_n) *h_n = NULL;
    if (c_n) *c_n = NULL;
    if (tl__null_in(op, m) || tl__null_in(op, x)) return NULL;
    if (strcmp(m->type, gru ? "GRU" : "LSTM") != 0 || m->forward != tl__rnn_module_forward)
        return TL__FAILN(TL_ERR_ARG, "%s: expected a module made by tl_nn_%s, got %s", op, gru ? "gru" : "lstm",
                         m->type);
    in = m->ip[0], H = m->ip[1], nl = m->ip[2];
    D = (m->ip[3] & TL__RNN_BIDIR) ? 2 : 1;
    bf = (m->ip[3] & TL__RNN_BATCH_FIRST) != 0;
    bias = (m->ip[3] & TL__RNN_BIAS) != 0;
    snprintf(who, sizeof who, "%s: %s(%s)", op, m->type, m->extra ? m->extra : "");
    if (x->ndim != 2 && x->ndim != 3)
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected input to be 2-D or 3-D but received %d-D tensor (input %s)", who,
                         x->ndim, TL__SH(x));
    if (x->shape[x->ndim - 1] != in)
        return TL__FAILN(TL_ERR_SHAPE, "%s: input.size(-1) must be equal to input_size. Expected %lld, got %lld "
                         "(input %s)", who, (long long)in, (long long)x->shape[x->ndim - 1], TL__SH(x));
    if (!gru && (h0 == NULL) != (c0 == NULL))
        return TL__FAILN(TL_ERR_ARG, "%s: pass both h0 and c0, or neither (got %s and %s)", who,
                         h0 ? TL__SH(h0) : "NULL", c0 ? TL__SH(c0) : "NULL");
    batched = x->ndim == 3;
    L = x->shape[batched && bf ? 1 : 0];
    N = batched ? x->shape[bf ? 0 : 1] : 1;
    if (L == 0)
        return TL__FAILN(TL_ERR_SHAPE, "%s: expected a sequence of at least one step (input %s)", who, TL__SH(x));
    for (i = 0; i < 2; i++) {
        const tl_tensor *h = i ? c0 : h0;
        if (!h) continue;
        if (h->ndim != x->ndim)
            return TL__FAILN(TL_ERR_SHAPE, "%s: for %s %d-D input, %s should also be %d-D but got %d-D tensor "
                             "(input %s, %s %s)", who, batched ? "batched" : "unbatched", x->ndim,
                             i ? "cx" : "hx", x->ndim,
                             h->ndim, TL__SH(x), i ? "c0" : "h0", TL__SH(h));
        hs[0] = D * nl, hs[1] = N, hs[2] = H;
        if (batched ? (h->shape[0] != hs[0] || h->shape[1] != N || h->shape[2] != H)
                    : (h->shape[0] != hs[0] || h->shape[1] != H))
            return TL__FAILN(TL_ERR_SHAPE, "%s: expected hidden%s size %s, got %s (input %s)", who,
                             gru ? "" : (i ? "[1]" : "[0]"), batched ? tl__fmt_shape(3, hs) : tl__fmt_shape(2, hs + 1),
                             TL__SH(h), TL__SH(x));
    }
    hl = (tl_tensor **)tl__malloc(tl__szn((size_t)(2 * D * nl), sizeof(tl_tensor *)));
    if (!hl) return TL__FAILN(TL_ERR_OOM, "%s: out of memory", who);
    cl = hl + D * nl;
    s = tl_scope_begin();
    /* the batched, sequence-first form: seq [L, N, in], hx/cx [D*nl, N, H] */
    seq = batched ? (bf ? tl_transpose(x, 0, 1) : tl_retain((tl_tensor *)x)) : tl_unsqueeze(x, 1);
    if (h0) hx = batched ? tl_retain((tl_tensor *)h0) : tl_unsqueeze(h0, 1);
    if (c0) cx = batched ? tl_retain((tl_tensor *)c0) : tl_unsqueeze(c0, 1);
    if (!h0 && seq) {
        hs[0] = D * nl, hs[1] = N, hs[2] = H;
        hx = tl_new_zeros(seq, 3, hs);
        if (!gru) cx = tl_new_zeros(seq, 3, hs);
    }
    for (l = 0; l < nl && seq; l++) {
        tl_tensor *dirs[2];
        for (d = 0; d < D; d++) {
            char nm[4][64];
            const char *sfx = d ? "_reverse" : "";
            int k = l * D + d;
            snprintf(nm[0], sizeof nm[0], "weight_ih_l%d%s", l, sfx);
            snprintf(nm[1], sizeof nm[1], "weight_hh_l%d%s", l, sfx);
            snprintf(nm[2], sizeof nm[2], "bias_ih_l%d%s", l, sfx);
            snprintf(nm[3], sizeof nm[3], "bias_hh_l%d%s", l, sfx);
            if (!tl__mparam(m, nm[0]) || !tl__mparam(m, nm[1]) ||
                (bias && (!tl__mparam(m, nm[2]) || !tl__mparam(m, nm[3])))) {
                TL__FAIL(TL_ERR_STATE, "%s: parameter %s (or its siblings) is missing or None", who, nm[0]);
                dirs[d] = NULL;
                break;
            }
            dirs[d] = tl__rnn_dir(gru, seq, tl__mparam(m, nm[0]), tl__mparam(m, nm[1]),
                                  bias ? tl__mparam(m, nm[2]) : NULL, bias ? tl__mparam(m, nm[3]) : NULL,
                                  tl_select(hx, 0, k), gru ? NULL : tl_select(cx, 0, k), d == 1, &hl[k], &cl[k]);
            if (!dirs[d]) break;
        }
        seq = d < D ? NULL : (D == 2 ? tl_cat(2, dirs, 2) : dirs[0]);
    }
    if (seq) {
        out = batched ? (bf ? tl_transpose(seq, 0, 1) : seq) : tl_squeeze_dim(seq, 1);
        hn = tl_stack(D * nl, hl, 0);
        if (!batched) hn = tl_squeeze_dim(hn, 1);
        if (!gru) {
            cn = tl_stack(D * nl, cl, 0);
            if (!batched) cn = tl_squeeze_dim(cn, 1);
        }
    }
    if (!out || !hn || (!gru && !cn)) out = hn = cn = NULL;
    if (out) out = tl_keep(tl_retain(out));
    if (h_n && hn) *h_n = tl_keep(tl_retain(hn));
    if (c_n && cn) *c_n = tl_keep(tl_retain(cn));
    tl_scope_end(s);
    tl__free(hl);
    return out;
}
TLDEF tl_tensor *tl_lstm_forward(tl_module *lstm, const tl_tensor *x, const tl_tensor *h0, const tl_tensor *c0,
                                 tl_tensor **h_n, tl_tensor **c_n) {
    return tl__rnn_run("tl_lstm_forward", 0, lstm, x, h0, c0, h_n, c_n);
}
TLDEF tl_tensor *tl_gru_forward(tl_module *gru, const tl_tensor *x, const tl_tensor *h0, tl_tensor **h_n) {
    return tl__rnn_run("tl_gru_forward", 1, gru, x, h0, NULL, h_n, NULL);
}
static tl_tensor *tl__rnn_module_forward(tl_module *m, const tl_tensor *x) {
    int gru = (m->ip[3] & TL__RNN_GRU) != 0;
    return tl__rnn_run(gru ? "tl_gru_forward" : "tl_lstm_forward", gru, m, x, NULL, NULL, NULL, NULL);
}

static tl_tensor *tl__mha_module_forward(tl_module *m, const tl_tensor *x);
TLDEF tl_module *tl_nn_multihead_attention(int64_t embed_dim, int64_t num_heads, int bias, int batch_first) {
    int64_t E = embed_dim, shape[2];
    tl_tensor *w = NULL, *b = NULL;
    tl_module *m, *out_proj;
    int ok;
    if (E <= 0 || num_heads <= 0 || E > TL__RNN_MAXSIZE || num_heads > TL__RNN_MAXSIZE || E % num_heads)
        return (tl_module *)(void *)TL__FAILN(TL_ERR_ARG, "tl_nn_multihead_attention: embed_dim must be divisible by "
                                             "num_heads (both positive; got embed_dim %lld, num_heads %lld)",
                                             (long long)E, (long long)num_heads);
    m = tl_module_new("MultiheadAttention", tl__mha_module_forward);
    if (!m) return NULL;
    m->ip[0] = (int)E;
    m->ip[1] = (int)num_heads;
    m->ip[2] = batch_first != 0;
    /* torch's __init__ order: in_proj_weight, q/k/v_proj_weight (None when kdim = vdim = embed_dim),
       in_proj_bias, then out_proj (whose Linear init draws from the stream); _reset_parameters then
       draws xavier_uniform_(in_proj_weight) and zeroes in_proj_bias and out_proj.bias. */
    shape[0] = 3 * E;
    shape[1] = E;
    w = tl__new("tl_nn_multihead_attention", 2, shape, TL_F32);
    ok = w && tl_module_register_parameter(m, "in_proj_weight", w) == TL_OK &&
         tl_module_register_parameter(m, "q_proj_weight", NULL) == TL_OK &&
         tl_module_register_parameter(m, "k_proj_weight", NULL) == TL_OK &&
         tl_module_register_parameter(m, "v_proj_weight", NULL) == TL_OK;
    if (ok && bias) {
        b = tl__full("tl_nn_multihead_attention", 1, shape, 0, TL_F32);
        ok = b && tl_module_register_parameter(m, "in_proj_bias", b) == TL_OK;
    } else if (ok) {
        ok = tl_module_register_parameter(m, "in_proj_bias", NULL) == TL_OK;
    }
    out_proj = ok ? tl_nn_linear(E, E, bias) : NULL;
    if (out_proj) snprintf(out_proj->type, sizeof out_proj->type, "NonDynamicallyQuantizableLinear");
    ok = out_proj && tl_module_add_module(m, "out_proj", out_proj) == TL_OK;
    ok = ok && tl_init_xavier_uniform_(w, 1.0) == TL_OK;
    if (ok && bias) ok = tl_init_zeros_(tl__mparam(out_proj, "bias")) == TL_OK;
    tl__release(w);
    tl__release(b);
    if (!ok) {
        tl_module_free(m);
        return NULL;
    }
    return m;
}

/* F.multi_head_attention_forward of torch 1.13 (use_separate_proj_weight False, no dropout):
   q, k, v = in-projections; heads split to [N*nh, L|S, hd]; weights = softmax(mask + q/sqrt(hd) @ k^T)
   over S; output = out_proj(weights @ v merged back to [L, N, E]). */
TLDEF tl_tensor *tl_mha_forward(tl_module *m, const tl_tensor *query, const tl_tensor *key, const tl_tensor *value,
                                const tl_tensor *key_padding_mask, int need_weights, const tl_tensor *attn_mask,
                                int average_attn_weights, tl_tensor **attn_weights) {
    const char *op = "tl_mha_forward";
    int64_t E, nh, hd, L, N, S, sh[4];
    int bf, batched;
    char who[160];
    tl_tensor *q, *k, *v, *W, *B, *mask = NULL, *w, *o, *aw = NULL;
    const tl_tensor *kpm = key_padding_mask, *am = attn_mask;
    tl_module *op_m;
    tl_scope s;
    if (attn_weights) *attn_weights = NULL;
    if (tl__null_in(op, m) || tl__null_in(op, query)) return NULL;
    if (!key) key = query;
    if (!value) value = key;
    if (strcmp(m->type, "MultiheadAttention") != 0 || m->forward != tl__mha_module_forward)
        return TL__FAILN(TL_ERR_ARG, "%s: expected a module made by tl_nn_multihead_attention, got %s", op, m->type);
    E = m->ip[0], nh = m->ip[1], hd = E / nh, bf = m->ip[2];
    snprintf(who, sizeof who, "%s: MultiheadAttention(embed_dim=%lld, num_heads=%lld)", op, (long long)E,
             (long long)nh);
    W = tl__mparam(m, "in_proj_weight");
    B = tl__mparam(m, "in_proj_bias");
    op_m = tl_module_child(m, "out_proj");
    if (!W || !op_m || !tl__mparam(op_m, "weight"))
        return TL__FAILN(TL_ERR_STATE, "%s: in_proj_weight or out_proj.weight is missing", who);
    /* torch's _mha_shape_check */
    if (query->ndim != 2 && query->ndim != 3)
        return TL__FAILN(TL_ERR_SHAPE, "%s: query should be unbatched 2D or batched 3D tensor but received %d-D query "
                         "tensor (query %s)", who, query->ndim, TL__SH(query));
    batched = query->ndim == 3;
    if (key->ndim != query->ndim || value->ndim != query->ndim)
        return TL__FAILN(TL_ERR_SHAPE, "%s: for %s %d-D query, key and value should be %d-D but got %d-D and %d-D "
                         "(query %s, key %s, value %s)", who, batched ? "batched" : "unbatched", query->ndim,
                         query->ndim, key->ndim, value->ndim, TL__SH(query), TL__SH(key), TL__SH(value));
    if (kpm && kpm->ndim != query->ndim - 1)
        return TL__FAILN(TL_ERR_SHAPE, "%s: for %s %d-D query, key_padding_mask should be %d-D but got %d-D "
                         "(key_padding_mask %s, query %s)", who, batched ? "batched" : "unbatched", query->ndim,
                         query->ndim - 1, kpm->ndim, TL__SH(kpm), TL__SH(query));
    if (am && am->ndim != 2 && am->ndim != 3)
        return TL__FAILN(TL_ERR_SHAPE, "%s: attn_mask's dimension %d is not supported (attn_mask %s)", who, am->ndim,
                         TL__SH(am));
    if (query->shape[query->ndim - 1] != E)
        return TL__FAILN(TL_ERR_SHAPE, "%s: was expecting embedding dimension of %lld, but got %lld (query %s)", who,
                         (long long)E, (long long)query->shape[query->ndim - 1], TL__SH(query));
    if (key->ndim != value->ndim || memcmp(key->shape, value->shape, sizeof(int64_t) * (size_t)key->ndim) != 0)
        return TL__FAILN(TL_ERR_SHAPE, "%s: key shape %s does not match value shape %s", who, TL__SH(key),
                         TL__SH(value));
    if (key->shape[key->ndim - 1] != E)
        return TL__FAILN(TL_ERR_SHAPE, "%s: key and value need embedding dimension %lld (kdim = vdim = embed_dim), got "
                         "%s", who, (long long)E, TL__SH(key));
    L = query->shape[batched && bf ? 1 : 0];
    N = batched ? query->shape[bf ? 0 : 1] : 1;
    S = key->shape[batched && bf ? 1 : 0];
    if (batched && key->shape[bf ? 0 : 1] != N)
        return TL__FAILN(TL_ERR_SHAPE, "%s: key's batch size %lld does not match query's %lld (query %s, key %s)", who,
                         (long long)key->shape[bf ? 0 : 1], (long long)N, TL__SH(query), TL__SH(key));
    if (kpm && (kpm->shape[0] != (batched ? N : S) || (batched && kpm->shape[1] != S)))
        return TL__FAILN(TL_ERR_SHAPE, "%s: expecting key_padding_mask shape of %s, but got %s", who,
                         batched ? tl__fmt_shape(2, (sh[0] = N, sh[1] = S, sh)) : tl__fmt_shape(1, &S), TL__SH(kpm));
    if (am && am->ndim == 2 && (am->shape[0] != L || am->shape[1] != S))
        return TL__FAILN(TL_ERR_SHAPE, "%s: the shape of the 2D attn_mask is %s, but should be %s", who, TL__SH(am),
                         tl__fmt_shape(2, (sh[0] = L, sh[1] = S, sh)));
    if (am && am->ndim == 3 && (am->shape[0] != N * nh || am->shape[1] != L || am->shape[2] != S))
        return TL__FAILN(TL_ERR_SHAPE, "%s: the shape of the 3D attn_mask is %s, but should be %s", who, TL__SH(am),
                         tl__fmt_shape(3, (sh[0] = N * nh, sh[1] = L, sh[2] = S, sh)));
    if ((am && am->dtype != TL_BOOL && am->dtype != TL_U8 && !TL__IS_FLOAT(am->dtype)) ||
        (kpm && kpm->dtype != TL_BOOL && kpm->dtype != TL_U8 && !TL__IS_FLOAT(kpm->dtype)))
        return TL__FAILN(TL_ERR_DTYPE, "%s: only bool, uint8 and floating masks are supported (attn_mask %s, "
                         "key_padding_mask %s)", who, am ? TL__DT(am) : "None", kpm ? TL__DT(kpm) : "None");
    s = tl_scope_begin();
    /* the batched, sequence-first form [L|S, N, E] */
    if (batched && bf) {
        q = tl_transpose(query, 0, 1);
        k = tl_transpose(key, 0, 1);
        v = tl_transpose(value, 0, 1);
    } else if (!batched) {
        q = tl_unsqueeze(query, 1);
        k = tl_unsqueeze(key, 1);
        v = tl_unsqueeze(value, 1);
    } else {
        q = (tl_tensor *)query, k = (tl_tensor *)key, v = (tl_tensor *)value;
    }
    /* in-projection: rows [0, E) of in_proj_weight for q, [E, 2E) for k, [2E, 3E) for v */
    q = tl_linear(q, tl_narrow(W, 0, 0, E), B ? tl_narrow(B, 0, 0, E) : NULL);
    k = tl_linear(k, tl_narrow(W, 0, E, E), B ? tl_narrow(B, 0, E, E) : NULL);
    v = tl_linear(v, tl_narrow(W, 0, 2 * E, E), B ? tl_narrow(B, 0, 2 * E, E) : NULL);
    /* the masks become one additive float mask of q's dtype: [1, L, S] or [N*nh, L, S], or
       [N*nh, 1, S] from key_padding_mask alone; bool True and (deprecated) uint8 non-zero mean -inf,
       as torch's logical_or / masked_fill(-inf) merge */
    if (am) {
        tl_tensor *a = (tl_tensor *)am;
        tl_dtype dt = q ? q->dtype : TL_F32;
        if (a->dtype == TL_BOOL || a->dtype == TL_U8)
            a = tl_masked_fill(tl_zeros(a->ndim, a->shape, dt), a->dtype == TL_U8 ? tl_ne_scalar(a, 0) : a, -INFINITY);
        else if (a->dtype != dt)
            a = tl_to_dtype(a, dt);
        mask = a && a->ndim == 2 ? tl_unsqueeze(a, 0) : a;
    }
    if (kpm) {
        tl_tensor *kk = batched ? (tl_tensor *)kpm : tl_unsqueeze(kpm, 0);
        tl_dtype dt = q ? q->dtype : TL_F32;
        int isbool = kpm->dtype == TL_BOOL || kpm->dtype == TL_U8;
        if (kpm->dtype == TL_U8) kk = tl_ne_scalar(kk, 0);
        else if (!isbool && kpm->dtype != dt) kk = tl_to_dtype(kk, dt);
        sh[0] = N, sh[1] = 1, sh[2] = 1, sh[3] = S;
        kk = tl_view(kk, 4, sh);
        sh[1] = nh;
        kk = tl_expand(kk, 4, sh);
        sh[0] = N * nh, sh[1] = 1, sh[2] = S;
        kk = tl_reshape(kk, 3, sh);
        if (isbool) mask = tl_masked_fill(mask ? mask : tl_zeros(3, sh, dt), kk, -INFINITY);
        else mask = mask ? tl_add(mask, kk) : kk;
    }
    /* heads: [L, N, E] -> [L, N*nh, hd] -> [N*nh, L, hd] (and S for k, v) */
    sh[0] = L, sh[1] = N * nh, sh[2] = hd;
    q = tl_transpose(tl_reshape(q, 3, sh), 0, 1);
    sh[0] = S;
    k = tl_transpose(tl_reshape(k, 3, sh), 0, 1);
    v = tl_transpose(tl_reshape(v, 3, sh), 0, 1);
    q = tl_div_scalar(q, sqrt((double)hd));
    w = tl_bmm(q, tl_transpose(k, 1, 2)); /* [N*nh, L, S] */
    if (am || kpm) w = tl_add(mask, w);    /* torch.baddbmm(mask, q, k^T) */
    w = tl_softmax(w, -1);
    o = tl_bmm(w, v); /* [N*nh, L, hd] */
    sh[0] = L * N, sh[1] = E;
    o = tl_reshape(tl_contiguous(tl_transpose(o, 0, 1)), 2, sh);
    o = tl_linear(o, tl__mparam(op_m, "weight"), tl__mparam(op_m, "bias"));
    sh[0] = L, sh[1] = N, sh[2] = E;
    o = tl_view(o, 3, sh);
    if (need_weights && attn_weights) {
        sh[0] = N, sh[1] = nh, sh[2] = L, sh[3] = S;
        aw = tl_view(w, 4, sh);
        if (average_attn_weights) aw = tl_div_scalar(tl_sum(aw, 1, 0), (double)nh);
        if (!batched) aw = tl_squeeze_dim(aw, 0);
    }
    if (!batched) o = tl_squeeze_dim(o, 1);
    else if (bf) o = tl_transpose(o, 0, 1);
    if (need_weights && attn_weights && !aw) o = NULL;
    o = o ? tl_keep(tl_retain(o)) : NULL;
    if (o && aw) *attn_weights = tl_keep(tl_retain(aw));
    tl_scope_end(s);
    return o;
}
static tl_tensor *tl__mha_module_forward(tl_module *m, const tl_tensor *x) {
    return tl_mha_forward(m, x, x, x, NULL, 0, NULL, 1, NULL);
}

/* ===== >>optim ================================================================================ */

TLDEF tl_param_list *tl_param_list_new(int n, tl_tensor *const *tensors) {
    tl_param_list *l;
    int i;
    if (n < 0 || (n > 0 && !tensors)) {
        TL__FAIL(TL_ERR_ARG, "tl_param_list_new: %d tensors at %p", n, (const void *)tensors);
        return NULL;
    }
    for (i = 0; i < n; i++)
        if (!tensors[i]) {
            if (!tl__tls.status) TL__FAIL(TL_ERR_ARG, "tl_param_list_new: tensor %d is NULL", i);
            return NULL;
        }
    l = (tl_param_list *)tl__malloc(sizeof *l);
    if (l) l->tensors = (tl_tensor **)tl__malloc(tl__szn(n, sizeof(tl_tensor *)));
    if (!l || !l->tensors) {
        tl__free(l);
        TL__FAIL(TL_ERR_OOM, "tl_param_list_new: out of memory for %d tensors", n);
        return NULL;
    }
    l->n = n;
    for (i = 0; i < n; i++) {
        l->tensors[i] = tensors[i];
        tensors[i]->refcount++;
    }
    return l;
}
TLDEF tl_param_list *tl_parameters(const tl_module *m) {
    tl_named_tensors *nt;
    tl_param_list *l;
    int i;
    if (!m) {
        if (!tl__tls.status) TL__FAIL(TL_ERR_ARG, "tl_parameters: module is NULL");
        return NULL;
    }
    nt = tl_module_named_parameters(m);
    if (!nt) return NULL;
    l = (tl_param_list *)tl__malloc(sizeof *l);
    if (!l) {
        tl_named_tensors_free(nt);
        TL__FAIL(TL_ERR_OOM, "tl_parameters: out of memory");
        return NULL;
    }
    l->n = nt->n;
    l->tensors = nt->tensors; /* the list takes the named list's references */
    for (i = 0; i < nt->n; i++) tl__free(nt->names[i]);
    tl__free(nt->names);
    tl__free(nt);
    return l;
}
TLDEF void tl_param_list_free(tl_param_list *l) {
    int i;
    if (!l) return;
    for (i = 0; i < l->n; i++) tl__release(l->tensors[i]);
    tl__free(l->tensors);
    tl__free(l);
}

TLDEF tl_sgd_desc tl_sgd_desc_default(void) {
    tl_sgd_desc d;
    memset(&d, 0, sizeof d);
    d.lr = 1e-3;
    return d;
}
TLDEF tl_adam_desc tl_adam_desc_default(void) {
    tl_adam_desc d;
    memset(&d, 0, sizeof d);
    d.lr = 1e-3;
    d.beta1 = 0.9;
    d.beta2 = 0.999;
    d.eps = 1e-8;
    return d;
}
TLDEF tl_adamw_desc tl_adamw_desc_default(void) {
    tl_adamw_desc d = tl_adam_desc_default();
    d.weight_decay = 1e-2;
    return d;
}
TLDEF tl_rmsprop_desc tl_rmsprop_desc_default(void) {
    tl_rmsprop_desc d;
    memset(&d, 0, sizeof d);
    d.lr = 1e-2;
    d.alpha = 0.99;
    d.eps = 1e-8;
    return d;
}
TLDEF tl_adagrad_desc tl_adagrad_desc_default(void) {
    tl_adagrad_desc d;
    memset(&d, 0, sizeof d);
    d.lr = 1e-2;
    d.eps = 1e-10;
    return d;
}

typedef enum { TL__OPT_SGD = 0, TL__OPT_ADAM, TL__OPT_ADAMW, TL__OPT_RMSPROP, TL__OPT_ADAGRAD } tl__optkind;
static const char *const tl__opt_names[] = {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad"};
static const char *const tl__opt_fn[] = {"tl_optim_sgd", "tl_optim_adam", "tl_optim_adamw", "tl_optim_rmsprop",
                                         "tl_optim_adagrad"};

/* One param group: every hyperparameter any optimizer has (unused ones stay 0), plus the keys
   schedulers add to torch's groups. Its parameters are opt->params[first .. first + n). */
typedef struct tl__ogroup {
    double lr, momentum, dampening, weight_decay, beta1, beta2, eps, alpha, lr_decay, init_acc;
    int nesterov, maximize, amsgrad, centered;
    int has_initial_lr, has_onecycle, has_momentum_range;
    double initial_lr, max_lr, min_lr, max_momentum, base_momentum;
    int first, n;
} tl__ogroup;

/* Per-parameter state: buf[0..2] are SGD {momentum_buffer}, Adam {exp_avg, exp_avg_sq,
   max_exp_avg_sq}, RMSprop {square_avg, momentum_buffer, grad_avg}, Adagrad {sum}. */
typedef struct tl__pstate {
    int has;  /* the parameter has state (torch's self.state[p] is not empty) */
    int fresh; /* SGD: buf[0] was allocated ahead of the step that first fills it (momentum_buffer None) */
    double step;
    tl_tensor *buf[3];
} tl__pstate;

struct tl_optim {
    tl__optkind kind;
    int ngroups, cap_groups;
    tl__ogroup *groups;
    tl__ogroup defaults; /* the constructor's hyperparameters: torch's optimizer.defaults */
    int nparams, cap_params;
    tl_tensor **params; /* owned references */
    tl__pstate *state;  /* one per parameter */
};

static const char *const tl__state_keys[5][4] = {
    {"momentum_buffer", NULL, NULL, NULL},
    {"exp_avg", "exp_avg_sq", "max_exp_avg_sq", NULL},
    {"exp_avg", "exp_avg_sq", "max_exp_avg_sq", NULL},
    {"square_avg", "momentum_buffer", "grad_avg", NULL},
    {"sum", NULL, NULL, NULL}};

/* Which state buffers a parameter of group g uses. */
static int tl__opt_uses_buf(const tl_optim *o, const tl__ogroup *g, int k) {
    switch (o->kind) {
    case TL__OPT_SGD: return k == 0 && g->momentum != 0;
    case TL__OPT_ADAM:
    case TL__OPT_ADAMW: return k < 2 || (k == 2 && g->amsgrad);
    case TL__OPT_RMSPROP: return k == 0 || (k == 1 && g->momentum > 0) || (k == 2 && g->centered);
    default: return k == 0;
    }
}

/* Validates a group's hyperparameters with torch's messages. */
static tl_status tl__opt_check_group(const char *op, tl__optkind kind, const tl__ogroup *g) {
    if (!(g->lr >= 0)) return TL__FAIL(TL_ERR_ARG, "%s: Invalid learning rate: %g", op, g->lr);
    if (!(g->weight_decay >= 0)) return TL__FAIL(TL_ERR_ARG, "%s: Invalid weight_decay value: %g", op, g->weight_decay);
    switch (kind) {
    case TL__OPT_SGD:
        if (!(g->momentum >= 0)) return TL__FAIL(TL_ERR_ARG, "%s: Invalid momentum value: %g", op, g->momentum);
        if (g->nesterov && (g->momentum <= 0 || g->dampening != 0))
            return TL__FAIL(TL_ERR_ARG, "%s: Nesterov momentum requires a momentum and zero dampening", op);
        break;
    case TL__OPT_ADAM:
    case TL__OPT_ADAMW:
        if (!(g->eps >= 0)) return TL__FAIL(TL_ERR_ARG, "%s: Invalid epsilon value: %g", op, g->eps);
        if (!(g->beta1 >= 0 && g->beta1 < 1))
            return TL__FAIL(TL_ERR_ARG, "%s: Invalid beta parameter at index 0: %g", op, g->beta1);
        if (!(g->beta2 >= 0 && g->beta2 < 1))
            return TL__FAIL(TL_ERR_ARG, "%s: Invalid beta parameter at index 1: %g", op, g->beta2);
        break;
    case TL__OPT_RMSPROP:
        if (!(g->eps >= 0)) return TL__FAIL(TL_ERR_ARG, "%s: Invalid epsilon value: %g", op, g->eps);
        if (!(g->momentum >= 0)) return TL__FAIL(TL_ERR_ARG, "%s: Invalid momentum value: %g", op, g->momentum);
        if (!(g->alpha >= 0)) return TL__FAIL(TL_ERR_ARG, "%s: Invalid alpha value: %g", op, g->alpha);
        break;
    default:
        if (!(g->lr_decay >= 0)) return TL__FAIL(TL_ERR_ARG, "%s: Invalid lr_decay value: %g", op, g->lr_decay);
        if (!(g->init_acc >= 0))
            return TL__FAIL(TL_ERR_ARG, "%s: Invalid initial_accumulator_value value: %g", op, g->init_acc);
        if (!(g->eps >= 0)) return TL__FAIL(TL_ERR_ARG, "%s: Invalid epsilon value: %g", op, g->eps);
        break;
    }
    return TL_OK;
}

static void tl__opt_group_from_desc(tl__optkind kind, const void *desc, tl__ogroup *g) {
    memset(g, 0, sizeof *g);
    switch (kind) {
    case TL__OPT_SGD: {
        tl_sgd_desc d = desc ? *(const tl_sgd_desc *)desc : tl_sgd_desc_default();
        g->lr = d.lr, g->momentum = d.momentum, g->dampening = d.dampening, g->weight_decay = d.weight_decay;
        g->nesterov = d.nesterov != 0, g->maximize = d.maximize != 0;
        break;
    }
    case TL__OPT_ADAM:
    case TL__OPT_ADAMW: {
        tl_adam_desc d = desc ? *(const tl_adam_desc *)desc
                              : (kind == TL__OPT_ADAM ? tl_adam_desc_default() : tl_adamw_desc_default());
        g->lr = d.lr, g->beta1 = d.beta1, g->beta2 = d.beta2, g->eps = d.eps, g->weight_decay = d.weight_decay;
        g->amsgrad = d.amsgrad != 0, g->maximize = d.maximize != 0;
        break;
    }
    case TL__OPT_RMSPROP: {
        tl_rmsprop_desc d = desc ? *(const tl_rmsprop_desc *)desc : tl_rmsprop_desc_default();
        g->lr = d.lr, g->alpha = d.alpha, g->eps = d.eps, g->weight_decay = d.weight_decay, g->momentum = d.momentum;
        g->centered = d.centered != 0, g->maximize = d.maximize != 0;
        break;
    }
    default: {
        tl_adagrad_desc d = desc ? *(const tl_adagrad_desc *)desc : tl_adagrad_desc_default();
        g->lr = d.lr, g->lr_decay = d.lr_decay, g->weight_decay = d.weight_decay;
        g->init_acc = d.initial_accumulator_value, g->eps = d.eps, g->maximize = d.maximize != 0;
        break;
    }
    }
}

/* A new zero-filled (or value-filled) state tensor shaped like p (untracked, owned by the optimizer). */
static tl_tensor *tl__opt_state_new(const char *op, const tl_tensor *p, double fill) {
    tl_tensor *t = tl__new(op, p->ndim, p->shape, p->dtype);
    if (t) tl__fill(t, fill);
    return t;
}

/* Adagrad creates its state in the constructor (step 0, sum = initial_accumulator_value). */
static tl_status tl__opt_init_adagrad(tl_optim *o, const tl__ogroup *g) {
    int i;
    for (i = g->first; i < g->first + g->n; i++) {
        tl__pstate *s = &o->state[i];
        if (s->has) continue;
        s->buf[0] = tl__opt_state_new("tl_optim_adagrad", o->params[i], g->init_acc);
        if (!s->buf[0]) return tl__tls.status;
        s->has = 1;
        s->step = 0;
    }
    return TL_OK;
}

static tl_status tl__opt_add_group(const char *op, tl_optim *o, tl_param_list *pl, const void *desc) {
    tl__ogroup g;
    tl_status st;
    int i, j;
    if (!pl) {
        if (tl__tls.status) return tl__tls.status;
        return TL__FAIL(TL_ERR_ARG, "%s: params is NULL", op);
    }
    if (pl->n == 0) {
        tl_param_list_free(pl);
        return TL__FAIL(TL_ERR_ARG, "%s: optimizer got an empty parameter list", op);
    }
    if (!desc && o->ngroups > 0) g = o->defaults;
    else tl__opt_group_from_desc(o->kind, desc, &g);
    if ((st = tl__opt_check_group(op, o->kind, &g)) != TL_OK) {
        tl_param_list_free(pl);
        return st;
    }
    for (i = 0; i < pl->n; i++) {
        tl_tensor *p = pl->tensors[i];
        if (p->dtype != TL_F32 && p->dtype != TL_F64) {
            tl_param_list_free(pl);
            return TL__FAIL(TL_ERR_DTYPE, "%s: parameter %d is %s %s; the optimizers update float32 and float64 "
                            "parameters", op, i, TL__DT(p), TL__SH(p));
        }
        if (p->grad_fn) {
            tl_param_list_free(pl);
            return TL__FAIL(TL_ERR_ARG, "%s: can't optimize a non-leaf Tensor (parameter %d, %s)", op, i, TL__SH(p));
        }
        if (!tl_is_contiguous(p)) {
            tl_param_list_free(pl);
            return TL__FAIL(TL_ERR_ARG, "%s: parameter %d (%s) is not contiguous; the fused step needs contiguous "
                            "parameters", op, i, TL__SH(p));
        }
        for (j = 0; j < o->nparams + i; j++)
            if ((j < o->nparams ? o->params[j] : pl->tensors[j - o->nparams]) == p) {
                tl_param_list_free(pl);
                return TL__FAIL(TL_ERR_ARG, "%s: some parameters appear in more than one parameter group "
                                "(parameter %d, %s)", op, i, TL__SH(p));
            }
    }
    if (o->nparams + pl->n > o->cap_params) {
        int cap = (o->nparams + pl->n) * 2;
        tl_tensor **np = (tl_tensor **)tl__malloc(tl__szn(cap, sizeof(tl_tensor *)));
        tl__pstate *ns = (tl__pstate *)tl__malloc(tl__szn(cap, sizeof(tl__pstate)));
        if (!np || !ns) {
            tl__free(np);
            tl__free(ns);
            tl_param_list_free(pl);
            return TL__FAIL(TL_ERR_OOM, "%s: out of memory", op);
        }
        if (o->nparams) {
            memcpy(np, o->params, (size_t)o->nparams * sizeof *np);
            memcpy(ns, o->state, (size_t)o->nparams * sizeof *ns);
        }
        tl__free(o->params);
        tl__free(o->state);
        o->params = np;
        o->state = ns;
        o->cap_params = cap;
    }
    if (o->ngroups == o->cap_groups) {
        int cap = o->cap_groups ? o->cap_groups * 2 : 4;
        tl__ogroup *ng = (tl__ogroup *)tl__malloc(tl__szn(cap, sizeof(tl__ogroup)));
        if (!ng) {
            tl_param_list_free(pl);
            return TL__FAIL(TL_ERR_OOM, "%s: out of memory", op);
        }
        if (o->ngroups) memcpy(ng, o->groups, (size_t)o->ngroups * sizeof *ng);
        tl__free(o->groups);
        o->groups = ng;
        o->cap_groups = cap;
    }
    g.first = o->nparams;
    g.n = pl->n;
    for (i = 0; i < pl->n; i++) {
        o->params[o->nparams + i] = pl->tensors[i]; /* takes the list's references */
        memset(&o->state[o->nparams + i], 0, sizeof(tl__pstate));
    }
    o->nparams += pl->n;
    pl->n = 0;
    tl_param_list_free(pl);
    o->groups[o->ngroups++] = g;
    if (o->ngroups == 1) o->defaults = g;
    if (o->kind == TL__OPT_ADAGRAD) return tl__opt_init_adagrad(o, &o->groups[o->ngroups - 1]);
    return TL_OK;
}

TLDEF void tl_optim_free(tl_optim *o) {
    int i, k;
    if (!o) return;
    for (i = 0; i < o->nparams; i++) {
        tl__release(o->params[i]);
        for (k = 0; k < 3; k++) tl__release(o->state[i].buf[k]);
    }
    tl__free(o->params);
    tl__free(o->state);
    tl__free(o->groups);
    tl__free(o);
}

static tl_optim *tl__optim_new(tl__optkind kind, tl_param_list *pl, const void *desc) {
    const char *op = tl__opt_fn[kind];
    tl_optim *o;
    if (!pl) {
        if (!tl__tls.status) TL__FAIL(TL_ERR_ARG, "%s: params is NULL", op);
        return NULL;
    }
    o = (tl_optim *)tl__malloc(sizeof *o);
    if (!o) {
        tl_param_list_free(pl);
        TL__FAIL(TL_ERR_OOM, "%s: out of memory", op);
        return NULL;
    }
    memset(o, 0, sizeof *o);
    o->kind = kind;
    if (tl__opt_add_group(op, o, pl, desc) != TL_OK) {
        tl_optim_free(o);
        return NULL;
    }
    return o;
}
TLDEF tl_optim *tl_optim_sgd(tl_param_list *params, const tl_sgd_desc *d) { return tl__optim_new(TL__OPT_SGD, params, d); }
TLDEF tl_optim *tl_optim_adam(tl_param_list *params, const tl_adam_desc *d) { return tl__optim_new(TL__OPT_ADAM, params, d); }
TLDEF tl_optim *tl_optim_adamw(tl_param_list *params, const tl_adamw_desc *d) {
    return tl__optim_new(TL__OPT_ADAMW, params, d);
}
TLDEF tl_optim *tl_optim_rmsprop(tl_param_list *params, const tl_rmsprop_desc *d) {
    return tl__optim_new(TL__OPT_RMSPROP, params, d);
}
TLDEF tl_optim *tl_optim_adagrad(tl_param_list *params, const tl_adagrad_desc *d) {
    return tl__optim_new(TL__OPT_ADAGRAD, params, d);
}
TLDEF tl_status tl_optim_add_param_group(tl_optim *o, tl_param_list *params, const void *desc) {
    if (!o) {
        tl_param_list_free(params);
        if (tl__tls.status) return tl__tls.status;
        return TL__FAIL(TL_ERR_ARG, "tl_optim_add_param_group: optimizer is NULL");
    }
    return tl__opt_add_group("tl_optim_add_param_group", o, params, desc);
}

TLDEF tl_status tl_optim_zero_grad(tl_optim *o) {
    int i;
    if (!o) return tl__tls.status ? tl__tls.status : TL__FAIL(TL_ERR_ARG, "tl_optim_zero_grad: optimizer is NULL");
    for (i = 0; i < o->nparams; i++) {
        tl__release(o->params[i]->grad);
        o->params[i]->grad = NULL;
    }
    return TL_OK;
}

/* ---- the fused update loops: one pass over a parameter's storage, T = float or double ----
   Each line mirrors one tensor op of torch's _single_tensor_* function, rounded as torch 1.13's CPU
   kernels round it (checked bit for bit against torch): x.add_(y, alpha=s) is fma(s, y, x);
   x.addcmul_(y, z, value=s) is fma(s*y, z, x); x.addcdiv_(y, z, value=s) is x + (s*y)/z without
   fma; Python float hyperparameters are first rounded to T. */
/* The loops vectorize under GCC when sqrt may skip errno (its argument is never negative here) and
   the pointers are known not to alias; the results do not change (IEEE sqrt either way). */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__cplusplus)
#define TL__OPT_LOOP __attribute__((optimize("no-math-errno", "tree-vectorize")))
#else
#define TL__OPT_LOOP
#endif
#if defined(__GNUC__) || defined(__clang__)
#define TL__RESTRICT __restrict__
#else
#define TL__RESTRICT
#endif
#define TL__OPT_KERNELS(T, SFX, SQRT, FMA, ATTR, ADAM_VEC)                                                                   \
    TL__OPT_LOOP ATTR static void tl__sgd_##SFX(T *TL__RESTRICT p, const T *TL__RESTRICT g, T *TL__RESTRICT buf, int64_t n, const tl__ogroup *h, int first) {          \
        const int nesterov = h->nesterov;                                                              \
        const T wd = (T)h->weight_decay, mom = (T)h->momentum, damp1 = (T)(1 - h->dampening), nlr = (T)-h->lr; \
        const T sgn = h->maximize ? (T)-1 : (T)1;                                                     \
        const int use_wd = h->weight_decay != 0;                                                       \
        int64_t i;                                                                                           \
        for (i = 0; i < n; i++) {                                                                            \
            T d = g[i] * sgn;                                                                \
            if (use_wd) d = FMA(wd, p[i], d);                                                  \
            if (buf) {                                                                                       \
                T b = first ? d : FMA(damp1, d, buf[i] * mom);                                               \
                buf[i] = b;                                                                                  \
                d = nesterov ? FMA(mom, b, d) : b;                                                        \
            }                                                                                                \
            p[i] = FMA(nlr, d, p[i]);                                                                        \
        }                                                                                                    \
    }                                                                                                        \
    TL__OPT_LOOP ATTR static void tl__adam_##SFX(T *TL__RESTRICT p, const T *TL__RESTRICT g, T *TL__RESTRICT m, T *TL__RESTRICT v, T *TL__RESTRICT mx, int64_t n, const tl__ogroup *h, double step, \
                               int decoupled) {                                                              \
        const double bc1 = 1 - pow(h->beta1, step), bc2 = 1 - pow(h->beta2, step);                          \
        const T b1 = (T)h->beta1, b1c = (T)(1 - h->beta1), b2 = (T)h->beta2, b2c = (T)(1 - h->beta2);         \
        const T wd = (T)h->weight_decay, decay = decoupled ? (T)(1 - h->lr * h->weight_decay) : (T)1, eps = (T)h->eps;          \
        const T bc2s = (T)sqrt(bc2), nss = (T)(-(h->lr / bc1));                                              \
        const T sgn = h->maximize ? (T)-1 : (T)1;                                                     \
        const int use_wd = h->weight_decay != 0;                                                       \
        int64_t i;                                                                                           \
        if (!mx && !(!decoupled && use_wd)) { /* the common case: ADAM_VEC does a prefix 8 or 4 wide */  \
            for (i = ADAM_VEC(p, g, m, v, n, sgn, decay, b1, b1c, b2, b2c, bc2s, eps, nss); i < n; i++) {   \
                T gi = g[i] * sgn, pi = p[i] * decay;                                                        \
                T mi = FMA(b1c, gi, m[i] * b1), vi = FMA(b2c * gi, gi, v[i] * b2);                           \
                m[i] = mi;                                                                                   \
                v[i] = vi;                                                                                   \
                p[i] = pi + (nss * mi) / (SQRT(vi) / bc2s + eps);                                            \
            }                                                                                                \
            return;                                                                                          \
        }                                                                                                    \
        for (i = 0; i < n; i++) { /* the same steps with L2 weight decay or amsgrad */                       \
            T gi = g[i] * sgn, denom, vv;                                                    \
            p[i] = p[i] * decay; /* x * 1 == x: AdamW only */                                         \
            if (!decoupled && use_wd) gi = FMA(wd, p[i], gi);                                           \
            m[i] = FMA(b1c, gi, m[i] * b1);                                                                  \
            v[i] = FMA(b2c * gi, gi, v[i] * b2);                                                             \
            vv = v[i];                                                                                       \
            if (mx) { /* torch.maximum: NaN wins */                                                          \
                if (!(mx[i] >= vv)) mx[i] = vv != vv ? vv : (mx[i] != mx[i] ? mx[i] : vv);                   \
                vv = mx[i];                                                                                  \
            }                                                                                                \
            denom = SQRT(vv) / bc2s + eps;                                                                   \
            p[i] = p[i] + (nss * m[i]) / denom;                                                              \
        }                                                                                                    \
    }                                                                                                        \
    TL__OPT_LOOP ATTR static void tl__rmsprop_##SFX(T *TL__RESTRICT p, const T *TL__RESTRICT g, T *TL__RESTRICT sq, T *TL__RESTRICT buf, T *TL__RESTRICT ga, int64_t n, const tl__ogroup *h) {  \
        const T wd = (T)h->weight_decay, a = (T)h->alpha, ac = (T)(1 - h->alpha), eps = (T)h->eps;           \
        const T mom = (T)h->momentum, nlr = (T)-h->lr;                                                       \
        const T sgn = h->maximize ? (T)-1 : (T)1;                                                     \
        const int use_wd = h->weight_decay != 0;                                                       \
        int64_t i;                                                                                           \
        for (i = 0; i < n; i++) {                                                                            \
            T gi = g[i] * sgn, avg;                                                          \
            if (use_wd) gi = FMA(wd, p[i], gi);                                                \
            sq[i] = FMA(ac * gi, gi, sq[i] * a);                                                             \
            if (ga) {                                                                                        \
                ga[i] = FMA(ac, gi, ga[i] * a);                                                              \
                avg = SQRT(FMA(-ga[i], ga[i], sq[i]));                                                       \
            } else                                                                                           \
                avg = SQRT(sq[i]);                                                                           \
            avg = avg + eps;                                                                                 \
            if (buf) {                                                                                       \
                buf[i] = buf[i] * mom + gi / avg;                                                            \
                p[i] = FMA(nlr, buf[i], p[i]);                                                               \
            } else                                                                                           \
                p[i] = p[i] + (nlr * gi) / avg;                                                              \
        }                                                                                                    \
    }                                                                                                        \
    TL__OPT_LOOP ATTR static void tl__adagrad_##SFX(T *TL__RESTRICT p, const T *TL__RESTRICT g, T *TL__RESTRICT sum, int64_t n, const tl__ogroup *h, double step) {    \
        const T wd = (T)h->weight_decay, eps = (T)h->eps, nclr = (T)-(h->lr / (1 + (step - 1) * h->lr_decay)); \
        const T sgn = h->maximize ? (T)-1 : (T)1;                                                     \
        const int use_wd = h->weight_decay != 0;                                                       \
        int64_t i;                                                                                           \
        for (i = 0; i < n; i++) {                                                                            \
            T gi = g[i] * sgn;                                                               \
            if (use_wd) gi = FMA(wd, p[i], gi);                                                \
            sum[i] = FMA(gi, gi, sum[i]);                                                                    \
            p[i] = p[i] + (nclr * gi) / (SQRT(sum[i]) + eps);                                                \
        }                                                                                                    \
    }
#define TL__ADAM_NOVEC(p, g, m, v, n, sgn, decay, b1, b1c, b2, b2c, bc2s, eps, nss) 0
TL__OPT_KERNELS(float, f32, sqrtf, fmaf, , TL__ADAM_NOVEC)
TL__OPT_KERNELS(double, f64, sqrt, fma, , TL__ADAM_NOVEC)
#if TL__X86_SIMD
/* The same loops compiled for AVX2+FMA, picked at run time (TL_SIMD=portable keeps the ones above):
   there fma is one instruction and the loops vectorize 8 (float) or 4 (double) wide. Bit-identical
   to the portable loops: fma, sqrt and division are correctly rounded either way, and contraction
   of other a * b + c into fma is switched off (it would change the rounding). */
#if defined(__clang__)
#define TL__OPT_X86 __attribute__((target("avx2,fma")))
#elif !defined(__cplusplus)
#undef TL__OPT_LOOP /* one optimize attribute: a second one would replace the first */
#define TL__OPT_LOOP
#define TL__OPT_X86 __attribute__((target("avx2,fma"), optimize("no-math-errno", "tree-vectorize", "unswitch-loops", "fp-contract=off")))
#else
#define TL__OPT_X86 __attribute__((target("avx2,fma")))
#endif
/* Adam's common case (no amsgrad, no L2 decay) 8 floats or 4 doubles at a time, step for step the
   scalar loop's operations; returns how many elements it did (a multiple of the width). */
#define TL__ADAM_VEC(SFX, T, V, W, SET1, LD, ST, MUL, ADD, DIV, SQRTV, FMADD)                                 \
    TL__OPT_X86 static int64_t tl__adam_vec_##SFX(T *p, const T *g, T *m, T *v, int64_t n, T sgn, T decay, T b1,  \
                                                  T b1c, T b2, T b2c, T bc2s, T eps, T nss) {                 \
        const V vsgn = SET1(sgn), vdecay = SET1(decay), vb1 = SET1(b1), vb1c = SET1(b1c), vb2 = SET1(b2);     \
        const V vb2c = SET1(b2c), vbc2s = SET1(bc2s), veps = SET1(eps), vnss = SET1(nss);                     \
        int64_t i;                                                                                           \
        for (i = 0; i + W <= n; i += W) {                                                                    \
            V gi = MUL(LD(g + i), vsgn), pi = MUL(LD(p + i), vdecay);                                        \
            V mi = FMADD(vb1c, gi, MUL(LD(m + i), vb1)), vi = FMADD(MUL(vb2c, gi), gi, MUL(LD(v + i), vb2));  \
            ST(m + i, mi);                                                                                   \
            ST(v + i, vi);                                                                                   \
            ST(p + i, ADD(pi, DIV(MUL(vnss, mi), ADD(DIV(SQRTV(vi), vbc2s), veps))));                        \
        }                                                                                                    \
        return i;                                                                                            \
    }
TL__ADAM_VEC(f32, float, __m256, 8, _mm256_set1_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_mul_ps, _mm256_add_ps,
             _mm256_div_ps, _mm256_sqrt_ps, _mm256_fmadd_ps)
TL__ADAM_VEC(f64, double, __m256d, 4, _mm256_set1_pd, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_mul_pd,
             _mm256_add_pd, _mm256_div_pd, _mm256_sqrt_pd, _mm256_fmadd_pd)
#undef TL__ADAM_VEC
TL__OPT_KERNELS(float, f32_avx2, __builtin_sqrtf, __builtin_fmaf, TL__OPT_X86, tl__adam_vec_f32)
TL__OPT_KERNELS(double, f64_avx2, __builtin_sqrt, __builtin_fma, TL__OPT_X86, tl__adam_vec_f64)
#define TL__OPT_PICK(fn) (fast ? fn##_avx2 : fn)
#undef TL__OPT_X86
#undef TL__ADAM_NOVEC
#else
#define TL__OPT_PICK(fn) fn
#endif
#undef TL__OPT_KERNELS

#define TL__OPT_DATA(t) ((void *)((char *)(t)->storage->data + (size_t)(t)->offset * tl__dtype_sizes[(t)->dtype]))
#define TL__OPT_PTR(t) ((t) ? TL__OPT_DATA(t) : NULL)

TLDEF tl_status tl_optim_step(tl_optim *o) {
    int gi, i, k;
#if TL__X86_SIMD
    const int fast = tl__simd() == 2; /* the AVX2+FMA update loops */
#endif
    if (!o) return tl__tls.status ? tl__tls.status : TL__FAIL(TL_ERR_ARG, "tl_optim_step: optimizer is NULL");
    /* check every gradient first so that a bad one leaves all parameters untouched */
    for (i = 0; i < o->nparams; i++) {
        const tl_tensor *p = o->params[i], *g = p->grad;
        int d;
        if (!g) continue;
        if (g->dtype != p->dtype || g->ndim != p->ndim || !tl_is_contiguous(g))
            return TL__FAIL(TL_ERR_ARG, "tl_optim_step: the gradient of parameter %d (%s %s) is %s %s%s", i, TL__DT(p),
                            TL__SH(p), TL__DT(g), TL__SH(g), tl_is_contiguous(g) ? "" : " (not contiguous)");
        for (d = 0; d < p->ndim; d++)
            if (g->shape[d] != p->shape[d])
                return TL__FAIL(TL_ERR_SHAPE, "tl_optim_step: the gradient of parameter %d (%s) has shape %s", i,
                                TL__SH(p), TL__SH(g));
    }
    /* allocate the state of parameters stepping for the first time */
    for (gi = 0; gi < o->ngroups; gi++) {
        const tl__ogroup *h = &o->groups[gi];
        for (i = h->first; i < h->first + h->n; i++) {
            tl__pstate *s = &o->state[i];
            if (!o->params[i]->grad) continue;
            for (k = 0; k < 3; k++)
                if (!s->buf[k] && tl__opt_uses_buf(o, h, k)) { /* all before any update: a failure changes nothing */
                    s->buf[k] = tl__opt_state_new("tl_optim_step", o->params[i], 0);
                    if (!s->buf[k]) return tl__tls.status;
                    s->fresh = o->kind == TL__OPT_SGD;
                }
        }
    }
    for (gi = 0; gi < o->ngroups; gi++) {
        const tl__ogroup *h = &o->groups[gi];
        for (i = h->first; i < h->first + h->n; i++) {
            tl_tensor *p = o->params[i];
            tl__pstate *s = &o->state[i];
            void *pd = TL__OPT_PTR(p), *gd = TL__OPT_PTR(p->grad), *b0 = TL__OPT_PTR(s->buf[0]);
            void *b1 = TL__OPT_PTR(s->buf[1]), *b2 = TL__OPT_PTR(s->buf[2]);
            int64_t n = tl__prod(p->ndim, p->shape);
            int f32 = p->dtype == TL_F32;
            if (!gd) continue;
            switch (o->kind) {
            case TL__OPT_SGD: {
                int first = !s->buf[0] || s->fresh; /* torch clones d_p into a new momentum_buffer */
                s->fresh = 0;
                if (f32) TL__OPT_PICK(tl__sgd_f32)((float *)pd, (const float *)gd, h->momentum != 0 ? (float *)b0 : NULL, n, h, first);
                else TL__OPT_PICK(tl__sgd_f64)((double *)pd, (const double *)gd, h->momentum != 0 ? (double *)b0 : NULL, n, h, first);
                break;
            }
            case TL__OPT_ADAM:
            case TL__OPT_ADAMW:
                s->step += 1;
                if (f32)
                    TL__OPT_PICK(tl__adam_f32)((float *)pd, (const float *)gd, (float *)b0, (float *)b1, h->amsgrad ? (float *)b2 : NULL,
                                 n, h, s->step, o->kind == TL__OPT_ADAMW);
                else
                    TL__OPT_PICK(tl__adam_f64)((double *)pd, (const double *)gd, (double *)b0, (double *)b1,
                                 h->amsgrad ? (double *)b2 : NULL, n, h, s->step, o->kind == TL__OPT_ADAMW);
                break;
            case TL__OPT_RMSPROP:
                s->step += 1;
                if (f32)
                    TL__OPT_PICK(tl__rmsprop_f32)((float *)pd, (const float *)gd, (float *)b0, h->momentum > 0 ? (float *)b1 : NULL,
                                    h->centered ? (float *)b2 : NULL, n, h);
                else
                    TL__OPT_PICK(tl__rmsprop_f64)((double *)pd, (const double *)gd, (double *)b0,
                                    h->momentum > 0 ? (double *)b1 : NULL, h->centered ? (double *)b2 : NULL, n, h);
                break;
            default:
                s->step += 1;
                if (f32) TL__OPT_PICK(tl__adagrad_f32)((float *)pd, (const float *)gd, (float *)b0, n, h, s->step);
                else TL__OPT_PICK(tl__adagrad_f64)((double *)pd, (const double *)gd, (double *)b0, n, h, s->step);
                break;
            }
            s->has = 1;
            p->storage->version++;
        }
    }
    return TL_OK;
}

TLDEF int tl_optim_num_groups(const tl_optim *o) { return o ? o->ngroups : 0; }
TLDEF double tl_optim_get_lr(const tl_optim *o, int group) {
    if (!o || group < 0 || group >= o->ngroups) {
        TL__FAIL(TL_ERR_ARG, "tl_optim_get_lr: group %d out of range (the optimizer has %d)", group, o ? o->ngroups : 0);
        return NAN;
    }
    return o->groups[group].lr;
}
TLDEF tl_status tl_optim_set_lr(tl_optim *o, int group, double lr) {
    if (!o || group < 0 || group >= o->ngroups)
        return TL__FAIL(TL_ERR_ARG, "tl_optim_set_lr: group %d out of range (the optimizer has %d)", group,
                        o ? o->ngroups : 0);
    if (!(lr >= 0)) return TL__FAIL(TL_ERR_ARG, "tl_optim_set_lr: Invalid learning rate: %g", lr);
    o->groups[group].lr = lr;
    return TL_OK;
}

/* ---- state_dict ---- */

/* A Python number as torch's defaults write it: the int 0 for a zero default, else a float. */
static tl_value *tl__opt_num(double v) { return v == 0 ? tl_value_int(0) : tl_value_float(v); }
static tl_value *tl__opt_step_tensor(double step) {
    tl_tensor *t = tl__new("tl_optim_state_dict", 0, NULL, TL_F32);
    tl_value *v;
    if (!t) return NULL;
    *(float *)TL__OPT_DATA(t) = (float)step;
    v = tl_value_tensor(t);
    tl__release(t);
    return v;
}

TLDEF tl_value *tl_optim_state_dict(tl_optim *o) {
    tl_value *root, *state, *groups;
    int gi, i, k, ok = 1;
    if (!o) {
        if (!tl__tls.status) TL__FAIL(TL_ERR_ARG, "tl_optim_state_dict: optimizer is NULL");
        return NULL;
    }
    root = tl_value_dict();
    state = tl_value_dict();
    groups = tl_value_list();
    if (!root || !state || !groups) {
        tl_value_free(root);
        tl_value_free(state);
        tl_value_free(groups);
        return NULL;
    }
    for (gi = 0; gi < o->ngroups && ok; gi++) {
        const tl__ogroup *h = &o->groups[gi];
        for (i = h->first; i < h->first + h->n && ok; i++) {
            const tl__pstate *s = &o->state[i];
            tl_value *e;
            if (!s->has) continue;
            e = tl_value_dict();
            ok = e != NULL;
            if (ok && o->kind == TL__OPT_RMSPROP) ok = tl_value_set(e, "step", tl_value_int((int64_t)s->step)) == TL_OK;
            else if (ok && o->kind != TL__OPT_SGD) ok = tl_value_set(e, "step", tl__opt_step_tensor(s->step)) == TL_OK;
            for (k = 0; k < 3 && ok; k++) {
                const char *key = tl__state_keys[o->kind][k];
                if (!key) break;
                if (o->kind == TL__OPT_SGD) /* torch writes None when momentum is 0 */
                    ok = tl_value_set(e, key, s->buf[0] ? tl_value_tensor(s->buf[0]) : tl_value_none()) == TL_OK;
                else if (s->buf[k])
                    ok = tl_value_set(e, key, tl_value_tensor(s->buf[k])) == TL_OK;
            }
            if (ok) ok = tl_value_set_int(state, i, e) == TL_OK;
            else tl_value_free(e);
        }
    }
    for (gi = 0; gi < o->ngroups && ok; gi++) {
        const tl__ogroup *h = &o->groups[gi];
        tl_value *g = tl_value_dict(), *pl = tl_value_list(), *betas = NULL;
        ok = g && pl;
#define TL__SETV(key, val) \
    if (ok) ok = tl_value_set(g, key, val) == TL_OK
        TL__SETV("lr", tl_value_float(h->lr));
        switch (o->kind) {
        case TL__OPT_SGD:
            TL__SETV("momentum", tl__opt_num(h->momentum));
            TL__SETV("dampening", tl__opt_num(h->dampening));
            TL__SETV("weight_decay", tl__opt_num(h->weight_decay));
            TL__SETV("nesterov", tl_value_bool(h->nesterov));
            TL__SETV("maximize", tl_value_bool(h->maximize));
            TL__SETV("foreach", tl_value_none());
            TL__SETV("differentiable", tl_value_bool(0));
            break;
        case TL__OPT_ADAM:
        case TL__OPT_ADAMW:
            betas = ok ? tl_value_tuple() : NULL; /* only made when TL__SETV below will take it */
            if (betas && (tl_value_append(betas, tl_value_float(h->beta1)) != TL_OK ||
                          tl_value_append(betas, tl_value_float(h->beta2)) != TL_OK)) {
                tl_value_free(betas);
                betas = NULL;
            }
            if (!betas) ok = 0;
            TL__SETV("betas", betas);
            TL__SETV("eps", tl_value_float(h->eps));
            TL__SETV("weight_decay", tl__opt_num(h->weight_decay));
            TL__SETV("amsgrad", tl_value_bool(h->amsgrad));
            if (o->kind == TL__OPT_ADAM) {
                TL__SETV("maximize", tl_value_bool(h->maximize));
                TL__SETV("foreach", tl_value_none());
                TL__SETV("capturable", tl_value_bool(0));
                TL__SETV("differentiable", tl_value_bool(0));
                TL__SETV("fused", tl_value_bool(0));
            } else {
                TL__SETV("foreach", tl_value_none());
                TL__SETV("maximize", tl_value_bool(h->maximize));
                TL__SETV("capturable", tl_value_bool(0));
            }
            break;
        case TL__OPT_RMSPROP:
            TL__SETV("momentum", tl__opt_num(h->momentum));
            TL__SETV("alpha", tl_value_float(h->alpha));
            TL__SETV("eps", tl_value_float(h->eps));
            TL__SETV("centered", tl_value_bool(h->centered));
            TL__SETV("weight_decay", tl__opt_num(h->weight_decay));
            TL__SETV("foreach", tl_value_none());
            TL__SETV("maximize", tl_value_bool(h->maximize));
            TL__SETV("differentiable", tl_value_bool(0));
            break;
        default:
            TL__SETV("lr_decay", tl__opt_num(h->lr_decay));
            TL__SETV("eps", tl_value_float(h->eps));
            TL__SETV("weight_decay", tl__opt_num(h->weight_decay));
            TL__SETV("initial_accumulator_value", tl__opt_num(h->init_acc));
            TL__SETV("foreach", tl_value_none());
            TL__SETV("maximize", tl_value_bool(h->maximize));
            break;
        }
        if (h->has_initial_lr) TL__SETV("initial_lr", tl_value_float(h->initial_lr));
        if (h->has_onecycle) {
            TL__SETV("max_lr", tl_value_float(h->max_lr));
            TL__SETV("min_lr", tl_value_float(h->min_lr));
        }
        if (h->has_momentum_range) {
            TL__SETV("max_momentum", tl_value_float(h->max_momentum));
            TL__SETV("base_momentum", tl_value_float(h->base_momentum));
        }
        for (i = h->first; i < h->first + h->n && ok; i++) ok = tl_value_append(pl, tl_value_int(i)) == TL_OK;
        if (ok) {
            ok = tl_value_set(g, "params", pl) == TL_OK;
            pl = NULL;
        }
#undef TL__SETV
        tl_value_free(pl);
        if (ok) ok = tl_value_append(groups, g) == TL_OK;
        else tl_value_free(g);
    }
    if (ok) ok = tl_value_set(root, "state", state) == TL_OK;
    else tl_value_free(state);
    if (ok) ok = tl_value_set(root, "param_groups", groups) == TL_OK;
    else tl_value_free(groups);
    if (!ok) {
        tl_value_free(root);
        if (!tl__tls.status) TL__FAIL(TL_ERR_OOM, "tl_optim_state_dict: out of memory");
        return NULL;
    }
    return root;
}

/* A number from a group dict (int, float or bool); 0 and no error when missing. */
static int tl__opt_getnum(const tl_value *d, const char *key, double *out) {
    const tl_value *v = tl_value_get(d, key);
    tl_value_kind k = tl_value_kind_of(v);
    if (!v || (k != TL_VALUE_INT && k != TL_VALUE_FLOAT && k != TL_VALUE_BOOL)) return 0;
    *out = tl_value_as_float(v);
    return 1;
}

TLDEF tl_status tl_optim_load_state_dict(tl_optim *o, const tl_value *sd) {
    const char *op = "tl_optim_load_state_dict";
    const tl_value *state, *groups;
    tl__ogroup *ng = NULL;
    tl__pstate *ns = NULL;
    int gi, i, k;
    tl_status st = TL_OK;
    if (!o || !sd) return tl__tls.status ? tl__tls.status : TL__FAIL(TL_ERR_ARG, "%s: NULL argument", op);
    state = tl_value_kind_of(sd) == TL_VALUE_DICT ? tl_value_get(sd, "state") : NULL;
    groups = tl_value_kind_of(sd) == TL_VALUE_DICT ? tl_value_get(sd, "param_groups") : NULL;
    if (tl_value_kind_of(sd) != TL_VALUE_DICT || tl_value_kind_of(state) != TL_VALUE_DICT ||
        tl_value_kind_of(groups) != TL_VALUE_LIST)
        return TL__FAIL(TL_ERR_ARG, "%s: expected {'state': dict, 'param_groups': list}, got a %s%s", op,
                        tl_value_kind_name(tl_value_kind_of(sd)),
                        tl_value_kind_of(sd) == TL_VALUE_DICT ? " without them" : "");
    if ((int)tl_value_len(groups) != o->ngroups)
        return TL__FAIL(TL_ERR_ARG, "%s: loaded state dict has a different number of parameter groups (%d, the "
                        "optimizer has %d)", op, (int)tl_value_len(groups), o->ngroups);
    ng = (tl__ogroup *)tl__malloc(tl__szn(o->ngroups, sizeof *ng));
    ns = (tl__pstate *)tl__malloc(tl__szn(o->nparams, sizeof *ns));
    if (!ng || !ns) {
        tl__free(ng);
        tl__free(ns);
        return TL__FAIL(TL_ERR_OOM, "%s: out of memory", op);
    }
    memcpy(ng, o->groups, (size_t)o->ngroups * sizeof *ng);
    memset(ns, 0, (size_t)o->nparams * sizeof *ns);
    /* 1. groups: sizes and hyperparameters (into copies) */
    for (gi = 0; gi < o->ngroups && st == TL_OK; gi++) {
        const tl_value *g = tl_value_item(groups, (size_t)gi), *betas;
        const tl_value *pl = tl_value_kind_of(g) == TL_VALUE_DICT ? tl_value_get(g, "params") : NULL;
        tl__ogroup *h = &ng[gi];
        double x;
        if (tl_value_kind_of(g) != TL_VALUE_DICT || tl_value_kind_of(pl) != TL_VALUE_LIST) {
            st = TL__FAIL(TL_ERR_ARG, "%s: param_groups[%d] is not a dict with a 'params' list", op, gi);
            break;
        }
        if ((int)tl_value_len(pl) != h->n) {
            st = TL__FAIL(TL_ERR_ARG, "%s: loaded state dict contains a parameter group that doesn't match the size "
                          "of optimizer's group (param_groups[%d] has %d parameters, the optimizer's %d)", op, gi,
                          (int)tl_value_len(pl), h->n);
            break;
        }
        if (tl__opt_getnum(g, "lr", &x)) h->lr = x;
        if (tl__opt_getnum(g, "momentum", &x)) h->momentum = x;
        if (tl__opt_getnum(g, "dampening", &x)) h->dampening = x;
        if (tl__opt_getnum(g, "weight_decay", &x)) h->weight_decay = x;
        if (tl__opt_getnum(g, "eps", &x)) h->eps = x;
        if (tl__opt_getnum(g, "alpha", &x)) h->alpha = x;
        if (tl__opt_getnum(g, "lr_decay", &x)) h->lr_decay = x;
        if (tl__opt_getnum(g, "initial_accumulator_value", &x)) h->init_acc = x;
        if (tl__opt_getnum(g, "nesterov", &x)) h->nesterov = x != 0;
        if (tl__opt_getnum(g, "maximize", &x)) h->maximize = x != 0;
        if (tl__opt_getnum(g, "amsgrad", &x)) h->amsgrad = x != 0;
        if (tl__opt_getnum(g, "centered", &x)) h->centered = x != 0;
        if ((h->has_initial_lr = tl__opt_getnum(g, "initial_lr", &x)) != 0) h->initial_lr = x;
        h->has_onecycle = tl__opt_getnum(g, "max_lr", &h->max_lr) && tl__opt_getnum(g, "min_lr", &h->min_lr);
        h->has_momentum_range = tl__opt_getnum(g, "max_momentum", &h->max_momentum) &&
                                tl__opt_getnum(g, "base_momentum", &h->base_momentum);
        betas = tl_value_get(g, "betas");
        if (betas && (tl_value_kind_of(betas) == TL_VALUE_TUPLE || tl_value_kind_of(betas) == TL_VALUE_LIST) &&
            tl_value_len(betas) == 2) {
            h->beta1 = tl_value_as_float(tl_value_item(betas, 0));
            h->beta2 = tl_value_as_float(tl_value_item(betas, 1));
        }
        st = tl__opt_check_group(op, o->kind, h);
    }
    /* 2. state: torch keys it by the saved 'params' ids; map them to our indices */
    for (gi = 0; gi < o->ngroups && st == TL_OK; gi++) {
        const tl_value *pl = tl_value_get(tl_value_item(groups, (size_t)gi), "params");
        const tl__ogroup *h = &ng[gi];
        for (i = 0; i < h->n && st == TL_OK; i++) {
            const tl_value *idv = tl_value_item(pl, (size_t)i), *e;
            tl_tensor *p = o->params[h->first + i];
            tl__pstate *s = &ns[h->first + i];
            if (tl_value_kind_of(idv) != TL_VALUE_INT) {
                st = TL__FAIL(TL_ERR_ARG, "%s: param_groups[%d]['params'][%d] is a %s, not an int", op, gi, i,
                              tl_value_kind_name(tl_value_kind_of(idv)));
                break;
            }
            e = tl_value_get_int(state, tl_value_as_int(idv));
            if (!e) continue;
            if (tl_value_kind_of(e) != TL_VALUE_DICT) {
                st = TL__FAIL(TL_ERR_ARG, "%s: state[%lld] is a %s, not a dict", op, (long long)tl_value_as_int(idv),
                              tl_value_kind_name(tl_value_kind_of(e)));
                break;
            }
            s->has = 1;
            if (o->kind != TL__OPT_SGD) {
                const tl_value *sv = tl_value_get(e, "step");
                tl_value_kind sk = tl_value_kind_of(sv);
                if (sk == TL_VALUE_TENSOR) {
                    tl_tensor *t = tl_value_tensor_of(sv);
                    s->step = t && tl__prod(t->ndim, t->shape) == 1 ? tl_item(t) : NAN;
                    if (t && !tl__tls.scope_depth) tl_release(t);
                } else if (sk == TL_VALUE_INT || sk == TL_VALUE_FLOAT)
                    s->step = tl_value_as_float(sv);
                else
                    s->step = NAN;
                if (!(s->step >= 0)) {
                    st = TL__FAIL(TL_ERR_ARG, "%s: state[%lld]['step'] is missing or not a number", op,
                                  (long long)tl_value_as_int(idv));
                    break;
                }
            }
            for (k = 0; k < 3 && st == TL_OK; k++) {
                const char *key = tl__state_keys[o->kind][k];
                const tl_value *bv;
                tl_tensor *src, *c;
                int d, same;
                if (!key) break;
                bv = tl_value_get(e, key);
                if (!bv || tl_value_kind_of(bv) == TL_VALUE_NONE) {
                    if (tl__opt_uses_buf(o, h, k) && o->kind != TL__OPT_SGD) {
                        st = TL__FAIL(TL_ERR_ARG, "%s: state[%lld] has no '%s'", op, (long long)tl_value_as_int(idv), key);
                        break;
                    }
                    continue;
                }
                if (tl_value_kind_of(bv) != TL_VALUE_TENSOR) {
                    st = TL__FAIL(TL_ERR_ARG, "%s: state[%lld]['%s'] is a %s, not a tensor", op,
                                  (long long)tl_value_as_int(idv), key, tl_value_kind_name(tl_value_kind_of(bv)));
                    break;
                }
                src = tl_value_tensor_of(bv);
                if (!src) {
                    st = tl__tls.status;
                    break;
                }
                same = src->ndim == p->ndim;
                for (d = 0; same && d < p->ndim; d++) same = src->shape[d] == p->shape[d];
                if (!same || !TL__IS_FLOAT(src->dtype)) {
                    st = TL__FAIL(TL_ERR_SHAPE, "%s: state[%lld]['%s'] is %s %s but parameter %d is %s %s", op,
                                  (long long)tl_value_as_int(idv), key, TL__DT(src), TL__SH(src), h->first + i,
                                  TL__DT(p), TL__SH(p));
                } else {
                    tl_scope sc = tl_scope_begin();
                    tl_tensor *cv = tl_to_dtype(tl_contiguous(src), p->dtype);
                    c = cv ? tl__new(op, p->ndim, p->shape, p->dtype) : NULL;
                    if (c) memcpy(TL__OPT_DATA(c), TL__OPT_DATA(cv), (size_t)tl__prod(p->ndim, p->shape) * tl__dtype_sizes[p->dtype]);
                    tl_scope_end(sc);
                    if (!c) st = tl__tls.status ? tl__tls.status : TL_ERR_OOM;
                    else s->buf[k] = c;
                }
                if (!tl__tls.scope_depth) tl_release(src);
            }
        }
    }
    if (st != TL_OK) {
        for (i = 0; i < o->nparams; i++)
            for (k = 0; k < 3; k++) tl__release(ns[i].buf[k]);
        tl__free(ns);
        tl__free(ng);
        return st;
    }
    for (i = 0; i < o->nparams; i++) {
        for (k = 0; k < 3; k++) tl__release(o->state[i].buf[k]);
        o->state[i] = ns[i];
    }
    for (gi = 0; gi < o->ngroups; gi++) {
        ng[gi].first = o->groups[gi].first;
        ng[gi].n = o->groups[gi].n;
    }
    memcpy(o->groups, ng, (size_t)o->ngroups * sizeof *ng);
    tl__free(ns);
    tl__free(ng);
    return TL_OK;
}

TLDEF int tl_optim_to_string(tl_optim *o, char *buf, size_t cap) {
    tl_value *v = tl_optim_state_dict(o);
    int n;
    if (!v) return tl__tls.status ? (int)tl__tls.status : (int)TL_ERR_ARG;
    n = tl_value_to_string(v, buf, cap);
    tl_value_free(v);
    return n;
}
#ifndef TL_NO_STDIO
TLDEF tl_status tl_optim_print(tl_optim *o) {
    tl_value *v = tl_optim_state_dict(o);
    tl_status st;
    if (!v) return tl__tls.status ? tl__tls.status : TL_ERR_ARG;
    st = tl_value_print(v);
    tl_value_free(v);
    return st;
}
#endif

/* ---- LR schedulers ---- */

typedef enum {
    TL__SCH_STEP = 0, TL__SCH_MULTISTEP, TL__SCH_EXP, TL__SCH_COSINE, TL__SCH_LINEAR, TL__SCH_LAMBDA,
    TL__SCH_ONECYCLE, TL__SCH_PLATEAU
} tl__schkind;

struct tl_scheduler {
    tl__schkind kind;
    tl_optim *opt; /* borrowed */
    int ngroups;
    double *base_lrs, *last_lr; /* per group */
    int64_t last_epoch, step_count;
    int has_last_lr;
    /* the schedulers' own fields */
    int64_t step_size, T_max, total_iters, total_steps;
    double gamma, eta_min, start_factor, end_factor;
    int64_t *milestones;
    int nmilestones;
    double (*fn)(int64_t epoch, void *user);
    void *user;
    tl_onecycle_desc oc;
    double phase_end[3];
    int nphases, use_beta1;
    tl_plateau_desc pl;
    double *min_lrs, best, mode_worse;
    int64_t cooldown_counter, num_bad_epochs;
};

TLDEF tl_onecycle_desc tl_onecycle_desc_default(void) {
    tl_onecycle_desc d;
    memset(&d, 0, sizeof d);
    d.pct_start = 0.3;
    d.cycle_momentum = 1;
    d.base_momentum = 0.85;
    d.max_momentum = 0.95;
    d.div_factor = 25;
    d.final_div_factor = 1e4;
    return d;
}
TLDEF tl_plateau_desc tl_plateau_desc_default(void) {
    tl_plateau_desc d;
    memset(&d, 0, sizeof d);
    d.factor = 0.1;
    d.patience = 10;
    d.threshold = 1e-4;
    d.eps = 1e-8;
    return d;
}

TLDEF void tl_scheduler_free(tl_scheduler *s) {
    if (!s) return;
    tl__free(s->base_lrs);
    tl__free(s->last_lr);
    tl__free(s->milestones);
    tl__free(s->min_lrs);
    tl__free(s);
}

static tl_scheduler *tl__sch_alloc(const char *op, tl_optim *o, tl__schkind kind) {
    tl_scheduler *s;
    if (!o) {
        if (!tl__tls.status) TL__FAIL(TL_ERR_ARG, "%s: optimizer is NULL", op);
        return NULL;
    }
    s = (tl_scheduler *)tl__malloc(sizeof *s);
    if (!s) {
        TL__FAIL(TL_ERR_OOM, "%s: out of memory", op);
        return NULL;
    }
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->opt = o;
    s->ngroups = o->ngroups;
    s->base_lrs = (double *)tl__malloc(tl__szn(o->ngroups, sizeof(double)));
    s->last_lr = (double *)tl__malloc(tl__szn(o->ngroups, sizeof(double)));
    s->min_lrs = (double *)tl__malloc(tl__szn(o->ngroups, sizeof(double)));
    if (!s->base_lrs || !s->last_lr || !s->min_lrs) {
        tl_scheduler_free(s);
        TL__FAIL(TL_ERR_OOM, "%s: out of memory", op);
        return NULL;
    }
    return s;
}

/* The lr of group g from the chainable get_lr of torch 1.13 (last_epoch already advanced). */
static double tl__sch_get_lr(tl_scheduler *s, int gi) {
    tl__ogroup *h = &s->opt->groups[gi];
    double lr = h->lr, base = s->base_lrs[gi];
    int64_t e = s->last_epoch;
    int i;
    switch (s->kind) {
    case TL__SCH_STEP: return (e == 0 || e % s->step_size != 0) ? lr : lr * s->gamma;
    case TL__SCH_MULTISTEP: {
        int cnt = 0;
        for (i = 0; i < s->nmilestones; i++) cnt += s->milestones[i] == e;
        return cnt ? lr * pow(s->gamma, cnt) : lr;
    }
    case TL__SCH_EXP: return e == 0 ? lr : lr * s->gamma;
    case TL__SCH_COSINE: {
        const double PI = 3.141592653589793, T = (double)s->T_max;
        if (e == 0) return lr;
        if (s->step_count == 1 && e > 0) return s->eta_min + (base - s->eta_min) * (1 + cos((double)e * PI / T)) / 2;
        if ((((e - 1 - s->T_max) % (2 * s->T_max)) + 2 * s->T_max) % (2 * s->T_max) == 0)
            return lr + (base - s->eta_min) * (1 - cos(PI / T)) / 2;
        return (1 + cos(PI * (double)e / T)) / (1 + cos(PI * (double)(e - 1) / T)) * (lr - s->eta_min) + s->eta_min;
    }
    case TL__SCH_LINEAR:
        if (e == 0) return lr * s->start_factor;
        if (e > s->total_iters) return lr;
        return lr * (1. + (s->end_factor - s->start_factor) /
                              ((double)s->total_iters * s->start_factor +
                               (double)(e - 1) * (s->end_factor - s->start_factor)));
    case TL__SCH_LAMBDA: return base * s->fn(e, s->user);
    case TL__SCH_ONECYCLE: {
        double start_step = 0, out = lr, mom = 0;
        const double PI = 3.141592653589793;
        for (i = 0; i < s->nphases; i++) {
            double end_step = s->phase_end[i];
            if ((double)e <= end_step || i == s->nphases - 1) {
                double pct = ((double)e - start_step) / (end_step - start_step), a0, a1, m0, m1;
                /* phases: initial->max (max_m->base_m), max->min or max->initial, [initial->min] */
                static const int lr_from[2][3] = {{0, 1, 0}, {0, 1, 0}}, lr_to2[3] = {1, 2, 0}, lr_to3[3] = {1, 0, 2};
                static const int m_from2[2] = {0, 1}, m_from3[3] = {0, 1, 0}, m_to3[3] = {1, 0, 0};
                double lrv[3], mv[2];
                lrv[0] = h->initial_lr, lrv[1] = h->max_lr, lrv[2] = h->min_lr;
                mv[0] = h->max_momentum, mv[1] = h->base_momentum;
                a0 = lrv[lr_from[s->nphases == 3][i]];
                a1 = lrv[s->nphases == 3 ? lr_to3[i] : lr_to2[i]];
                m0 = mv[s->nphases == 3 ? m_from3[i] : m_from2[i]];
                m1 = mv[s->nphases == 3 ? m_to3[i] : 1 - m_from2[i]];
                if (s->oc.anneal_linear) {
                    out = (a1 - a0) * pct + a0;
                    mom = (m1 - m0) * pct + m0;
                } else {
                    out = a1 + (a0 - a1) / 2.0 * (cos(PI * pct) + 1);
                    mom = m1 + (m0 - m1) / 2.0 * (cos(PI * pct) + 1);
                }
                break;
            }
            start_step = s->phase_end[i];
        }
        if (s->oc.cycle_momentum) {
            if (s->use_beta1) h->beta1 = mom;
            else h->momentum = mom;
        }
        return out;
    }
    default: return lr;
    }
}

TLDEF tl_status tl_scheduler_step(tl_scheduler *s) {
    int gi;
    double lrs[64], *lr = lrs;
    if (!s) return tl__tls.status ? tl__tls.status : TL__FAIL(TL_ERR_ARG, "tl_scheduler_step: scheduler is NULL");
    if (s->kind == TL__SCH_PLATEAU)
        return TL__FAIL(TL_ERR_ARG, "tl_scheduler_step: ReduceLROnPlateau steps on a metric: use tl_scheduler_step_metric");
    if (s->opt->ngroups != s->ngroups)
        return TL__FAIL(TL_ERR_STATE, "tl_scheduler_step: the optimizer has %d param groups, the scheduler was made "
                        "for %d", s->opt->ngroups, s->ngroups);
    if (s->kind == TL__SCH_ONECYCLE && s->last_epoch + 1 > s->total_steps)
        return TL__FAIL(TL_ERR_ARG, "tl_scheduler_step: Tried to step %lld times. The specified number of total "
                        "steps is %lld", (long long)(s->last_epoch + 2), (long long)s->total_steps);
    if (s->ngroups > 64) {
        lr = (double *)tl__malloc(tl__szn(s->ngroups, sizeof(double)));
        if (!lr) return TL__FAIL(TL_ERR_OOM, "tl_scheduler_step: out of memory");
    }
    s->step_count++;
    s->last_epoch++;
    for (gi = 0; gi < s->ngroups; gi++) lr[gi] = tl__sch_get_lr(s, gi); /* all from the old lrs */
    for (gi = 0; gi < s->ngroups; gi++) s->opt->groups[gi].lr = s->last_lr[gi] = lr[gi];
    s->has_last_lr = 1;
    if (lr != lrs) tl__free(lr);
    return TL_OK;
}

static tl_scheduler *tl__sch_finish(tl_scheduler *s) {
    int gi;
    for (gi = 0; gi < s->ngroups; gi++) {
        tl__ogroup *h = &s->opt->groups[gi];
        if (!h->has_initial_lr) {
            h->has_initial_lr = 1;
            h->initial_lr = h->lr;
        }
        s->base_lrs[gi] = h->initial_lr;
    }
    s->last_epoch = -1;
    s->step_count = 0;
    if (tl_scheduler_step(s) != TL_OK) {
        tl_scheduler_free(s);
        return NULL;
    }
    return s;
}

TLDEF tl_scheduler *tl_step_lr(tl_optim *o, int64_t step_size, double gamma) {
    tl_scheduler *s;
    if (o && step_size <= 0) {
        TL__FAIL(TL_ERR_ARG, "tl_step_lr: step_size must be positive, got %lld", (long long)step_size);
        return NULL;
    }
    s = tl__sch_alloc("tl_step_lr", o, TL__SCH_STEP);
    if (!s) return NULL;
    s->step_size = step_size;
    s->gamma = gamma;
    return tl__sch_finish(s);
}
TLDEF tl_scheduler *tl_multistep_lr(tl_optim *o, const int64_t *milestones, int n, double gamma) {
    tl_scheduler *s;
    int i;
    if (o && (n < 0 || (n > 0 && !milestones))) {
        TL__FAIL(TL_ERR_ARG, "tl_multistep_lr: %d milestones at %p", n, (const void *)milestones);
        return NULL;
    }
    s = tl__sch_alloc("tl_multistep_lr", o, TL__SCH_MULTISTEP);
    if (!s) return NULL;
    s->milestones = (int64_t *)tl__malloc(tl__szn(n, sizeof(int64_t)));
    if (!s->milestones) {
        tl_scheduler_free(s);
        TL__FAIL(TL_ERR_OOM, "tl_multistep_lr: out of memory");
        return NULL;
    }
    for (i = 0; i < n; i++) s->milestones[i] = milestones[i];
    s->nmilestones = n;
    s->gamma = gamma;
    return tl__sch_finish(s);
}
TLDEF tl_scheduler *tl_exponential_lr(tl_optim *o, double gamma) {
    tl_scheduler *s = tl__sch_alloc("tl_exponential_lr", o, TL__SCH_EXP);
    if (!s) return NULL;
    s->gamma = gamma;
    return tl__sch_finish(s);
}
TLDEF tl_scheduler *tl_cosine_annealing_lr(tl_optim *o, int64_t T_max, double eta_min) {
    tl_scheduler *s;
    if (o && T_max <= 0) {
        TL__FAIL(TL_ERR_ARG, "tl_cosine_annealing_lr: T_max must be positive, got %lld", (long long)T_max);
        return NULL;
    }
    s = tl__sch_alloc("tl_cosine_annealing_lr", o, TL__SCH_COSINE);
    if (!s) return NULL;
    s->T_max = T_max;
    s->eta_min = eta_min;
    return tl__sch_finish(s);
}
TLDEF tl_scheduler *tl_linear_lr(tl_optim *o, double start_factor, double end_factor, int64_t total_iters) {
    tl_scheduler *s;
    if (o && (!(start_factor > 0 && start_factor <= 1) || !(end_factor >= 0 && end_factor <= 1))) {
        TL__FAIL(TL_ERR_ARG, "tl_linear_lr: Starting multiplicative factor expected to be greater than 0 and less or "
                 "equal to 1, ending factor between 0 and 1 (got %g, %g)", start_factor, end_factor);
        return NULL;
    }
    s = tl__sch_alloc("tl_linear_lr", o, TL__SCH_LINEAR);
    if (!s) return NULL;
    s->start_factor = start_factor;
    s->end_factor = end_factor;
    s->total_iters = total_iters;
    return tl__sch_finish(s);
}
TLDEF tl_scheduler *tl_lambda_lr(tl_optim *o, double (*fn)(int64_t epoch, void *user), void *user) {
    tl_scheduler *s;
    if (o && !fn) {
        TL__FAIL(TL_ERR_ARG, "tl_lambda_lr: fn is NULL");
        return NULL;
    }
    s = tl__sch_alloc("tl_lambda_lr", o, TL__SCH_LAMBDA);
    if (!s) return NULL;
    s->fn = fn;
    s->user = user;
    return tl__sch_finish(s);
}
TLDEF tl_scheduler *tl_onecycle_lr(tl_optim *o, double max_lr, int64_t total_steps, const tl_onecycle_desc *d) {
    tl_scheduler *s;
    tl_onecycle_desc dd = d ? *d : tl_onecycle_desc_default();
    int gi;
    if (o && total_steps <= 0) {
        TL__FAIL(TL_ERR_ARG, "tl_onecycle_lr: Expected positive integer total_steps, but got %lld", (long long)total_steps);
        return NULL;
    }
    if (o && !(dd.pct_start >= 0 && dd.pct_start <= 1)) {
        TL__FAIL(TL_ERR_ARG, "tl_onecycle_lr: Expected float between 0 and 1 pct_start, but got %g", dd.pct_start);
        return NULL;
    }
    s = tl__sch_alloc("tl_onecycle_lr", o, TL__SCH_ONECYCLE);
    if (!s) return NULL;
    s->oc = dd;
    s->total_steps = total_steps;
    if (dd.three_phase) {
        s->nphases = 3;
        s->phase_end[0] = dd.pct_start * (double)total_steps - 1;
        s->phase_end[1] = 2 * dd.pct_start * (double)total_steps - 2;
        s->phase_end[2] = (double)(total_steps - 1);
    } else {
        s->nphases = 2;
        s->phase_end[0] = dd.pct_start * (double)total_steps - 1;
        s->phase_end[1] = (double)(total_steps - 1);
    }
    s->use_beta1 = o->kind == TL__OPT_ADAM || o->kind == TL__OPT_ADAMW;
    if (dd.cycle_momentum && o->kind == TL__OPT_ADAGRAD) {
        tl_scheduler_free(s);
        TL__FAIL(TL_ERR_ARG, "tl_onecycle_lr: optimizer must support momentum with `cycle_momentum` option enabled");
        return NULL;
    }
    for (gi = 0; gi < o->ngroups; gi++) {
        tl__ogroup *h = &o->groups[gi];
        h->has_initial_lr = 1;
        h->initial_lr = max_lr / dd.div_factor;
        h->has_onecycle = 1;
        h->max_lr = max_lr;
        h->min_lr = h->initial_lr / dd.final_div_factor;
        if (dd.cycle_momentum) {
            if (s->use_beta1) h->beta1 = dd.max_momentum;
            else h->momentum = dd.max_momentum;
            h->has_momentum_range = 1;
            h->max_momentum = dd.max_momentum;
            h->base_momentum = dd.base_momentum;
        }
    }
    return tl__sch_finish(s);
}
TLDEF tl_scheduler *tl_reduce_lr_on_plateau(tl_optim *o, const tl_plateau_desc *d) {
    tl_scheduler *s;
    tl_plateau_desc dd = d ? *d : tl_plateau_desc_default();
    int gi;
    if (o && !(dd.factor < 1.0)) {
        TL__FAIL(TL_ERR_ARG, "tl_reduce_lr_on_plateau: Factor should be < 1.0.");
        return NULL;
    }
    s = tl__sch_alloc("tl_reduce_lr_on_plateau", o, TL__SCH_PLATEAU);
    if (!s) return NULL;
    s->pl = dd;
    for (gi = 0; gi < s->ngroups; gi++) s->min_lrs[gi] = dd.min_lr;
    s->mode_worse = dd.mode_max ? -INFINITY : INFINITY;
    s->best = s->mode_worse;
    s->last_epoch = 0;
    return s;
}

TLDEF tl_status tl_scheduler_step_metric(tl_scheduler *s, double current) {
    int better, gi;
    if (!s) return tl__tls.status ? tl__tls.status : TL__FAIL(TL_ERR_ARG, "tl_scheduler_step_metric: scheduler is NULL");
    if (s->kind != TL__SCH_PLATEAU) return tl_scheduler_step(s);
    if (s->opt->ngroups != s->ngroups)
        return TL__FAIL(TL_ERR_STATE, "tl_scheduler_step_metric: the optimizer has %d param groups, the scheduler was "
                        "made for %d", s->opt->ngroups, s->ngroups);
    s->last_epoch++;
    if (!s->pl.mode_max)
        better = s->pl.threshold_abs ? current < s->best - s->pl.threshold : current < s->best * (1. - s->pl.threshold);
    else
        better = s->pl.threshold_abs ? current > s->best + s->pl.threshold : current > s->best * (s->pl.threshold + 1.);
    if (better) {
        s->best = current;
        s->num_bad_epochs = 0;
    } else
        s->num_bad_epochs++;
    if (s->cooldown_counter > 0) {
        s->cooldown_counter--;
        s->num_bad_epochs = 0;
    }
    if (s->num_bad_epochs > s->pl.patience) {
        for (gi = 0; gi < s->ngroups; gi++) {
            double old_lr = s->opt->groups[gi].lr, new_lr = old_lr * s->pl.factor;
            if (new_lr < s->min_lrs[gi]) new_lr = s->min_lrs[gi];
            if (old_lr - new_lr > s->pl.eps) s->opt->groups[gi].lr = new_lr;
        }
        s->cooldown_counter = s->pl.cooldown;
        s->num_bad_epochs = 0;
    }
    for (gi = 0; gi < s->ngroups; gi++) s->last_lr[gi] = s->opt->groups[gi].lr;
    s->has_last_lr = 1;
    return TL_OK;
}

TLDEF double tl_scheduler_get_last_lr(const tl_scheduler *s, int group) {
    if (!s || group < 0 || group >= s->ngroups || !s->has_last_lr) {
        TL__FAIL(TL_ERR_ARG, "tl_scheduler_get_last_lr: group %d out of range (the scheduler has %d%s)", group,
                 s ? s->ngroups : 0, s && !s->has_last_lr ? " and has not stepped" : "");
        return NAN;
    }
    return s->last_lr[group];
}

static tl_value *tl__sch_list(const double *x, int n) {
    tl_value *l = tl_value_list();
    int i;
    for (i = 0; l && i < n; i++)
        if (tl_value_append(l, tl_value_float(x[i])) != TL_OK) {
            tl_value_free(l);
            return NULL;
        }
    return l;
}

TLDEF tl_value *tl_scheduler_state_dict(const tl_scheduler *s) {
    tl_value *d;
    int ok, i;
    if (!s) {
        if (!tl__tls.status) TL__FAIL(TL_ERR_ARG, "tl_scheduler_state_dict: scheduler is NULL");
        return NULL;
    }
    d = tl_value_dict();
    ok = d != NULL;
#define TL__SETV(key, val) \
    if (ok) ok = tl_value_set(d, key, val) == TL_OK
    if (s->kind == TL__SCH_PLATEAU) {
        TL__SETV("factor", tl_value_float(s->pl.factor));
        TL__SETV("min_lrs", tl__sch_list(s->min_lrs, s->ngroups));
        TL__SETV("patience", tl_value_int(s->pl.patience));
        TL__SETV("verbose", tl_value_bool(0));
        TL__SETV("cooldown", tl_value_int(s->pl.cooldown));
        TL__SETV("cooldown_counter", tl_value_int(s->cooldown_counter));
        TL__SETV("mode", tl_value_string(s->pl.mode_max ? "max" : "min"));
        TL__SETV("threshold", tl_value_float(s->pl.threshold));
        TL__SETV("threshold_mode", tl_value_string(s->pl.threshold_abs ? "abs" : "rel"));
        TL__SETV("best", tl_value_float(s->best));
        TL__SETV("num_bad_epochs", tl_value_int(s->num_bad_epochs));
        TL__SETV("mode_worse", tl_value_float(s->mode_worse));
        TL__SETV("eps", tl_value_float(s->pl.eps));
        TL__SETV("last_epoch", tl_value_int(s->last_epoch));
        if (s->has_last_lr) TL__SETV("_last_lr", tl__sch_list(s->last_lr, s->ngroups));
    } else {
        switch (s->kind) {
        case TL__SCH_STEP:
            TL__SETV("step_size", tl_value_int(s->step_size));
            TL__SETV("gamma", tl_value_float(s->gamma));
            break;
        case TL__SCH_MULTISTEP: {
            tl_value *m = tl_value_dict();
            for (i = 0; m && i < s->nmilestones; i++) {
                const tl_value *c = tl_value_get_int(m, s->milestones[i]);
                int64_t cnt = c ? tl_value_as_int(c) + 1 : 1;
                if (tl_value_set_int(m, s->milestones[i], tl_value_int(cnt)) != TL_OK) {
                    tl_value_free(m);
                    m = NULL;
                }
            }
            if (!m) ok = 0;
            TL__SETV("milestones", m);
            TL__SETV("gamma", tl_value_float(s->gamma));
            break;
        }
        case TL__SCH_EXP: TL__SETV("gamma", tl_value_float(s->gamma)); break;
        case TL__SCH_COSINE:
            TL__SETV("T_max", tl_value_int(s->T_max));
            TL__SETV("eta_min", tl__opt_num(s->eta_min));
            break;
        case TL__SCH_LINEAR:
            TL__SETV("start_factor", tl_value_float(s->start_factor));
            TL__SETV("end_factor", tl_value_float(s->end_factor));
            TL__SETV("total_iters", tl_value_int(s->total_iters));
            break;
        case TL__SCH_ONECYCLE: {
            static const char *const names3[3][4] = {{"initial_lr", "max_lr", "max_momentum", "base_momentum"},
                                                     {"max_lr", "initial_lr", "base_momentum", "max_momentum"},
                                                     {"initial_lr", "min_lr", "max_momentum", "max_momentum"}};
            static const char *const names2[2][4] = {{"initial_lr", "max_lr", "max_momentum", "base_momentum"},
                                                     {"max_lr", "min_lr", "base_momentum", "max_momentum"}};
            tl_value *ph = tl_value_list();
            TL__SETV("total_steps", tl_value_int(s->total_steps));
            for (i = 0; ph && i < s->nphases; i++) {
                const char *const *nm = s->nphases == 3 ? names3[i] : names2[i];
                tl_value *p = tl_value_dict();
                int pok = p != NULL;
                if (pok)
                    pok = tl_value_set(p, "end_step", i == s->nphases - 1 ? tl_value_int(s->total_steps - 1)
                                                                           : tl_value_float(s->phase_end[i])) == TL_OK;
                if (pok) pok = tl_value_set(p, "start_lr", tl_value_string(nm[0])) == TL_OK;
                if (pok) pok = tl_value_set(p, "end_lr", tl_value_string(nm[1])) == TL_OK;
                if (pok) pok = tl_value_set(p, "start_momentum", tl_value_string(nm[2])) == TL_OK;
                if (pok) pok = tl_value_set(p, "end_momentum", tl_value_string(nm[3])) == TL_OK;
                if (!pok || tl_value_append(ph, p) != TL_OK) {
                    if (!pok) tl_value_free(p);
                    tl_value_free(ph);
                    ph = NULL;
                }
            }
            if (!ph) ok = 0;
            TL__SETV("_schedule_phases", ph);
            TL__SETV("cycle_momentum", tl_value_bool(s->oc.cycle_momentum));
            if (s->oc.cycle_momentum) TL__SETV("use_beta1", tl_value_bool(s->use_beta1));
            break;
        }
        default: break;
        }
        TL__SETV("base_lrs", tl__sch_list(s->base_lrs, s->ngroups));
        TL__SETV("last_epoch", tl_value_int(s->last_epoch));
        TL__SETV("verbose", tl_value_bool(0));
        TL__SETV("_step_count", tl_value_int(s->step_count));
        TL__SETV("_get_lr_called_within_step", tl_value_bool(0));
        TL__SETV("_last_lr", tl__sch_list(s->last_lr, s->ngroups));
        if (s->kind == TL__SCH_LAMBDA) {
            tl_value *l = tl_value_list();
            for (i = 0; l && i < s->ngroups; i++)
                if (tl_value_append(l, tl_value_none()) != TL_OK) {
                    tl_value_free(l);
                    l = NULL;
                }
            if (!l) ok = 0;
            TL__SETV("lr_lambdas", l);
        }
    }
#undef TL__SETV
    if (!ok) {
        tl_value_free(d);
        if (!tl__tls.status) TL__FAIL(TL_ERR_OOM, "tl_scheduler_state_dict: out of memory");
        return NULL;
    }
    return d;
}

/* A list of ngroups numbers from d[key] into out; 0 (no error) when missing or malformed. */
static int tl__sch_getlist(const tl_value *d, const char *key, double *out, int n) {
    const tl_value *l = tl_value_get(d, key);
    int i;
    if (!l || tl_value_kind_of(l) != TL_VALUE_LIST || (int)tl_value_len(l) != n) return 0;
    for (i = 0; i < n; i++) {
        tl_value_kind k = tl_value_kind_of(tl_value_item(l, (size_t)i));
        if (k != TL_VALUE_INT && k != TL_VALUE_FLOAT) return 0;
    }
    for (i = 0; i < n; i++) out[i] = tl_value_as_float(tl_value_item(l, (size_t)i));
    return 1;
}

TLDEF tl_status tl_scheduler_load_state_dict(tl_scheduler *s, const tl_value *d) {
    const char *op = "tl_scheduler_load_state_dict";
    const tl_value *le, *lst;
    double x;
    if (!s || !d) return tl__tls.status ? tl__tls.status : TL__FAIL(TL_ERR_ARG, "%s: NULL argument", op);
    le = tl_value_kind_of(d) == TL_VALUE_DICT ? tl_value_get(d, "last_epoch") : NULL;
    if (tl_value_kind_of(d) != TL_VALUE_DICT || tl_value_kind_of(le) != TL_VALUE_INT)
        return TL__FAIL(TL_ERR_ARG, "%s: expected a scheduler state dict with an int 'last_epoch'", op);
    lst = tl_value_get(d, "_last_lr");
    if ((tl_value_get(d, "base_lrs") && tl_value_len(tl_value_get(d, "base_lrs")) != (size_t)s->ngroups) ||
        (lst && tl_value_len(lst) != (size_t)s->ngroups))
        return TL__FAIL(TL_ERR_ARG, "%s: the state dict is for %d param groups, the scheduler has %d", op,
                        (int)tl_value_len(lst ? lst : tl_value_get(d, "base_lrs")), s->ngroups);
    s->last_epoch = tl_value_as_int(le);
    if (tl__opt_getnum(d, "_step_count", &x)) s->step_count = (int64_t)x;
    tl__sch_getlist(d, "base_lrs", s->base_lrs, s->ngroups);
    if (tl__sch_getlist(d, "_last_lr", s->last_lr, s->ngroups)) s->has_last_lr = 1;
    if (tl__opt_getnum(d, "gamma", &x)) s->gamma = x;
    if (tl__opt_getnum(d, "step_size", &x)) s->step_size = (int64_t)x;
    if (tl__opt_getnum(d, "T_max", &x)) s->T_max = (int64_t)x;
    if (tl__opt_getnum(d, "eta_min", &x)) s->eta_min = x;
    if (tl__opt_getnum(d, "start_factor", &x)) s->start_factor = x;
    if (tl__opt_getnum(d, "end_factor", &x)) s->end_factor = x;
    if (tl__opt_getnum(d, "total_iters", &x)) s->total_iters = (int64_t)x;
    if (tl__opt_getnum(d, "total_steps", &x)) s->total_steps = (int64_t)x;
    if (s->kind == TL__SCH_PLATEAU) {
        const tl_value *mode = tl_value_get(d, "mode"), *tm = tl_value_get(d, "threshold_mode");
        if (tl__opt_getnum(d, "factor", &x)) s->pl.factor = x;
        tl__sch_getlist(d, "min_lrs", s->min_lrs, s->ngroups);
        if (tl__opt_getnum(d, "patience", &x)) s->pl.patience = (int64_t)x;
        if (tl__opt_getnum(d, "cooldown", &x)) s->pl.cooldown = (int64_t)x;
        if (tl__opt_getnum(d, "cooldown_counter", &x)) s->cooldown_counter = (int64_t)x;
        if (tl__opt_getnum(d, "threshold", &x)) s->pl.threshold = x;
        if (tl__opt_getnum(d, "best", &x)) s->best = x;
        if (tl__opt_getnum(d, "num_bad_epochs", &x)) s->num_bad_epochs = (int64_t)x;
        if (tl__opt_getnum(d, "eps", &x)) s->pl.eps = x;
        if (tl_value_kind_of(mode) == TL_VALUE_STRING) s->pl.mode_max = strcmp(tl_value_as_string(mode, NULL), "max") == 0;
        if (tl_value_kind_of(tm) == TL_VALUE_STRING) s->pl.threshold_abs = strcmp(tl_value_as_string(tm, NULL), "abs") == 0;
        s->mode_worse = s->pl.mode_max ? -INFINITY : INFINITY;
    }
    return TL_OK;
}

/* ---- gradient clipping (torch.nn.utils) ---- */

static double tl__clip_norm(const char *op, tl_tensor *const *ps, int n, double max_norm, double norm_type) {
    double total = 0, coef;
    int i, any = 0, all32 = 1;
    int64_t j;
    for (i = 0; i < n; i++) {
        const tl_tensor *g = ps[i] ? ps[i]->grad : NULL;
        if (g && (!tl_is_contiguous(g) || (g->dtype != TL_F32 && g->dtype != TL_F64))) {
            TL__FAIL(TL_ERR_ARG, "%s: the gradient of parameter %d is %s %s%s; float32/float64 contiguous gradients "
                     "only", op, i, TL__DT(g), TL__SH(g), tl_is_contiguous(g) ? "" : " (not contiguous)");
            return NAN;
        }
    }
    /* torch: norm of the per-parameter norms (each computed in the parameter's dtype; here in double) */
    for (i = 0; i < n; i++) {
        const tl_tensor *g = ps[i] ? ps[i]->grad : NULL;
        double acc = 0;
        int64_t m;
        if (!g) continue;
        any = 1;
        all32 &= g->dtype == TL_F32;
        m = tl__prod(g->ndim, g->shape);
        for (j = 0; j < m; j++) {
            double x = g->dtype == TL_F32 ? (double)((const float *)TL__OPT_PTR(g))[j] : ((const double *)TL__OPT_PTR(g))[j];
            x = fabs(x);
            if (isinf(norm_type)) acc = (x > acc || x != x) ? x : acc;
            else if (norm_type == 2) acc += x * x;
            else if (norm_type == 1) acc += x;
            else if (norm_type == 0) acc += x != 0;
            else acc += pow(x, norm_type);
        }
        if (!isinf(norm_type) && norm_type != 0 && norm_type != 1)
            acc = norm_type == 2 ? sqrt(acc) : pow(acc, 1.0 / norm_type);
        if (g->dtype == TL_F32) acc = (double)(float)acc;
        if (isinf(norm_type)) total = (acc > total || acc != acc) ? acc : total;
        else if (norm_type == 0) total += acc != 0;
        else if (norm_type == 1) total += acc;
        else total += pow(acc, norm_type);
    }
    if (!any) return 0.0;
    if (!isinf(norm_type) && norm_type != 0 && norm_type != 1)
        total = norm_type == 2 ? sqrt(total) : pow(total, 1.0 / norm_type);
    if (all32) { /* torch's total_norm is then a float32 tensor and the coefficient float32 arithmetic */
        total = (double)(float)total;
        coef = (double)((float)max_norm / ((float)total + (float)1e-6));
    } else
        coef = max_norm / (total + 1e-6);
    if (coef > 1.0) coef = 1.0;
    for (i = 0; i < n; i++) {
        tl_tensor *g = ps[i] ? ps[i]->grad : NULL;
        int64_t m;
        if (!g) continue;
        m = tl__prod(g->ndim, g->shape);
        if (g->dtype == TL_F32) {
            float *x = (float *)TL__OPT_PTR(g), c = (float)coef;
            for (j = 0; j < m; j++) x[j] *= c;
        } else {
            double *x = (double *)TL__OPT_PTR(g);
            for (j = 0; j < m; j++) x[j] *= coef;
        }
        g->storage->version++;
    }
    return total;
}
TLDEF double tl_clip_grad_norm_(const tl_param_list *params, double max_norm, double norm_type) {
    if (!params) {
        if (!tl__tls.status) TL__FAIL(TL_ERR_ARG, "tl_clip_grad_norm_: params is NULL");
        return NAN;
    }
    return tl__clip_norm("tl_clip_grad_norm_", params->tensors, params->n, max_norm, norm_type);
}
TLDEF double tl_module_clip_grad_norm_(const tl_module *m, double max_norm, double norm_type) {
    tl_param_list *l = tl_parameters(m);
    double r;
    if (!l) return NAN;
    r = tl__clip_norm("tl_module_clip_grad_norm_", l->tensors, l->n, max_norm, norm_type);
    tl_param_list_free(l);
    return r;
}
static tl_status tl__clip_value(const char *op, tl_tensor *const *ps, int n, double v) {
    int i;
    int64_t j, m;
    for (i = 0; i < n; i++) {
        const tl_tensor *g = ps[i] ? ps[i]->grad : NULL;
        if (g && (!tl_is_contiguous(g) || (g->dtype != TL_F32 && g->dtype != TL_F64)))
            return TL__FAIL(TL_ERR_ARG, "%s: the gradient of parameter %d is %s %s; float32/float64 contiguous "
                            "gradients only", op, i, TL__DT(g), TL__SH(g));
    }
    for (i = 0; i < n; i++) {
        tl_tensor *g = ps[i] ? ps[i]->grad : NULL;
        if (!g) continue;
        m = tl__prod(g->ndim, g->shape);
        if (g->dtype == TL_F32) {
            float *x = (float *)TL__OPT_PTR(g), lo = (float)-v, hi = (float)v;
            for (j = 0; j < m; j++) x[j] = x[j] < lo ? lo : (x[j] > hi ? hi : x[j]);
        } else {
            double *x = (double *)TL__OPT_PTR(g);
            for (j = 0; j < m; j++) x[j] = x[j] < -v ? -v : (x[j] > v ? v : x[j]);
        }
        g->storage->version++;
    }
    return TL_OK;
}
TLDEF tl_status tl_clip_grad_value_(const tl_param_list *params, double clip_value) {
    if (!params) return tl__tls.status ? tl__tls.status : TL__FAIL(TL_ERR_ARG, "tl_clip_grad_value_: params is NULL");
    return tl__clip_value("tl_clip_grad_value_", params->tensors, params->n, clip_value);
}
TLDEF tl_status tl_module_clip_grad_value_(const tl_module *m, double clip_value) {
    tl_param_list *l = tl_parameters(m);
    tl_status st;
    if (!l) return tl__tls.status;
    st = tl__clip_value("tl_module_clip_grad_value_", l->tensors, l->n, clip_value);
    tl_param_list_free(l);
    return st;
}

/* ===== >>data ================================================================================= */
/* torch.utils.data (1.13) in C: datasets, samplers, the DataLoader with worker threads and a
   resumable position, then the file readers (gzip, IDX, .npy, .npz, CSV). The random streams follow
   TORCH_RNG.md section 10:
     - a loader epoch starts (torch's iter(loader)) by drawing base_seed = random64() % 2^63 from
       opts.generator (or the default generator), then runs the sampler once for the whole epoch;
     - RandomSampler without a generator seeds a private generator with random64() % 2^63 of the
       default one, then yields num_samples // n permutations and the first num_samples % n entries
       of one more (drawn even when that slice is empty); with replacement it draws randint(0, n)
       in chunks of 32, then one of num_samples % 32;
     - WeightedRandomSampler is one multinomial over float64 weights, SubsetRandomSampler one
       randperm, random_split one randperm(len) sliced in order.
   Drawing the whole epoch's order at its start (torch draws lazily, at the first batch) changes
   nothing visible: no other draw comes between the two in a loop, and it is what makes a position
   (the sampler generator's state before the draws + the batch index) enough to resume mid-epoch. */

#ifndef TL_DATA_MAX_MB
#define TL_DATA_MAX_MB 16384 /* largest decompressed stream or tensor one data reader makes, in MiB */
#endif

/* Normalises a callback's status: positive values are not errors the loader could report (they
   would read as TL_EPOCH_END), and a failure must leave a message. */
static tl_status tl__cb_status(const char *op, const char *who, tl_status st, int64_t index) {
    if (st > 0)
        return TL__FAIL(TL_ERR_ARG, "%s: %s returned status %d for index %lld (not TL_OK or an error)", op, who, (int)st,
                        (long long)index);
    if (st < 0 && tl__tls.status == TL_OK)
        TL__FAIL(st, "%s: %s failed with %s for index %lld without recording an error", op, who, tl_status_str(st),
                 (long long)index);
    return st;
}
/* What a callback filled in: 1 <= n <= TL_MAX_FIELDS and no NULL field; fields past n are cleared
   (the caller's scope owns whatever they held). */
static tl_status tl__fields_check(const char *op, const char *who, int *n, tl_tensor **t, int64_t index) {
    int k;
    if (*n < 1 || *n > TL_MAX_FIELDS)
        return TL__FAIL(TL_ERR_ARG, "%s: %s gave %d fields for index %lld (1 to %d allowed)", op, who, *n,
                        (long long)index, TL_MAX_FIELDS);
    for (k = 0; k < *n; k++)
        if (!t[k]) return TL__FAIL(TL_ERR_ARG, "%s: %s left field %d of index %lld NULL", op, who, k, (long long)index);
    for (; k < TL_MAX_FIELDS; k++) t[k] = NULL;
    return TL_OK;
}

/* ---- datasets ---- */

enum { TL__DS_USER, TL__DS_TENSOR, TL__DS_SUBSET, TL__DS_CONCAT };
struct tl_dataset {
    int refcount;
    int kind;
    int64_t len;
    tl_get_item_fn get_item;            /* user datasets */
    void *user;
    void (*release)(void *user);
    tl_transform_fn transform;          /* per-sample transform (any kind of dataset) */
    void *transform_user;
    int nt;                             /* TensorDataset: contiguous tensors sharing dim 0 (owned) */
    tl_tensor *tensors[TL_MAX_FIELDS];
    tl_dataset **parts;                 /* Subset: parts[0] is the base; ConcatDataset: its parts */
    int nparts;
    int64_t *idx;                       /* Subset: indices into the base; ConcatDataset: cumulative sizes */
};

static tl_dataset *tl__ds_alloc(const char *op, int kind, int64_t len) {
    tl_dataset *ds = (tl_dataset *)tl__malloc(sizeof(tl_dataset));
    if (!ds) {
        TL__FAIL(TL_ERR_OOM, "%s: out of memory", op);
        return NULL;
    }
    memset(ds, 0, sizeof *ds);
    ds->refcount = 1;
    ds->kind = kind;
    ds->len = len;
    return ds;
}
TLDEF tl_dataset *tl_dataset_new(int64_t len, tl_get_item_fn get_item, void *user, void (*release)(void *user)) {
    tl_dataset *ds;
    if (!get_item) {
        TL__FAIL(TL_ERR_ARG, "tl_dataset_new: get_item is NULL");
        return NULL;
    }
    if (len < 0) {
        TL__FAIL(TL_ERR_ARG, "tl_dataset_new: the length must be non-negative, got %lld", (long long)len);
        return NULL;
    }
    ds = tl__ds_alloc("tl_dataset_new", TL__DS_USER, len);
    if (!ds) return NULL;
    ds->get_item = get_item;
    ds->user = user;
    ds->release = release;
    return ds;
}
TLDEF tl_dataset *tl_dataset_retain(tl_dataset *ds) {
    if (ds) ds->refcount++;
    return ds;
}
TLDEF void tl_dataset_free(tl_dataset *ds) {
    int k;
    if (!ds || --ds->refcount > 0) return;
    if (ds->release) ds->release(ds->user);
    for (k = 0; k < ds->nt; k++) tl__release(ds->tensors[k]);
    for (k = 0; k < ds->nparts; k++) tl_dataset_free(ds->parts[k]);
    tl__free(ds->parts);
    tl__free(ds->idx);
    tl__free(ds);
}
TLDEF int64_t tl_dataset_len(const tl_dataset *ds) { return ds ? ds->len : -1; }
TLDEF tl_status tl_dataset_set_transform(tl_dataset *ds, tl_transform_fn fn, void *user) {
    TL__CHECK1S("tl_dataset_set_transform", ds);
    ds->transform = fn;
    ds->transform_user = fn ? user : NULL;
    return TL_OK;
}
/* Drops the entry of t from whichever open scope owns it (innermost first), so that releasing it
   is right whether a scope or the caller owned it. */
static void tl__scope_forget(const tl_tensor *t) {
    tl__tls_state *s = &tl__tls;
    int i, d;
    for (i = s->scope_n - 1; i >= 0; i--)
        if (s->scope_items[i] == t) {
            memmove(s->scope_items + i, s->scope_items + i + 1, sizeof(tl_tensor *) * (size_t)(s->scope_n - i - 1));
            s->scope_n--;
            for (d = 0; d < s->scope_depth; d++)
                if (s->scope_mark[d] > i) s->scope_mark[d]--;
            return;
        }
}
/* Releases n fields wherever they are owned, then zeroes them. */
static void tl__fields_release(tl_tensor **t, int n) {
    int k;
    for (k = 0; k < n; k++)
        if (t[k]) {
            tl__scope_forget(t[k]);
            tl__release(t[k]);
            t[k] = NULL;
        }
}
TLDEF void tl_sample_release(tl_sample *s) {
    if (!s) return;
    tl__fields_release(s->t, TL_MAX_FIELDS);
    memset(s, 0, sizeof *s);
}

/* Sample i of ds without the transform: new references, tracked by the innermost scope. */
static tl_status tl__ds_fetch(tl_dataset *ds, int64_t i, tl_sample *out) {
    int k;
    switch (ds->kind) {
    case TL__DS_TENSOR:
        /* row i of every tensor, copied (a view would touch the shared storage's refcount, which
           worker threads must not do) */
        out->n = ds->nt;
        for (k = 0; k < ds->nt; k++) {
            const tl_tensor *src = ds->tensors[k];
            tl_tensor *r = tl__new("tl_dataset_get", src->ndim - 1, src->shape + 1, src->dtype);
            size_t row;
            if (!r) return tl__tls.status ? tl__tls.status : TL_ERR_OOM;
            row = r->storage->nbytes;
            if (row) memcpy(r->storage->data, tl__ptr(src) + (size_t)i * row, row);
            out->t[k] = tl__ret(r);
            if (!out->t[k]) return TL_ERR_OOM;
        }
        return TL_OK;
    case TL__DS_SUBSET:
        return tl_dataset_get(ds->parts[0], ds->idx[i], out);
    case TL__DS_CONCAT: {
        int lo = 0, hi = ds->nparts - 1; /* bisect_right(cumulative_sizes, i) */
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            if (ds->idx[mid] > i) hi = mid;
            else lo = mid + 1;
        }
        return tl_dataset_get(ds->parts[lo], i - (lo ? ds->idx[lo - 1] : 0), out);
    }
    default:
        return ds->get_item(ds->user, i, out);
    }
}
TLDEF tl_status tl_dataset_get(tl_dataset *ds, int64_t index, tl_sample *out) {
    const char *op = "tl_dataset_get";
    tl_scope sc;
    tl_status st;
    int k;
    if (!out) return TL__FAIL(TL_ERR_ARG, "%s: out is NULL", op);
    memset(out, 0, sizeof *out);
    TL__CHECK1S(op, ds);
    if (index < 0 || index >= ds->len)
        return TL__FAIL(TL_ERR_INDEX, "%s: index %lld is out of range for a dataset of %lld samples", op, (long long)index,
                        (long long)ds->len);
    /* the callbacks' temporaries (and every field a transform replaces) die with this scope */
    sc = tl_scope_begin();
    if (sc.depth < 0) return tl__tls.status;
    st = tl__cb_status(op, "get_item", tl__ds_fetch(ds, index, out), index);
    if (st == TL_OK) st = tl__fields_check(op, "get_item", &out->n, out->t, index);
    if (st == TL_OK && ds->transform) {
        st = tl__cb_status(op, "the transform", ds->transform(out, ds->transform_user), index);
        if (st == TL_OK) st = tl__fields_check(op, "the transform", &out->n, out->t, index);
    }
    if (st == TL_OK)
        for (k = 0; k < out->n; k++) tl_keep(out->t[k]);
    else
        memset(out, 0, sizeof *out);
    tl_scope_end(sc);
    return st;
}

TLDEF tl_dataset *tl_tensor_dataset(int n, tl_tensor *const *tensors) {
    const char *op = "tl_tensor_dataset";
    tl_dataset *ds;
    int k;
    if (n < 1 || n > TL_MAX_FIELDS || !tensors) {
        TL__FAIL(TL_ERR_ARG, "%s: expected 1 to %d tensors, got %d%s", op, TL_MAX_FIELDS, n, tensors ? "" : " (NULL list)");
        return NULL;
    }
    for (k = 0; k < n; k++) {
        if (tl__null_in(op, tensors[k])) return NULL;
        if (tensors[k]->ndim == 0) {
            TL__FAIL(TL_ERR_SHAPE, "%s: tensor %d is 0-dim (a TensorDataset indexes dim 0)", op, k);
            return NULL;
        }
        if (tensors[k]->shape[0] != tensors[0]->shape[0]) {
            TL__FAIL(TL_ERR_SHAPE, "%s: Size mismatch between tensors: tensor 0 is %s, tensor %d is %s", op,
                     TL__SH(tensors[0]), k, TL__SH(tensors[k]));
            return NULL;
        }
    }
    ds = tl__ds_alloc(op, TL__DS_TENSOR, tensors[0]->shape[0]);
    if (!ds) return NULL;
    for (k = 0; k < n; k++) {
        ds->tensors[k] = tl__contig(op, tensors[k]);
        if (!ds->tensors[k]) {
            tl_dataset_free(ds);
            return NULL;
        }
        ds->nt = k + 1;
    }
    return ds;
}

TLDEF tl_dataset *tl_subset(tl_dataset *ds, int64_t n, const int64_t *indices) {
    const char *op = "tl_subset";
    tl_dataset *s;
    int64_t i;
    if (tl__null_in(op, ds)) return NULL;
    if (n < 0 || (n > 0 && !indices)) {
        TL__FAIL(TL_ERR_ARG, "%s: %lld indices%s", op, (long long)n, n < 0 ? " (negative count)" : " but the list is NULL");
        return NULL;
    }
    for (i = 0; i < n; i++)
        if (indices[i] < 0 || indices[i] >= ds->len) {
            TL__FAIL(TL_ERR_INDEX, "%s: index %lld (at position %lld) is out of range for a dataset of %lld samples", op,
                     (long long)indices[i], (long long)i, (long long)ds->len);
            return NULL;
        }
    s = tl__ds_alloc(op, TL__DS_SUBSET, n);
    if (!s) return NULL;
    s->parts = (tl_dataset **)tl__malloc(sizeof(tl_dataset *));
    s->idx = (int64_t *)tl__malloc(tl__szn(n, sizeof(int64_t)));
    if (!s->parts || !s->idx) {
        tl_dataset_free(s);
        TL__FAIL(TL_ERR_OOM, "%s: out of memory for %lld indices", op, (long long)n);
        return NULL;
    }
    if (n) memcpy(s->idx, indices, (size_t)n * sizeof(int64_t));
    s->parts[0] = tl_dataset_retain(ds);
    s->nparts = 1;
    return s;
}

TLDEF tl_dataset *tl_concat_dataset(int n, tl_dataset *const *datasets) {
    const char *op = "tl_concat_dataset";
    tl_dataset *c;
    int64_t total = 0;
    int k;
    if (n < 1 || !datasets) {
        TL__FAIL(TL_ERR_ARG, "%s: datasets should not be an empty iterable", op);
        return NULL;
    }
    for (k = 0; k < n; k++) {
        if (tl__null_in(op, datasets[k])) return NULL;
        if (datasets[k]->len > INT64_MAX - total) {
            TL__FAIL(TL_ERR_ARG, "%s: the total length overflows int64", op);
            return NULL;
        }
        total += datasets[k]->len;
    }
    c = tl__ds_alloc(op, TL__DS_CONCAT, total);
    if (!c) return NULL;
    c->parts = (tl_dataset **)tl__malloc(tl__szn(n, sizeof(tl_dataset *)));
    c->idx = (int64_t *)tl__malloc(tl__szn(n, sizeof(int64_t)));
    if (!c->parts || !c->idx) {
        tl_dataset_free(c);
        TL__FAIL(TL_ERR_OOM, "%s: out of memory", op);
        return NULL;
    }
    for (k = 0, total = 0; k < n; k++) {
        total += datasets[k]->len;
        c->idx[k] = total; /* cumulative_sizes */
        c->parts[k] = tl_dataset_retain(datasets[k]);
        c->nparts = k + 1;
    }
    return c;
}

TLDEF tl_status tl_random_split(tl_dataset *ds, int n, const double *lengths, tl_generator *g, tl_dataset **out) {
    const char *op = "tl_random_split";
    int64_t *len_of, total = 0, off = 0, len;
    double sum = 0;
    tl_status st = TL_OK;
    tl_tensor *perm;
    tl_scope sc;
    int i;
    TL__CHECK1S(op, ds);
    if (n < 1 || !lengths || !out)
        return TL__FAIL(TL_ERR_ARG, "%s: expected n >= 1 lengths and an output array (n = %d)", op, n);
    for (i = 0; i < n; i++) out[i] = NULL;
    len = ds->len;
    len_of = (int64_t *)tl__malloc(tl__szn(n, sizeof(int64_t)));
    if (!len_of) return TL__FAIL(TL_ERR_OOM, "%s: out of memory", op);
    for (i = 0; i < n; i++) sum += lengths[i];
    if (fabs(sum - 1.0) <= 1e-9 * (fabs(sum) > 1.0 ? fabs(sum) : 1.0) && sum <= (double)len) {
        /* fractions (math.isclose(sum, 1)): floor(len * f), then the remainder one by one, round robin */
        int64_t rem = len;
        for (i = 0; i < n && st == TL_OK; i++) {
            if (!(lengths[i] >= 0 && lengths[i] <= 1))
                st = TL__FAIL(TL_ERR_ARG, "%s: Fraction at index %d is not between 0 and 1", op, i);
            else
                rem -= len_of[i] = (int64_t)floor((double)len * lengths[i]);
        }
        for (i = 0; st == TL_OK && i < rem; i++) len_of[i % n]++;
    } else {
        for (i = 0; i < n && st == TL_OK; i++) {
            if (!(lengths[i] >= 0 && lengths[i] <= 9.0e18 && lengths[i] == floor(lengths[i])))
                st = TL__FAIL(TL_ERR_ARG, "%s: length %g at index %d is neither a sample count nor part of fractions "
                              "summing to 1", op, lengths[i], i);
            else
                len_of[i] = (int64_t)lengths[i];
        }
    }
    for (i = 0; i < n && st == TL_OK; i++) total += len_of[i];
    if (st == TL_OK && total != len)
        st = TL__FAIL(TL_ERR_ARG, "%s: Sum of input lengths does not equal the length of the input dataset! (%lld != %lld)",
                      op, (long long)total, (long long)len);
    if (st != TL_OK) {
        tl__free(len_of);
        return st;
    }
    sc = tl_scope_begin();
    perm = tl_randperm_gen(len, TL_I64, g);
    for (i = 0; i < n && perm; i++) {
        out[i] = tl_subset(ds, len_of[i], (const int64_t *)(const void *)tl__ptr(perm) + off);
        if (!out[i]) break;
        off += len_of[i];
    }
    if (!perm || i < n) {
        st = tl__tls.status ? tl__tls.status : TL_ERR_OOM;
        for (i = 0; i < n; i++) {
            tl_dataset_free(out[i]);
            out[i] = NULL;
        }
    }
    tl_scope_end(sc);
    tl__free(len_of);
    return st;
}

/* ---- samplers ---- */

enum { TL__SMP_SEQ, TL__SMP_RANDOM, TL__SMP_WEIGHTED, TL__SMP_SUBSET, TL__SMP_USER };
struct tl_sampler {
    int refcount, kind, replacement;
    int64_t num_samples;        /* RANDOM/USER: <= 0 means the dataset length; WEIGHTED: > 0 */
    tl_generator *g;            /* borrowed; NULL: the default generator */
    tl_tensor *weights;         /* WEIGHTED: float64 [n] (owned) */
    int64_t *idx, nidx;         /* SUBSET */
    tl_sampler_fn fn;           /* USER */
    void *user;
    void (*release)(void *user);
};

static tl_sampler *tl__smp_alloc(const char *op, int kind, int64_t num_samples, tl_generator *g) {
    tl_sampler *s = (tl_sampler *)tl__malloc(sizeof(tl_sampler));
    if (!s) {
        TL__FAIL(TL_ERR_OOM, "%s: out of memory", op);
        return NULL;
    }
    memset(s, 0, sizeof *s);
    s->refcount = 1;
    s->kind = kind;
    s->num_samples = num_samples;
    s->g = g;
    return s;
}
TLDEF tl_sampler *tl_sampler_new(tl_sampler_fn fn, void *user, void (*release)(void *user), int64_t num_samples,
                                 tl_generator *g) {
    tl_sampler *s;
    if (!fn) {
        TL__FAIL(TL_ERR_ARG, "tl_sampler_new: fn is NULL");
        return NULL;
    }
    s = tl__smp_alloc("tl_sampler_new", TL__SMP_USER, num_samples, g);
    if (!s) return NULL;
    s->fn = fn;
    s->user = user;
    s->release = release;
    return s;
}
TLDEF tl_sampler *tl_sequential_sampler(void) { return tl__smp_alloc("tl_sequential_sampler", TL__SMP_SEQ, 0, NULL); }
TLDEF tl_sampler *tl_random_sampler(int replacement, int64_t num_samples, tl_generator *g) {
    tl_sampler *s = tl__smp_alloc("tl_random_sampler", TL__SMP_RANDOM, num_samples, g);
    if (s) s->replacement = replacement != 0;
    return s;
}
TLDEF tl_sampler *tl_weighted_random_sampler(const tl_tensor *weights, int64_t num_samples, int replacement,
                                             tl_generator *g) {
    const char *op = "tl_weighted_random_sampler";
    tl_sampler *s;
    if (tl__null_in(op, weights)) return NULL;
    if (weights->ndim != 1) {
        TL__FAIL(TL_ERR_SHAPE, "%s: weights should be a 1d sequence but given weights have shape %s", op, TL__SH(weights));
        return NULL;
    }
    if (num_samples <= 0) {
        TL__FAIL(TL_ERR_ARG, "%s: num_samples should be a positive integer value, but got num_samples=%lld", op,
                 (long long)num_samples);
        return NULL;
    }
    s = tl__smp_alloc(op, TL__SMP_WEIGHTED, num_samples, g);
    if (!s) return NULL;
    s->replacement = replacement != 0;
    s->weights = tl__contig_as(op, weights, TL_F64); /* torch.as_tensor(weights, dtype=torch.double) */
    if (!s->weights) {
        tl_sampler_free(s);
        return NULL;
    }
    return s;
}
TLDEF tl_sampler *tl_subset_random_sampler(int64_t n, const int64_t *indices, tl_generator *g) {
    const char *op = "tl_subset_random_sampler";
    tl_sampler *s;
    if (n < 0 || (n > 0 && !indices)) {
        TL__FAIL(TL_ERR_ARG, "%s: %lld indices%s", op, (long long)n, n < 0 ? " (negative count)" : " but the list is NULL");
        return NULL;
    }
    s = tl__smp_alloc(op, TL__SMP_SUBSET, n, g);
    if (!s) return NULL;
    s->idx = (int64_t *)tl__malloc(tl__szn(n, sizeof(int64_t)));
    if (!s->idx) {
        tl_sampler_free(s);
        TL__FAIL(TL_ERR_OOM, "%s: out of memory for %lld indices", op, (long long)n);
        return NULL;
    }
    if (n) memcpy(s->idx, indices, (size_t)n * sizeof(int64_t));
    s->nidx = n;
    return s;
}
TLDEF void tl_sampler_free(tl_sampler *s) {
    if (!s || --s->refcount > 0) return;
    if (s->release) s->release(s->user);
    tl__release(s->weights);
    tl__free(s->idx);
    tl__free(s);
}
TLDEF int64_t tl_sampler_len(const tl_sampler *s, int64_t dataset_len) {
    if (!s) return -1;
    switch (s->kind) {
    case TL__SMP_WEIGHTED: return s->num_samples;
    case TL__SMP_SUBSET: return s->nidx;
    case TL__SMP_SEQ: return dataset_len;
    default: return s->num_samples > 0 ? s->num_samples : dataset_len;
    }
}

/* One epoch of s over a dataset of len samples, drawing from g (never NULL: s->g, the default
   generator, or a private copy of a saved state). A new int64 [len(s)] reference, tracked. */
static tl_tensor *tl__smp_draw(const char *op, tl_sampler *s, int64_t len, tl_generator *g) {
    int64_t ns = tl_sampler_len(s, len), i, *o;
    tl_generator priv;
    tl_tensor *out, *r;
    if (s->kind == TL__SMP_WEIGHTED) return tl_multinomial_gen(s->weights, ns, s->replacement, g);
    if (s->kind == TL__SMP_USER) {
        r = s->fn(s->user, len, g);
        if (!r) {
            if (tl__tls.status == TL_OK) TL__FAIL(TL_ERR_ARG, "%s: the sampler returned NULL without an error", op);
            return NULL;
        }
        if (r->dtype != TL_I64 || r->ndim != 1 || r->shape[0] != ns)
            return TL__FAILN(TL_ERR_SHAPE, "%s: the sampler returned %s %s, expected int64 [%lld]", op, TL__DT(r), TL__SH(r),
                             (long long)ns);
        return tl_contiguous(r);
    }
    if (s->kind == TL__SMP_RANDOM && ns <= 0)
        return TL__FAILN(TL_ERR_ARG, "%s: num_samples should be a positive integer value, but got num_samples=%lld", op,
                         (long long)ns);
    if (s->kind == TL__SMP_RANDOM && len == 0)
        return TL__FAILN(TL_ERR_ARG, "%s: a RandomSampler over an empty dataset cannot draw %lld samples", op, (long long)ns);
    out = tl__new(op, 1, &ns, TL_I64);
    if (!out) return NULL;
    o = (int64_t *)(void *)tl__ptr(out);
    if (s->kind == TL__SMP_SEQ) {
        for (i = 0; i < ns; i++) o[i] = i;
    } else if (s->kind == TL__SMP_SUBSET) {
        tl_scope sc = tl_scope_begin();
        r = tl_randperm_gen(s->nidx, TL_I64, g);
        if (r)
            for (i = 0; i < ns; i++) o[i] = s->idx[((const int64_t *)(const void *)tl__ptr(r))[i]];
        tl_scope_end(sc);
        if (!r) {
            tl__release(out);
            return NULL;
        }
    } else {
        int64_t chunk = s->replacement ? 32 : len, full = ns / chunk, c;
        if (!s->g) { /* RandomSampler(generator=None): a private generator seeded from g */
            memset(&priv, 0, sizeof priv);
            tl__mt_seed(&priv, tl__mt_u64(g) & UINT64_C(0x7fffffffffffffff));
            g = &priv;
        }
        for (c = 0; c <= full; c++) { /* `full` whole chunks, then one more of which ns % chunk are used */
            int64_t take = c < full ? chunk : ns % chunk;
            tl_scope sc = tl_scope_begin();
            r = s->replacement ? tl_randint_gen(0, len, 1, &take, TL_I64, g) : tl_randperm_gen(len, TL_I64, g);
            if (r && take) memcpy(o + c * chunk, tl__ptr(r), (size_t)take * sizeof(int64_t));
            tl_scope_end(sc);
            if (!r) {
                tl__release(out);
                return NULL;
            }
        }
    }
    return tl__ret(out);
}
TLDEF tl_tensor *tl_sampler_indices(tl_sampler *s, int64_t dataset_len) {
    tl_scope sc;
    tl_tensor *r;
    TL__CHECK1("tl_sampler_indices", s);
    if (dataset_len < 0)
        return TL__FAILN(TL_ERR_ARG, "tl_sampler_indices: dataset_len must be non-negative, got %lld", (long long)dataset_len);
    sc = tl_scope_begin();
    r = tl_keep(tl__smp_draw("tl_sampler_indices", s, dataset_len, s->g ? s->g : tl__gen(NULL)));
    tl_scope_end(sc);
    return r;
}

/* ---- collate ---- */

TLDEF void tl_batch_release(tl_batch *b) {
    if (!b) return;
    tl__fields_release(b->t, TL_MAX_FIELDS);
    memset(b, 0, sizeof *b);
}
TLDEF tl_status tl_default_collate(int n, tl_sample *samples, tl_batch *out, void *user) {
    const char *op = "tl_default_collate";
    tl_tensor *small[64], **ts;
    tl_status st = TL_OK;
    tl_scope sc;
    int f, i;
    (void)user;
    if (!out) return TL__FAIL(TL_ERR_ARG, "%s: out is NULL", op);
    memset(out, 0, sizeof *out);
    if (n < 1 || !samples) return TL__FAIL(TL_ERR_ARG, "%s: expected n >= 1 samples, got %d", op, n);
    for (i = 1; i < n; i++)
        if (samples[i].n != samples[0].n)
            return TL__FAIL(TL_ERR_SHAPE, "%s: sample %d has %d fields but sample 0 has %d", op, i, samples[i].n, samples[0].n);
    if (samples[0].n < 1 || samples[0].n > TL_MAX_FIELDS)
        return TL__FAIL(TL_ERR_ARG, "%s: samples have %d fields (1 to %d allowed)", op, samples[0].n, TL_MAX_FIELDS);
    ts = n <= 64 ? small : (tl_tensor **)tl__malloc(tl__szn(n, sizeof(tl_tensor *)));
    if (!ts) return TL__FAIL(TL_ERR_OOM, "%s: out of memory for a batch of %d", op, n);
    sc = tl_scope_begin();
    out->n = samples[0].n;
    for (f = 0; f < out->n && st == TL_OK; f++) {
        for (i = 0; i < n; i++) ts[i] = samples[i].t[f];
        out->t[f] = tl_stack(n, ts, 0); /* [n, *sample shape]: dtype kept (int64 labels stay int64) */
        if (!out->t[f]) st = tl__tls.status ? tl__tls.status : TL_ERR_OOM;
    }
    if (st == TL_OK)
        for (f = 0; f < out->n; f++) tl_keep(out->t[f]);
    else
        memset(out, 0, sizeof *out);
    tl_scope_end(sc);
    if (ts != small) tl__free(ts);
    return st;
}

/* ---- the DataLoader ----
   The caller's thread owns the epoch: it draws the order (tl__loader_plan), publishes it
   (tl__loader_install) and takes batches in order. Worker w builds batches w, w + W, w + 2W, ...
   (torch's round robin), at most nslots = W * prefetch_factor ahead of the next batch to deliver,
   each into slot k % nslots. Everything workers read is written under mu, or before the epoch is
   published under mu; an epoch's plan is only withdrawn (tl__loader_withdraw) once no worker is
   building (busy == 0), and a batch built for a withdrawn plan is dropped (plan counter). */

typedef struct tl__lres { tl_status st; char *msg; tl_batch b; } tl__lres; /* a built batch or its error */
typedef struct tl__lslot { int ready; int64_t k; tl__lres r; } tl__lslot;
typedef struct tl__lworker { tl_loader *l; int64_t claim; } tl__lworker;

struct tl_loader {
    tl_dataset *ds;
    tl_sampler *sampler;
    int64_t batch_size;
    int drop_last, nworkers, prefetch;
    tl_generator *gen;              /* opts.generator (borrowed) */
    tl_collate_fn collate;
    void *collate_user;
    /* the epoch */
    int64_t epoch, nbatches, next, norder;
    int started;
    int64_t *order;                 /* the sampler's indices for this epoch */
    uint64_t base_seed;
    tl_generator snap;              /* the sampler generator's state before this epoch's draws */
    /* worker threads (nthreads 0: batches are built in tl_loader_next) */
    int nthreads, nslots, busy, stop, sync;
    uint64_t plan;
    tl__thread *threads;
    tl__lworker *workers;
    tl__lslot *slots;
    tl__mutex mu;
    tl__cond cv_work, cv_ready;
};

static void tl__lres_free(tl__lres *r) {
    tl_batch_release(&r->b);
    tl__free(r->msg);
    memset(r, 0, sizeof *r);
}

TLDEF tl_loader *tl_loader_new(tl_dataset *ds, const tl_loader_opts *opts) {
    const char *op = "tl_loader_new";
    tl_loader_opts o;
    tl_loader *l;
    if (tl__null_in(op, ds)) return NULL;
    if (opts) o = *opts;
    else memset(&o, 0, sizeof o);
    if (o.batch_size < 0 || o.batch_size > (1 << 30)) {
        TL__FAIL(TL_ERR_ARG, "%s: batch_size should be a positive integer value, but got batch_size=%lld", op,
                 (long long)o.batch_size);
        return NULL;
    }
    if (o.num_workers < 0 || o.num_workers > 256 || o.prefetch_factor < 0 || o.prefetch_factor > 64) {
        TL__FAIL(TL_ERR_ARG, "%s: num_workers (%d) must be in [0, 256] and prefetch_factor (%d) in [0, 64] (0: default 2)",
                 op, o.num_workers, o.prefetch_factor);
        return NULL;
    }
    if (o.sampler && o.shuffle) {
        TL__FAIL(TL_ERR_ARG, "%s: sampler option is mutually exclusive with shuffle", op);
        return NULL;
    }
    if (o.shuffle && ds->len == 0) {
        TL__FAIL(TL_ERR_ARG, "%s: num_samples should be a positive integer value, but got num_samples=0", op);
        return NULL;
    }
    l = (tl_loader *)tl__malloc(sizeof(tl_loader));
    if (!l) {
        TL__FAIL(TL_ERR_OOM, "%s: out of memory", op);
        return NULL;
    }
    memset(l, 0, sizeof *l);
    if (o.sampler) {
        l->sampler = o.sampler;
        o.sampler->refcount++;
    } else {
        l->sampler = o.shuffle ? tl_random_sampler(0, 0, o.generator) : tl_sequential_sampler();
        if (!l->sampler) {
            tl__free(l);
            return NULL;
        }
    }
    l->ds = tl_dataset_retain(ds);
    l->batch_size = o.batch_size ? o.batch_size : 1;
    l->drop_last = o.drop_last != 0;
    l->nworkers = o.num_workers;
    l->prefetch = o.prefetch_factor ? o.prefetch_factor : 2;
    l->gen = o.generator;
    l->collate = o.collate ? o.collate : tl_default_collate;
    l->collate_user = o.collate_user;
    return l;
}

static int64_t tl__loader_nbatches(const tl_loader *l, int64_t nsamples) {
    return l->drop_last ? nsamples / l->batch_size : nsamples / l->batch_size + (nsamples % l->batch_size != 0);
}
TLDEF int64_t tl_loader_len(const tl_loader *l) {
    if (tl__null_in("tl_loader_len", l)) return -1;
    return tl__loader_nbatches(l, tl_sampler_len(l->sampler, l->ds->len));
}
TLDEF int64_t tl_loader_epoch(const tl_loader *l) { return l ? l->epoch : -1; }

/* Builds batch k of the current plan on whichever thread runs it: the samples, then collate.
   r->b gets the fields as references removed from this function's scope (so, in tl_loader_next's
   own thread, they land in the caller's innermost scope, and on a worker they are untracked). On
   failure r->msg is a copy of the message and the thread's error is cleared (unless an error was
   already pending when the build started). */
static void tl__loader_build(tl_loader *l, int64_t k, tl__lres *r) {
    int64_t lo = k * l->batch_size, n = l->norder - lo, i;
    tl_status pending = tl__tls.status, st = TL_OK;
    tl_sample *sm;
    tl_storage *hold;
    tl_scope sc;
    int f;
    memset(r, 0, sizeof *r);
    if (n > l->batch_size) n = l->batch_size;
    sc = tl_scope_begin();
    sm = (tl_sample *)tl__scratch(tl__szn(n, sizeof(tl_sample)), &hold);
    if (!sm) st = TL__FAIL(TL_ERR_OOM, "tl_loader_next: out of memory for a batch of %lld samples", (long long)n);
    else memset(sm, 0, (size_t)n * sizeof(tl_sample));
    for (i = 0; i < n && st == TL_OK; i++) st = tl_dataset_get(l->ds, l->order[lo + i], &sm[i]);
    if (st == TL_OK) {
        st = tl__cb_status("tl_loader_next", "collate", l->collate((int)n, sm, &r->b, l->collate_user), k);
        if (st == TL_OK) st = tl__fields_check("tl_loader_next", "collate", &r->b.n, r->b.t, k);
    }
    if (st == TL_OK) {
        for (f = 0; f < r->b.n; f++) tl_keep(r->b.t[f]);
        r->b.x = r->b.t[0];
        r->b.y = r->b.n > 1 ? r->b.t[1] : NULL;
        r->b.size = n;
        r->b.index = k;
    } else {
        memset(&r->b, 0, sizeof r->b);
    }
    tl__scratch_free(sm, hold);
    tl_scope_end(sc);
    r->st = st;
    if (st != TL_OK && pending == TL_OK) {
        size_t len = strlen(tl__tls.msg);
        r->msg = (char *)tl__malloc(len + 1);
        if (r->msg) memcpy(r->msg, tl__tls.msg, len + 1);
        tl_clear_error();
    }
}

#if TL__HAVE_THREADS && !defined(TL_NO_THREAD_LOCALS)
static void *tl__loader_worker(void *arg) {
    tl__lworker *w = (tl__lworker *)arg;
    tl_loader *l = w->l;
    tl__mutex_lock(&l->mu);
    while (!l->stop) {
        int64_t k = w->claim;
        if (l->started && k < l->nbatches && k < l->next + l->nslots) {
            uint64_t plan = l->plan;
            tl__lres r;
            w->claim += l->nworkers;
            l->busy++;
            tl__mutex_unlock(&l->mu);
            tl_manual_seed(l->base_seed + (uint64_t)k); /* random transforms: the same for any num_workers */
            tl__loader_build(l, k, &r);
            tl__mutex_lock(&l->mu);
            l->busy--;
            if (plan == l->plan) {
                tl__lslot *s = &l->slots[k % l->nslots];
                s->r = r;
                s->k = k;
                s->ready = 1;
            } else {
                tl__lres_free(&r);
            }
            tl__cond_broadcast(&l->cv_ready);
        } else {
            tl__cond_wait(&l->cv_work, &l->mu);
        }
    }
    tl__mutex_unlock(&l->mu);
    tl_shutdown(); /* this thread's storage/header caches go back to the allocator (else they leak) */
    return NULL;
}
#endif

/* Starts the workers before the first epoch; any failure (no threads in this build, OOM, a thread
   that cannot start) leaves nthreads 0, and batches are then built inline. */
static void tl__loader_threads(tl_loader *l) {
#if TL__HAVE_THREADS && !defined(TL_NO_THREAD_LOCALS)
    int i, ok;
    if (l->nworkers == 0 || l->sync) return;
    l->sync = 1; /* tried once */
    l->nslots = l->nworkers * l->prefetch;
    l->threads = (tl__thread *)tl__malloc(tl__szn(l->nworkers, sizeof(tl__thread)));
    l->workers = (tl__lworker *)tl__malloc(tl__szn(l->nworkers, sizeof(tl__lworker)));
    l->slots = (tl__lslot *)tl__malloc(tl__szn(l->nslots, sizeof(tl__lslot)));
    if (!l->threads || !l->workers || !l->slots) return;
    memset(l->slots, 0, (size_t)l->nslots * sizeof(tl__lslot));
    if (!tl__mutex_init(&l->mu)) return;
    ok = tl__cond_init(&l->cv_work);
    if (ok && !tl__cond_init(&l->cv_ready)) {
        tl__cond_destroy(&l->cv_work);
        ok = 0;
    }
    if (!ok) {
        tl__mutex_destroy(&l->mu);
        return;
    }
    l->sync = 2; /* mutex and conditions live */
    for (i = 0; i < l->nworkers; i++) {
        l->workers[i].l = l;
        l->workers[i].claim = 0;
        if (!tl__thread_start(&l->threads[i], tl__loader_worker, &l->workers[i])) break;
    }
    if (i < l->nworkers) { /* not all started: stop those that did and load inline */
        int j;
        tl__mutex_lock(&l->mu);
        l->stop = 1;
        tl__cond_broadcast(&l->cv_work);
        tl__mutex_unlock(&l->mu);
        for (j = 0; j < i; j++) tl__thread_join(&l->threads[j]);
        l->stop = 0;
        return;
    }
    l->nthreads = l->nworkers;
#else
    (void)l;
#endif
}

/* Withdraws the current epoch's plan: waits until no worker is building, drops prepared batches,
   frees the order. */
static void tl__loader_withdraw(tl_loader *l) {
    int i;
    if (l->nthreads) {
        tl__mutex_lock(&l->mu);
        l->plan++;
        l->started = 0;
        while (l->busy) tl__cond_wait(&l->cv_ready, &l->mu);
        for (i = 0; i < l->nslots; i++)
            if (l->slots[i].ready) {
                tl__lres_free(&l->slots[i].r);
                l->slots[i].ready = 0;
            }
    }
    l->started = 0;
    tl__free(l->order);
    l->order = NULL;
    l->norder = l->nbatches = l->next = 0;
    if (l->nthreads) tl__mutex_unlock(&l->mu);
}
/* Publishes an epoch's order, starting at batch next. */
static void tl__loader_install(tl_loader *l, int64_t *order, int64_t norder, int64_t next) {
    int i;
    if (l->nthreads) tl__mutex_lock(&l->mu);
    l->order = order;
    l->norder = norder;
    l->nbatches = tl__loader_nbatches(l, norder);
    l->next = next;
    l->started = 1;
    if (l->nthreads) {
        for (i = 0; i < l->nthreads; i++) l->workers[i].claim = next + i;
        tl__cond_broadcast(&l->cv_work);
        tl__mutex_unlock(&l->mu);
    }
}
/* Runs the sampler for the epoch: fresh (snapshotting its generator first) or, with replay, from a
   private copy of the saved snapshot (no generator is touched). */
static tl_status tl__loader_plan(tl_loader *l, const char *op, int replay, int64_t **order, int64_t *norder) {
    tl_generator tmp, *sg;
    tl_tensor *idx;
    tl_status st = TL_OK;
    tl_scope sc;
    int64_t i, n, len = l->ds->len;
    *order = NULL;
    *norder = 0;
    if (!replay) {
        sg = l->sampler->g ? l->sampler->g : tl__gen(NULL);
        l->snap = *sg;
        l->snap.heap = 0;
    } else {
        tmp = l->snap;
        sg = &tmp;
    }
    sc = tl_scope_begin();
    idx = tl__smp_draw(op, l->sampler, len, sg);
    if (!idx) {
        st = tl__tls.status ? tl__tls.status : TL_ERR_OOM;
    } else {
        const int64_t *p = (const int64_t *)(const void *)tl__ptr(idx);
        n = idx->shape[0];
        *order = (int64_t *)tl__malloc(tl__szn(n, sizeof(int64_t)));
        if (!*order) st = TL__FAIL(TL_ERR_OOM, "%s: out of memory for an epoch of %lld indices", op, (long long)n);
        for (i = 0; i < n && st == TL_OK; i++) {
            if (p[i] < 0 || p[i] >= len)
                st = TL__FAIL(TL_ERR_INDEX, "%s: the sampler gave index %lld (position %lld) for a dataset of %lld samples",
                              op, (long long)p[i], (long long)i, (long long)len);
            else
                (*order)[i] = p[i];
        }
        if (st == TL_OK) *norder = n;
        else {
            tl__free(*order);
            *order = NULL;
        }
    }
    tl_scope_end(sc);
    return st;
}

TLDEF tl_status tl_loader_next(tl_loader *l, tl_batch *out) {
    const char *op = "tl_loader_next";
    tl__lres r;
    int64_t k;
    int f;
    if (!out) return TL__FAIL(TL_ERR_ARG, "%s: out is NULL", op);
    memset(out, 0, sizeof *out);
    TL__CHECK1S(op, l);
    if (!l->started) { /* iter(loader): the base seed, then the sampler's whole epoch */
        int64_t *order, norder;
        tl_status st;
        tl__loader_threads(l);
        l->base_seed = tl__mt_u64(tl__gen(l->gen)) & UINT64_C(0x7fffffffffffffff);
        st = tl__loader_plan(l, op, 0, &order, &norder);
        if (st != TL_OK) return st;
        tl__loader_install(l, order, norder, 0);
    }
    if (l->next >= l->nbatches) {
        tl__loader_withdraw(l);
        l->epoch++;
        return TL_EPOCH_END;
    }
    k = l->next;
    if (l->nthreads) {
        tl__lslot *s = &l->slots[k % l->nslots];
        tl__mutex_lock(&l->mu);
        while (!(s->ready && s->k == k)) tl__cond_wait(&l->cv_ready, &l->mu);
        r = s->r;
        memset(&s->r, 0, sizeof s->r);
        s->ready = 0;
        l->next = k + 1;
        tl__cond_broadcast(&l->cv_work);
        tl__mutex_unlock(&l->mu);
        for (f = 0; f < r.b.n && r.st == TL_OK; f++) /* built untracked on a worker: now ours */
            if (!tl__ret(r.b.t[f])) {
                for (f++; f < r.b.n; f++) tl__release(r.b.t[f]);
                return tl__tls.status;
            }
    } else {
        tl__loader_build(l, k, &r);
        l->next = k + 1;
    }
    if (r.st != TL_OK) {
        if (r.msg) TL__FAIL(r.st, "%s: batch %lld of epoch %lld: %s", op, (long long)k, (long long)l->epoch, r.msg);
        tl__free(r.msg);
        return r.st;
    }
    *out = r.b;
    return TL_OK;
}

TLDEF tl_status tl_loader_reset(tl_loader *l) {
    TL__CHECK1S("tl_loader_reset", l);
    if (l->started) {
        tl__loader_withdraw(l);
        l->epoch++;
    }
    return TL_OK;
}

TLDEF void tl_loader_free(tl_loader *l) {
    int i;
    if (!l) return;
    if (l->nthreads) {
        tl__mutex_lock(&l->mu);
        l->stop = 1;
        tl__cond_broadcast(&l->cv_work);
        tl__mutex_unlock(&l->mu);
        for (i = 0; i < l->nthreads; i++) tl__thread_join(&l->threads[i]);
        for (i = 0; i < l->nslots; i++) tl__lres_free(&l->slots[i].r);
    }
    if (l->sync == 2) {
        tl__cond_destroy(&l->cv_ready);
        tl__cond_destroy(&l->cv_work);
        tl__mutex_destroy(&l->mu);
    }
    tl__free(l->order);
    tl__free(l->threads);
    tl__free(l->workers);
    tl__free(l->slots);
    tl_sampler_free(l->sampler);
    tl_dataset_free(l->ds);
    tl__free(l);
}

/* d[key] = the state of g now (an explicit generator the next draws come from), or None. */
static tl_status tl__pos_gen(tl_value *d, const char *key, tl_generator *g) {
    tl_scope sc;
    tl_tensor *gs;
    tl_status st;
    if (!g) return tl_value_set(d, key, tl_value_none());
    sc = tl_scope_begin();
    gs = tl_generator_get_state(g);
    st = gs ? tl_value_set(d, key, tl_value_tensor(gs)) : tl__tls.status;
    tl_scope_end(sc);
    return st;
}
/* Sets g (when not NULL) to the state saved under key; st is the status so far. */
static tl_status tl__pos_set_gen(const char *op, const tl_value *pos, const char *key, tl_generator *g, tl_status st) {
    const tl_value *v = tl_value_get(pos, key);
    tl_scope sc;
    tl_tensor *gs;
    if (st != TL_OK || !g) return st;
    if (tl_value_kind_of(v) != TL_VALUE_TENSOR)
        return TL__FAIL(TL_ERR_ARG, "%s: this loader draws from an explicit generator, the position needs its state "
                        "under '%s'", op, key);
    sc = tl_scope_begin();
    gs = tl_value_tensor_of(v);
    st = gs ? tl_generator_set_state(g, gs) : tl__tls.status;
    tl_scope_end(sc);
    return st;
}
TLDEF tl_value *tl_loader_position(const tl_loader *l) {
    const char *op = "tl_loader_position";
    tl_value *d;
    tl_status st = TL_OK;
    if (tl__null_in(op, l)) return NULL;
    d = tl_value_dict();
    if (!d) return NULL;
    st = tl_value_set(d, "epoch", tl_value_int(l->epoch));
    if (!st) st = tl_value_set(d, "batch", tl_value_int(l->started ? l->next : 0));
    if (!st) st = tl_value_set(d, "started", tl_value_bool(l->started));
    if (!st) st = tl_value_set(d, "base_seed", tl_value_int(l->started ? (int64_t)l->base_seed : 0));
    if (!st && l->started) {
        tl_generator copy = l->snap;
        tl_scope sc = tl_scope_begin();
        tl_tensor *gs = tl_generator_get_state(&copy);
        st = gs ? tl_value_set(d, "generator_state", tl_value_tensor(gs)) : tl__tls.status;
        tl_scope_end(sc);
    } else if (!st) {
        st = tl_value_set(d, "generator_state", tl_value_none());
    }
    if (!st) st = tl__pos_gen(d, "loader_generator", l->gen);
    if (!st) st = tl__pos_gen(d, "sampler_generator", l->sampler->g);
    if (!st) st = tl_value_set(d, "num_samples", tl_value_int(tl_sampler_len(l->sampler, l->ds->len)));
    if (!st) st = tl_value_set(d, "batch_size", tl_value_int(l->batch_size));
    if (st) {
        tl_value_free(d);
        return NULL;
    }
    return d;
}

/* pos[key] as an int (bools count), or -1 after recording what is wrong. */
static int64_t tl__pos_int(const char *op, const tl_value *pos, const char *key) {
    const tl_value *v = tl_value_get(pos, key);
    tl_value_kind k = tl_value_kind_of(v);
    if (!v || (k != TL_VALUE_INT && k != TL_VALUE_BOOL) || tl_value_as_int(v) < 0) {
        TL__FAIL(TL_ERR_ARG, "%s: the position has no non-negative int '%s' (got %s)", op, key,
                 v ? tl_value_kind_name(k) : "nothing");
        return -1;
    }
    return tl_value_as_int(v);
}
TLDEF tl_status tl_loader_set_position(tl_loader *l, const tl_value *pos) {
    const char *op = "tl_loader_set_position";
    int64_t epoch, batch, started, seed, ns, bs, *order = NULL, norder = 0;
    tl_generator tmp;
    const tl_value *gv;
    tl_tensor *gs = NULL;
    tl_status st;
    TL__CHECK2S(op, l, pos);
    if (tl_value_kind_of(pos) != TL_VALUE_DICT)
        return TL__FAIL(TL_ERR_ARG, "%s: a position is a dict (from tl_loader_position), got %s", op,
                        tl_value_kind_name(tl_value_kind_of(pos)));
    if ((epoch = tl__pos_int(op, pos, "epoch")) < 0 || (batch = tl__pos_int(op, pos, "batch")) < 0 ||
        (started = tl__pos_int(op, pos, "started")) < 0 || (seed = tl__pos_int(op, pos, "base_seed")) < 0 ||
        (ns = tl__pos_int(op, pos, "num_samples")) < 0 || (bs = tl__pos_int(op, pos, "batch_size")) < 0)
        return tl__tls.status;
    if (bs != l->batch_size)
        return TL__FAIL(TL_ERR_ARG, "%s: the position is for batch_size %lld, this loader has %lld", op, (long long)bs,
                        (long long)l->batch_size);
    if (ns != tl_sampler_len(l->sampler, l->ds->len))
        return TL__FAIL(TL_ERR_ARG, "%s: the position is for %lld samples per epoch, this loader's sampler gives %lld", op,
                        (long long)ns, (long long)tl_sampler_len(l->sampler, l->ds->len));
    if (started) {
        gv = tl_value_get(pos, "generator_state");
        if (tl_value_kind_of(gv) != TL_VALUE_TENSOR)
            return TL__FAIL(TL_ERR_ARG, "%s: a started position needs a tensor 'generator_state'", op);
        if (batch > tl__loader_nbatches(l, ns))
            return TL__FAIL(TL_ERR_ARG, "%s: the position says %lld batches were delivered, but an epoch has %lld", op,
                            (long long)batch, (long long)tl__loader_nbatches(l, ns));
        tl_scope sc = tl_scope_begin();
        memset(&tmp, 0, sizeof tmp);
        gs = tl_value_tensor_of(gv);
        st = gs ? tl_generator_set_state(&tmp, gs) : tl__tls.status;
        tl_scope_end(sc);
        if (st != TL_OK) return st;
    }
    if (!tl_value_get(pos, "loader_generator") || !tl_value_get(pos, "sampler_generator"))
        return TL__FAIL(TL_ERR_ARG, "%s: the position has no 'loader_generator' / 'sampler_generator' entries", op);
    tl__loader_withdraw(l);
    l->epoch = epoch;
    if (started) {
        l->snap = tmp;
        l->base_seed = (uint64_t)seed;
        tl__loader_threads(l);
        st = tl__loader_plan(l, op, 1, &order, &norder);
        if (st != TL_OK) return st;
        tl__loader_install(l, order, norder, batch);
    }
    /* explicit generators continue from where they were when the position was taken */
    st = tl__pos_set_gen(op, pos, "loader_generator", l->gen, TL_OK);
    return tl__pos_set_gen(op, pos, "sampler_generator", l->sampler->g, st);
}

/* ---- file readers ----
   One parser per format works on a byte buffer (tl__gunzip, tl__idx_parse, tl__npy_parse,
   tl__npz_parse, tl__csv_parse: a fuzz target can drive each from memory); the public *_from_buffer
   and file functions are thin wrappers. Every parser takes limits (tl__rdlim; the defaults come from
   TL_DATA_MAX_MB) and checks every size against the bytes actually present, with overflow-checked
   arithmetic. Messages read "op: source: what is wrong", source being the path or "buffer". */

#include <errno.h>

typedef struct tl__rdlim {
    size_t max_bytes; /* largest decompressed stream, entry or tensor */
} tl__rdlim;
static tl__rdlim tl__rdlim_default(void) {
    tl__rdlim r;
    r.max_bytes = tl__szmul((size_t)TL_DATA_MAX_MB, (size_t)1 << 20);
    return r;
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 4, 5)))
#endif
static tl_status tl__rd_fail(tl_status st, const char *op, const char *src, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return TL__FAIL(st, "%s: %s: %s", op, src, msg);
}
/* n bytes of elements of es bytes, each element's bytes reversed when swap (dst == src: in place). */
static void tl__copy_swap(unsigned char *dst, const unsigned char *src, size_t n, size_t es, int swap) {
    size_t i, j;
    if (!swap || es == 1) {
        if (n && dst != src) memcpy(dst, src, n);
        return;
    }
    if (dst == src) {
        for (i = 0; i + es <= n; i += es)
            for (j = 0; j < es / 2; j++) {
                unsigned char c = dst[i + j];
                dst[i + j] = dst[i + es - 1 - j];
                dst[i + es - 1 - j] = c;
            }
        return;
    }
    for (i = 0; i + es <= n; i += es)
        for (j = 0; j < es; j++) dst[i + j] = src[i + es - 1 - j];
}
static void tl__free_cb(void *data, void *user) {
    (void)user;
    tl__free(data);
}
static uint32_t tl__rd32be(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* ---- gzip (RFC 1952) over the zip reader's inflate ----
   One member: the 10-byte header (+ FEXTRA, FNAME, FCOMMENT, FHCRC), deflate data, then CRC-32 and
   ISIZE (the size mod 2^32). The deflate stream is taken to end where the 8-byte trailer begins;
   ISIZE gives the exact output size, so a truncated or corrupted stream, a wrong size and a second
   member all fail (inflate's size check or the CRC). Output sizes of 4 GiB or more are refused. */
static tl_status tl__gunzip(const char *op, const char *src, const unsigned char *p, size_t n, const tl__rdlim *lim,
                            unsigned char **out, size_t *outn) {
    size_t pos = 10, csize;
    uint32_t isize, crc;
    unsigned flg;
    const char *err;
    tl__crc ct;
    *out = NULL;
    *outn = 0;
    if (n < 18)
        return tl__rd_fail(TL_ERR_FORMAT, op, src, "truncated gzip file (%lu bytes; a gzip member has at least 18)",
                           (unsigned long)n);
    if (p[0] != 0x1f || p[1] != 0x8b) return tl__rd_fail(TL_ERR_FORMAT, op, src, "not gzip data (bad magic)");
    if (p[2] != 8) return tl__rd_fail(TL_ERR_FORMAT, op, src, "gzip compression method %u is not deflate (8)", p[2]);
    flg = p[3];
    if (flg & 0xe0) return tl__rd_fail(TL_ERR_FORMAT, op, src, "reserved gzip header flags are set (0x%02x)", flg);
    tl__crc_init(&ct);
    if (flg & 4) { /* FEXTRA: a 2-byte length, then that many bytes */
        size_t xlen = n - pos >= 2 ? (size_t)p[pos] | ((size_t)p[pos + 1] << 8) : 0;
        if (n - pos < 2 || n - pos - 2 < xlen)
            return tl__rd_fail(TL_ERR_FORMAT, op, src, "truncated gzip header (extra field)");
        pos += 2 + xlen;
    }
    if (flg & 8) { /* FNAME, FCOMMENT: zero-terminated */
        while (pos < n && p[pos]) pos++;
        if (pos++ >= n) return tl__rd_fail(TL_ERR_FORMAT, op, src, "truncated gzip header (file name)");
    }
    if (flg & 16) {
        while (pos < n && p[pos]) pos++;
        if (pos++ >= n) return tl__rd_fail(TL_ERR_FORMAT, op, src, "truncated gzip header (comment)");
    }
    if (flg & 2) { /* FHCRC: the low 16 bits of the CRC-32 of the header so far */
        if (n - pos < 2) return tl__rd_fail(TL_ERR_FORMAT, op, src, "truncated gzip header (header CRC)");
        if ((tl__crc_update(&ct, 0, p, pos) & 0xffffu) != ((unsigned)p[pos] | ((unsigned)p[pos + 1] << 8)))
            return tl__rd_fail(TL_ERR_FORMAT, op, src, "gzip header CRC mismatch (corrupt header)");
        pos += 2;
    }
    if (n - pos < 8)
        return tl__rd_fail(TL_ERR_FORMAT, op, src, "truncated gzip file (no room for deflate data and the 8-byte trailer)");
    csize = n - pos - 8;
    crc = tl__rd32(p + n - 8);
    isize = tl__rd32(p + n - 4);
    if ((size_t)isize > lim->max_bytes)
        return tl__rd_fail(TL_ERR_FORMAT, op, src, "gzip data claims %lu bytes, more than the reader's limit of %lu",
                           (unsigned long)isize, (unsigned long)lim->max_bytes);
    if ((uint64_t)isize > (uint64_t)csize * 1040 + 1024)
        return tl__rd_fail(TL_ERR_FORMAT, op, src, "gzip trailer claims %lu bytes from %lu deflated bytes, more than "
                           "DEFLATE can produce (truncated or corrupt file)", (unsigned long)isize, (unsigned long)csize);
    *out = (unsigned char *)tl__malloc(isize);
    if (!*out)
        return tl__rd_fail(TL_ERR_OOM, op, src, "out of memory decompressing %lu bytes", (unsigned long)isize);
    err = tl__inflate(p + pos, csize, *out, isize);
    if (!err && tl__crc_update(&ct, 0, *out, isize) != crc) err = "CRC-32 mismatch";
    if (err) {
        tl__free(*out);
        *out = NULL;
        return tl__rd_fail(TL_ERR_FORMAT, op, src, "corrupt gzip data: %s (truncated, damaged, or more than one member)",
                           err);
    }
    *outn = isize;
    return TL_OK;
}

/* ---- IDX: magic 00 00 <type> <ndim>, ndim big-endian u32 sizes, big-endian data ----
   own (NULL, or a pointer to p when p is a tl__malloc'd buffer) lets a decompressed file become the
   tensor's storage in place, so reading Fashion-MNIST holds one copy of the images: *own is set to
   NULL when the tensor took the buffer; otherwise the caller still frees it. */
static tl_tensor *tl__idx_decode(const char *op, const char *src, const unsigned char *p, size_t n,
                                 const tl__rdlim *lim, unsigned char **own) {
    int64_t shape[TL_MAX_DIMS];
    size_t bytes, es, hdr;
    tl_dtype dt;
    tl_tensor *t;
    int nd, i;
    if (n < 4) {
        tl__rd_fail(TL_ERR_FORMAT, op, src, "truncated IDX header (%lu bytes)", (unsigned long)n);
        return NULL;
    }
    if (p[0] || p[1]) {
        tl__rd_fail(TL_ERR_FORMAT, op, src, "bad IDX magic %02x %02x %02x %02x (expected 00 00 <type> <ndim>)", p[0], p[1],
                    p[2], p[3]);
        return NULL;
    }
    switch (p[2]) {
    case 0x08: dt = TL_U8; break;
    case 0x09: dt = TL_I8; break;
    case 0x0B: dt = TL_I16; break;
    case 0x0C: dt = TL_I32; break;
    case 0x0D: dt = TL_F32; break;
    case 0x0E: dt = TL_F64; break;
    default:
        tl__rd_fail(TL_ERR_FORMAT, op, src, "unknown IDX element type 0x%02x (08 u8, 09 i8, 0B i16, 0C i32, 0D f32, 0E f64)",
                    p[2]);
        return NULL;
    }
    nd = p[3];
    if (nd < 1 || nd > TL_MAX_DIMS) {
        tl__rd_fail(TL_ERR_FORMAT, op, src, "the IDX header declares %d dimensions (1 to %d are supported)", nd, TL_MAX_DIMS);
        return NULL;
    }
    hdr = 4 + 4 * (size_t)nd;
    if (n < hdr) {
        tl__rd_fail(TL_ERR_FORMAT, op, src, "truncated IDX header: %d dimensions need %lu bytes, the data has %lu", nd,
                    (unsigned long)hdr, (unsigned long)n);
        return NULL;
    }
    es = tl__dtype_sizes[dt];
    bytes = es;
    for (i = 0; i < nd; i++) {
        shape[i] = (int64_t)tl__rd32be(p + 4 + 4 * i);
        bytes = tl__szmul(bytes, (size_t)shape[i]);
    }
    if (bytes == SIZE_MAX || bytes > lim->max_bytes) {
        tl__rd_fail(TL_ERR_FORMAT, op, src, "IDX sizes %s of %s (%s bytes) exceed the reader's limit of %lu bytes",
                    tl__fmt_shape(nd, shape), tl__dtype_names[dt], bytes == SIZE_MAX ? "overflowing" : "too many",
                    (unsigned long)lim->max_bytes);
        return NULL;
    }
    if (n - hdr != bytes) {
        tl__rd_fail(TL_ERR_FORMAT, op, src, "%s: the header's sizes %s of %s need %lu data bytes, the file has %lu",
                    n - hdr < bytes ? "truncated IDX data" : "IDX sizes disagree with the file", tl__fmt_shape(nd, shape),
                    tl__dtype_names[dt], (unsigned long)bytes, (unsigned long)(n - hdr));
        return NULL;
    }
    if (own) { /* the data moves to the front of the buffer, which becomes the storage */
        memmove(*own, *own + hdr, bytes);
        tl__copy_swap(*own, *own, bytes, es, tl__host_is_little());
        t = tl_from_buffer(*own, nd, shape, dt, tl__free_cb, NULL);
        if (t) {
            tl__scope_forget(t); /* internal result: untracked, like tl__new's */
            *own = NULL;
        }
        return t;
    }
    t = tl__new(op, nd, shape, dt);
    if (!t) return NULL;
    tl__copy_swap((unsigned char *)t->storage->data, p + hdr, bytes, es, tl__host_is_little());
    return t;
}
static tl_tensor *tl__idx_parse(const char *op, const char *src, const unsigned char *p, size_t n,
                                const tl__rdlim *lim) {
    unsigned char *raw;
    size_t rn;
    tl_tensor *t;
    if (!(n >= 2 && p[0] == 0x1f && p[1] == 0x8b)) return tl__idx_decode(op, src, p, n, lim, NULL);
    /* .gz: decompress, then decode the IDX bytes in the decompressed buffer */
    if (tl__gunzip(op, src, p, n, lim, &raw, &rn) != TL_OK) return NULL;
    if (rn >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
        tl__free(raw);
        tl__rd_fail(TL_ERR_FORMAT, op, src, "gzip data inside gzip data (refused)");
        return NULL;
    }
    t = tl__idx_decode(op, src, raw, rn, lim, &raw);
    tl__free(raw); /* NULL when the tensor took it */
    return t;
}

/* ---- .npy (numpy/lib/format.py) ----
   "\x93NUMPY", major, minor, header length (u16 for 1.0, u32 for 2.0/3.0), then a Python dict
   literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and '\n',
   then the data. The header is parsed as exactly that: three keys, string/bool/int-tuple values. */

typedef struct tl__npyh {
    const unsigned char *p, *end, *base;
    const char *op, *src;
    char descr[16];
    int fortran, nd, have_descr, have_fortran, have_shape;
    int64_t shape[TL_MAX_DIMS];
} tl__npyh;
static void tl__npyh_ws(tl__npyh *h) {
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}
static int tl__npyh_fail(tl__npyh *h, const char *what) {
    tl__rd_fail(TL_ERR_FORMAT, h->op, h->src, "bad .npy header dict: %s (at header byte %ld)", what,
                (long)(h->p - h->base));
    return 0;
}
/* A quoted string (no escapes) into buf, or 0. */
static int tl__npyh_str(tl__npyh *h, char *buf, size_t cap) {
    unsigned char q;
    size_t k = 0;
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return tl__npyh_fail(h, "expected a quoted string");
    q = *h->p++;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\') return tl__npyh_fail(h, "escape sequences are not supported in header strings");
        if (k + 1 >= cap) return tl__npyh_fail(h, "string too long");
        buf[k++] = (char)*h->p++;
    }
    if (h->p >= h->end) return tl__npyh_fail(h, "unterminated string");
    h->p++;
    buf[k] = 0;
    return 1;
}
/* (int, int, ...) with an optional trailing comma; () is a 0-dim array. */
static int tl__npyh_shape(tl__npyh *h) {
    h->nd = 0;
    if (h->p >= h->end || *h->p != '(') return tl__npyh_fail(h, "'shape' must be a tuple of ints");
    h->p++;
    for (;;) {
        int64_t v = 0;
        int digits = 0;
        tl__npyh_ws(h);
        if (h->p < h->end && *h->p == ')') break;
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            if (v > (INT64_C(1) << 56)) return tl__npyh_fail(h, "a shape entry is too large");
            v = v * 10 + (*h->p++ - '0');
            digits++;
        }
        if (!digits) return tl__npyh_fail(h, "expected a non-negative int in 'shape'");
        if (h->p < h->end && *h->p == 'L') h->p++; /* Python 2 longs in old files */
        if (h->nd == TL_MAX_DIMS) return tl__npyh_fail(h, "more dimensions than TL_MAX_DIMS");
        h->shape[h->nd++] = v;
        tl__npyh_ws(h);
        if (h->p < h->end && *h->p == ',') {
            h->p++;
            continue;
        }
        if (h->p < h->end && *h->p == ')') break;
        return tl__npyh_fail(h, "expected ',' or ')' in 'shape'");
    }
    h->p++;
    return 1;
}
static int tl__npyh_parse(tl__npyh *h) {
    char key[32];
    tl__npyh_ws(h);
    if (h->p >= h->end || *h->p != '{') return tl__npyh_fail(h, "expected '{'");
    h->p++;
    for (;;) {
        tl__npyh_ws(h);
        if (h->p < h->end && *h->p == '}') break;
        if (!tl__npyh_str(h, key, sizeof key)) return 0;
        tl__npyh_ws(h);
        if (h->p >= h->end || *h->p != ':') return tl__npyh_fail(h, "expected ':' after a key");
        h->p++;
        tl__npyh_ws(h);
        if (strcmp(key, "descr") == 0 && !h->have_descr) {
            if (!tl__npyh_str(h, h->descr, sizeof h->descr))
                return 0; /* a list here is a structured dtype: refused by the message above */
            h->have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !h->have_fortran) {
            if (h->end - h->p >= 4 && memcmp(h->p, "True", 4) == 0) h->fortran = 1, h->p += 4;
            else if (h->end - h->p >= 5 && memcmp(h->p, "False", 5) == 0) h->fortran = 0, h->p += 5;
            else return tl__npyh_fail(h, "'fortran_order' must be True or False");
            h->have_fortran = 1;
        } else if (strcmp(key, "shape") == 0 && !h->have_shape) {
            if (!tl__npyh_shape(h)) return 0;
            h->have_shape = 1;
        } else {
            tl__rd_fail(TL_ERR_FORMAT, h->op, h->src, "bad .npy header dict: %s key '%s' (numpy requires exactly "
                        "'descr', 'fortran_order' and 'shape')",
                        (!strcmp(key, "descr") || !strcmp(key, "fortran_order") || !strcmp(key, "shape")) ? "duplicate"
                                                                                                           : "unexpected",
                        key);
            return 0;
        }
        tl__npyh_ws(h);
        if (h->p < h->end && *h->p == ',') {
            h->p++;
            continue;
        }
        if (h->p < h->end && *h->p == '}') break;
        return tl__npyh_fail(h, "expected ',' or '}'");
    }
    h->p++;
    tl__npyh_ws(h);
    if (h->p != h->end) return tl__npyh_fail(h, "unexpected text after the dict");
    if (!h->have_descr || !h->have_fortran || !h->have_shape) {
        tl__rd_fail(TL_ERR_FORMAT, h->op, h->src, "bad .npy header dict: no '%s' key",
                    !h->have_descr ? "descr" : !h->have_fortran ? "fortran_order" : "shape");
        return 0;
    }
    return 1;
}
/* numpy's dtype.str for our dtypes ("f4", "b1", ...; NULL: numpy has no such dtype). */
static const char *tl__npy_code(tl_dtype dt) {
    static const char *const codes[TL_DTYPE_COUNT] = {"f4", "f8", "f2", NULL, "i8", "i4", "i2", "i1", "u1", "b1"};
    return TL__VALID_DT(dt) ? codes[dt] : NULL;
}
static tl_tensor *tl__npy_parse(const char *op, const char *src, const unsigned char *p, size_t n, const tl__rdlim *lim) {
    tl__npyh h;
    size_t hlen, hstart, bytes, es;
    int little = tl__host_is_little(), swap, i, k;
    tl_dtype dt = TL_DTYPE_COUNT;
    tl_tensor *t, *r;
    if (n < 10 || memcmp(p, "\x93NUMPY", 6) != 0) {
        tl__rd_fail(TL_ERR_FORMAT, op, src, n >= 6 && memcmp(p, "\x93NUMPY", 6) == 0 ? "truncated .npy header"
                    : "not a .npy file (it does not start with \\x93NUMPY)");
        return NULL;
    }
    if (p[6] == 1) {
        hlen = (size_t)p[8] | ((size_t)p[9] << 8);
        hstart = 10;
    } else if ((p[6] == 2 || p[6] == 3) && n >= 12) {
        hlen = (size_t)tl__rd32(p + 8);
        hstart = 12;
    } else {
        tl__rd_fail(TL_ERR_FORMAT, op, src, "unsupported .npy format version %u.%u (1.0, 2.0 and 3.0 are readable)", p[6],
                    p[7]);
        return NULL;
    }
    if (hlen > n - hstart) {
        tl__rd_fail(TL_ERR_FORMAT, op, src, "truncated .npy header: %lu header bytes declared, %lu present",
                    (unsigned long)hlen, (unsigned long)(n - hstart));
        return NULL;
    }
    memset(&h, 0, sizeof h);
    h.p = h.base = p + hstart;
    h.end = p + hstart + hlen;
    h.op = op;
    h.src = src;
    if (!tl__npyh_parse(&h)) return NULL;
    /* descr: byte order ('<', '>', '|', '=') then a code */
    swap = (h.descr[0] == '<' && !little) || (h.descr[0] == '>' && little);
    if (strchr("<>|=", h.descr[0]) && h.descr[0])
        for (k = 0; k < TL_DTYPE_COUNT; k++)
            if (tl__npy_code((tl_dtype)k) && strcmp(h.descr + 1, tl__npy_code((tl_dtype)k)) == 0) dt = (tl_dtype)k;
    if (dt == TL_DTYPE_COUNT) {
        const char *c = h.descr[0] && strchr("<>|=", h.descr[0]) ? h.descr + 1 : h.descr;
        tl__rd_fail(TL_ERR_DTYPE, op, src, "numpy dtype '%s' is not supported%s", h.descr,
                    c[0] == 'O' ? " (object arrays hold pickled Python objects: refused)"
                    : c[0] == 'u' ? " (only uint8 of numpy's unsigned types has a tensorlite dtype)"
                                  : " (bool, uint8, int8/16/32/64 and float16/32/64 are)");
        return NULL;
    }
    es = tl__dtype_sizes[dt];
    bytes = es;
    for (i = 0; i < h.nd; i++) bytes = tl__szmul(bytes, (size_t)h.shape[i]);
    if (bytes == SIZE_MAX || bytes > lim->max_bytes) {
        tl__rd_fail(TL_ERR_FORMAT, op, src, "shape %s of %s needs %s bytes, more than the reader's limit of %lu",
                    tl__fmt_shape(h.nd, h.shape), h.descr, bytes == SIZE_MAX ? "overflowing" : "too many",
                    (unsigned long)lim->max_bytes);
        return NULL;
    }
    if (n - hstart - hlen != bytes) {
        tl__rd_fail(TL_ERR_FORMAT, op, src, "%s: shape %s of %s needs %lu data bytes, %lu present",
                    n - hstart - hlen < bytes ? "truncated .npy data" : ".npy sizes disagree with the file",
                    tl__fmt_shape(h.nd, h.shape), h.descr, (unsigned long)bytes, (unsigned long)(n - hstart - hlen));
        return NULL;
    }
    if (dt == TL_BOOL) { /* numpy bools are 0/1 bytes; anything else would not be a valid bool (either order) */
        const unsigned char *b = p + hstart + hlen;
        size_t j;
        for (j = 0; j < bytes; j++)
            if (b[j] > 1) {
                tl__rd_fail(TL_ERR_FORMAT, op, src, "bool element %lu has byte value %u (must be 0 or 1)",
                            (unsigned long)j, b[j]);
                return NULL;
            }
    }
    if (h.fortran && h.nd > 1) { /* column-major: read as the reversed shape, then transpose back */
        int64_t rev[TL_MAX_DIMS];
        for (i = 0; i < h.nd; i++) rev[i] = h.shape[h.nd - 1 - i];
        t = tl__new(op, h.nd, rev, dt);
        if (!t) return NULL;
        tl__copy_swap((unsigned char *)t->storage->data, p + hstart + hlen, bytes, es, swap);
        r = tl__alias(op, t);
        if (r) {
            for (i = 0; i < h.nd; i++) {
                r->shape[i] = t->shape[h.nd - 1 - i];
                r->stride[i] = t->stride[h.nd - 1 - i];
            }
            tl__release(t);
            t = tl__copy_as(op, r, dt);
            tl__release(r);
        } else {
            tl__release(t);
            t = NULL;
        }
        return t;
    }
    t = tl__new(op, h.nd, h.shape, dt);
    if (!t) return NULL;
    tl__copy_swap((unsigned char *)t->storage->data, p + hstart + hlen, bytes, es, swap);
    return t;
}
/* The .npy bytes of t into b: format 1.0 (2.0 when the header needs more than 65535 bytes), header
   padded so the data starts at a multiple of 64, C order, the host's byte order. */
static tl_status tl__npy_build(const char *op, const tl_tensor *t, tl__bb *b) {
    const char *code = tl__npy_code(t->dtype);
    char head[64 + TL_MAX_DIMS * 24], shp[TL_MAX_DIMS * 24];
    size_t hl, pre, total, k;
    int i, n = 0;
    tl_tensor *c;
    if (!code) return TL__FAIL(TL_ERR_DTYPE, "%s: numpy has no %s dtype (convert with tl_to_dtype first)", op, TL__DT(t));
    for (i = 0; i < t->ndim; i++)
        n += snprintf(shp + n, sizeof shp - (size_t)n, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (t->ndim == 1) snprintf(shp + n, sizeof shp - (size_t)n, ",");
    if (t->ndim == 0) shp[0] = 0;
    snprintf(head, sizeof head, "{'descr': '%c%s', 'fortran_order': False, 'shape': (%s), }",
             tl__dtype_sizes[t->dtype] == 1 ? '|' : tl__host_is_little() ? '<' : '>', code, shp);
    hl = strlen(head);
    pre = hl + 1 + 10 > 65535 ? 12 : 10;
    total = pre + hl + 1;
    total += (64 - total % 64) % 64;
    tl__bb_put(b, "\x93NUMPY", 6);
    tl__bb_byte(b, pre == 10 ? 1 : 2);
    tl__bb_byte(b, 0);
    if (pre == 10) tl__bb_u16(b, (unsigned)(total - pre));
    else tl__bb_u32(b, (uint32_t)(total - pre));
    tl__bb_put(b, head, hl);
    for (k = pre + hl; k + 1 < total; k++) tl__bb_byte(b, ' ');
    tl__bb_byte(b, '\n');
    c = tl__contig(op, t);
    if (!c) return tl__tls.status;
    tl__bb_put(b, tl__ptr(c), (size_t)tl__prod(c->ndim, c->shape) * tl__dtype_sizes[c->dtype]);
    tl__release(c);
    if (b->oom) return TL__FAIL(TL_ERR_OOM, "%s: out of memory for the .npy bytes of %s %s", op, TL__DT(t), TL__SH(t));
    return TL_OK;
}

/* ---- .npz: a zip of <name>.npy entries (stored or deflated), read with the zip reader ---- */
static tl_value *tl__npz_parse(const char *op, const char *src, const unsigned char *p, size_t n, const tl__rdlim *lim) {
    tl__ld ld;
    tl_value *d = NULL;
    size_t k;
    if (n < 4 || memcmp(p, "PK", 2) != 0) {
        tl__rd_fail(TL_ERR_FORMAT, op, src, "not an .npz file (it does not start with the zip signature PK)");
        return NULL;
    }
    memset(&ld, 0, sizeof ld);
    ld.op = op;
    ld.src = src;
    ld.p = p;
    ld.n = n;
    ld.any_names = 1;
    tl__crc_init(&ld.crc);
    if (!tl__zip_parse(&ld)) goto fail;
    d = tl_value_dict();
    if (!d) goto fail;
    for (k = 0; k < ld.nents; k++) {
        const tl__zent *e = &ld.ents[k];
        const unsigned char *rec;
        unsigned char *owned;
        char esrc[512], *key;
        int nl = (int)(e->nlen > 200 ? 200 : e->nlen);
        tl_tensor *t;
        tl_status st;
        if (e->nlen < 5 || memcmp(e->name + e->nlen - 4, ".npy", 4) != 0) {
            tl__rd_fail(TL_ERR_FORMAT, op, src, "entry '%.*s' is not a .npy array", nl, e->name);
            goto fail;
        }
        if (e->usize > lim->max_bytes) {
            tl__rd_fail(TL_ERR_FORMAT, op, src, "entry '%.*s' claims %llu bytes, more than the reader's limit of %lu", nl,
                        e->name, (unsigned long long)e->usize, (unsigned long)lim->max_bytes);
            goto fail;
        }
        if (!tl__zip_read(&ld, e, &rec, &owned)) goto fail;
        snprintf(esrc, sizeof esrc, "%s: %.*s", src, nl, e->name);
        t = tl__npy_parse(op, esrc, rec, (size_t)e->usize, lim);
        tl__free(owned);
        if (!t) goto fail;
        key = (char *)tl__malloc(e->nlen - 3);
        if (!key) {
            tl__release(t);
            TL__FAIL(TL_ERR_OOM, "%s: out of memory", op);
            goto fail;
        }
        memcpy(key, e->name, e->nlen - 4);
        key[e->nlen - 4] = 0;
        st = tl_value_set(d, key, tl_value_tensor(t)); /* np.load's keys drop ".npy" */
        tl__free(key);
        tl__release(t);
        if (st != TL_OK) goto fail;
    }
    tl__ld_free(&ld);
    return d;
fail:
    if (!tl__tls.status) TL__FAIL(TL_ERR_FORMAT, "%s: %s: load failed", op, src);
    tl_value_free(d);
    tl__ld_free(&ld);
    return NULL;
}

/* ---- CSV of numbers: values are gathered as double (float dtypes) or int64 (integer dtypes, parsed
   exactly and range-checked), then stored in the requested dtype ---- */
typedef union tl__csvv { double d; int64_t i; } tl__csvv;
static tl_tensor *tl__csv_parse(const char *op, const char *src, const unsigned char *p, size_t n,
                                const tl_csv_opts *opts, const tl__rdlim *lim) {
    char delim = opts && opts->delimiter ? opts->delimiter : ',';
    tl_dtype dt = opts ? opts->dtype : TL_F32;
    int header = opts && opts->header, is_int;
    int64_t lo = 0, hi = 0, rows = 0, cols = -1, shape[2];
    size_t pos = 0, cap = 0, nv = 0;
    long line = 0;
    tl__csvv *vals = NULL;
    tl_tensor *t;
    if (!TL__VALID_DT(dt)) {
        TL__FAIL(TL_ERR_DTYPE, "%s: invalid dtype %d", op, (int)dt);
        return NULL;
    }
    if (delim == '\n' || delim == '\r' || delim == '"' || (delim >= '0' && delim <= '9') || delim == '.' || delim == '-' ||
        delim == '+') {
        TL__FAIL(TL_ERR_ARG, "%s: '%c' cannot be a delimiter", op, delim == '\n' || delim == '\r' ? ' ' : delim);
        return NULL;
    }
    is_int = !TL__IS_FLOAT(dt);
    if (is_int) tl__int_bounds(dt, &lo, &hi);
    while (pos < n) {
        const unsigned char *ls = p + pos, *le = (const unsigned char *)memchr(ls, '\n', n - pos), *q;
        int64_t c = 0;
        if (!le) le = p + n;
        pos = (size_t)(le - p) + 1;
        line++;
        if (le > ls && le[-1] == '\r') le--;
        if (header && line == 1) continue;
        for (q = ls; q < le && (*q == ' ' || *q == '\t'); q++) {}
        if (q == le) continue; /* blank line */
        for (q = ls;; q++) { /* one field per delimiter-separated piece */
            const unsigned char *fs = q, *fe;
            char buf[80], *endp;
            size_t len;
            while (q < le && *q != (unsigned char)delim) q++;
            fe = q;
            while (fs < fe && (*fs == ' ' || *fs == '\t') && *fs != (unsigned char)delim) fs++;
            while (fe > fs && (fe[-1] == ' ' || fe[-1] == '\t') && fe[-1] != (unsigned char)delim) fe--;
            len = (size_t)(fe - fs);
            if (len == 0 || len >= sizeof buf) {
                tl__rd_fail(TL_ERR_FORMAT, op, src, "line %ld, field %lld: %s", line, (long long)c + 1,
                            len ? "field too long for a number" : "empty field");
                goto fail;
            }
            memcpy(buf, fs, len);
            buf[len] = 0;
            if (nv == cap) {
                size_t ncap = cap ? cap * 2 : 1024;
                void *nb;
                if (tl__szmul(ncap, sizeof *vals) > lim->max_bytes) {
                    tl__rd_fail(TL_ERR_FORMAT, op, src, "more than %lu values (the reader's limit)",
                                (unsigned long)(lim->max_bytes / sizeof *vals));
                    goto fail;
                }
                nb = tl__malloc(tl__szmul(ncap, sizeof *vals));
                if (!nb) {
                    tl__rd_fail(TL_ERR_OOM, op, src, "out of memory for %lu values", (unsigned long)ncap);
                    goto fail;
                }
                if (nv) memcpy(nb, vals, nv * sizeof *vals);
                tl__free(vals);
                vals = (tl__csvv *)nb;
                cap = ncap;
            }
            errno = 0;
            if (is_int) {
                long long v = strtoll(buf, &endp, 10);
                if (*endp || endp == buf) {
                    tl__rd_fail(TL_ERR_FORMAT, op, src, "line %ld, field %lld: '%s' is not an integer", line,
                                (long long)c + 1, buf);
                    goto fail;
                }
                if (errno == ERANGE || v < lo || v > hi) {
                    tl__rd_fail(TL_ERR_FORMAT, op, src, "line %ld, field %lld: %s is out of range for %s", line,
                                (long long)c + 1, buf, tl__dtype_names[dt]);
                    goto fail;
                }
                vals[nv++].i = (int64_t)v;
            } else {
                double v = strtod(buf, &endp);
                if (*endp || endp == buf) {
                    tl__rd_fail(TL_ERR_FORMAT, op, src, "line %ld, field %lld: '%s' is not a number", line,
                                (long long)c + 1, buf);
                    goto fail;
                }
                vals[nv++].d = v;
            }
            c++;
            if (q >= le) break;
        }
        if (cols >= 0 && c != cols) {
            tl__rd_fail(TL_ERR_FORMAT, op, src, "line %ld has %lld fields, the first data row has %lld", line, (long long)c,
                        (long long)cols);
            goto fail;
        }
        cols = c;
        rows++;
    }
    shape[0] = rows;
    shape[1] = cols < 0 ? 0 : cols;
    t = tl__new(op, 2, shape, dt);
    if (t && nv) tl__store((char *)t->storage->data, dt, (int64_t)tl__dtype_sizes[dt], vals, is_int ? TL__CT_I64 : TL__CT_F64,
                           (int64_t)nv);
    tl__free(vals);
    return t;
fail:
    tl__free(vals);
    return NULL;
}

/* ---- public wrappers ---- */

TLDEF tl_tensor *tl_load_idx_from_buffer(const void *data, size_t size) {
    tl__rdlim lim = tl__rdlim_default();
    TL__CHECK1("tl_load_idx_from_buffer", data);
    return tl__ret(tl__idx_parse("tl_load_idx_from_buffer", "buffer", (const unsigned char *)data, size, &lim));
}
TLDEF tl_tensor *tl_load_npy_from_buffer(const void *data, size_t size) {
    tl__rdlim lim = tl__rdlim_default();
    TL__CHECK1("tl_load_npy_from_buffer", data);
    return tl__ret(tl__npy_parse("tl_load_npy_from_buffer", "buffer", (const unsigned char *)data, size, &lim));
}
TLDEF tl_value *tl_load_npz_from_buffer(const void *data, size_t size) {
    tl__rdlim lim = tl__rdlim_default();
    if (tl__null_in("tl_load_npz_from_buffer", data)) return NULL;
    return tl__npz_parse("tl_load_npz_from_buffer", "buffer", (const unsigned char *)data, size, &lim);
}
TLDEF tl_tensor *tl_load_csv_from_buffer(const void *data, size_t size, const tl_csv_opts *opts) {
    tl__rdlim lim = tl__rdlim_default();
    TL__CHECK1("tl_load_csv_from_buffer", data);
    return tl__ret(tl__csv_parse("tl_load_csv_from_buffer", "buffer", (const unsigned char *)data, size, opts, &lim));
}
TLDEF tl_status tl_save_npy_to_buffer(const tl_tensor *t, void **data, size_t *size) {
    tl__bb b;
    tl_status st;
    if (!data || !size) return TL__FAIL(TL_ERR_ARG, "tl_save_npy_to_buffer: data or size is NULL");
    *data = NULL;
    *size = 0;
    TL__CHECK1S("tl_save_npy_to_buffer", t);
    memset(&b, 0, sizeof b);
    st = tl__npy_build("tl_save_npy_to_buffer", t, &b);
    if (st != TL_OK) {
        tl__free(b.p);
        return st;
    }
    *data = b.p;
    *size = b.n;
    return TL_OK;
}
#ifndef TL_NO_STDIO
/* Reads path and runs parse on its bytes: the shared body of the file readers. */
typedef void *(*tl__rd_parse_fn)(const char *op, const char *src, const unsigned char *p, size_t n, const void *ctx,
                                 const tl__rdlim *lim);
static void *tl__rd_file(const char *op, const char *path, tl__rd_parse_fn parse, const void *ctx) {
    unsigned char *buf;
    size_t n;
    tl__rdlim lim = tl__rdlim_default();
    void *r;
    if (tl__null_in(op, path)) return NULL;
    if (tl__read_file(op, path, lim.max_bytes, "TL_DATA_MAX_MB", &buf, &n) != TL_OK) return NULL;
    r = parse(op, path, buf, n, ctx, &lim);
    tl__free(buf);
    return r;
}
static void *tl__rd_idx(const char *op, const char *src, const unsigned char *p, size_t n, const void *ctx,
                        const tl__rdlim *lim) {
    (void)ctx;
    return tl__idx_parse(op, src, p, n, lim);
}
static void *tl__rd_npy(const char *op, const char *src, const unsigned char *p, size_t n, const void *ctx,
                        const tl__rdlim *lim) {
    (void)ctx;
    return tl__npy_parse(op, src, p, n, lim);
}
static void *tl__rd_npz(const char *op, const char *src, const unsigned char *p, size_t n, const void *ctx,
                        const tl__rdlim *lim) {
    (void)ctx;
    return tl__npz_parse(op, src, p, n, lim);
}
static void *tl__rd_csv(const char *op, const char *src, const unsigned char *p, size_t n, const void *ctx,
                        const tl__rdlim *lim) {
    return tl__csv_parse(op, src, p, n, (const tl_csv_opts *)ctx, lim);
}
TLDEF tl_tensor *tl_load_idx(const char *path) {
    return tl__ret((tl_tensor *)tl__rd_file("tl_load_idx", path, tl__rd_idx, NULL));
}
TLDEF tl_tensor *tl_load_npy(const char *path) {
    return tl__ret((tl_tensor *)tl__rd_file("tl_load_npy", path, tl__rd_npy, NULL));
}
TLDEF tl_value *tl_load_npz(const char *path) { return (tl_value *)tl__rd_file("tl_load_npz", path, tl__rd_npz, NULL); }
TLDEF tl_tensor *tl_load_csv(const char *path, const tl_csv_opts *opts) {
    return tl__ret((tl_tensor *)tl__rd_file("tl_load_csv", path, tl__rd_csv, opts));
}
static tl_status tl__bytes_produce(void *ctx, tl__sink *s) {
    tl__bb *b = (tl__bb *)ctx;
    if (tl__sink_put(s, b->p, b->n)) return TL_OK;
    return TL__FAIL(TL_ERR_IO, "tl_save_npy: writing the file failed after %llu bytes", (unsigned long long)s->off);
}
TLDEF tl_status tl_save_npy(const tl_tensor *t, const char *path) {
    const char *op = "tl_save_npy";
    tl__bb b;
    tl_status st;
    TL__CHECK2S(op, t, path);
    memset(&b, 0, sizeof b);
    st = tl__npy_build(op, t, &b);
    if (st == TL_OK) st = tl__atomic_write(op, path, tl__bytes_produce, &b);
    tl__free(b.p);
    return st;
}

/* MNIST-style directory: <root>/<prefix>-images-idx3-ubyte(.gz) and -labels-idx1-ubyte(.gz). */
static tl_tensor *tl__mnist_file(const char *op, const char *root, const char *prefix, const char *what) {
    char path[4096];
    FILE *f;
    int k;
    for (k = 0; k < 2; k++) { /* the .gz first (what Debian's packages install), then the raw file */
        snprintf(path, sizeof path, "%s/%s-%s%s", root, prefix, what, k == 0 ? ".gz" : "");
        f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return (tl_tensor *)tl__rd_file(op, path, tl__rd_idx, NULL);
        }
    }
    TL__FAIL(TL_ERR_IO, "%s: cannot open '%s/%s-%s.gz' (nor the file without .gz)", op, root, prefix, what);
    return NULL;
}
TLDEF tl_dataset *tl_mnist_dataset(const char *root, int train) {
    const char *op = "tl_mnist_dataset", *prefix = train ? "train" : "t10k";
    tl_tensor *img, *lab, *x = NULL, *y = NULL;
    tl_dataset *ds = NULL;
    if (tl__null_in(op, root)) return NULL;
    img = tl__mnist_file(op, root, prefix, "images-idx3-ubyte");
    lab = img ? tl__mnist_file(op, root, prefix, "labels-idx1-ubyte") : NULL;
    if (img && lab) {
        if (img->dtype != TL_U8 || img->ndim != 3 || lab->dtype != TL_U8 || lab->ndim != 1 || img->shape[0] != lab->shape[0])
            TL__FAIL(TL_ERR_FORMAT, "%s: %s: images are %s %s and labels %s %s (expected uint8 [N, H, W] and uint8 [N])", op,
                     root, TL__DT(img), TL__SH(img), TL__DT(lab), TL__SH(lab));
        else {
            int64_t shape[4];
            shape[0] = img->shape[0];
            shape[1] = 1;
            shape[2] = img->shape[1];
            shape[3] = img->shape[2];
            x = tl__alias(op, img); /* [N, 1, H, W]: the channel dim ToTensor adds */
            if (x) {
                x->ndim = 4;
                memcpy(x->shape, shape, sizeof shape);
                tl__set_contig_strides(x);
            }
            y = tl__copy_as(op, lab, TL_I64); /* torchvision's targets are int64 */
            if (x && y) {
                tl_tensor *xy[2];
                xy[0] = x;
                xy[1] = y;
                ds = tl_tensor_dataset(2, xy);
            }
        }
    }
    tl__release(img);
    tl__release(lab);
    tl__release(x);
    tl__release(y);
    return ds;
}
#endif

/* ===== >>debug ================================================================================ */

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
       0.2.0  (2026-11-22) tape autograd; >>functional (linear, conv2d, pools, batch/layer norm, dropout,
              embedding, losses); >>modules (registry, state_dict, repr, layers, nn.init); >>serialize
              (torch.save/torch.load compatible); >>random (PyTorch's CPU streams bit for bit)
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
