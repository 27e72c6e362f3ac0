# SPDX-License-Identifier: BSD-2-Clause
# Packages.  Included from the Makefile after man/man.mk.
#
#   make deb              build/deb/libpam-nextpay_VERSION-1_ARCH.deb (dpkg-buildpackage)
#   make rpm              build/rpm/RPMS/ARCH/pam_nextpay-VERSION-1.ARCH.rpm (rpmbuild -bb)
#   make install-package  what make install does, plus what both packages add:
#                         the helper's system user (sysusers.d), the cache
#                         directory (tmpfiles.d), and a configuration file that
#                         names that user; DESTDIR is required
#   make install-authselect  the RPM's authselect profiles (packaging/authselect/)
#   make check-package    the package tests alone (tests/package/package_test.py,
#                         tests/package/authselect_test.py)
#
# Each package is built from a scratch copy of the tree under $(BUILD), as a
# source tarball would have it, so that nothing of this tree's own build leaks
# in.  Debian's control files are in packaging/debian/, the RPM spec is
# packaging/pam_nextpay.spec.

SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
# The helper's account, as named by its one definition, the sysusers.d file.
PACKAGE_HELPER_USER := $(shell awk '$$1 == "u" { print $$2 }' packaging/pam_nextpay.sysusers)
PACKAGED_CONF := $(DESTDIR)$(SYSCONFDIR)/security/pam_nextpay.conf

DIST_NAME   := pam_nextpay-$(VERSION)
DEB_DIR     := $(BUILD)/deb
RPM_DIR     := $(BUILD)/rpm
# The tools the packaging runs get no make variables, options or jobserver from us.
PACKAGE_ENV := env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES

.PHONY: install-package deb rpm check-package

# Refuses to run without DESTDIR, before installing anything: it replaces
# pam_nextpay.conf, which on a live system would throw away the administrator's
# settings.
ifeq ($(DESTDIR),)
install-package:
	@echo "install-package builds a package's tree: give DESTDIR" >&2; exit 1
else
install-package: install
	install -d $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 0644 packaging/pam_nextpay.sysusers $(DESTDIR)$(SYSUSERSDIR)/pam_nextpay.conf
	install -m 0644 packaging/pam_nextpay.tmpfiles $(DESTDIR)$(TMPFILESDIR)/pam_nextpay.conf
	sed 's/^#helper_user = nobody$$/&\nhelper_user = $(PACKAGE_HELPER_USER)/' conf/pam_nextpay.conf \
	    >$(PACKAGED_CONF).tmp
	@grep -qx 'helper_user = $(PACKAGE_HELPER_USER)' $(PACKAGED_CONF).tmp || { \
	    echo "conf/pam_nextpay.conf has no line '#helper_user = nobody' to follow" >&2; exit 1; }
	chmod 0644 $(PACKAGED_CONF).tmp
	mv $(PACKAGED_CONF).tmp $(PACKAGED_CONF)
endif

# authselect's vendor profiles nextpay-local and nextpay-sssd: Fedora and RHEL
# write /etc/pam.d/system-auth and password-auth from a profile, and these are
# authselect's local and sssd with the NextPay line first.  packaging/authselect/
# has the files that differ from the base profile; the others are links to the
# base's own, so that they follow authselect's updates.
AUTHSELECT_VENDORDIR ?= $(PREFIX)/share/authselect/vendor
AUTHSELECT_BASES     := local sssd
AUTHSELECT_LINKED    := REQUIREMENTS nsswitch.conf postlogin fingerprint-auth smartcard-auth \
                        dconf-db dconf-locks

.PHONY: install-authselect
install-authselect:
	@for base in $(AUTHSELECT_BASES); do \
	    dir=$(DESTDIR)$(AUTHSELECT_VENDORDIR)/nextpay-$$base; \
	    install -d $$dir && \
	    install -m 0644 packaging/authselect/nextpay-$$base/* $$dir/ || exit 1; \
	    for file in $(AUTHSELECT_LINKED); do \
	        ln -sfn ../../default/$$base/$$file $$dir/$$file || exit 1; \
	    done; \
	done

# $(1): where the copy goes.  Everything but git, build output and caches.
define copy_tree
	rm -rf $(1)
	mkdir -p $(1)
	tar -C . --exclude=./.git --exclude='./build*' --exclude=./$(BUILD) --exclude=__pycache__ \
	    -cf - . | tar -C $(1) -xf -
endef

# $(1): what the version is written in, $(2): that version.
define same_version
	@if [ "$(2)" != "$(VERSION)" ]; then \
	    echo "$(1) says version $(2), the Makefile $(VERSION): change them together" >&2; \
	    exit 1; fi
endef

DEB_CHANGELOG_VERSION = $(shell dpkg-parsechangelog -l packaging/debian/changelog -S Version)
SPEC_VERSION          = $(shell awk '$$1 == "Version:" { print $$2 }' packaging/pam_nextpay.spec)

deb:
	$(call same_version,packaging/debian/changelog,$(firstword $(subst -, ,$(DEB_CHANGELOG_VERSION))))
	rm -rf $(DEB_DIR)
	$(call copy_tree,$(DEB_DIR)/$(DIST_NAME))
	cp -R packaging/debian $(DEB_DIR)/$(DIST_NAME)/debian
	cd $(DEB_DIR)/$(DIST_NAME) && $(PACKAGE_ENV) DEB_BUILD_OPTIONS="parallel=2 $(DEB_BUILD_OPTIONS)" \
	    dpkg-buildpackage -b -us -uc
	@ls $(DEB_DIR)/*.deb

rpm:
	$(call same_version,packaging/pam_nextpay.spec,$(SPEC_VERSION))
	rm -rf $(RPM_DIR)
	$(call copy_tree,$(RPM_DIR)/tree/$(DIST_NAME))
	mkdir -p $(RPM_DIR)/SOURCES
	tar -C $(RPM_DIR)/tree -czf $(RPM_DIR)/SOURCES/$(DIST_NAME).tar.gz $(DIST_NAME)
	cp packaging/pam_nextpay.sysusers $(RPM_DIR)/SOURCES/
	$(PACKAGE_ENV) rpmbuild -bb --nodeps --define '_topdir $(abspath $(RPM_DIR))' \
	    packaging/pam_nextpay.spec
	@ls $(RPM_DIR)/RPMS/*/*.rpm

# authselect 1.5.0 for tests/package/authselect_test.py: Debian 13's packages,
# fetched through apt once per machine into a cache outside the tree, unpacked
# into a root the test runs it in.  Where they cannot be had, the script leaves
# the reason and those tests skip.
.PHONY: authselect-1.5.0
authselect-1.5.0:
	@./tests/package/fetch-authselect.sh $(abspath $(BUILD))/authselect

# The package phase of make check (tests/tests.mk): both packages built first; the
# tests install the .deb (as root), and run the RPM's authselect profiles.
.PHONY: phase-package
phase-package: all deb rpm authselect-1.5.0
	@-$(RUN_PHASE) package

check-package: phase-package
	@$(SUMMARY) package
