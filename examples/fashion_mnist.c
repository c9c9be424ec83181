/* fashion_mnist.c - the flagship example: LeNet-5 on Fashion-MNIST with SGD + momentum and a cosine
   learning-rate schedule, using tensorlite's DataLoader, optimizer, scheduler and checkpoints.
   examples/fashion_mnist.py is the same program in PyTorch: with the same seed both start from the
   same weights and see the same batches in the same order, so their loss curves coincide.

       make demo                                  # builds and runs it (installs the data set if needed)
       build/examples/fashion_mnist --help

   Writes into --out (default build/demo):
     lenet.pt        the trained state_dict: torch.load(weights_only=True) + load_state_dict(strict=True)
     checkpoint.pt   {'epoch', 'model_state_dict', 'optimizer_state_dict', 'loss', 'scheduler_state_dict',
                      'loader_position', 'rng_state', 'history'}: --resume continues from it bit for bit,
                      and PyTorch resumes from it with torch.optim.SGD (examples/fashion_mnist.py --resume)
     curves.svg      train/test loss and test accuracy per epoch
   Ctrl-C saves a checkpoint and stops; a checkpoint is also written every --checkpoint-every batches.

   The model is the PyTorch tutorial's TheModelClass (../shared/SEED_NOTES.md) adapted to 1x28x28
   input: conv1 1->6 5x5 padding 2, max pool 2, conv2 6->16 5x5, max pool 2, fc1 400->120,
   fc2 120->84, fc3 84->10, ReLU. Images stay uint8 in memory; each batch is converted to float32
   and normalised ((x / 255 - 0.2860) / 0.3530) by the data set's transform, as torchvision's
   ToTensor + Normalize would. */
#define _POSIX_C_SOURCE 200809L /* isatty, sigaction, clock_gettime */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DATA_DIR "/usr/share/datasets/fashion-mnist"
#define MEAN 0.2860
#define STD 0.3530
#define MAX_EPOCHS 1000

typedef struct options {
    int epochs, batch_size, threads, checkpoint_every, stop_after, train_limit, test_limit, dbl;
    double lr;
    uint64_t seed;
    const char *out, *resume, *eval, *data;
} options;

static void usage(FILE *f) {
    fprintf(f,
            "usage: fashion_mnist [options]\n"
            "  --epochs N            epochs to train (default 4: about a minute on 2 cores, accuracy ~0.90)\n"
            "  --batch-size N        batch size (default 64)\n"
            "  --lr X                SGD learning rate (default 0.05; momentum 0.9, cosine schedule)\n"
            "  --seed S              random seed (default 0): same weights and batches as the PyTorch twin\n"
            "  --threads T           threads for the kernels (default: the online CPUs, at most 8)\n"
            "  --out DIR             where lenet.pt, checkpoint.pt and curves.svg go (default build/demo)\n"
            "  --resume FILE         continue from a checkpoint.pt (tensorlite's or PyTorch's twin's)\n"
            "  --eval FILE           evaluate a state_dict (written by tensorlite or by PyTorch) and exit\n"
            "  --checkpoint-every N  also save checkpoint.pt every N batches (default 200)\n"
            "  --data DIR            the Fashion-MNIST .gz files (default " DATA_DIR ")\n"
            "  --train-limit N, --test-limit N   use only the first N images (quick runs)\n"
            "  --double              train in float64 (model.double(); the twins then agree to ~1e-12)\n"
            "  --help                this text\n");
}

static int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

