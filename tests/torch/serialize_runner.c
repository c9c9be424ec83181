/* tests/torch/serialize_runner.c - the C side of tests/torch/test_serialize.py.

     serialize_runner write DIR    writes DIR/<case>.pt with tl_save plus DIR/<case>.dump (the
                                   canonical dump of the value saved) and DIR/manifest.txt
                                   ("<case> <has_floats>" per line)
     serialize_runner read FILE    tl_load(FILE), prints the canonical dump (exit 1 + "ERROR: msg")
     serialize_runner repr FILE    tl_load(FILE), prints tl_value_to_string (Python's repr)
     serialize_runner resave IN OUT  tl_load(IN) then tl_save(OUT)

   Canonical dump (test_serialize.py writes the same for torch objects): one line per value,
   indented two spaces per level: none | bool B | int I | float <16 hex digits of the IEEE bits> |
   str <hex of UTF-8> | list N | tuple N | dict N | odict N [+ "meta" line and the _metadata dict] |
   tensor dtype=D shape=a,b stride=c,d offset=O rg=R param=P storage=K, followed at the first
   appearance of storage K by "storage K nbytes=N <hex of the whole storage>". Storage ids count
   from 0 in order of first appearance (an empty storage always gets a fresh id).
   Build: cc -std=c99 -I. tests/torch/serialize_runner.c -lm (from the repo root). */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- canonical dump */

typedef struct dumper {
    FILE *f;
    const void *seen[4096];
    int nseen;
} dumper;

static void hex(FILE *f, const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    size_t k;
    for (k = 0; k < n; k++) fprintf(f, "%02x", b[k]);
}
static void dump(dumper *d, const tl_value *v, int depth) {
    size_t k, n = tl_value_len(v);
    int i;
    for (i = 0; i < depth; i++) fputs("  ", d->f);
    switch (tl_value_kind_of(v)) {
    case TL_VALUE_NONE: fputs("none\n", d->f); break;
    case TL_VALUE_BOOL: fprintf(d->f, "bool %d\n", tl_value_as_bool(v)); break;
    case TL_VALUE_INT: fprintf(d->f, "int %lld\n", (long long)tl_value_as_int(v)); break;
    case TL_VALUE_FLOAT: {
        double x = tl_value_as_float(v);
        uint64_t u;
        memcpy(&u, &x, 8);
        fprintf(d->f, "float %016llx\n", (unsigned long long)u);
        break;
    }
    case TL_VALUE_STRING: {
        size_t len;
        const char *s = tl_value_as_string(v, &len);
        fputs("str ", d->f);
        hex(d->f, s, len);
        fputc('\n', d->f);
        break;
    }
    case TL_VALUE_TENSOR: {
        tl_scope sc = tl_scope_begin(); /* owns the new reference tl_value_tensor_of returns */
        tl_tensor *t = tl_value_tensor_of(v);
        int id = -1, nd = tl_ndim(t);
        fprintf(d->f, "tensor dtype=%s shape=", tl_dtype_name(tl_dtype_of(t)));
        for (i = 0; i < nd; i++) fprintf(d->f, i ? ",%lld" : "%lld", (long long)tl_shape(t)[i]);
        fputs(" stride=", d->f);
        for (i = 0; i < nd; i++) fprintf(d->f, i ? ",%lld" : "%lld", (long long)tl_stride(t)[i]);
        if (t->storage->nbytes > 0)
            for (i = 0; i < d->nseen; i++)
                if (d->seen[i] == (const void *)t->storage) id = i;
        fprintf(d->f, " offset=%lld rg=%d param=%d storage=%d\n", (long long)tl_storage_offset(t), tl_requires_grad(t),
                tl_value_is_parameter(v), id >= 0 ? id : d->nseen);
        if (id < 0 && d->nseen < 4096) {
            for (i = 0; i < depth; i++) fputs("  ", d->f);
            fprintf(d->f, "storage %d nbytes=%lu ", d->nseen, (unsigned long)t->storage->nbytes);
            hex(d->f, t->storage->data, t->storage->nbytes);
            fputc('\n', d->f);
            d->seen[d->nseen++] = t->storage;
        }
        tl_scope_end(sc);
        break;
    }
    case TL_VALUE_LIST:
    case TL_VALUE_TUPLE:
        fprintf(d->f, "%s %lu\n", tl_value_kind_of(v) == TL_VALUE_LIST ? "list" : "tuple", (unsigned long)n);
        for (k = 0; k < n; k++) dump(d, tl_value_item(v, k), depth + 1);
        break;
    case TL_VALUE_DICT:
        fprintf(d->f, "%s %lu\n", tl_value_is_ordered(v) ? "odict" : "dict", (unsigned long)n);
        for (k = 0; k < n; k++) {
            dump(d, tl_value_key(v, k), depth + 1);
            dump(d, tl_value_item(v, k), depth + 1);
        }
        if (tl_value_is_ordered(v) && tl_value_metadata(v)) {
            for (i = 0; i < depth; i++) fputs("  ", d->f);
            fputs("meta\n", d->f);
            dump(d, tl_value_metadata(v), depth + 1);
        }
        break;
    }
}
static void dump_to(FILE *f, const tl_value *v) {
    dumper *d = (dumper *)calloc(1, sizeof(dumper));
    if (!d) return;
    d->f = f;
    dump(d, v, 0);
    free(d);
}

