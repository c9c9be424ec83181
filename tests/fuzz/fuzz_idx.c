/* tests/fuzz/fuzz_idx.c - libFuzzer target for the gzip + IDX reader (tl_load_idx_from_buffer): raw
   and gzip-compressed IDX files; whatever loads is reduced and printed. Built with
   TL_DATA_MAX_MB=64 so a declared size can never make an input slow or large (the limit's own
   refusal is part of what is fuzzed). Seeds: tests/fuzz/seeds/idx/ (tests/fuzz/make_seeds.py). */
#define TL_DATA_MAX_MB 64
#define TL_IMPLEMENTATION
#include "tensorlite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tl_scope s = tl_scope_begin();
    tl_tensor *t = tl_load_idx_from_buffer(data, size);
    char buf[128];
    if (t) {
        tl_sum_all(t);
        tl_to_string(t, buf, sizeof buf);
    }
    tl_clear_error();
    tl_scope_end(s);
    if (tl_debug_live_tensors() != 0 || tl_debug_live_storages() != 0) __builtin_trap(); /* a leak */
    return 0;
}
