/* tests/torch/optim_runner.c - the C side of tests/torch/test_optim.py (>>optim vs PyTorch).

     optim_runner DIR [FIRST]   runs every case named in DIR/cases.txt (one name a line)

   FIRST (default 0) skips the first lines, so the Python side can restart after a crash. Before
   each case the runner prints "CASE <name>" (flushed); a case that fails writes DIR/<case>.err
   with tl_last_error() instead of its output.

   DIR/<case>.in.pt (written by torch.save) = {
     "opt": "sgd" | "adam" | "adamw" | "rmsprop" | "adagrad",
     "groups": [{"params": [initial tensors], <torch hyperparameter keys>...}, ...]  (group 0 is the
               constructor's, the others go through tl_optim_add_param_group),
     "grads": [one tensor [nsteps_total, *shape] per parameter, in group order],
     "none": [[step, param index], ...]   (.grad is None for that parameter at that step),
     "steps": int, "grad_offset": int     (step t uses grads[p][grad_offset + t]),
     "sched": None | {"kind": "step"|"multistep"|"exp"|"cosine"|"linear"|"lambda"|"onecycle"|
                      "plateau", <its arguments>},
     "metrics": [float per step] (plateau), "save_at": int (-1: none),
     "clip_norm": None | [max_norm, norm_type] (tl_clip_grad_norm_ before each step; the returned
                  norms go to "norms" in the output), "clip_value": None | v (tl_clip_grad_value_),
     "resume": None | {"params": [tensors], "optim": optimizer.state_dict(), "sched": sd or None}}
   Per step: zero_grad, set the grads, optimizer step, scheduler step (after the optimizer, as
   torch recommends), record every group's lr. After save_at steps it writes DIR/<case>.ckpt.pt =
   {"params": [...], "optim": tl_optim_state_dict, "sched": tl_scheduler_state_dict or None} (a
   checkpoint dict, with tl_save). At the end DIR/<case>.out.pt = {"params": [...], "lrs":
   [[lr per group] per step], "optim": state_dict}.
   Build: gcc -std=c99 -I. tests/torch/optim_runner.c -lm (from the repo root). */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXP 64

static double lambda_fn(int64_t epoch, void *user) {
    (void)user;
    return pow(0.95, (double)epoch); /* the Python side uses lambda e: 0.95 ** e */
}

static const tl_value *g0; /* group 0's dict: torch's optimizer.defaults for the later groups */
static double num(const tl_value *d, const char *key, double dflt) {
    const tl_value *v = tl_value_get(d, key);
    if (!v && g0 && d != g0) v = tl_value_get(g0, key);
    return v && tl_value_kind_of(v) != TL_VALUE_NONE ? tl_value_as_float(v) : dflt;
}

/* The desc of the optimizer kind from a torch group dict (defaults for missing keys). */
static void *desc_of(const char *opt, const tl_value *g, void *storage) {
    const tl_value *betas = tl_value_get(g, "betas");
    if (!betas && g0) betas = tl_value_get(g0, "betas");
    if (!strcmp(opt, "sgd")) {
        tl_sgd_desc *d = (tl_sgd_desc *)storage;
        *d = tl_sgd_desc_default();
        d->lr = num(g, "lr", d->lr), d->momentum = num(g, "momentum", 0), d->dampening = num(g, "dampening", 0);
        d->weight_decay = num(g, "weight_decay", 0), d->nesterov = (int)num(g, "nesterov", 0);
        d->maximize = (int)num(g, "maximize", 0);
    } else if (!strcmp(opt, "adam") || !strcmp(opt, "adamw")) {
        tl_adam_desc *d = (tl_adam_desc *)storage;
        *d = !strcmp(opt, "adam") ? tl_adam_desc_default() : tl_adamw_desc_default();
        d->lr = num(g, "lr", d->lr), d->eps = num(g, "eps", d->eps);
        d->weight_decay = num(g, "weight_decay", d->weight_decay), d->amsgrad = (int)num(g, "amsgrad", 0);
        d->maximize = (int)num(g, "maximize", 0);
        if (betas) {
            d->beta1 = tl_value_as_float(tl_value_item(betas, 0));
            d->beta2 = tl_value_as_float(tl_value_item(betas, 1));
        }
    } else if (!strcmp(opt, "rmsprop")) {
        tl_rmsprop_desc *d = (tl_rmsprop_desc *)storage;
        *d = tl_rmsprop_desc_default();
        d->lr = num(g, "lr", d->lr), d->alpha = num(g, "alpha", d->alpha), d->eps = num(g, "eps", d->eps);
        d->weight_decay = num(g, "weight_decay", 0), d->momentum = num(g, "momentum", 0);
        d->centered = (int)num(g, "centered", 0), d->maximize = (int)num(g, "maximize", 0);
    } else {
        tl_adagrad_desc *d = (tl_adagrad_desc *)storage;
        *d = tl_adagrad_desc_default();
        d->lr = num(g, "lr", d->lr), d->lr_decay = num(g, "lr_decay", 0), d->weight_decay = num(g, "weight_decay", 0);
        d->initial_accumulator_value = num(g, "initial_accumulator_value", 0), d->eps = num(g, "eps", d->eps);
        d->maximize = (int)num(g, "maximize", 0);
    }
    return storage;
}