/* ---------------------------------------------------------------- the cases tensorlite writes */

static int has_floats(const tl_value *v) {
    size_t k, n = tl_value_len(v);
    if (tl_value_kind_of(v) == TL_VALUE_FLOAT) return 1;
    for (k = 0; k < n; k++) {
        if (has_floats(tl_value_item(v, k))) return 1;
        if (tl_value_kind_of(v) == TL_VALUE_DICT && has_floats(tl_value_key(v, k))) return 1;
    }
    return tl_value_kind_of(v) == TL_VALUE_DICT && tl_value_metadata(v) && has_floats(tl_value_metadata(v));
}

static int nfail;
static void emit(const char *dir, FILE *manifest, const char *name, tl_value *v) {
    char p[1024];
    FILE *f;
    if (!v) {
        printf("ERROR building %s: %s\n", name, tl_last_error());
        tl_clear_error();
        nfail++;
        return;
    }
    snprintf(p, sizeof p, "%s/%s.pt", dir, name);
    if (tl_save(v, p) != TL_OK) {
        printf("ERROR saving %s: %s\n", name, tl_last_error());
        tl_clear_error();
        nfail++;
    }
    snprintf(p, sizeof p, "%s/%s.dump", dir, name);
    f = fopen(p, "w");
    if (f) {
        dump_to(f, v);
        fclose(f);
    }
    fprintf(manifest, "%s %d\n", name, has_floats(v));
    tl_value_free(v);
}
/* (i * 7) % 23 - 11, in dtype dt, shaped [2, 3] */
static tl_tensor *pattern(tl_dtype dt, int n) {
    double buf[64];
    int i;
    for (i = 0; i < n && i < 64; i++) buf[i] = (double)((i * 7) % 23 - 11) * (dt == TL_BOOL ? 1 : 0.5);
    if (dt == TL_BOOL)
        for (i = 0; i < n; i++) buf[i] = (i % 3) == 0;
    else if (dt == TL_U8)
        for (i = 0; i < n; i++) buf[i] = (i * 37) % 256;
    else if (!tl_dtype_is_floating(dt))
        for (i = 0; i < n; i++) buf[i] = (double)((i * 7) % 23 - 11);
    return tl_to_dtype(tl_from_data(buf, 1, (const int64_t[]){n}, TL_F64), dt);
}

