/* tests/test_random.c - >>random: the test vectors of TORCH_RNG.md section 12 (each produced by
   torch 1.13.1 and by an independent re-implementation) bit for bit, the compositions nn.Linear,
   nn.Conv2d, xavier_uniform_, DataLoader and random_split build on these calls, the generator
   API (state blobs, independence, seeding), memory order on views, autograd rules, and every
   error case with its status. The PyTorch oracle (tests/torch/test_random.py) checks the same
   streams on ~22,000 calls against the real thing. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include "harness.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define F32 TL_F32
#define F64 TL_F64
#define I64 TL_I64

/* Bit patterns of element i of a contiguous float32 / float64 tensor; int64 values. */
static uint32_t b32(const tl_tensor *t, int64_t i) {
    uint32_t b;
    memcpy(&b, (const float *)tl_data_ptr(t) + i, 4);
    return b;
}
static uint64_t b64(const tl_tensor *t, int64_t i) {
    uint64_t b;
    memcpy(&b, (const double *)tl_data_ptr(t) + i, 8);
    return b;
}
static int64_t i64(const tl_tensor *t, int64_t i) { return ((const int64_t *)tl_data_ptr(t))[i]; }

/* n float32 bit patterns starting at element `from` */
static int eq32(const tl_tensor *t, int64_t from, int n, const uint32_t *want) {
    int i, ok = 1;
    if (!t) return 0;
    for (i = 0; i < n; i++)
        if (b32(t, from + i) != want[i]) {
            printf("    element %lld: %08lx, expected %08lx\n", (long long)(from + i), (unsigned long)b32(t, from + i),
                   (unsigned long)want[i]);
            ok = 0;
        }
    return ok;
}
static int eq64(const tl_tensor *t, int64_t from, int n, const uint64_t *want) {
    int i, ok = 1;
    if (!t) return 0;
    for (i = 0; i < n; i++)
        if (b64(t, from + i) != want[i]) {
            printf("    element %lld: %016llx, expected %016llx\n", (long long)(from + i),
                   (unsigned long long)b64(t, from + i), (unsigned long long)want[i]);
            ok = 0;
        }
    return ok;
}
static int eqi(const tl_tensor *t, int n, const int64_t *want) {
    int i, ok = 1;
    if (!t || tl_numel(t) < n) return 0;
    for (i = 0; i < n; i++)
        if (i64(t, i) != want[i]) {
            printf("    element %d: %lld, expected %lld\n", i, (long long)i64(t, i), (long long)want[i]);
            ok = 0;
        }
    return ok;
}
/* Values of any tensor in logical C order as doubles (n of them). */
static void values(const tl_tensor *t, double *out) { tl_copy_to_buffer(t, out, F64); }

#define U32S(...) (const uint32_t[]){__VA_ARGS__}
#define U64S(...) (const uint64_t[]){__VA_ARGS__}
#define I64S(...) (const int64_t[]){__VA_ARGS__}

/* ---------------------------------------------------------------- helpers built on the API */

/* nn.init._calculate_fan_in_and_fan_out */
static void fans(const tl_tensor *w, double *fan_in, double *fan_out) {
    double rf = 1;
    int d;
    for (d = 2; d < tl_ndim(w); d++) rf *= (double)tl_shape(w)[d];
    *fan_in = (double)tl_shape(w)[1] * rf;
    *fan_out = (double)tl_shape(w)[0] * rf;
}
/* nn.init.kaiming_uniform_(w, a) (fan_in, leaky_relu): the bound in double, evaluated in
   Python's order; a*a goes through a volatile so that no compiler fuses 1 + a*a. */
static volatile double g_vol;
static tl_status kaiming_uniform(tl_tensor *w, double a) {
    double fi, fo, gain, bound;
    fans(w, &fi, &fo);
    g_vol = a * a;
    gain = sqrt(2.0 / (1.0 + g_vol));
    bound = sqrt(3.0) * (gain / sqrt(fi));
    return tl_uniform_(w, -bound, bound);
}
/* nn.Linear / nn.Conv2d reset_parameters: weight kaiming_uniform_(a=sqrt(5)), bias U(+-1/sqrt(fan_in)) */
static tl_status init_layer(tl_tensor *w, tl_tensor *b) {
    double fi, fo, bound;
    tl_status st = kaiming_uniform(w, sqrt(5.0));
    if (st != TL_OK || !b) return st;
    fans(w, &fi, &fo);
    bound = fi > 0 ? 1.0 / sqrt(fi) : 0;
    return tl_uniform_(b, -bound, bound);
}
/* nn.init.xavier_uniform_(w, gain) */
static tl_status xavier_uniform(tl_tensor *w, double gain) {
    double fi, fo, a;
    fans(w, &fi, &fo);
    a = sqrt(3.0) * (gain * sqrt(2.0 / (fi + fo)));
    return tl_uniform_(w, -a, a);
}

/* ---------------------------------------------------------------- engine (§1) */

