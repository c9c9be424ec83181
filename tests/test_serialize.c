/* tests/test_serialize.c - >>serialize: tl_value, torch.save-compatible writer, safe reader.

   Loads every file real PyTorch 1.13 wrote in ../shared/torch_samples (TL_SAMPLES overrides the
   directory; tests run from the repo root), checks save -> load -> save gives identical bytes,
   and refuses hostile files with named errors (no crash, no leak: run it under ASan too).
   Until >>serialize is pasted into tensorlite.h this includes the work-in-progress files. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"


#include "harness.h"
#include "serialize_fixtures.h"

/* ---------------------------------------------------------------- helpers */

static const char *samples_dir(void) {
    const char *e = getenv("TL_SAMPLES");
    return e && *e ? e : "../shared/torch_samples";
}
static int samples_present(void) {
    char p[512];
    FILE *f;
    snprintf(p, sizeof p, "%s/dict_w.pt", samples_dir());
    f = fopen(p, "rb");
    if (f) fclose(f);
    return f != NULL;
}
/* Missing samples: say so; a failure on CI (CI=true), a skip elsewhere. */
static int require_samples(void) {
    const char *ci = getenv("CI");
    if (samples_present()) return 1;
    printf("test_serialize: torch samples not found in '%s' (set TL_SAMPLES)%s\n", samples_dir(),
           ci && strcmp(ci, "true") == 0 ? " -- FAIL on CI" : " -- skipped");
    if (ci && strcmp(ci, "true") == 0) CHECK(!"torch samples missing on CI");
    return 0;
}
static tl_value *load_sample(const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", samples_dir(), name);
    return tl_load(p);
}
static void *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    long n;
    void *buf;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}
/* The tensor at dict[key] (a new reference owned by the current scope). */
static tl_tensor *T(const tl_value *d, const char *key) { return tl_value_tensor_of(tl_value_get(d, key)); }
/* 1 when t's elements in C order equal the n bytes of want (same dtype). */
static int bits_eq(const tl_tensor *t, const void *want, size_t n) {
    unsigned char buf[512];
    size_t have = (size_t)tl_numel(t) * tl_dtype_size(tl_dtype_of(t));
    if (have != n || n > sizeof buf) return 0;
    if (tl_copy_to_buffer(t, buf, tl_dtype_of(t)) != TL_OK) return 0;
    return memcmp(buf, want, n) == 0;
}
static int repr_is(const tl_value *v, const char *want) {
    char buf[4096];
    int n = tl_value_to_string(v, buf, sizeof buf);
    if (n < 0 || strcmp(buf, want) != 0) {
        printf("  repr: got  %s\n  repr: want %s\n", buf, want);
        return 0;
    }
    return 1;
}

/* A torch-layout zip from (name, bytes) records, via the writer's own zip layer. */
static void *make_zip(const char *prefix, int n, const char *const *names, const void *const *datas, const size_t *lens,
                      uint64_t z64limit, size_t *out_len) {
    tl__bb b;
    tl__sink s;
    uint64_t sizes[16];
    int k;
    memset(&b, 0, sizeof b);
    memset(&s, 0, sizeof s);
    s.fn = tl__bb_writer;
    s.user = &b;
    for (k = 0; k < n; k++) sizes[k] = lens[k];
    if (!tl__zip_write("make_zip", &s, prefix, (size_t)n, names, datas, sizes, z64limit, z64limit)) {
        tl__free(b.p);
        return NULL;
    }
    *out_len = b.n;
    return b.p;
}

/* A tiny pickle assembler for hand-made data.pkl streams. */
typedef struct pk { unsigned char b[8192]; size_t n; } pk;
static void pk_raw(pk *p, const void *d, size_t n) {
    if (p->n + n <= sizeof p->b) memcpy(p->b + p->n, d, n);
    p->n += n;
}
static void pk_op(pk *p, unsigned c) {
    unsigned char x = (unsigned char)c;
    pk_raw(p, &x, 1);
}
static void pk_str(pk *p, const char *s) {
    uint32_t n = (uint32_t)strlen(s);
    unsigned char l[4];
    l[0] = (unsigned char)n; l[1] = (unsigned char)(n >> 8); l[2] = (unsigned char)(n >> 16); l[3] = (unsigned char)(n >> 24);
    pk_op(p, 'X');
    pk_raw(p, l, 4);
    pk_raw(p, s, n);
}
static void pk_global(pk *p, const char *mod, const char *name) {
    pk_op(p, 'c');
    pk_raw(p, mod, strlen(mod));
    pk_op(p, '\n');
    pk_raw(p, name, strlen(name));
    pk_op(p, '\n');
}
static void pk_int(pk *p, int64_t v) {
    int32_t w = (int32_t)v;
    unsigned char l[4];
    l[0] = (unsigned char)w; l[1] = (unsigned char)(w >> 8); l[2] = (unsigned char)(w >> 16); l[3] = (unsigned char)(w >> 24);
    pk_op(p, 'J');
    pk_raw(p, l, 4);
}
static void pk_ituple(pk *p, int n, const int64_t *v) {
    int k;
    pk_op(p, '(');
    for (k = 0; k < n; k++) pk_int(p, v[k]);
    pk_op(p, 't');
}
/* _rebuild_tensor_v2(('storage', torch.<cls>, key, 'cpu', numel), offset, size, stride, rg, OrderedDict()) */
static void pk_tensor(pk *p, const char *cls, const char *key, int64_t numel, int64_t offset, int nd, const int64_t *size,
                      const int64_t *stride, int rg) {
    pk_global(p, "torch._utils", "_rebuild_tensor_v2");
    pk_op(p, '(');
    pk_op(p, '(');
    pk_str(p, "storage");
    pk_global(p, "torch", cls);
    pk_str(p, key);
    pk_str(p, "cpu");
    pk_int(p, numel);
    pk_op(p, 't');
    pk_op(p, 'Q');
    pk_int(p, offset);
    pk_ituple(p, nd, size);
    pk_ituple(p, nd, stride);
    pk_op(p, rg ? 0x88 : 0x89);
    pk_global(p, "collections", "OrderedDict");
    pk_op(p, ')');
    pk_op(p, 'R');
    pk_op(p, 't');
    pk_op(p, 'R');
}
static const float six_floats[6] = {0, 1, 2, 3, 4, 5};

/* An archive: data.pkl = p (PROTO 2 prepended, STOP appended unless p ends the stream itself), a
   24-byte data/0 record of six floats, a version record (unless no_version). */
static void *pk_archive(const pk *p, int stop, int no_version, size_t *len) {
    static unsigned char pkl[8300];
    const char *names[3];
    const void *datas[3];
    size_t lens[3];
    int n = 0;
    pkl[0] = 0x80;
    pkl[1] = 2;
    memcpy(pkl + 2, p->b, p->n);
    if (stop) pkl[2 + p->n] = '.';
    names[n] = "data.pkl"; datas[n] = pkl; lens[n++] = p->n + 2 + (stop ? 1 : 0);
    names[n] = "data/0"; datas[n] = six_floats; lens[n++] = sizeof six_floats;
    if (!no_version) { names[n] = "version"; datas[n] = "3\n"; lens[n++] = 2; }
    return make_zip("archive", n, names, datas, lens, 0xFFFFFFFFu, len);
}

