/* tests/harness.h - a tiny test harness for tensorlite's C tests (no dependencies).

   Each test file defines TL_IMPLEMENTATION, includes "tensorlite.h", then this file:

       TEST(adds_two_tensors) {
           tl_scope s = tl_scope_begin();
           tl_tensor *y = tl_add(tl_ones(TL_SHAPE(2), TL_F32), tl_ones(TL_SHAPE(2), TL_F32));
           REQUIRE(y != NULL);                 // stops this test on failure
           CHECK_NEAR(tl_get(y, (const int64_t[]){0}), 2.0, 0);
           tl_scope_end(s);
       }
       static const th_case tests[] = { TH_CASE(adds_two_tensors) };
       int main(void) { return TH_RUN(tests); }

   The runner clears the tensorlite error before each test, runs it, ends any scope the test left
   open (that is a failure), and fails the test when tl_debug_live_tensors() or
   tl_debug_live_storages() differ from their values before the test (a leak). It prints one line
   per failed check (file:line), one line per failed test, and as its LAST line exactly
   "N passed, N failed" (tests, not checks). The exit code is 1 when any test failed.
   TH_VERBOSE=1 in the environment prints every test name as it runs. */
#ifndef TL_TEST_HARNESS_H
#define TL_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TL_H_INCLUDED
#error "include tensorlite.h (with TL_IMPLEMENTATION) before harness.h"
#endif

/* helpers a test file may not use are not "defined but not used" */
#if defined(__GNUC__) || defined(__clang__)
#define TH_FN static __attribute__((unused))
#else
#define TH_FN static
#endif

typedef struct th_case {
    const char *name;
    void (*fn)(void);
} th_case;

#define TEST(name) static void name(void)
#define TH_CASE(name) { #name, name }
#define TH_RUN(cases) th_run((cases), (int)(sizeof(cases) / sizeof((cases)[0])))

static int th_checks_failed; /* failed checks in the running test */
static long th_checks_total; /* checks run in the whole binary */

TH_FN int th_check(int ok, const char *expr, const char *file, int line) {
    th_checks_total++;
    if (ok) return 1;
    printf("%s:%d: FAILED: CHECK(%s)\n", file, line, expr);
    fflush(stdout);
    th_checks_failed++;
    return 0;
}

/* CHECK(cond): record a failure and go on. REQUIRE(cond): record and leave the test. */
#define CHECK(cond) th_check((cond) ? 1 : 0, #cond, __FILE__, __LINE__)
#define REQUIRE(cond)                                                                            \
    do {                                                                                         \
        if (!CHECK(cond)) return;                                                                \
    } while (0)

