# SPDX-License-Identifier: BSD-2-Clause
# Tests: what make check builds and the phases it runs.  make builds what a
# phase needs and calls its runner (tests/run-tests.sh PHASE, or the phase's own
# runner); runners call no make.  Each phase's counts land in RESULTS_DIR, and
# tests/lib/results.py prints the one closing line.
#
#   make check            every phase (see CHECK_PHASES), all run even when one fails
#   make check-PHASE      one phase and its closing line: check-unit,
#                         check-integration, check-journal, check-robustness, check-e2e,
#                         check-boundaries (check-man, check-package, check-asan,
#                         check-valgrind, check-fuzz and check-lint in their .mk files)

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

# The suites built on tests/integration/harness.c: the real module through the real
# libpam (pam_wrapper) against the HTTPS mock, each tests/integration/NAME.c.
HARNESS_SUITES := integration integration_cache sshd_key offline greeter breakglass hostile \
                  host_safety faults load bench
HARNESS_BINS   := $(addprefix $(BUILD)/tests/,$(HARNESS_SUITES))
# What every one of them links: the harness, and the one client of the mock's control
# interface (tests/mock/mock_client.c).
HARNESS_SRC   = tests/integration/harness.c tests/mock/mock_client.c
HARNESS_DEPS  = $(HARNESS_SRC) tests/integration/harness.h tests/mock/mock_client.h $(TIME_LIMIT_OBJ)
HARNESS_LIBS  = $(TIME_LIMIT) $(call pkg_libs,libpamtest cmocka pam libcurl json-c)

FAKE_HELPER  := $(BUILD)/tests/fake-helper
# Beside the fake helper, where the tests find it.
PRELOAD_CANARY := $(BUILD)/tests/preload-canary.so
# A test tool: writes cache entries as the module does, for tests/ctl/ctl_test.py.
CTL_CACHE_WRITER := $(BUILD)/tests/ctl-cache-writer
# The mock's control client on the command line, for the Python tests and the demo.
MOCKCTL := $(BUILD)/tests/mockctl
# Preloaded into sshd by tests/e2e: what the module logs, into a file.
PAM_LOG_SHIM := $(BUILD)/tests/pam-log-shim.so
# Sign-ins through a real /etc/pam.d service, for tests/bench/bench.py: N at once, or
# one with what it did to its host process.
SIGNIN_BENCH := $(BUILD)/tests/signin-bench
# The code's table of events (kinds, results, MESSAGE_IDs), for the journal and man tests.
PRINT_EVENTS := $(BUILD)/tests/print-events
# make bench's row 6: a sign-in's event into the journal, next to today's syslog line,
# and what loading the module and libsystemd costs.
EVENT_BENCH := $(BUILD)/tests/event-bench
LOAD_BENCH := $(BUILD)/tests/load-bench

.PHONY: tests
tests: $(UNIT_BINS) $(HARNESS_BINS) $(FAKE_HELPER) $(PRELOAD_CANARY) $(PAM_LOG_SHIM) \
       $(CTL_CACHE_WRITER) $(MOCKCTL) $(SIGNIN_BENCH) $(PRINT_EVENTS) $(EVENT_BENCH) \
       $(LOAD_BENCH)

$(TIME_LIMIT_OBJ): tests/time_limit.c tests/time_limit.h
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -c -o $@ $<

