/* bench/train.c - the training workloads of ../shared/anchors/torch_ref.py, one per process (so the
   peak RSS is the workload's own), on Fashion-MNIST from Debian's dataset-fashion-mnist:
     mlp    MLP 784-256-10 (ReLU), Adam lr 1e-3, batch 64, one shuffled epoch, then test accuracy
     lenet  LeNet-5, SGD lr 0.05 momentum 0.9, batch 64, one shuffled epoch, then test accuracy
     tiny   16-16(tanh)-1 MLP, batch 1, MSE, SGD lr 0.01, 2000 steps (per-step overhead)
   The images stay uint8 in memory and each batch becomes float32 x / 255 as it arrives (torch_ref.py
   converts the whole set up front; the numbers are the same, in a fifth of the memory). bench/train.py runs the same in PyTorch.
   usage: bench_train mlp|lenet|tiny [threads] [data dir]
   prints: "<name> threads=T epoch_s=S test_acc=A peak_rss_mb=M steady_allocs=K" (tiny: us_per_step)
   steady_allocs: allocator calls during the epoch's last 100 steps (0 when the step is allocation-free) */
#include "bench.h" /* tensorlite with its implementation, now_s() */
#include <stdio.h>
#include <sys/resource.h>

static long allocs; /* allocator calls, counted through tl_setup's hooks */
static void *count_alloc(size_t n, void *u) { (void)u; allocs++; return malloc(n); }
static void count_free(void *p, void *u) { (void)u; free(p); }

