# tensorlite: make demo | make test | make examples | make bench
CC      ?= cc
PY      ?= /usr/bin/python3
STRICT  := -std=c99 -Wall -Wextra -Wpedantic -Werror
CFLAGS  ?= -O2 -g
SAN     := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
BUILD   := build
TESTS   := $(patsubst tests/%.c,%,$(wildcard tests/test_*.c))
EXAMPLES:= $(patsubst examples/%.c,%,$(wildcard examples/*.c))

.PHONY: all demo test test-compile test-c test-asan test-torch examples bench fuzz valgrind clean deps

all: examples

$(BUILD):
	@mkdir -p $(BUILD) $(BUILD)/asan

# ---- demo: the flagship, LeNet-5 on Fashion-MNIST (examples/fashion_mnist.c); installs the data set
# with apt-get when it is missing (tests/deps.sh demo); PyTorch, when present, checks the weights.
# DEMO_ARGS passes options (make demo DEMO_ARGS="--epochs 2 --threads 2").
DEMO_ARGS ?=
demo: $(BUILD)
	@sh tests/deps.sh demo
	@mkdir -p $(BUILD)/examples
	gcc $(STRICT) -O2 -I. examples/fashion_mnist.c -o $(BUILD)/examples/fashion_mnist -lm
	./$(BUILD)/examples/fashion_mnist $(DEMO_ARGS)
	@if $(PY) -c 'import torch' 2>/dev/null; then echo "==== PyTorch loads build/demo/lenet.pt (weights_only=True, strict=True):"; \
	  $(PY) examples/fashion_mnist.py --eval build/demo/lenet.pt; \
	  else echo "(install python3-torch to let PyTorch evaluate build/demo/lenet.pt)"; fi

# ---- test: strict compile matrix, C suite (plain + ASan/UBSan), PyTorch oracle ----
test:
	@sh tests/run_all.sh

test-compile: $(BUILD)
	@printf '#define TL_IMPLEMENTATION\n#include "tensorlite.h"\nint main(void){return 0;}\n' > $(BUILD)/impl.c
	@cp $(BUILD)/impl.c $(BUILD)/impl.cpp
	gcc   $(STRICT) -O1 -I. -c $(BUILD)/impl.c -o $(BUILD)/impl_gcc.o
	clang $(STRICT) -O1 -I. -c $(BUILD)/impl.c -o $(BUILD)/impl_clang.o
	g++   -std=c++11 -Wall -Wextra -Wpedantic -Werror -O1 -I. -c $(BUILD)/impl.cpp -o $(BUILD)/impl_cpp.o
	gcc   $(STRICT) -O1 -I. -DTL_STATIC -DTL_NO_STDIO -DTL_NO_THREAD_LOCALS -c $(BUILD)/impl.c -o $(BUILD)/impl_static.o
	gcc   $(STRICT) -O1 -I. -c tensorlite.c -o $(BUILD)/tensorlite.o
	sh tests/readme_snippets.sh $(BUILD)/readme
	@echo "test-compile: ok"

$(BUILD)/test_%: tests/test_%.c tensorlite.h $(wildcard tests/*.h) | $(BUILD)
	$(CC) $(STRICT) $(CFLAGS) -I. -Itests $< -o $@ -lm

$(BUILD)/asan/test_%: tests/test_%.c tensorlite.h $(wildcard tests/*.h) | $(BUILD)
	$(CC) $(STRICT) $(SAN) -I. -Itests $< -o $@ -lm

test-c: $(addprefix $(BUILD)/,$(TESTS))
	@set -e; for t in $(TESTS); do echo "== $$t"; ./$(BUILD)/$$t; done

test-asan: $(addprefix $(BUILD)/asan/,$(TESTS))
	@set -e; for t in $(TESTS); do echo "== asan $$t"; ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./$(BUILD)/asan/$$t; done

test-torch: $(BUILD)
	@sh tests/torch/run.sh

examples: $(BUILD)
	@mkdir -p $(BUILD)/examples
	@for e in $(EXAMPLES); do echo "building $(BUILD)/examples/$$e"; \
	  $(CC) $(STRICT) -O2 -I. examples/$$e.c -o $(BUILD)/examples/$$e -lm || exit 1; done

bench: $(BUILD)
	@sh bench/run.sh

# ---- fuzz: each libFuzzer target for FUZZ_SECONDS (default 600) with clang; make test runs them briefly
FUZZ_SECONDS ?= 600
fuzz: $(BUILD)
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

# ---- valgrind: every C test under memcheck (slow; not part of make test)
valgrind: $(BUILD)
	@sh tests/valgrind.sh

clean:
	rm -rf $(BUILD)
