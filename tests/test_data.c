/* tests/test_data.c - >>data: datasets, samplers and the DataLoader (every sample once per epoch for
   odd sizes and every batch_size/drop_last case, len(DataLoader), seeds and epochs, positions that
   resume mid-epoch, worker threads matching inline loading batch for batch, errors from workers),
   TORCH_RNG.md's DataLoader/random_split vectors, the file readers (IDX raw and .gz, .npy both
   ways, .npz, CSV) and 30 malformed files, each with its own error and no leak. The PyTorch/numpy
   oracle is tests/torch/test_data.py. tests/run_all.sh also builds this file with
   -fsanitize=thread (the worker tests then run under ThreadSanitizer). */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static int64_t at64(const tl_tensor *t, int64_t i) { return ((const int64_t *)tl_data_ptr(t))[i]; }

/* TensorDataset (arange(n) int64, arange(n) * 0.5 float32 [n, 2] rows (i*0.5, -i)). */
static tl_dataset *make_ds(int64_t n, tl_tensor **keep) {
    int64_t i, sh[2];
    tl_tensor *ts[2];
    float *f = (float *)malloc(sizeof(float) * (size_t)(2 * n + 1));
    tl_dataset *ds;
    for (i = 0; i < n; i++) {
        f[2 * i] = (float)i * 0.5f;
        f[2 * i + 1] = (float)-i;
    }
    sh[0] = n;
    sh[1] = 2;
    ts[0] = tl_arange(0, (double)n, 1, TL_I64);
    ts[1] = tl_from_data(f, 2, sh, TL_F32);
    free(f);
    ds = tl_tensor_dataset(2, ts);
    if (keep) {
        keep[0] = ts[0];
        keep[1] = ts[1];
    } else {
        tl_release(ts[0]);
        tl_release(ts[1]);
    }
    return ds;
}
static tl_loader_opts opts_of(int64_t bs, int shuffle, int drop_last, int workers) {
    tl_loader_opts o;
    memset(&o, 0, sizeof o);
    o.batch_size = bs;
    o.shuffle = shuffle;
    o.drop_last = drop_last;
    o.num_workers = workers;
    return o;
}
/* Runs the rest of an epoch, appending field 0 (int64 indices) to out; returns the number of
   batches, or -1 on an error or a wrong end status. sizes (may be NULL) gets each batch's size. */
static int64_t drain(tl_loader *l, int64_t *out, int64_t *nout, int64_t *sizes) {
    tl_batch b;
    tl_status st;
    int64_t nb = 0, i;
    while ((st = tl_loader_next(l, &b)) == TL_OK) {
        if (tl_dtype_of(b.x) != TL_I64 || tl_ndim(b.x) != 1 || tl_size(b.x, 0) != b.size || b.x != b.t[0]) nb = -1000000;
        for (i = 0; i < b.size; i++) out[(*nout)++] = at64(b.x, i);
        if (sizes) sizes[nb >= 0 ? nb : 0] = b.size;
        nb++;
        tl_batch_release(&b);
    }
    if (st != TL_EPOCH_END) return -1; /* the caller checks tl_last_error() */
    return nb < 0 ? -1 : nb;
}

/* ---- epochs ---- */

TEST(every_sample_once_per_epoch) {
    static const int64_t sizes[] = {1, 2, 7, 13, 100};
    static const int64_t bss[] = {1, 3, 7, 13, 64, 200};
    int a, b, dl, sh;
    int64_t *seen = (int64_t *)malloc(sizeof(int64_t) * 200), *cnt = (int64_t *)malloc(sizeof(int64_t) * 200);
    int64_t bsz[256];
    tl_manual_seed(3);
    for (a = 0; a < 5; a++)
        for (b = 0; b < 6; b++)
            for (dl = 0; dl < 2; dl++)
                for (sh = 0; sh < 2; sh++) {
                    int64_t n = sizes[a], bs = bss[b], want = dl ? n / bs : (n + bs - 1) / bs, ns = 0, i, nb, full;
                    tl_loader_opts o = opts_of(bs, sh, dl, 0);
                    tl_dataset *ds = make_ds(n, NULL);
                    tl_loader *l = tl_loader_new(ds, &o);
                    tl_dataset_free(ds);
                    REQUIRE(l);
                    CHECK_EQ_INT(tl_loader_len(l), want);
                    nb = drain(l, seen, &ns, bsz);
                    CHECK_EQ_INT(nb, want);
                    full = dl ? want * bs : n;
                    CHECK_EQ_INT(ns, full);
                    memset(cnt, 0, sizeof(int64_t) * 200);
                    for (i = 0; i < ns; i++) {
                        CHECK(seen[i] >= 0 && seen[i] < n);
                        if (seen[i] >= 0 && seen[i] < n) cnt[seen[i]]++;
                        if (!sh) CHECK_EQ_INT(seen[i], i);
                    }
                    for (i = 0; i < n; i++) CHECK(dl ? cnt[i] <= 1 : cnt[i] == 1); /* with ns == full: once each */
                    for (i = 0; i < nb; i++) CHECK(bsz[i] == (i + 1 < nb || dl || n % bs == 0 ? bs : n % bs));
                    tl_loader_free(l);
                }
    free(seen);
    free(cnt);
}

TEST(torch_vectors_dataloader_and_random_split) {
    /* TORCH_RNG.md section 12: DataLoader(range(10), batch_size=4, shuffle=True), two epochs */
    static const int64_t e1[] = {6, 7, 1, 4, 2, 0, 9, 8, 3, 5}, e2[] = {2, 4, 7, 0, 8, 9, 5, 3, 6, 1};
    static const int64_t g1[] = {4, 6, 9, 2, 3, 1, 0, 7, 8, 5}, g2[] = {6, 8, 5, 1, 3, 7, 2, 4, 0, 9};
    static const int64_t s0[] = {2, 6, 1}, s1[] = {8, 4, 5, 0, 9, 3, 7};
    int64_t got[32], n = 0, i;
    tl_loader_opts o = opts_of(4, 1, 0, 0);
    tl_dataset *ds = make_ds(10, NULL), *sp[2];
    tl_generator *g = tl_generator_new(1);
    tl_loader *l;
    tl_manual_seed(0);
    l = tl_loader_new(ds, &o);
    CHECK_EQ_INT(drain(l, got, &n, NULL), 3);
    CHECK_EQ_INT(drain(l, got, &n, NULL), 3);
    for (i = 0; i < 10; i++) {
        CHECK_EQ_INT(got[i], e1[i]);
        CHECK_EQ_INT(got[10 + i], e2[i]);
    }
    tl_loader_free(l);
    o.generator = g;
    l = tl_loader_new(ds, &o);
    n = 0;
    drain(l, got, &n, NULL);
    drain(l, got, &n, NULL);
    for (i = 0; i < 10; i++) {
        CHECK_EQ_INT(got[i], g1[i]);
        CHECK_EQ_INT(got[10 + i], g2[i]);
    }
    tl_loader_free(l);
    tl_generator_manual_seed(g, 42);
    REQUIRE(tl_random_split(ds, 2, (const double[]){3, 7}, g, sp) == TL_OK);
    CHECK_EQ_INT(tl_dataset_len(sp[0]), 3);
    CHECK_EQ_INT(tl_dataset_len(sp[1]), 7);
    for (i = 0; i < 10; i++) {
        tl_sample s;
        REQUIRE(tl_dataset_get(sp[i < 3 ? 0 : 1], i < 3 ? i : i - 3, &s) == TL_OK);
        CHECK_EQ_INT(tl_item_i64(s.t[0]), i < 3 ? s0[i] : s1[i - 3]);
        tl_sample_release(&s);
    }
    tl_dataset_free(sp[0]);
    tl_dataset_free(sp[1]);
    tl_generator_free(g);
    tl_dataset_free(ds);
}

