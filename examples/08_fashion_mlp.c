/* 08_fashion_mlp.c - an MLP on Fashion-MNIST with Adam and a learning-rate schedule: the
   DataLoader with worker threads, a per-sample transform, Adam, StepLR, gradient clipping, and
   the test accuracy after each epoch.

   Build and run from the repository root (apt-get install dataset-fashion-mnist):
       gcc -std=c99 -O2 -I. examples/08_fashion_mlp.c -o build/08_fashion_mlp -lm
       ./build/08_fashion_mlp [EPOCHS] [TRAIN_IMAGES]     (default 3 epochs on the first 20000 images)

   The PyTorch it mirrors:
       torch.manual_seed(0)
       net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10))
       opt = torch.optim.Adam(net.parameters(), lr=1e-3)
       sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
       loader = DataLoader(train, batch_size=128, shuffle=True, num_workers=2)
       for epoch in range(epochs):
           net.train()
           for x, y in loader:
               opt.zero_grad(); loss = F.cross_entropy(net(x), y); loss.backward()
               nn.utils.clip_grad_norm_(net.parameters(), 5.0); opt.step()
           sched.step()
           net.eval(); ... accuracy on the test set */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include <stdio.h>
#include <stdlib.h>

static tl_status to_float(tl_sample *s, void *user) { /* ToTensor + Normalize((0.2860,), (0.3530,)) */
    (void)user;
    s->t[0] = tl_div_scalar(tl_sub_scalar(tl_div_scalar(tl_to_dtype(s->t[0], TL_F32), 255.0), 0.2860), 0.3530);
    return s->t[0] ? TL_OK : tl_last_status();
}

static double accuracy(tl_module *net, tl_dataset *test) {
    tl_loader_opts lo = {0};
    tl_loader *l;
    tl_batch b;
    double correct = 0, n = 0;
    lo.batch_size = 1000;
    l = tl_loader_new(test, &lo);
    tl_module_eval(net); /* Dropout off */
    tl_no_grad_begin();
    while (l && tl_loader_next(l, &b) == TL_OK) {
        tl_scope s = tl_scope_begin();
        correct += tl_item(tl_sum_all(tl_eq(tl_argmax(tl_module_forward(net, b.x), 1, 0), b.y)));
        n += (double)b.size;
        tl_scope_end(s);
        tl_batch_release(&b);
    }
    tl_no_grad_end();
    tl_module_train(net, 1);
    tl_loader_free(l);
    return n > 0 ? correct / n : 0;
}

int main(int argc, char **argv) {
    const char *dir = "/usr/share/datasets/fashion-mnist";
    int epochs = argc > 1 ? atoi(argv[1]) : 3, limit = argc > 2 ? atoi(argv[2]) : 20000, epoch;
    tl_module *layers[5], *net;
    tl_dataset *full, *train, *test;
    tl_loader_opts lo = {0};
    tl_loader *loader;
    tl_adam_desc ad = tl_adam_desc_default(); /* lr 1e-3, betas (0.9, 0.999), eps 1e-8 */
    tl_optim *opt;
    tl_scheduler *sched;
    int64_t i, *first;

    tl_manual_seed(0);
    layers[0] = tl_nn_flatten(1, -1); /* built one by one: torch's order of random draws */
    layers[1] = tl_nn_linear(784, 256, 1);
    layers[2] = tl_nn_relu();
    layers[3] = tl_nn_dropout(0.2);
    layers[4] = tl_nn_linear(256, 10, 1);
    net = tl_nn_sequential(5, layers);

    full = tl_mnist_dataset(dir, 1);
    test = tl_mnist_dataset(dir, 0);
    if (!net || !full || !test || epochs < 1 || limit < 1) {
        fprintf(stderr, "08_fashion_mlp: %s\n", tl_last_error()[0] ? tl_last_error() : "bad arguments");
        return 1;
    }
    if (limit > tl_dataset_len(full)) limit = (int)tl_dataset_len(full);
    first = (int64_t *)malloc(sizeof(int64_t) * (size_t)limit);
    for (i = 0; first && i < limit; i++) first[i] = i;
    train = first ? tl_subset(full, limit, first) : NULL; /* Subset(train, range(limit)) */
    free(first);
    tl_dataset_free(full);
    tl_dataset_set_transform(train, to_float, NULL);
    tl_dataset_set_transform(test, to_float, NULL);

    lo.batch_size = 128;
    lo.shuffle = 1;
    lo.num_workers = 2; /* batches are prepared on two threads, delivered in order */
    loader = tl_loader_new(train, &lo);
    opt = tl_optim_adam(tl_parameters(net), &ad);
    sched = tl_step_lr(opt, 1, 0.5);
    if (!loader || !opt || !sched) {
        fprintf(stderr, "08_fashion_mlp: %s\n", tl_last_error());
        return 1;
    }
    printf("%s\n", "Sequential(Flatten, Linear(784, 256), ReLU, Dropout(0.2), Linear(256, 10)), Adam, StepLR(1, 0.5)");
    printf("training on %d images, %lld batches of 128 per epoch\n", limit, (long long)tl_loader_len(loader));
    for (epoch = 0; epoch < epochs; epoch++) {
        tl_batch b;
        tl_status st;
        double sum = 0, norm = 0, lr = tl_optim_get_lr(opt, 0);
        int n = 0;
        while ((st = tl_loader_next(loader, &b)) == TL_OK) {
            tl_scope s = tl_scope_begin();
            tl_tensor *loss = tl_cross_entropy(tl_module_forward(net, b.x), b.y, NULL, -100, TL_REDUCTION_MEAN);
            tl_optim_zero_grad(opt);
            if (loss && tl_backward(loss) == TL_OK) {
                norm = tl_module_clip_grad_norm_(net, 5.0, 2.0); /* returns the norm before clipping */
                if (tl_optim_step(opt) == TL_OK) sum += tl_item(loss), n++;
            }
            tl_scope_end(s);
            tl_batch_release(&b);
            if (tl_last_status() != TL_OK) break; /* the failed step's message is kept */
        }
        if (st != TL_EPOCH_END) {
            fprintf(stderr, "08_fashion_mlp: %s\n", tl_last_error());
            return 1;
        }
        tl_scheduler_step(sched);
        printf("epoch %d: lr %.5f  train loss %.4f  last grad norm %.3f  test accuracy %.4f\n", epoch + 1, lr,
               sum / n, norm, accuracy(net, test));
    }
    tl_scheduler_free(sched);
    tl_optim_free(opt);
    tl_loader_free(loader);
    tl_dataset_free(train);
    tl_dataset_free(test);
    tl_module_free(net);
    return tl_debug_live_tensors() == 0 ? 0 : 1;
}
