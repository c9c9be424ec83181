// 07_cpp.cpp - tensorlite from C++11: the same header, with braced lists where C uses compound
// literals. Fits a small MLP to y = sin(x) + noise with nn.Sequential, a TensorDataset and a
// shuffled DataLoader, Adam and a StepLR schedule, and prints the optimizer as PyTorch would.
//
// Build and run from the repository root (ISO C++11, no extensions needed):
//     g++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -O2 -I. examples/07_cpp.cpp -o build/07_cpp
//     ./build/07_cpp
//
// The PyTorch it mirrors:
//     torch.manual_seed(0)
//     net = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))
//     x = torch.linspace(-3, 3, 256).reshape(256, 1); y = torch.sin(x) + 0.05 * torch.randn(256, 1)
//     loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
//     opt = torch.optim.Adam(net.parameters(), lr=0.01); sched = StepLR(opt, step_size=40, gamma=0.3)
//     for epoch in range(120):
//         for xb, yb in loader:
//             opt.zero_grad(); loss = F.mse_loss(net(xb), yb); loss.backward(); opt.step()
//         sched.step()
//
// C++ notes: TL_SHAPE(...) and TL_DIMS(...) expand to std::initializer_list helpers here;
// tl_nn_sequential({...}), tl_cat({...}, dim) and tl_stack({...}, dim) take braced lists. A braced
// list is evaluated left to right in C++ (unlike a C initializer list), so layers built inside it
// draw their initial weights in torch's order.
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include <cstdio>

int main() {
    tl_manual_seed(0);
    tl_module *net = tl_nn_sequential({tl_nn_linear(1, 32, 1), tl_nn_tanh(), tl_nn_linear(32, 32, 1), tl_nn_tanh(),
                                       tl_nn_linear(32, 1, 1)});
    tl_scope data = tl_scope_begin();
    tl_tensor *x = tl_reshape(tl_linspace(-3, 3, 256, TL_F32), TL_SHAPE(256, 1)); // [256, 1]
    tl_tensor *y = tl_add(tl_sin(x), tl_mul_scalar(tl_randn(TL_SHAPE(256, 1), TL_F32), 0.05));
    tl_tensor *xy[2] = {x, y};
    tl_dataset *ds = tl_tensor_dataset(2, xy); // keeps its own references
    tl_scope_end(data);

    tl_loader_opts lo = tl_loader_opts(); // value-initialised: zero is every option's default
    lo.batch_size = 32;
    lo.shuffle = 1;
    tl_loader *loader = tl_loader_new(ds, &lo);
    tl_dataset_free(ds);

    tl_adam_desc ad = tl_adam_desc_default();
    ad.lr = 0.01;
    tl_optim *opt = tl_optim_adam(tl_parameters(net), &ad);
    tl_scheduler *sched = tl_step_lr(opt, 40, 0.3);
    if (!net || !loader || !opt || !sched) {
        std::fprintf(stderr, "07_cpp: %s\n", tl_last_error());
        return 1;
    }
    tl_optim_print(opt);

    double epoch_loss = 0;
    for (int epoch = 0; epoch < 120; epoch++) {
        tl_batch b;
        tl_status st;
        double sum = 0;
        int n = 0;
        while ((st = tl_loader_next(loader, &b)) == TL_OK) {
            tl_scope s = tl_scope_begin();
            tl_optim_zero_grad(opt);
            tl_tensor *loss = tl_mse_loss(tl_module_forward(net, b.x), b.y, TL_REDUCTION_MEAN);
            if (!loss || tl_backward(loss) != TL_OK || tl_optim_step(opt) != TL_OK) {
                std::fprintf(stderr, "07_cpp: %s\n", tl_last_error());
                return 1;
            }
            sum += tl_item(loss);
            n++;
            tl_scope_end(s);
            tl_batch_release(&b);
        }
        if (st != TL_EPOCH_END) {
            std::fprintf(stderr, "07_cpp: %s\n", tl_last_error());
            return 1;
        }
        tl_scheduler_step(sched);
        epoch_loss = sum / n;
        if (epoch % 20 == 0 || epoch == 119)
            std::printf("epoch %3d  loss %.5f  lr %.5f\n", epoch + 1, epoch_loss, tl_optim_get_lr(opt, 0));
    }
    tl_scheduler_free(sched);
    tl_optim_free(opt);
    tl_loader_free(loader);
    tl_module_free(net);
    std::printf("live tensors at exit: %ld\n", tl_debug_live_tensors());
    // the fit must be good (the noise alone gives 0.0025) and nothing may leak
    return epoch_loss < 0.01 && tl_debug_live_tensors() == 0 ? 0 : 1;
}
