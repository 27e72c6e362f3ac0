# SPDX-License-Identifier: BSD-2-Clause
# Sanitizer, valgrind, static-analysis and fuzzing phases of make check.
# Included from the Makefile after tests/tests.mk and tests/fuzz/fuzz.mk: BUILD,
# ALL_CFLAGS, the source lists, the test binaries and the phases are known by then.
#
#   make check-asan      everything rebuilt into build-asan/ with ASan and UBSan
#                        (every error fatal, leaks checked), then the unit,
#                        integration and nextpayctl tests run against that build
#                        (tests/run-asan.sh)
#   make check-valgrind  the integration tests with the test programs, the module
#                        they load and the helper it starts under valgrind memcheck
#                        (tests/run-valgrind.sh)
#   make lint            cppcheck, clang-tidy (.clang-tidy) and scan-build;
#                        every finding is an error (tests/run-lint.sh)
#   make check-fuzz      every seed and regression once, then 10 s per target
#
# make builds what each needs and calls its runner; the runners call no make.

.PHONY: check-asan check-valgrind check-lint check-fuzz lint phase-asan phase-valgrind \
        phase-lint phase-fuzz

# ---- AddressSanitizer + UndefinedBehaviorSanitizer ------------------------------

ASAN_BUILD    ?= build-asan
SANITIZE      := -fsanitize=address,undefined -fno-sanitize-recover=all
# -U_FORTIFY_SOURCE: ASan checks every mem*/str* call itself; a fortify abort
# ("buffer overflow detected") would come first and say far less.
ASAN_CFLAGS   := -O1 -g $(SANITIZE) -fno-omit-frame-pointer -U_FORTIFY_SOURCE
# Sanitizer options for processes that get no environment (the helper): see
# tests/asan_defaults.c.  Linked through LDFLAGS, so into the module, the
# helper and nextpayctl, never into the regular build.
ASAN_LOG_DIR   = $(abspath $(ASAN_BUILD))/sanitizer-logs
ASAN_DEFAULTS  = $(ASAN_BUILD)/asan_defaults.o
# -z nodelete: libpam dlcloses the module at pam_end(), and LeakSanitizer, which
# reports at exit, could no longer name the module's functions in a leak's stack.
# (The module keeps no mutable static state, so staying loaded changes nothing.)
ASAN_LDFLAGS   = $(SANITIZE) $(abspath $(ASAN_DEFAULTS)) -Wl,-z,nodelete
# The unit tests of this tree, as built into build-asan/.
ASAN_UNIT_BINS = $(patsubst $(BUILD)/%,$(ASAN_BUILD)/%,$(UNIT_BINS))

$(ASAN_DEFAULTS): tests/asan_defaults.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(WARNINGS) -O2 -fPIC -DNP_SANITIZER_LOG_DIR='"$(ASAN_LOG_DIR)"' -c $< -o $@

# Two steps: the defaults object must exist before anything links with it.
asan-build: deps
	@$(MAKE) --no-print-directory $(ASAN_DEFAULTS)
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CFLAGS='$(ASAN_CFLAGS)' \
	    LDFLAGS='$(ASAN_LDFLAGS)' all tests

phase-asan: asan-build
	@-NP_RESULTS_DIR=$(RESULTS_DIR) ./tests/run-asan.sh $(abspath $(ASAN_BUILD)) \
	    $(abspath $(ASAN_UNIT_BINS))

check-asan: phase-asan
	@$(SUMMARY) asan

# ---- valgrind memcheck ----------------------------------------------------------

# The regular build: what is installed is what is checked.  tests/run-valgrind.sh
# lays out VALGRIND_DIR as a build directory whose test programs are valgrind
# wrappers, and points tests/run-tests.sh at it.
# NP_VG_ONLY, NP_VG_SKIP and NP_VG_CTL (make check-valgrind NP_VG_ONLY='approve_*')
# choose the tests: see tests/run-valgrind.sh.
VALGRIND_DIR  ?= build-valgrind