/* Loading buf must fail with TL_ERR_FORMAT and a message containing needle; both load paths. */
static int refused(const void *buf, size_t len, const char *needle) {
    tl_value *v;
    void *copy;
    int ok = 1;
    tl_clear_error();
    v = tl_load_from_buffer(buf, len);
    if (v || tl_last_status() != TL_ERR_FORMAT || !strstr(tl_last_error(), needle)) {
        printf("  expected a refusal containing \"%s\", got %s: \"%s\"\n", needle, v ? "a value" : tl_status_str(tl_last_status()),
               tl_last_error());
        ok = 0;
    }
    if (getenv("TH_VERBOSE")) printf("     refused: %s\n", tl_last_error());
    tl_value_free(v);
    tl_clear_error();
    copy = malloc(len ? len : 1); /* the zero-copy path must refuse the same way */
    if (len) memcpy(copy, buf, len);
    v = tl_load_from_buffer_ex(copy, len, NULL, NULL);
    if (v || tl_last_status() != TL_ERR_FORMAT || !strstr(tl_last_error(), needle)) ok = 0;
    tl_value_free(v);
    free(copy);
    tl_clear_error();
    return ok;
}
static int refused_pk(const pk *p, const char *needle) {
    size_t len;
    void *z = pk_archive(p, 1, 0, &len);
    int ok = z && refused(z, len, needle);
    tl_free_buffer(z);
    return ok;
}

/* ---------------------------------------------------------------- values and repr */

TEST(value_basics_and_accessors) {
    tl_value *d = tl_value_dict(), *l = tl_value_list();
    const tl_value *x;
    REQUIRE(d && l);
    CHECK(tl_value_set(d, "a", tl_value_int(1)) == TL_OK);
    CHECK(tl_value_set(d, "b", tl_value_float(0.5)) == TL_OK);
    CHECK(tl_value_set_int(d, 7, tl_value_string("seven")) == TL_OK);
    CHECK(tl_value_set(d, "a", tl_value_bool(1)) == TL_OK); /* replaced in place */
    CHECK_EQ_INT(tl_value_len(d), 3);
    CHECK(tl_value_as_bool(tl_value_get(d, "a")) == 1);
    CHECK_STR(tl_value_as_string(tl_value_key(d, 0), NULL), "a");
    CHECK_NEAR(tl_value_as_float(tl_value_get(d, "b")), 0.5, 0);
    CHECK_STR(tl_value_as_string(tl_value_get_int(d, 7), NULL), "seven");
    CHECK(tl_value_get(d, "missing") == NULL && tl_last_status() == TL_OK);
    CHECK(tl_value_append(l, tl_value_none()) == TL_OK);
    CHECK(tl_value_append(l, d) == TL_OK);
    CHECK(repr_is(l, "[None, {'a': True, 'b': 0.5, 7: 'seven'}]"));
    /* wrong kinds are errors naming the call */
    CHECK(tl_value_as_int(tl_value_item(l, 0)) == 0 && tl_last_status() == TL_ERR_ARG);
    CHECK(strstr(tl_last_error(), "tl_value_as_int") != NULL);
    tl_clear_error();
    CHECK(tl_value_set(l, "k", tl_value_int(1)) == TL_ERR_ARG); /* value freed: ASan checks */
    tl_clear_error();
    CHECK(tl_value_item(l, 5) == NULL && tl_last_status() == TL_ERR_INDEX);
    tl_clear_error();
    x = tl_value_item(l, 1);
    CHECK(tl_value_kind_of(x) == TL_VALUE_DICT && !tl_value_is_ordered(x));
    tl_value_free(l);
}

TEST(big_dict_index_and_int_keys) {
    tl_value *d = tl_value_dict();
    char k[32];
    int i;
    REQUIRE(d);
    for (i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "key%d", i);
        CHECK(tl_value_set(d, k, tl_value_int(i)) == TL_OK);
        CHECK(tl_value_set_int(d, i, tl_value_int(-i)) == TL_OK);
    }
    CHECK(tl_value_set(d, "key17", tl_value_int(99)) == TL_OK);
    CHECK_EQ_INT(tl_value_len(d), 6000);
    CHECK_EQ_INT(tl_value_as_int(tl_value_get(d, "key17")), 99);
    CHECK_EQ_INT(tl_value_as_int(tl_value_get_int(d, 2999)), -2999);
    CHECK_STR(tl_value_as_string(tl_value_key(d, 34), NULL), "key17"); /* position kept */
    tl_value_free(d);
}

TEST(repr_like_python) {
    tl_value *t = tl_value_tuple(), *l = tl_value_list(), *od = tl_value_ordered_dict(), *e = tl_value_ordered_dict();
    const double fl[] = {0.1, 1e-05, 1e16, 123456789.0, -0.0, 1.5e300, 2.5e-7, 100.0, 1.0 / 3.0};
    const char *want = "[0.1, 1e-05, 1e+16, 123456789.0, -0.0, 1.5e+300, 2.5e-07, 100.0, 0.3333333333333333]";
    size_t i;
    REQUIRE(t && l && od && e);
    for (i = 0; i < sizeof fl / sizeof fl[0]; i++) tl_value_append(l, tl_value_float(fl[i]));
    CHECK(repr_is(l, want));
    tl_value_append(t, tl_value_string("it's"));
    CHECK(repr_is(t, "(\"it's\",)"));
    tl_value_append(t, tl_value_string("a\\b\n'\""));
    CHECK(repr_is(t, "(\"it's\", 'a\\\\b\\n\\'\"')"));
    CHECK(repr_is(e, "OrderedDict()"));
    tl_value_set(od, "x", tl_value_int(-5));
    tl_value_set(od, "y", e);
    CHECK(repr_is(od, "OrderedDict([('x', -5), ('y', OrderedDict())])"));
    tl_value_free(t);
    tl_value_free(l);
    tl_value_free(od);
    {
        tl_value *f = tl_value_list();
        tl_value_append(f, tl_value_float(INFINITY));
        tl_value_append(f, tl_value_float(-INFINITY));
        tl_value_append(f, tl_value_float(NAN));
        tl_value_append(f, tl_value_int(INT64_MIN));
        CHECK(repr_is(f, "[inf, -inf, nan, -9223372036854775808]"));
        tl_value_free(f);
    }
}

/* ---------------------------------------------------------------- real torch files */

TEST(loads_every_torch_sample) {
    static const char *const files[] = {
        "adam_state.pt", "adam_state_fresh.pt", "checkpoint.pt", "dict_w.pt", "dtypes.pt", "empty.pt", "list.pt",
        "noncontig_shared.pt", "parameter.pt", "requires_grad.pt", "scalar.pt", "sgd_state.pt", "shared_views_only.pt",
        "single_tensor.pt", "state_dict.pt", "state_dict_small.pt", "tuple.pt", "two_storages.pt"};
    size_t i;
    if (!require_samples()) return;
    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        tl_value *v = load_sample(files[i]);
        if (!v) printf("  %s: %s\n", files[i], tl_last_error());
        CHECK(v != NULL);
        tl_value_free(v);
        tl_clear_error();
    }
}

TEST(legacy_sample_gets_legacy_error) {
    tl_value *v;
    if (!require_samples()) return;
    v = load_sample("legacy_dict_w.pt");
    CHECK(v == NULL);
    CHECK(tl_last_status() == TL_ERR_FORMAT);
    CHECK(strstr(tl_last_error(), "legacy torch.save format") != NULL);
    CHECK(strstr(tl_last_error(), "legacy_dict_w.pt") != NULL);
}

