/* tests/fuzz/fuzz_load.c - libFuzzer target for the checkpoint reader (tl_load_from_buffer).

   Each input is loaded as a torch.save file; whatever loads is walked, and every tensor in it is
   reduced (sum, max over dim 0 when it has one, contiguous copy) and printed, so that loaded
   metadata (sizes, strides, offsets, dtypes) reaches the kernels: a stride-0 tensor of 2^62
   elements in a 655-byte file once overflowed tl_sum_all's buffer. Tensors between 2^22 and 2^60
   elements are not reduced (that would be correct but slow, not a bug); at 2^60 and beyond the
   size computations themselves are what is tested, and they must fail fast.
   Build and run: make fuzz (clang -fsanitize=fuzzer,address,undefined); seeds in tests/fuzz/seeds/. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"

static void walk(const tl_value *v, int depth) {
    size_t k, n;
    if (!v || depth > 300) return;
    switch (tl_value_kind_of(v)) {
    case TL_VALUE_TENSOR: {
        tl_scope s = tl_scope_begin();
        tl_tensor *t = tl_value_tensor_of(v);
        int64_t numel = tl_numel(t);
        char buf[256];
        if (t && (numel <= ((int64_t)1 << 22) || numel >= ((int64_t)1 << 60))) {
            tl_sum_all(t);
            if (tl_ndim(t) > 0 && tl_size(t, 0) > 0) tl_max(t, 0, 0, NULL);
            tl_contiguous(t);
            tl_to_string(t, buf, sizeof buf);
        }
        tl_clear_error();
        tl_scope_end(s);
        break;
    }
    case TL_VALUE_LIST:
    case TL_VALUE_TUPLE:
    case TL_VALUE_DICT:
        n = tl_value_len(v);
        for (k = 0; k < n; k++) {
            if (tl_value_kind_of(v) == TL_VALUE_DICT) walk(tl_value_key(v, k), depth + 1);
            walk(tl_value_item(v, k), depth + 1);
        }
        break;
    default: {
        char buf[64];
        tl_value_to_string(v, buf, sizeof buf);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tl_load_opts o = tl_load_opts_default();
    tl_value *v;
    o.max_inflated_bytes = (uint64_t)64 << 20; /* keep each input fast; the limit itself is tested elsewhere */
    v = tl_load_from_buffer_opts(data, size, &o);
    walk(v, 0);
    tl_value_free(v);
    tl_clear_error();
    if (tl_debug_live_tensors() != 0 || tl_debug_live_storages() != 0) __builtin_trap(); /* a leak */
    return 0;
}
