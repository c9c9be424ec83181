/* 05_inference.c - run a model PyTorch trained: load its state_dict (torch.save(net.state_dict()))
   into the same architecture built in C, then classify Fashion-MNIST test images.

   Build and run from the repository root:
       gcc -std=c99 -O2 -I. examples/05_inference.c -o build/05_inference -lm
       ./build/05_inference [STATE_DICT] [DATA_DIR]
   STATE_DICT defaults to examples/data/lenet_fashion_pytorch.pt, which PyTorch 1.13 wrote after one
   epoch of examples/fashion_mnist.py:
       /usr/bin/python3 examples/fashion_mnist.py --epochs 1 --save-state-dict examples/data/lenet_fashion_pytorch.pt
   DATA_DIR defaults to /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist).

   The Python it mirrors:
       net = TheModelClass(); net.load_state_dict(torch.load(path, weights_only=True)); net.eval()
       with torch.no_grad():
           for x, y in DataLoader(test, batch_size=1000): correct += (net(x).argmax(1) == y).sum()
   load_state_dict is strict, as torch's default: a missing or unexpected key, or a tensor of
   another shape, is an error whose message is torch's. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include <stdio.h>
#include <string.h>

static const char *const CLASSES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                        "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* TheModelClass on 1x28x28 (examples/fashion_mnist.c): [N,1,28,28] -> [N,10] logits. */
static tl_tensor *lenet_forward(tl_module *self, const tl_tensor *input) {
    tl_scope s = tl_scope_begin();
    tl_module *pool = tl_module_child(self, "pool");
    tl_tensor *x = tl_module_forward(pool, tl_relu(tl_module_forward(tl_module_child(self, "conv1"), input)));
    x = tl_module_forward(pool, tl_relu(tl_module_forward(tl_module_child(self, "conv2"), x))); /* [N,16,5,5] */
    x = tl_relu(tl_module_forward(tl_module_child(self, "fc1"), tl_flatten(x, 1, -1)));
    x = tl_relu(tl_module_forward(tl_module_child(self, "fc2"), x));
    x = tl_keep(tl_module_forward(tl_module_child(self, "fc3"), x));
    tl_scope_end(s);
    return x;
}

static tl_module *lenet_new(void) {
    tl_module *m = tl_module_new("TheModelClass", lenet_forward);
    tl_pool2d_opts pool = tl_pool2d_opts_default(2, 2);
    tl_conv2d_opts pad2;
    memset(&pad2, 0, sizeof pad2);
    pad2.padding[0] = pad2.padding[1] = 2;
    tl_module_add_module(m, "conv1", tl_nn_conv2d(1, 6, 5, 5, &pad2, 1));
    tl_module_add_module(m, "pool", tl_nn_max_pool2d(&pool));
    tl_module_add_module(m, "conv2", tl_nn_conv2d(6, 16, 5, 5, NULL, 1));
    tl_module_add_module(m, "fc1", tl_nn_linear(16 * 5 * 5, 120, 1));
    tl_module_add_module(m, "fc2", tl_nn_linear(120, 84, 1));
    tl_module_add_module(m, "fc3", tl_nn_linear(84, 10, 1));
    return m;
}

/* ToTensor + Normalize((0.2860,), (0.3530,)), as the training script used: uint8 -> float32. */
static tl_status normalise(tl_sample *s, void *user) {
    tl_tensor *x = tl_div_scalar(tl_sub_scalar(tl_div_scalar(tl_to_dtype(s->t[0], TL_F32), 255.0), 0.2860), 0.3530);
    (void)user;
    if (!x) return tl_last_status();
    s->t[0] = x;
    return TL_OK;
}

/* The image as text: 28 rows of 28 pixels, darker characters for brighter pixels. */
static void draw(const tl_tensor *img_u8) {
    const unsigned char *p = (const unsigned char *)tl_data_ptr(img_u8);
    int r, c;
    for (r = 0; r < 28; r += 2) { /* every other row: terminal cells are about twice as tall as wide */
        printf("    ");
        for (c = 0; c < 28; c++) putchar(" .:-=+*#%@"[p[r * 28 + c] * 10 / 256]);
        putchar('\n');
    }
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "examples/data/lenet_fashion_pytorch.pt";
    const char *dir = argc > 2 ? argv[2] : "/usr/share/datasets/fashion-mnist";
    tl_module *net = lenet_new();
    tl_dataset *test = tl_mnist_dataset(dir, 0);
    tl_loader_opts lo;
    tl_loader *loader;
    tl_batch b;
    tl_sample first;
    tl_status st;
    int64_t correct = 0, seen = 0, i;
    if (!net || !test) {
        fprintf(stderr, "05_inference: %s\n", tl_last_error());
        return 1;
    }
    /* net.load_state_dict(torch.load(path, weights_only=True)) */
    if (tl_load_state_dict(net, path, 1) != TL_OK) {
        fprintf(stderr, "05_inference: %s\n", tl_last_error());
        return 1;
    }
    tl_module_eval(net);
    printf("loaded %s into TheModelClass (%lld parameters)\n", path, (long long)tl_module_num_parameters(net));

    /* One image first, drawn, with the model's top three classes. */
    if (tl_dataset_get(test, 0, &first) == TL_OK) {
        tl_scope s = tl_scope_begin();
        tl_tensor *x = tl_unsqueeze(normalise(&first, NULL) == TL_OK ? first.t[0] : NULL, 0); /* [1,1,28,28] */
        tl_tensor *p = NULL;
        float shown = 0;
        tl_no_grad_begin();
        p = tl_softmax(tl_module_forward(net, x), 1); /* [1,10] */
        tl_no_grad_end();
        tl_sample_release(&first);
        tl_dataset_get(test, 0, &first); /* the raw uint8 pixels again, for the picture */
        draw(first.t[0]);
        printf("test image 0, labelled %s; the model says:\n", CLASSES[tl_item_i64(first.t[1])]);
        for (i = 0; p && i < 3; i++) { /* the three largest of the 10 probabilities */
            const float *pr = (const float *)tl_data_ptr(p);
            int c, best = -1;
            for (c = 0; c < 10; c++)
                if ((best < 0 || pr[c] > pr[best]) && (i == 0 || pr[c] < shown)) best = c;
            shown = pr[best];
            printf("    %-12s %5.1f%%\n", CLASSES[best], 100.0 * pr[best]);
        }
        tl_sample_release(&first);
        tl_scope_end(s);
    }

    /* The whole test set, in batches of 1000 without autograd. */
    tl_dataset_set_transform(test, normalise, NULL);
    memset(&lo, 0, sizeof lo);
    lo.batch_size = 1000;
    loader = tl_loader_new(test, &lo);
    tl_no_grad_begin();
    while (loader && (st = tl_loader_next(loader, &b)) == TL_OK) {
        tl_scope s = tl_scope_begin();
        tl_tensor *hit = tl_eq(tl_argmax(tl_module_forward(net, b.x), 1, 0), b.y);
        correct += hit ? (int64_t)tl_item(tl_sum_all(hit)) : 0;
        seen += b.size;
        tl_scope_end(s);
        tl_batch_release(&b);
    }
    tl_no_grad_end();
    if (!loader || st != TL_EPOCH_END) {
        fprintf(stderr, "05_inference: %s\n", tl_last_error());
        return 1;
    }
    printf("accuracy on the %lld test images: %.4f\n", (long long)seen, (double)correct / (double)seen);
    tl_loader_free(loader);
    tl_dataset_free(test);
    tl_module_free(net);
    return 0;
}