TEST(engine_words_match_torch) {
    tl_generator *g;
    int i;
    tl_manual_seed(0);
    CHECK_EQ_INT(tl_generator_next_u32(NULL), 0x8c7f0aacu);
    CHECK_EQ_INT(tl_generator_next_u32(NULL), 0x97c4aa2fu);
    CHECK_EQ_INT(tl_generator_next_u32(NULL), 0xb716a675u);
    CHECK_EQ_INT(tl_generator_next_u32(NULL), 0xd821ccc0u);
    tl_manual_seed(42);
    CHECK_EQ_INT(tl_generator_next_u32(NULL), 0x5fe1dc66u);
    CHECK_EQ_INT(tl_generator_next_u32(NULL), 0xcbea3db3u);
    CHECK_EQ_INT(tl_generator_next_u32(NULL), 0xf362035cu);
    CHECK_EQ_INT(tl_generator_next_u32(NULL), 0x2ef5950eu);
    /* only the low 32 bits reach the state: 2^32 + 5 is seed 5 */
    tl_manual_seed((UINT64_C(1) << 32) + 5);
    CHECK_EQ_INT(tl_generator_next_u32(NULL), 0x38d48b63u);
    CHECK_EQ_INT(tl_generator_next_u32(NULL), 0x0e2048ceu);
    CHECK(tl_initial_seed() == (UINT64_C(1) << 32) + 5); /* but all 64 are reported */
    /* random64: the first word is the high half */
    tl_manual_seed(0);
    CHECK(tl_generator_next_u64(NULL) == UINT64_C(0x8c7f0aac97c4aa2f));
    CHECK(tl_generator_next_u64(NULL) == UINT64_C(0xb716a675d821ccc0));
    /* torch.Generator() without a seed uses 67280421310721 */
    g = tl_generator_new(UINT64_C(67280421310721));
    REQUIRE(g != NULL);
    CHECK_EQ_INT(tl_generator_next_u32(g), 0x8c446d76u);
    CHECK_EQ_INT(tl_generator_next_u32(g), 0x44df5e04u);
    tl_generator_free(g);
    /* manual_seed(-1) keeps all 64 bits: initial_seed() == 2^64 - 1 */
    tl_manual_seed((uint64_t)-1);
    CHECK(tl_initial_seed() == UINT64_MAX);
    /* the state wraps around every 624 words: draw across several twists, then compare the
       624th..627th words after seed 0 with a second run */
    tl_manual_seed(0);
    for (i = 0; i < 623; i++) tl_generator_next_u32(NULL);
    {
        uint32_t a = tl_generator_next_u32(NULL), b2 = tl_generator_next_u32(NULL);
        tl_manual_seed(0);
        for (i = 0; i < 623; i++) tl_generator_next_u32(NULL);
        CHECK_EQ_INT(tl_generator_next_u32(NULL), a);
        CHECK_EQ_INT(tl_generator_next_u32(NULL), b2);
    }
}

TEST(default_generator_is_seeded_lazily_like_torch_Generator) {
    /* a zeroed thread-local generator means "not seeded": simulate a new thread */
    tl_generator saved = tl__rng;
    memset(&tl__rng, 0, sizeof tl__rng);
    CHECK(tl_initial_seed() == UINT64_C(67280421310721));
    CHECK_EQ_INT(tl_generator_next_u32(NULL), 0x8c446d76u);
    CHECK(tl_default_generator() == &tl__rng);
    tl_generator_free(tl_default_generator()); /* ignored: the default is not the caller's */
    tl__rng = saved;
}

TEST(seed_is_nondeterministic_and_reported) {
    uint64_t a = tl_seed(), b = tl_seed();
    CHECK(a != b);
    CHECK(tl_initial_seed() == b);
}

/* ---------------------------------------------------------------- samplers (§3-§8) */

TEST(uniform_vectors) {
    tl_scope s = tl_scope_begin();
    tl_tensor *t;
    tl_manual_seed(0);
    CHECK(eq32(tl_rand(TL_SHAPE(4), F32), 0, 4, U32S(0x3efe1558, 0x3f44aa2f, 0x3db533a8, 0x3e073300)));
    tl_manual_seed(42);
    CHECK(eq32(tl_rand(TL_SHAPE(4), F32), 0, 4, U32S(0x3f61dc66, 0x3f6a3db3, 0x3ec406b8, 0x3f75950e)));
    tl_manual_seed(0);
    CHECK(eq64(tl_rand(TL_SHAPE(2), F64), 0, 2, U64S(UINT64_C(0x3fef0aac97c4aa2f), UINT64_C(0x3fe6a675d821ccc0))));
    /* uniform_(-2.5, 7.25): fmaf(x, range, from), as torch's AVX2 build computes it */
    tl_manual_seed(0);
    t = tl_empty(TL_SHAPE(3), F32);
    CHECK_EQ_INT(tl_uniform_(t, -2.5, 7.25), TL_OK);
    CHECK(eq32(t, 0, 3, U32S(0x4015aa03, 0x409faf69, 0xbfd19486)));
    /* rand of a 0-dim tensor draws one value; of an empty tensor none */
    tl_manual_seed(0);
    t = tl_rand(0, NULL, F32);
    REQUIRE(t != NULL);
    CHECK_EQ_INT(tl_ndim(t), 0);
    CHECK(b32(t, 0) == 0x3efe1558u);
    CHECK(tl_numel(tl_rand(TL_SHAPE(0, 3), F32)) == 0);
    CHECK(eq32(tl_rand(TL_SHAPE(1), F32), 0, 1, U32S(0x3f44aa2f)));
    tl_scope_end(s);
}