TEST(sample_values_bit_exact) {
    tl_scope s;
    tl_value *v;
    const float ar6[6] = {0, 1, 2, 3, 4, 5};
    if (!require_samples()) return;
    s = tl_scope_begin();
    v = load_sample("dict_w.pt");
    REQUIRE(v);
    {
        tl_tensor *w = T(v, "w");
        CHECK(tl_ndim(w) == 2 && tl_shape(w)[0] == 2 && tl_shape(w)[1] == 3 && tl_dtype_of(w) == TL_F32);
        CHECK(bits_eq(w, ar6, sizeof ar6));
    }
    tl_value_free(v);
    v = load_sample("dtypes.pt"); /* arange(4) in every dtype */
    REQUIRE(v);
    {
        const double d4[4] = {0, 1, 2, 3};
        const uint16_t h4[4] = {0x0000, 0x3c00, 0x4000, 0x4200}, b4[4] = {0x0000, 0x3f80, 0x4000, 0x4040};
        const int64_t l4[4] = {0, 1, 2, 3};
        const int32_t i4[4] = {0, 1, 2, 3};
        const int8_t c4[4] = {0, 1, 2, 3};
        const uint8_t u4[4] = {0, 1, 2, 3}, bo4[4] = {0, 1, 1, 1};
        CHECK(bits_eq(T(v, "float32"), ar6, 16));
        CHECK(bits_eq(T(v, "float64"), d4, sizeof d4));
        CHECK(bits_eq(T(v, "float16"), h4, sizeof h4) && tl_dtype_of(T(v, "float16")) == TL_F16);
        CHECK(bits_eq(T(v, "bfloat16"), b4, sizeof b4) && tl_dtype_of(T(v, "bfloat16")) == TL_BF16);
        CHECK(bits_eq(T(v, "int64"), l4, sizeof l4));
        CHECK(bits_eq(T(v, "int32"), i4, sizeof i4));
        CHECK(bits_eq(T(v, "int8"), c4, sizeof c4));
        CHECK(bits_eq(T(v, "uint8"), u4, sizeof u4));
        CHECK(bits_eq(T(v, "bool"), bo4, sizeof bo4) && tl_dtype_of(T(v, "bool")) == TL_BOOL);
    }
    tl_value_free(v);
    v = load_sample("noncontig_shared.pt"); /* base 3x4, base.t(), base[1:,1:3]: one storage */
    REQUIRE(v);
    {
        tl_tensor *base = T(v, "base"), *t = T(v, "t"), *sl = T(v, "slice");
        const float slv[4] = {5, 6, 9, 10};
        CHECK(tl_same_storage(base, t) && tl_same_storage(base, sl));
        CHECK(tl_stride(t)[0] == 1 && tl_stride(t)[1] == 4 && !tl_is_contiguous(t));
        CHECK(tl_storage_offset(sl) == 5 && tl_stride(sl)[0] == 4);
        CHECK(bits_eq(sl, slv, sizeof slv));
        CHECK(tl_set(base, (const int64_t[]){1, 1}, 42.0) == TL_OK); /* aliasing: seen through the views */
        CHECK_NEAR(tl_get(sl, (const int64_t[]){0, 0}), 42.0, 0);
        CHECK_NEAR(tl_get(t, (const int64_t[]){1, 1}), 42.0, 0);
    }
    tl_value_free(v);
    v = load_sample("scalar.pt");
    REQUIRE(v);
    CHECK(tl_ndim(tl_value_tensor_of(v)) == 0);
    CHECK_NEAR(tl_item(tl_value_tensor_of(v)), 3.5, 0);
    tl_value_free(v);
    v = load_sample("empty.pt");
    REQUIRE(v);
    CHECK(tl_numel(tl_value_tensor_of(v)) == 0 && tl_ndim(tl_value_tensor_of(v)) == 1);
    tl_value_free(v);
    v = load_sample("parameter.pt");
    REQUIRE(v);
    CHECK(tl_value_is_parameter(v) && tl_requires_grad(tl_value_tensor_of(v)));
    tl_value_free(v);
    v = load_sample("requires_grad.pt");
    REQUIRE(v);
    CHECK(!tl_value_is_parameter(v) && tl_requires_grad(tl_value_tensor_of(v)));
    tl_value_free(v);
    v = load_sample("state_dict.pt"); /* Linear(3,2) + BatchNorm1d(2): _metadata versions */
    REQUIRE(v);
    {
        const tl_value *md = tl_value_metadata(v);
        CHECK(tl_value_is_ordered(v) && tl_value_len(v) == 7);
        CHECK_STR(tl_value_as_string(tl_value_key(v, 6), NULL), "bn.num_batches_tracked");
        CHECK(tl_dtype_of(T(v, "bn.num_batches_tracked")) == TL_I64);
        REQUIRE(md != NULL);
        CHECK_EQ_INT(tl_value_as_int(tl_value_get(tl_value_get(md, "bn"), "version")), 2);
        CHECK_EQ_INT(tl_value_as_int(tl_value_get(tl_value_get(md, "fc"), "version")), 1);
    }
    tl_value_free(v);
    v = load_sample("checkpoint.pt");
    REQUIRE(v);
    CHECK_EQ_INT(tl_value_as_int(tl_value_get(v, "epoch")), 5);
    CHECK_NEAR(tl_value_as_float(tl_value_get(v, "loss")), 0.25, 0);
    {
        const tl_value *g = tl_value_item(tl_value_get(tl_value_get(v, "optimizer_state_dict"), "param_groups"), 0);
        CHECK_NEAR(tl_value_as_float(tl_value_item(tl_value_get(g, "betas"), 1)), 0.999, 0);
        CHECK(tl_value_kind_of(tl_value_get(g, "foreach")) == TL_VALUE_NONE);
        CHECK_NEAR(tl_item(tl_value_tensor_of(tl_value_get(tl_value_get_int(
                       tl_value_get(tl_value_get(v, "optimizer_state_dict"), "state"), 0), "step"))), 2.0, 0);
    }
    tl_value_free(v);
    tl_scope_end(s);
}

/* save -> load -> save gives identical bytes, for every sample. */
TEST(samples_resave_identical_bytes) {
    static const char *const files[] = {
        "adam_state.pt", "adam_state_fresh.pt", "checkpoint.pt", "dict_w.pt", "dtypes.pt", "empty.pt", "list.pt",
        "noncontig_shared.pt", "parameter.pt", "requires_grad.pt", "scalar.pt", "sgd_state.pt", "shared_views_only.pt",
        "single_tensor.pt", "state_dict.pt", "state_dict_small.pt", "tuple.pt", "two_storages.pt"};
    size_t i;
    if (!require_samples()) return;
    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        tl_value *v = load_sample(files[i]), *v2;
        void *b1 = NULL, *b2 = NULL;
        size_t n1 = 0, n2 = 0;
        char r1[8192], r2[8192];
        REQUIRE(v);
        CHECK(tl_save_to_buffer(v, &b1, &n1) == TL_OK);
        v2 = tl_load_from_buffer(b1, n1);
        CHECK(v2 != NULL);
        CHECK(tl_save_to_buffer(v2, &b2, &n2) == TL_OK);
        CHECK(n1 == n2 && b1 && b2 && memcmp(b1, b2, n1) == 0);
        tl_value_to_string(v, r1, sizeof r1);
        tl_value_to_string(v2, r2, sizeof r2);
        CHECK(strcmp(r1, r2) == 0);
        if (!(n1 == n2 && b1 && b2 && memcmp(b1, b2, n1) == 0)) printf("  %s: resave differs\n", files[i]);
        tl_free_buffer(b1);
        tl_free_buffer(b2);
        tl_value_free(v);
        tl_value_free(v2);
    }
}

