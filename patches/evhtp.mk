# pyexecd's libevhtp: Debian's libevhtp source package, fetched with apt and verified
# (patches/debian-source.sh), plus patches/libevhtp/*.patch, built as a static,
# position-independent library that the daemon and the unit tests link instead of Debian's
# libevhtp.so. Included by the top-level Makefile, after its daemon variants and unit tests.
#
#   make evhtp        build $(EVHTP_PREFIX): again only when a patch, this file or
#                     debian-source.sh changed (a new version downloads again)
#   make evhtp-check  tests/evhtp against the patched library, natively and under valgrind (part
#                     of `make test`)
#   make test-evhtp   also builds the library without patches/libevhtp (for this test only) and
#                     shows the test failing there and passing with the patches
#   $(EVHTP_FUZZ_STAMP) the patched library built by clang with ASan, UBSan and libFuzzer's
#                     coverage, for tests/fuzz (tests/fuzz/fuzz.mk)
#
# For the top-level Makefile: EVHTP_CFLAGS (the headers, as a system directory: the generated
# evhtp/config.h decides struct layouts, so pyexecd must compile against the headers of the
# library it links, never /usr/include/evhtp) and EVHTP_LIBS.

# This fragment's directory (immediately expanded: MAKEFILE_LIST grows with every include).
EVHTP_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
EVHTP_DEB_PACKAGE := libevhtp
EVHTP_DEB_VERSION := 1.2.18-2
EVHTP_ROOT := $(BUILD)/evhtp
EVHTP_PATCHES := $(sort $(wildcard $(EVHTP_DIR)/libevhtp/*.patch))
EVHTP_DOWNLOAD := $(EVHTP_ROOT)/download-$(EVHTP_DEB_VERSION)
EVHTP_PREFIX := $(EVHTP_ROOT)/patched
EVHTP_STAMP := $(EVHTP_PREFIX)/.pyexecd-stamp
EVHTP_LIB := $(EVHTP_PREFIX)/lib/libevhtp.a
EVHTP_CFLAGS := -isystem $(EVHTP_PREFIX)/include
EVHTP_LIBS := $(EVHTP_LIB) -levent -levent_pthreads
EVHTP_FUZZ_PREFIX := $(EVHTP_ROOT)/fuzz
EVHTP_FUZZ_STAMP := $(EVHTP_FUZZ_PREFIX)/.pyexecd-stamp

# The library keeps what pyexecd uses (evhtp_set_gencb, hooks, pause/resume, timeouts, the body
# cap; evthr stays, as in Debian's build) and drops TLS and regex callbacks, which it does not:
# no OpenSSL or Oniguruma code in the daemon. Debian 12's default hardening flags
# (dpkg-buildflags), -g for valgrind's traces; no -Werror on third-party code.
EVHTP_CMAKE_FLAGS := -DCMAKE_BUILD_TYPE=None -DBUILD_SHARED_LIBS=OFF \
	-DCMAKE_POSITION_INDEPENDENT_CODE=ON -DEVHTP_DISABLE_SSL=ON -DEVHTP_DISABLE_REGEX=ON \
	-DEVHTP_DISABLE_EVTHR=OFF \
	-DCMAKE_C_FLAGS="-g -O2 -fstack-protector-strong -Wformat -Werror=format-security -D_FORTIFY_SOURCE=2"
# The test is our code: our warnings.
EVHTP_TEST_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes

# evhtp_build NAME, PATCHES[, CMAKE FLAGS]: unpacks the verified source into $(EVHTP_ROOT)/NAME.src, applies
# PATCHES, builds the library alone (not upstream's examples) in NAME.obj and installs it into
# $(EVHTP_ROOT)/NAME. The stamp comes last and says what went in: it exists only for a complete
# build. cmake's chatter goes to NAME.log, shown when a step fails.
define evhtp_build
	rm -rf $(EVHTP_ROOT)/$(1) $(EVHTP_ROOT)/$(1).src $(EVHTP_ROOT)/$(1).obj
	$(EVHTP_DIR)/debian-source.sh extract $(EVHTP_DEB_PACKAGE) $(EVHTP_DEB_VERSION) \
		$(EVHTP_DOWNLOAD) $(EVHTP_ROOT)/$(1).src
	@set -e; for p in $(2); do echo "applying $$p"; \
		patch -d $(EVHTP_ROOT)/$(1).src -p1 --fuzz=0 --no-backup-if-mismatch --quiet <$$p; done
	@echo "building libevhtp ($(1)) in $(EVHTP_ROOT)/$(1).obj"
	@{ cmake -S $(EVHTP_ROOT)/$(1).src -B $(EVHTP_ROOT)/$(1).obj $(EVHTP_CMAKE_FLAGS) $(3) && \
		cmake --build $(EVHTP_ROOT)/$(1).obj --target evhtp --parallel $$(nproc) && \
		cmake --install $(EVHTP_ROOT)/$(1).obj --prefix $(EVHTP_ROOT)/$(1); } \
		>$(EVHTP_ROOT)/$(1).log 2>&1 || { tail -n 40 $(EVHTP_ROOT)/$(1).log; exit 1; }
	@grep -q '^#define EVHTP_DISABLE_SSL' $(EVHTP_ROOT)/$(1)/include/evhtp/config.h || \
		{ echo "$(EVHTP_ROOT)/$(1): the generated config.h does not disable TLS"; exit 1; }
	@{ echo "$(EVHTP_DEB_PACKAGE) $(EVHTP_DEB_VERSION) from Debian's archive"; \
		cat $(EVHTP_ROOT)/$(1).src/.pyexecd-debian-diff-missing 2>/dev/null || true; \
		echo "patches: $(or $(notdir $(2)),none)"; } >$(EVHTP_ROOT)/$(1)/.pyexecd-stamp
endef

# The download, once per version (and again if the script changes).
$(EVHTP_DOWNLOAD)/FETCHED: $(EVHTP_DIR)/debian-source.sh | $(DEPS_STAMP)
	$(EVHTP_DIR)/debian-source.sh fetch $(EVHTP_DEB_PACKAGE) $(EVHTP_DEB_VERSION) $(EVHTP_DOWNLOAD)

# The directory too: removing or renaming a patch must rebuild.
$(EVHTP_STAMP): $(EVHTP_DOWNLOAD)/FETCHED $(EVHTP_PATCHES) $(EVHTP_DIR)/libevhtp \
		$(EVHTP_DIR)/evhtp.mk | $(DEPS_STAMP)
	$(call evhtp_build,patched,$(EVHTP_PATCHES))

$(EVHTP_ROOT)/unpatched/.pyexecd-stamp: $(EVHTP_DOWNLOAD)/FETCHED $(EVHTP_DIR)/evhtp.mk | $(DEPS_STAMP)
	$(call evhtp_build,unpatched,)

# (clang is a test package; the flags are a variable because $(call) splits at commas)
EVHTP_FUZZ_CMAKE_FLAGS := -DCMAKE_C_COMPILER=clang \
	-DCMAKE_C_FLAGS="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
$(EVHTP_FUZZ_STAMP): $(EVHTP_DOWNLOAD)/FETCHED $(EVHTP_PATCHES) $(EVHTP_DIR)/libevhtp \
		$(EVHTP_DIR)/evhtp.mk | $(TEST_DEPS_STAMP)
	$(call evhtp_build,fuzz,$(EVHTP_PATCHES),$(EVHTP_FUZZ_CMAKE_FLAGS))

# The same with clang's source-based coverage instead of the sanitizers (make fuzz-coverage).
EVHTP_COV_PREFIX := $(EVHTP_ROOT)/cov
EVHTP_COV_STAMP := $(EVHTP_COV_PREFIX)/.pyexecd-stamp
EVHTP_COV_CMAKE_FLAGS := -DCMAKE_C_COMPILER=clang \
	-DCMAKE_C_FLAGS="-g -O1 -fsanitize=fuzzer-no-link -fprofile-instr-generate -fcoverage-mapping"
$(EVHTP_COV_STAMP): $(EVHTP_DOWNLOAD)/FETCHED $(EVHTP_PATCHES) $(EVHTP_DIR)/libevhtp \
		$(EVHTP_DIR)/evhtp.mk | $(TEST_DEPS_STAMP)
	$(call evhtp_build,cov,$(EVHTP_PATCHES),$(EVHTP_COV_CMAKE_FLAGS))

# The test, once per library, each compiled against its own library's headers.
$(EVHTP_ROOT)/evhtp_test-%: tests/evhtp/evhtp_test.c $(EVHTP_ROOT)/%/.pyexecd-stamp
	$(CC) $(EVHTP_TEST_CFLAGS) -isystem $(EVHTP_ROOT)/$*/include -o $@ $< \
		$(EVHTP_ROOT)/$*/lib/libevhtp.a -levent -levent_pthreads -lpthread

# Everything compiled against these headers waits for the library and is rebuilt when it
# changes (they are system headers to -MMD: the .d files do not track them). A rebuilt library
# thus recompiles the daemon's objects, which relinks the daemon with it.
$(foreach v,local cloud asan,$($(v)_OBJS) $(BUILD)/$(v)/obj/src/main.o) $(UNIT_TESTS): $(EVHTP_STAMP)

.PHONY: evhtp evhtp-check test-evhtp clean-evhtp
evhtp: $(EVHTP_STAMP)

evhtp-check: $(EVHTP_ROOT)/evhtp_test-patched $(TEST_DEPS_STAMP)
	tests/evhtp/run.sh $(EVHTP_ROOT)/evhtp_test-patched

test-evhtp: $(EVHTP_ROOT)/evhtp_test-patched $(EVHTP_ROOT)/evhtp_test-unpatched $(TEST_DEPS_STAMP)
	tests/evhtp/run.sh $(EVHTP_ROOT)/evhtp_test-patched $(EVHTP_ROOT)/evhtp_test-unpatched

test: evhtp-check

# Keeps the verified download, like `clean` keeps the rootfs.
clean: clean-evhtp
clean-evhtp:
	rm -rf $(EVHTP_PREFIX) $(EVHTP_PREFIX).src $(EVHTP_PREFIX).obj $(EVHTP_PREFIX).log \
		$(EVHTP_ROOT)/unpatched $(EVHTP_ROOT)/unpatched.src $(EVHTP_ROOT)/unpatched.obj \
		$(EVHTP_ROOT)/unpatched.log $(EVHTP_ROOT)/evhtp_test-* \
		$(EVHTP_FUZZ_PREFIX) $(EVHTP_FUZZ_PREFIX).src $(EVHTP_FUZZ_PREFIX).obj $(EVHTP_FUZZ_PREFIX).log \
		$(EVHTP_COV_PREFIX) $(EVHTP_COV_PREFIX).src $(EVHTP_COV_PREFIX).obj $(EVHTP_COV_PREFIX).log