TEST(normal_vectors_both_paths) {
    tl_scope s = tl_scope_begin();
    tl_tensor *t;
    /* n < 16: scalar Box-Muller in double with a cached second value */
    tl_manual_seed(0);
    CHECK(eq32(tl_randn(TL_SHAPE(4), F32), 0, 4, U32S(0x3fc53f5c, 0xbe963c50, 0xc00b7149, 0x3f1184b6)));
    tl_manual_seed(0);
    CHECK(eq64(tl_randn(TL_SHAPE(3), F64), 0, 3,
               U64S(UINT64_C(0x3ff8a7eb8902be3a), UINT64_C(0xbfd2c78a087c6fea), UINT64_C(0xc0016e2920a70ee5))));
    /* n >= 16, contiguous float32: torch's AVX2 kernel (Cephes log/sincos in float, with FMAs) */
    tl_manual_seed(0);
    t = tl_randn(TL_SHAPE(16), F32);
    CHECK(eq32(t, 0, 4, U32S(0xbf901b85, 0xbf93808a, 0xbe804bd6, 0xbede255d)));
    CHECK(eq32(t, 8, 4, U32S(0x3ea50138, 0xbfa1b4f4, 0x3eb330ff, 0x3e9dc3bb)));
    /* n % 16 != 0: the last 16 slots are redrawn and transformed again */
    tl_manual_seed(0);
    t = tl_randn(TL_SHAPE(17), F32);
    CHECK(eq32(t, 0, 2, U32S(0xbf901b85, 0xbfd91446)));
    CHECK(eq32(t, 16, 1, U32S(0x3f6e8c30)));
    tl_manual_seed(42);
    CHECK(eq32(tl_randn(TL_SHAPE(100), F32), 96, 4, U32S(0xbf7c873e, 0x3dfc8440, 0x3eb321de, 0x3f1e061c)));
    tl_manual_seed(0);
    t = tl_empty(TL_SHAPE(16), F32);
    CHECK_EQ_INT(tl_normal_(t, 0.5, 2.0), TL_OK);
    CHECK(eq32(t, 0, 3, U32S(0xbfe0370a, 0xbfe70114, 0xba97ac00)));
    tl_manual_seed(0);
    CHECK(eq64(tl_randn(TL_SHAPE(16), F64), 0, 2, U64S(UINT64_C(0xc0027bb92e9262dc), UINT64_C(0xbfd7e35794939460))));
    /* the same 16 values as a [4, 4] tensor: the shape does not matter, the count does */
    tl_manual_seed(0);
    CHECK(eq32(tl_randn(TL_SHAPE(4, 4), F32), 0, 4, U32S(0xbf901b85, 0xbf93808a, 0xbe804bd6, 0xbede255d)));
    tl_scope_end(s);
}

TEST(scalar_normal_cache_carries_over_and_reseeding_clears_it) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a, *b;
    tl_manual_seed(0);
    a = tl_randn(TL_SHAPE(3), F64); /* 4 random64 draws; the 4th normal is cached */
    b = tl_randn(TL_SHAPE(1), F64); /* takes the cached one without drawing */
    REQUIRE(a && b);
    tl_manual_seed(0);
    {
        tl_tensor *c = tl_randn(TL_SHAPE(4), F64);
        CHECK(eq64(c, 3, 1, U64S(b64(b, 0))));
    }
    tl_manual_seed(0);
    tl_randn(TL_SHAPE(1), F64); /* caches one */
    tl_manual_seed(0);          /* ...which manual_seed drops */
    CHECK(eq64(tl_randn(TL_SHAPE(1), F64), 0, 1, U64S(UINT64_C(0x3ff8a7eb8902be3a))));
    tl_scope_end(s);
}

TEST(integer_vectors) {
    tl_scope s = tl_scope_begin();
    tl_tensor *t;
    tl_manual_seed(0);
    CHECK(eqi(tl_randint(0, 10, TL_SHAPE(8), I64), 8, I64S(4, 9, 3, 0, 3, 9, 7, 3)));
    tl_manual_seed(0); /* a range of 2^32 or more draws random64 */
    CHECK(eqi(tl_randint(0, INT64_C(1) << 40, TL_SHAPE(2), I64), 2, I64S(741280623151, 506137267392)));
    tl_manual_seed(0);
    CHECK(eqi(tl_randperm(10, I64), 10, I64S(4, 1, 7, 5, 3, 9, 0, 8, 6, 2)));
    tl_manual_seed(42);
    CHECK(eqi(tl_randperm(8, I64), 8, I64S(6, 3, 0, 7, 2, 1, 4, 5)));
    tl_manual_seed(0); /* int64 random_(): random64 % 2^63 */
    t = tl_empty(TL_SHAPE(2), I64);
    CHECK_EQ_INT(tl_random_(t), TL_OK);
    CHECK(eqi(t, 2, I64S(INT64_C(900450186894289455), INT64_C(3969543146641149120))));
    /* randperm in another dtype holds the same permutation */
    tl_manual_seed(0);
    t = tl_randperm(10, TL_F32);
    REQUIRE(t != NULL);
    CHECK_EQ_INT(tl_dtype_of(t), TL_F32);
    CHECK_NEAR(tl_item(tl_select(t, 0, 0)), 4, 0);
    CHECK_NEAR(tl_item(tl_select(t, 0, 9)), 2, 0);
    CHECK(tl_numel(tl_randperm(0, I64)) == 0);
    /* randint on a float dtype whose bound it cannot represent moves the bound inwards:
       float32 randint(0, 2^31) draws from [0, 2^31 - 128), so random() not random64() */
    tl_manual_seed(0);
    t = tl_randint(0, INT64_C(1) << 31, TL_SHAPE(1), F32);
    REQUIRE(t != NULL);
    CHECK_NEAR(tl_item(t), (double)(float)(0x8c7f0aacu % ((1u << 31) - 128u)), 0);
    tl_scope_end(s);
}

