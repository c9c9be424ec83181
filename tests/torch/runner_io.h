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
#endif