TEST(same_seed_same_order_new_epoch_new_order) {
    int64_t a[200], b[200], na = 0, nb = 0, i, diff = 0;
    tl_loader_opts o = opts_of(7, 1, 0, 0);
    tl_dataset *ds = make_ds(50, NULL);
    tl_loader *l;
    tl_tensor *st0, *st1;
    tl_scope sc = tl_scope_begin();
    tl_manual_seed(1234);
    l = tl_loader_new(ds, &o);
    drain(l, a, &na, NULL);
    drain(l, a, &na, NULL);
    tl_loader_free(l);
    tl_manual_seed(1234);
    l = tl_loader_new(ds, &o);
    drain(l, b, &nb, NULL);
    drain(l, b, &nb, NULL);
    CHECK_EQ_INT(na, 100);
    CHECK_EQ_INT(nb, 100);
    for (i = 0; i < 100; i++) CHECK_EQ_INT(a[i], b[i]);
    for (i = 0; i < 50; i++) diff += a[i] != a[50 + i];
    CHECK(diff > 0); /* a new epoch, a new order */
    tl_loader_free(l);
    /* with its own generator the loader leaves the default generator alone */
    o.generator = tl_generator_new(9);
    st0 = tl_get_rng_state();
    l = tl_loader_new(ds, &o);
    na = 0;
    drain(l, a, &na, NULL);
    st1 = tl_get_rng_state();
    CHECK(tl_item(tl_sum_all(tl_ne(st0, st1))) == 0);
    tl_loader_free(l);
    tl_generator_free(o.generator);
    tl_scope_end(sc);
    tl_dataset_free(ds);
}

/* A loader (ds of 37, batch 5, shuffled, optional explicit generator) interrupted after `k` batches of
   its second epoch, its position saved through a checkpoint, continues identically in a new loader. */
static void resume_case(int k, int explicit_gen, int workers, int drop_last) {
    int64_t a[400], b[400], na = 0, nb = 0, i, got;
    tl_loader_opts o = opts_of(5, 1, drop_last, workers);
    tl_dataset *ds = make_ds(37, NULL);
    tl_generator *g = explicit_gen ? tl_generator_new(77) : NULL;
    tl_loader *l, *l2;
    tl_value *pos, *back;
    tl_tensor *rng;
    void *buf = NULL;
    size_t bn = 0;
    tl_batch bt;
    o.generator = g;
    tl_manual_seed(5);
    l = tl_loader_new(ds, &o);
    drain(l, a, &na, NULL); /* epoch 0 */
    for (i = 0; i < k; i++) {
        if (tl_loader_next(l, &bt) != TL_OK) break;
        tl_batch_release(&bt);
    }
    pos = tl_loader_position(l);
    rng = tl_get_rng_state();
    REQUIRE(pos && rng);
    REQUIRE(tl_save_to_buffer(pos, &buf, &bn) == TL_OK);
    tl_value_free(pos);
    na = 0;
    drain(l, a, &na, NULL); /* the rest of epoch 1 */
    drain(l, a, &na, NULL); /* epoch 2 */
    tl_loader_free(l);
    back = tl_load_from_buffer(buf, bn);
    tl_free_buffer(buf);
    REQUIRE(back);
    l2 = tl_loader_new(ds, &o);
    CHECK(tl_loader_set_position(l2, back) == TL_OK);
    CHECK(tl_set_rng_state(rng) == TL_OK); /* as a checkpoint restores torch.get_rng_state() */
    tl_release(rng);
    tl_value_free(back);
    got = drain(l2, b, &nb, NULL);
    CHECK(got >= 0);
    CHECK_EQ_INT(tl_loader_epoch(l2), 2);
    drain(l2, b, &nb, NULL);
    CHECK_EQ_INT(nb, na);
    for (i = 0; i < na && i < nb; i++) CHECK_EQ_INT(b[i], a[i]);
    tl_loader_free(l2);
    tl_generator_free(g);
    tl_dataset_free(ds);
}
TEST(position_resumes_mid_epoch) {
    int k, e, w;
    for (e = 0; e < 2; e++)
        for (w = 0; w <= 2; w += 2)
            for (k = 0; k <= 8; k++) resume_case(k, e, w, k == 3); /* 8 = every batch delivered, end not yet seen */
}
TEST(position_before_any_epoch_and_errors) {
    tl_loader_opts o = opts_of(4, 1, 0, 0);
    tl_dataset *ds = make_ds(10, NULL), *ds2 = make_ds(11, NULL);
    tl_loader *l = tl_loader_new(ds, &o), *l2;
    tl_value *pos = tl_loader_position(l), *bad;
    REQUIRE(pos);
    CHECK_EQ_INT(tl_value_as_int(tl_value_get(pos, "epoch")), 0);
    CHECK(tl_value_kind_of(tl_value_get(pos, "generator_state")) == TL_VALUE_NONE);
    CHECK(tl_loader_set_position(l, pos) == TL_OK);
    l2 = tl_loader_new(ds2, &o);
    CHECK(tl_loader_set_position(l2, pos) == TL_ERR_ARG);
    CHECK(strstr(tl_last_error(), "10 samples per epoch, this loader's sampler gives 11") != NULL);
    tl_clear_error();
    bad = tl_value_copy(pos);
    tl_value_set(bad, "batch_size", tl_value_int(3));
    CHECK(tl_loader_set_position(l, bad) == TL_ERR_ARG);
    CHECK(strstr(tl_last_error(), "batch_size 3, this loader has 4") != NULL);
    tl_clear_error();
    tl_value_set(bad, "batch_size", tl_value_string("x"));
    CHECK(tl_loader_set_position(l, bad) == TL_ERR_ARG);
    CHECK(strstr(tl_last_error(), "no non-negative int 'batch_size'") != NULL);
    tl_clear_error();
    tl_value_set(bad, "batch_size", tl_value_int(4));
    tl_value_set(bad, "started", tl_value_bool(1));
    CHECK(tl_loader_set_position(l, bad) == TL_ERR_ARG);
    CHECK(strstr(tl_last_error(), "needs a tensor 'generator_state'") != NULL);
    tl_clear_error();
    tl_value_free(bad);
    tl_value_free(pos);
    tl_loader_free(l);
    tl_loader_free(l2);
    tl_dataset_free(ds);
    tl_dataset_free(ds2);
}

/* ---- workers ---- */

