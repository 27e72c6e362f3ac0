# pam_nextpay — build, test and install.
#   make            build/pam_nextpay.so, build/nextpay-helper, build/nextpayctl
#   make check      every test (installs missing Debian packages first when root)
#   make demo       a full sign-in against the bundled mock API
#   make bench      what a sign-in costs, next to baselines measured in the same run
#   make install    DESTDIR, PREFIX, LIBEXECDIR, SBINDIR, PAMDIR, SYSCONFDIR respected

VERSION     := 0.1.0
PREFIX      ?= /usr
LIBEXECDIR  ?= $(PREFIX)/libexec
SBINDIR     ?= $(PREFIX)/sbin
SYSCONFDIR  ?= /etc
MULTIARCH   := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null)
PAMDIR      ?= /usr/lib/$(MULTIARCH)/security
HELPER_PATH ?= $(LIBEXECDIR)/pam_nextpay/nextpay-helper

CC          ?= cc
PKG_CONFIG  ?= pkg-config
BUILD       ?= build

# QR codes are optional: without libqrencode, qr = yes is a configuration error.
HAVE_QRENCODE := $(shell $(PKG_CONFIG) --exists libqrencode 2>/dev/null && echo yes)

# Warnings are errors; hardening is on by default (CFLAGS may add, not remove).
WARNINGS    := -Wall -Wextra -Wconversion -Wformat=2 -Wshadow -Werror
HARDENING   := -fstack-protector-strong -D_FORTIFY_SOURCE=3 -fPIC
CFLAGS      ?= -O2 -g
PATH_DEFINES := -DNP_DEFAULT_HELPER='"$(HELPER_PATH)"' \
               -DNP_DEFAULT_CONFIG='"$(SYSCONFDIR)/security/pam_nextpay.conf"' \
               -DNP_DEFAULT_USERMAP='"$(SYSCONFDIR)/security/pam_nextpay.users"' \
               -DNP_DEFAULT_CACHE_KEY='"$(SYSCONFDIR)/security/pam_nextpay.key"'
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARNINGS) $(HARDENING) -DNP_VERSION='"$(VERSION)"' \
               $(PATH_DEFINES) $(if $(HAVE_QRENCODE),-DNP_HAVE_QRENCODE)
LINK_HARDEN := -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack

# Third-party headers as system headers, so -Wconversion judges only our code.
pkg_cflags   = $(patsubst -I%,-isystem %,$(filter-out -I/usr/include/$(MULTIARCH),$(shell $(PKG_CONFIG) --cflags $(1))))
pkg_libs     = $(shell $(PKG_CONFIG) --libs $(1))

MODULE_PKGS := pam json-c libsodium $(if $(HAVE_QRENCODE),libqrencode)
HELPER_PKGS := libcurl json-c libsodium libseccomp
ALL_CFLAGS   = $(BASE_CFLAGS) $(call pkg_cflags,$(MODULE_PKGS) $(HELPER_PKGS)) $(CPPFLAGS) $(CFLAGS)

COMMON_SRC  := src/sanitize.c src/validate.c src/safe_file.c src/lineio.c src/json_util.c \
               src/protocol.c src/clock.c
MODULE_SRC  := pam_nextpay.c src/auth.c src/config.c src/usermap.c src/conv.c \
               src/helper_proc.c src/cache.c src/qr.c src/session.c src/device_flow.c \
               src/api_key.c src/approval.c src/wording.c src/account.c src/sshd_info.c \
               $(COMMON_SRC)
HELPER_SRC  := src/helper_main.c src/helper_flow.c src/http.c src/api_parse.c src/privdrop.c \
               src/sandbox.c $(COMMON_SRC)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

MODULE      := $(BUILD)/pam_nextpay.so
HELPER      := $(BUILD)/nextpay-helper

.PHONY: all deps check check-unit check-integration demo install clean
all: $(MODULE) $(HELPER)