/* 1 on success, 0 after printing what is wrong (the caller exits with status 2). */
static int parse_args(int argc, char **argv, options *o) {
    int i;
    memset(o, 0, sizeof *o);
    o->epochs = 4;
    o->batch_size = 64;
    o->threads = (int)sysconf(_SC_NPROCESSORS_ONLN); /* results do not depend on it: threads split outputs */
    if (o->threads < 1) o->threads = 1;
    if (o->threads > 8) o->threads = 8;
    o->checkpoint_every = 200;
    o->lr = 0.05;
    o->out = "build/demo";
    o->data = DATA_DIR;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1, takes = 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--epochs")) ok = v && parse_int(v, 1, MAX_EPOCHS, &o->epochs);
        else if (!strcmp(a, "--batch-size")) ok = v && parse_int(v, 1, 60000, &o->batch_size);
        else if (!strcmp(a, "--threads")) ok = v && parse_int(v, 1, 256, &o->threads);
        else if (!strcmp(a, "--checkpoint-every")) ok = v && parse_int(v, 1, 1 << 30, &o->checkpoint_every);
        else if (!strcmp(a, "--stop-after")) ok = v && parse_int(v, 1, 1 << 30, &o->stop_after); /* tests: a kill */
        else if (!strcmp(a, "--train-limit")) ok = v && parse_int(v, 1, 60000, &o->train_limit); /* tests: fewer images */
        else if (!strcmp(a, "--test-limit")) ok = v && parse_int(v, 1, 10000, &o->test_limit);
        else if (!strcmp(a, "--double")) o->dbl = 1, takes = 0;
        else if (!strcmp(a, "--lr")) {
            char *end;
            o->lr = v ? strtod(v, &end) : 0;
            ok = v && *v && !*end && o->lr > 0 && o->lr < 100;
        } else if (!strcmp(a, "--seed")) {
            char *end;
            o->seed = v ? strtoull(v, &end, 10) : 0;
            ok = v && *v && !*end;
        } else if (!strcmp(a, "--out")) ok = v != NULL, o->out = v;
        else if (!strcmp(a, "--resume")) ok = v != NULL, o->resume = v;
        else if (!strcmp(a, "--eval")) ok = v != NULL, o->eval = v;
        else if (!strcmp(a, "--data")) ok = v != NULL, o->data = v;
        else {
            fprintf(stderr, "fashion_mnist: unknown option '%s'\n", a);
            usage(stderr);
            return 0;
        }
        if (!ok) {
            fprintf(stderr, "fashion_mnist: %s needs a valid value%s%s\n", a, v ? ", got " : "", v ? v : "");
            usage(stderr);
            return 0;
        }
        i += takes;
    }
    return 1;
}

/* ---- the model ---- */

static tl_tensor *lenet_forward(tl_module *self, const tl_tensor *input) {
    tl_scope s = tl_scope_begin(); /* temporaries die here; the result is kept for the caller */
    tl_module *pool = tl_module_child(self, "pool");
    tl_tensor *x = tl_module_forward(pool, tl_relu(tl_module_forward(tl_module_child(self, "conv1"), input)));
    x = tl_module_forward(pool, tl_relu(tl_module_forward(tl_module_child(self, "conv2"), x)));
    x = tl_flatten(x, 1, -1); /* [N, 400] */
    x = tl_relu(tl_module_forward(tl_module_child(self, "fc1"), x));
    x = tl_relu(tl_module_forward(tl_module_child(self, "fc2"), x));
    x = tl_keep(tl_module_forward(tl_module_child(self, "fc3"), x));
    tl_scope_end(s);
    return x;
}

