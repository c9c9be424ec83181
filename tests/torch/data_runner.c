/* data_runner.c - runs >>data commands for tests/torch/test_data.py (the PyTorch/numpy oracle).

   usage: data_runner < COMMANDS > RESULTS

   One command per input line, one result line per command, in order (the default generator's state
   flows from command to command as torch's does in the Python script):

     seed S                          tl_manual_seed(S)                                  -> "ok"
     gen ID S                        generator ID (0..7) := tl_generator_new(S)          -> "ok"
     state | genstate ID             the default generator's / generator ID's state      -> "ok HEX"
     loader N B SHUFFLE DROP GID E   DataLoader(TensorDataset(arange(N)), batch_size=B, shuffle,
                                     drop_last, generator=GID or -1), E epochs, num_workers 0
                                     -> "ok" + per epoch " |" + batches "i,i,i;i,i" (one line)
     split N LENS GID                random_split(arange(N), LENS (comma-separated doubles), g)
                                     -> "ok i,i;i,i,i" (the subsets' indices)
     rsampler N REPL NUM GID         list(RandomSampler(range(N), REPL, NUM or 0 = None, g))
     wsampler W NUM REPL GID         list(WeightedRandomSampler(W (doubles), NUM, REPL, g))
     ssampler I GID                  list(SubsetRandomSampler(I (ints), g))  -> "ok i,i,i"
     idx PATH OUT                    tl_load_idx(PATH); raw C-order bytes to OUT -> "ok DT SHAPE"
     mnist ROOT TRAIN OUTX OUTY      tl_mnist_dataset through a sequential loader (batch 1000,
                                     2 workers): images and labels bytes to OUTX/OUTY -> "ok N"
     npyload IN OUT                  tl_load_npy(IN), then tl_save_npy(OUT)           -> "ok DT SHAPE"
     npysave DT SHAPE OUT            tl_save_npy of value(i) = ((i * 7919) % 251) - 100 (as DT;
                                     bool: odd) in C order                              -> "ok"
     npz IN OUTPREFIX                tl_load_npz(IN); entry k saved to OUTPREFIX<k>.npy -> "ok k1,k2"
     csv IN DT HEADER DELIM OUT      tl_load_csv (DELIM a character code), saved as .npy -> "ok SHAPE"

   DT is a tl_dtype number; SHAPE is "-" (0-dim) or sizes joined by ","; GID -1 means none. A
   failure is "err STATUS message". Every command runs in its own tl_scope; after it the runner
   prints "end", or "leak DT DS" when the live tensor or storage counts changed. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#define RUNNER_IO_TEXT_ONLY /* parse_shape only */
#include "runner_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXTOK 16
static tl_generator *gens[8];
static char *out;      /* the result line being built */
static size_t outn, outcap;

