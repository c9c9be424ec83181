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

#endif /* TL_TEST_FAIL_ALLOC_H */
