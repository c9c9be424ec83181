/* tests/test_hostile.c - the checkpoint reader against hostile and malformed files (issue 12).

   tests/fixtures/hostile/ holds hand-made files (written by tests/fixtures/make_hostile.py), one per
   attack: decompression bombs, a memo "billion laughs", string amplification, code-executing
   globals, sizes beyond the file, overflowing strides and offsets, overlapping records, deep
   nesting, duplicate and missing records, a truncated central directory, legacy and TorchScript
   files. hostile/EXPECTED lists, for each, the status and a piece of the message the refusal must
   carry. Each load runs under a counting allocator: it must be refused with that status and message,
   free everything, and never hold more than 64 MB beyond the file's own bytes. The time of each
   refusal is printed (not asserted: timings belong to bench/).

   Then the limits of tl_load_opts, one by one, on valid files: each limit refuses a file just over
   it (naming the option) and loads it when raised; and a file of 100,000 tiny storages loads with
   the defaults (its speed against torch is measured in bench/). Run from the repository root
   (TL_FIXTURES overrides tests/fixtures). */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include "harness.h"
#include "fail_alloc.h"
#include <time.h>

static const char *fixtures(void) {
    const char *e = getenv("TL_FIXTURES");
    return e && *e ? e : "tests/fixtures";
}

static double now_s(void) { return (double)clock() / CLOCKS_PER_SEC; }

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    long n;
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fclose(f);
    return n;
}

static tl_status status_of(const char *name) {
    static const tl_status all[] = {TL_ERR_ARG, TL_ERR_SHAPE, TL_ERR_DTYPE, TL_ERR_OOM,
                                    TL_ERR_IO, TL_ERR_STATE, TL_ERR_FORMAT, TL_ERR_INDEX};
    size_t k;
    for (k = 0; k < sizeof all / sizeof all[0]; k++)
        if (strcmp(tl_status_str(all[k]), name) == 0) return all[k];
    return TL_OK;
}

TEST(every_hostile_file_is_refused_cheaply) {
    char list[512], line[1024];
    FILE *ex;
    int files = 0;
    double worst_s = 0;
    size_t worst_extra = 0;
    snprintf(list, sizeof list, "%.400s/hostile/EXPECTED", fixtures());
    ex = fopen(list, "r");
    if (!ex) printf("    cannot open %s (run from the repository root)\n", list);
    REQUIRE(ex != NULL);
    while (fgets(line, sizeof line, ex)) {
        char *name = line, *st, *text, path[700];
        fail_alloc fa;
        tl_value *v;
        long fsz;
        double t0, dt;
        size_t extra, prefix_len;
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\n")] = 0;
        st = strchr(name, '\t');
        REQUIRE(st != NULL);
        *st++ = 0;
        text = strchr(st, '\t');
        REQUIRE(text != NULL);
        *text++ = 0;
        snprintf(path, sizeof path, "%.300s/hostile/%.300s", fixtures(), name);
        fsz = file_size(path);
        if (!CHECK(fsz >= 0)) {
            printf("    %s: missing\n", path);
            continue;
        }
        fa_reset(&fa);
        REQUIRE(fa_install(&fa) == TL_OK);
        t0 = now_s();
        v = tl_load(path);
        dt = now_s() - t0;
        if (!CHECK(v == NULL)) printf("    %s was loaded\n", name);
        tl_value_free(v);
        /* "tl_load: <path>: <reason>": the reason must say what was wrong (not just the file name) */
        prefix_len = strlen("tl_load: ") + strlen(path) + 2;
        if (!CHECK(tl_last_status() == status_of(st)) || !CHECK(strncmp(tl_last_error(), "tl_load: ", 9) == 0) ||
            !CHECK(strlen(tl_last_error()) > prefix_len && strstr(tl_last_error() + prefix_len, text) != NULL))
            printf("    %s: expected %s with \"%s\", got %s: %s\n", name, st, text, tl_status_str(tl_last_status()),
                   tl_last_error());
        tl_clear_error();
        CHECK(fa_uninstall(&fa) == TL_OK);
        CHECK_EQ_INT(fa.outstanding, 0);
        extra = fa.peak > (size_t)fsz ? fa.peak - (size_t)fsz : 0;
        if (!CHECK(extra < ((size_t)64 << 20)))
            printf("    %s: held %lu bytes beyond its %ld\n", name, (unsigned long)extra, fsz);
        if (extra > worst_extra) worst_extra = extra;
        if (dt > worst_s) worst_s = dt;
        files++;
    }
    fclose(ex);
    printf("    %d hostile files refused; most memory beyond a file: %.2f MB; slowest refusal %.3f s (CPU)\n", files,
           (double)worst_extra / 1e6, worst_s);
    CHECK(files >= 30);
}

