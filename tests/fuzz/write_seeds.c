/* tests/fuzz/write_seeds.c - writes checkpoints made by tensorlite into the directory argv[1], as
   fuzzing seeds beside the torch-written ones (tests/fuzz/seeds/): views sharing a storage, every
   dtype, a module state_dict with _metadata, a nested checkpoint with ints, floats, strings, None,
   bools, lists, tuples and int-keyed dicts, a 0-dim and an empty tensor, an expanded view. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"

static int save(const char *dir, const char *name, tl_value *v) {
    char path[1024];
    int st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    st = v ? tl_save(v, path) : TL_ERR_ARG;
    tl_value_free(v);
    if (st) fprintf(stderr, "write_seeds: %s: %s\n", path, tl_last_error());
    return st != 0;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    int bad = 0, k;
    tl_scope s = tl_scope_begin();
    tl_tensor *base = tl_view(tl_arange(0, 12, 1, TL_F32), TL_SHAPE(3, 4));
    tl_value *d, *l, *opt, *st, *grp;
    tl_module *net;
    /* views */
    d = tl_value_dict();
    tl_value_set(d, "base", tl_value_tensor(base));
    tl_value_set(d, "t", tl_value_tensor(tl_t(base)));
    tl_value_set(d, "slice", tl_value_tensor(tl_slice(base, 1, 1, 4, 2)));
    tl_value_set(d, "expanded", tl_value_tensor(tl_expand(tl_ones(TL_SHAPE(1, 3), TL_F64), TL_SHAPE(5, 3))));
    tl_value_set(d, "scalar", tl_value_tensor(tl_full(TL_SHAPE(), 2.5, TL_F32)));
    tl_value_set(d, "empty", tl_value_tensor(tl_zeros(TL_SHAPE(0, 3), TL_F32)));
    bad += save(dir, "tl_views.pt", d);
    /* every dtype */
    d = tl_value_dict();
    for (k = 0; k < TL_DTYPE_COUNT; k++)
        tl_value_set(d, tl_dtype_name((tl_dtype)k), tl_value_tensor(tl_to_dtype(tl_arange(0, 5, 1, TL_F32), (tl_dtype)k)));
    bad += save(dir, "tl_dtypes.pt", d);
    /* a module state_dict */
    tl_manual_seed(0);
    net = tl_nn_sequential(3, (tl_module *[]){tl_nn_linear(4, 3, 1), tl_nn_batch_norm1d(3, 1e-5, 0.1, 1, 1),
                                               tl_nn_linear(3, 2, 0)});
    bad += save(dir, "tl_state_dict.pt", tl_module_state_dict(net));
    /* a checkpoint in the SEED_NOTES layout, with an optimizer-shaped state */
    opt = tl_value_dict();
    st = tl_value_dict();
    for (k = 0; k < 2; k++) {
        tl_value *one = tl_value_dict();
        tl_value_set(one, "step", tl_value_tensor(tl_full(TL_SHAPE(), 3, TL_F32)));
        tl_value_set(one, "exp_avg", tl_value_tensor(tl_zeros(TL_SHAPE(3), TL_F32)));
        tl_value_set_int(st, k, one);
    }
    tl_value_set(opt, "state", st);
    grp = tl_value_dict();
    tl_value_set(grp, "lr", tl_value_float(0.001));
    l = tl_value_tuple();
    tl_value_append(l, tl_value_float(0.9));
    tl_value_append(l, tl_value_float(0.999));
    tl_value_set(grp, "betas", l);
    tl_value_set(grp, "amsgrad", tl_value_bool(0));
    tl_value_set(grp, "foreach", tl_value_none());
    l = tl_value_list();
    tl_value_append(l, tl_value_int(0));
    tl_value_append(l, tl_value_int(1));
    tl_value_set(grp, "params", l);
    l = tl_value_list();
    tl_value_append(l, grp);
    tl_value_set(opt, "param_groups", l);
    d = tl_value_dict();
    tl_value_set(d, "epoch", tl_value_int(7));
    tl_value_set(d, "model_state_dict", tl_module_state_dict(net));
    tl_value_set(d, "optimizer_state_dict", opt);
    tl_value_set(d, "loss", tl_value_float(0.125));
    tl_value_set(d, "name", tl_value_string("lenet \xc3\xa9"));
    bad += save(dir, "tl_checkpoint.pt", d);
    tl_module_free(net);
    tl_scope_end(s);
    if (tl_debug_live_tensors() != 0) bad++;
    printf("write_seeds: wrote 4 checkpoints to %s%s\n", dir, bad ? " (with errors)" : "");
    return bad != 0;
}
