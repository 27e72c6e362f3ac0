# Tests: cmocka unit tests, and integration tests of the real module through
# the real libpam (pam_wrapper) against the HTTPS mock API.

TEST_CFLAGS  = $(ALL_CFLAGS) -Wno-conversion -Wno-format-truncation $(call pkg_cflags,cmocka libpamtest)
# Every object of the module and the helper but their entry files, and the common
# archive, so tests call the real code.
LIB_OBJS     = $(call obj,$(filter-out pam_nextpay.c src/helper/main.c,$(MODULE_SRC) $(HELPER_SRC))) \
               $(COMMON_LIB)
# Every test program runs its cmocka groups through tests/time_limit.c, which
# gives each test a time limit of its own (see tests/time_limit.h).
TIME_LIMIT_OBJ := $(BUILD)/obj/tests/time_limit.o
TIME_LIMIT     = $(TIME_LIMIT_OBJ) -Wl,--wrap=_cmocka_run_group_tests
TEST_LIBS    = $(call pkg_libs,cmocka $(MODULE_PKGS) $(HELPER_PKGS)) -ldl

UNIT_SRC     := $(wildcard tests/unit/test_*.c)
UNIT_BINS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
INTEG_BIN    := $(BUILD)/tests/integration
CACHE_BIN    := $(BUILD)/tests/integration_cache

FAKE_HELPER  := $(BUILD)/tests/fake-helper
# Beside the fake helper, where the tests find it.
PRELOAD_CANARY := $(BUILD)/tests/preload-canary.so
# What every suite built on tests/integration/harness.c needs.
HARNESS_DEPS  = tests/integration/harness.c tests/integration/harness.h $(TIME_LIMIT_OBJ)
HARNESS_LIBS  = $(TIME_LIMIT) $(call pkg_libs,libpamtest cmocka pam libcurl json-c)

# A test tool: writes cache entries as the module does, for tests/ctl/ctl_test.py.
CTL_CACHE_WRITER := $(BUILD)/tests/ctl-cache-writer

# Preloaded into sshd by tests/e2e: what the module logs, into a file.
PAM_LOG_SHIM := $(BUILD)/tests/pam-log-shim.so

.PHONY: tests
tests: $(UNIT_BINS) $(INTEG_BIN) $(CACHE_BIN) $(FAKE_HELPER) $(PRELOAD_CANARY) $(PAM_LOG_SHIM) \
       $(CTL_CACHE_WRITER)

# Scopes as the module builds them (src/module/scope.c), sealed with the common cache code.
$(CTL_CACHE_WRITER): tests/ctl/cache_writer.c $(call obj,src/module/scope.c) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(call obj,src/module/scope.c) $(COMMON_LIB) $(LINK_HARDEN) \
	    $(LDFLAGS) $(call pkg_libs,json-c libsodium)

$(TIME_LIMIT_OBJ): tests/time_limit.c tests/time_limit.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -c -o $@ $<

$(PAM_LOG_SHIM): tests/e2e/pam_log_shim.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -shared -o $@ $<

$(FAKE_HELPER): tests/integration/fake_helper.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $<

$(PRELOAD_CANARY): tests/integration/preload_canary.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -shared -o $@ $<