/* ---- the limits, one by one, on valid files ---- */

/* {"w": float32 [n], "names": [s, s, s, ...]} saved to a buffer. */
static void *make_file(int64_t n, int nstrings, size_t *size) {
    tl_value *d = tl_value_dict(), *l = tl_value_list();
    tl_tensor *t = tl_zeros(TL_SHAPE(n), TL_F32);
    void *buf = NULL;
    int k;
    tl_value_set(d, "w", tl_value_tensor(t));
    tl_release(t);
    for (k = 0; k < nstrings; k++) tl_value_append(l, tl_value_string("a string of thirty-two bytes...."));
    tl_value_set(d, "names", l);
    if (tl_save_to_buffer(d, &buf, size) != TL_OK) buf = NULL;
    tl_value_free(d);
    return buf;
}

static void expect_refused(const void *buf, size_t n, const tl_load_opts *o, const char *field) {
    tl_value *v = tl_load_from_buffer_opts(buf, n, o);
    CHECK(v == NULL);
    if (!CHECK(tl_last_status() == TL_ERR_FORMAT && strstr(tl_last_error(), field) != NULL))
        printf("    expected a refusal naming %s, got: %s\n", field, tl_last_error());
    tl_value_free(v);
    tl_clear_error();
}
static void expect_loaded(const void *buf, size_t n, const tl_load_opts *o) {
    tl_value *v = tl_load_from_buffer_opts(buf, n, o);
    if (!CHECK(v != NULL)) printf("    %s\n", tl_last_error());
    tl_value_free(v);
    tl_clear_error();
}

TEST(each_limit_refuses_just_over_it_and_loads_when_raised) {
    size_t n = 0;
    void *buf = make_file(1000, 100, &n);
    tl_load_opts o;
    REQUIRE(buf != NULL);
    expect_loaded(buf, n, NULL);
    o = tl_load_opts_default();
    o.max_input_bytes = n - 1;
    expect_refused(buf, n, &o, "max_input_bytes");
    o.max_input_bytes = n;
    expect_loaded(buf, n, &o);
    o = tl_load_opts_default();
    o.max_storage_bytes = 3999;
    expect_refused(buf, n, &o, "max_storage_bytes");
    o.max_storage_bytes = 4000;
    expect_loaded(buf, n, &o);
    o = tl_load_opts_default();
    o.max_string_bytes = 100 * 32 + 4 - 1; /* 100 strings + the two keys "w" and "names" (6 bytes) */
    expect_refused(buf, n, &o, "max_string_bytes");
    o.max_string_bytes = 100 * 32 + 6;
    expect_loaded(buf, n, &o);
    o = tl_load_opts_default();
    o.max_objects = 20;
    expect_refused(buf, n, &o, "max_objects");
    o.max_objects = 0; /* 0: no limit */
    expect_loaded(buf, n, &o);
    o = tl_load_opts_default();
    o.max_depth = 1; /* dict -> list -> str is 2 levels below the root */
    expect_refused(buf, n, &o, "max_depth");
    o.max_depth = 2;
    expect_loaded(buf, n, &o);
    /* the 100 strings are one memoized str: 99 of them are expansion */
    o = tl_load_opts_default();
    o.max_expanded_values = 98;
    expect_refused(buf, n, &o, "max_expanded_values");
    o.max_expanded_values = 99;
    expect_loaded(buf, n, &o);
    o.max_expanded_values = -1;
    expect_loaded(buf, n, &o);
    tl_free_buffer(buf);
}