/* Our pickle for a torch sample's object is byte-identical to Python's (memo numbering included). */
TEST(pickle_matches_torch_bytes) {
    size_t n, k;
    unsigned char *file;
    char path[512];
    tl_value *v;
    void *b = NULL;
    size_t bn = 0;
    static const char *const same[] = {"single_tensor.pt", "dict_w.pt", "list.pt", "tuple.pt", "state_dict_small.pt",
                                       "state_dict.pt", "noncontig_shared.pt", "dtypes.pt", "parameter.pt", "adam_state.pt"};
    if (!require_samples()) return;
    for (k = 0; k < sizeof same / sizeof same[0]; k++) {
        tl__ld a, c;
        const tl__zent *ea, *ec;
        const unsigned char *pa, *pc;
        unsigned char *oa, *oc;
        snprintf(path, sizeof path, "%s/%s", samples_dir(), same[k]);
        file = (unsigned char *)read_file(path, &n);
        REQUIRE(file);
        v = tl_load_from_buffer(file, n);
        REQUIRE(v);
        REQUIRE(tl_save_to_buffer(v, &b, &bn) == TL_OK);
        memset(&a, 0, sizeof a);
        memset(&c, 0, sizeof c);
        a.op = c.op = "test";
        a.src = c.src = same[k];
        a.p = file;
        a.n = n;
        c.p = (const unsigned char *)b;
        c.n = bn;
        tl__crc_init(&a.crc);
        tl__crc_init(&c.crc);
        CHECK(tl__zip_parse(&a) && tl__zip_parse(&c));
        ea = tl__zip_find(&a, "data.pkl", 8);
        ec = tl__zip_find(&c, "data.pkl", 8);
        CHECK(ea && ec && tl__zip_read(&a, ea, &pa, &oa) && tl__zip_read(&c, ec, &pc, &oc));
        if (ea && ec) {
            CHECK(ea->usize == ec->usize && memcmp(pa, pc, (size_t)ea->usize) == 0);
            if (!(ea->usize == ec->usize && memcmp(pa, pc, (size_t)ea->usize) == 0)) printf("  %s: data.pkl differs from torch's\n", same[k]);
        }
        tl__free(a.ents);
        tl__free(c.ents);
        tl_free_buffer(b);
        tl_value_free(v);
        free(file);
    }
}

/* ---------------------------------------------------------------- writer */

TEST(save_load_all_kinds_and_views) {
    tl_scope s = tl_scope_begin();
    tl_value *root = tl_value_dict(), *l = tl_value_list(), *tp = tl_value_tuple(), *v2, *nested = tl_value_dict();
    tl_tensor *base = tl_arange(0, 12, 1, TL_F32), *m = tl_view(base, TL_SHAPE(3, 4));
    tl_tensor *tr = tl_t(m), *sl = tl_slice(tl_slice(m, 0, 1, 3, 1), 1, 1, 3, 1), *ex = tl_expand(tl_select(m, 0, 0), TL_SHAPE(2, 4));
    tl_tensor *e = tl_zeros(TL_SHAPE(0, 3), TL_F64), *sc = tl_scalar_tensor(-2.5, TL_F16);
    const int64_t bigs[] = {0, 255, 256, 65535, 65536, -1, 2147483647, -2147483647 - 1, 2147483648LL, -2147483649LL, INT64_MAX, INT64_MIN};
    void *buf = NULL;
    size_t n = 0, i;
    int dt;
    REQUIRE(root && l && tp && nested && base && m && tr && sl && ex && e && sc);
    for (i = 0; i < sizeof bigs / sizeof bigs[0]; i++) tl_value_append(l, tl_value_int(bigs[i]));
    tl_value_append(l, tl_value_float(1e-300));
    tl_value_append(l, tl_value_string(""));
    tl_value_append(l, tl_value_string("\xc3\xa9t\xc3\xa9"));
    tl_value_append(tp, tl_value_tensor(m));
    tl_value_append(tp, tl_value_tensor(tr));
    tl_value_append(tp, tl_value_tensor(sl));
    tl_value_append(tp, tl_value_tensor(ex));
    tl_value_append(tp, tl_value_tensor(m)); /* the same tensor twice: one object after loading */
    tl_value_set(root, "ints", l);
    tl_value_set(root, "views", tp);
    tl_value_set(root, "empty", tl_value_tensor(e));
    tl_value_set(root, "scalar", tl_value_tensor(sc));
    for (dt = 0; dt < TL_DTYPE_COUNT; dt++) {
        tl_tensor *x = tl_to_dtype(tl_arange(0, 5, 1, TL_F32), (tl_dtype)dt);
        tl_value_set(nested, tl_dtype_name((tl_dtype)dt), tl_value_tensor(x));
    }
    tl_value_set(root, "nested", nested);
    REQUIRE(tl_save_to_buffer(root, &buf, &n) == TL_OK);
    v2 = tl_load_from_buffer(buf, n);
    REQUIRE(v2);
    {
        char a[8192], b[8192];
        tl_value_to_string(root, a, sizeof a);
        tl_value_to_string(v2, b, sizeof b);
        CHECK_STR(b, a);
    }
    {
        const tl_value *lt = tl_value_get(v2, "ints"), *vt = tl_value_get(v2, "views");
        tl_tensor *m2, *tr2, *sl2, *ex2, *m2b;
        for (i = 0; i < sizeof bigs / sizeof bigs[0]; i++) CHECK(tl_value_as_int(tl_value_item(lt, i)) == bigs[i]);
        CHECK(tl_value_as_float(tl_value_item(lt, 12)) == 1e-300);
        m2 = tl_value_tensor_of(tl_value_item(vt, 0));
        tr2 = tl_value_tensor_of(tl_value_item(vt, 1));
        sl2 = tl_value_tensor_of(tl_value_item(vt, 2));
        ex2 = tl_value_tensor_of(tl_value_item(vt, 3));
        m2b = tl_value_tensor_of(tl_value_item(vt, 4));
        CHECK(m2 == m2b);
        CHECK(tl_same_storage(m2, tr2) && tl_same_storage(m2, sl2) && tl_same_storage(m2, ex2));
        CHECK(tl_storage_offset(sl2) == tl_storage_offset(sl) && tl_stride(ex2)[0] == 0 && tl_stride(tr2)[0] == 1);
        CHECK(tl_set(m2, (const int64_t[]){1, 1}, 100.0) == TL_OK);
        CHECK_NEAR(tl_get(sl2, (const int64_t[]){0, 0}), 100.0, 0);
        CHECK_NEAR(tl_get(tr2, (const int64_t[]){1, 1}), 100.0, 0);
    }
    tl_free_buffer(buf);
    tl_value_free(root);
    tl_value_free(v2);
    tl_scope_end(s);
}

TEST(state_dict_build_with_metadata) {
    tl_scope s = tl_scope_begin();
    tl_tensor *w = tl_ones(TL_SHAPE(2, 3), TL_F32), *b = tl_zeros(TL_SHAPE(2), TL_F32), *nb = tl_scalar_tensor(0, TL_I64);
    const char *keys[3] = {"0.weight", "0.bias", "1.num_batches_tracked"};
    tl_tensor *ts[3];
    const char *paths[3] = {"", "0", "1"};
    const int64_t vers[3] = {1, 1, 2};
    tl_value *sd, *back;
    void *buf;
    size_t n;
    ts[0] = w; ts[1] = b; ts[2] = nb;
    sd = tl_state_dict_build(3, keys, ts, 3, paths, vers);
    REQUIRE(sd);
    CHECK(tl_value_is_ordered(sd) && tl_value_len(tl_value_metadata(sd)) == 3);
    REQUIRE(tl_save_to_buffer(sd, &buf, &n) == TL_OK);
    back = tl_load_from_buffer(buf, n);
    REQUIRE(back);
    CHECK_EQ_INT(tl_value_as_int(tl_value_get(tl_value_get(tl_value_metadata(back), "1"), "version")), 2);
    CHECK(repr_is(back, "OrderedDict([('0.weight', tensor([[1., 1., 1.],\n        [1., 1., 1.]])), ('0.bias', tensor([0., 0.])), "
                        "('1.num_batches_tracked', tensor(0))])"));
    /* a duplicate key is an error, not a silent overwrite */
    keys[1] = "0.weight";
    CHECK(tl_state_dict_build(3, keys, ts, 0, NULL, NULL) == NULL && tl_last_status() == TL_ERR_ARG);
    tl_clear_error();
    {
        tl_value *plain = tl_value_dict(); /* _metadata only goes on an OrderedDict */
        CHECK(tl_value_add_module_version(plain, "", 1) == TL_ERR_ARG);
        tl_value_free(plain);
    }
    tl_clear_error();
    tl_free_buffer(buf);
    tl_value_free(sd);
    tl_value_free(back);
    tl_scope_end(s);
}

