/* random_runner.c - runs >>random commands for tests/torch/test_random.py (the PyTorch oracle).

   usage: random_runner < COMMANDS > RESULTS

   One command per input line, one result line per command, in order (the generator state flows
   from command to command exactly as torch's does in the Python script):

     seed S                      tl_manual_seed(S)                              -> "ok"
     gen ID S                    generator ID (0..7) := tl_generator_new(S)      -> "ok"
     u32 N | u64 N               raw engine words                               -> "ok u32|u64 HEX"
     state                       tl_get_rng_state()                             -> tensor
     setstate HEX                tl_set_rng_state(uint8 tensor of the bytes)    -> "ok"
     initial_seed                tl_initial_seed()                              -> "ok u64 HEX"
     rand DT SHAPE | randn DT SHAPE
     randint LOW HIGH DT SHAPE   randperm N DT
     uniform DT LAYOUT SHAPE FROM TO       normal DT LAYOUT SHAPE MEAN STD
     bernoulli_ DT LAYOUT SHAPE P          exponential DT LAYOUT SHAPE LAMBDA
     random DT LAYOUT SHAPE
     bernoulli_t DT LAYOUT SHAPE PDT PSHAPE PHEX   (t.bernoulli_(p), p broadcasts)
     bernoulli PDT SHAPE PHEX                      (torch.bernoulli(p))
     bernoulli_p DT SHAPE P                        (torch.bernoulli(t, p))
     multinomial PDT LAYOUT SHAPE K REPL PHEX
     linear IN OUT BIAS          nn.Linear(IN, OUT) construction (kaiming_uniform_ + bias)
     conv OUT INPG KH KW BIAS    nn.Conv2d weight [OUT, INPG, KH, KW] construction

   Any command may end with "@ID" to use generator ID instead of the thread's default one.
   DT is a tl_dtype number; SHAPE is "-" (0-dim) or sizes joined by ","; LAYOUT is c (contiguous),
   t (the transpose of a contiguous tensor of the reversed shape: non-contiguous, filled in memory
   order) or s (every other row of a tensor twice as long in dim 0). Doubles are printed by
   Python's repr and parsed with strtod (exact round trip).

   Every command runs inside its own tl_scope, which releases everything it created.
   A tensor result is "ok DT SHAPE HEX": its values in logical C order, raw little-endian bytes.
   A failure is "err STATUS message". linear/conv print two lines (weight, then bias or "ok -").
   After its result lines every command prints "end", or "leak DT DS" when the live tensor or
   storage counts changed. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#define RUNNER_IO_TEXT_ONLY /* parse_shape only */
#include "runner_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXTOK 16
static tl_generator *gens[8];

static int hexval(int c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }
/* A contiguous tensor of dtype dt and shape from hex bytes. */
static tl_tensor *from_hex(const char *hex, tl_dtype dt, int nd, const int64_t *shape) {
    size_t n = strlen(hex) / 2, i;
    unsigned char *b = (unsigned char *)malloc(n ? n : 1);
    tl_tensor *t;
    if (!b) return NULL;
    for (i = 0; i < n; i++) b[i] = (unsigned char)(hexval(hex[2 * i]) * 16 + hexval(hex[2 * i + 1]));
    if (n != (size_t)tl__prod(nd, shape) * tl_dtype_size(dt)) {
        free(b);
        return NULL;
    }
    t = tl_from_data(b, nd, shape, dt);
    free(b);
    return t;
}
/* An uninitialised tensor of the given logical shape and layout (see LAYOUT above). */
static tl_tensor *make_layout(char layout, tl_dtype dt, int nd, const int64_t *shape) {
    int64_t s2[TL_MAX_DIMS];
    int i;
    tl_tensor *base;
    if (layout == 'c' || nd == 0) return tl_empty(nd, shape, dt);
    if (layout == 't') {
        int perm[TL_MAX_DIMS];
        for (i = 0; i < nd; i++) {
            s2[i] = shape[nd - 1 - i];
            perm[i] = nd - 1 - i;
        }
        base = tl_empty(nd, s2, dt); /* owned by the command's scope, like everything here */
        return tl_permute(base, nd, perm);
    }
    for (i = 0; i < nd; i++) s2[i] = shape[i];
    s2[0] *= 2;
    base = tl_empty(nd, s2, dt);
    return tl_slice(base, 0, 0, TL_END, 2);
}