/* transform: field 1 becomes float64 x * 3 + 1; a third field, the index as uint8 */
static tl_status xform(tl_sample *s, void *user) {
    (void)user;
    s->t[1] = tl_add_scalar(tl_mul_scalar(tl_to_dtype(s->t[1], TL_F64), 3), 1);
    s->t[2] = tl_to_dtype(s->t[0], TL_U8);
    s->n = 3;
    return s->t[1] && s->t[2] ? TL_OK : tl_last_status();
}
/* random transform: adds U[0, 1) noise from the running thread's default generator */
static tl_status noisy(tl_sample *s, void *user) {
    (void)user;
    s->t[1] = tl_add(s->t[1], tl_rand(TL_SHAPE(2), TL_F32));
    return s->t[1] ? TL_OK : tl_last_status();
}
/* Every batch of `epochs` epochs, fields serialised as bytes (values, dtype, shape) into one buffer. */
static size_t record(tl_loader *l, int epochs, unsigned char *buf, size_t cap) {
    size_t n = 0;
    int e, f;
    tl_batch b;
    tl_status st;
    for (e = 0; e < epochs; e++) {
        while ((st = tl_loader_next(l, &b)) == TL_OK) {
            for (f = 0; f < b.n; f++) {
                size_t nb = (size_t)tl_numel(b.t[f]) * tl_dtype_size(tl_dtype_of(b.t[f]));
                int64_t meta[3];
                meta[0] = tl_dtype_of(b.t[f]);
                meta[1] = tl_ndim(b.t[f]);
                meta[2] = tl_numel(b.t[f]);
                if (n + nb + sizeof meta + 8 > cap) return 0;
                memcpy(buf + n, meta, sizeof meta);
                n += sizeof meta;
                memcpy(buf + n, tl_data_ptr(b.t[f]), nb);
                n += nb;
            }
            memcpy(buf + n, &b.index, 8);
            n += 8;
            tl_batch_release(&b);
        }
        if (st != TL_EPOCH_END) return 0;
    }
    return n;
}
TEST(workers_deliver_the_same_batches_in_order) {
    static const int workers[] = {1, 2, 3}, prefetch[] = {1, 2, 4};
    static const int64_t bss[] = {1, 7};
    size_t cap = 1 << 20, n0, n1;
    unsigned char *ref = (unsigned char *)malloc(cap), *got = (unsigned char *)malloc(cap);
    tl_dataset *ds = make_ds(41, NULL);
    int w, p, b, dl;
    tl_dataset_set_transform(ds, xform, NULL);
    for (b = 0; b < 2; b++)
        for (dl = 0; dl < 2; dl++) {
            tl_loader_opts o = opts_of(bss[b], 1, dl, 0);
            tl_loader *l;
            tl_manual_seed(11);
            l = tl_loader_new(ds, &o);
            n0 = record(l, 3, ref, cap);
            tl_loader_free(l);
            CHECK(n0 > 0);
            for (w = 0; w < 3; w++)
                for (p = 0; p < 3; p++) {
                    o.num_workers = workers[w];
                    o.prefetch_factor = prefetch[p];
                    tl_manual_seed(11);
                    l = tl_loader_new(ds, &o);
                    n1 = record(l, 3, got, cap);
                    tl_loader_free(l);
                    CHECK_EQ_INT(n1, n0);
                    CHECK(n1 == n0 && memcmp(ref, got, n0) == 0);
                }
        }
    free(ref);
    free(got);
    tl_dataset_free(ds);
}
TEST(worker_random_transforms_do_not_depend_on_num_workers) {
    size_t cap = 1 << 18, n2, n3, n2b;
    unsigned char *a = (unsigned char *)malloc(cap), *b = (unsigned char *)malloc(cap), *c = (unsigned char *)malloc(cap);
    tl_dataset *ds = make_ds(30, NULL);
    tl_loader_opts o = opts_of(4, 1, 0, 2);
    tl_loader *l;
    tl_dataset_set_transform(ds, noisy, NULL);
    tl_manual_seed(2);
    l = tl_loader_new(ds, &o);
    n2 = record(l, 2, a, cap);
    tl_loader_free(l);
    o.num_workers = 3;
    tl_manual_seed(2);
    l = tl_loader_new(ds, &o);
    n3 = record(l, 2, b, cap);
    tl_loader_free(l);
    o.num_workers = 2;
    tl_manual_seed(2);
    l = tl_loader_new(ds, &o);
    n2b = record(l, 2, c, cap);
    tl_loader_free(l);
    CHECK(n2 > 0 && n2 == n3 && n2 == n2b);
    CHECK(memcmp(a, b, n2) == 0);
    CHECK(memcmp(a, c, n2) == 0);
    free(a);
    free(b);
    free(c);
    tl_dataset_free(ds);
}

/* A dataset whose item 5 fails with its own message. */
static tl_status failing_item(void *user, int64_t index, tl_sample *out) {
    (void)user;
    if (index == 5) return TL__FAIL(TL_ERR_FORMAT, "failing_item: record %lld is damaged", (long long)index);
    out->n = 1;
    out->t[0] = tl_scalar_tensor((double)index, TL_I64);
    return out->t[0] ? TL_OK : tl_last_status();
}
TEST(an_error_on_a_worker_reaches_the_caller) {
    int w;
    for (w = 0; w <= 3; w += 3) {
        tl_dataset *ds = tl_dataset_new(12, failing_item, NULL, NULL);
        tl_loader_opts o = opts_of(4, 0, 0, w);
        tl_loader *l = tl_loader_new(ds, &o);
        tl_batch b;
        tl_dataset_free(ds);
        REQUIRE(l);
        CHECK(tl_loader_next(l, &b) == TL_OK);
        CHECK_EQ_INT(at64(b.x, 3), 3);
        tl_batch_release(&b);
        CHECK(tl_loader_next(l, &b) == TL_ERR_FORMAT);
        CHECK(b.x == NULL && b.n == 0);
        CHECK_STR(tl_last_error(), "tl_loader_next: batch 1 of epoch 0: failing_item: record 5 is damaged");
        tl_clear_error();
        CHECK(tl_loader_next(l, &b) == TL_OK); /* a failed batch counts as delivered, as in torch */
        CHECK_EQ_INT(b.index, 2);
        CHECK_EQ_INT(at64(b.x, 0), 8);
        tl_batch_release(&b);
        CHECK(tl_loader_next(l, &b) == TL_EPOCH_END);
        tl_loader_free(l);
    }
}
TEST(free_or_reset_in_the_middle_of_an_epoch) {
    tl_dataset *ds = make_ds(100, NULL);
    tl_loader_opts o = opts_of(3, 1, 0, 2);
    tl_loader *l = tl_loader_new(ds, &o);
    tl_batch b;
    int64_t got[200], n = 0;
    CHECK(tl_loader_next(l, &b) == TL_OK);
    tl_batch_release(&b);
    CHECK(tl_loader_reset(l) == TL_OK);
    CHECK_EQ_INT(tl_loader_epoch(l), 1);
    CHECK_EQ_INT(drain(l, got, &n, NULL), 34); /* a whole new epoch */
    CHECK_EQ_INT(n, 100);
    CHECK(tl_loader_next(l, &b) == TL_OK);
    tl_batch_release(&b);
    tl_loader_free(l); /* workers still preparing batches: stopped, batches released */
    tl_dataset_free(ds);
}
TEST(batches_follow_the_ownership_rule) {
    tl_dataset *ds = make_ds(20, NULL);
    tl_loader_opts o = opts_of(6, 0, 0, 0);
    tl_loader *l;
    tl_batch b;
    long t0;
    int w;
    for (w = 0; w <= 2; w += 2) {
        o.num_workers = w;
        l = tl_loader_new(ds, &o);
        t0 = tl_debug_live_tensors();
        for (;;) { /* in a scope: the scope releases the batch */
            tl_scope s = tl_scope_begin();
            tl_status st = tl_loader_next(l, &b);
            if (st != TL_OK) {
                CHECK(st == TL_EPOCH_END);
                tl_scope_end(s);
                break;
            }
            CHECK(b.n == 2 && b.x == b.t[0] && b.y == b.t[1]);
            CHECK(tl_dtype_of(b.y) == TL_F32 && tl_ndim(b.y) == 2 && tl_size(b.y, 1) == 2);
            tl_scope_end(s);
            if (w == 0) CHECK_EQ_INT(tl_debug_live_tensors(), t0);
        }
        tl_loader_free(l);
    }
    tl_dataset_free(ds);
}

/* ---- datasets and samplers ---- */

