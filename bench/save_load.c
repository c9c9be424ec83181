/* bench/save_load.c - tl_save and tl_load of a 100 MB state_dict (25 float32 tensors [1000, 1000],
   keys "layers.<i>.weight"), the file torch.save would write; bench/save_load.py times torch.save
   and torch.load on the same dict. tl_save also fsyncs the file and its directory before the
   rename (torch.save does neither), so buf_s times the same bytes built by tl_save_to_buffer alone.
   Prints "save_load tensorlite save_s=S load_s=L buf_s=B mb=M" (best of 3).
   usage: bench_save_load PATH */
#include "bench.h" /* tensorlite with its implementation, now_s() */
#include <stdio.h>

int main(int argc, char **argv) {
    enum { N = 25 };
    static const int64_t shape[2] = {1000, 1000};
    char names[N][32];
    const char *keys[N];
    tl_tensor *t[N];
    tl_value *sd, *back;
    double bs = 1e30, bl = 1e30, bb = 1e30;
    int i, r;
    if (argc < 2) {
        fprintf(stderr, "usage: bench_save_load PATH\n");
        return 2;
    }
    tl_manual_seed(0);
    for (i = 0; i < N; i++) {
        sprintf(names[i], "layers.%d.weight", i);
        keys[i] = names[i];
        t[i] = tl_randn(2, shape, TL_F32);
    }
    sd = tl_state_dict_build(N, keys, t, 0, NULL, NULL);
    if (!sd) return fprintf(stderr, "bench_save_load: %s\n", tl_last_error()), 1;
    for (r = 0; r < 3; r++) {
        double t0 = now_s(), t1;
        if (tl_save(sd, argv[1]) != TL_OK) return fprintf(stderr, "bench_save_load: %s\n", tl_last_error()), 1;
        t1 = now_s();
        back = tl_load(argv[1]);
        if (!back || tl_value_len(back) != N) return fprintf(stderr, "bench_save_load: %s\n", tl_last_error()), 1;
        if (t1 - t0 < bs) bs = t1 - t0;
        if (now_s() - t1 < bl) bl = now_s() - t1;
        tl_value_free(back);
        {
            void *buf;
            size_t size;
            t0 = now_s();
            if (tl_save_to_buffer(sd, &buf, &size) != TL_OK) return fprintf(stderr, "bench_save_load: %s\n", tl_last_error()), 1;
            if (now_s() - t0 < bb) bb = now_s() - t0;
            tl_free_buffer(buf);
        }
    }
    printf("save_load tensorlite save_s=%.3f load_s=%.3f buf_s=%.3f mb=%.0f\n", bs, bl, bb, N * 4.0);
    tl_value_free(sd);
    for (i = 0; i < N; i++) tl_release(t[i]);
    tl_shutdown();
    return 0;
}