TEST(batches_of_1000_items) {
    tl_value *d = tl_value_dict(), *l = tl_value_list(), *r, *back;
    void *buf;
    size_t n;
    int i;
    char k[16];
    for (i = 0; i < 2500; i++) {
        snprintf(k, sizeof k, "k%d", i);
        tl_value_set(d, k, tl_value_int(i * 7));
    }
    for (i = 0; i < 1001; i++) tl_value_append(l, tl_value_int(i));
    r = tl_value_tuple();
    tl_value_append(r, d);
    tl_value_append(r, l);
    REQUIRE(tl_save_to_buffer(r, &buf, &n) == TL_OK);
    back = tl_load_from_buffer(buf, n);
    REQUIRE(back);
    CHECK_EQ_INT(tl_value_len(tl_value_item(back, 0)), 2500);
    CHECK_EQ_INT(tl_value_len(tl_value_item(back, 1)), 1001);
    CHECK_EQ_INT(tl_value_as_int(tl_value_get(tl_value_item(back, 0), "k2499")), 2499 * 7);
    CHECK_EQ_INT(tl_value_as_int(tl_value_item(tl_value_item(back, 1), 1000)), 1000);
    tl_free_buffer(buf);
    tl_value_free(r);
    tl_value_free(back);
}

TEST(save_to_path_is_atomic) {
    tl_scope s = tl_scope_begin();
    tl_tensor *t = tl_arange(0, 6, 1, TL_F32);
    tl_value *v = tl_value_tensor(t), *back;
    const char *path = "build/test_serialize_out.pt";
    FILE *f;
    REQUIRE(v);
    CHECK(tl_save(v, path) == TL_OK);
    back = tl_load(path);
    CHECK(back && bits_eq(tl_value_tensor_of(back), six_floats, 24));
    tl_value_free(back);
    CHECK(tl_save_tensor(t, path) == TL_OK); /* overwrites in place */
    CHECK(tl_save(v, "build/no/such/dir/x.pt") == TL_ERR_IO);
    CHECK(strstr(tl_last_error(), "tl_save") != NULL);
    tl_clear_error();
    f = fopen("build/no/such/dir/x.pt", "rb");
    CHECK(f == NULL);
    if (f) fclose(f);
    remove(path);
    tl_value_free(v);
    tl_scope_end(s);
}

static int fail_after(const void *data, size_t size, void *user) {
    long *left = (long *)user;
    (void)data;
    *left -= (long)size;
    return *left < 0;
}
TEST(writer_errors_are_reported) {
    tl_tensor *t = tl_arange(0, 6, 1, TL_F32);
    tl_value *v = tl_value_tensor(t), *bad = tl_value_string_n("\xff\xfe", 2);
    long left = 100;
    void *b;
    size_t n;
    CHECK(tl_save_to_writer(v, fail_after, &left) == TL_ERR_IO);
    CHECK(strstr(tl_last_error(), "tl_save_to_writer: write failed") != NULL);
    tl_clear_error();
    CHECK(tl_save_to_buffer(bad, &b, &n) == TL_ERR_ARG && strstr(tl_last_error(), "UTF-8") != NULL);
    tl_clear_error();
    CHECK(tl_save_to_buffer(NULL, &b, &n) == TL_ERR_ARG);
    tl_clear_error();
    tl_value_free(v);
    tl_value_free(bad);
    tl_release(t);
}

/* ---------------------------------------------------------------- reader features */

static int released_count;
static void count_release(void *data, void *user) {
    (void)data;
    (void)user;
    released_count++;
}
TEST(zero_copy_load_aliases_the_buffer) {
    tl_tensor *t = tl_arange(0, 64, 1, TL_F64), *x;
    tl_value *v = tl_value_tensor(t), *back;
    void *buf;
    size_t n;
    REQUIRE(tl_save_to_buffer(v, &buf, &n) == TL_OK);
    released_count = 0;
    back = tl_load_from_buffer_ex(buf, n, count_release, NULL);
    REQUIRE(back);
    x = tl_value_tensor_of(back);
    CHECK((unsigned char *)tl_data_ptr(x) >= (unsigned char *)buf && (unsigned char *)tl_data_ptr(x) < (unsigned char *)buf + n);
    CHECK(((uintptr_t)tl_data_ptr(x) - (uintptr_t)buf) % 64 == 0); /* torch's 64-byte payload alignment */
    tl_value_free(back);
    CHECK(released_count == 0); /* x still aliases it */
    CHECK_NEAR(tl_get(x, (const int64_t[]){63}), 63.0, 0);
    tl_release(x);
    CHECK(released_count == 1);
    tl_free_buffer(buf);
    tl_value_free(v);
    tl_release(t);
}

TEST(deflated_entries_and_inflate) {
    unsigned char out[4000];
    tl_value *v;
    tl__crc c;
    CHECK(tl__inflate(infl_stored, sizeof infl_stored, out, 28) == NULL && memcmp(out, "hello hello hello tensorlite", 28) == 0);
    CHECK(tl__inflate(infl_fixed, sizeof infl_fixed, out, 28) == NULL && memcmp(out, "hello hello hello tensorlite", 28) == 0);
    CHECK(tl__inflate(infl_dynamic, sizeof infl_dynamic, out, 4000) == NULL);
    tl__crc_init(&c);
    CHECK(tl__crc_update(&c, 0, out, 4000) == 0x30df62e0u);
    CHECK(tl__inflate(infl_dynamic, sizeof infl_dynamic - 10, out, 4000) != NULL); /* truncated */
    CHECK(tl__inflate(infl_fixed, sizeof infl_fixed, out, 20) != NULL);           /* too small */
    v = tl_load_from_buffer(deflated_noncontig, sizeof deflated_noncontig);
    REQUIRE(v);
    CHECK(repr_is(v, "{'t': tensor([[ 0.,  4.,  8.],\n        [ 1.,  5.,  9.],\n        [ 2.,  6., 10.],\n        [ 3.,  7., 11.]]), "
                     "'slice': tensor([[ 5.,  6.],\n        [ 9., 10.]]), 'base': tensor([[ 0.,  1.,  2.,  3.],\n        [ 4.,  5.,  6.,  7.],\n"
                     "        [ 8.,  9., 10., 11.]])}"));
    tl_value_free(v);
}

TEST(zip64_and_crc0_archives_load) {
    tl_scope s = tl_scope_begin();
    tl_tensor *t = tl_arange(0, 100, 1, TL_F32);
    tl_value *v = tl_value_tensor(t), *back;
    void *buf;
    size_t n, k, len;
    unsigned char *z;
    REQUIRE(tl_save_to_buffer(v, &buf, &n) == TL_OK);
    { /* the same records re-zipped with every size and offset >= 64 as ZIP64 fields */
        tl__ld ld;
        const char *names[4];
        char nm[4][64];
        const void *datas[4];
        size_t lens[4];
        memset(&ld, 0, sizeof ld);
        ld.op = "t";
        ld.src = "t";
        ld.p = (const unsigned char *)buf;
        ld.n = n;
        tl__crc_init(&ld.crc);
        REQUIRE(tl__zip_parse(&ld));
        for (k = 0; k < ld.nents && k < 4; k++) {
            const unsigned char *p;
            unsigned char *o;
            snprintf(nm[k], sizeof nm[k], "%.*s", (int)ld.ents[k].nlen - 8, ld.ents[k].name + 8); /* strip "archive/" */
            names[k] = nm[k];
            CHECK(tl__zip_read(&ld, &ld.ents[k], &p, &o));
            datas[k] = p;
            lens[k] = (size_t)ld.ents[k].usize;
        }
        z = (unsigned char *)make_zip("archive", 4, names, datas, lens, 64, &len);
        tl__free(ld.ents);
        REQUIRE(z);
        back = tl_load_from_buffer(z, len);
        if (!back) printf("  %s\n", tl_last_error());
        CHECK(back && tl_numel(tl_value_tensor_of(back)) == 100);
        tl_value_free(back);
        tl_free_buffer(z);
    }
    { /* CRCs of 0 ("not computed", torch 2.6 compute_crc32=False): accepted */
        unsigned char *p = (unsigned char *)buf;
        for (k = 0; k + 46 <= n; k++)
            if (tl__rd32(p + k) == 0x02014b50u) memset(p + k + 16, 0, 4);
        back = tl_load_from_buffer(buf, n);
        CHECK(back != NULL);
        tl_value_free(back);
    }
    tl_free_buffer(buf);
    tl_value_free(v);
    tl_scope_end(s);
}