TEST(subset_concat_and_random_split) {
    tl_dataset *a = make_ds(5, NULL), *b = make_ds(3, NULL), *parts[2], *c, *s, *sp[3];
    tl_sample x;
    int64_t idx[3] = {4, 0, 2}, i, total = 0, seen[10];
    parts[0] = a;
    parts[1] = b;
    c = tl_concat_dataset(2, parts);
    REQUIRE(c);
    CHECK_EQ_INT(tl_dataset_len(c), 8);
    REQUIRE(tl_dataset_get(c, 6, &x) == TL_OK); /* sample 1 of b */
    CHECK_EQ_INT(tl_item_i64(x.t[0]), 1);
    CHECK(tl_get(x.t[1], (const int64_t[]){0}) == 0.5);
    tl_sample_release(&x);
    s = tl_subset(c, 3, idx);
    REQUIRE(s);
    REQUIRE(tl_dataset_get(s, 0, &x) == TL_OK);
    CHECK_EQ_INT(tl_item_i64(x.t[0]), 4);
    tl_sample_release(&x);
    CHECK(tl_dataset_get(s, 3, &x) == TL_ERR_INDEX);
    CHECK(strstr(tl_last_error(), "index 3 is out of range for a dataset of 3 samples") != NULL);
    tl_clear_error();
    idx[1] = 8;
    CHECK(tl_subset(c, 3, idx) == NULL && tl_last_status() == TL_ERR_INDEX);
    tl_clear_error();
    /* fractions: floor(10 f) = 3, 3, 3, remainder 1 to the first split (torch's rounding) */
    {
        tl_dataset *ten = make_ds(10, NULL);
        tl_manual_seed(0);
        REQUIRE(tl_random_split(ten, 3, (const double[]){0.34, 0.33, 0.33}, NULL, sp) == TL_OK);
        CHECK_EQ_INT(tl_dataset_len(sp[0]), 4);
        CHECK_EQ_INT(tl_dataset_len(sp[1]), 3);
        CHECK_EQ_INT(tl_dataset_len(sp[2]), 3);
        memset(seen, 0, sizeof seen);
        for (i = 0; i < 3; i++) {
            int64_t j;
            for (j = 0; j < tl_dataset_len(sp[i]); j++) {
                REQUIRE(tl_dataset_get(sp[i], j, &x) == TL_OK);
                seen[tl_item_i64(x.t[0])]++;
                total++;
                tl_sample_release(&x);
            }
            tl_dataset_free(sp[i]);
        }
        CHECK_EQ_INT(total, 10);
        for (i = 0; i < 10; i++) CHECK_EQ_INT(seen[i], 1);
        CHECK(tl_random_split(ten, 2, (const double[]){4, 5}, NULL, sp) == TL_ERR_ARG);
        CHECK(strstr(tl_last_error(), "Sum of input lengths does not equal the length of the input dataset") != NULL);
        tl_clear_error();
        CHECK(tl_random_split(ten, 2, (const double[]){1.5, -0.5}, NULL, sp) == TL_ERR_ARG);
        CHECK(strstr(tl_last_error(), "Fraction at index 0 is not between 0 and 1") != NULL);
        CHECK(sp[0] == NULL && sp[1] == NULL);
        tl_clear_error();
        tl_dataset_free(ten);
    }
    tl_dataset_free(s);
    tl_dataset_free(c);
    tl_dataset_free(a);
    tl_dataset_free(b);
}
TEST(tensor_dataset_errors_and_rows) {
    tl_scope sc = tl_scope_begin();
    tl_tensor *x = tl_zeros(TL_SHAPE(4, 3), TL_F32), *y = tl_zeros(TL_SHAPE(5), TL_I64), *z = tl_scalar_tensor(1, TL_F32);
    tl_tensor *ts[2], *xt;
    tl_dataset *ds;
    tl_sample s;
    ts[0] = x;
    ts[1] = y;
    CHECK(tl_tensor_dataset(2, ts) == NULL && tl_last_status() == TL_ERR_SHAPE);
    CHECK(strstr(tl_last_error(), "Size mismatch between tensors: tensor 0 is [4, 3], tensor 1 is [5]") != NULL);
    tl_clear_error();
    ts[1] = z;
    CHECK(tl_tensor_dataset(2, ts) == NULL && strstr(tl_last_error(), "tensor 1 is 0-dim") != NULL);
    tl_clear_error();
    /* a non-contiguous tensor: rows of its transpose */
    xt = tl_t(tl_reshape(tl_arange(0, 12, 1, TL_F32), TL_SHAPE(3, 4)));
    ds = tl_tensor_dataset(1, &xt);
    REQUIRE(ds);
    CHECK_EQ_INT(tl_dataset_len(ds), 4);
    REQUIRE(tl_dataset_get(ds, 1, &s) == TL_OK);
    CHECK(tl_get(s.t[0], (const int64_t[]){2}) == 9.0); /* x.t()[1][2] = x[2][1] = 9 */
    tl_sample_release(&s);
    CHECK(tl_dataset_get(ds, -1, &s) == TL_ERR_INDEX && s.t[0] == NULL);
    tl_clear_error();
    tl_dataset_free(ds);
    tl_scope_end(sc);
}

static tl_tensor *reverse_sampler(void *user, int64_t n, tl_generator *g) {
    int64_t i, *p;
    tl_tensor *t = tl_empty(TL_SHAPE(n), TL_I64);
    (void)g;
    if (!t) return NULL;
    p = (int64_t *)tl_data_ptr(t);
    for (i = 0; i < n; i++) p[i] = n - 1 - i + *(int *)user;
    return t;
}
TEST(samplers) {
    tl_dataset *ds = make_ds(10, NULL);
    tl_sampler *s;
    tl_tensor *a, *b;
    tl_loader *l;
    tl_loader_opts o = opts_of(3, 0, 0, 0);
    int64_t got[64], n = 0, i, sub[4] = {7, 1, 3, 9};
    int off = 0;
    tl_scope sc = tl_scope_begin();
    /* RandomSampler with replacement: 45 draws in [0, 10) */
    s = tl_random_sampler(1, 45, NULL);
    a = tl_sampler_indices(s, 10);
    REQUIRE(a);
    CHECK_EQ_INT(tl_numel(a), 45);
    CHECK_EQ_INT(tl_sampler_len(s, 10), 45);
    for (i = 0; i < 45; i++) CHECK(at64(a, i) >= 0 && at64(a, i) < 10);
    tl_sampler_free(s);
    /* without replacement, num_samples 25: two permutations then 5 of a third */
    {
        tl_generator *g = tl_generator_new(3);
        int64_t c[10] = {0};
        s = tl_random_sampler(0, 25, g);
        a = tl_sampler_indices(s, 10);
        REQUIRE(a);
        for (i = 0; i < 20; i++) c[at64(a, i)]++;
        for (i = 0; i < 10; i++) CHECK_EQ_INT(c[i], 2);
        tl_sampler_free(s);
        tl_generator_free(g);
    }
    /* WeightedRandomSampler = multinomial(weights as float64, n, replacement) */
    {
        tl_tensor *w = tl_from_data((const float[]){1, 0, 3, 0.5f, 2}, TL_SHAPE(5), TL_F32);
        s = tl_weighted_random_sampler(w, 12, 1, NULL);
        tl_manual_seed(8);
        a = tl_sampler_indices(s, 5);
        tl_manual_seed(8);
        b = tl_multinomial(tl_to_dtype(w, TL_F64), 12, 1);
        REQUIRE(a && b);
        CHECK(tl_item(tl_sum_all(tl_ne(a, b))) == 0);
        for (i = 0; i < 12; i++) CHECK(at64(a, i) != 1); /* weight 0: never drawn */
        tl_sampler_free(s);
        CHECK(tl_weighted_random_sampler(w, 0, 1, NULL) == NULL && tl_last_status() == TL_ERR_ARG);
        tl_clear_error();
    }
    /* SubsetRandomSampler: the given indices in some order */
    s = tl_subset_random_sampler(4, sub, NULL);
    a = tl_sampler_indices(s, 10);
    {
        int64_t sum = 0;
        for (i = 0; i < 4; i++) sum += at64(a, i);
        CHECK_EQ_INT(sum, 20);
    }
    tl_sampler_free(s);
    /* a user sampler drives the loader; a wrong one is a clear error */
    s = tl_sampler_new(reverse_sampler, &off, NULL, 0, NULL);
    o.sampler = s;
    l = tl_loader_new(ds, &o);
    CHECK_EQ_INT(drain(l, got, &n, NULL), 4);
    for (i = 0; i < 10; i++) CHECK_EQ_INT(got[i], 9 - i);
    off = 1; /* now gives 10 for a dataset of 10 */
    CHECK(drain(l, got, &n, NULL) == -1);
    CHECK(strstr(tl_last_error(), "the sampler gave index 10 (position 0) for a dataset of 10 samples") != NULL);
    tl_clear_error();
    tl_loader_free(l);
    o.shuffle = 1;
    CHECK(tl_loader_new(ds, &o) == NULL && strstr(tl_last_error(), "sampler option is mutually exclusive with shuffle"));
    tl_clear_error();
    tl_sampler_free(s);
    tl_scope_end(sc);
    tl_dataset_free(ds);
}