static void put_hex(const unsigned char *b, size_t n) {
    static const char dig[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        putchar(dig[b[i] >> 4]);
        putchar(dig[b[i] & 15]);
    }
}
/* Prints t's values in logical C order, read through shape/stride (not the library's copy). */
static void print_tensor(const tl_tensor *t) {
    int nd = tl_ndim(t), d;
    int64_t idx[TL_MAX_DIMS], n = tl_numel(t), k;
    size_t esz = tl_dtype_size(tl_dtype_of(t));
    const unsigned char *base = (const unsigned char *)tl_data_ptr(t);
    printf("ok %d ", (int)tl_dtype_of(t));
    if (nd == 0) printf("-");
    for (d = 0; d < nd; d++) printf(d ? ",%lld" : "%lld", (long long)tl_shape(t)[d]);
    printf(" ");
    memset(idx, 0, sizeof idx);
    for (k = 0; k < n; k++) {
        int64_t off = 0;
        for (d = 0; d < nd; d++) off += idx[d] * tl_stride(t)[d];
        put_hex(base + off * (int64_t)esz, esz);
        for (d = nd - 1; d >= 0; d--) {
            if (++idx[d] < tl_shape(t)[d]) break;
            idx[d] = 0;
        }
    }
    if (n == 0) printf("-");
    printf("\n");
}
static void print_err(void) {
    printf("err %d %s\n", (int)tl_last_status(), tl_last_error());
    tl_clear_error();
}
static void print_status(tl_status st, tl_tensor *t) {
    if (st == TL_OK) print_tensor(t);
    else print_err();
}

/* nn.init.kaiming_uniform_(w, a) with mode fan_in, leaky_relu gain; fan_in = size(1) * prod(size(2:)).
   The bound is computed in double exactly as Python does it (no fused operations). */
static volatile double vol; /* forces rounding of a*a so that no compiler fuses 1 + a*a */
static tl_status kaiming_uniform(tl_tensor *w, double a, tl_generator *g) {
    int64_t fan_in = 1;
    int d;
    double gain, std, bound;
    for (d = 1; d < tl_ndim(w); d++) fan_in *= tl_shape(w)[d];
    vol = a * a;
    gain = sqrt(2.0 / (1.0 + vol));
    std = gain / sqrt((double)fan_in);
    bound = sqrt(3.0) * std;
    return tl_uniform_gen_(w, -bound, bound, g);
}
/* What nn.Linear / nn.Conv2d do at construction (reset_parameters). */
static tl_status init_layer(tl_tensor *w, tl_tensor *b, tl_generator *g) {
    int64_t fan_in = 1;
    int d;
    double bound;
    tl_status st = kaiming_uniform(w, sqrt(5.0), g);
    if (st != TL_OK || !b) return st;
    for (d = 1; d < tl_ndim(w); d++) fan_in *= tl_shape(w)[d];
    bound = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0;
    return tl_uniform_gen_(b, -bound, bound, g);
}

