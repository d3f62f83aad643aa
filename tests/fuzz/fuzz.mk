# libFuzzer harnesses (clang, ASan + UBSan) for what a client or a sandbox can feed the daemon.
# Included by the top-level Makefile after patches/evhtp.mk.
#
#   make fuzz        each harness for FUZZ_SECONDS (default 60), its corpus growing in
#                    build/fuzz/corpus/NAME (seeded from tests/fuzz/corpus/NAME)
#   make fuzz-check  each harness over its seed corpus, then a bounded run of FUZZ_CHECK_SECONDS
#                    (default 4) each; part of `make test`
#   make fuzz-coverage  line, function and region coverage of the corpora (build/fuzz/corpus/NAME
#                    and the seeds) with clang's source-based coverage; needs llvm-cov and
#                    llvm-profdata (Debian package llvm)
#
# fuzz_http links the HTTP layer (src/http*.c and the routes) with libevhtp built by clang with
# the same sanitizers and coverage (patches/evhtp.mk's fuzz variant), so the patched parser is
# fuzzed too.
FUZZ_DIR := tests/fuzz
FUZZ_BUILD := $(BUILD)/fuzz
FUZZ_NAMES := fuzz_http fuzz_json fuzz_utf8 fuzz_result
FUZZ_SECONDS ?= 60
FUZZ_CHECK_SECONDS ?= 4
FUZZ_COMMON_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror -Wshadow -Isrc \
	$(patsubst -I%,-isystem %,$(shell pkg-config --cflags yajl))
FUZZ_CFLAGS = $(FUZZ_COMMON_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-isystem $(EVHTP_FUZZ_PREFIX)/include
FUZZ_LIBS = -lyajl -levent -lpthread

# What each harness links besides itself.
FUZZ_utf8_SRC := src/utf8.c
FUZZ_json_SRC := src/json_in.c src/utf8.c
FUZZ_result_SRC := src/result.c src/response.c src/json_in.c src/utf8.c src/buf.c src/errors.c
FUZZ_http_SRC := $(filter-out src/main.c src/admission.c src/supervisor.c src/classify.c, \
	$(wildcard src/*.c)) $(FUZZ_DIR)/stub_admission.c

# (every harness includes evhtp's headers through src/, so all wait for the fuzz library)
$(FUZZ_BUILD)/%: $(FUZZ_DIR)/%.c $(wildcard src/*.c src/*.h) $(FUZZ_DIR)/stub_admission.c \
		$(EVHTP_FUZZ_STAMP) | $(TEST_DEPS_STAMP)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_$(patsubst fuzz_%,%,$*)_SRC) \
		$(if $(filter fuzz_http,$*),$(EVHTP_FUZZ_PREFIX)/lib/libevhtp.a -levent_pthreads) \
		$(FUZZ_LIBS)

# Coverage builds: the harnesses and libevhtp without sanitizers, with coverage mapping.
FUZZ_COV_CFLAGS = $(FUZZ_COMMON_CFLAGS) -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
	-isystem $(EVHTP_COV_PREFIX)/include
$(FUZZ_BUILD)/cov/%: $(FUZZ_DIR)/%.c $(wildcard src/*.c src/*.h) $(FUZZ_DIR)/stub_admission.c \
		$(EVHTP_COV_STAMP) | $(TEST_DEPS_STAMP)
	@mkdir -p $(@D)
	clang $(FUZZ_COV_CFLAGS) -o $@ $< $(FUZZ_$(patsubst fuzz_%,%,$*)_SRC) \
		$(if $(filter fuzz_http,$*),$(EVHTP_COV_PREFIX)/lib/libevhtp.a -levent_pthreads) \
		$(FUZZ_LIBS)

.PHONY: fuzz fuzz-check fuzz-coverage
fuzz: $(addprefix $(FUZZ_BUILD)/,$(FUZZ_NAMES))
	$(FUZZ_DIR)/run.sh fuzz $(FUZZ_SECONDS) $(FUZZ_BUILD) $(FUZZ_NAMES)

fuzz-check: $(addprefix $(FUZZ_BUILD)/,$(FUZZ_NAMES))
	$(FUZZ_DIR)/run.sh check $(FUZZ_CHECK_SECONDS) $(FUZZ_BUILD) $(FUZZ_NAMES)

fuzz-coverage: $(addprefix $(FUZZ_BUILD)/cov/,$(FUZZ_NAMES))
	$(FUZZ_DIR)/coverage.sh $(FUZZ_BUILD) $(FUZZ_NAMES)

test: fuzz-check