static tl_status sum_collate(int n, tl_sample *samples, tl_batch *out, void *user) {
    int i;
    tl_tensor *acc = tl_zeros(TL_SHAPE(2), TL_F32);
    (void)user;
    for (i = 0; i < n; i++) acc = tl_add(acc, samples[i].t[1]);
    out->n = 1;
    out->t[0] = acc;
    return acc ? TL_OK : tl_last_status();
}
static tl_status ragged_item(void *user, int64_t index, tl_sample *out) {
    (void)user;
    out->n = 1;
    out->t[0] = tl_zeros(TL_SHAPE(1 + index), TL_F32);
    return TL_OK;
}
TEST(collate_default_custom_and_errors) {
    tl_dataset *ds = make_ds(6, NULL), *rag = tl_dataset_new(3, ragged_item, NULL, NULL);
    tl_loader_opts o = opts_of(4, 0, 0, 0);
    tl_loader *l;
    tl_batch b;
    o.collate = sum_collate;
    l = tl_loader_new(ds, &o);
    REQUIRE(tl_loader_next(l, &b) == TL_OK);
    CHECK(b.n == 1 && b.y == NULL);
    CHECK(tl_get(b.x, (const int64_t[]){0}) == 3.0);  /* 0 + 0.5 + 1 + 1.5 */
    CHECK(tl_get(b.x, (const int64_t[]){1}) == -6.0); /* -(0 + 1 + 2 + 3) */
    tl_batch_release(&b);
    tl_loader_free(l);
    o.collate = NULL;
    l = tl_loader_new(rag, &o);
    CHECK(tl_loader_next(l, &b) == TL_ERR_SHAPE);
    CHECK(strstr(tl_last_error(), "tl_loader_next: batch 0 of epoch 0: tl_stack: stack expects each tensor to be "
                                  "equal size, but got [1] at entry 0 and [2] at entry 1") != NULL);
    tl_clear_error();
    tl_loader_free(l);
    tl_dataset_free(rag);
    tl_dataset_free(ds);
}
TEST(empty_and_short_epochs) {
    tl_dataset *ds = make_ds(3, NULL), *empty = make_ds(0, NULL);
    tl_loader_opts o = opts_of(5, 0, 1, 0);
    tl_loader *l = tl_loader_new(ds, &o);
    tl_batch b;
    CHECK(TL_EPOCH_END > 0);
    CHECK_STR(tl_status_str(TL_EPOCH_END), "TL_EPOCH_END");
    CHECK_EQ_INT(tl_loader_len(l), 0);
    CHECK(tl_loader_next(l, &b) == TL_EPOCH_END);
    CHECK(tl_last_status() == TL_OK); /* not an error */
    tl_loader_free(l);
    o.drop_last = 0;
    l = tl_loader_new(empty, &o);
    CHECK(tl_loader_next(l, &b) == TL_EPOCH_END);
    tl_loader_free(l);
    o.shuffle = 1;
    CHECK(tl_loader_new(empty, &o) == NULL);
    CHECK(strstr(tl_last_error(), "num_samples should be a positive integer value, but got num_samples=0") != NULL);
    tl_clear_error();
    o.batch_size = -2;
    CHECK(tl_loader_new(ds, &o) == NULL && tl_last_status() == TL_ERR_ARG);
    tl_clear_error();
    tl_dataset_free(ds);
    tl_dataset_free(empty);
}

/* ---- file formats ---- */