TEST(bernoulli_and_multinomial_vectors) {
    tl_scope s = tl_scope_begin();
    tl_tensor *t, *p;
    tl_manual_seed(0); /* bernoulli_(0.5): one random64 each, u < p (torch's non-MKL kernel) */
    t = tl_empty(TL_SHAPE(10), F32);
    CHECK_EQ_INT(tl_bernoulli_(t, 0.5), TL_OK);
    {
        double v[10], want[10] = {0, 0, 1, 0, 0, 0, 1, 1, 0, 1};
        int i;
        values(t, v);
        for (i = 0; i < 10; i++) CHECK_NEAR(v[i], want[i], 0);
    }
    tl_manual_seed(0); /* bernoulli(float32 p): a float32 uniform (one random()) each */
    t = tl_bernoulli(tl_full(TL_SHAPE(10), 0.5, F32));
    REQUIRE(t != NULL);
    {
        double v[10], want[10] = {1, 0, 1, 1, 1, 0, 1, 0, 1, 0};
        int i;
        CHECK_EQ_INT(tl_dtype_of(t), F32);
        values(t, v);
        for (i = 0; i < 10; i++) CHECK_NEAR(v[i], want[i], 0);
    }
    p = tl_from_data((const float[]){0.1f, 0.2f, 0.3f, 0.4f}, TL_SHAPE(4), F32);
    tl_manual_seed(0);
    CHECK(eqi(tl_multinomial(p, 4, 0), 4, I64S(2, 1, 3, 0)));
    tl_manual_seed(0);
    CHECK(eqi(tl_multinomial(p, 8, 1), 8, I64S(3, 3, 2, 3, 3, 3, 1, 2)));
    /* [rows, K] gives [rows, k]; zero-probability categories are never drawn with replacement */
    t = tl_multinomial(tl_from_data((const double[]){0, 1, 0, 0, 0, 1}, TL_SHAPE(2, 3), F64), 5, 1);
    REQUIRE(t != NULL);
    CHECK(tl_ndim(t) == 2 && tl_shape(t)[0] == 2 && tl_shape(t)[1] == 5);
    CHECK(eqi(t, 10, I64S(1, 1, 1, 1, 1, 2, 2, 2, 2, 2)));
    /* bernoulli_(p tensor) broadcasts p; p = 0 and 1 are certain */
    t = tl_empty(TL_SHAPE(3, 2), TL_U8);
    CHECK_EQ_INT(tl_bernoulli_tensor_(t, tl_from_data((const double[]){0, 1}, TL_SHAPE(2), F64)), TL_OK);
    {
        double v[6];
        values(t, v);
        CHECK(v[0] == 0 && v[1] == 1 && v[2] == 0 && v[3] == 1 && v[4] == 0 && v[5] == 1);
    }
    tl_scope_end(s);
}

TEST(exponential_is_minus_log1m_u) {
    tl_scope s = tl_scope_begin();
    tl_tensor *t = tl_empty(TL_SHAPE(3), F64);
    double v[3], u;
    int i;
    tl_manual_seed(0);
    CHECK_EQ_INT(tl_exponential_(t, 2.0), TL_OK);
    values(t, v);
    tl_manual_seed(0);
    for (i = 0; i < 3; i++) {
        u = (double)(tl_generator_next_u64(NULL) & UINT64_C(0x1fffffffffffff)) / 9007199254740992.0;
        CHECK_NEAR(v[i], (-1.0 / 2.0) * log(1.0 - u), 0);
    }
    tl_scope_end(s);
}

/* ---------------------------------------------------------------- compositions (§9, §10) */

TEST(linear_and_conv_construction_match_torch) {
    tl_scope s = tl_scope_begin();
    tl_tensor *w = tl_empty(TL_SHAPE(256, 784), F32), *b = tl_empty(TL_SHAPE(256), F32);
    tl_manual_seed(0); /* nn.Linear(784, 256) */
    CHECK_EQ_INT(init_layer(w, b), TL_OK);
    CHECK(eq32(w, 0, 3, U32S(0xb98c3000, 0x3c9cf2b5, 0xbcf0ccac)));
    CHECK(eq32(w, 255 * 784 + 781, 3, U32S(0x3c17a94a, 0xbcd301e5, 0xbc679185)));
    CHECK(eq32(b, 0, 3, U32S(0xbc3ffbee, 0x3c596a17, 0xbb21c980)));
    w = tl_empty(TL_SHAPE(16, 3, 5, 5), F32); /* nn.Conv2d(3, 16, 5) */
    b = tl_empty(TL_SHAPE(16), F32);
    tl_manual_seed(0);
    CHECK_EQ_INT(init_layer(w, b), TL_OK);
    CHECK(eq32(w, 0, 3, U32S(0xba629fd9, 0x3d7db81f, 0xbdc2a2cb)));
    CHECK(eq32(b, 0, 3, U32S(0x3d490e06, 0x3dd4b2db, 0x3ddbe50b)));
    w = tl_empty(TL_SHAPE(256, 784), F32);
    tl_manual_seed(0);
    CHECK_EQ_INT(xavier_uniform(w, 1.0), TL_OK);
    CHECK(eq32(w, 0, 3, U32S(0xba151273, 0x3d26e515, 0xbd8007be)));
    tl_scope_end(s);
}

/* DataLoader(range(10), shuffle=True) epochs, composed from the engine calls the way torch's
   _BaseDataLoaderIter and RandomSampler draw (§10.2): base seed, then a private generator seeded
   from the default one (or the explicit generator g) and randperm(n). */
