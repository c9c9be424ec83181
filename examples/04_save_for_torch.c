/* 04_save_for_torch.c - checkpoints PyTorch can load: a LeNet-5 (the tutorial's TheModelClass, on
   3x32x32 images) built in C, its state_dict and a training-style checkpoint saved with tl_save,
   loaded back with tl_load into a second model, and the outputs checked to be identical.
   examples/04_load.py then loads the same files in PyTorch.

   Build and run from the repository root (build/ must exist: make creates it):
       gcc -std=c99 -O2 -I. examples/04_save_for_torch.c -o build/04_save_for_torch -lm
       ./build/04_save_for_torch [state_dict.pt] [checkpoint.pt] [io.pt]
       /usr/bin/python3 examples/04_load.py  [state_dict.pt] [checkpoint.pt] [io.pt]
   The paths default to build/lenet.pt, build/ckpt.pt and build/lenet_io.pt.

   The Python it mirrors:
       torch.manual_seed(0)
       model = TheModelClass()
       x = torch.randn(2, 3, 32, 32); labels = torch.randint(0, 10, (2,))
       with torch.no_grad():
           out = model(x); loss = F.cross_entropy(out, labels)
       torch.save(model.state_dict(), 'build/lenet.pt')
       torch.save({'epoch': 1, 'model_state_dict': model.state_dict(), 'loss': loss}, 'build/ckpt.pt')
       torch.save([x, out], 'build/lenet_io.pt')
       clone = TheModelClass(); clone.load_state_dict(torch.load('build/lenet.pt')); clone.eval() */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include <stdio.h>

/* ---- class TheModelClass(nn.Module) ----
   conv1 = Conv2d(3, 6, 5); pool = MaxPool2d(2, 2); conv2 = Conv2d(6, 16, 5)
   fc1 = Linear(16 * 5 * 5, 120); fc2 = Linear(120, 84); fc3 = Linear(84, 10)
   def forward(self, x):
       x = self.pool(F.relu(self.conv1(x)))      # [N, 3, 32, 32] -> [N, 6, 14, 14]
       x = self.pool(F.relu(self.conv2(x)))      #                -> [N, 16, 5, 5]
       x = x.view(-1, 16 * 5 * 5)                #                -> [N, 400]
       x = F.relu(self.fc1(x))
       x = F.relu(self.fc2(x))
       return self.fc3(x)                        #                -> [N, 10] */
static tl_tensor *lenet_forward(tl_module *self, const tl_tensor *input) {
    tl_scope s = tl_scope_begin(); /* temporaries die here; the result is kept for the caller */
    tl_module *pool = tl_module_child(self, "pool");
    tl_tensor *x = tl_module_forward(pool, tl_relu(tl_module_forward(tl_module_child(self, "conv1"), input)));
    x = tl_module_forward(pool, tl_relu(tl_module_forward(tl_module_child(self, "conv2"), x)));
    x = tl_view(x, TL_SHAPE(-1, 16 * 5 * 5));
    x = tl_relu(tl_module_forward(tl_module_child(self, "fc1"), x));
    x = tl_relu(tl_module_forward(tl_module_child(self, "fc2"), x));
    x = tl_keep(tl_module_forward(tl_module_child(self, "fc3"), x));
    tl_scope_end(s);
    return x;
}

/* The children are added in torch's __init__ order: it fixes the random draws (each layer is
   initialised when it is built), the state_dict order and the repr. */
static tl_module *lenet_new(void) {
    tl_module *m = tl_module_new("TheModelClass", lenet_forward);
    tl_pool2d_opts pool = tl_pool2d_opts_default(2, 2);
    tl_module_add_module(m, "conv1", tl_nn_conv2d(3, 6, 5, 5, NULL, 1));
    tl_module_add_module(m, "pool", tl_nn_max_pool2d(&pool));
    tl_module_add_module(m, "conv2", tl_nn_conv2d(6, 16, 5, 5, NULL, 1));
    tl_module_add_module(m, "fc1", tl_nn_linear(16 * 5 * 5, 120, 1));
    tl_module_add_module(m, "fc2", tl_nn_linear(120, 84, 1));
    tl_module_add_module(m, "fc3", tl_nn_linear(84, 10, 1));
    return m;
}

/* max |a - b| (0 means identical; NaN-free inputs assumed). */
static double max_abs_diff(const tl_tensor *a, const tl_tensor *b) {
    tl_scope s = tl_scope_begin();
    double d = tl_item(tl_max_all(tl_abs(tl_sub(a, b))));
    tl_scope_end(s);
    return d;
}

