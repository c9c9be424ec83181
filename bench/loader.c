/* bench/loader.c - the DataLoader alone: one epoch of Fashion-MNIST training batches (batch 64,
   shuffled, each image normalised from uint8 to float32 by a per-sample transform, as
   torchvision's ToTensor + Normalize do) with 0 and 2 worker threads, plus the process's peak memory
   with the data set held as uint8. bench/loader.py does the same with torch's DataLoader; bench/run.sh
   runs both and prints the ratios.
   usage: bench_loader [DIR]   (default /usr/share/datasets/fashion-mnist)
   prints: "loader workers=W samples_per_s=S seconds=T cpu_seconds=U batches=B checksum=C" per W, then
           "loader peak_rss_mb=M dataset_mb=D float32_would_be_mb=F" */
#include "bench.h" /* tensorlite with its implementation, now_s() */
#include <stdio.h>
#include <sys/resource.h>

static double cpu_s(void) { /* user + system time of every thread of the process */
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + r.ru_utime.tv_usec * 1e-6 + (double)r.ru_stime.tv_sec + r.ru_stime.tv_usec * 1e-6;
}
/* ToTensor + Normalize((0.2860,), (0.3530,)): uint8 [1, 28, 28] -> float32 (x / 255 - mean) / std */
static tl_status normalize(tl_sample *s, void *user) {
    (void)user;
    s->t[0] = tl_div_scalar(tl_sub_scalar(tl_div_scalar(tl_to_dtype(s->t[0], TL_F32), 255.0), 0.2860), 0.3530);
    return s->t[0] ? TL_OK : tl_last_status();
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    tl_dataset *ds = tl_mnist_dataset(dir, 1);
    struct rusage ru;
    int w;
    if (!ds) {
        fprintf(stderr, "bench_loader: %s\n", tl_last_error());
        return 1;
    }
    tl_dataset_set_transform(ds, normalize, NULL);
    for (w = 0; w <= 2; w += 2) {
        tl_loader_opts o;
        tl_loader *l;
        tl_batch b;
        tl_status st;
        double t0, t1, c0, c1, check = 0;
        long nb = 0, ns = 0;
        memset(&o, 0, sizeof o);
        o.batch_size = 64;
        o.shuffle = 1;
        o.num_workers = w;
        tl_manual_seed(0);
        l = tl_loader_new(ds, &o);
        c0 = cpu_s();
        t0 = now_s(); /* includes starting the workers, as torch's epoch includes starting its own */
        while ((st = tl_loader_next(l, &b)) == TL_OK) {
            check += ((const float *)tl_data_ptr(b.x))[0] + (double)((const int64_t *)tl_data_ptr(b.y))[0];
            ns += (long)b.size;
            nb++;
            tl_batch_release(&b);
        }
        t1 = now_s();
        c1 = cpu_s();
        if (st != TL_EPOCH_END) {
            fprintf(stderr, "bench_loader: %s\n", tl_last_error());
            return 1;
        }
        printf("loader workers=%d samples_per_s=%.0f seconds=%.3f cpu_seconds=%.3f batches=%ld checksum=%.4f\n", w,
               ns / (t1 - t0), t1 - t0, c1 - c0, nb, check);
        tl_loader_free(l);
    }
    getrusage(RUSAGE_SELF, &ru);
    printf("loader peak_rss_mb=%.1f dataset_mb=%.1f float32_would_be_mb=%.1f\n", ru.ru_maxrss / 1024.0,
           60000.0 * 785 / 1048576.0 + 60000.0 * 8 / 1048576.0, 60000.0 * 784 * 4 / 1048576.0);
    tl_dataset_free(ds);
    tl_shutdown();
    return 0;
}