TH_FN int th_check_eq_int(long long a, long long b, const char *ea, const char *eb,
                           const char *file, int line) {
    th_checks_total++;
    if (a == b) return 1;
    printf("%s:%d: FAILED: CHECK_EQ_INT(%s, %s): %lld != %lld\n", file, line, ea, eb, a, b);
    fflush(stdout);
    th_checks_failed++;
    return 0;
}
#define CHECK_EQ_INT(a, b)                                                                       \
    th_check_eq_int((long long)(a), (long long)(b), #a, #b, __FILE__, __LINE__)

/* |a - b| <= tol; two NaNs compare equal, infinities must match exactly. */
TH_FN int th_check_near(double a, double b, double tol, const char *ea, const char *eb,
                         const char *file, int line) {
    int ok;
    th_checks_total++;
    if (a != a || b != b) ok = (a != a) && (b != b);
    else if (a == b) ok = 1;
    else ok = fabs(a - b) <= tol;
    if (ok) return 1;
    printf("%s:%d: FAILED: CHECK_NEAR(%s, %s): %.17g vs %.17g (tol %g)\n", file, line, ea, eb, a,
           b, tol);
    fflush(stdout);
    th_checks_failed++;
    return 0;
}
#define CHECK_NEAR(a, b, tol)                                                                    \
    th_check_near((double)(a), (double)(b), (double)(tol), #a, #b, __FILE__, __LINE__)

TH_FN int th_check_str(const char *a, const char *b, const char *ea, const char *file, int line) {
    th_checks_total++;
    if (a && b && strcmp(a, b) == 0) return 1;
    printf("%s:%d: FAILED: CHECK_STR(%s): \"%s\" != \"%s\"\n", file, line, ea, a ? a : "(null)",
           b ? b : "(null)");
    fflush(stdout);
    th_checks_failed++;
    return 0;
}
#define CHECK_STR(a, b) th_check_str((a), (b), #a, __FILE__, __LINE__)

/* The depth a new scope would get right now (probes with begin + end). */
TH_FN int th_scope_depth(void) {
    tl_scope s = tl_scope_begin();
    tl_scope_end(s);
    return s.depth;
}

TH_FN int th_run(const th_case *cases, int n) {
    int i, passed = 0, failed = 0;
    const char *v = getenv("TH_VERBOSE");
    int verbose = v && v[0] && v[0] != '0';
    for (i = 0; i < n; i++) {
        long t0, s0, t1, s1;
        int depth0, depth1;
        tl_clear_error();
        depth0 = th_scope_depth();
        t0 = tl_debug_live_tensors();
        s0 = tl_debug_live_storages();
        th_checks_failed = 0;
        if (verbose) {
            printf("-- %s\n", cases[i].name);
            fflush(stdout);
        }
        cases[i].fn();
        depth1 = th_scope_depth();
        if (depth1 != depth0) {
            tl_scope open;
            printf("%s: FAILED: left a scope open (depth %d, expected %d)\n", cases[i].name, depth1,
                   depth0);
            th_checks_failed++;
            open.depth = depth0; /* ends the outermost scope the test opened and all inside it */
            tl_scope_end(open);
        }
        t1 = tl_debug_live_tensors();
        s1 = tl_debug_live_storages();
        if (t1 != t0 || s1 != s0) {
            printf("%s: FAILED: leak: live tensors %ld -> %ld, live storages %ld -> %ld\n",
                   cases[i].name, t0, t1, s0, s1);
            th_checks_failed++;
        }
        tl_clear_error();
        if (th_checks_failed) {
            printf("FAIL %s (%d)\n", cases[i].name, th_checks_failed);
            failed++;
        } else {
            passed++;
        }
        fflush(stdout);
    }
    printf("(%ld checks)\n", th_checks_total);
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed ? 1 : 0;
}

/* 1 when t has ndim dims and dims[i] == want[i] for each (dims: t's shape or strides) */
TH_FN int th_dims_are(const tl_tensor *t, int ndim, const int64_t *dims, const int64_t *want) {
    int i;
    if (!t || tl_ndim(t) != ndim) return 0;
    for (i = 0; i < ndim; i++)
        if (dims[i] != want[i]) return 0;
    return 1;
}
/* has_shape(t, TL_SHAPE(2, 3)): t is exactly [2, 3]; has_stride(t, STRIDES(3, 1)) likewise */
TH_FN int has_shape(const tl_tensor *t, int ndim, const int64_t *shape) {
    return th_dims_are(t, ndim, t ? tl_shape(t) : NULL, shape);
}
TH_FN int has_stride(const tl_tensor *t, int ndim, const int64_t *stride) {
    return th_dims_are(t, ndim, t ? tl_stride(t) : NULL, stride);
}
#define STRIDES TL_SHAPE

/* The whole file's cases when a build leaves it nothing to run (no fork, no threads): one case
   that says why, instead of the th_case table. */
#define TH_SKIP_ALL(name, why)                                                                     \
    TEST(name) { printf("    (%s: skipped)\n", why); }                                            \
    static const th_case tests[] = {TH_CASE(name)}

#endif /* TL_TEST_HARNESS_H */