TEST(reader_accepts_torch2_extras) {
    /* torch 2.x records (.format_version, .storage_alignment, byteorder, .data/serialization_id),
       _rebuild_tensor_v2 with a 7th (empty) metadata argument, _rebuild_parameter_with_state,
       protocol-4 opcodes */
    pk p;
    static unsigned char pkl[600];
    const char *names[7] = {"data.pkl", ".format_version", ".storage_alignment", "byteorder", "data/0", "version", ".data/serialization_id"};
    const void *datas[7];
    size_t lens[7], len;
    void *z;
    tl_value *v;
    const int64_t sz[1] = {6}, st[1] = {1};
    memset(&p, 0, sizeof p);
    pk_op(&p, ']');
    pk_op(&p, '(');
    pk_global(&p, "torch._utils", "_rebuild_tensor_v2");
    pk_op(&p, '(');
    pk_op(&p, '(');
    pk_str(&p, "storage");
    pk_global(&p, "torch", "FloatStorage");
    pk_str(&p, "0");
    pk_str(&p, "cpu");
    pk_int(&p, 6);
    pk_op(&p, 't');
    pk_op(&p, 'Q');
    pk_int(&p, 0);
    pk_ituple(&p, 1, sz);
    pk_ituple(&p, 1, st);
    pk_op(&p, 0x89);
    pk_global(&p, "collections", "OrderedDict");
    pk_op(&p, ')');
    pk_op(&p, 'R');
    pk_op(&p, '}');
    pk_op(&p, 't');
    pk_op(&p, 'R');
    pk_op(&p, 0x94); /* MEMOIZE */
    pk_global(&p, "torch._utils", "_rebuild_parameter_with_state");
    pk_op(&p, '(');
    pk_op(&p, 'h');
    pk_op(&p, 0);
    pk_op(&p, 0x88);
    pk_global(&p, "collections", "OrderedDict");
    pk_op(&p, ')');
    pk_op(&p, 'R');
    pk_op(&p, '}');
    pk_op(&p, 't');
    pk_op(&p, 'R');
    pk_op(&p, 0x8c); /* SHORT_BINUNICODE */
    pk_op(&p, 2);
    pk_raw(&p, "hi", 2);
    pk_op(&p, 'e');
    pkl[0] = 0x80;
    pkl[1] = 2;
    memcpy(pkl + 2, p.b, p.n);
    pkl[2 + p.n] = '.';
    datas[0] = pkl; lens[0] = p.n + 3;
    datas[1] = "1"; lens[1] = 1;
    datas[2] = "64"; lens[2] = 2;
    datas[3] = "little"; lens[3] = 6;
    datas[4] = six_floats; lens[4] = 24;
    datas[5] = "3\n"; lens[5] = 2;
    datas[6] = "1234567890123456789012345678901234567890"; lens[6] = 40;
    z = make_zip("archive", 7, names, datas, lens, 0xFFFFFFFFu, &len);
    REQUIRE(z);
    v = tl_load_from_buffer(z, len);
    tl_free_buffer(z);
    if (!v) printf("  %s\n", tl_last_error());
    REQUIRE(v);
    CHECK(repr_is(v, "[tensor([0., 1., 2., 3., 4., 5.]), Parameter containing:\ntensor([0., 1., 2., 3., 4., 5.], requires_grad=True), 'hi']"));
    tl_value_free(v);
}

/* ---------------------------------------------------------------- hostile files */

TEST(hostile_globals_and_opcodes) {
    pk p;
    /* 1. os.system via REDUCE */
    memset(&p, 0, sizeof p);
    pk_global(&p, "posix", "system");
    pk_str(&p, "echo pwned");
    pk_op(&p, 0x85);
    pk_op(&p, 'R');
    CHECK(refused_pk(&p, "refused global 'posix.system'"));
    /* 2. builtins.eval */
    memset(&p, 0, sizeof p);
    pk_global(&p, "builtins", "eval");
    CHECK(refused_pk(&p, "refused global 'builtins.eval'"));
    /* 3. os.system through STACK_GLOBAL */
    memset(&p, 0, sizeof p);
    pk_str(&p, "os");
    pk_str(&p, "system");
    pk_op(&p, 0x93);
    CHECK(refused_pk(&p, "refused global 'os.system'"));
    /* 4. INST opcode */
    memset(&p, 0, sizeof p);
    pk_op(&p, '(');
    pk_raw(&p, "ios\nsystem\n", 11);
    CHECK(refused_pk(&p, "opcode 0x69 (INST)"));
    /* 5. calling an allowed but non-callable global (a storage class) */
    memset(&p, 0, sizeof p);
    pk_global(&p, "torch", "FloatStorage");
    pk_op(&p, ')');
    pk_op(&p, 'R');
    CHECK(refused_pk(&p, "cannot call torch.FloatStorage"));
    /* 6. OrderedDict with arguments */
    memset(&p, 0, sizeof p);
    pk_global(&p, "collections", "OrderedDict");
    pk_op(&p, ']');
    pk_op(&p, 0x85);
    pk_op(&p, 'R');
    CHECK(refused_pk(&p, "OrderedDict called with 1 arguments"));
    /* 7. BUILD on a list */
    memset(&p, 0, sizeof p);
    pk_op(&p, ']');
    pk_op(&p, '}');
    pk_op(&p, 'b');
    CHECK(refused_pk(&p, "BUILD of a list"));
    /* 8. stack underflow */
    memset(&p, 0, sizeof p);
    pk_op(&p, 'R');
    CHECK(refused_pk(&p, "stack underflow"));
    /* 9. STOP with two values */
    memset(&p, 0, sizeof p);
    pk_op(&p, 'N');
    pk_op(&p, 'N');
    CHECK(refused_pk(&p, "STOP with 2 values"));
    /* 10. bad memo index */
    memset(&p, 0, sizeof p);
    pk_op(&p, 'h');
    pk_op(&p, 5);
    CHECK(refused_pk(&p, "bad memo index 5"));
    /* 11. huge LONG_BINPUT index */
    memset(&p, 0, sizeof p);
    pk_op(&p, 'N');
    pk_raw(&p, "r\xff\xff\xff\x7f", 5);
    CHECK(refused_pk(&p, "memo index 2147483647 is out of range"));
    /* 12. a list containing itself */
    memset(&p, 0, sizeof p);
    pk_raw(&p, "]q\x00h\x00" "a", 6);
    CHECK(refused_pk(&p, "contains itself"));
    /* 13. deep nesting */
    {
        int k;
        memset(&p, 0, sizeof p);
        for (k = 0; k < 300; k++) pk_op(&p, ']');
        for (k = 0; k < 299; k++) pk_op(&p, 'a');
        CHECK(refused_pk(&p, "nested deeper than 200"));
    }
    /* 14. string length past the end */
    memset(&p, 0, sizeof p);
    pk_raw(&p, "X\xff\xff\xff\x0f" "abc", 8);
    CHECK(refused_pk(&p, "runs past the end of data.pkl"));
    /* 15. LONG1 wider than int64 */
    memset(&p, 0, sizeof p);
    pk_raw(&p, "\x8a\x09" "123456789", 11);
    CHECK(refused_pk(&p, "does not fit in int64"));
    /* 16. float dict key */
    memset(&p, 0, sizeof p);
    pk_op(&p, '}');
    pk_raw(&p, "G\x3f\xf0\0\0\0\0\0\0", 9);
    pk_op(&p, 'N');
    pk_op(&p, 's');
    CHECK(refused_pk(&p, "dict key of type float"));
    /* 17. no STOP */
    {
        size_t len;
        void *z;
        memset(&p, 0, sizeof p);
        pk_op(&p, 'N');
        z = pk_archive(&p, 0, 0, &len);
        CHECK(refused(z, len, "no STOP opcode"));
        tl_free_buffer(z);
    }
    /* 18. GLOBAL without newlines */
    memset(&p, 0, sizeof p);
    pk_raw(&p, "cos", 3);
    CHECK(refused_pk(&p, "GLOBAL without"));
    /* 19. APPEND to a dict */
    memset(&p, 0, sizeof p);
    pk_raw(&p, "}Na", 3);
    CHECK(refused_pk(&p, "APPEND(S) on a dict"));
}

