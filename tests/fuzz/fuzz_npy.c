/* tests/fuzz/fuzz_npy.c - libFuzzer target for the .npy and .npz readers (tl_load_npy_from_buffer,
   tl_load_npz_from_buffer) and the CSV reader: each input is tried as all three; whatever loads is
   reduced, printed and (for .npy) written back and read again, which must give the same bytes.
   Built with TL_DATA_MAX_MB=64. Seeds: tests/fuzz/seeds/npy/ and csv/ (tests/fuzz/make_seeds.py). */
#define TL_DATA_MAX_MB 64
#define TL_IMPLEMENTATION
#include "tensorlite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tl_scope s = tl_scope_begin();
    tl_tensor *t = tl_load_npy_from_buffer(data, size), *c;
    tl_value *z;
    char buf[128];
    tl_csv_opts co;
    if (t) {
        void *out = NULL;
        size_t n = 0;
        tl_to_string(t, buf, sizeof buf);
        if (tl_save_npy_to_buffer(t, &out, &n) == TL_OK) {
            tl_tensor *back = tl_load_npy_from_buffer(out, n);
            if (!back || tl_numel(back) != tl_numel(t) || tl_dtype_of(back) != tl_dtype_of(t)) __builtin_trap();
            if (tl_numel(t) > 0 && tl_dtype_of(t) != TL_F16 && tl_dtype_of(t) != TL_F32 && tl_dtype_of(t) != TL_F64) {
                tl_tensor *ne = tl_ne(back, t); /* integers and bools round-trip exactly */
                if (!ne || tl_item(tl_sum_all(ne)) != 0) __builtin_trap();
            }
            tl_free_buffer(out);
        }
    }
    tl_clear_error();
    z = tl_load_npz_from_buffer(data, size);
    tl_value_free(z);
    tl_clear_error();
    memset(&co, 0, sizeof co);
    co.header = size > 0 && (data[0] & 1);
    c = tl_load_csv_from_buffer(data, size, &co);
    if (c) tl_sum_all(c);
    tl_clear_error();
    tl_scope_end(s);
    if (tl_debug_live_tensors() != 0 || tl_debug_live_storages() != 0) __builtin_trap(); /* a leak */
    return 0;
}