$(BUILD)/tests/test_%: tests/unit/test_%.c tests/unit/unit_tmp.h $(LIB_OBJS) $(TIME_LIMIT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(LIB_OBJS) $(TIME_LIMIT) $(TEST_LIBS)

$(BUILD)/tests/test_exports: $(MODULE)

$(HARNESS_BINS): $(BUILD)/tests/%: tests/integration/%.c $(HARNESS_DEPS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(HARNESS_SRC) $(LIB_OBJS) $(HARNESS_LIBS) $(TEST_LIBS) \
	    -pthread

$(FAKE_HELPER): tests/integration/fake_helper.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $<

$(PRELOAD_CANARY): tests/integration/preload_canary.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -shared -o $@ $<

# Scopes as the module builds them (src/module/scope.c), sealed with the common cache code.
$(CTL_CACHE_WRITER): tests/ctl/cache_writer.c $(call obj,src/module/scope.c) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(call obj,src/module/scope.c) $(COMMON_LIB) $(LINK_HARDEN) \
	    $(LDFLAGS) $(call pkg_libs,json-c libsodium)

$(MOCKCTL): tests/mock/mockctl.c tests/mock/mock_client.c tests/mock/mock_client.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ tests/mock/mockctl.c tests/mock/mock_client.c \
	    $(call pkg_libs,libcurl json-c)

# The page tests hold pam_nextpay(8) and the catalog to the table of events too.
phase-man: $(PRINT_EVENTS)

$(PRINT_EVENTS): tests/journal/print_events.c $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(COMMON_LIB) $(LINK_HARDEN) $(LDFLAGS) \
	    $(call pkg_libs,libsodium libsystemd)

$(EVENT_BENCH): tests/bench/event_bench.c $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(COMMON_LIB) $(LINK_HARDEN) $(LDFLAGS) \
	    $(call pkg_libs,libsodium libsystemd)

$(LOAD_BENCH): tests/bench/load_bench.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LINK_HARDEN) $(LDFLAGS) -ldl

$(SIGNIN_BENCH): tests/bench/signin_bench.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(call pkg_libs,pam)

$(PAM_LOG_SHIM): tests/e2e/pam_log_shim.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -shared -o $@ $<

# ---- phases -----------------------------------------------------------------------

# Where each phase's counts go (tests/run-tests.sh), and the closing line over them.
RESULTS_DIR  = $(abspath $(BUILD))/test-results
SUMMARY      = /usr/bin/python3 tests/lib/results.py $(RESULTS_DIR)
RUN_PHASE    = NP_RESULTS_DIR=$(RESULTS_DIR) NP_BUILD=$(abspath $(BUILD)) ./tests/run-tests.sh

# In the order make check runs them; hardening.mk, man.mk and packaging.mk add theirs.
CHECK_PHASES := unit integration journal robustness e2e man package boundaries fuzz lint asan \
                valgrind

# deps first, then a fresh make: what it installed (pkg-config files,
# libqrencode) must be seen when the Makefile is read.
check: deps
	@$(MAKE) --no-print-directory check-installed

# Every phase, each after what it needs is built; -k: a phase whose build fails
# is counted as failed (its results are missing), and the others still run.
check-installed:
	@rm -rf $(RESULTS_DIR)
	@$(MAKE) --no-print-directory -k NP_VG_CTL=no $(addprefix phase-,$(CHECK_PHASES)) || true
	@$(SUMMARY) $(CHECK_PHASES)

# check-PHASE: one phase, then its closing line.
.PHONY: check-installed check-unit check-integration check-journal check-robustness check-e2e \
        check-boundaries
check-unit check-integration check-journal check-robustness check-e2e check-boundaries: check-%: phase-%
	@$(SUMMARY) $*

# A runner's own exit status is not make's business: the closing line decides.
.PHONY: phase-unit phase-integration phase-journal phase-robustness phase-e2e phase-boundaries \
        phase-bench
phase-unit: all $(UNIT_BINS)
	@-$(RUN_PHASE) unit $(UNIT_BINS)

phase-integration: all tests
	@-$(RUN_PHASE) integration

# Root only: its own journald in a private mount namespace (tests/journal/journal_test.py).
phase-journal: all tests
	@-$(RUN_PHASE) journal

phase-robustness: all tests openssh-10.3
	@-$(RUN_PHASE) robustness

# Real sshd and ssh, real sudo (root only: it adds and removes an account and
# files in /etc/pam.d and /etc/sudoers.d), and a login-style conversation.
phase-e2e: all tests openssh-10.3
	@-$(RUN_PHASE) e2e

phase-boundaries: all
	@-$(RUN_PHASE) boundaries

# The package tests sign in against the mock (packaging/packaging.mk has the rest).
phase-package: $(MOCKCTL)

# OpenSSH 10.3p1's sshd, next to the system's, for tests/e2e/e2e_sshd.py: fetched
# through apt and built once per machine into a cache outside the tree, copied
# here.  Where it cannot be had, the script leaves the reason and those tests skip.
.PHONY: openssh-10.3
openssh-10.3:
	@nice ./tests/e2e/build-openssh.sh $(abspath $(BUILD))/openssh-10.3

# make bench: figures next to baselines measured in the same run
# (tests/integration/bench.c, and the six rows of tests/bench/bench.py, the sixth at a
# LightDM greeter, whose table goes to BENCH_RESULTS); make check runs a short form in
# its robustness phase.
BENCH_RESULTS ?= tests/bench/RESULTS.md
.PHONY: bench bench-installed
bench: deps
	@$(MAKE) --no-print-directory bench-installed

bench-installed: phase-bench
	@$(SUMMARY) bench

phase-bench: all tests openssh-10.3
	@-NP_BENCH_RESULTS=$(abspath $(BENCH_RESULTS)) $(RUN_PHASE) bench
