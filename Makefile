# dlc — one non-recursive Makefile.
#
#   make            build dlc and the runtime into $(BUILD)/
#   make test       build everything and run every test
#   make demo       compile models/mlp.dlm and run it on Fashion-MNIST
#   make SAN=1      the same, built with AddressSanitizer + UBSan (build-san/)
#   make gpu-bundle build what make test-gpu runs into $(BUILD)/gpu/ (here)
#   make test-gpu   on a machine with an NVIDIA GPU: ops, training and speed
#                   from $(BUILD)/gpu/ (tests/gpu/run.sh); SKIP without one
#
# Missing Debian packages (flex, bison, dataset-fashion-mnist; valgrind for
# the tests) are installed with apt-get when absent.

CC          ?= cc
LLVM_CONFIG ?= llvm-config
SAN         ?=
ifeq ($(SAN),1)
BUILD       ?= build-san
SANFLAGS    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD       ?= build
SANFLAGS    :=
endif
WERROR      ?= -Werror
OPT         ?= -O2 -g

WARN    := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wwrite-strings -Wno-format-truncation -Wno-unknown-warning-option $(WERROR)
# flex and bison output is not ours to keep pedantic-clean.
GENWARN := -std=c11 -Wall -Wextra $(WERROR) -Wno-format-truncation -Wno-unknown-warning-option -Wno-unused-function -Wno-sign-compare \
           -Wno-unused-but-set-variable
BASEFLAGS := -D_GNU_SOURCE $(OPT) $(SANFLAGS) -MMD -MP
LLVM_CFLAGS := $(shell $(LLVM_CONFIG) --cflags 2>/dev/null | sed 's/-DNDEBUG//')
LLVM_LIBS   := $(shell $(LLVM_CONFIG) --ldflags --libs 2>/dev/null)

FMNIST := /usr/share/datasets/fashion-mnist

