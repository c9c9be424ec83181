/* 02_autograd.c - autograd the PyTorch way: backward, accumulating grads, non-scalar outputs,
   retain_graph, no_grad, detach and torch.autograd.grad; then a line fitted by minibatch SGD with
   plain tensors and a manual update under tl_no_grad_begin/end.

   Build and run from the repository root:
       gcc -std=c99 -O2 -I. examples/02_autograd.c -o build/02_autograd -lm && ./build/02_autograd

   Every number printed here is what PyTorch 1.13 prints for the same program (the Python line
   is quoted above each step); the random data comes from torch's own streams (tl_manual_seed). */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include <stdio.h>

/* Prints a label, then the tensor as torch prints it. */
static void show(const char *label, const tl_tensor *t) {
    printf("%s\n", label);
    tl_print(t);
}

/* Prints (and clears) the pending error: the examples below trigger some on purpose. */
static void show_error(const char *what) {
    printf("%s -> %s:\n  %s\n", what, tl_status_str(tl_last_status()), tl_last_error());
    tl_clear_error();
}

/* Part 1: the walk-through. Everything created here belongs to one scope. */
static void walk_through(void) {
    tl_scope s = tl_scope_begin();
    tl_tensor *x, *y, *g, *u, *z, *dx;

    printf("== backward ==\n");
    /* x = torch.tensor([2.0, 3.0], requires_grad=True) */
    x = tl_from_data((const float[]){2, 3}, TL_SHAPE(2), TL_F32);
    tl_requires_grad_(x, 1);
    /* y = x**2 + 2*x: every op on x records a node; y remembers the last one (grad_fn) */
    y = tl_add(tl_pow_scalar(x, 2), tl_mul_scalar(x, 2));
    show("y = x**2 + 2*x", y);                         /* tensor([ 8., 15.], grad_fn=<AddBackward0>) */
    printf("x.is_leaf = %d, y.is_leaf = %d, y.grad_fn = %s\n", tl_is_leaf(x), tl_is_leaf(y),
           tl_grad_fn_name(y));
    /* loss = y.sum(); loss.backward(): dy/dx = 2x + 2 lands in x.grad */
    tl_backward(tl_sum_all(y));
    show("x.grad after y.sum().backward()", tl_grad(x)); /* tensor([6., 8.]) */

    /* Gradients accumulate: a second backward ADDS into x.grad until you clear it. */
    tl_backward(tl_sum_all(tl_add(tl_pow_scalar(x, 2), tl_mul_scalar(x, 2))));
    show("x.grad after a second backward (accumulated)", tl_grad(x)); /* tensor([12., 16.]) */
    tl_set_grad(x, NULL);                              /* x.grad = None (or x.grad.zero_()) */

    printf("\n== non-scalar outputs and retain_graph ==\n");
    y = tl_add(tl_pow_scalar(x, 2), tl_mul_scalar(x, 2));
    /* y.backward(): y has 2 elements, so torch cannot make the seed gradient up */
    if (tl_backward(y) != TL_OK) show_error("y.backward()");
    /* y.backward(torch.ones_like(x), retain_graph=True): the gradient is dL/dy for some L;
       ones_like gives the gradient of y.sum(). retain_graph keeps what x**2 saved for backward. */
    g = tl_ones_like(x);
    tl_backward_ex(y, g, 1);
    show("x.grad after y.backward(ones, retain_graph=True)", tl_grad(x)); /* tensor([6., 8.]) */
    /* y.backward(torch.tensor([1., 0.1])): the retained graph runs again (and is freed now) */
    tl_backward_ex(y, tl_from_data((const float[]){1, 0.1f}, TL_SHAPE(2), TL_F32), 0);
    show("x.grad after y.backward([1., 0.1]) (accumulated)", tl_grad(x)); /* tensor([12.0000,  8.8000]) */
    /* a third time: the saved x of x**2 is gone */
    if (tl_backward_ex(y, g, 0) != TL_OK) show_error("y.backward(ones) again");
    tl_set_grad(x, NULL);

    printf("\n== no_grad, enable_grad, set_grad_enabled ==\n");
    tl_no_grad_begin();                                /* with torch.no_grad(): */
    printf("inside no_grad: (x * 2).requires_grad = %d\n", tl_requires_grad(tl_mul_scalar(x, 2)));
    tl_enable_grad_begin();                            /*     with torch.enable_grad(): */
    z = tl_mul_scalar(x, 2);
    printf("  nested enable_grad: (x * 2).requires_grad = %d, grad_fn = %s\n", tl_requires_grad(z),
           tl_grad_fn_name(z));
    tl_enable_grad_end();
    tl_no_grad_end();
    {
        int prev = tl_set_grad_enabled(0);             /* torch.set_grad_enabled(False) */
        printf("set_grad_enabled(False): (x * 2).requires_grad = %d\n", tl_requires_grad(tl_mul_scalar(x, 2)));
        tl_set_grad_enabled(prev);
    }

    printf("\n== detach ==\n");
    /* y = x * x; u = y.detach(); z = u * x: u is a constant to autograd, so dz/dx = u */
    y = tl_mul(x, x);
    u = tl_detach(y);
    z = tl_mul(u, x);
    tl_backward(tl_sum_all(z));
    show("u = (x * x).detach()", u);                   /* tensor([4., 9.]) */
    show("x.grad of (u * x).sum() equals u", tl_grad(x));
    tl_set_grad(x, NULL);
    /* without detach the same product is x**3 and the gradient is 3x**2 */
    tl_backward(tl_sum_all(tl_mul(tl_mul(x, x), x)));
    show("x.grad of (x * x * x).sum() (no detach)", tl_grad(x)); /* tensor([12., 27.]) */
    tl_set_grad(x, NULL);

    printf("\n== torch.autograd.grad ==\n");
    /* (dx,) = torch.autograd.grad([x**3], [x], [torch.ones_like(x)]): returns the gradient
       instead of adding it to x.grad */
    y = tl_pow_scalar(x, 3);
    tl_autograd_grad(1, &y, 1, &x, &g, 0, &dx);
    show("torch.autograd.grad(x**3, x, ones)", dx);    /* tensor([12., 27.]) */
    printf("x.grad is still None: %s\n", tl_grad(x) ? "no" : "yes");

    tl_scope_end(s);
}