/* A growable byte buffer for building files in memory. */
typedef struct bytes { unsigned char *p; size_t n, cap; } bytes;
static void put(bytes *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = (unsigned char *)realloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put8(bytes *b, unsigned v) {
    unsigned char c = (unsigned char)v;
    put(b, &c, 1);
}
static void put16(bytes *b, unsigned v) {
    put8(b, v & 0xff);
    put8(b, (v >> 8) & 0xff);
}
static void put32(bytes *b, uint32_t v) {
    put16(b, v & 0xffff);
    put16(b, v >> 16);
}
static void put32be(bytes *b, uint32_t v) {
    put8(b, v >> 24);
    put8(b, (v >> 16) & 0xff);
    put8(b, (v >> 8) & 0xff);
    put8(b, v & 0xff);
}
static uint32_t crc32_of(const void *d, size_t n) {
    tl__crc c;
    tl__crc_init(&c);
    return tl__crc_update(&c, 0, d, n);
}
/* gzip member of d using stored deflate blocks (valid deflate, no compression). */
static bytes gz_stored(const void *d, size_t n, unsigned flags) {
    bytes b = {0, 0, 0};
    size_t off = 0;
    static const unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    put(&b, hdr, 10);
    b.p[3] = (unsigned char)flags;
    if (flags & 8) put(&b, "name.idx", 9);
    if (flags & 2) put16(&b, crc32_of(b.p, b.n) & 0xffff);
    do {
        size_t k = n - off > 65535 ? 65535 : n - off;
        put8(&b, off + k == n ? 1 : 0);
        put16(&b, (unsigned)k);
        put16(&b, (unsigned)~k & 0xffff);
        put(&b, (const unsigned char *)d + off, k);
        off += k;
    } while (off < n);
    put32(&b, crc32_of(d, n));
    put32(&b, (uint32_t)n);
    return b;
}
/* IDX file: type, dims, then the big-endian data given. */
static bytes idx_file(unsigned type, int nd, const uint32_t *dims, const void *data, size_t n) {
    bytes b = {0, 0, 0};
    int i;
    put8(&b, 0);
    put8(&b, 0);
    put8(&b, type);
    put8(&b, (unsigned)nd);
    for (i = 0; i < nd; i++) put32be(&b, dims[i]);
    put(&b, data, n);
    return b;
}
/* .npy with the given header dict text (padded like numpy) and data. */
static bytes npy_file(const char *dict, const void *data, size_t n) {
    bytes b = {0, 0, 0};
    size_t hl = strlen(dict), total = 10 + hl + 1;
    total += (64 - total % 64) % 64;
    put(&b, "\x93NUMPY\x01\x00", 8);
    put16(&b, (unsigned)(total - 10));
    put(&b, dict, hl);
    while (b.n + 1 < total) put8(&b, ' ');
    put8(&b, '\n');
    put(&b, data, n);
    return b;
}
/* zip with stored entries (what np.savez writes, less the ZIP64 extras). */
static bytes zip_stored(int n, const char *const *names, const bytes *datas) {
    bytes b = {0, 0, 0}, cd = {0, 0, 0};
    int i;
    for (i = 0; i < n; i++) {
        uint32_t off = (uint32_t)b.n, crc = crc32_of(datas[i].p, datas[i].n);
        size_t nl = strlen(names[i]);
        int pass;
        for (pass = 0; pass < 2; pass++) { /* local header, then the central directory entry */
            bytes *t = pass ? &cd : &b;
            put32(t, pass ? 0x02014b50u : 0x04034b50u);
            if (pass) put16(t, 20);
            put16(t, 20);
            put16(t, 0);
            put16(t, 0);
            put16(t, 0);
            put16(t, 0);
            put32(t, crc);
            put32(t, (uint32_t)datas[i].n);
            put32(t, (uint32_t)datas[i].n);
            put16(t, (unsigned)nl);
            put16(t, 0);
            if (pass) {
                put16(t, 0);
                put16(t, 0);
                put16(t, 0);
                put32(t, 0);
                put32(t, off);
            }
            put(t, names[i], nl);
            if (!pass) put(t, datas[i].p, datas[i].n);
        }
    }
    {
        uint32_t cdoff = (uint32_t)b.n;
        put(&b, cd.p, cd.n);
        put32(&b, 0x06054b50u);
        put16(&b, 0);
        put16(&b, 0);
        put16(&b, (unsigned)n);
        put16(&b, (unsigned)n);
        put32(&b, (uint32_t)cd.n);
        put32(&b, cdoff);
        put16(&b, 0);
    }
    free(cd.p);
    return b;
}

TEST(npy_round_trips_every_dtype) {
    static const tl_dtype dts[] = {TL_F32, TL_F64, TL_F16, TL_I64, TL_I32, TL_I16, TL_I8, TL_U8, TL_BOOL};
    int k, s;
    tl_scope sc = tl_scope_begin();
    for (k = 0; k < 9; k++)
        for (s = 0; s < 4; s++) {
            tl_tensor *t, *back;
            void *buf;
            size_t n;
            if (s == 0) t = tl_scalar_tensor(1, dts[k]);
            else if (s == 1) t = tl_empty(TL_SHAPE(0, 3), dts[k]);
            else if (s == 2) t = tl_to_dtype(tl_reshape(tl_arange(0, 24, 1, TL_I64), TL_SHAPE(2, 3, 4)), dts[k]);
            else t = tl_t(tl_to_dtype(tl_reshape(tl_arange(-6, 6, 1, TL_I64), TL_SHAPE(3, 4)), dts[k])); /* non-contiguous */
            REQUIRE(t);
            if (dts[k] == TL_BOOL && s >= 2) t = tl_ne_scalar(t, 0);
            REQUIRE(tl_save_npy_to_buffer(t, &buf, &n) == TL_OK);
            { /* numpy's layout: the data starts at a multiple of 64, right after the header */
                size_t hl = ((const unsigned char *)buf)[8] + 256u * ((const unsigned char *)buf)[9];
                CHECK((10 + hl) % 64 == 0 && 10 + hl + (size_t)tl_numel(t) * tl_dtype_size(dts[k]) == n);
            }
            back = tl_load_npy_from_buffer(buf, n);
            tl_free_buffer(buf);
            REQUIRE(back);
            CHECK(tl_dtype_of(back) == dts[k] && tl_ndim(back) == tl_ndim(t));
            CHECK(tl_numel(back) == tl_numel(t) && (tl_numel(t) == 0 || tl_item(tl_sum_all(tl_ne(back, t))) == 0));
        }
    {
        void *buf;
        size_t n;
        CHECK(tl_save_npy_to_buffer(tl_zeros(TL_SHAPE(2), TL_BF16), &buf, &n) == TL_ERR_DTYPE);
        CHECK(strstr(tl_last_error(), "numpy has no bfloat16 dtype") != NULL);
        tl_clear_error();
    }
    /* the file functions, atomically */
    {
        tl_tensor *t = tl_arange(0, 5, 0.5, TL_F64), *u;
        CHECK(tl_save_npy(t, "build/test_data.npy") == TL_OK);
        u = tl_load_npy("build/test_data.npy");
        REQUIRE(u);
        CHECK(tl_numel(u) == 10 && tl_get(u, (const int64_t[]){9}) == 4.5);
        CHECK(tl_load_npy("build/no such file.npy") == NULL && tl_last_status() == TL_ERR_IO);
        CHECK(strstr(tl_last_error(), "tl_load_npy: cannot open 'build/no such file.npy'") != NULL);
        tl_clear_error();
        remove("build/test_data.npy");
    }
    tl_scope_end(sc);
}
TEST(npy_fortran_order_big_endian_and_version_2) {
    /* numpy.asfortranarray(arange(6).reshape(2, 3)) as int32: column-major data 0 3 1 4 2 5 */
    static const int32_t colmajor[6] = {0, 3, 1, 4, 2, 5};
    static const unsigned char be[8] = {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe}; /* >i4: 1, -2 */
    bytes f = npy_file("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }", colmajor, sizeof colmajor);
    bytes g = npy_file("{\"descr\": \">i4\", \"shape\": (2L,), \"fortran_order\": False}", be, 8);
    bytes v2 = {0, 0, 0};
    const char *v2dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (3,)}";
    tl_scope sc = tl_scope_begin();
    tl_tensor *t = tl_load_npy_from_buffer(f.p, f.n), *u = tl_load_npy_from_buffer(g.p, g.n), *w;
    int64_t i, j;
    REQUIRE(t && u);
    CHECK(tl_ndim(t) == 2 && tl_size(t, 0) == 2 && tl_size(t, 1) == 3 && tl_is_contiguous(t));
    for (i = 0; i < 2; i++)
        for (j = 0; j < 3; j++) CHECK(tl_get(t, (const int64_t[]){i, j}) == (double)(i * 3 + j));
    CHECK(tl_get(u, (const int64_t[]){0}) == 1 && tl_get(u, (const int64_t[]){1}) == -2);
    /* format 2.0: a 4-byte header length */
    put(&v2, "\x93NUMPY\x02\x00", 8);
    put32(&v2, (uint32_t)strlen(v2dict) + 1);
    put(&v2, v2dict, strlen(v2dict));
    put8(&v2, '\n');
    put(&v2, "\x01\x02\x03", 3);
    w = tl_load_npy_from_buffer(v2.p, v2.n);
    REQUIRE(w);
    CHECK(tl_dtype_of(w) == TL_U8 && tl_numel(w) == 3 && tl_get(w, (const int64_t[]){2}) == 3);
    tl_scope_end(sc);
    free(f.p);
    free(g.p);
    free(v2.p);
}
TEST(idx_raw_and_gzip) {
    static const unsigned char px[6] = {0, 1, 2, 253, 254, 255};
    static const unsigned char f32be[8] = {0x3f, 0x80, 0, 0, 0xc0, 0x20, 0, 0}; /* 1.0, -2.5 */
    static const uint32_t d23[2] = {2, 3}, d2[1] = {2};
    bytes a = idx_file(0x08, 2, d23, px, 6), b = idx_file(0x0D, 1, d2, f32be, 8), ga = gz_stored(a.p, a.n, 0),
          gb = gz_stored(b.p, b.n, 8 | 2);
    tl_scope sc = tl_scope_begin();
    tl_tensor *t = tl_load_idx_from_buffer(a.p, a.n), *u = tl_load_idx_from_buffer(b.p, b.n),
              *tg = tl_load_idx_from_buffer(ga.p, ga.n), *ug = tl_load_idx_from_buffer(gb.p, gb.n);
    REQUIRE(t && u && tg && ug);
    CHECK(tl_dtype_of(t) == TL_U8 && tl_size(t, 0) == 2 && tl_size(t, 1) == 3);
    CHECK(tl_get(t, (const int64_t[]){1, 2}) == 255);
    CHECK(tl_dtype_of(u) == TL_F32 && tl_get(u, (const int64_t[]){1}) == -2.5);
    CHECK(tl_item(tl_sum_all(tl_ne(t, tg))) == 0 && tl_item(tl_sum_all(tl_ne(u, ug))) == 0);
    tl_scope_end(sc);
    free(a.p);
    free(b.p);
    free(ga.p);
    free(gb.p);
}
TEST(npz_reads_every_entry_in_order) {
    static const float xs[3] = {1, 2, 3};
    static const int64_t ys[2] = {7, -7};
    const char *names[2] = {"x.npy", "labels.npy"};
    bytes e[2], z;
    tl_value *d;
    tl_tensor *x, *y;
    tl_scope sc = tl_scope_begin();
    e[0] = npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", xs, sizeof xs);
    e[1] = npy_file("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", ys, sizeof ys);
    z = zip_stored(2, names, e);
    d = tl_load_npz_from_buffer(z.p, z.n);
    REQUIRE(d);
    CHECK_EQ_INT(tl_value_len(d), 2);
    CHECK_STR(tl_value_as_string(tl_value_key(d, 0), NULL), "x");
    CHECK_STR(tl_value_as_string(tl_value_key(d, 1), NULL), "labels");
    x = tl_value_tensor_of(tl_value_get(d, "x"));
    y = tl_value_tensor_of(tl_value_get(d, "labels"));
    REQUIRE(x && y);
    CHECK(tl_get(x, (const int64_t[]){2}) == 3 && tl_item_i64(tl_select(y, 0, 1)) == -7);
    tl_value_free(d);
    tl_scope_end(sc);
    free(e[0].p);
    free(e[1].p);
    free(z.p);
}
TEST(csv_numbers) {
    static const char text[] = "a;b;c\r\n1; 2.5 ;-3\r\n\r\n  4;5e1;inf\n";
    static const char ints[] = "9007199254740993,-1\n2,3";
    tl_csv_opts o;
    tl_tensor *t, *u;
    tl_scope sc = tl_scope_begin();
    memset(&o, 0, sizeof o);
    o.delimiter = ';';
    o.header = 1;
    t = tl_load_csv_from_buffer(text, strlen(text), &o);
    REQUIRE(t);
    CHECK(tl_dtype_of(t) == TL_F32 && tl_size(t, 0) == 2 && tl_size(t, 1) == 3);
    CHECK(tl_get(t, (const int64_t[]){0, 1}) == 2.5 && tl_get(t, (const int64_t[]){1, 1}) == 50);
    CHECK(tl_get(t, (const int64_t[]){1, 2}) > 1e300);
    o.delimiter = 0;
    o.header = 0;
    o.dtype = TL_I64;
    u = tl_load_csv_from_buffer(ints, strlen(ints), &o);
    REQUIRE(u);
    CHECK(tl_item_i64(tl_select(tl_select(u, 0, 0), 0, 0)) == INT64_C(9007199254740993)); /* exact, not via double */
    tl_scope_end(sc);
}