static tl_scheduler *make_sched(tl_optim *o, const tl_value *s) {
    const char *kind = tl_value_as_string(tl_value_get(s, "kind"), NULL);
    if (!strcmp(kind, "step")) return tl_step_lr(o, (int64_t)num(s, "step_size", 1), num(s, "gamma", 0.1));
    if (!strcmp(kind, "multistep")) {
        const tl_value *m = tl_value_get(s, "milestones");
        int64_t ms[32];
        int i, n = (int)tl_value_len(m);
        for (i = 0; i < n && i < 32; i++) ms[i] = tl_value_as_int(tl_value_item(m, (size_t)i));
        return tl_multistep_lr(o, ms, n, num(s, "gamma", 0.1));
    }
    if (!strcmp(kind, "exp")) return tl_exponential_lr(o, num(s, "gamma", 0.9));
    if (!strcmp(kind, "cosine")) return tl_cosine_annealing_lr(o, (int64_t)num(s, "T_max", 10), num(s, "eta_min", 0));
    if (!strcmp(kind, "linear"))
        return tl_linear_lr(o, num(s, "start_factor", 1.0 / 3), num(s, "end_factor", 1.0),
                            (int64_t)num(s, "total_iters", 5));
    if (!strcmp(kind, "lambda")) return tl_lambda_lr(o, lambda_fn, NULL);
    if (!strcmp(kind, "onecycle")) {
        tl_onecycle_desc d = tl_onecycle_desc_default();
        const tl_value *a = tl_value_get(s, "anneal_strategy");
        d.pct_start = num(s, "pct_start", d.pct_start);
        d.anneal_linear = a && !strcmp(tl_value_as_string(a, NULL), "linear");
        d.cycle_momentum = (int)num(s, "cycle_momentum", 1);
        d.base_momentum = num(s, "base_momentum", d.base_momentum);
        d.max_momentum = num(s, "max_momentum", d.max_momentum);
        d.div_factor = num(s, "div_factor", d.div_factor);
        d.final_div_factor = num(s, "final_div_factor", d.final_div_factor);
        d.three_phase = (int)num(s, "three_phase", 0);
        return tl_onecycle_lr(o, num(s, "max_lr", 0.1), (int64_t)num(s, "total_steps", 100), &d);
    }
    if (!strcmp(kind, "plateau")) {
        tl_plateau_desc d = tl_plateau_desc_default();
        const tl_value *m = tl_value_get(s, "mode"), *tm = tl_value_get(s, "threshold_mode");
        d.mode_max = m && !strcmp(tl_value_as_string(m, NULL), "max");
        d.threshold_abs = tm && !strcmp(tl_value_as_string(tm, NULL), "abs");
        d.factor = num(s, "factor", d.factor);
        d.patience = (int64_t)num(s, "patience", 10);
        d.threshold = num(s, "threshold", d.threshold);
        d.cooldown = (int64_t)num(s, "cooldown", 0);
        d.min_lr = num(s, "min_lr", 0);
        d.eps = num(s, "eps", d.eps);
        return tl_reduce_lr_on_plateau(o, &d);
    }
    fprintf(stderr, "unknown scheduler %s\n", kind);
    return NULL;
}

