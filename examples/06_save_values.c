/* 06_save_values.c - torch.save of plain Python data from C: tensors of several dtypes, a view that
   shares its storage, lists, tuples, nested dicts, ints, floats, strings, bools and None, in one
   file that `torch.load` reads (examples/06_load.py), then tl_load reads it back and prints it as
   Python would.

   Build and run from the repository root (build/ must exist: make creates it):
       gcc -std=c99 -O2 -I. examples/06_save_values.c -o build/06_save_values -lm
       ./build/06_save_values [build/values.pt]
       /usr/bin/python3 examples/06_load.py [build/values.pt]

   The Python it mirrors:
       x = torch.arange(12.).reshape(3, 4)
       obj = {'name': 'run-7', 'step': 1200, 'lr': 0.001, 'done': False, 'note': None,
              'x': x, 'row': x[1], 'ids': torch.tensor([3, 1, 4], dtype=torch.int64),
              'mask': x > 5, 'shape': (3, 4), 'losses': [0.9, 0.5, 0.25],
              'nested': {'a': {'b': [1, 'two', 3.0]}}}
       torch.save(obj, 'build/values.pt')
   'row' is a view of x: the file stores x's storage once and both tensors point into it, so
   torch.load gives back two tensors that still share memory. Note: the Python floats ('lr',
   'losses') make torch 1.13's torch.load(weights_only=True) refuse the file (2.x accepts it);
   06_load.py loads it with weights_only=False on 1.13. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include <stdio.h>

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "build/values.pt";
    tl_scope s = tl_scope_begin(); /* the tensors below are released at tl_scope_end */
    tl_tensor *x = tl_reshape(tl_arange(0, 12, 1, TL_F32), TL_SHAPE(3, 4));
    int64_t ids_data[3] = {3, 1, 4};
    tl_value *obj = tl_value_dict(), *shape = tl_value_tuple(), *losses = tl_value_list();
    tl_value *nested = tl_value_dict(), *a = tl_value_dict(), *b = tl_value_list();
    tl_value *back;
    int rc = 0;

    tl_value_set(obj, "name", tl_value_string("run-7"));
    tl_value_set(obj, "step", tl_value_int(1200));
    tl_value_set(obj, "lr", tl_value_float(0.001));
    tl_value_set(obj, "done", tl_value_bool(0));
    tl_value_set(obj, "note", tl_value_none());
    tl_value_set(obj, "x", tl_value_tensor(x));
    tl_value_set(obj, "row", tl_value_tensor(tl_select(x, 0, 1))); /* x[1]: a view into x's storage */
    tl_value_set(obj, "ids", tl_value_tensor(tl_from_data(ids_data, TL_SHAPE(3), TL_I64)));
    tl_value_set(obj, "mask", tl_value_tensor(tl_gt_scalar(x, 5)));
    tl_value_append(shape, tl_value_int(3));
    tl_value_append(shape, tl_value_int(4));
    tl_value_set(obj, "shape", shape);
    tl_value_append(losses, tl_value_float(0.9));
    tl_value_append(losses, tl_value_float(0.5));
    tl_value_append(losses, tl_value_float(0.25));
    tl_value_set(obj, "losses", losses);
    tl_value_append(b, tl_value_int(1));
    tl_value_append(b, tl_value_string("two"));
    tl_value_append(b, tl_value_float(3.0));
    tl_value_set(a, "b", b);
    tl_value_set(nested, "a", a);
    tl_value_set(obj, "nested", nested);

    /* Any failure above (OOM, a NULL argument) is pending here and makes tl_save refuse as well. */
    if (tl_save(obj, path) != TL_OK) {
        fprintf(stderr, "06_save_values: %s\n", tl_last_error());
        rc = 1;
    } else {
        printf("saved %s:\n", path);
        tl_value_print(obj);
        back = tl_load(path); /* torch.load(path) */
        if (!back) {
            fprintf(stderr, "06_save_values: %s\n", tl_last_error());
            rc = 1;
        } else {
            tl_tensor *row = tl_value_tensor_of(tl_value_get(back, "row"));
            tl_tensor *bx = tl_value_tensor_of(tl_value_get(back, "x"));
            printf("loaded it back: %zu keys; 'row' still shares 'x''s storage: %s\n", tl_value_len(back),
                   tl_data_ptr(row) == (char *)tl_data_ptr(bx) + 4 * sizeof(float) ? "yes" : "no");
            tl_value_free(back);
        }
    }
    tl_value_free(obj);
    tl_scope_end(s);
    return rc;
}