/* Children in torch's __init__ order: that fixes the random draws, the state_dict order and the repr. */
static tl_module *lenet_new(void) {
    tl_module *m = tl_module_new("TheModelClass", lenet_forward);
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

/* ---- data: uint8 images, converted per sample (ToTensor + Normalize) ---- */

static tl_status normalise(tl_sample *s, void *user) { /* user: the tl_dtype to produce */
    tl_tensor *x = tl_div_scalar(tl_sub_scalar(tl_div_scalar(tl_to_dtype(s->t[0], *(const tl_dtype *)user), 255.0),
                                               MEAN), STD);
    if (!x) return tl_last_status();
    s->t[0] = x; /* the replaced uint8 field belongs to the library's scope */
    return TL_OK;
}

static tl_dataset *fashion(const options *o, int train) {
    static const tl_dtype f32 = TL_F32, f64 = TL_F64;
    tl_dataset *ds = tl_mnist_dataset(o->data, train);
    if (ds && tl_dataset_set_transform(ds, normalise, (void *)(o->dbl ? &f64 : &f32)) != TL_OK) {
        tl_dataset_free(ds);
        return NULL;
    }
    int limit = train ? o->train_limit : o->test_limit;
    if (ds && limit) { /* the first `limit` images (a quick run for tests) */
        int64_t i, *idx = (int64_t *)malloc(sizeof(int64_t) * (size_t)limit);
        tl_dataset *sub = NULL;
        if (idx) {
            for (i = 0; i < limit; i++) idx[i] = i;
            sub = tl_subset(ds, limit, idx);
            free(idx);
        }
        tl_dataset_free(ds);
        ds = sub;
    }
    return ds;
}

/* Mean loss and accuracy over a data set, in eval mode and without autograd. */
static tl_status evaluate(tl_module *net, tl_dataset *ds, double *loss, double *acc) {
    tl_loader_opts lo;
    tl_loader *l;
    tl_batch b;
    tl_status st;
    double total = 0, correct = 0, n = 0;
    memset(&lo, 0, sizeof lo);
    lo.batch_size = 1000;
    l = tl_loader_new(ds, &lo);
    if (!l) return tl_last_status();
    tl_module_eval(net);
    tl_no_grad_begin();
    while ((st = tl_loader_next(l, &b)) == TL_OK) {
        tl_scope s = tl_scope_begin();
        tl_tensor *logits = tl_module_forward(net, b.x);
        tl_tensor *l_sum = tl_cross_entropy(logits, b.y, NULL, -100, TL_REDUCTION_SUM);
        tl_tensor *hit = tl_eq(tl_argmax(logits, 1, 0), b.y);
        if (!l_sum || !hit) st = tl_last_status();
        else {
            total += tl_item(l_sum);
            correct += tl_item(tl_sum_all(hit));
            n += (double)b.size;
        }
        tl_scope_end(s);
        tl_batch_release(&b);
        if (st != TL_OK) break;
    }
    tl_no_grad_end();
    tl_module_train(net, 1);
    tl_loader_free(l);
    if (st != TL_EPOCH_END) return st;
    *loss = total / n;
    *acc = correct / n;
    return TL_OK;
}

/* ---- progress and pictures ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A live line on a terminal ("\r" + bar); a plain line every 10% otherwise. */
static void progress(int epoch, int epochs, int64_t done, int64_t total, double loss, double rate, int tty) {
    double eta = rate > 0 ? (double)(total - done) * (rate > 0 ? 1.0 / rate : 0) : 0;
    if (tty) {
        char bar[31];
        int k, fill = (int)(30 * done / (total ? total : 1));
        for (k = 0; k < 30; k++) bar[k] = k < fill ? '#' : '.';
        bar[30] = 0;
        printf("\repoch %d/%d [%s] %lld/%lld  loss %.4f  %.0f batches/s  ETA %.0fs   ", epoch, epochs, bar, (long long)done,
               (long long)total, loss, rate, eta);
        fflush(stdout);
    } else if (done == total || done % ((total + 9) / 10) == 0) {
        printf("epoch %d/%d  batch %lld/%lld  loss %.4f  %.0f batches/s  ETA %.0fs\n", epoch, epochs, (long long)done,
               (long long)total, loss, rate, eta);
        fflush(stdout);
    }
}

typedef struct history {
    int n;
    double train_loss[MAX_EPOCHS], test_loss[MAX_EPOCHS], test_acc[MAX_EPOCHS];
} history;

/* curves.svg: train and test loss (left axis) and test accuracy (right axis) per epoch. */
static int write_svg(const char *path, const history *h) {
    const double W = 720, H = 470, L = 70, R = 70, T = 50, B = 90, pw = W - L - R, ph = H - T - B;
    double lmax = 0, amin = 1, amax = 0;
    int i, k;
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    for (i = 0; i < h->n; i++) {
        lmax = fmax(lmax, fmax(h->train_loss[i], h->test_loss[i]));
        amin = fmin(amin, h->test_acc[i]);
        amax = fmax(amax, h->test_acc[i]);
    }
    lmax = lmax > 0 ? ceil(lmax * 10) / 10 : 1;
    amin = floor(amin * 20) / 20;
    amax = fmax(ceil(amax * 20) / 20, amin + 0.05);
#define XP(e) (L + (h->n > 1 ? pw * (double)(e) / (h->n - 1) : pw / 2))
#define YL(v) (T + ph * (1 - (v) / lmax))
#define YA(v) (T + ph * (1 - ((v) - amin) / (amax - amin)))
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "font-family=\"sans-serif\" font-size=\"13\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"%.0f\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">LeNet-5 on Fashion-MNIST (tensorlite)</text>\n",
            W, H, W, H, W / 2);
    for (k = 0; k <= 5; k++) { /* grid and tick labels */
        double y = T + ph * k / 5.0;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, y, L + pw, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", L - 6, y + 4, lmax * (1 - k / 5.0));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%.3f</text>\n", L + pw + 6, y + 4, amax - (amax - amin) * k / 5.0);
    }
    for (i = 0; i < h->n; i++)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n", XP(i), T + ph + 18, i + 1);
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n"
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">epoch</text>\n"
            "<text transform=\"translate(20 %.1f) rotate(-90)\" text-anchor=\"middle\">cross-entropy loss</text>\n"
            "<text transform=\"translate(%.1f %.1f) rotate(90)\" text-anchor=\"middle\">test accuracy</text>\n",
            L, T, pw, ph, L + pw / 2, T + ph + 40, T + ph / 2, W - 18, T + ph / 2);
    {
        static const char *const names[3] = {"train loss", "test loss", "test accuracy"};
        static const char *const colors[3] = {"#1f77b4", "#ff7f0e", "#2ca02c"};
        const double *series[3];
        series[0] = h->train_loss;
        series[1] = h->test_loss;
        series[2] = h->test_acc;
        for (k = 0; k < 3; k++) {
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colors[k]);
            for (i = 0; i < h->n; i++) fprintf(f, "%.1f,%.1f ", XP(i), k < 2 ? YL(series[k][i]) : YA(series[k][i]));
            fprintf(f, "\"/>\n");
            for (i = 0; i < h->n; i++)
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", XP(i),
                        k < 2 ? YL(series[k][i]) : YA(series[k][i]), colors[k]);
            /* legend: one row under the plot, where no curve can run through it */
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>\n"
                       "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                    L + 120 + 150.0 * k, H - 20, L + 145 + 150.0 * k, H - 20, colors[k], L + 152 + 150.0 * k, H - 16,
                    names[k]);
        }
    }