$(BUILD)/tests/test_%: tests/unit/test_%.c tests/unit/unit_tmp.h $(LIB_OBJS) $(TIME_LIMIT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(LIB_OBJS) $(TIME_LIMIT) $(TEST_LIBS)

# The cache suite asks account.c which accounts are people's, as the module does.
$(CACHE_BIN): tests/integration/cache_apikey.c $(HARNESS_DEPS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ tests/integration/cache_apikey.c tests/integration/harness.c \
	    $(LIB_OBJS) $(HARNESS_LIBS) $(TEST_LIBS)

$(INTEG_BIN): tests/integration/integration.c $(HARNESS_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ tests/integration/integration.c tests/integration/harness.c \
	    $(HARNESS_LIBS)

# deps first, then a fresh make: what it installed (pkg-config files,
# libqrencode) must be seen when the Makefile is read.
check: deps
	@$(MAKE) --no-print-directory check-installed

check-installed: all tests openssh-10.3
	@./tests/run-tests.sh $(UNIT_BINS)

check-unit: all $(UNIT_BINS)
	@./tests/run-tests.sh --unit-only $(UNIT_BINS)

check-integration: all $(INTEG_BIN) $(CACHE_BIN) $(FAKE_HELPER) $(PRELOAD_CANARY) \
                   $(CTL_CACHE_WRITER)
	@./tests/run-tests.sh --integration-only

# The process boundary (tests/check-boundaries.sh): includes by folder, libraries and
# objects by program.
.PHONY: check-boundaries
check-boundaries: all
	@./tests/run-tests.sh --boundaries-only

# Real sshd and ssh, real sudo (root only: it adds and removes an account and
# files in /etc/pam.d and /etc/sudoers.d), and a login-style conversation.
.PHONY: check-e2e
check-e2e: all $(PAM_LOG_SHIM) openssh-10.3
	@./tests/run-tests.sh --e2e-only

# OpenSSH 10.3p1's sshd, next to the system's, for tests/e2e/e2e_sshd.py: fetched
# through apt and built once per machine into a cache outside the tree, copied
# here.  Where it cannot be had, the script leaves the reason and those tests skip.
.PHONY: openssh-10.3
openssh-10.3:
	@nice ./tests/e2e/build-openssh.sh $(abspath $(BUILD))/openssh-10.3

$(BUILD)/tests/test_exports: $(MODULE)

# Hardening suites: a hostile API, the module as a guest in a long-lived host,
# faults around it, and 200 sign-ins at once (tests/run-tests.sh runs them).
HOSTILE_BIN     := $(BUILD)/tests/hostile
HOST_SAFETY_BIN := $(BUILD)/tests/host_safety
FAULTS_BIN      := $(BUILD)/tests/faults
LOAD_BIN        := $(BUILD)/tests/load
HARDENING_BINS  := $(HOSTILE_BIN) $(HOST_SAFETY_BIN) $(FAULTS_BIN) $(LOAD_BIN)
BENCH_BIN       := $(BUILD)/tests/bench

tests: $(HARDENING_BINS) $(BENCH_BIN)

$(HOSTILE_BIN): tests/integration/hostile.c $(HARNESS_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ tests/integration/hostile.c tests/integration/harness.c \
	    $(HARNESS_LIBS)

$(HOST_SAFETY_BIN): tests/integration/host_safety.c $(HARNESS_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ tests/integration/host_safety.c tests/integration/harness.c \
	    $(HARNESS_LIBS)

# faults rewrites a cache entry with the module's own cache code (a clock that jumped).
$(FAULTS_BIN): tests/integration/faults.c $(HARNESS_DEPS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ tests/integration/faults.c tests/integration/harness.c \
	    $(LIB_OBJS) $(HARNESS_LIBS) $(TEST_LIBS)

$(LOAD_BIN): tests/load/load.c $(HARNESS_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ tests/load/load.c tests/integration/harness.c $(HARNESS_LIBS) \
	    -pthread

.PHONY: check-robustness
check-robustness: all $(HARDENING_BINS) $(FAKE_HELPER)
	@./tests/run-tests.sh --robustness-only

# make bench: figures next to baselines measured in the same run (tests/bench/bench.c).
$(BENCH_BIN): tests/bench/bench.c $(HARNESS_DEPS) $(call obj,src/module/sshd_info.c) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ tests/bench/bench.c tests/integration/harness.c \
	    $(call obj,src/module/sshd_info.c) $(COMMON_LIB) $(HARNESS_LIBS)

.PHONY: bench bench-installed
bench: deps
	@$(MAKE) --no-print-directory bench-installed

bench-installed: all $(BENCH_BIN)
	@./tests/run-tests.sh --bench
