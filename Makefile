# SPDX-License-Identifier: BSD-2-Clause
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

# -Isrc: every include names its folder ("common/protocol.h").
ALL_CFLAGS   = $(BASE_CFLAGS) -Isrc $(call pkg_cflags,$(MODULE_PKGS) $(HELPER_PKGS)) $(CPPFLAGS) \
               $(CFLAGS)

# One folder per process, so the security boundary shows in every path:
#   src/module/  inside the PAM host (sshd, sudo, login): pam_nextpay.so
#   src/helper/  the unprivileged network helper, the only code that links libcurl
#   src/ctl/     nextpayctl, the administrator's tool
#   src/common/  what more than one of them links, built into an archive so each
#                program takes only the objects it uses (tests/check-boundaries.sh checks)
# Every .c file in a folder belongs to it: a new file needs no list.
COMMON_SRC  := $(wildcard src/common/*.c)
MODULE_SRC  := pam_nextpay.c $(wildcard src/module/*.c)
HELPER_SRC  := $(wildcard src/helper/*.c)
CTL_SRC     := $(wildcard src/ctl/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

MODULE      := $(BUILD)/pam_nextpay.so
HELPER      := $(BUILD)/nextpay-helper
NEXTPAYCTL  := $(BUILD)/nextpayctl
COMMON_LIB  := $(BUILD)/libnp_common.a

# What each program links besides the archive: libcurl only in the helper, libpam only
# in the module.  nextpayctl draws the URL as the module does when this build has
# libqrencode.
MODULE_PKGS := pam json-c libsodium $(if $(HAVE_QRENCODE),libqrencode)
HELPER_PKGS := libcurl json-c libsodium libseccomp
CTL_PKGS    := json-c libsodium $(if $(HAVE_QRENCODE),libqrencode)

.PHONY: all deps check check-unit check-integration demo install clean
all: $(MODULE) $(HELPER) $(NEXTPAYCTL)

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

$(COMMON_LIB): $(call obj,$(COMMON_SRC))
	@rm -f $@
	$(AR) rcs $@ $^

$(MODULE): $(call obj,$(MODULE_SRC)) $(COMMON_LIB) src/module/pam_nextpay.map
	$(CC) -shared -o $@ $(call obj,$(MODULE_SRC)) $(COMMON_LIB) \
	    -Wl,--version-script=src/module/pam_nextpay.map -Wl,--no-undefined $(LINK_HARDEN) \
	    $(LDFLAGS) $(call pkg_libs,$(MODULE_PKGS))

$(HELPER): $(call obj,$(HELPER_SRC)) $(COMMON_LIB)
	$(CC) -pie -o $@ $^ $(LINK_HARDEN) $(LDFLAGS) $(call pkg_libs,$(HELPER_PKGS))

$(NEXTPAYCTL): $(call obj,$(CTL_SRC)) $(COMMON_LIB)
	$(CC) -pie -o $@ $^ $(LINK_HARDEN) $(LDFLAGS) $(call pkg_libs,$(CTL_PKGS))

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The manual pages (see man/man.mk).
include man/man.mk

# The Debian package and the RPM (see packaging/packaging.mk).
include packaging/packaging.mk

# ---- dependencies -------------------------------------------------------------

# make demo installs only what a build and one sign-in against the mock need;
# make deps (and so make check) installs the test tool chain on top (libssl-dev
# and zlib1g-dev: building OpenSSH 10.3 for the sshd end-to-end tests; curl: the
# baseline of make bench).
DEB_DEMO_PACKAGES  := build-essential pkg-config libpam0g-dev libcurl4-openssl-dev libjson-c-dev \
                      libsodium-dev libseccomp-dev libqrencode-dev pamtester libpam-wrapper openssl python3
DEB_CHECK_PACKAGES := libcmocka-dev libpamtest0-dev zbar-tools openssh-server openssh-client sudo \
                      python3-pexpect clang libclang-rt-14-dev valgrind cppcheck clang-tidy \
                      clang-tools groff-base man-db debhelper lintian rpm \
                      libssl-dev zlib1g-dev curl \
                      xvfb xdotool imagemagick tesseract-ocr i3lock xscreensaver
DEB_PACKAGES       := $(DEB_DEMO_PACKAGES) $(DEB_CHECK_PACKAGES)
DEB_STAMP    := $(BUILD)/.deps-ok

.PHONY: deps-demo
deps:
	@./scripts/deps.sh $(DEB_PACKAGES)

deps-demo:
	@./scripts/deps.sh $(DEB_DEMO_PACKAGES)

# ---- tests --------------------------------------------------------------------

include tests/tests.mk

# ---- fuzzing (clang + libFuzzer; see tests/fuzz/fuzz.mk) ---------------------
include tests/fuzz/fuzz.mk

# ---- sanitizers, valgrind, static analysis (see tests/hardening.mk) -----------
include tests/hardening.mk

# ---- demo ---------------------------------------------------------------------

demo: deps-demo
	@$(MAKE) --no-print-directory all $(BUILD)/tests/mockctl
	@./scripts/demo.sh

# ---- install ------------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(PAMDIR) $(DESTDIR)$(LIBEXECDIR)/pam_nextpay $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/security
	install -m 0644 $(MODULE) $(DESTDIR)$(PAMDIR)/pam_nextpay.so
	install -m 0755 $(HELPER) $(DESTDIR)$(LIBEXECDIR)/pam_nextpay/nextpay-helper
	@if [ -f $(BUILD)/nextpayctl ]; then \
	    install -m 0755 $(BUILD)/nextpayctl $(DESTDIR)$(SBINDIR)/nextpayctl; fi
	@# The identity map is for root's eyes: it says which identity may become root.
	@for f in pam_nextpay.conf:0644 pam_nextpay.users:0640; do \
	    if [ -e $(DESTDIR)$(SYSCONFDIR)/security/$${f%:*} ]; then \
	        echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/security/$${f%:*}"; \
	    else \
	        install -m $${f#*:} conf/$${f%:*} $(DESTDIR)$(SYSCONFDIR)/security/$${f%:*}; \
	    fi; \
	done

clean:
	rm -rf $(BUILD)