static tl_tensor *loader_epoch(tl_generator *g) {
    tl_tensor *perm, *trailing;
    tl_generator *priv;
    (void)(tl_generator_next_u64(g) & INT64_MAX); /* _base_seed: drawn, unused with 0 workers */
    if (g) {
        perm = tl_randperm_gen(10, I64, g);
        trailing = tl_randperm_gen(10, I64, g); /* RandomSampler's last randperm(n)[:0] */
        (void)trailing;
        return perm;
    }
    priv = tl_generator_new(tl_generator_next_u64(NULL) & INT64_MAX);
    if (!priv) return NULL;
    perm = tl_randperm_gen(10, I64, priv);
    tl_generator_free(priv);
    return perm;
}
TEST(dataloader_and_random_split_orders) {
    tl_scope s = tl_scope_begin();
    tl_generator *g;
    tl_manual_seed(0);
    CHECK(eqi(loader_epoch(NULL), 10, I64S(6, 7, 1, 4, 2, 0, 9, 8, 3, 5)));
    CHECK(eqi(loader_epoch(NULL), 10, I64S(2, 4, 7, 0, 8, 9, 5, 3, 6, 1)));
    g = tl_generator_new(1);
    REQUIRE(g != NULL);
    CHECK(eqi(loader_epoch(g), 10, I64S(4, 6, 9, 2, 3, 1, 0, 7, 8, 5)));
    CHECK(eqi(loader_epoch(g), 10, I64S(6, 8, 5, 1, 3, 7, 2, 4, 0, 9)));
    tl_generator_manual_seed(g, 42); /* random_split(range(10), [3, 7], generator=g) */
    CHECK(eqi(tl_randperm_gen(10, I64, g), 10, I64S(2, 6, 1, 8, 4, 5, 0, 9, 3, 7)));
    tl_generator_free(g);
    tl_scope_end(s);
}

/* ---------------------------------------------------------------- generators and state */

TEST(explicit_generators_are_independent) {
    tl_scope s = tl_scope_begin();
    tl_generator *g = tl_generator_new(0);
    tl_tensor *a, *b;
    REQUIRE(g != NULL);
    CHECK(tl_generator_initial_seed(g) == 0);
    tl_manual_seed(123);
    a = tl_randn_gen(TL_SHAPE(20), F32, g); /* the same as torch.randn(20, generator=g) */
    b = tl_rand(TL_SHAPE(1), F32);          /* the default stream did not move */
    /* randn(20)[0:4] = randn(16)[0:4]: the first block keeps its values, only slots 4..19 are redone */
    CHECK(eq32(a, 0, 4, U32S(0xbf901b85, 0xbf93808a, 0xbe804bd6, 0xbede255d)));
    tl_manual_seed(123);
    CHECK(eq32(tl_rand(TL_SHAPE(1), F32), 0, 1, U32S(b32(b, 0))));
    tl_generator_manual_seed(g, 0);
    CHECK(eq32(tl_rand_gen(TL_SHAPE(4), F32, g), 0, 4, U32S(0x3efe1558, 0x3f44aa2f, 0x3db533a8, 0x3e073300)));
    tl_generator_free(g);
    tl_generator_free(NULL);
    tl_scope_end(s);
}

TEST(rng_state_blob_round_trip) {
    tl_scope s = tl_scope_begin();
    tl_tensor *st, *a, *b, *st2;
    const uint8_t *p;
    tl_manual_seed(0);
    st = tl_get_rng_state();
    REQUIRE(st != NULL);
    CHECK_EQ_INT(tl_dtype_of(st), TL_U8);
    CHECK_EQ_INT(tl_numel(st), 5056);
    p = (const uint8_t *)tl_data_ptr(st);
    /* seed 0, left 1, seeded 1, next 0, first word 0 (zero-extended), no caches */
    CHECK(p[0] == 0 && p[8] == 1 && p[12] == 1 && p[16] == 0 && p[24] == 0 && p[5040] == 0 && p[5052] == 0);
    /* s[1] = 1812433253 * (0 ^ 0) + 1 = 1; s[2] = 1812433253 * (1 ^ 0) + 2 = 0x6c078967 */
    CHECK(p[32] == 1 && p[33] == 0 && p[39] == 0);
    CHECK(p[40] == 0x67 && p[41] == 0x89 && p[42] == 0x07 && p[43] == 0x6c && p[44] == 0);
    tl_randn(TL_SHAPE(3), F64); /* leaves a cached normal: part of the state */
    st = tl_get_rng_state();
    a = tl_randn(TL_SHAPE(5), F64);
    CHECK_EQ_INT(tl_set_rng_state(st), TL_OK);
    b = tl_randn(TL_SHAPE(5), F64);
    REQUIRE(a && b);
    CHECK(eq64(b, 0, 5, U64S(b64(a, 0), b64(a, 1), b64(a, 2), b64(a, 3), b64(a, 4))));
    st2 = tl_get_rng_state();
    CHECK_EQ_INT(tl_set_rng_state(st), TL_OK);
    tl_randn(TL_SHAPE(5), F64);
    CHECK(memcmp(tl_data_ptr(st2), tl_data_ptr(tl_get_rng_state()), 5056) == 0);
    /* torch's legacy 5048-byte layout: the cache comes from normal_rho * sin(2 pi normal_x) = 0 */
    CHECK_EQ_INT(tl_set_rng_state(tl_narrow(st, 0, 0, 5048)), TL_OK);
    CHECK_NEAR(tl_item(tl_randn(TL_SHAPE(1), F64)), 0.0, 0);
    tl_scope_end(s);
}

/* ---------------------------------------------------------------- views, autograd */