TEST(hostile_tensors_and_storages) {
    pk p;
    int64_t s1[1], t1[1], s2[2], t2[2], s9[9], t9[9];
    int k;
    /* 20. size beyond the storage */
    memset(&p, 0, sizeof p);
    s1[0] = 10; t1[0] = 1;
    pk_tensor(&p, "FloatStorage", "0", 6, 0, 1, s1, t1, 0);
    CHECK(refused_pk(&p, "reaches element 9 of a float32 storage with 6 elements"));
    /* 21. offset + strides beyond the storage */
    memset(&p, 0, sizeof p);
    s2[0] = 2; s2[1] = 3; t2[0] = 3; t2[1] = 1;
    pk_tensor(&p, "FloatStorage", "0", 6, 1, 2, s2, t2, 0);
    CHECK(refused_pk(&p, "reaches element 6"));
    /* 22. negative stride */
    memset(&p, 0, sizeof p);
    s1[0] = 3; t1[0] = -1;
    pk_tensor(&p, "FloatStorage", "0", 6, 5, 1, s1, t1, 0);
    CHECK(refused_pk(&p, "negative stride -1"));
    /* 23. negative size */
    memset(&p, 0, sizeof p);
    s1[0] = -3; t1[0] = 1;
    pk_tensor(&p, "FloatStorage", "0", 6, 0, 1, s1, t1, 0);
    CHECK(refused_pk(&p, "negative size -3"));
    /* 24. negative offset */
    memset(&p, 0, sizeof p);
    s1[0] = 2; t1[0] = 1;
    pk_tensor(&p, "FloatStorage", "0", 6, -1, 1, s1, t1, 0);
    CHECK(refused_pk(&p, "negative storage offset"));
    /* 25. storage numel beyond its record */
    memset(&p, 0, sizeof p);
    pk_tensor(&p, "FloatStorage", "0", 100, 0, 1, s1, t1, 0);
    CHECK(refused_pk(&p, "has 24 bytes but FloatStorage[100] needs 400"));
    /* 26. missing storage record */
    memset(&p, 0, sizeof p);
    pk_tensor(&p, "FloatStorage", "7", 6, 0, 1, s1, t1, 0);
    CHECK(refused_pk(&p, "storage record 'data/7' is missing"));
    /* 27. unsupported storage dtype */
    memset(&p, 0, sizeof p);
    pk_tensor(&p, "ComplexFloatStorage", "0", 3, 0, 1, s1, t1, 0);
    CHECK(refused_pk(&p, "ComplexFloatStorage: that dtype is not supported"));
    /* 28. one key referenced as two storage classes */
    memset(&p, 0, sizeof p);
    pk_op(&p, '(');
    pk_tensor(&p, "FloatStorage", "0", 6, 0, 1, s1, t1, 0);
    pk_tensor(&p, "LongStorage", "0", 3, 0, 1, s1, t1, 0);
    pk_op(&p, 't');
    CHECK(refused_pk(&p, "storage '0' is referenced as LongStorage[3] after FloatStorage[6]"));
    /* 29. more dims than TL_MAX_DIMS */
    memset(&p, 0, sizeof p);
    for (k = 0; k < 9; k++) { s9[k] = 1; t9[k] = 1; }
    pk_tensor(&p, "FloatStorage", "0", 6, 0, 9, s9, t9, 0);
    CHECK(refused_pk(&p, "at most 8 dimensions"));
    /* 30. an int tensor that requires grad */
    memset(&p, 0, sizeof p);
    pk_tensor(&p, "IntStorage", "0", 6, 0, 1, s1, t1, 1);
    CHECK(refused_pk(&p, "a int32 tensor cannot require grad"));
    /* 31. stride overflow */
    memset(&p, 0, sizeof p);
    s2[0] = 2; s2[1] = 2; t2[0] = 0x7fffffff; t2[1] = 1;
    pk_tensor(&p, "FloatStorage", "0", 6, 0, 2, s2, t2, 0);
    CHECK(refused_pk(&p, "reaches element"));
    /* 32. a legacy 6-item persistent id */
    memset(&p, 0, sizeof p);
    pk_op(&p, '(');
    pk_str(&p, "storage");
    pk_global(&p, "torch", "FloatStorage");
    pk_str(&p, "0");
    pk_str(&p, "cpu");
    pk_int(&p, 6);
    pk_op(&p, 'N');
    pk_op(&p, 't');
    pk_op(&p, 'Q');
    CHECK(refused_pk(&p, "legacy (pre-1.6)"));
    /* 33. non-empty backward hooks */
    memset(&p, 0, sizeof p);
    pk_global(&p, "torch._utils", "_rebuild_tensor_v2");
    pk_op(&p, '(');
    pk_op(&p, '(');
    pk_str(&p, "storage");
    pk_global(&p, "torch", "FloatStorage");
    pk_str(&p, "0");
    pk_str(&p, "cpu");
    pk_int(&p, 6);
    pk_op(&p, 't');
    pk_op(&p, 'Q');
    pk_int(&p, 0);
    pk_ituple(&p, 1, s1);
    pk_ituple(&p, 1, t1);
    pk_op(&p, 0x89);
    pk_op(&p, '}');
    pk_str(&p, "hook");
    pk_op(&p, 'N');
    pk_op(&p, 's');
    pk_op(&p, 't');
    pk_op(&p, 'R');
    CHECK(refused_pk(&p, "backward hooks must be empty"));
}

