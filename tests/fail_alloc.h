/* tests/fail_alloc.h - a counting, failing allocator for tensorlite's out-of-memory tests.

   Install it with fa_install(&fa) (tl_setup with fa_alloc/fa_free and &fa as user data) and remove
   it with fa_uninstall(&fa), which flushes the library caches first so that every block goes back
   through fa_free. Two ways to fail:
     fa.limit   = N: the first N allocations succeed, every later one fails (prefix mode);
     fa.fail_at = K: only allocation number K (0-based) fails, the others succeed (one-shot mode,
                     which also exercises the recovery paths that run after a failure).
   Leave a field at -1 to turn it off (fa_reset does). Every block carries a header with a magic
   word, so a free of a pointer this allocator never returned (a wild free) is counted in bad_frees
   instead of crashing, and blocks still allocated are counted in outstanding; bytes and peak
   follow the live byte count (peak: the high-water mark, for memory-budget tests). */
#ifndef TL_TEST_FAIL_ALLOC_H
#define TL_TEST_FAIL_ALLOC_H

#include <stdlib.h>
#include <string.h>

#ifndef TL_H_INCLUDED
#error "include tensorlite.h before fail_alloc.h"
#endif

typedef struct fail_alloc {
    long limit;       /* allocations that succeed before all later ones fail; -1: no limit */
    long fail_at;     /* the one allocation that fails; -1: none */
    long calls;       /* alloc_fn calls so far */
    long denied;      /* calls that returned NULL */
    long outstanding; /* allocated and not yet freed */
    long bad_frees;   /* frees of pointers this allocator did not hand out */
    long frees;       /* free_fn calls with a valid pointer */
    size_t bytes;     /* bytes allocated and not yet freed */
    size_t peak;      /* the most bytes outstanding at any time */
} fail_alloc;

#if defined(__GNUC__) || defined(__clang__)
#define TH_FA_FN static __attribute__((unused))
#else
#define TH_FA_FN static
#endif

#define FA_MAGIC 0x7e5a11c0u
#define FA_HEADER 16

TH_FA_FN void fa_reset(fail_alloc *fa) {
    memset(fa, 0, sizeof *fa);
    fa->limit = -1;
    fa->fail_at = -1;
}

TH_FA_FN void *fa_alloc(size_t size, void *user) {
    fail_alloc *fa = (fail_alloc *)user;
    unsigned char *p;
    long k;
    if (!fa) return NULL;
    k = fa->calls++;
    if ((fa->limit >= 0 && k >= fa->limit) || k == fa->fail_at) {
        fa->denied++;
        return NULL;
    }
    p = (unsigned char *)malloc(size + FA_HEADER);
    if (!p) return NULL;
    *(unsigned *)p = FA_MAGIC;
    memcpy(p + 8, &size, sizeof size < 8 ? sizeof size : 8);
    fa->outstanding++;
    fa->bytes += size;
    if (fa->bytes > fa->peak) fa->peak = fa->bytes;
    return p + FA_HEADER;
}

TH_FA_FN void fa_free(void *ptr, void *user) {
    fail_alloc *fa = (fail_alloc *)user;
    unsigned char *p;
    if (!ptr || !fa) return;
    p = (unsigned char *)ptr - FA_HEADER;
    if (*(unsigned *)p != FA_MAGIC) {
        fa->bad_frees++;
        return;
    }
    *(unsigned *)p = 0;
    {
        size_t size = 0;
        memcpy(&size, p + 8, sizeof size < 8 ? sizeof size : 8);
        fa->bytes -= size;
    }
    fa->outstanding--;
    fa->frees++;
    free(p);
}

/* tl_setup with this allocator (after flushing the caches of the previous one). */
TH_FA_FN tl_status fa_install(fail_alloc *fa) {
    tl_desc d;
    memset(&d, 0, sizeof d);
    d.allocator.alloc_fn = fa_alloc;
    d.allocator.free_fn = fa_free;
    d.allocator.user_data = fa;
    tl_shutdown();
    return tl_setup(&d);
}

/* Back to the default allocator; the caches are flushed first so fa->outstanding is final. */
TH_FA_FN tl_status fa_uninstall(fail_alloc *fa) {
    tl_desc zero;
    (void)fa;
    memset(&zero, 0, sizeof zero);
    tl_shutdown();
    return tl_setup(&zero);
}

#ifdef TL_TEST_HARNESS_H
/* ---- one-shot sweeps (needs tests/harness.h included first) ---- */

/* Runs fn once with working memory to count its allocations, then once per k with only the k-th
   allocation failing. Each failing run must report TL_ERR_OOM with a message naming a tl_ call (or
   succeed when the failed block was optional), free everything it made (live counters back to
   zero, no block outstanding once the caches are flushed) and never free a foreign pointer. */
/* an out-of-memory message names the call ("tl_conv2d: ...") or the autograd step and its op */
TH_FA_FN int names_the_call(const char *msg) {
    return strncmp(msg, "tl_", 3) == 0 || strncmp(msg, "autograd", 8) == 0;
}

typedef tl_status (*sweep_fn)(void *ctx);

TH_FA_FN void oom_sweep(const char *what, sweep_fn fn, void *ctx, long *points) {
    fail_alloc fa;
    long total, k, bad = 0;
    tl_status st;
    fa_reset(&fa);
    if (!CHECK(fa_install(&fa) == TL_OK)) return;
    st = fn(ctx);
    total = fa.calls;
    CHECK_EQ_INT(st, TL_OK);
    CHECK(fa_uninstall(&fa) == TL_OK);
    CHECK_EQ_INT(fa.outstanding, 0);
    CHECK(total > 0);
    for (k = 0; k < total && bad < 5; k++) {
        fa_reset(&fa);
        fa.fail_at = k;
        if (!CHECK(fa_install(&fa) == TL_OK)) break;
        st = fn(ctx);
        if (st != TL_OK && !(st == TL_ERR_OOM && names_the_call(tl_last_error()))) {
            printf("    %s, allocation %ld of %ld fails: status %s: %s\n", what, k, total, tl_status_str(st),
                   tl_last_error());
            CHECK(0);
            bad++;
        }
        tl_clear_error();
        if (tl_debug_live_tensors() != 0 || tl_debug_live_storages() != 0) {
            printf("    %s, allocation %ld of %ld fails: %ld tensors, %ld storages left alive\n", what, k, total,
                   tl_debug_live_tensors(), tl_debug_live_storages());
            CHECK(0);
            break;
        }
        if (!CHECK(fa_uninstall(&fa) == TL_OK)) break;
        if (fa.outstanding != 0 || fa.bad_frees != 0) {
            printf("    %s, allocation %ld of %ld fails: %ld blocks leaked, %ld wild frees\n", what, k, total,
                   fa.outstanding, fa.bad_frees);
            CHECK(0);
            bad++;
        }
    }
    if (points) *points = total;
}

#endif

#endif /* TL_TEST_FAIL_ALLOC_H */