TEST(views_fill_in_memory_order) {
    tl_scope s = tl_scope_begin();
    tl_tensor *a = tl_empty(TL_SHAPE(6, 4), F32), *at = tl_t(a), *c = tl_empty(TL_SHAPE(6, 4), F32);
    double x[24], y[24];
    int i;
    tl_manual_seed(3); /* filling a transposed view fills its storage front to back */
    CHECK_EQ_INT(tl_uniform_(at, -1, 1), TL_OK);
    tl_manual_seed(3);
    CHECK_EQ_INT(tl_uniform_(c, -1, 1), TL_OK);
    values(a, x);
    values(c, y);
    for (i = 0; i < 24; i++) CHECK(x[i] == y[i]);
    /* a non-contiguous float32 tensor of >= 16 elements takes the scalar normal path: its
       storage starts with the same values as randn(15) (also the scalar path) */
    tl_manual_seed(3);
    CHECK_EQ_INT(tl_normal_(at, 0, 1), TL_OK);
    tl_manual_seed(3);
    {
        tl_tensor *small = tl_empty(TL_SHAPE(15), F32);
        double z[15];
        CHECK_EQ_INT(tl_normal_(small, 0, 1), TL_OK); /* scalar path, same first 15 values */
        values(small, z);
        values(a, x);
        for (i = 0; i < 15; i++) CHECK(x[i] == z[i]);
    }
    /* slices with a step and 0-dim tensors work too */
    CHECK_EQ_INT(tl_uniform_(tl_slice(tl_empty(TL_SHAPE(10, 3), F64), 0, 0, TL_END, 3), 0, 1), TL_OK);
    CHECK_EQ_INT(tl_normal_(tl_empty(0, NULL, F32), 1, 0), TL_OK);
    tl_scope_end(s);
}

TEST(autograd_rules) {
    tl_scope s = tl_scope_begin();
    tl_tensor *w = tl_empty(TL_SHAPE(3), F32), *x, *y;
    tl_requires_grad_(w, 1);
    /* a leaf that requires grad is refused, like torch; under no_grad (nn.init) it is fine */
    CHECK_EQ_INT(tl_uniform_(w, 0, 1), TL_ERR_STATE);
    tl_clear_error();
    tl_no_grad_begin();
    CHECK_EQ_INT(tl_uniform_(w, 0, 1), TL_OK);
    CHECK_EQ_INT(tl_normal_(w, 0, 1), TL_OK);
    tl_no_grad_end();
    CHECK(tl_requires_grad(w) && tl_is_leaf(w));
    /* a non-leaf: the write is recorded and its gradient is zero */
    x = tl_ones(TL_SHAPE(3), F32);
    tl_requires_grad_(x, 1);
    y = tl_mul_scalar(x, 2);
    CHECK_EQ_INT(tl_normal_(y, 0, 1), TL_OK);
    CHECK_STR(tl_grad_fn_name(y), "NormalBackward0");
    CHECK_EQ_INT(tl_backward(tl_sum_all(y)), TL_OK);
    {
        tl_tensor *g = tl_grad(x);
        double v[3];
        REQUIRE(g != NULL);
        values(g, v);
        CHECK(v[0] == 0 && v[1] == 0 && v[2] == 0);
    }
    /* fresh samples never require grad */
    CHECK(!tl_requires_grad(tl_randn(TL_SHAPE(2), F32)));
    tl_scope_end(s);
}

/* ---------------------------------------------------------------- errors */

#define EXPECT_NULL(expr, code)                                                                   \
    do {                                                                                           \
        tl_clear_error();                                                                          \
        CHECK((expr) == NULL);                                                                     \
        if (!CHECK_EQ_INT(tl_last_status(), code)) printf("    message: %s\n", tl_last_error());   \
        tl_clear_error();                                                                          \
    } while (0)
#define EXPECT_ST(expr, code)                                                                     \
    do {                                                                                           \
        tl_clear_error();                                                                          \
        CHECK_EQ_INT((expr), code);                                                                \
        if (!CHECK_EQ_INT(tl_last_status(), code)) printf("    message: %s\n", tl_last_error());   \
        CHECK(strncmp(tl_last_error(), "tl_", 3) == 0);                                            \
        tl_clear_error();                                                                          \
    } while (0)