TEST(hostile_containers) {
    tl_tensor *t = tl_arange(0, 6, 1, TL_F32);
    tl_value *v = tl_value_tensor(t);
    void *good;
    size_t n, k, len;
    unsigned char *bad;
    pk p;
    REQUIRE(tl_save_to_buffer(v, &good, &n) == TL_OK);
    bad = (unsigned char *)malloc(n + 600);
    REQUIRE(bad);
    /* 34. truncated file (no end record) */
    CHECK(refused(good, n / 2, "no zip end-of-central-directory record"));
    /* 35. empty and tiny inputs, not a zip */
    CHECK(refused("", 0, "not a torch.save file"));
    CHECK(refused("hello world, this is not a checkpoint", 37, "not a torch.save file"));
    /* 36. a bare pickle */
    CHECK(refused("\x80\x02N.", 4, "bare pickle stream"));
    /* 37. legacy magic */
    CHECK(refused("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e", 15, "legacy torch.save format"));
    /* 38. CRC mismatch: flip one byte of the tensor payload (at 64-byte aligned data/0) */
    memcpy(bad, good, n);
    for (k = 0; k + 4 <= n; k++)
        if (memcmp(bad + k, "\0\0\x80?", 4) == 0) { bad[k + 1] ^= 1; break; }
    CHECK(refused(bad, n, "fails its CRC-32 check"));
    /* 39. truncated record: the central directory claims more bytes than the file has */
    memcpy(bad, good, n);
    for (k = 0; k + 46 <= n; k++)
        if (tl__rd32(bad + k) == 0x02014b50u && memcmp(bad + k + 46, "archive/data/0", 14) == 0) {
            bad[k + 20] = bad[k + 24] = 0xf0; bad[k + 21] = bad[k + 25] = 0xff;
            break;
        }
    CHECK(refused(bad, n, "is truncated"));
    /* 40. central directory outside the file */
    memcpy(bad, good, n);
    bad[n - 6] = 0xff; /* EOCD cd offset (the ZIP64 record wins, so break that one too) */
    for (k = 0; k + 56 <= n; k++)
        if (tl__rd32(bad + k) == 0x06064b50u) { bad[k + 48 + 3] = 0x7f; break; }
    CHECK(refused(bad, n, "lies outside"));
    {   /* 41. missing version record */
        memset(&p, 0, sizeof p);
        pk_op(&p, 'N');
        good = (tl_free_buffer(good), pk_archive(&p, 1, 1, &len));
        CHECK(refused(good, len, "no 'version' record"));
    }
    {   /* 42. TorchScript archive (constants.pkl) */
        const char *names[3] = {"data.pkl", "constants.pkl", "version"};
        const void *datas[3] = {"\x80\x02N.", "\x80\x02)." , "3\n"};
        size_t lens[3] = {4, 4, 2};
        void *z = make_zip("model", 3, names, datas, lens, 0xFFFFFFFFu, &len);
        CHECK(refused(z, len, "TorchScript archive"));
        tl_free_buffer(z);
    }
    {   /* 43. version out of range */
        const char *names[2] = {"data.pkl", "version"};
        const void *datas[2] = {"\x80\x02N.", "99\n"};
        size_t lens[2] = {4, 3};
        void *z = make_zip("a", 2, names, datas, lens, 0xFFFFFFFFu, &len);
        CHECK(refused(z, len, "unsupported archive version"));
        tl_free_buffer(z);
    }
    {   /* 44. records not under one directory ("/data.pkl": an empty directory name) */
        const char *names[2] = {"data.pkl", "version"};
        const void *datas[2] = {"\x80\x02N.", "3\n"};
        size_t lens[2] = {4, 2};
        void *z = make_zip("", 2, names, datas, lens, 0xFFFFFFFFu, &len);
        CHECK(refused(z, len, "not in a subdirectory"));
        tl_free_buffer(z);
    }
    {   /* 45. bad deflate data in a record that claims method 8 */
        memcpy(bad, deflated_noncontig, sizeof deflated_noncontig);
        for (k = 0; k + 4 <= sizeof deflated_noncontig; k++)
            if (memcmp(bad + k, "PK\x03\x04", 4) == 0 && memcmp(bad + k + 30, "noncontig_shared/data.pkl", 25) == 0) {
                bad[k + 30 + 25] ^= 0xff; /* first byte of the deflate stream (CRC also fails) */
                break;
            }
        tl_clear_error();
        CHECK(tl_load_from_buffer(bad, sizeof deflated_noncontig) == NULL && tl_last_status() == TL_ERR_FORMAT);
        CHECK(strstr(tl_last_error(), "data.pkl") != NULL);
        tl_clear_error();
    }
    {   /* 46. byteorder other than little/big */
        const char *names[3] = {"data.pkl", "byteorder", "version"};
        const void *datas[3] = {"\x80\x02N.", "middle", "3\n"};
        size_t lens[3] = {4, 6, 2};
        void *z = make_zip("a", 3, names, datas, lens, 0xFFFFFFFFu, &len);
        CHECK(refused(z, len, "byteorder record must be"));
        tl_free_buffer(z);
    }
    {   /* 47. deflate bomb: a record claiming an impossible size */
        memcpy(bad, deflated_noncontig, sizeof deflated_noncontig);
        for (k = 0; k + 46 <= sizeof deflated_noncontig; k++)
            if (tl__rd32(bad + k) == 0x02014b50u && memcmp(bad + k + 46, "noncontig_shared/data.pkl", 25) == 0) {
                bad[k + 27] = 0x7f; /* uncompressed size ~2 GiB */
                break;
            }
        CHECK(refused(bad, sizeof deflated_noncontig, "more than DEFLATE can produce"));
    }
    tl_free_buffer(good);
    free(bad);
    tl_value_free(v);
    tl_release(t);
}

/* Every prefix of a valid file and every single-byte corruption of its pickle is refused or
   loaded without a crash or a leak (ASan/UBSan do the checking). */
TEST(fuzz_truncations_and_bit_flips) {
    tl_scope s = tl_scope_begin();
    tl_value *root = tl_value_dict(), *v;
    tl_tensor *a = tl_arange(0, 12, 1, TL_F32);
    void *buf;
    size_t n, k;
    unsigned char *cp;
    int loaded = 0, refusedn = 0;
    tl_value_set(root, "a", tl_value_tensor(tl_view(a, TL_SHAPE(3, 4))));
    tl_value_set(root, "b", tl_value_tensor(tl_t(tl_view(a, TL_SHAPE(3, 4)))));
    tl_value_set(root, "x", tl_value_float(0.5));
    REQUIRE(tl_save_to_buffer(root, &buf, &n) == TL_OK);
    cp = (unsigned char *)malloc(n);
    REQUIRE(cp);
    for (k = 0; k < n; k++) {
        memcpy(cp, buf, k);
        v = tl_load_from_buffer(cp, k);
        if (v) loaded++; else refusedn++;
        tl_value_free(v);
        tl_clear_error();
    }
    CHECK(loaded == 0);
    for (k = 64; k < 64 + 200 && k < n; k++) { /* data.pkl bytes, CRC checks disabled by zeroing */
        size_t j;
        memcpy(cp, buf, n);
        for (j = 0; j + 46 <= n; j++)
            if (tl__rd32(cp + j) == 0x02014b50u) memset(cp + j + 16, 0, 4);
        cp[k] ^= 0x5a;
        v = tl_load_from_buffer(cp, n);
        tl_value_free(v);
        tl_clear_error();
    }
    CHECK(refusedn > 0);
    free(cp);
    tl_free_buffer(buf);
    tl_value_free(root);
    tl_scope_end(s);
}

static const th_case tests[] = {
    TH_CASE(value_basics_and_accessors),
    TH_CASE(big_dict_index_and_int_keys),
    TH_CASE(repr_like_python),
    TH_CASE(loads_every_torch_sample),
    TH_CASE(legacy_sample_gets_legacy_error),
    TH_CASE(sample_values_bit_exact),
    TH_CASE(samples_resave_identical_bytes),
    TH_CASE(pickle_matches_torch_bytes),
    TH_CASE(save_load_all_kinds_and_views),
    TH_CASE(state_dict_build_with_metadata),
    TH_CASE(batches_of_1000_items),
    TH_CASE(save_to_path_is_atomic),
    TH_CASE(writer_errors_are_reported),
    TH_CASE(zero_copy_load_aliases_the_buffer),
    TH_CASE(deflated_entries_and_inflate),
    TH_CASE(zip64_and_crc0_archives_load),
    TH_CASE(reader_accepts_torch2_extras),
    TH_CASE(hostile_globals_and_opcodes),
    TH_CASE(hostile_tensors_and_storages),
    TH_CASE(hostile_containers),
    TH_CASE(fuzz_truncations_and_bit_flips),
};

int main(void) { return TH_RUN(tests); }
