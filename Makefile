# pyexecd: the only build entry. `make` builds the daemon for MODE (local or cloud) and the
# rootfs; `make run` serves; `make test` runs every test; `make check` is the quick loop.
MODE ?= local
BUILD := build
ROOTFS ?= $(BUILD)/rootfs
CC := gcc

ifeq ($(filter $(MODE),local cloud),)
$(error MODE must be local or cloud, not '$(MODE)')
endif

# Debian packages: to build and run, and in addition to test.
BUILD_PACKAGES := gcc g++ libc6-dev make pkg-config libevent-dev libyajl-dev libseccomp-dev \
	python3 ca-certificates cmake dpkg-dev patch debian-archive-keyring
# python3-yaml: tests/validate_deploy.py. runsc: gVisor, for the matrix and the cloud image.
# podman, runc, mmdebstrap: build and run the images (crun refuses this host's hybrid cgroup
# layout; mmdebstrap makes a local debian:bookworm-slim when podman has none).
# clang: the libFuzzer harnesses (tests/fuzz).
TEST_PACKAGES := clang-format valgrind curl python3-yaml runsc podman runc mmdebstrap clang

# Recursive (=) so pkg-config runs after the packages are installed; library headers are
# system headers (evhtp.h has old-style prototypes). libevhtp is our patched static build
# (patches/evhtp.mk), not Debian's libevhtp-dev.
CFLAGS = -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-fstack-protector-strong -D_FORTIFY_SOURCE=2 $(EVHTP_CFLAGS) \
	$(patsubst -I%,-isystem %,$(shell pkg-config --cflags yajl libseccomp))
LDLIBS = $(EVHTP_LIBS) -lyajl -lseccomp -lpthread
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

SRC := $(filter-out src/main.c,$(wildcard src/*.c))
COMMON := $(wildcard modes/common/*.c)

.PHONY: all run test check unit format format-check deps test-deps clean test-images test-deploy bench \
	test-matrix
all: $(BUILD)/$(MODE)/pyexecd rootfs

# --- Debian packages (apt-get update once, then install what is missing) -------------------
DEPS_STAMP := $(BUILD)/.deps
TEST_DEPS_STAMP := $(BUILD)/.test-deps
define install_missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
		grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages:" $$missing; exit 1; fi; \
		echo "installing:" $$missing; \
		[ -e $(BUILD)/.apt-updated ] || { apt-get update && touch $(BUILD)/.apt-updated; } && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi
endef
$(DEPS_STAMP): Makefile
	@mkdir -p $(BUILD)
	$(call install_missing,$(BUILD_PACKAGES))
	@touch $@
$(TEST_DEPS_STAMP): Makefile
	@mkdir -p $(BUILD)
	$(call install_missing,$(BUILD_PACKAGES) $(TEST_PACKAGES))
	@touch $@
deps: $(DEPS_STAMP)
test-deps: $(TEST_DEPS_STAMP)

# --- the daemon: one object tree per variant ---------------------------------------------------
# variant name, jail (modes/<jail>), extra compiler flags
define variant
$(1)_OBJS := $$(patsubst %.c,$(BUILD)/$(1)/obj/%.o,$(SRC) $(COMMON) $$(wildcard modes/$(2)/*.c))
$(BUILD)/$(1)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $(3) -MMD -MP -c $$< -o $$@
$(BUILD)/$(1)/pyexecd: $(BUILD)/$(1)/obj/src/main.o $$($(1)_OBJS)
	$$(CC) $(3) -o $$@ $$^ $$(LDLIBS)
-include $$($(1)_OBJS:.o=.d) $(BUILD)/$(1)/obj/src/main.d
endef
$(eval $(call variant,local,local,))
$(eval $(call variant,cloud,cloud,))
$(eval $(call variant,asan,local,$(SANITIZE)))

include rootfs/rootfs.mk

run: all
	./$(BUILD)/$(MODE)/pyexecd --rootfs $(ROOTFS)

# --- tests ---------------------------------------------------------------------------------------
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(wildcard tests/unit/test_*.c))
$(BUILD)/unit/%: tests/unit/%.c $(SRC) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANITIZE) -Isrc -o $@ $< $(SRC) $(COMMON) $(wildcard modes/local/*.c) $(LDLIBS)

# The cloud jail's cleaning, linked alone (the two jails' files cannot be linked together).
$(BUILD)/unit/test_clean: tests/unit/test_clean.c modes/cloud/clean.c modes/cloud/fs.c \
		modes/cloud/uid.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANITIZE) -Isrc -o $@ $(filter %.c,$^) $(LDLIBS)

unit: $(UNIT_TESTS) $(TEST_DEPS_STAMP)
	@for t in $(UNIT_TESTS); do echo "== $$t"; $$t || exit 1; done

format-check: $(TEST_DEPS_STAMP)
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# The quick loop: unit tests, then the API and hostile suites against the local build.
check: unit $(BUILD)/local/pyexecd rootfs
	tests/startup_test.sh $(BUILD)/local/pyexecd
	tests/run-suite.sh $(BUILD)/local/pyexecd

# The mode x runtime matrix: cloud build on the host and under gVisor, local build under gVisor
# (the local build on the host is `test`'s own first leg).
test-matrix: $(TEST_DEPS_STAMP) $(BUILD)/local/pyexecd $(BUILD)/cloud/pyexecd rootfs
	tests/matrix.sh

test-deploy: $(TEST_DEPS_STAMP) $(BUILD)/local/pyexecd
	/usr/bin/python3 tests/validate_deploy.py --pyexecd $(BUILD)/local/pyexecd

# Both images, built with podman (a test package) from a clean clone of HEAD (IMAGES_ARGS=--worktree
# for uncommitted work), run and put through the suites; part of `test`. Both images took 115 s
# with podman's layer cache warm, 201 s with an empty store (base image present).
test-images: $(TEST_DEPS_STAMP)
	tests/images.sh $(IMAGES_ARGS)

test: $(TEST_DEPS_STAMP) format-check unit $(BUILD)/local/pyexecd $(BUILD)/asan/pyexecd rootfs
	rootfs/check.sh $(ROOTFS)
	tests/startup_test.sh $(BUILD)/local/pyexecd
	tests/run-suite.sh $(BUILD)/local/pyexecd
	# The sanitizer leg runs the cold jail (warm start off): both ways of starting a sandbox
	# go through the suites in every run.
	PYEXECD_WARM_START=0 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		tests/run-suite.sh $(BUILD)/asan/pyexecd
	tests/valgrind.sh $(BUILD)/local/pyexecd
	$(MAKE) test-matrix test-deploy test-images

# A benchmark, not a test: cold (warm start off) against warm, side by side, per build and
# runtime. It prints figures and fails only if the daemon does not start or answers wrongly.
bench: $(TEST_DEPS_STAMP) $(BUILD)/local/pyexecd $(BUILD)/cloud/pyexecd rootfs
	tests/bench.sh $(BENCH_ARGS)

clean:
	rm -rf $(BUILD)/local $(BUILD)/cloud $(BUILD)/asan $(BUILD)/unit $(BUILD)/fuzz

# libevhtp from Debian's source with patches/libevhtp/ (last: it adds prerequisites to the
# daemon's objects and the unit tests defined above, and `evhtp-check` to `test`), then the
# fuzzers (`make fuzz`; `fuzz-check` is part of `test`; optional, as the images build from a
# context without tests/).
include patches/evhtp.mk
-include tests/fuzz/fuzz.mk