static void emit(const char *s) {
    size_t n = strlen(s);
    if (outn + n + 1 > outcap) {
        outcap = (outn + n + 1) * 2;
        out = (char *)realloc(out, outcap);
        if (!out) exit(2);
    }
    memcpy(out + outn, s, n + 1);
    outn += n;
}
static void emit_int(long long v, const char *sep) {
    char b[32];
    snprintf(b, sizeof b, "%s%lld", sep, v);
    emit(b);
}
static tl_generator *gen_of(const char *s) {
    int id = atoi(s);
    return id >= 0 && id < 8 ? gens[id] : NULL;
}
/* comma-separated numbers */
static int parse_list(const char *s, double *v, int cap) {
    int n = 0;
    while (*s && n < cap) {
        char *end;
        v[n++] = strtod(s, &end);
        if (end == s) break;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}
static void emit_shape(const tl_tensor *t) {
    int i;
    char b[32];
    snprintf(b, sizeof b, " %d ", (int)tl_dtype_of(t));
    emit(b);
    if (tl_ndim(t) == 0) emit("-");
    for (i = 0; i < tl_ndim(t); i++) emit_int((long long)tl_shape(t)[i], i ? "," : "");
}
static void emit_indices(const tl_tensor *t) {
    int64_t i;
    const int64_t *p = (const int64_t *)tl_data_ptr(t);
    for (i = 0; i < tl_numel(t); i++) emit_int((long long)p[i], i ? "," : "");
}
static void emit_state(tl_generator *g) {
    tl_tensor *s = g ? tl_generator_get_state(g) : tl_get_rng_state();
    const unsigned char *p;
    int64_t i;
    char b[4];
    if (!s) return;
    p = (const unsigned char *)tl_data_ptr(s);
    emit("ok ");
    for (i = 0; i < tl_numel(s); i++) {
        snprintf(b, sizeof b, "%02x", p[i]);
        emit(b);
    }
}
static int write_raw(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(p, 1, n, f) == n;
    if (f) fclose(f);
    return ok;
}
static int run_loader(char **tok) {
    int64_t n = atoll(tok[1]), e, epochs = atoll(tok[6]);
    tl_tensor *x = tl_arange(0, (double)n, 1, TL_I64);
    tl_dataset *ds = x ? tl_tensor_dataset(1, &x) : NULL;
    tl_loader_opts o;
    tl_loader *l;
    tl_batch b;
    tl_status st = TL_OK;
    memset(&o, 0, sizeof o);
    o.batch_size = atoll(tok[2]);
    o.shuffle = atoi(tok[3]);
    o.drop_last = atoi(tok[4]);
    o.generator = gen_of(tok[5]);
    l = ds ? tl_loader_new(ds, &o) : NULL;
    tl_dataset_free(ds);
    if (!l) return 0;
    emit("ok");
    for (e = 0; e < epochs; e++) {
        int first = 1;
        emit(" |");
        while ((st = tl_loader_next(l, &b)) == TL_OK) {
            if (!first) emit(";");
            first = 0;
            emit_indices(b.x);
            tl_batch_release(&b);
        }
        if (st != TL_EPOCH_END) break;
    }
    tl_loader_free(l);
    return st == TL_EPOCH_END;
}
static int run_split(char **tok) {
    double lens[16];
    int n = parse_list(tok[2], lens, 16), k;
    int64_t i, len = atoll(tok[1]);
    tl_tensor *x = tl_arange(0, (double)len, 1, TL_I64);
    tl_dataset *ds = x ? tl_tensor_dataset(1, &x) : NULL, *sp[16];
    if (!ds || tl_random_split(ds, n, lens, gen_of(tok[3]), sp) != TL_OK) {
        tl_dataset_free(ds);
        return 0;
    }
    emit("ok ");
    for (k = 0; k < n; k++) {
        if (k) emit(";");
        for (i = 0; i < tl_dataset_len(sp[k]); i++) {
            tl_sample s;
            if (tl_dataset_get(sp[k], i, &s) != TL_OK) return 0;
            emit_int((long long)tl_item_i64(s.t[0]), i ? "," : "");
            tl_sample_release(&s);
        }
        tl_dataset_free(sp[k]);
    }
    tl_dataset_free(ds);
    return 1;
}
static int run_sampler(tl_sampler *s, int64_t n) {
    tl_tensor *idx = s ? tl_sampler_indices(s, n) : NULL;
    tl_sampler_free(s);
    if (!idx) return 0;
    emit("ok ");
    emit_indices(idx);
    return 1;
}
/* value(i) of npysave, as a double */
static double val(int64_t i, tl_dtype dt) {
    if (dt == TL_BOOL) return (double)(i & 1);
    return (double)((i * 7919) % 251) - 100.0;
}
static int run_mnist(char **tok) {
    tl_dataset *ds = tl_mnist_dataset(tok[1], atoi(tok[2]));
    tl_loader_opts o;
    tl_loader *l;
    tl_batch b;
    tl_status st;
    FILE *fx, *fy;
    int64_t n = 0;
    if (!ds) return 0;
    memset(&o, 0, sizeof o);
    o.batch_size = 1000;
    o.num_workers = 2;
    l = tl_loader_new(ds, &o);
    tl_dataset_free(ds);
    if (!l) return 0;
    fx = fopen(tok[3], "wb");
    fy = fopen(tok[4], "wb");
    while ((st = tl_loader_next(l, &b)) == TL_OK) {
        fwrite(tl_data_ptr(b.x), 1, (size_t)tl_numel(b.x), fx);
        fwrite(tl_data_ptr(b.y), 8, (size_t)tl_numel(b.y), fy);
        n += b.size;
        tl_batch_release(&b);
    }
    fclose(fx);
    fclose(fy);
    tl_loader_free(l);
    if (st != TL_EPOCH_END) return 0;
    emit_int((long long)n, "ok ");
    return 1;
}
static int run(char **tok, int nt) {
    const char *c = tok[0];
    if (!strcmp(c, "seed") && nt == 2) {
        tl_manual_seed(strtoull(tok[1], NULL, 10));
        emit("ok");
        return 1;
    }
    if (!strcmp(c, "gen") && nt == 3) {
        int id = atoi(tok[1]);
        tl_generator_free(gens[id]);
        gens[id] = tl_generator_new(strtoull(tok[2], NULL, 10));
        emit("ok");
        return gens[id] != NULL;
    }
    if (!strcmp(c, "state") || !strcmp(c, "genstate")) {
        emit_state(nt > 1 ? gen_of(tok[1]) : NULL);
        return outn > 0;
    }
    if (!strcmp(c, "loader") && nt == 7) return run_loader(tok);
    if (!strcmp(c, "split") && nt == 4) return run_split(tok);
    if (!strcmp(c, "rsampler") && nt == 5)
        return run_sampler(tl_random_sampler(atoi(tok[2]), atoll(tok[3]), gen_of(tok[4])), atoll(tok[1]));
    if (!strcmp(c, "wsampler") && nt == 5) {
        double w[256];
        int n = parse_list(tok[1], w, 256);
        int64_t sh = n;
        tl_tensor *wt = tl_from_data(w, 1, &sh, TL_F64);
        return run_sampler(wt ? tl_weighted_random_sampler(wt, atoll(tok[2]), atoi(tok[3]), gen_of(tok[4])) : NULL, n);
    }
    if (!strcmp(c, "ssampler") && nt == 3) {
        double v[256];
        int64_t iv[256];
        int n = parse_list(tok[1], v, 256), k;
        for (k = 0; k < n; k++) iv[k] = (int64_t)v[k];
        return run_sampler(tl_subset_random_sampler(n, iv, gen_of(tok[2])), 1000);
    }
    if (!strcmp(c, "idx") && nt == 3) {
        tl_tensor *t = tl_load_idx(tok[1]);
        if (!t) return 0;
        if (!write_raw(tok[2], tl_data_ptr(t), (size_t)tl_numel(t) * tl_dtype_size(tl_dtype_of(t)))) return 0;
        emit("ok");
        emit_shape(t);
        return 1;
    }
    if (!strcmp(c, "mnist") && nt == 5) return run_mnist(tok);
    if (!strcmp(c, "npyload") && nt == 3) {
        tl_tensor *t = tl_load_npy(tok[1]);
        if (!t || tl_save_npy(t, tok[2]) != TL_OK) return 0;
        emit("ok");
        emit_shape(t);
        return 1;
    }
    if (!strcmp(c, "npysave") && nt == 4) {
        int64_t shape[TL_MAX_DIMS], i, n;
        int nd = parse_shape(tok[2], shape);
        tl_dtype dt = (tl_dtype)atoi(tok[1]);
        tl_tensor *d = tl_empty(nd, shape, TL_F64), *t;
        double *p;
        if (!d) return 0;
        p = (double *)tl_data_ptr(d);
        n = tl_numel(d);
        for (i = 0; i < n; i++) p[i] = val(i, dt);
        t = tl_to_dtype(d, dt);
        if (!t || tl_save_npy(t, tok[3]) != TL_OK) return 0;
        emit("ok");
        return 1;
    }
    if (!strcmp(c, "npz") && nt == 3) {
        tl_value *v = tl_load_npz(tok[1]);
        size_t k;
        char path[1024];
        if (!v) return 0;
        emit("ok ");
        for (k = 0; k < tl_value_len(v); k++) {
            tl_tensor *t = tl_value_tensor_of(tl_value_item(v, k));
            snprintf(path, sizeof path, "%s%d.npy", tok[2], (int)k);
            if (!t || tl_save_npy(t, path) != TL_OK) {
                tl_value_free(v);
                return 0;
            }
            if (k) emit(",");
            emit(tl_value_as_string(tl_value_key(v, k), NULL));
        }
        tl_value_free(v);
        return 1;
    }
    if (!strcmp(c, "csv") && nt == 6) {
        tl_csv_opts o;
        tl_tensor *t;
        memset(&o, 0, sizeof o);
        o.dtype = (tl_dtype)atoi(tok[2]);
        o.header = atoi(tok[3]);
        o.delimiter = (char)atoi(tok[4]);
        t = tl_load_csv(tok[1], &o);
        if (!t || tl_save_npy(t, tok[5]) != TL_OK) return 0;
        emit("ok");
        emit_shape(t);
        return 1;
    }
    tl__fail_at(__FILE__, __LINE__, TL_ERR_ARG, "data_runner: unknown command '%s' with %d tokens", c, nt);
    return 0;
}

int main(void) {
    static char line[1 << 16];
    while (fgets(line, sizeof line, stdin)) {
        char *tok[MAXTOK], *p = line;
        int nt = 0, ok;
        long t0 = tl_debug_live_tensors(), s0 = tl_debug_live_storages();
        tl_scope sc;
        while (nt < MAXTOK) {
            while (*p == ' ' || *p == '\n' || *p == '\r') p++;
            if (!*p) break;
            tok[nt++] = p;
            while (*p && *p != ' ' && *p != '\n' && *p != '\r') p++;
            if (*p) *p++ = 0;
        }
        if (nt == 0) continue;
        outn = 0;
        emit("");
        sc = tl_scope_begin();
        ok = run(tok, nt);
        tl_scope_end(sc);
        if (ok) printf("%s\n", out);
        else printf("err %s %s\n", tl_status_str(tl_last_status()), tl_last_error());
        tl_clear_error();
        if (tl_debug_live_tensors() != t0 || tl_debug_live_storages() != s0)
            printf("leak %ld %ld\n", tl_debug_live_tensors() - t0, tl_debug_live_storages() - s0);
        else
            printf("end\n");
        fflush(stdout);
    }
    {
        int k;
        for (k = 0; k < 8; k++) tl_generator_free(gens[k]);
    }
    free(out);
    tl_shutdown();
    return 0;
}