/* ---- malformed files: each a specific error naming the source, and no leak ---- */

typedef struct bad_case { const char *what; bytes data; int kind; tl_status st; const char *msg; } bad_case;
enum { K_IDX, K_NPY, K_NPZ, K_CSV };
static void bad(bad_case *c) {
    tl_value *v = NULL;
    tl_tensor *t = NULL;
    tl_csv_opts o;
    memset(&o, 0, sizeof o);
    if (c->kind == K_CSV) o.dtype = TL_I8;
    tl_clear_error();
    switch (c->kind) {
    case K_IDX: t = tl_load_idx_from_buffer(c->data.p ? (const void *)c->data.p : "", c->data.n); break;
    case K_NPY: t = tl_load_npy_from_buffer(c->data.p ? (const void *)c->data.p : "", c->data.n); break;
    case K_NPZ: v = tl_load_npz_from_buffer(c->data.p ? (const void *)c->data.p : "", c->data.n); break;
    default: t = tl_load_csv_from_buffer(c->data.p ? (const void *)c->data.p : "", c->data.n, &o); break;
    }
    if (t || v || tl_last_status() != c->st || !strstr(tl_last_error(), c->msg)) {
        printf("    malformed case '%s': got %s \"%s\", expected %s containing \"%s\"\n", c->what,
               tl_status_str(tl_last_status()), tl_last_error(), tl_status_str(c->st), c->msg);
        CHECK(0);
    } else {
        CHECK(strstr(tl_last_error(), ": buffer: ") != NULL); /* names the source */
    }
    tl_release(t);
    tl_value_free(v);
    tl_clear_error();
    free(c->data.p);
}
static bytes lit(const void *p, size_t n) {
    bytes b = {0, 0, 0};
    put(&b, p, n);
    return b;
}
TEST(malformed_files_are_specific_errors) {
    static const unsigned char px[6] = {1, 2, 3, 4, 5, 6};
    static const uint32_t d23[2] = {2, 3}, huge[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
    static const float f3[3] = {1, 2, 3};
    bytes ok_idx = idx_file(0x08, 2, d23, px, 6), gz, e[1], z;
    bad_case cs[40];
    int n = 0, i;
    const char *nm[1] = {"x.txt"};
#define BAD(W, D, K, S, M) do { cs[n].what = (W); cs[n].data = (D); cs[n].kind = (K); cs[n].st = (S); cs[n].msg = (M); n++; } while (0)
    /* IDX */
    BAD("idx bad magic", lit("\x01\x00\x08\x01\x00\x00\x00\x01x", 9), K_IDX, TL_ERR_FORMAT, "bad IDX magic 01 00 08 01");
    BAD("idx element type", idx_file(0x0A, 2, d23, px, 6), K_IDX, TL_ERR_FORMAT, "unknown IDX element type 0x0a");
    BAD("idx zero dims", lit("\x00\x00\x08\x00", 4), K_IDX, TL_ERR_FORMAT, "declares 0 dimensions");
    BAD("idx short header", lit("\x00\x00\x08\x03\x00\x00", 6), K_IDX, TL_ERR_FORMAT, "truncated IDX header: 3 dimensions need 16 bytes");
    BAD("idx truncated data", idx_file(0x08, 2, d23, px, 5), K_IDX, TL_ERR_FORMAT, "truncated IDX data: the header's sizes [2, 3] of uint8 need 6 data bytes, the file has 5");
    BAD("idx trailing data", idx_file(0x08, 2, d23, "1234567", 7), K_IDX, TL_ERR_FORMAT, "IDX sizes disagree with the file");
    BAD("idx overflowing sizes", idx_file(0x0E, 3, huge, px, 6), K_IDX, TL_ERR_FORMAT, "(overflowing bytes) exceed the reader's limit");
    /* gzip */
    gz = gz_stored(ok_idx.p, ok_idx.n, 0);
    gz.p[gz.n - 8] ^= 0x55; /* CRC */
    BAD("gzip crc", gz, K_IDX, TL_ERR_FORMAT, "corrupt gzip data: CRC-32 mismatch");
    gz = gz_stored(ok_idx.p, ok_idx.n, 0);
    gz.p[gz.n - 4] += 1; /* ISIZE one too many */
    BAD("gzip size", gz, K_IDX, TL_ERR_FORMAT, "corrupt gzip data: less output than");
    gz = gz_stored(ok_idx.p, ok_idx.n, 0);
    gz.p[2] = 7;
    BAD("gzip method", gz, K_IDX, TL_ERR_FORMAT, "gzip compression method 7 is not deflate");
    gz = gz_stored(ok_idx.p, ok_idx.n, 0);
    gz.p[3] = 0x40;
    BAD("gzip reserved flags", gz, K_IDX, TL_ERR_FORMAT, "reserved gzip header flags are set (0x40)");
    gz = gz_stored(ok_idx.p, ok_idx.n, 2 | 8);
    gz.p[19] ^= 1; /* header CRC */
    BAD("gzip header crc", gz, K_IDX, TL_ERR_FORMAT, "gzip header CRC mismatch");
    gz = gz_stored(ok_idx.p, ok_idx.n, 0);
    gz.n = 15;
    BAD("gzip truncated", gz, K_IDX, TL_ERR_FORMAT, "truncated gzip file (15 bytes");
    gz = gz_stored(ok_idx.p, ok_idx.n, 0);
    gz.p[10] = 0x07; /* block type 3 */
    BAD("gzip bad block", gz, K_IDX, TL_ERR_FORMAT, "corrupt gzip data: invalid block type 3");
    gz = gz_stored(ok_idx.p, ok_idx.n, 0);
    gz.p[gz.n - 1] = 0x7f; /* ISIZE of ~2 GiB from 30 bytes */
    BAD("gzip bomb", gz, K_IDX, TL_ERR_FORMAT, "more than DEFLATE can produce");
    gz = gz_stored(ok_idx.p, ok_idx.n, 0);
    gz.p[13] ^= 0xff; /* the stored block's NLEN */
    BAD("gzip stored length", gz, K_IDX, TL_ERR_FORMAT, "stored block length check failed");
    /* .npy */
    BAD("npy magic", lit("\x93NUMPZ\x01\x00\x00\x00", 10), K_NPY, TL_ERR_FORMAT, "not a .npy file");
    BAD("npy version", lit("\x93NUMPY\x04\x00\x00\x00", 10), K_NPY, TL_ERR_FORMAT, "unsupported .npy format version 4.0");
    BAD("npy header length", lit("\x93NUMPY\x01\x00\xff\x00{}", 12), K_NPY, TL_ERR_FORMAT, "truncated .npy header: 255 header bytes declared, 2 present");
    BAD("npy dict syntax", npy_file("{'descr': '<f4' 'fortran_order': False, 'shape': (3,), }", f3, 12), K_NPY, TL_ERR_FORMAT, "bad .npy header dict: expected ',' or '}'");
    BAD("npy missing key", npy_file("{'descr': '<f4', 'fortran_order': False}", f3, 12), K_NPY, TL_ERR_FORMAT, "bad .npy header dict: no 'shape' key");
    BAD("npy unexpected key", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}", f3, 12), K_NPY, TL_ERR_FORMAT, "unexpected key 'x'");
    BAD("npy duplicate key", npy_file("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", f3, 12), K_NPY, TL_ERR_FORMAT, "duplicate key 'descr'");
    BAD("npy object dtype", npy_file("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }", f3, 12), K_NPY, TL_ERR_DTYPE, "object arrays hold pickled Python objects");
    BAD("npy structured dtype", npy_file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", f3, 12), K_NPY, TL_ERR_FORMAT, "expected a quoted string");
    BAD("npy uint16", npy_file("{'descr': '<u2', 'fortran_order': False, 'shape': (3,), }", f3, 6), K_NPY, TL_ERR_DTYPE, "numpy dtype '<u2' is not supported");
    BAD("npy negative shape", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }", f3, 12), K_NPY, TL_ERR_FORMAT, "expected a non-negative int in 'shape'");
    BAD("npy overflowing shape", npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", f3, 12), K_NPY, TL_ERR_FORMAT, "needs overflowing bytes, more than the reader's limit");
    BAD("npy truncated data", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", f3, 12), K_NPY, TL_ERR_FORMAT, "truncated .npy data: shape [4] of <f4 needs 16 data bytes, 12 present");
    BAD("npy bad bool", npy_file("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", "\x01\x02", 2), K_NPY, TL_ERR_FORMAT, "bool element 1 has byte value 2");
    /* .npz */
    BAD("npz not a zip", lit("\x93NUMPY\x01\x00", 8), K_NPZ, TL_ERR_FORMAT, "not an .npz file");
    e[0] = npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f3, 12);
    z = zip_stored(1, nm, e);
    BAD("npz entry not npy", z, K_NPZ, TL_ERR_FORMAT, "entry 'x.txt' is not a .npy array");
    nm[0] = "x.npy";
    z = zip_stored(1, nm, e);
    z.p[z.n - 22 - 46 - 5 - 12 - 3] ^= 0x20; /* a byte of the stored entry: CRC mismatch */
    BAD("npz entry crc", z, K_NPZ, TL_ERR_FORMAT, "record 'x.npy' fails its CRC-32 check");
    free(e[0].p);
    e[0] = npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (9,), }", f3, 12);
    z = zip_stored(1, nm, e);
    BAD("npz entry malformed", z, K_NPZ, TL_ERR_FORMAT, "buffer: x.npy: truncated .npy data");
    free(e[0].p);
    /* CSV (dtype int8 in these cases) */
    BAD("csv ragged", lit("1,2,3\n4,5\n", 10), K_CSV, TL_ERR_FORMAT, "line 2 has 2 fields, the first data row has 3");
    BAD("csv not a number", lit("1,x2\n", 5), K_CSV, TL_ERR_FORMAT, "line 1, field 2: 'x2' is not an integer");
    BAD("csv empty field", lit("1,,3\n", 5), K_CSV, TL_ERR_FORMAT, "line 1, field 2: empty field");
    BAD("csv out of range", lit("1,300\n", 6), K_CSV, TL_ERR_FORMAT, "line 1, field 2: 300 is out of range for int8");
#undef BAD
    CHECK(n >= 15);
    for (i = 0; i < n; i++) bad(&cs[i]);
    free(ok_idx.p);
}

/* Every allocation failing in turn while reading files and running a loader: a clean error each
   time, never a crash or a leak. */
#include "fail_alloc.h"

typedef struct sweep_files { bytes idx_gz, npy, npz, csv; } sweep_files;
static tl_status read_and_load(void *ctx) {
    const sweep_files *f = (const sweep_files *)ctx;
    tl_tensor *img = NULL, *arr = NULL, *tab = NULL, *ts[2];
    tl_value *z = NULL, *pos = NULL;
    tl_dataset *ds = NULL;
    tl_loader *l = NULL;
    tl_loader_opts o = opts_of(2, 1, 0, 0);
    tl_batch b;
    tl_status st = TL_OK;
    tl_csv_opts co;
    memset(&co, 0, sizeof co);
    if (!(img = tl_load_idx_from_buffer(f->idx_gz.p, f->idx_gz.n)) || !(arr = tl_load_npy_from_buffer(f->npy.p, f->npy.n)) ||
        !(z = tl_load_npz_from_buffer(f->npz.p, f->npz.n)) || !(tab = tl_load_csv_from_buffer(f->csv.p, f->csv.n, &co))) {
        st = tl_last_status();
        goto done;
    }
    ts[0] = img;
    ts[1] = arr;
    ds = tl_tensor_dataset(2, ts);
    l = ds ? tl_loader_new(ds, &o) : NULL;
    if (!l) {
        st = tl_last_status();
        goto done;
    }
    tl_manual_seed(4);
    while ((st = tl_loader_next(l, &b)) == TL_OK) {
        tl_batch_release(&b);
        if (!pos && !(pos = tl_loader_position(l))) break;
    }
    if (st == TL_EPOCH_END) st = pos ? tl_loader_set_position(l, pos) : tl_last_status();
    if (st == TL_OK && tl_loader_next(l, &b) == TL_OK) tl_batch_release(&b);
    st = st == TL_OK ? tl_last_status() : st;
done:
    tl_loader_free(l);
    tl_dataset_free(ds);
    tl_value_free(z);
    tl_value_free(pos);
    tl_release(img);
    tl_release(arr);
    tl_release(tab);
    return st < 0 ? (tl_last_status() ? tl_last_status() : st) : TL_OK;
}
TEST(every_allocation_failing_in_turn) {
    static const unsigned char px[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    static const float f4[4] = {1, 2, 3, 4};
    static const uint32_t d43[2] = {4, 3};
    const char *nm[1] = {"a.npy"};
    bytes raw = idx_file(0x08, 2, d43, px, 12);
    sweep_files f;
    long points = 0;
    f.idx_gz = gz_stored(raw.p, raw.n, 8);
    f.npy = npy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (4, 1), }", f4, 16);
    f.npz = zip_stored(1, nm, &f.npy);
    f.csv = lit("1,2\n3,4\n", 8);
    oom_sweep("data readers and a loader epoch", read_and_load, &f, &points);
    CHECK(points > 50);
    free(raw.p);
    free(f.idx_gz.p);
    free(f.npy.p);
    free(f.npz.p);
    free(f.csv.p);
}

static const th_case tests[] = {
    TH_CASE(every_sample_once_per_epoch),
    TH_CASE(torch_vectors_dataloader_and_random_split),
    TH_CASE(same_seed_same_order_new_epoch_new_order),
    TH_CASE(position_resumes_mid_epoch),
    TH_CASE(position_before_any_epoch_and_errors),
    TH_CASE(workers_deliver_the_same_batches_in_order),
    TH_CASE(worker_random_transforms_do_not_depend_on_num_workers),
    TH_CASE(an_error_on_a_worker_reaches_the_caller),
    TH_CASE(free_or_reset_in_the_middle_of_an_epoch),
    TH_CASE(batches_follow_the_ownership_rule),
    TH_CASE(subset_concat_and_random_split),
    TH_CASE(tensor_dataset_errors_and_rows),
    TH_CASE(samplers),
    TH_CASE(collate_default_custom_and_errors),
    TH_CASE(empty_and_short_epochs),
    TH_CASE(npy_round_trips_every_dtype),
    TH_CASE(npy_fortran_order_big_endian_and_version_2),
    TH_CASE(idx_raw_and_gzip),
    TH_CASE(npz_reads_every_entry_in_order),
    TH_CASE(csv_numbers),
    TH_CASE(malformed_files_are_specific_errors),
    TH_CASE(every_allocation_failing_in_turn),
};
int main(void) { return TH_RUN(tests); }