#undef XP
#undef YL
#undef YA
    fprintf(f, "</svg>\n");
    return fclose(f) == 0;
}

/* ---- checkpoints ---- */

static tl_value *float_list(const double *v, int n) {
    tl_value *l = tl_value_list();
    int i;
    for (i = 0; i < n; i++) tl_value_append(l, tl_value_float(v[i]));
    return l;
}
static void read_floats(const tl_value *l, double *v, int n) {
    int i;
    for (i = 0; i < n; i++) v[i] = tl_value_as_float(tl_value_item(l, (size_t)i));
}

/* The running mean of the epoch being trained, so a resumed epoch reports what an uninterrupted one would. */
typedef struct running { double sum; int64_t seen; } running;

static tl_status save_checkpoint(const char *path, int epoch, tl_module *net, tl_optim *opt, tl_scheduler *sch,
                                 tl_loader *loader, double loss, const history *h, const running *r) {
    tl_value *ck = tl_value_dict(), *hist = tl_value_dict();
    tl_tensor *rng = tl_get_rng_state();
    tl_status st;
    tl_value_set(ck, "epoch", tl_value_int(epoch));
    tl_value_set(ck, "model_state_dict", tl_module_state_dict(net));
    tl_value_set(ck, "optimizer_state_dict", tl_optim_state_dict(opt));
    tl_value_set(ck, "loss", tl_value_float(loss));
    tl_value_set(ck, "scheduler_state_dict", tl_scheduler_state_dict(sch));
    tl_value_set(ck, "loader_position", tl_loader_position(loader));
    tl_value_set(ck, "rng_state", tl_value_tensor(rng)); /* torch.get_rng_state() */
    tl_release(rng);
    tl_value_set(hist, "train_loss", float_list(h->train_loss, h->n));
    tl_value_set(hist, "test_loss", float_list(h->test_loss, h->n));
    tl_value_set(hist, "test_acc", float_list(h->test_acc, h->n));
    tl_value_set(hist, "epoch_loss_sum", tl_value_float(r->sum));
    tl_value_set(hist, "epoch_batches", tl_value_int(r->seen));
    tl_value_set(ck, "history", hist);
    st = tl_last_status() ? tl_last_status() : tl_save(ck, path);
    tl_value_free(ck);
    return st;
}