# Preloaded into the test programs under valgrind: keeps the tests NP_VG_ONLY and
# NP_VG_SKIP select (cmocka 1.1.5 has no filter of its own).
CMOCKA_SELECT := $(BUILD)/tests/cmocka-select.so

$(CMOCKA_SELECT): tests/valgrind/cmocka_select.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -fPIC -shared -o $@ $< $(call pkg_cflags,cmocka) \
	    $(call pkg_libs,cmocka) -ldl

# make check leaves nextpayctl's own tests out of valgrind (NP_VG_CTL=no): they ran
# under ASan already; make check-valgrind alone runs them under valgrind too.
phase-valgrind: all tests $(CMOCKA_SELECT)
	@-NP_RESULTS_DIR=$(RESULTS_DIR) NP_VG_CTL=$(or $(NP_VG_CTL),yes) \
	    NP_HARNESS_SUITES='$(HARNESS_SUITES)' ./tests/run-valgrind.sh $(abspath $(BUILD)) $(abspath $(VALGRIND_DIR))

check-valgrind: phase-valgrind
	@$(SUMMARY) valgrind

# ---- static analysis ------------------------------------------------------------

# Every C file of the module, the helper and nextpayctl.
LINT_SRC      := $(sort $(COMMON_SRC) $(MODULE_SRC) $(HELPER_SRC) $(CTL_SRC))
# What the compiler is told, for clang-tidy (its own findings are the errors).
LINT_CFLAGS    = $(filter-out -Werror,$(ALL_CFLAGS))

# The compiler's words and the sources, one a line, for tests/run-lint.sh.
LINT_DIR       = $(abspath $(BUILD))/lint
CPPCHECK_FLAGS = --enable=warning,style,performance,portability --error-exitcode=1 \
    --inline-suppr --std=c11 --quiet --library=posix --library=gnu \
    --suppress=variableScope --suppress=readdirCalled \
    --template='{file}:{line}: {severity}: {message} [{id}]' \
    -D__GNUC__ -D_GNU_SOURCE -DNP_VERSION='"$(VERSION)"' $(PATH_DEFINES) \
    $(if $(HAVE_QRENCODE),-DNP_HAVE_QRENCODE) -Isrc
# Left out for the whole tree, and why:
#   variableScope   locals are declared at the top of their function, the
#                   code's style throughout (11 places); not a defect.
#   readdirCalled   (--library=posix) advises readdir_r, which glibc has
#                   deprecated: readdir on a DIR * of one's own is thread-safe.

lint-files:
	@mkdir -p $(LINT_DIR)
	@printf '%s\n' $(LINT_SRC) >$(LINT_DIR)/sources
	@printf '%s\n' $(LINT_CFLAGS) >$(LINT_DIR)/cflags
	@printf '%s\n' $(CPPCHECK_FLAGS) >$(LINT_DIR)/cppcheck-flags

phase-lint: lint-files
	@-NP_RESULTS_DIR=$(RESULTS_DIR) ./tests/run-tests.sh lint $(LINT_DIR)

check-lint lint: phase-lint
	@$(SUMMARY) lint

# The tools one by one.
lint-cppcheck lint-clang-tidy lint-scan-build lint-mutants: lint-%: lint-files
	@./tests/run-lint.sh $(LINT_DIR) $*

# ---- fuzzing (tests/fuzz/fuzz.mk) -------------------------------------------------

phase-fuzz: fuzz-build
	@-NP_RESULTS_DIR=$(RESULTS_DIR) FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_TARGETS='$(FUZZ_TARGETS)' \
	    ./tests/run-tests.sh fuzz

check-fuzz: phase-fuzz
	@$(SUMMARY) fuzz

# ---- clean ----------------------------------------------------------------------

.PHONY: clean-hardening
clean: clean-hardening
clean-hardening:
	rm -rf $(ASAN_BUILD) $(VALGRIND_DIR)