static int write_cases(const char *dir) {
    char p[1024];
    FILE *man;
    int dt;
    tl_scope s = tl_scope_begin();
    snprintf(p, sizeof p, "%s/manifest.txt", dir);
    man = fopen(p, "w");
    if (!man) {
        printf("ERROR: cannot write %s\n", p);
        return 1;
    }
    /* one file per dtype: a [2, 3] tensor, saved alone */
    for (dt = 0; dt < TL_DTYPE_COUNT; dt++) {
        char name[64];
        snprintf(name, sizeof name, "dtype_%s", tl_dtype_name((tl_dtype)dt));
        emit(dir, man, name, tl_value_tensor(tl_view(pattern((tl_dtype)dt, 6), TL_SHAPE(2, 3))));
    }
    { /* every dtype in one dict, plus 0-dim and empty tensors */
        tl_value *d = tl_value_dict();
        for (dt = 0; dt < TL_DTYPE_COUNT; dt++) {
            tl_value_set(d, tl_dtype_name((tl_dtype)dt), tl_value_tensor(pattern((tl_dtype)dt, 5)));
        }
        tl_value_set(d, "scalar_f32", tl_value_tensor(tl_scalar_tensor(-2.5, TL_F32)));
        tl_value_set(d, "scalar_i64", tl_value_tensor(tl_scalar_tensor(1234567, TL_I64)));
        tl_value_set(d, "scalar_bool", tl_value_tensor(tl_scalar_tensor(1, TL_BOOL)));
        tl_value_set(d, "empty_f32", tl_value_tensor(tl_zeros(TL_SHAPE(0), TL_F32)));
        tl_value_set(d, "empty_2x0_i64", tl_value_tensor(tl_zeros(TL_SHAPE(2, 0), TL_I64)));
        emit(dir, man, "all_dtypes", d);
    }
    emit(dir, man, "scalar", tl_value_tensor(tl_scalar_tensor(3.5, TL_F64)));
    emit(dir, man, "empty", tl_value_tensor(tl_zeros(TL_SHAPE(0, 4), TL_F32)));
    { /* half / bfloat16 special values, exact bits */
        const uint16_t h[6] = {0x7c00, 0xfc00, 0x7e00, 0x8000, 0x0001, 0x7bff};
        tl_value *d = tl_value_dict();
        tl_value_set(d, "half", tl_value_tensor(tl_from_data(h, 1, (const int64_t[]){6}, TL_F16)));
        tl_value_set(d, "bf16", tl_value_tensor(tl_from_data(h, 1, (const int64_t[]){6}, TL_BF16)));
        emit(dir, man, "special_bits", d);
    }
    { /* views with offsets and strides over one storage */
        tl_tensor *base = tl_view(tl_arange(0, 12, 1, TL_F32), TL_SHAPE(3, 4));
        tl_value *d = tl_value_dict();
        tl_value_set(d, "base", tl_value_tensor(base));
        tl_value_set(d, "t", tl_value_tensor(tl_t(base)));
        tl_value_set(d, "slice", tl_value_tensor(tl_slice(tl_slice(base, 0, 1, 3, 1), 1, 1, 3, 1)));
        tl_value_set(d, "step", tl_value_tensor(tl_slice(base, 1, 0, TL_END, 2)));
        tl_value_set(d, "row", tl_value_tensor(tl_select(base, 0, 2)));
        tl_value_set(d, "expand", tl_value_tensor(tl_expand(tl_select(base, 0, 0), TL_SHAPE(2, 4))));
        emit(dir, man, "views", d);
    }
    { /* views only (no base), sharing one storage; the same tensor twice */
        tl_tensor *base = tl_view(tl_arange(0, 12, 1, TL_I64), TL_SHAPE(3, 4));
        tl_value *l = tl_value_list();
        tl_tensor *r = tl_select(base, 0, 1);
        tl_value_append(l, tl_value_tensor(tl_select(base, 0, 0)));
        tl_value_append(l, tl_value_tensor(r));
        tl_value_append(l, tl_value_tensor(r));
        emit(dir, man, "shared_views_only", l);
    }
    { /* containers without floats: list, tuple, nested dicts, int keys, strings, bools, None */
        tl_value *d = tl_value_dict(), *in = tl_value_dict(), *l = tl_value_list(), *t = tl_value_tuple(), *t1 = tl_value_tuple();
        tl_value_append(l, tl_value_int(1));
        tl_value_append(l, tl_value_int(-300));
        tl_value_append(l, tl_value_int(70000));
        tl_value_append(l, tl_value_int(-2147483647 - 1));
        tl_value_append(l, tl_value_int(2147483648LL));
        tl_value_append(l, tl_value_int(INT64_MAX));
        tl_value_append(l, tl_value_int(INT64_MIN));
        tl_value_append(l, tl_value_bool(1));
        tl_value_append(l, tl_value_none());
        tl_value_append(l, tl_value_string("h\xc3\xa9llo \xe2\x82\xac 'q' \"d\""));
        tl_value_append(l, tl_value_string(""));
        tl_value_append(t, tl_value_tensor(tl_ones(TL_SHAPE(2), TL_F32)));
        tl_value_append(t, tl_value_string("x"));
        tl_value_append(t, tl_value_int(3));
        tl_value_append(t, tl_value_tuple());
        tl_value_append(t1, tl_value_bool(0));
        tl_value_append(t, t1);
        tl_value_set_int(in, 0, tl_value_tensor(tl_zeros(TL_SHAPE(2, 2), TL_F64)));
        tl_value_set_int(in, -5, tl_value_list());
        tl_value_set(in, "deeper", tl_value_dict());
        tl_value_set(d, "list", l);
        tl_value_set(d, "tuple", t);
        tl_value_set(d, "nested", in);
        emit(dir, man, "containers", d);
    }
    { /* batching: > 1000 dict items and list items */
        tl_value *d = tl_value_dict(), *l = tl_value_list();
        int i;
        char k[16];
        for (i = 0; i < 1500; i++) {
            snprintf(k, sizeof k, "k%d", i);
            tl_value_set(d, k, tl_value_int(i));
        }
        for (i = 0; i < 2001; i++) tl_value_append(l, tl_value_int(i % 300));
        tl_value_set(d, "long_list", l);
        emit(dir, man, "big_containers", d);
    }
    { /* nn.Parameter and a plain tensor requiring grad */
        tl_tensor *w = tl_ones(TL_SHAPE(2, 2), TL_F32), *g = tl_full(TL_SHAPE(3), 0.25, TL_F32);
        tl_value *l = tl_value_list();
        tl_requires_grad_(w, 1);
        tl_requires_grad_(g, 1);
        tl_value_append(l, tl_value_parameter(w));
        tl_value_append(l, tl_value_tensor(g));
        emit(dir, man, "parameter_and_grad", l);
    }
    { /* state_dict of nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)) with _metadata */
        const char *keys[7] = {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"};
        tl_tensor *ts[7];
        const char *paths[3] = {"", "0", "1"};
        const int64_t vers[3] = {1, 1, 2};
        ts[0] = tl_view(pattern(TL_F32, 6), TL_SHAPE(2, 3));
        ts[1] = pattern(TL_F32, 2);
        ts[2] = tl_ones(TL_SHAPE(2), TL_F32);
        ts[3] = tl_zeros(TL_SHAPE(2), TL_F32);
        ts[4] = tl_full(TL_SHAPE(2), 0.5, TL_F32);
        ts[5] = tl_full(TL_SHAPE(2), 2.0, TL_F32);
        ts[6] = tl_scalar_tensor(7, TL_I64);
        emit(dir, man, "state_dict", tl_state_dict_build(7, keys, ts, 3, paths, vers));
        { /* checkpoint with an Adam state (floats: not weights_only on 1.13) */
            tl_value *ck = tl_value_dict(), *opt = tl_value_dict(), *st = tl_value_dict(), *groups = tl_value_list();
            tl_value *g = tl_value_dict(), *betas = tl_value_tuple(), *params = tl_value_list();
            int i;
            for (i = 0; i < 4; i++) { /* the 4 parameters: 0.weight, 0.bias, 1.weight, 1.bias */
                tl_value *ps = tl_value_dict();
                tl_value_set(ps, "step", tl_value_tensor(tl_scalar_tensor(2, TL_F32)));
                tl_value_set(ps, "exp_avg", tl_value_tensor(tl_mul_scalar(ts[i], 0.125)));
                tl_value_set(ps, "exp_avg_sq", tl_value_tensor(tl_mul_scalar(ts[i], 0.0625)));
                tl_value_set_int(st, i, ps);
                tl_value_append(params, tl_value_int(i));
            }
            tl_value_append(betas, tl_value_float(0.9));
            tl_value_append(betas, tl_value_float(0.999));
            tl_value_set(g, "lr", tl_value_float(0.001));
            tl_value_set(g, "betas", betas);
            tl_value_set(g, "eps", tl_value_float(1e-08));
            tl_value_set(g, "weight_decay", tl_value_int(0));
            tl_value_set(g, "amsgrad", tl_value_bool(0));
            tl_value_set(g, "maximize", tl_value_bool(0));
            tl_value_set(g, "foreach", tl_value_none());
            tl_value_set(g, "capturable", tl_value_bool(0));
            tl_value_set(g, "differentiable", tl_value_bool(0));
            tl_value_set(g, "fused", tl_value_bool(0));
            tl_value_set(g, "params", params);
            tl_value_append(groups, g);
            tl_value_set(opt, "state", st);
            tl_value_set(opt, "param_groups", groups);
            tl_value_set(ck, "epoch", tl_value_int(3));
            tl_value_set(ck, "model_state_dict", tl_state_dict_build(7, keys, ts, 3, paths, vers));
            tl_value_set(ck, "optimizer_state_dict", opt);
            tl_value_set(ck, "loss", tl_value_float(0.125));
            emit(dir, man, "checkpoint", ck);
        }
    }
    { /* a state_dict with many tensors: LONG_BINPUT memo indices */
        tl_value *sd = tl_value_ordered_dict();
        int i;
        char k[32];
        tl_value_add_module_version(sd, "", 1);
        for (i = 0; i < 60; i++) {
            snprintf(k, sizeof k, "layers.%d.weight", i);
            tl_value_set(sd, k, tl_value_tensor(tl_full(TL_SHAPE(2, 2), i, TL_F32)));
            snprintf(k, sizeof k, "layers.%d", i);
            tl_value_add_module_version(sd, k, 1);
        }
        emit(dir, man, "many_tensors", sd);
    }
    { /* floats outside tensors */
        tl_value *d = tl_value_dict();
        tl_value_set(d, "lr", tl_value_float(0.1));
        tl_value_set(d, "tiny", tl_value_float(5e-324));
        tl_value_set(d, "neg0", tl_value_float(-0.0));
        tl_value_set(d, "inf", tl_value_float(INFINITY));
        emit(dir, man, "floats", d);
    }
    fclose(man);
    tl_scope_end(s);
    return nfail ? 1 : 0;
}

int main(int argc, char **argv) {
    tl_value *v;
    if (argc == 3 && strcmp(argv[1], "write") == 0) return write_cases(argv[2]);
    if (argc >= 3 && (strcmp(argv[1], "read") == 0 || strcmp(argv[1], "repr") == 0 || strcmp(argv[1], "resave") == 0)) {
        v = tl_load(argv[2]);
        if (!v) {
            printf("ERROR: %s\n", tl_last_error());
            return 1;
        }
        if (argv[1][2] == 'a') dump_to(stdout, v);
        else if (argv[1][2] == 'p') tl_value_print(v);
        else if (argc == 4 && tl_save(v, argv[3]) != TL_OK) {
            printf("ERROR: %s\n", tl_last_error());
            tl_value_free(v);
            return 1;
        }
        tl_value_free(v);
        if (tl_debug_live_tensors() || tl_debug_live_storages()) {
            printf("ERROR: leak: %ld tensors, %ld storages alive\n", tl_debug_live_tensors(), tl_debug_live_storages());
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "usage: serialize_runner write DIR | read FILE | repr FILE | resave IN OUT\n");
    return 2;
}
