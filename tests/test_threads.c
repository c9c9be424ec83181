/* tests/test_threads.c - two threads training two models at once (issue 12, bar 5).

   Error state, scopes, grad mode, the caches and the default generator are per thread, so two
   threads that each build, train, save and reload their own model must get exactly the results
   of running the same two jobs one after the other. make test also builds this file with
   -fsanitize=thread: ThreadSanitizer must report nothing. */
#define TL_IMPLEMENTATION
#include "tensorlite.h"
#include "harness.h"

#if TL__HAVE_THREADS
#define STEPS 30

typedef struct job {
    uint64_t seed;
    int hidden;
    double losses[STEPS];
    double checksum; /* sum of the reloaded parameters */
    tl_status status;
    char error[256];
} job;

/* seed -> MLP 8-hidden-3 -> STEPS of SGD on random data -> save -> load -> checksum. */
static void *run_job(void *arg) {
    job *j = (job *)arg;
    tl_module *net;
    tl_named_tensors *params;
    tl_tensor *x, *y;
    void *buf = NULL;
    size_t n = 0;
    int step, i;
    tl_manual_seed(j->seed); /* this thread's default generator */
    net = tl_nn_sequential(3, (tl_module *[]){tl_nn_linear(8, j->hidden, 1), tl_nn_tanh(), tl_nn_linear(j->hidden, 3, 1)});
    params = tl_module_named_parameters(net);
    x = tl_randn(TL_SHAPE(16, 8), TL_F32);
    y = tl_randint(0, 3, TL_SHAPE(16), TL_I64);
    j->status = net && params && x && y ? TL_OK : tl_last_status();
    for (step = 0; step < STEPS && j->status == TL_OK; step++) {
        tl_scope s = tl_scope_begin();
        tl_tensor *loss = tl_cross_entropy(tl_module_forward(net, x), y, NULL, -100, TL_REDUCTION_MEAN);
        tl_module_zero_grad(net);
        j->status = loss ? tl_backward(loss) : tl_last_status();
        if (j->status == TL_OK) {
            j->losses[step] = tl_item(loss);
            tl_no_grad_begin();
            for (i = 0; i < params->n; i++) tl_add_alpha_(params->tensors[i], tl_grad(params->tensors[i]), -0.2);
            tl_no_grad_end();
        }
        tl_scope_end(s);
    }
    if (j->status == TL_OK) {
        tl_value *sd = tl_module_state_dict(net), *back = NULL;
        j->status = sd ? tl_save_to_buffer(sd, &buf, &n) : tl_last_status();
        if (j->status == TL_OK) back = tl_load_from_buffer(buf, n);
        if (back) {
            j->checksum = 0;
            for (i = 0; i < (int)tl_value_len(back); i++) {
                tl_tensor *t = tl_value_tensor_of(tl_value_item(back, (size_t)i));
                tl_tensor *sum = tl_sum_all(t);
                j->checksum += tl_item(sum);
                tl_release(sum);
                tl_release(t);
            }
        } else if (j->status == TL_OK) {
            j->status = tl_last_status();
        }
        tl_value_free(back);
        tl_value_free(sd);
        tl_free_buffer(buf);
    }
    snprintf(j->error, sizeof j->error, "%s", tl_last_error());
    tl_named_tensors_free(params);
    tl_module_free(net);
    tl_release(x);
    tl_release(y);
    tl_shutdown(); /* this thread's caches go back to the allocator before it ends */
    return NULL;
}

static void init_jobs(job *a, job *b) {
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    a->seed = 1;
    a->hidden = 16;
    b->seed = 2;
    b->hidden = 24;
}

TEST(two_threads_train_like_one_after_the_other) {
    job seq[2], par[2];
    tl__thread th[2];
    int k, s;
    init_jobs(&seq[0], &seq[1]);
    run_job(&seq[0]);
    run_job(&seq[1]);
    for (k = 0; k < 2; k++)
        if (!CHECK_EQ_INT(seq[k].status, TL_OK)) printf("    job %d: %s\n", k, seq[k].error);
    CHECK(seq[0].losses[STEPS - 1] < seq[0].losses[0]); /* they do train */
    init_jobs(&par[0], &par[1]);
    REQUIRE(tl__thread_start(&th[0], run_job, &par[0]));
    REQUIRE(tl__thread_start(&th[1], run_job, &par[1]));
    tl__thread_join(&th[0]);
    tl__thread_join(&th[1]);
    for (k = 0; k < 2; k++) {
        if (!CHECK_EQ_INT(par[k].status, TL_OK)) printf("    thread %d: %s\n", k, par[k].error);
        for (s = 0; s < STEPS; s++) CHECK(par[k].losses[s] == seq[k].losses[s]); /* bit for bit */
        CHECK(par[k].checksum == seq[k].checksum);
    }
    CHECK(seq[0].checksum != seq[1].checksum);
}

/* An error in one thread is that thread's: the other's state stays clean. */
static void *fail_once(void *arg) {
    int *got = (int *)arg;
    tl_scope s = tl_scope_begin();
    tl_tensor *r = tl_matmul(tl_zeros(TL_SHAPE(2, 3), TL_F32), tl_zeros(TL_SHAPE(4, 5), TL_F32));
    got[0] = r == NULL && tl_last_status() == TL_ERR_SHAPE && strstr(tl_last_error(), "tl_matmul") != NULL;
    tl_scope_end(s);
    tl_clear_error();
    tl_shutdown();
    return NULL;
}
TEST(errors_are_per_thread) {
    tl__thread t;
    int got = 0;
    REQUIRE(tl__thread_start(&t, fail_once, &got));
    tl__thread_join(&t);
    CHECK(got);
    CHECK_EQ_INT(tl_last_status(), TL_OK);
    CHECK_STR(tl_last_error(), "");
}

static const th_case tests[] = {
    TH_CASE(two_threads_train_like_one_after_the_other),
    TH_CASE(errors_are_per_thread),
};
#else
TH_SKIP_ALL(no_threads, "built without threads");
#endif

int main(void) { return TH_RUN(tests); }
