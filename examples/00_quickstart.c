/* 00_quickstart.c - the quick start of tensorlite.h's top comment, as a program: fit a small MLP
   to y = sin(x) with autograd and torch.optim.SGD's step (tl_optim_sgd). */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include <stdio.h>

int main(void) {
    tl_manual_seed(0); /* same weights as torch.manual_seed(0) */
    tl_module *net = tl_nn_sequential(3, (tl_module *[]){tl_nn_linear(1, 32, 1), tl_nn_tanh(), tl_nn_linear(32, 1, 1)});
    tl_scope data = tl_scope_begin();
    tl_tensor *x = tl_keep(tl_reshape(tl_linspace(-3, 3, 64, TL_F32), TL_SHAPE(64, 1))); /* [64, 1] */
    tl_tensor *y = tl_keep(tl_sin(x));                            /* kept: released at the end */
    tl_scope_end(data);
    tl_sgd_desc sgd = tl_sgd_desc_default();
    sgd.lr = 0.05;
    tl_optim *opt = tl_optim_sgd(tl_parameters(net), &sgd);         /* optim.SGD(net.parameters(), lr=0.05) */
    for (int step = 0; step <= 2000; step++) {
        tl_scope s = tl_scope_begin();                                /* the step's temporaries */
        tl_tensor *loss = tl_mse_loss(tl_module_forward(net, x), y, TL_REDUCTION_MEAN);
        tl_optim_zero_grad(opt);
        if (tl_backward(loss) != TL_OK) { fprintf(stderr, "%s\n", tl_last_error()); return 1; }
        tl_optim_step(opt);                                           /* p -= lr * p.grad */
        if (step % 500 == 0) printf("step %4d  loss %.6f\n", step, tl_item(loss));
        tl_scope_end(s);
    }
    tl_optim_free(opt);
    tl_module_free(net);
    tl_release(x);
    tl_release(y);
    printf("live tensors at exit: %ld\n", tl_debug_live_tensors());
    return tl_debug_live_tensors() == 0 ? 0 : 1;
}