/* Part 2: fit y = X @ w + b to synthetic data (the "linear regression from scratch" program).
   Python:
       torch.manual_seed(42)
       true_w = torch.tensor([[2.0], [-3.4]]); true_b = 4.2
       X = torch.randn(1000, 2); y = X @ true_w + true_b + 0.01 * torch.randn(1000, 1)
       w = torch.zeros(2, 1).normal_(0, 0.01).requires_grad_(); b = torch.zeros(1, requires_grad=True)
       for epoch in range(3):
           perm = torch.randperm(1000)
           for i in range(0, 1000, 10):
               idx = perm[i:i+10]
               loss = ((X[idx] @ w + b - y[idx]) ** 2).mean()
               loss.backward()
               with torch.no_grad():
                   w -= lr * w.grad; b -= lr * b.grad
               w.grad = None; b.grad = None */
static int fit_line(void) {
    const int n = 1000, batch = 10, epochs = 3;
    const double lr = 0.03;
    int epoch, i, step = 0, ok = 1;
    tl_scope s = tl_scope_begin();
    tl_tensor *true_w, *X, *y, *w, *b;

    printf("\n== fitting a line with minibatch SGD ==\n");
    tl_manual_seed(42);
    true_w = tl_from_data((const float[]){2.0f, -3.4f}, TL_SHAPE(2, 1), TL_F32);
    X = tl_randn(TL_SHAPE(n, 2), TL_F32);
    y = tl_add(tl_add_scalar(tl_matmul(X, true_w), 4.2),
               tl_mul_scalar(tl_randn(TL_SHAPE(n, 1), TL_F32), 0.01));
    w = tl_zeros(TL_SHAPE(2, 1), TL_F32);
    tl_normal_(w, 0, 0.01);                            /* fill first: leaves requiring grad refuse it */
    tl_requires_grad_(w, 1);
    b = tl_zeros(TL_SHAPE(1), TL_F32);
    tl_requires_grad_(b, 1);
    if (!y) {
        printf("error: %s\n", tl_last_error());
        tl_scope_end(s);
        return 0;
    }

    for (epoch = 1; epoch <= epochs && ok; epoch++) {
        tl_tensor *perm = tl_randperm(n, TL_I64);      /* the same shuffle as torch.randperm */
        for (i = 0; i < n && ok; i += batch) {
            tl_scope step_scope = tl_scope_begin();    /* one scope per step: temporaries die here */
            tl_tensor *idx = tl_narrow(perm, 0, i, batch);
            tl_tensor *Xb = tl_index_select(X, 0, idx), *yb = tl_index_select(y, 0, idx);
            tl_tensor *loss = tl_mean_all(tl_pow_scalar(tl_sub(tl_add(tl_matmul(Xb, w), b), yb), 2));
            ok = loss && tl_backward(loss) == TL_OK;
            /* the update must not be recorded: with torch.no_grad(): w -= lr * w.grad */
            tl_no_grad_begin();
            ok = ok && tl_sub_(w, tl_mul_scalar(tl_grad(w), lr)) == TL_OK;
            ok = ok && tl_sub_(b, tl_mul_scalar(tl_grad(b), lr)) == TL_OK;
            tl_no_grad_end();
            tl_set_grad(w, NULL);                      /* w.grad = None */
            tl_set_grad(b, NULL);
            if (ok && ++step % 50 == 0) printf("step %3d  batch loss %.6f\n", step, tl_item(loss));
            tl_scope_end(step_scope);
        }
        tl_no_grad_begin();
        if (ok)
            printf("epoch %d: train loss %.8f\n", epoch,
                   tl_item(tl_mean_all(tl_pow_scalar(tl_sub(tl_add(tl_matmul(X, w), b), y), 2))));
        tl_no_grad_end();
    }
    if (!ok) printf("error: %s\n", tl_last_error());
    show("learned w (true [[2.0], [-3.4]])", w);
    show("learned b (true 4.2)", b);
    tl_scope_end(s);
    return ok;
}

int main(void) {
    int ok;
    walk_through();
    ok = fit_line();
    printf("\nlive tensors at exit: %ld\n", tl_debug_live_tensors());
    return ok && tl_debug_live_tensors() == 0 ? 0 : 1;
}