IR_SRC       := $(wildcard ir/*.c)
FRONTEND_SRC := $(wildcard frontend/*.c)
PASSES_SRC   := $(wildcard passes/*.c)
CODEGEN_SRC  := $(wildcard codegen/*.c)
RUNTIME_SRC  := $(wildcard runtime/*.c)
GEN_SRC      := $(BUILD)/frontend/lexer.c $(BUILD)/frontend/parser.c

COMPILER_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(IR_SRC) $(FRONTEND_SRC) $(PASSES_SRC) $(CODEGEN_SRC)) \
                $(GEN_SRC:.c=.o)
RUNTIME_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(RUNTIME_SRC))

all: $(BUILD)/dlc $(BUILD)/libdlrt.a $(BUILD)/tools

# ---- Debian packages the build needs ----------------------------------------

$(BUILD)/.deps:
	@mkdir -p $(BUILD)
	@if ! command -v flex >/dev/null || ! command -v bison >/dev/null; then \
	  echo "installing flex and bison (apt-get)"; \
	  apt-get install -y -qq flex bison >/dev/null 2>&1 || \
	  { apt-get update -qq && apt-get install -y -qq flex bison; } || \
	  { echo "error: flex and bison are needed; install them (apt-get install flex bison)"; exit 1; }; \
	fi
	@touch $@

$(FMNIST)/t10k-images-idx3-ubyte.gz:
	@echo "installing dataset-fashion-mnist (apt-get)"
	@apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	  { apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; } || \
	  { echo "error: Fashion-MNIST is needed; install dataset-fashion-mnist"; exit 1; }

dataset: $(FMNIST)/t10k-images-idx3-ubyte.gz

# valgrind, for tests/e2e/header.sh (which says SKIP for that part without it).
$(BUILD)/.valgrind:
	@mkdir -p $(BUILD)
	@command -v valgrind >/dev/null || { echo "installing valgrind (apt-get)"; \
	  apt-get install -y -qq valgrind >/dev/null 2>&1 || \
	  { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null 2>&1; } || \
	  echo "warning: valgrind could not be installed; tests/e2e/header.sh skips its valgrind run"; }
	@touch $@

# ---- the compiler ------------------------------------------------------------

$(BUILD)/frontend/parser.c $(BUILD)/frontend/parser.h: frontend/parser.y $(BUILD)/.deps
	@mkdir -p $(dir $@)
	bison -Wall -Werror --defines=$(BUILD)/frontend/parser.h -o $(BUILD)/frontend/parser.c $<

$(BUILD)/frontend/lexer.c: frontend/lexer.l $(BUILD)/frontend/parser.h $(BUILD)/.deps
	@mkdir -p $(dir $@)
	flex -o $@ $<

$(BUILD)/frontend/%.o: $(BUILD)/frontend/%.c
	$(CC) $(BASEFLAGS) $(GENWARN) -Ifrontend -Iir -I$(BUILD)/frontend -c $< -o $@

$(BUILD)/codegen/%.o: codegen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(WARN) $(LLVM_CFLAGS) -Iir -Ipasses -Icodegen -Iruntime \
	  -DDLC_LINK_FLAGS='"$(SANFLAGS)"' -c $< -o $@

$(BUILD)/frontend/%.o: frontend/%.c $(BUILD)/frontend/parser.h
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(WARN) -Ifrontend -Iir -I$(BUILD)/frontend -c $< -o $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(WARN) -Iir -Ipasses -Icodegen -Ifrontend -Iruntime -c $< -o $@

$(BUILD)/dlc: $(COMPILER_OBJ) $(BUILD)/dlc.o $(BUILD)/libdlrt.a
	$(CC) $(SANFLAGS) -o $@ $(COMPILER_OBJ) $(BUILD)/dlc.o $(BUILD)/libdlrt.a $(LLVM_LIBS) -lz -lm -lpthread \
	  -Wl,-rpath,$(shell $(LLVM_CONFIG) --libdir)

# ---- the runtime linked into generated programs ------------------------------

$(BUILD)/libdlrt.a: $(RUNTIME_OBJ)
	@rm -f $@
	ar rcs $@ $^

# ---- test tools --------------------------------------------------------------

TOOLS := $(BUILD)/tools/npycmp $(BUILD)/tools/ckptcmp $(BUILD)/tools/ckptdump \
         $(BUILD)/tools/seqdata \
         $(BUILD)/cudaemu/libcuda.so.1
$(BUILD)/tools: $(TOOLS)
# A stand-in CUDA driver that runs kernels on the CPU (tests/e2e/cuda_emu.sh).
$(BUILD)/cudaemu/libcuda.so.1: tests/tools/cudaemu.c runtime/dlrt.h
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(WARN) -fPIC -shared -Iruntime -o $@ $< -lpthread
$(BUILD)/tools/%: tests/tools/%.c $(BUILD)/libdlrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(WARN) -Iruntime -o $@ $< $(BUILD)/libdlrt.a -lz -lm -lpthread

UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))
$(BUILD)/unit/%: tests/unit/%.c $(COMPILER_OBJ) $(BUILD)/libdlrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(WARN) $(LLVM_CFLAGS) -Iir -Ipasses -Icodegen -Ifrontend -Iruntime -o $@ $< \
	  $(COMPILER_OBJ) $(BUILD)/libdlrt.a $(LLVM_LIBS) -lz -lm -lpthread -Wl,-rpath,$(shell $(LLVM_CONFIG) --libdir)

# Runtime tests need only the runtime (and may link a hand-written fake
# model object: tests/rt/fake_*.c files are linked into every runtime test).
RT_SRC  := $(filter-out tests/rt/fake_%.c,$(wildcard tests/rt/*.c))
RT_FAKE := $(wildcard tests/rt/fake_*.c)
RT_BIN  := $(patsubst tests/rt/%.c,$(BUILD)/rt/%,$(RT_SRC))
$(BUILD)/rt/%: tests/rt/%.c $(RT_FAKE) $(BUILD)/libdlrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(WARN) -Iruntime -o $@ $< $(RT_FAKE) $(BUILD)/libdlrt.a -lz -lm -lpthread

# Fake generated programs: a hand-written model (manifest + dlrt_forward)
# linked with the runtime's main(), driven by tests/e2e/runtime_cli.sh.
# They live in rtprog/, not rt/, because every program in rt/ is run as a
# test. fake_other is another model, for wrong-checkpoint tests.
# fake_train and fake_adam have all three entries (a hand-written softmax
# regression with SGD+momentum or Adam), for tests/e2e/train_cli.sh.
RT_PROG := $(BUILD)/rtprog/fake_prog $(BUILD)/rtprog/fake_other \
           $(BUILD)/rtprog/fake_train $(BUILD)/rtprog/fake_adam
RT_BIN  += $(RT_PROG)
$(BUILD)/rtprog/fake_prog: tests/rt/prog/fake_model.c $(BUILD)/libdlrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(WARN) -Iruntime -o $@ $< $(BUILD)/libdlrt.a -lz -lm -lpthread
$(BUILD)/rtprog/fake_other: tests/rt/prog/fake_model.c $(BUILD)/libdlrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(WARN) -DFAKE_OTHER -Iruntime -o $@ $< $(BUILD)/libdlrt.a -lz -lm -lpthread
$(BUILD)/rtprog/fake_train: tests/rt/prog/fake_train.c $(BUILD)/libdlrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(WARN) -Iruntime -o $@ $< $(BUILD)/libdlrt.a -lz -lm -lpthread
$(BUILD)/rtprog/fake_adam: tests/rt/prog/fake_train.c $(BUILD)/libdlrt.a
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(WARN) -DFAKE_ADAM -Iruntime -o $@ $< $(BUILD)/libdlrt.a -lz -lm -lpthread

# ---- fuzzing ------------------------------------------------------------------
#
# tests/fuzz/<target>.c are libFuzzer targets for every reader of untrusted
# input (tests/fuzz/fuzz.h). `make fuzz` builds them with clang into
# $(BUILD)/fuzz/ and runs each for FUZZ_SECONDS from its seed corpus
# (tests/fuzz/<target>/); any crash, sanitizer report, leak or hang fails.
# The same targets are built without libFuzzer into $(BUILD)/fuzzrun/ so
# that `make test` replays the regression inputs (tests/e2e/fuzz_regress.sh).

FUZZ_TARGETS := dlm ir ckpt idx npy csv text
FUZZ_SECONDS ?= 10
FUZZ_CC      ?= clang
FUZZ_FLAGS   := -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_INC     := -Iir -Ifrontend -I$(BUILD)/frontend -Iruntime -Itests/fuzz
FUZZ_LIB     := $(patsubst %.c,$(BUILD)/fuzz-obj/%.o,$(IR_SRC) $(FRONTEND_SRC) \
                  $(filter-out runtime/main.c,$(RUNTIME_SRC)) tests/fuzz/fuzz_util.c) \
                $(BUILD)/fuzz-obj/gen/lexer.o $(BUILD)/fuzz-obj/gen/parser.o
FUZZ_BIN     := $(patsubst %,$(BUILD)/fuzz/%,$(FUZZ_TARGETS))
FUZZ_RUN     := $(patsubst %,$(BUILD)/fuzzrun/%,$(FUZZ_TARGETS))
.SECONDARY: $(FUZZ_LIB)

$(BUILD)/fuzz-obj/gen/%.o: $(BUILD)/frontend/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(GENWARN) $(FUZZ_INC) -c $< -o $@
$(BUILD)/fuzz-obj/%.o: %.c $(BUILD)/frontend/parser.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(WARN) $(FUZZ_INC) -c $< -o $@
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $(WARN) $(FUZZ_INC) -o $@ $< $(FUZZ_LIB) -lz -lm -lpthread

$(BUILD)/fuzzrun/%: tests/fuzz/%.c tests/fuzz/replay.c tests/fuzz/fuzz_util.c \
                    $(patsubst %.c,$(BUILD)/%.o,$(IR_SRC) $(FRONTEND_SRC)) $(GEN_SRC:.c=.o) $(BUILD)/libdlrt.a
	@mkdir -p $(dir $@)
	$(CC) -D_GNU_SOURCE $(OPT) $(SANFLAGS) $(WARN) $(FUZZ_INC) -o $@ $(filter %.c %.o %.a,$^) -lz -lm -lpthread
test: $(FUZZ_RUN)

fuzz: $(FUZZ_BIN)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD)/fuzz/corpus/$$t; \
	  echo "fuzz $$t: $(FUZZ_SECONDS) s"; \
	  $(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -max_len=16384 -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$$t- \
	    $(BUILD)/fuzz/corpus/$$t tests/fuzz/$$t $$(ls -d tests/fuzz/regress/$$t 2>/dev/null) \
	    >$(BUILD)/fuzz/$$t.log 2>&1 || \
	  { tail -60 $(BUILD)/fuzz/$$t.log; echo "fuzz $$t: FAILED (input in $(BUILD)/fuzz/$$t-*)"; exit 1; }; \
	  grep -E 'stat::number_of_executed_units|^#.*DONE' $(BUILD)/fuzz/$$t.log | tail -1; \
	done

# ---- the two commands --------------------------------------------------------

test: all $(UNIT_BIN) $(RT_BIN) dataset $(BUILD)/.valgrind
	@BUILD=$(BUILD) SAN=$(SAN) bash tests/run.sh

demo: all dataset
	@BUILD=$(BUILD) bash tests/demo.sh

# The GPU tests run from binaries built here: the GPU machine needs only its
# driver (see tests/gpu/prepare.sh and doc/cuda.txt).
gpu-bundle: all $(BUILD)/unit/test_ops dataset
	@BUILD=$(BUILD) bash tests/gpu/prepare.sh

test-gpu:
	@if [ -f $(BUILD)/gpu/run.sh ]; then bash $(BUILD)/gpu/run.sh; else bash tests/gpu/run.sh; fi

bench: all dataset
	@BUILD=$(BUILD) bash bench/bench.sh

clean:
	rm -rf build build-san

.PHONY: all test demo bench clean dataset fuzz gpu-bundle test-gpu
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