static double peak_rss_mb(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_maxrss / 1024.0;
}
static tl_tensor *to_float(const tl_tensor *x) { return tl_div_scalar(tl_to_dtype(x, TL_F32), 255.0); } /* uint8 batch */
static tl_tensor *lenet_forward(tl_module *self, const tl_tensor *input) {
    tl_scope s = tl_scope_begin();
    tl_module *pool = tl_module_child(self, "pool");
    tl_tensor *x = tl_module_forward(pool, tl_relu(tl_module_forward(tl_module_child(self, "conv1"), input)));
    x = tl_module_forward(pool, tl_relu(tl_module_forward(tl_module_child(self, "conv2"), x)));
    x = tl_flatten(x, 1, -1);
    x = tl_relu(tl_module_forward(tl_module_child(self, "fc1"), x));
    x = tl_relu(tl_module_forward(tl_module_child(self, "fc2"), x));
    x = tl_keep(tl_module_forward(tl_module_child(self, "fc3"), x));
    tl_scope_end(s);
    return x;
}
static tl_module *lenet_new(void) {
    tl_module *m = tl_module_new("LeNet", lenet_forward);
    tl_pool2d_opts pool = tl_pool2d_opts_default(2, 2);
    tl_conv2d_opts pad2;
    memset(&pad2, 0, sizeof pad2);
    pad2.padding[0] = pad2.padding[1] = 2;
    tl_module_add_module(m, "conv1", tl_nn_conv2d(1, 6, 5, 5, &pad2, 1));
    tl_module_add_module(m, "pool", tl_nn_max_pool2d(&pool));
    tl_module_add_module(m, "conv2", tl_nn_conv2d(6, 16, 5, 5, NULL, 1));
    tl_module_add_module(m, "fc1", tl_nn_linear(16 * 5 * 5, 120, 1));
    tl_module_add_module(m, "fc2", tl_nn_linear(120, 84, 1));
    tl_module_add_module(m, "fc3", tl_nn_linear(84, 10, 1));
    return m;
}
static tl_module *mlp_new(void) {
    tl_module *mods[4];
    mods[0] = tl_nn_flatten(1, -1);
    mods[1] = tl_nn_linear(784, 256, 1);
    mods[2] = tl_nn_relu();
    mods[3] = tl_nn_linear(256, 10, 1);
    return tl_nn_sequential(4, mods);
}
static int fail(const char *what) {
    fprintf(stderr, "bench_train: %s: %s\n", what, tl_last_error());
    return 1;
}
/* one shuffled epoch of (net, opt) over train, then accuracy over test in batches of 1000 */
static int epoch(const char *name, tl_module *net, tl_optim *opt, tl_dataset *train, tl_dataset *test) {
    tl_loader_opts o;
    tl_loader *l;
    tl_batch b;
    tl_status st;
    double t0, dt, correct = 0, n = 0;
    long step = 0, nsteps, allocs0 = 0;
    memset(&o, 0, sizeof o);
    o.batch_size = 64;
    o.shuffle = 1;
    if (!(l = tl_loader_new(train, &o))) return fail("loader");
    nsteps = (long)tl_loader_len(l);
    tl_module_train(net, 1);
    t0 = now_s();
    while ((st = tl_loader_next(l, &b)) == TL_OK) {
        tl_scope s = tl_scope_begin();
        tl_tensor *loss;
        if (step == nsteps - 101) allocs0 = allocs; /* the last 100 full batches (the very last is short) */
        tl_optim_zero_grad(opt);
        loss = tl_cross_entropy(tl_module_forward(net, to_float(b.x)), b.y, NULL, -100, TL_REDUCTION_MEAN);
        if (!loss || tl_backward(loss) != TL_OK || tl_optim_step(opt) != TL_OK) return fail(name);
        tl_scope_end(s);
        tl_batch_release(&b);
        if (step == nsteps - 2) allocs0 = allocs - allocs0;
        step++;
    }
    dt = now_s() - t0;
    tl_loader_free(l);
    if (st != TL_EPOCH_END) return fail("loader");
    memset(&o, 0, sizeof o);
    o.batch_size = 1000;
    if (!(l = tl_loader_new(test, &o))) return fail("loader");
    tl_module_eval(net);
    tl_no_grad_begin();
    while ((st = tl_loader_next(l, &b)) == TL_OK) {
        tl_scope s = tl_scope_begin();
        tl_tensor *hit = tl_eq(tl_argmax(tl_module_forward(net, to_float(b.x)), 1, 0), b.y);
        if (!hit) return fail("eval");
        correct += tl_item(tl_sum_all(hit));
        n += (double)b.size;
        tl_scope_end(s);
        tl_batch_release(&b);
    }
    tl_no_grad_end();
    tl_loader_free(l);
    printf("%s threads=%d epoch_s=%.3f test_acc=%.4f peak_rss_mb=%.1f steady_allocs=%ld\n", name,
           tl_get_num_threads(), dt, correct / n, peak_rss_mb(), allocs0);
    return 0;
}
static int tiny(void) {
    static const int64_t s1[2] = {16, 16}, sb1[1] = {16}, s2[2] = {1, 16}, sb2[1] = {1}, sx[2] = {1, 16},
                         sy[2] = {1, 1};
    tl_tensor *p[4], *x, *y;
    double t0 = 0, b;
    int s, i;
    p[0] = tl_empty(2, s1, TL_F32); p[1] = tl_empty(1, sb1, TL_F32);
    p[2] = tl_empty(2, s2, TL_F32); p[3] = tl_empty(1, sb2, TL_F32);
    for (i = 0; i < 4; i++) {
        b = 0.25; /* 1 / sqrt(16) as nn.Linear(16, .) */
        tl_uniform_(p[i], -b, b);
        tl_requires_grad_(p[i], 1);
    }
    x = tl_randn(2, sx, TL_F32);
    y = tl_randn(2, sy, TL_F32);
    for (s = -200; s < 2000; s++) {
        tl_scope sc = tl_scope_begin();
        tl_tensor *loss;
        if (s == 0) t0 = now_s();
        for (i = 0; i < 4; i++) tl_set_grad(p[i], NULL);
        loss = tl_mse_loss(tl_linear(tl_tanh(tl_linear(x, p[0], p[1])), p[2], p[3]), y, TL_REDUCTION_MEAN);
        if (!loss || tl_backward(loss) != TL_OK) return fail("tiny");
        tl_no_grad_begin();
        for (i = 0; i < 4; i++) tl_add_alpha_(p[i], tl_grad(p[i]), -0.01);
        tl_no_grad_end();
        tl_scope_end(sc);
    }
    printf("tiny-mlp threads=%d us_per_step=%.2f peak_rss_mb=%.1f\n", tl_get_num_threads(),
           (now_s() - t0) / 2000 * 1e6, peak_rss_mb());
    for (i = 0; i < 4; i++) tl_release(p[i]);
    tl_release(x);
    tl_release(y);
    return 0;
}
int main(int argc, char **argv) {
    const char *w = argc > 1 ? argv[1] : "mlp";
    const char *dir = argc > 3 ? argv[3] : "/usr/share/datasets/fashion-mnist";
    tl_desc sd;
    tl_dataset *train, *test;
    tl_module *net;
    tl_optim *opt;
    int rc;
    memset(&sd, 0, sizeof sd);
    sd.allocator.alloc_fn = count_alloc;
    sd.allocator.free_fn = count_free;
    tl_setup(&sd);
    tl_set_num_threads(argc > 2 ? atoi(argv[2]) : 1);
    tl_manual_seed(0);
    if (strcmp(w, "tiny") == 0) return tiny();
    train = tl_mnist_dataset(dir, 1);
    test = tl_mnist_dataset(dir, 0);
    if (!train || !test) return fail(dir);
    if (strcmp(w, "mlp") == 0) {
        tl_adam_desc d = tl_adam_desc_default();
        d.lr = 1e-3;
        net = mlp_new();
        opt = tl_optim_adam(tl_parameters(net), &d);
        rc = epoch("mlp784-256-10 adam", net, opt, train, test);
    } else {
        tl_sgd_desc d = tl_sgd_desc_default();
        d.lr = 0.05;
        d.momentum = 0.9;
        net = lenet_new();
        opt = tl_optim_sgd(tl_parameters(net), &d);
        rc = epoch("lenet sgd-momentum", net, opt, train, test);
    }
    tl_optim_free(opt);
    tl_module_free(net);
    tl_dataset_free(train);
    tl_dataset_free(test);
    tl_shutdown();
    return rc;
}
