# SPDX-License-Identifier: BSD-2-Clause
# Manual pages: mdoc sources in man/*.in, with the version, the compiled-in
# paths and the build's QR support put in by sed, so that each page tells the
# truth about this build.  Included from the Makefile after the paths are set.
#
#   make                builds $(BUILD)/man/pam_nextpay.8 and the others
#   make install        installs them under $(MANDIR) too
#   make check-man      the page tests alone (tests/man/man_test.py)

MANDIR      ?= $(PREFIX)/share/man
MAN_SRC     := $(wildcard man/*.in)
MAN_PAGES   := $(patsubst man/%.in,$(BUILD)/man/%,$(MAN_SRC))
MAN_QR      := $(if $(HAVE_QRENCODE),draws QR codes,has no QR code support: it refuses qr = yes)
MAN_SUBST   := -e 's|@VERSION@|$(VERSION)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
               -e 's|@HELPER_PATH@|$(HELPER_PATH)|g' -e 's|@PAMDIR@|$(PAMDIR)|g' \
               -e 's|@QR_BUILD@|$(MAN_QR)|g'

# Prints every setting of the code's table with its default, for the page tests.
PRINT_SETTINGS     := $(BUILD)/tests/print-settings

.PHONY: man install-man check-man
all: man
man: $(MAN_PAGES)

# Makefile too: VERSION lives there.
$(BUILD)/man/%: man/%.in $(PATHS_STAMP) Makefile man/man.mk
	@mkdir -p $(dir $@)
	sed $(MAN_SUBST) $< >$@.tmp
	@if grep -n '@[A-Z_]*@' $@.tmp; then echo "$<: a word left unsubstituted" >&2; exit 1; fi
	@mv $@.tmp $@

install: install-man
install-man: $(MAN_PAGES)
	@for page in $(MAN_PAGES); do \
	    section=$${page##*.}; \
	    install -d $(DESTDIR)$(MANDIR)/man$$section && \
	    install -m 0644 $$page $(DESTDIR)$(MANDIR)/man$$section/ || exit 1; \
	done

tests: $(PRINT_SETTINGS)

$(PRINT_SETTINGS): tests/man/print_settings.c $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(COMMON_LIB) $(LINK_HARDEN) $(LDFLAGS) \
	    $(call pkg_libs,libsodium)

# The man phase of make check (tests/tests.mk).
.PHONY: phase-man
phase-man: all $(PRINT_SETTINGS)
	@-$(RUN_PHASE) man

check-man: phase-man
	@$(SUMMARY) man