TEST(errors_leave_the_stream_untouched) {
    tl_scope s = tl_scope_begin();
    tl_tensor *f = tl_empty(TL_SHAPE(4), F32), *i = tl_empty(TL_SHAPE(4), I64);
    tl_tensor *ex = tl_expand(tl_empty(TL_SHAPE(1), F32), TL_SHAPE(4));
    const double nan = NAN;
    tl_manual_seed(5);
    /* factories */
    EXPECT_NULL(tl_rand(TL_SHAPE(2), I64), TL_ERR_DTYPE);
    EXPECT_NULL(tl_randn(TL_SHAPE(2), TL_BOOL), TL_ERR_DTYPE);
    EXPECT_NULL(tl_rand(TL_SHAPE(-1), F32), TL_ERR_SHAPE);
    EXPECT_NULL(tl_randn(TL_MAX_DIMS + 1, NULL, F32), TL_ERR_SHAPE);
    EXPECT_NULL(tl_rand(TL_SHAPE(2), (tl_dtype)99), TL_ERR_DTYPE);
    EXPECT_NULL(tl_randint(5, 5, TL_SHAPE(2), I64), TL_ERR_ARG);
    EXPECT_NULL(tl_randint(0, 300, TL_SHAPE(2), TL_U8), TL_ERR_ARG);
    EXPECT_NULL(tl_randint(-1, 3, TL_SHAPE(2), TL_U8), TL_ERR_ARG);
    EXPECT_NULL(tl_randint(0, 3, TL_SHAPE(2), TL_BOOL), TL_ERR_ARG);
    EXPECT_NULL(tl_randint(0, 70000, TL_SHAPE(2), TL_F16), TL_ERR_ARG);
    EXPECT_NULL(tl_randint(0, 3, TL_SHAPE(-2), I64), TL_ERR_SHAPE);
    EXPECT_NULL(tl_randperm(-1, I64), TL_ERR_ARG);
    EXPECT_NULL(tl_randperm(3, TL_BOOL), TL_ERR_DTYPE);
    EXPECT_NULL(tl_randperm(2050, TL_F16), TL_ERR_ARG);
    EXPECT_NULL(tl_randperm(129, TL_I8), TL_ERR_ARG);
    EXPECT_NULL(tl_randperm((INT64_C(1) << 24) + 2, TL_F32), TL_ERR_ARG);
    /* in-place */
    EXPECT_ST(tl_uniform_(f, 2, 1), TL_ERR_ARG);
    EXPECT_ST(tl_uniform_(f, nan, 1), TL_ERR_ARG);
    EXPECT_ST(tl_uniform_(f, -3e38, 3e38), TL_ERR_ARG);
    EXPECT_ST(tl_uniform_(i, 0, 1), TL_ERR_DTYPE);
    EXPECT_ST(tl_uniform_(ex, 0, 1), TL_ERR_ARG);
    EXPECT_ST(tl_normal_(f, 0, -1), TL_ERR_ARG);
    EXPECT_ST(tl_normal_(f, 0, nan), TL_ERR_ARG);
    EXPECT_ST(tl_normal_(i, 0, 1), TL_ERR_DTYPE);
    EXPECT_ST(tl_normal_(ex, 0, 1), TL_ERR_ARG);
    EXPECT_ST(tl_bernoulli_(f, 1.5), TL_ERR_ARG);
    EXPECT_ST(tl_bernoulli_(f, nan), TL_ERR_ARG);
    EXPECT_ST(tl_bernoulli_(ex, 0.5), TL_ERR_ARG);
    EXPECT_ST(tl_exponential_(f, -1), TL_ERR_ARG);
    EXPECT_ST(tl_exponential_(i, 1), TL_ERR_DTYPE);
    EXPECT_ST(tl_random_(ex), TL_ERR_ARG);
    EXPECT_ST(tl_bernoulli_tensor_(f, tl_full(TL_SHAPE(3), 0.5, F32)), TL_ERR_SHAPE);
    EXPECT_ST(tl_bernoulli_tensor_(f, tl_full(TL_SHAPE(2, 4), 0.5, F32)), TL_ERR_SHAPE);
    EXPECT_ST(tl_bernoulli_tensor_(f, tl_full(TL_SHAPE(4), 0.5, TL_F16)), TL_ERR_DTYPE);
    EXPECT_ST(tl_bernoulli_tensor_(f, tl_from_data((const float[]){0.5f, 1.5f}, TL_SHAPE(2, 1), F32)), TL_ERR_SHAPE);
    EXPECT_ST(tl_bernoulli_tensor_(f, tl_from_data((const float[]){0.5f, 0.f, 1.f, 1.5f}, TL_SHAPE(4), F32)),
              TL_ERR_ARG);
    EXPECT_NULL(tl_bernoulli(tl_from_data((const int64_t[]){0, 1}, TL_SHAPE(2), I64)), TL_ERR_DTYPE);
    EXPECT_NULL(tl_bernoulli(tl_from_data((const double[]){0.5, -0.1}, TL_SHAPE(2), F64)), TL_ERR_ARG);
    EXPECT_NULL(tl_bernoulli_p(f, 2.0), TL_ERR_ARG);
    /* multinomial */
    EXPECT_NULL(tl_multinomial(tl_ones(0, NULL, F32), 1, 0), TL_ERR_SHAPE);
    EXPECT_NULL(tl_multinomial(tl_ones(TL_SHAPE(2, 2, 2), F32), 1, 0), TL_ERR_SHAPE);
    EXPECT_NULL(tl_multinomial(tl_ones(TL_SHAPE(3), I64), 1, 0), TL_ERR_DTYPE);
    EXPECT_NULL(tl_multinomial(tl_ones(TL_SHAPE(3), TL_F16), 1, 0), TL_ERR_DTYPE);
    EXPECT_NULL(tl_multinomial(f, 0, 1), TL_ERR_ARG);
    EXPECT_NULL(tl_multinomial(tl_ones(TL_SHAPE(3), F32), 4, 0), TL_ERR_ARG);
    EXPECT_NULL(tl_multinomial(tl_zeros(TL_SHAPE(3), F32), 1, 0), TL_ERR_ARG);
    EXPECT_NULL(tl_multinomial(tl_zeros(TL_SHAPE(3), F32), 1, 1), TL_ERR_ARG);
    EXPECT_NULL(tl_multinomial(tl_from_data((const float[]){-1, 0, 2}, TL_SHAPE(3), F32), 1, 0), TL_ERR_ARG);
    EXPECT_NULL(tl_multinomial(tl_from_data((const float[]){-1, 0, 2}, TL_SHAPE(3), F32), 1, 1), TL_ERR_ARG);
    EXPECT_NULL(tl_multinomial(tl_from_data((const float[]){INFINITY, 0, 2}, TL_SHAPE(3), F32), 1, 1), TL_ERR_ARG);
    EXPECT_NULL(tl_multinomial(tl_from_data((const float[]){NAN, 0, 2}, TL_SHAPE(3), F32), 1, 0), TL_ERR_ARG);
    EXPECT_NULL(tl_multinomial(tl_from_data((const float[]){1, 1, 0, 0}, TL_SHAPE(2, 2), F32), 1, 1), TL_ERR_ARG);
    /* state */
    EXPECT_ST(tl_set_rng_state(f), TL_ERR_DTYPE);
    EXPECT_ST(tl_set_rng_state(tl_zeros(TL_SHAPE(100), TL_U8)), TL_ERR_ARG);
    EXPECT_ST(tl_set_rng_state(tl_zeros(TL_SHAPE(5056), TL_U8)), TL_ERR_ARG); /* seeded = 0 */
    /* none of that drew anything: the stream continues where manual_seed(5) put it */
    CHECK_EQ_INT(tl_generator_next_u32(NULL), 0x38d48b63u);
    /* an empty multinomial input is fine: torch returns an empty [0, k] */
    {
        tl_tensor *r = tl_multinomial(tl_ones(TL_SHAPE(0, 3), F32), 2, 0);
        CHECK(r && tl_ndim(r) == 2 && tl_shape(r)[0] == 0 && tl_shape(r)[1] == 2);
    }
    tl_scope_end(s);
}