/* Restores everything save_checkpoint wrote; returns the epoch it was in (-1 on error). */
static int load_checkpoint(const char *path, tl_module *net, tl_optim *opt, tl_scheduler *sch, tl_loader *loader,
                           history *h, running *r) {
    tl_value *ck = tl_load(path);
    const tl_value *hist;
    int epoch = -1;
    if (!ck) return -1;
    if (tl_module_load_state_dict(net, tl_value_get(ck, "model_state_dict"), 1, NULL) == TL_OK &&
        tl_optim_load_state_dict(opt, tl_value_get(ck, "optimizer_state_dict")) == TL_OK &&
        tl_scheduler_load_state_dict(sch, tl_value_get(ck, "scheduler_state_dict")) == TL_OK &&
        tl_loader_set_position(loader, tl_value_get(ck, "loader_position")) == TL_OK) {
        tl_tensor *rng = tl_value_tensor_of(tl_value_get(ck, "rng_state"));
        if (tl_set_rng_state(rng) == TL_OK) epoch = (int)tl_value_as_int(tl_value_get(ck, "epoch"));
        tl_release(rng);
        hist = tl_value_get(ck, "history");
        h->n = hist ? (int)tl_value_len(tl_value_get(hist, "train_loss")) : 0;
        if (h->n > MAX_EPOCHS) h->n = MAX_EPOCHS;
        if (hist) {
            read_floats(tl_value_get(hist, "train_loss"), h->train_loss, h->n);
            read_floats(tl_value_get(hist, "test_loss"), h->test_loss, h->n);
            read_floats(tl_value_get(hist, "test_acc"), h->test_acc, h->n);
            r->sum = tl_value_get(hist, "epoch_loss_sum") ? tl_value_as_float(tl_value_get(hist, "epoch_loss_sum")) : 0;
            r->seen = tl_value_get(hist, "epoch_batches") ? tl_value_as_int(tl_value_get(hist, "epoch_batches")) : 0;
        }
    }
    tl_value_free(ck);
    return tl_last_status() ? -1 : epoch;
}

static volatile sig_atomic_t g_interrupted;
static void on_sigint(int sig) {
    (void)sig;
    g_interrupted = 1;
}

static int fail(const char *what) {
    fprintf(stderr, "fashion_mnist: %s: %s\n", what, tl_last_error());
    return 1;
}

static int run_eval(const options *o) {
    tl_module *net = lenet_new();
    if (net && o->dbl && tl_module_to_dtype(net, TL_F64) != TL_OK) return fail("--double");
    tl_dataset *test = fashion(o, 0);
    double loss = 0, acc = 0;
    int rc = 0;
    if (!net || !test) rc = fail("setup");
    else if (tl_load_state_dict(net, o->eval, 1) != TL_OK) rc = fail(o->eval);
    else if (evaluate(net, test, &loss, &acc) != TL_OK) rc = fail("evaluation");
    else printf("test loss %.4f\naccuracy %.4f\n", loss, acc);
    tl_dataset_free(test);
    tl_module_free(net);
    return rc;
}