/* Reports the pending error (if any) and returns 1 when there was one. */
static int failed(const char *what) {
    if (tl_last_status() == TL_OK) return 0;
    printf("%s failed: %s\n", what, tl_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *sd_path = argc > 1 ? argv[1] : "build/lenet.pt";
    const char *ckpt_path = argc > 2 ? argv[2] : "build/ckpt.pt";
    const char *io_path = argc > 3 ? argv[3] : "build/lenet_io.pt";
    tl_scope s = tl_scope_begin();
    tl_module *model, *clone = NULL;
    tl_tensor *x, *labels, *out, *out2, *loss;
    tl_value *sd, *ckpt, *io, *loaded;
    int ok = 0, i;

    /* the model and its data, from torch's random stream */
    tl_manual_seed(0);
    model = lenet_new();
    x = tl_randn(TL_SHAPE(2, 3, 32, 32), TL_F32);
    labels = tl_randint(0, 10, TL_SHAPE(2), TL_I64);
    tl_module_print(model);
    printf("%lld parameters\n", (long long)tl_module_num_parameters(model));

    tl_no_grad_begin(); /* inference only: with torch.no_grad() */
    out = tl_module_forward(model, x);
    loss = tl_cross_entropy(out, labels, NULL, -100, TL_REDUCTION_MEAN); /* a 0-dim tensor */
    tl_no_grad_end();
    if (failed("the forward pass")) goto done;
    printf("\nout = model(x) for x = torch.randn(2, 3, 32, 32):\n");
    tl_print(out);
    printf("labels = ");
    tl_print(labels);
    printf("cross-entropy loss: %.7f\n", tl_item(loss));

    /* torch.save(model.state_dict(), sd_path): an OrderedDict of the tensors (with _metadata),
       written in torch's zip format */
    sd = tl_module_state_dict(model);
    printf("\nstate_dict:\n");
    for (i = 0; sd && i < (int)tl_value_len(sd); i++) {
        const char *key = tl_value_as_string(tl_value_key(sd, (size_t)i), NULL); /* borrowed */
        tl_tensor *t = tl_value_tensor_of(tl_value_item(sd, (size_t)i));
        int d;
        printf("  %-13s [", key ? key : "?");
        for (d = 0; d < tl_ndim(t); d++) printf("%s%lld", d ? ", " : "", (long long)tl_size(t, d));
        printf("]\n");
    }
    if (tl_save(sd, sd_path) != TL_OK) {
        failed("saving the state_dict");
        printf("(run from the repository root after `mkdir -p build`, or pass paths)\n");
        tl_value_free(sd);
        goto done;
    }
    printf("saved %s\n", sd_path);

    /* torch.save({'epoch': 1, 'model_state_dict': model.state_dict(), 'loss': loss}, ckpt_path):
       the dict takes ownership of the values set into it, sd included. loss is saved as the 0-dim
       tensor the loss function returned, as in a torch training loop: a Python float
       (tl_value_float(tl_item(loss))) would also work, but torch 1.13's
       torch.load(weights_only=True) rejects every float in a file, even in files torch wrote
       ("Unsupported operand 71"); torch 2.x reads both. */
    ckpt = tl_value_dict();
    tl_value_set(ckpt, "epoch", tl_value_int(1));
    tl_value_set(ckpt, "model_state_dict", sd);
    tl_value_set(ckpt, "loss", tl_value_tensor(loss));
    tl_save(ckpt, ckpt_path);
    tl_value_free(ckpt);
    /* torch.save([x, out], io_path): the input and the C output, for 04_load.py to compare */
    io = tl_value_list();
    tl_value_append(io, tl_value_tensor(x));
    tl_value_append(io, tl_value_tensor(out));
    tl_save(io, io_path);
    tl_value_free(io);
    if (failed("saving the checkpoint")) goto done;
    printf("saved %s and %s\n", ckpt_path, io_path);

    /* clone = TheModelClass(): a different seed gives different weights, so the output differs */
    tl_manual_seed(1);
    clone = lenet_new();
    tl_no_grad_begin();
    out2 = tl_module_forward(clone, x);
    tl_no_grad_end();
    if (failed("the clone's forward pass")) goto done;
    printf("\nfreshly built clone: max |clone(x) - out| = %.4g\n", max_abs_diff(out2, out));

    /* clone.load_state_dict(torch.load(sd_path)); clone.eval() */
    loaded = tl_load(sd_path);
    tl_module_load_state_dict(clone, loaded, 1, NULL);
    tl_value_free(loaded);
    tl_module_eval(clone);
    tl_no_grad_begin();
    out2 = tl_module_forward(clone, x);
    tl_no_grad_end();
    if (failed("loading the state_dict")) goto done;
    printf("after load_state_dict(tl_load(\"%s\")): max |clone(x) - out| = %g\n", sd_path, max_abs_diff(out2, out));
    ok = max_abs_diff(out2, out) == 0;

    /* checkpoint = torch.load(ckpt_path); model.load_state_dict(checkpoint['model_state_dict']) */
    loaded = tl_load(ckpt_path);
    if (loaded) {
        printf("checkpoint: epoch %lld, loss %.7f\n", (long long)tl_value_as_int(tl_value_get(loaded, "epoch")),
               tl_item(tl_value_tensor_of(tl_value_get(loaded, "loss"))));
        tl_manual_seed(2);
        tl_module_free(clone);
        clone = lenet_new();
        tl_module_load_state_dict(clone, tl_value_get(loaded, "model_state_dict"), 1, NULL);
        tl_value_free(loaded);
        tl_no_grad_begin();
        out2 = tl_module_forward(clone, x);
        tl_no_grad_end();
    }
    if (failed("loading the checkpoint")) ok = 0;
    else {
        printf("model restored from the checkpoint: max |clone(x) - out| = %g\n", max_abs_diff(out2, out));
        ok = ok && max_abs_diff(out2, out) == 0;
    }
    printf("%s\n", ok ? "outputs identical: yes" : "outputs identical: NO");
    if (ok) printf("next: /usr/bin/python3 examples/04_load.py %s %s %s\n", sd_path, ckpt_path, io_path);

done:
    tl_module_free(clone);
    tl_module_free(model);
    tl_scope_end(s);
    printf("live tensors at exit: %ld\n", tl_debug_live_tensors());
    return ok && tl_debug_live_tensors() == 0 ? 0 : 1;
}
