# SPDX-License-Identifier: BSD-2-Clause
# Coverage-guided fuzzing (libFuzzer, clang) of every parser of untrusted
# input: the API's answers, the module <-> helper protocol, the config file
# and module arguments, the identity map, cache files, np_sanitize, the
# scan for sshd's OpenSSH release and sshd's SSH_AUTH_INFO_0.
#
#   make fuzz-build     build/fuzz/fuzz_<name> for every target
#   make fuzz           fuzz each target FUZZ_SECONDS (60) seconds, one after another
#   make fuzz-smoke     the same for 10 seconds each (CI)
#   make fuzz-regress   run each target once over its seeds and every crash ever kept
#                       (tests/fuzz/regressions/<name>/): no fuzzing, a few seconds
#   make fuzz-seeds     regenerate the generated seeds (protocol lines, sealed cache entries)
#
# FUZZ_TARGETS=... picks targets.  Project sources are compiled again with the
# sanitizers into build/fuzz/obj/; the gcc objects are never reused.  Needs
# Debian's clang and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes).
# Works included from the Makefile or alone: make -f tests/fuzz/fuzz.mk fuzz-build
#
# A crash leaves its input in build/fuzz/artifacts/<name>-crash-<sha1>; replay it
# with build/fuzz/fuzz_<name> FILE.  Once fixed, keep it as
# tests/fuzz/regressions/<name>/<what-it-broke> so fuzz-regress replays it forever.

BUILD         ?= build
PKG_CONFIG    ?= pkg-config
FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_DIR      := tests/fuzz
FUZZ_BUILD    := $(BUILD)/fuzz

FUZZ_ALL      := api_device_code api_poll api_token api_me protocol config usermap cache sanitize \
                 sshd_info ssh_key
FUZZ_TARGETS  ?= $(FUZZ_ALL)
FUZZ_BINS     := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_ALL))

FUZZ_SANITIZE := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_PKGS     := json-c libsodium pam
# Third-party headers as system headers, as in the Makefile.  Flags are
# expanded only when a fuzz rule runs: a plain make pays nothing for them.
FUZZ_PKG_CFLAGS = $(patsubst -I%,-isystem %,$(shell $(PKG_CONFIG) --cflags $(FUZZ_PKGS)))
FUZZ_BASE     = -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $(FUZZ_PKG_CFLAGS) \
                 -DNP_VERSION='"fuzz"' $(PATH_DEFINES) $(if $(HAVE_QRENCODE),-DNP_HAVE_QRENCODE)
# The project's warnings, without -Werror: gcc's build is the gate, and a
# warning only clang gives must not break fuzzing.  Harnesses: -Wall.
FUZZ_SRC_CFLAGS  = $(FUZZ_BASE) $(FUZZ_SANITIZE) -Wall -Wextra -Wconversion -Wformat=2 -Wshadow -Isrc
FUZZ_HARN_CFLAGS = $(FUZZ_BASE) $(FUZZ_SANITIZE) -Wall -Isrc
FUZZ_LDLIBS   = $(shell $(PKG_CONFIG) --libs json-c libsodium libsystemd $(if $(HAVE_QRENCODE),libqrencode))

# The parsers and what they call; linked through an archive so that each
# target pulls (and counts coverage of) only the objects it uses: all of
# src/common/ (a new shared file comes along), the helper's reading of the
# API's answers and the module's scan for sshd's release.
FUZZ_LIB_SRC  := $(sort $(wildcard src/common/*.c) src/helper/api_parse.c src/module/sshd_info.c)
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_LIB_SRC))
FUZZ_LIB      := $(FUZZ_BUILD)/libnp_fuzz.a

.PHONY: fuzz-build fuzz fuzz-smoke fuzz-regress fuzz-seeds fuzz-clean

fuzz-build: $(FUZZ_BINS)

$(FUZZ_BUILD)/obj/%.o: %.c $(PATHS_STAMP)
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzz: $(FUZZ_CC) not found (Debian: clang libclang-rt-14-dev)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_SRC_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_DIR)/fuzz_%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_HARN_CFLAGS) -MMD -MP -MF $(FUZZ_BUILD)/obj/$(notdir $@).d -o $@ $< $(FUZZ_LIB) $(FUZZ_LDLIBS)

-include $(wildcard $(FUZZ_BUILD)/obj/src/*/*.d $(FUZZ_BUILD)/obj/*.d)

fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) $(FUZZ_DIR)/run-fuzz.sh fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) $(FUZZ_DIR)/run-fuzz.sh fuzz 10 $(FUZZ_TARGETS)

fuzz-regress: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) $(FUZZ_DIR)/run-fuzz.sh regress 0 $(FUZZ_TARGETS)

# The generator is an ordinary program (no libFuzzer): sanitizers, sources linked directly.
$(FUZZ_BUILD)/gen_seeds: $(FUZZ_DIR)/gen_seeds.c $(FUZZ_DIR)/fuzz_common.h $(FUZZ_LIB_SRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_BASE) -fsanitize=address,undefined -fno-sanitize-recover=all -Wall \
	    -Isrc -o $@ $(FUZZ_DIR)/gen_seeds.c $(FUZZ_LIB_SRC) $(FUZZ_LDLIBS)

fuzz-seeds: $(FUZZ_BUILD)/gen_seeds
	mkdir -p $(FUZZ_DIR)/corpus
	$(FUZZ_BUILD)/gen_seeds $(FUZZ_DIR)/corpus

fuzz-clean:
	rm -rf $(FUZZ_BUILD)