int main(void) {
    static char line[1 << 24];
    int i;
    while (fgets(line, sizeof line, stdin)) {
        char *tok[MAXTOK], *p = line;
        int nt = 0;
        tl_generator *g = NULL;
        long t0 = tl_debug_live_tensors(), s0 = tl_debug_live_storages();
        tl_scope sc = tl_scope_begin();
        while (nt < MAXTOK) {
            while (*p == ' ' || *p == '\n' || *p == '\r') *p++ = 0;
            if (!*p) break;
            tok[nt++] = p;
            while (*p && *p != ' ' && *p != '\n' && *p != '\r') p++;
        }
        if (nt == 0) continue;
        if (tok[nt - 1][0] == '@') {
            g = gens[atoi(tok[nt - 1] + 1) & 7];
            nt--;
        }
#define ARGD(k) strtod(tok[k], NULL)
#define ARGI(k) strtoll(tok[k], NULL, 10)
#define ARGU(k) strtoull(tok[k], NULL, 10)
        if (strcmp(tok[0], "seed") == 0) {
            tl_manual_seed((uint64_t)ARGU(1));
            printf("ok\n");
        } else if (strcmp(tok[0], "gen") == 0) {
            int id = (int)ARGI(1) & 7;
            tl_generator_free(gens[id]);
            gens[id] = tl_generator_new((uint64_t)ARGU(2));
            printf(gens[id] ? "ok\n" : "err -4 oom\n");
        } else if (strcmp(tok[0], "u32") == 0 || strcmp(tok[0], "u64") == 0) {
            long n = (long)ARGI(1), k;
            int wide = tok[0][1] == '6';
            printf("ok %s ", tok[0]);
            for (k = 0; k < n; k++) {
                if (wide) printf("%016llx", (unsigned long long)tl_generator_next_u64(g));
                else printf("%08lx", (unsigned long)tl_generator_next_u32(g));
            }
            printf("\n");
        } else if (strcmp(tok[0], "initial_seed") == 0) {
            printf("ok u64 %016llx\n", (unsigned long long)tl_generator_initial_seed(g));
        } else if (strcmp(tok[0], "state") == 0) {
            tl_tensor *t = tl_generator_get_state(g);
            if (t) print_tensor(t);
            else print_err();
        } else if (strcmp(tok[0], "setstate") == 0) {
            int64_t n = (int64_t)(strlen(tok[1]) / 2);
            tl_tensor *t = from_hex(tok[1], TL_U8, 1, &n);
            if (t && tl_generator_set_state(g, t) == TL_OK) printf("ok\n");
            else print_err();
        } else if (strcmp(tok[0], "rand") == 0 || strcmp(tok[0], "randn") == 0) {
            int64_t shape[TL_MAX_DIMS];
            int nd = parse_shape(tok[2], shape);
            tl_tensor *t = tok[0][4] == 'n' ? tl_randn_gen(nd, shape, (tl_dtype)ARGI(1), g)
                                            : tl_rand_gen(nd, shape, (tl_dtype)ARGI(1), g);
            if (t) print_tensor(t);
            else print_err();
        } else if (strcmp(tok[0], "randint") == 0) {
            int64_t shape[TL_MAX_DIMS];
            int nd = parse_shape(tok[4], shape);
            tl_tensor *t = tl_randint_gen(ARGI(1), ARGI(2), nd, shape, (tl_dtype)ARGI(3), g);
            if (t) print_tensor(t);
            else print_err();
        } else if (strcmp(tok[0], "randperm") == 0) {
            tl_tensor *t = tl_randperm_gen(ARGI(1), (tl_dtype)ARGI(2), g);
            if (t) print_tensor(t);
            else print_err();
        } else if (strcmp(tok[0], "uniform") == 0 || strcmp(tok[0], "normal") == 0 ||
                   strcmp(tok[0], "bernoulli_") == 0 || strcmp(tok[0], "exponential") == 0 ||
                   strcmp(tok[0], "random") == 0 || strcmp(tok[0], "bernoulli_t") == 0) {
            int64_t shape[TL_MAX_DIMS];
            int nd = parse_shape(tok[3], shape);
            tl_tensor *t = make_layout(tok[2][0], (tl_dtype)ARGI(1), nd, shape);
            tl_status st = TL_ERR_ARG;
            if (!t) {
                print_err();
            } else {
                if (tok[0][0] == 'u') st = tl_uniform_gen_(t, ARGD(4), ARGD(5), g);
                else if (tok[0][0] == 'n') st = tl_normal_gen_(t, ARGD(4), ARGD(5), g);
                else if (tok[0][0] == 'e') st = tl_exponential_gen_(t, ARGD(4), g);
                else if (tok[0][0] == 'r') st = tl_random_gen_(t, g);
                else if (strcmp(tok[0], "bernoulli_") == 0) st = tl_bernoulli_gen_(t, ARGD(4), g);
                else {
                    int64_t pshape[TL_MAX_DIMS];
                    int pnd = parse_shape(tok[5], pshape);
                    tl_tensor *pt = from_hex(tok[6], (tl_dtype)ARGI(4), pnd, pshape);
                    st = pt ? tl_bernoulli_tensor_gen_(t, pt, g) : TL_ERR_ARG;
                }
                print_status(st, t);
            }
        } else if (strcmp(tok[0], "bernoulli") == 0) {
            int64_t shape[TL_MAX_DIMS];
            int nd = parse_shape(tok[2], shape);
            tl_tensor *pt = from_hex(tok[3], (tl_dtype)ARGI(1), nd, shape);
            tl_tensor *t = pt ? tl_bernoulli_gen(pt, g) : NULL;
            if (t) print_tensor(t);
            else print_err();
        } else if (strcmp(tok[0], "bernoulli_p") == 0) {
            int64_t shape[TL_MAX_DIMS];
            int nd = parse_shape(tok[2], shape);
            tl_tensor *x = tl_zeros(nd, shape, (tl_dtype)ARGI(1));
            tl_tensor *t = x ? tl_bernoulli_p_gen(x, ARGD(3), g) : NULL;
            if (t) print_tensor(t);
            else print_err();
        } else if (strcmp(tok[0], "multinomial") == 0) {
            int64_t shape[TL_MAX_DIMS];
            int nd = parse_shape(tok[3], shape);
            tl_tensor *pc = from_hex(tok[6], (tl_dtype)ARGI(1), nd, shape), *pt = NULL, *t = NULL;
            if (pc && tok[2][0] == 't') { /* same values, transposed memory layout */
                tl_tensor *tmp = tl_contiguous(tl_t(pc));
                pt = tl_t(tmp);
            } else {
                pt = pc;
            }
            t = pt ? tl_multinomial_gen(pt, ARGI(4), (int)ARGI(5), g) : NULL;
            if (t) print_tensor(t);
            else print_err();
        } else if (strcmp(tok[0], "linear") == 0 || strcmp(tok[0], "conv") == 0) {
            int64_t ws[4], bs;
            int nd = tok[0][0] == 'l' ? 2 : 4, has_bias = (int)ARGI(tok[0][0] == 'l' ? 3 : 5);
            tl_tensor *w, *b = NULL;
            if (nd == 2) {
                ws[0] = ARGI(2);
                ws[1] = ARGI(1);
            } else {
                for (i = 0; i < 4; i++) ws[i] = ARGI(1 + i);
            }
            bs = ws[0];
            w = tl_empty(nd, ws, TL_F32);
            if (has_bias) b = tl_empty(1, &bs, TL_F32);
            if (w && (b || !has_bias) && init_layer(w, b, g) == TL_OK) {
                print_tensor(w);
                if (b) print_tensor(b);
                else printf("ok -\n");
            } else {
                print_err();
            }
        } else {
            printf("err -100 unknown command %s\n", tok[0]);
        }
        tl_scope_end(sc);
        if (tl_debug_live_tensors() != t0 || tl_debug_live_storages() != s0)
            printf("leak %ld %ld\n", tl_debug_live_tensors() - t0, tl_debug_live_storages() - s0);
        else
            printf("end\n");
        fflush(stdout);
    }
    for (i = 0; i < 8; i++) tl_generator_free(gens[i]);
    return 0;
}
