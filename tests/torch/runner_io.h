/* runner_io.h - the binary case/result file primitives the tests/torch C runners share (include
   after tensorlite.h, with RUNNER_NAME defined to the runner's name for messages).
   Case files: an 8-byte magic, then little-endian u32/i32/i64/u64/f64 fields and length-prefixed
   strings, read from one buffer (g_buf, whole file) with bounds checks; results are written to g_out
   in the same encoding (static inline: a runner uses what it needs, unused ones do not warn).
   Any malformed input ends the runner with exit status 2 and a message. */
#ifndef RUNNER_IO_H
#define RUNNER_IO_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* parse_shape: "2,3,4" into shape (at most TL_MAX_DIMS), "-" for a 0-d shape; returns ndim.
   Shared by the text-protocol runners (data_runner.c, random_runner.c). */
static inline int parse_shape(const char *s, int64_t *shape) {
    int n = 0;
    if (strcmp(s, "-") == 0) return 0;
    while (*s && n < TL_MAX_DIMS) {
        char *end;
        shape[n++] = strtoll(s, &end, 10);
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

/* RUNNER_IO_TEXT_ONLY: a runner that speaks the text protocol takes parse_shape alone (the
   binary reader's globals below would be unused). */
#ifndef RUNNER_IO_TEXT_ONLY
#ifndef RUNNER_NAME
#define RUNNER_NAME "runner"
#endif

static unsigned char *g_buf; /* the whole case file */
static size_t g_len, g_pos;  /* its size and the read position */
static FILE *g_out;          /* the result file */

static inline void die(const char *msg) {
    fprintf(stderr, RUNNER_NAME ": %s\n", msg);
    exit(2);
}
static inline void rd(void *dst, size_t n) {
    if (n > g_len - g_pos) die("truncated case file");
    memcpy(dst, g_buf + g_pos, n);
    g_pos += n;
}
static inline uint32_t rd_u32(void) { uint32_t v; rd(&v, 4); return v; }
static inline int32_t rd_i32(void) { int32_t v; rd(&v, 4); return v; }
static inline int64_t rd_i64(void) { int64_t v; rd(&v, 8); return v; }
static inline uint64_t rd_u64(void) { uint64_t v; rd(&v, 8); return v; }
static inline double rd_f64(void) { double v; rd(&v, 8); return v; }

static inline void wr(const void *p, size_t n) {
    if (n && fwrite(p, 1, n, g_out) != n) die("write failed");
}
static inline void wr_u32(uint32_t v) { wr(&v, 4); }
static inline void wr_i32(int32_t v) { wr(&v, 4); }
static inline void wr_i64(int64_t v) { wr(&v, 8); }
static inline void wr_u64(uint64_t v) { wr(&v, 8); }
static inline void wr_f64(double v) { wr(&v, 8); }
static inline void wr_str(const char *s) { /* u32 length, then the bytes */
    size_t n = s ? strlen(s) : 0;
    wr_u32((uint32_t)n);
    wr(s, n);
}

/* Reads the case file at path into g_buf, checks its 8-byte magic and leaves g_pos after it;
   opens the result file (append when append is non-zero: a restart after a crashed case). */
static inline void runner_open(const char *cases, const char *magic, const char *results, int append) {
    FILE *f = fopen(cases, "rb");
    long sz;
    if (!f) die("cannot open case file");
    if (fseek(f, 0, SEEK_END) != 0) die("seek");
    sz = ftell(f);
    if (sz < 12) die("case file too small");
    rewind(f);
    g_buf = (unsigned char *)malloc((size_t)sz);
    if (!g_buf) die("oom");
    if (fread(g_buf, 1, (size_t)sz, f) != (size_t)sz) die("read failed");
    fclose(f);
    g_len = (size_t)sz;
    if (memcmp(g_buf, magic, 8) != 0) die("bad magic");
    g_pos = 8;
    g_out = fopen(results, append ? "ab" : "wb");
    if (!g_out) die("cannot open result file");
}

/* A case's result ends with what it leaked (tensors and storages alive now minus t0, s0, counted
   before the case) and RES_END; tl_clear_error() first, so a case's error does not outlive it. */
#define RES_END 0x444E4554u /* "TEND" */
static inline void wr_case_end(long t0, long s0) {
    tl_clear_error();
    wr_i64((int64_t)(tl_debug_live_tensors() - t0));
    wr_i64((int64_t)(tl_debug_live_storages() - s0));
    wr_u32(RES_END);
    fflush(g_out);
}
/* main's return: closes the result file, frees the case buffer */
static inline int runner_close(void) {
    fclose(g_out);
    free(g_buf);
    return 0;
}

/* One step of an input's view recipe (transpose, slice, ...): kind, then nargs i64 arguments. */
typedef struct step_t {
    int kind, nargs;
    int64_t args[TL_MAX_DIMS + 4];
} step_t;

/* u32 length + bytes into dst (cap bytes with the NUL) */
static inline void rd_name(char *dst, size_t cap) {
    uint32_t n = rd_u32();
    if (n >= cap) die("op name too long");
    rd(dst, n);
    dst[n] = 0;
}
/* u32 count (at most cap), then that many i64 / f64 values; returns the count */
static inline int rd_i64s(int64_t *v, int cap) {
    int n = (int)rd_u32(), i;
    if (n < 0 || n > cap) die("too many ints");
    for (i = 0; i < n; i++) v[i] = rd_i64();
    return n;
}
static inline int rd_f64s(double *v, int cap) {
    int n = (int)rd_u32(), i;
    if (n < 0 || n > cap) die("too many doubles");
    for (i = 0; i < n; i++) v[i] = rd_f64();
    return n;
}
/* i32 ndim, ndim i64 dims, u64 byte count, the bytes (pointed to in g_buf, not copied) */
static inline void rd_shape_data(int *ndim, int64_t *shape, uint64_t *nbytes, const unsigned char **data) {
    int j;
    *ndim = rd_i32();
    if (*ndim < 0 || *ndim > TL_MAX_DIMS) die("bad ndim");
    for (j = 0; j < *ndim; j++) shape[j] = rd_i64();
    *nbytes = rd_u64();
    if (g_pos + *nbytes > g_len) die("truncated tensor data");
    *data = g_buf + g_pos;
    g_pos += (size_t)*nbytes;
}
/* u32 count (at most 8), then each step: i32 kind, i32 nargs, nargs i64; returns the count */
static inline int rd_steps(step_t *steps) {
    int n = (int)rd_u32(), k, j;
    if (n < 0 || n > 8) die("too many recipe steps");
    for (k = 0; k < n; k++) {
        step_t *s = &steps[k];
        s->kind = rd_i32();
        s->nargs = rd_i32();
        if (s->nargs < 0 || s->nargs > TL_MAX_DIMS + 4) die("bad step nargs");
        for (j = 0; j < s->nargs; j++) s->args[j] = rd_i64();
    }
    return n;
}
/* The view recipe's step kinds (test_ops.py and test_functional.py send these numbers). */
enum { ST_TRANSPOSE = 1, ST_SLICE, ST_EXPAND, ST_PERMUTE, ST_UNSQUEEZE, ST_SELECT, ST_NARROW, ST_T };
/* step s applied to cur: a new reference to the view (NULL with tensorlite's error when it fails) */
static inline tl_tensor *apply_step(const tl_tensor *cur, const step_t *s) {
    int dims[TL_MAX_DIMS], i;
    switch (s->kind) {
    case ST_TRANSPOSE: return tl_transpose(cur, (int)s->args[0], (int)s->args[1]);
    case ST_SLICE: return tl_slice(cur, (int)s->args[0], s->args[1], s->args[2], s->args[3]);
    case ST_EXPAND: return tl_expand(cur, s->nargs, s->args);
    case ST_PERMUTE:
        if (s->nargs > TL_MAX_DIMS) die("bad permute step");
        for (i = 0; i < s->nargs; i++) dims[i] = (int)s->args[i];
        return tl_permute(cur, s->nargs, dims);
    case ST_UNSQUEEZE: return tl_unsqueeze(cur, (int)s->args[0]);
    case ST_SELECT: return tl_select(cur, (int)s->args[0], s->args[1]);
    case ST_NARROW: return tl_narrow(cur, (int)s->args[0], s->args[1], s->args[2]);
    case ST_T: return tl_t(cur);
    default: die("unknown recipe step");
    }
    return NULL;
}

/* One input tensor of an op case: dtype (negative: no tensor, nothing else follows), shape, the
   little-endian bytes (in g_buf), leaf_at (functional_runner only: the recipe step whose view is the
   grad leaf, -1 none) and the view recipe applied to it. */
typedef struct in_t {
    int dtype, ndim, leaf_at, nsteps;
    int64_t shape[TL_MAX_DIMS];
    uint64_t nbytes;
    const unsigned char *data; /* points into g_buf */
    step_t steps[8];
} in_t;
/* The head every op case starts with: the op's name, its int and double arguments (at most
   maxargs each), then *nt inputs (at most maxin), each with an i32 leaf_at when with_leaf. */
static inline void rd_case_head(char *op, size_t opcap, int64_t *ints, int *ni, double *dbls, int *nd, int maxargs,
                                in_t *in, int *nt, int maxin, int with_leaf) {
    int i;
    rd_name(op, opcap);
    *ni = rd_i64s(ints, maxargs);
    *nd = rd_f64s(dbls, maxargs);
    *nt = (int)rd_u32();
    if (*nt < 0 || *nt > maxin) die("too many inputs");
    for (i = 0; i < *nt; i++) {
        in_t *t = &in[i];
        t->leaf_at = -1;
        t->nsteps = 0;
        t->dtype = rd_i32();
        if (t->dtype < 0) continue;
        rd_shape_data(&t->ndim, t->shape, &t->nbytes, &t->data);
        if (with_leaf) t->leaf_at = rd_i32();
        t->nsteps = rd_steps(t->steps);
    }
}

/* the nd-dim strided elements at base (esz bytes each, strides st in elements), in C order */
static inline void wr_strided(const unsigned char *base, size_t esz, int nd, const int64_t *sh, const int64_t *st) {
    int64_t idx[TL_MAX_DIMS];
    int i;
    for (i = 0; i < nd; i++) idx[i] = 0;
    for (;;) {
        int64_t off = 0;
        for (i = 0; i < nd; i++) off += idx[i] * st[i];
        wr(base + off * (int64_t)esz, esz);
        for (i = nd - 1; i >= 0; i--) {
            if (++idx[i] < sh[i]) break;
            idx[i] = 0;
        }
        if (i < 0) break;
    }
}
#endif /* RUNNER_IO_TEXT_ONLY */
#endif
