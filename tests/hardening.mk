# Sanitizer, valgrind and static-analysis runs.  Included from the Makefile
# after tests/tests.mk: BUILD, ALL_CFLAGS, the source lists and the test
# binaries are known by then.
#
#   make check-asan      everything rebuilt into build-asan/ with ASan and UBSan
#                        (every error fatal, leaks checked), then the unit,
#                        integration and nextpayctl tests run against that build
#   make check-valgrind  the integration tests with the test programs, the module
#                        they load and the helper it starts under valgrind memcheck
#   make lint            cppcheck, clang-tidy (.clang-tidy) and scan-build;
#                        every finding is an error
#
# Each prints cmocka-style "[==========] / [  PASSED  ] / [  FAILED  ]" lines.

.PHONY: check-asan check-valgrind lint lint-cppcheck lint-clang-tidy lint-scan-build

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
check-asan: deps
	@$(MAKE) --no-print-directory $(ASAN_DEFAULTS)
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CFLAGS='$(ASAN_CFLAGS)' \
	    LDFLAGS='$(ASAN_LDFLAGS)' all tests
	@./tests/run-asan.sh $(abspath $(ASAN_BUILD)) $(ASAN_UNIT_BINS)

# ---- valgrind memcheck ----------------------------------------------------------

# The regular build: what is installed is what is checked.  tests/run-valgrind.sh
# lays out VALGRIND_DIR as a build directory whose test programs are valgrind
# wrappers, and points tests/run-tests.sh at it.
# NP_VG_ONLY, NP_VG_SKIP and NP_VG_CTL (make check-valgrind NP_VG_ONLY='approve_*')
# choose the tests: see tests/run-valgrind.sh.
VALGRIND_DIR  ?= build-valgrind

check-valgrind: deps
	@$(MAKE) --no-print-directory all tests
	@./tests/run-valgrind.sh $(abspath $(BUILD)) $(abspath $(VALGRIND_DIR))

# ---- static analysis ------------------------------------------------------------

# Every C file of the module, the helper and nextpayctl.
LINT_SRC      := $(sort $(COMMON_SRC) $(MODULE_SRC) $(HELPER_SRC) $(CTL_SRC))
# What the compiler is told, for clang-tidy (its own findings are the errors).
LINT_CFLAGS    = $(filter-out -Werror,$(ALL_CFLAGS))
SCAN_BUILD    ?= build-scan

lint: deps
	@MAKE='$(MAKE)' ./tests/run-lint.sh

# The three tools one by one (run-lint.sh runs each as one test).
# Left out for the whole tree, and why:
#   variableScope   locals are declared at the top of their function, the
#                   code's style throughout (11 places); not a defect.
#   readdirCalled   (--library=posix) advises readdir_r, which glibc has
#                   deprecated: readdir on a DIR * of one's own is thread-safe.
lint-cppcheck:
	cppcheck --enable=warning,style,performance,portability --error-exitcode=1 \
	    --inline-suppr --std=c11 --quiet --library=posix --library=gnu \
	    --suppress=variableScope --suppress=readdirCalled \
	    --template='{file}:{line}: {severity}: {message} [{id}]' \
	    -D__GNUC__ -D_GNU_SOURCE -DNP_VERSION='"$(VERSION)"' $(PATH_DEFINES) \
	    $(if $(HAVE_QRENCODE),-DNP_HAVE_QRENCODE) -Isrc $(LINT_SRC)

lint-clang-tidy:
	clang-tidy --quiet $(LINT_SRC) -- $(LINT_CFLAGS)

# A fresh directory each time: scan-build analyses only what it sees compiled.
lint-scan-build:
	rm -rf $(SCAN_BUILD)
	scan-build --status-bugs -o $(SCAN_BUILD)/report $(MAKE) --no-print-directory \
	    BUILD=$(SCAN_BUILD) all

# ---- clean ----------------------------------------------------------------------

.PHONY: clean-hardening
clean: clean-hardening
clean-hardening:
	rm -rf $(ASAN_BUILD) $(VALGRIND_DIR) $(SCAN_BUILD)