int main(int argc, char **argv) {
    options o;
    tl_module *net = NULL;
    tl_optim *opt = NULL;
    tl_scheduler *sch = NULL;
    tl_dataset *train = NULL, *test = NULL;
    tl_loader *loader = NULL;
    tl_loader_opts lo;
    tl_sgd_desc sgd = tl_sgd_desc_default();
    history *h = (history *)calloc(1, sizeof(history));
    char path[1024], ckpt[1024];
    int tty = isatty(1), epoch = 0, rc = 0;
    int64_t nb, global_batches = 0;
    double last_loss = 0;
    running run = {0, 0};
    struct sigaction sa;
    if (!h || !parse_args(argc, argv, &o)) return 2;
    tl_set_num_threads(o.threads);
    if (o.eval) return run_eval(&o);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.pt", o.out);
    {
        char cmd[1100];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", o.out);
        if (system(cmd) != 0) {
            fprintf(stderr, "fashion_mnist: cannot create %s\n", o.out);
            return 1;
        }
    }
    tl_manual_seed(o.seed); /* torch.manual_seed(seed): the model's init, then the loader's draws */
    net = lenet_new();
    if (net && o.dbl && tl_module_to_dtype(net, TL_F64) != TL_OK) return fail("--double"); /* net.double() */
    train = fashion(&o, 1);
    test = fashion(&o, 0);
    if (!net || !train || !test) return fail("loading Fashion-MNIST (apt-get install dataset-fashion-mnist)");
    sgd.lr = o.lr;
    sgd.momentum = 0.9;
    opt = tl_optim_sgd(tl_parameters(net), &sgd);
    sch = opt ? tl_cosine_annealing_lr(opt, o.epochs, 0.0) : NULL;
    memset(&lo, 0, sizeof lo);
    lo.batch_size = o.batch_size;
    lo.shuffle = 1;
    loader = sch ? tl_loader_new(train, &lo) : NULL;
    if (!loader) return fail("setup");
    nb = tl_loader_len(loader);
    if (o.resume) {
        epoch = load_checkpoint(o.resume, net, opt, sch, loader, h, &run);
        if (epoch < 0) return fail(o.resume);
        printf("resumed from %s: epoch %d, after batch %lld\n", o.resume, epoch + 1, (long long)run.seen);
    } else {
        printf("LeNet-5 on Fashion-MNIST: %lld training and %lld test images, %lld batches of %d per epoch, "
               "%lld parameters\n",
               (long long)tl_dataset_len(train), (long long)tl_dataset_len(test), (long long)nb, o.batch_size,
               (long long)tl_module_num_parameters(net));
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    for (; epoch < o.epochs && rc == 0; epoch++) {
        double t0 = now_s(), test_loss = 0, test_acc = 0;
        int64_t done = run.seen, seen0 = run.seen; /* resuming mid-epoch: the batches already done */
        tl_batch b;
        tl_status st;
        while ((st = tl_loader_next(loader, &b)) == TL_OK) {
            tl_scope s = tl_scope_begin();
            tl_tensor *loss = tl_cross_entropy(tl_module_forward(net, b.x), b.y, NULL, -100, TL_REDUCTION_MEAN);
            tl_optim_zero_grad(opt);
            if (!loss || tl_backward(loss) != TL_OK || tl_optim_step(opt) != TL_OK) {
                tl_scope_end(s);
                tl_batch_release(&b);
                rc = fail("training step");
                break;
            }
            last_loss = tl_item(loss);
            run.sum += last_loss;
            run.seen++;
            done++;
            global_batches++;
            if (!tty && done <= 50 && epoch == 0 && getenv("FASHION_MNIST_PRINT_LOSSES"))
                printf("batch %lld loss %.17g\n", (long long)done, last_loss); /* the twins' first losses */
            progress(epoch + 1, o.epochs, done, nb, run.sum / (double)run.seen,
                     (double)(run.seen - seen0) / (now_s() - t0 + 1e-9), tty);
            tl_scope_end(s);
            tl_batch_release(&b);
            if (g_interrupted || (o.stop_after && global_batches >= o.stop_after) || done % o.checkpoint_every == 0) {
                if (o.stop_after && global_batches >= o.stop_after && !g_interrupted) {
                    printf("\nstopping after %d batches, as a killed run would (no checkpoint now)\n", o.stop_after);
                    return 0;
                }
                if (save_checkpoint(ckpt, epoch, net, opt, sch, loader, last_loss, h, &run) != TL_OK)
                    return fail("saving the checkpoint");
                if (g_interrupted) {
                    printf("\ninterrupted: saved %s (continue with --resume %s)\n", ckpt, ckpt);
                    return 130;
                }
            }
        }
        if (rc) break;
        if (st != TL_EPOCH_END) {
            rc = fail("loading a batch");
            break;
        }
        if (tty) printf("\n");
        if (tl_scheduler_step(sch) != TL_OK || evaluate(net, test, &test_loss, &test_acc) != TL_OK) {
            rc = fail("end of epoch");
            break;
        }
        h->train_loss[h->n] = run.seen ? run.sum / (double)run.seen : 0;
        run.sum = 0;
        run.seen = 0;
        h->test_loss[h->n] = test_loss;
        h->test_acc[h->n] = test_acc;
        h->n++;
        printf("epoch %d/%d: train loss %.4f  test loss %.4f  test accuracy %.4f  (%.1f s, lr %.5f)\n", epoch + 1,
               o.epochs, h->train_loss[h->n - 1], test_loss, test_acc, now_s() - t0, tl_optim_get_lr(opt, 0));
        if (save_checkpoint(ckpt, epoch + 1, net, opt, sch, loader, last_loss, h, &run) != TL_OK)
            return fail("saving the checkpoint");
        snprintf(path, sizeof path, "%s/curves.svg", o.out);
        if (!write_svg(path, h)) fprintf(stderr, "fashion_mnist: cannot write %s\n", path);
    }
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/lenet.pt", o.out);
        if (tl_save_state_dict(net, path) != TL_OK) return fail(path);
        printf("final test accuracy %.4f\nwrote %s, %s and %s/curves.svg\n", h->n ? h->test_acc[h->n - 1] : 0.0, path,
               ckpt, o.out);
    }
    tl_loader_free(loader);
    tl_scheduler_free(sch);
    tl_optim_free(opt);
    tl_dataset_free(train);
    tl_dataset_free(test);
    tl_module_free(net);
    free(h);
    return rc;
}
