# nextpayctl, the administrator's tool: its own sources plus the module-side
# code it shares (settings, identity map, cache, the helper and its protocol),
# so that what it reports is what the module does.

CTL_SRC     := src/nextpayctl.c $(wildcard src/ctl_*.c) \
               src/config.c src/usermap.c src/account.c src/cache.c src/helper_proc.c src/qr.c \
               src/wording.c \
               $(COMMON_SRC)
# qr = yes draws the URL as the module does, when this build has libqrencode.
CTL_PKGS    := json-c libsodium $(if $(HAVE_QRENCODE),libqrencode)
NEXTPAYCTL  := $(BUILD)/nextpayctl

all: $(NEXTPAYCTL)

$(NEXTPAYCTL): $(call obj,$(CTL_SRC))
	$(CC) -pie -o $@ $^ $(LINK_HARDEN) $(LDFLAGS) $(call pkg_libs,$(CTL_PKGS))

# A test tool: writes cache entries as the module does, for tests/ctl/ctl_test.py.
CTL_CACHE_WRITER := $(BUILD)/tests/ctl-cache-writer
CTL_WRITER_SRC   := src/cache.c $(COMMON_SRC)

tests: $(CTL_CACHE_WRITER)

$(CTL_CACHE_WRITER): tests/ctl/cache_writer.c $(call obj,$(CTL_WRITER_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $< $(call obj,$(CTL_WRITER_SRC)) $(LINK_HARDEN) $(LDFLAGS) \
	    $(call pkg_libs,json-c libsodium)