TEST(null_inputs) {
    EXPECT_ST(tl_uniform_(NULL, 0, 1), TL_ERR_ARG);
    EXPECT_ST(tl_normal_(NULL, 0, 1), TL_ERR_ARG);
    EXPECT_ST(tl_bernoulli_(NULL, 0.5), TL_ERR_ARG);
    EXPECT_ST(tl_bernoulli_tensor_(NULL, NULL), TL_ERR_ARG);
    EXPECT_ST(tl_exponential_(NULL, 1), TL_ERR_ARG);
    EXPECT_ST(tl_random_(NULL), TL_ERR_ARG);
    EXPECT_ST(tl_set_rng_state(NULL), TL_ERR_ARG);
    EXPECT_NULL(tl_bernoulli(NULL), TL_ERR_ARG);
    EXPECT_NULL(tl_bernoulli_p(NULL, 0.5), TL_ERR_ARG);
    EXPECT_NULL(tl_multinomial(NULL, 1, 0), TL_ERR_ARG);
    /* with an error pending, NULL in gives NULL out and the first message stays */
    tl_clear_error();
    CHECK(tl_rand(TL_SHAPE(2), I64) == NULL);
    CHECK(tl_bernoulli(NULL) == NULL);
    CHECK(tl_normal_(NULL, 0, 1) != TL_OK);
    CHECK_EQ_INT(tl_last_status(), TL_ERR_DTYPE);
    CHECK(strstr(tl_last_error(), "tl_rand") != NULL);
    tl_clear_error();
}

/* ---------------------------------------------------------------- out of memory */

static long g_budget, g_denied;
static void *budget_alloc(size_t n, void *u) {
    (void)u;
    if (g_budget-- <= 0) {
        g_denied++;
        return NULL;
    }
    return malloc(n);
}
static void budget_free(void *p, void *u) {
    (void)u;
    free(p);
}
TEST(out_of_memory_is_reported_without_leaks) {
    tl_desc d, zero;
    long n;
    int done = 0;
    memset(&zero, 0, sizeof zero);
    memset(&d, 0, sizeof d);
    d.allocator.alloc_fn = budget_alloc;
    d.allocator.free_fn = budget_free;
    for (n = 0; n < 40 && !done; n++) {
        tl_scope s;
        tl_generator *g;
        tl_tensor *a, *b, *c, *st;
        g_budget = n;
        g_denied = 0;
        tl_shutdown();
        REQUIRE(tl_setup(&d) == TL_OK);
        s = tl_scope_begin();
        g = tl_generator_new(1);
        a = tl_randperm_gen(50, TL_I32, g); /* needs an int64 scratch permutation too */
        b = tl_multinomial(tl_ones(TL_SHAPE(2, 5), F32), 3, 0);
        c = tl_bernoulli(tl_full(TL_SHAPE(4), 0.5, F64));
        st = tl_get_rng_state();
        if (g && a && b && c && st) {
            CHECK_EQ_INT(tl_last_status(), TL_OK);
            done = g_denied == 0;
        } else {
            CHECK_EQ_INT(tl_last_status(), TL_ERR_OOM);
        }
        tl_generator_free(g);
        tl_clear_error();
        tl_scope_end(s);
        tl_shutdown();
        REQUIRE(tl_setup(&zero) == TL_OK);
    }
    CHECK(done);
}

static const th_case tests[] = {
    TH_CASE(engine_words_match_torch),
    TH_CASE(default_generator_is_seeded_lazily_like_torch_Generator),
    TH_CASE(seed_is_nondeterministic_and_reported),
    TH_CASE(uniform_vectors),
    TH_CASE(normal_vectors_both_paths),
    TH_CASE(scalar_normal_cache_carries_over_and_reseeding_clears_it),
    TH_CASE(integer_vectors),
    TH_CASE(bernoulli_and_multinomial_vectors),
    TH_CASE(exponential_is_minus_log1m_u),
    TH_CASE(linear_and_conv_construction_match_torch),
    TH_CASE(dataloader_and_random_split_orders),
    TH_CASE(explicit_generators_are_independent),
    TH_CASE(rng_state_blob_round_trip),
    TH_CASE(views_fill_in_memory_order),
    TH_CASE(autograd_rules),
    TH_CASE(errors_leave_the_stream_untouched),
    TH_CASE(null_inputs),
    TH_CASE(out_of_memory_is_reported_without_leaks),
};

int main(void) { return TH_RUN(tests); }
