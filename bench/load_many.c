/* bench/load_many.c - tl_load of the file bench/load_many.py wrote with torch.save: 100,000
   one-element tensors, each with its own storage. usage: bench_load_many PATH
   prints "load_many tensorlite seconds=S tensors=N" (best of 3). */
#include "bench.h" /* tensorlite with its implementation, now_s() */
#include <stdio.h>


int main(int argc, char **argv) {
    double best = 1e9;
    size_t n = 0;
    int r;
    if (argc < 2) {
        fprintf(stderr, "usage: bench_load_many PATH\n");
        return 2;
    }
    for (r = 0; r < 3; r++) {
        double t0 = now_s(), t;
        tl_value *d = tl_load(argv[1]);
        t = now_s() - t0;
        if (!d) {
            fprintf(stderr, "bench_load_many: %s\n", tl_last_error());
            return 1;
        }
        n = tl_value_len(d);
        tl_value_free(d);
        if (t < best) best = t;
    }
    printf("load_many tensorlite seconds=%.3f tensors=%zu\n", best, n);
    return 0;
}