TEST(deflated_records_count_against_max_inflated_bytes) {
    char path[600];
    tl_load_opts o = tl_load_opts_default();
    tl_value *v;
    snprintf(path, sizeof path, "%.500s/hostile/bomb_storage_1gib.pt", fixtures());
    o.max_inflated_bytes = 1000;
    v = tl_load_ex(path, &o);
    CHECK(v == NULL);
    CHECK(strstr(tl_last_error(), "max_inflated_bytes") != NULL);
    CHECK(strstr(tl_last_error(), "1073741824") != NULL);
    tl_clear_error();
    tl_value_free(v);
}

/* 100,000 one-element tensors, each with its own storage: loads with the default limits (the
   storage and record lookups are hashed, so this is linear; bench/ times it against torch). */
TEST(hundred_thousand_tiny_storages_load_with_defaults) {
    tl_value *d = tl_value_dict(), *back;
    void *buf = NULL;
    size_t n = 0;
    int k;
    double t0;
    for (k = 0; k < 100000; k++) {
        char key[24];
        tl_tensor *t = tl_full(TL_SHAPE(1), (double)k, TL_F32);
        snprintf(key, sizeof key, "t%d", k);
        tl_value_set(d, key, tl_value_tensor(t));
        tl_release(t);
    }
    REQUIRE(tl_save_to_buffer(d, &buf, &n) == TL_OK);
    tl_value_free(d);
    t0 = now_s();
    back = tl_load_from_buffer(buf, n);
    printf("    100,000 storages (%lu bytes): loaded in %.2f s (CPU)\n", (unsigned long)n, now_s() - t0);
    tl_free_buffer(buf);
    if (!CHECK(back != NULL)) printf("    %s\n", tl_last_error());
    if (back) {
        const tl_value *last = tl_value_get(back, "t99999");
        tl_tensor *t = last ? tl_value_tensor_of(last) : NULL;
        CHECK_EQ_INT(tl_value_len(back), 100000);
        CHECK(t && tl_item(t) == 99999.0);
        tl_release(t);
    }
    tl_value_free(back);
    tl_clear_error();
}

/* Inputs the fuzzers found (tests/fuzz/regressions/): each is refused with its message. */
TEST(fuzzer_findings_stay_fixed) {
    static const struct { const char *file, *kind, *text; } found[] = {
        /* a Fortran-order bool .npy whose data bytes are not 0/1 used to load (the check ran on the
           C-order path only), and tensorlite then wrote a .npy numpy would misread */
        {"npy_fortran_bool_byte.npy", "npy", "bool element 0 has byte value 32"},
    };
    size_t k;
    for (k = 0; k < sizeof found / sizeof found[0]; k++) {
        char path[600];
        FILE *f;
        unsigned char buf[1 << 16];
        size_t n;
        tl_tensor *t = NULL;
        snprintf(path, sizeof path, "tests/fuzz/regressions/%s", found[k].file);
        f = fopen(path, "rb");
        if (!CHECK(f != NULL)) continue;
        n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        if (strcmp(found[k].kind, "npy") == 0) t = tl_load_npy_from_buffer(buf, n);
        CHECK(t == NULL);
        if (!CHECK(strstr(tl_last_error(), found[k].text) != NULL)) printf("    %s: %s\n", found[k].file, tl_last_error());
        tl_release(t);
        tl_clear_error();
    }
}

static const th_case tests[] = {
    TH_CASE(every_hostile_file_is_refused_cheaply),
    TH_CASE(each_limit_refuses_just_over_it_and_loads_when_raised),
    TH_CASE(deflated_records_count_against_max_inflated_bytes),
    TH_CASE(hundred_thousand_tiny_storages_load_with_defaults),
    TH_CASE(fuzzer_findings_stay_fixed),
};

int main(void) { return TH_RUN(tests); }