static tl_value *params_value(tl_tensor **ps, int n) {
    tl_value *l = tl_value_list();
    int i;
    for (i = 0; i < n; i++) tl_value_append(l, tl_value_tensor(ps[i]));
    return l;
}

static int run_case(const char *dir, const char *name) {
    char path[1024];
    tl_value *in, *out = NULL, *lrs = NULL;
    const tl_value *groups, *grads, *none, *sched, *resume, *metrics, *clip_norm, *clip_value;
    tl_value *norms = tl_value_list();
    const char *opt;
    tl_tensor *ps[MAXP];
    tl_optim *o = NULL;
    tl_scheduler *s = NULL;
    int np = 0, gi, i, t, steps, goff, save_at, ok = 0;
    union {
        tl_sgd_desc a;
        tl_adam_desc b;
        tl_rmsprop_desc c;
        tl_adagrad_desc d;
    } desc;

    snprintf(path, sizeof path, "%s/%s.in.pt", dir, name);
    in = tl_load(path);
    if (!in) return 0;
    opt = tl_value_as_string(tl_value_get(in, "opt"), NULL);
    groups = tl_value_get(in, "groups");
    g0 = tl_value_item(groups, 0);
    grads = tl_value_get(in, "grads");
    none = tl_value_get(in, "none");
    sched = tl_value_get(in, "sched");
    resume = tl_value_get(in, "resume");
    metrics = tl_value_get(in, "metrics");
    clip_norm = tl_value_get(in, "clip_norm");
    clip_value = tl_value_get(in, "clip_value");
    steps = (int)tl_value_as_int(tl_value_get(in, "steps"));
    goff = (int)tl_value_as_int(tl_value_get(in, "grad_offset"));
    save_at = (int)tl_value_as_int(tl_value_get(in, "save_at"));

    for (gi = 0; gi < (int)tl_value_len(groups); gi++) {
        const tl_value *g = tl_value_item(groups, (size_t)gi), *pl = tl_value_get(g, "params");
        tl_tensor *mine[MAXP];
        int n0 = np;
        tl_status st;
        for (i = 0; i < (int)tl_value_len(pl); i++) {
            tl_tensor *src = tl_value_tensor_of(tl_value_item(pl, (size_t)i));
            ps[np] = tl_clone(src);
            tl_release(src);
            tl_requires_grad_(ps[np], 1);
            mine[np - n0] = ps[np];
            np++;
        }
        desc_of(opt, g, &desc);
        if (gi == 0) {
            tl_param_list *l = tl_param_list_new(np - n0, mine);
            if (!strcmp(opt, "sgd")) o = tl_optim_sgd(l, &desc.a);
            else if (!strcmp(opt, "adam")) o = tl_optim_adam(l, &desc.b);
            else if (!strcmp(opt, "adamw")) o = tl_optim_adamw(l, &desc.b);
            else if (!strcmp(opt, "rmsprop")) o = tl_optim_rmsprop(l, &desc.c);
            else o = tl_optim_adagrad(l, &desc.d);
            if (!o) goto done;
        } else {
            st = tl_optim_add_param_group(o, tl_param_list_new(np - n0, mine), &desc);
            if (st != TL_OK) goto done;
        }
    }
    if (sched && tl_value_kind_of(sched) != TL_VALUE_NONE && !(s = make_sched(o, sched))) goto done;
    if (resume && tl_value_kind_of(resume) != TL_VALUE_NONE) {
        const tl_value *rp = tl_value_get(resume, "params"), *rs = tl_value_get(resume, "sched");
        for (i = 0; i < np; i++) {
            tl_tensor *src = tl_value_tensor_of(tl_value_item(rp, (size_t)i));
            tl_no_grad_begin();
            tl_copy_(ps[i], src);
            tl_no_grad_end();
            tl_release(src);
        }
        if (tl_optim_load_state_dict(o, tl_value_get(resume, "optim")) != TL_OK) goto done;
        if (s && rs && tl_value_kind_of(rs) != TL_VALUE_NONE && tl_scheduler_load_state_dict(s, rs) != TL_OK) goto done;
    }
    lrs = tl_value_list();
    for (t = 0; t < steps; t++) {
        tl_value *row = tl_value_list();
        tl_optim_zero_grad(o);
        for (i = 0; i < np; i++) {
            size_t k;
            int skip = 0;
            for (k = 0; none && k < tl_value_len(none); k++) {
                const tl_value *e = tl_value_item(none, k);
                if (tl_value_as_int(tl_value_item(e, 0)) == goff + t && tl_value_as_int(tl_value_item(e, 1)) == i)
                    skip = 1;
            }
            if (!skip) {
                tl_tensor *all = tl_value_tensor_of(tl_value_item(grads, (size_t)i));
                tl_tensor *g = tl_select(all, 0, goff + t);
                tl_set_grad(ps[i], g);
                tl_release(g);
                tl_release(all);
            }
        }
        if (clip_norm && tl_value_kind_of(clip_norm) == TL_VALUE_LIST) {
            tl_param_list *l = tl_param_list_new(np, ps);
            double nrm = tl_clip_grad_norm_(l, tl_value_as_float(tl_value_item(clip_norm, 0)),
                                            tl_value_as_float(tl_value_item(clip_norm, 1)));
            tl_param_list_free(l);
            if (nrm != nrm && tl_last_status() != TL_OK) goto done;
            tl_value_append(norms, tl_value_float(nrm));
        }
        if (clip_value && tl_value_kind_of(clip_value) != TL_VALUE_NONE) {
            tl_param_list *l = tl_param_list_new(np, ps);
            tl_status cst = tl_clip_grad_value_(l, tl_value_as_float(clip_value));
            tl_param_list_free(l);
            if (cst != TL_OK) goto done;
        }
        if (tl_optim_step(o) != TL_OK) goto done;
        if (s) {
            if (metrics && tl_value_kind_of(metrics) == TL_VALUE_LIST) {
                if (tl_scheduler_step_metric(s, tl_value_as_float(tl_value_item(metrics, (size_t)(goff + t)))) != TL_OK)
                    goto done;
            } else if (tl_scheduler_step(s) != TL_OK)
                goto done;
        }
        for (gi = 0; gi < tl_optim_num_groups(o); gi++) tl_value_append(row, tl_value_float(tl_optim_get_lr(o, gi)));
        tl_value_append(lrs, row);
        if (t + 1 == save_at) {
            tl_value *ck = tl_value_dict();
            tl_value_set(ck, "params", params_value(ps, np));
            tl_value_set(ck, "optim", tl_optim_state_dict(o));
            tl_value_set(ck, "sched", s ? tl_scheduler_state_dict(s) : tl_value_none());
            snprintf(path, sizeof path, "%s/%s.ckpt.pt", dir, name);
            if (tl_save(ck, path) != TL_OK) {
                tl_value_free(ck);
                goto done;
            }
            tl_value_free(ck);
        }
    }
    out = tl_value_dict();
    tl_value_set(out, "params", params_value(ps, np));
    tl_value_set(out, "lrs", lrs);
    tl_value_set(out, "norms", norms);
    norms = NULL;
    lrs = NULL;
    tl_value_set(out, "optim", tl_optim_state_dict(o));
    if (s) tl_value_set(out, "sched", tl_scheduler_state_dict(s));
    snprintf(path, sizeof path, "%s/%s.out.pt", dir, name);
    ok = tl_last_status() == TL_OK && tl_save(out, path) == TL_OK;
done:
    tl_value_free(out);
    tl_value_free(lrs);
    tl_value_free(norms);
    tl_scheduler_free(s);
    tl_optim_free(o);
    for (i = 0; i < np; i++) tl_release(ps[i]);
    tl_value_free(in);
    return ok;
}

int main(int argc, char **argv) {
    char path[1024], line[512];
    FILE *f;
    int first = argc > 2 ? atoi(argv[2]) : 0, k = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: optim_runner DIR [FIRST]\n");
        return 2;
    }
    snprintf(path, sizeof path, "%s/cases.txt", argv[1]);
    f = fopen(path, "r");
    if (!f) {
        perror(path);
        return 2;
    }
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || k++ < first) continue;
        printf("CASE %s\n", line);
        fflush(stdout);
        tl_clear_error();
        if (!run_case(argv[1], line)) {
            FILE *e;
            snprintf(path, sizeof path, "%s/%s.err", argv[1], line);
            e = fopen(path, "w");
            if (e) {
                fprintf(e, "%s\n", tl_last_error()[0] ? tl_last_error() : "failed without an error message");
                fclose(e);
            }
        }
    }
    fclose(f);
    return 0;
}