# The install paths and optional features are compiled in: rebuild when they
# change, so that "make install PREFIX=/usr/local" never installs a module
# that looks elsewhere.
BUILD_CHOICES := $(PATH_DEFINES) qrencode=$(HAVE_QRENCODE)
PATHS_STAMP := $(BUILD)/.paths
$(shell mkdir -p $(BUILD); echo '$(BUILD_CHOICES)' | cmp -s - $(PATHS_STAMP) || \
        echo '$(BUILD_CHOICES)' > $(PATHS_STAMP))

$(BUILD)/obj/%.o: %.c $(PATHS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(MODULE): $(call obj,$(MODULE_SRC)) src/pam_nextpay.map
	$(CC) -shared -o $@ $(call obj,$(MODULE_SRC)) -Wl,--version-script=src/pam_nextpay.map \
	    -Wl,--no-undefined $(LINK_HARDEN) $(LDFLAGS) $(call pkg_libs,$(MODULE_PKGS))

$(HELPER): $(call obj,$(HELPER_SRC))
	$(CC) -pie -o $@ $^ $(LINK_HARDEN) $(LDFLAGS) $(call pkg_libs,$(HELPER_PKGS))

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The administrator's tool.
include src/nextpayctl.mk

# The manual pages (see man/man.mk).
include man/man.mk

# The Debian package and the RPM (see packaging/packaging.mk).
include packaging/packaging.mk

# ---- dependencies -------------------------------------------------------------

# make demo installs only what a build and one sign-in against the mock need;
# make deps (and so make check) installs the test tool chain on top (libssl-dev
# and zlib1g-dev: building OpenSSH 10.3 for the sshd end-to-end tests).
DEB_DEMO_PACKAGES  := build-essential pkg-config libpam0g-dev libcurl4-openssl-dev libjson-c-dev \
                      libsodium-dev libseccomp-dev libqrencode-dev pamtester libpam-wrapper openssl python3
DEB_CHECK_PACKAGES := libcmocka-dev libpamtest0-dev zbar-tools openssh-server openssh-client sudo \
                      python3-pexpect clang libclang-rt-14-dev valgrind cppcheck clang-tidy \
                      clang-tools groff-base man-db debhelper lintian rpm \
                      libssl-dev zlib1g-dev
DEB_PACKAGES       := $(DEB_DEMO_PACKAGES) $(DEB_CHECK_PACKAGES)
DEB_STAMP    := $(BUILD)/.deps-ok

.PHONY: deps-demo
deps:
	@./tests/deps.sh $(DEB_PACKAGES)

deps-demo:
	@./tests/deps.sh $(DEB_DEMO_PACKAGES)

# ---- tests --------------------------------------------------------------------

include tests/tests.mk

# ---- fuzzing (clang + libFuzzer; see tests/fuzz/fuzz.mk) ---------------------
include tests/fuzz/fuzz.mk

# ---- sanitizers, valgrind, static analysis (see tests/hardening.mk) -----------
include tests/hardening.mk

# ---- demo ---------------------------------------------------------------------

demo: deps-demo
	@$(MAKE) --no-print-directory all
	@./tests/demo.sh

# ---- install ------------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(PAMDIR) $(DESTDIR)$(LIBEXECDIR)/pam_nextpay $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/security
	install -m 0644 $(MODULE) $(DESTDIR)$(PAMDIR)/pam_nextpay.so
	install -m 0755 $(HELPER) $(DESTDIR)$(LIBEXECDIR)/pam_nextpay/nextpay-helper
	@if [ -f $(BUILD)/nextpayctl ]; then \
	    install -m 0755 $(BUILD)/nextpayctl $(DESTDIR)$(SBINDIR)/nextpayctl; fi
	@for f in pam_nextpay.conf pam_nextpay.users; do \
	    if [ -e $(DESTDIR)$(SYSCONFDIR)/security/$$f ]; then \
	        echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/security/$$f"; \
	    else \
	        install -m 0644 conf/$$f $(DESTDIR)$(SYSCONFDIR)/security/$$f; \
	    fi; \
	done

clean:
	rm -rf $(BUILD)
