# vm-snap: vmctl, vhdtool, snapctl — one GNU Makefile.
#   make                      build everything
#   make check                unit tests + bats suites, ends with "N passed, N failed"
#   make check SANITIZE=address,undefined
#   make install PREFIX=/usr/local DESTDIR=
#   make deps                 install the Debian packages the build and tests need
#   make demo                 short demo of the main job on an embedded default
#   make fuzz / fuzz-smoke    libFuzzer targets (clang); FUZZ_SECONDS=10 per target
#   make check FUZZ=1         the fuzz smoke run first, then the tests
#   make lint                 cppcheck + clang-tidy on common/ (make -j2 lint)
#   make valgrind             the unit tests under valgrind memcheck
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR   = $(PREFIX)/bin
MANDIR   = $(PREFIX)/share/man
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions

VERSION := 0.1.0
CC      ?= cc
PKGS     = libxml-2.0 popt json-c libarchive libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WERROR  ?= -Werror
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra $(WERROR) -Wno-unused-parameter -Wno-format-truncation -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
           -DVMSNAP_VERSION='"$(VERSION)"' -Icommon $(PKG_CFLAGS) -MMD -MP
LDLIBS  += $(PKG_LIBS)

ifneq ($(SANITIZE),)
BUILD   ?= build-san
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
else
BUILD   ?= build
endif

COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
LIB        := $(BUILD)/libvmsnap.a

# every folder cmd/<tool>/ builds $(BUILD)/<tool>
TOOLS      := $(notdir $(patsubst %/,%,$(wildcard cmd/*/)))
TOOL_OBJS   = $(patsubst %.c,$(BUILD)/%.o,$(wildcard cmd/$(1)/*.c))
ALL_CMD_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard cmd/*/*.c))

UNIT_SRC   := $(wildcard tests/unit/*.c)
TOOL_SRC   := $(wildcard tests/tool/*.c)
TOOL_OBJ   := $(TOOL_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ   := $(UNIT_SRC:%.c=$(BUILD)/%.o)

BINS := $(TOOLS:%=$(BUILD)/%)

all: $(BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(COMMON_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

define TOOL_RULE
$(BUILD)/$(1): $(call TOOL_OBJS,$(1)) $(LIB)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call TOOL_RULE,$(t))))

$(BUILD)/unit-tests: $(UNIT_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test-tool: $(TOOL_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The test guest vmctl's tests boot (tests/guest/README.md): a freestanding
# ELF64 at 1 MiB, built with its own flags, never with $(CFLAGS) or sanitizers.
GUEST_SRC   := $(wildcard tests/guest/*.c tests/guest/*.S)
GUEST_FLAGS := -O2 -g -std=gnu11 -Wall -Wextra $(WERROR) -ffreestanding -nostdlib -static \
               -fno-pic -fno-pie -mno-red-zone -mgeneral-regs-only -march=x86-64 \
               -fno-stack-protector -fno-asynchronous-unwind-tables -fcf-protection=none \
               -Wl,-T,tests/guest/guest.ld -Wl,--build-id=none -Wl,-z,noexecstack
$(BUILD)/guest.elf: $(GUEST_SRC) $(wildcard tests/guest/*.h) tests/guest/guest.ld
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_FLAGS) -o $@ $(GUEST_SRC)
check: $(BUILD)/guest.elf

# The fault interposer the fault tests preload (tests/faultinj/faultinj.c):
# never sanitized itself (it is preloaded into sanitized tools as well).
$(BUILD)/faultinj.so: tests/faultinj/faultinj.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra $(WERROR) -fPIC -shared -o $@ $< -ldl
check: $(BUILD)/faultinj.so

# Tests: the unit binary and every bats file; tests/run-all counts results.
check: $(BINS) $(BUILD)/unit-tests $(BUILD)/test-tool
	BUILD=$(abspath $(BUILD)) tests/run-all

demo: $(BINS) $(BUILD)/guest.elf
	BUILD=$(abspath $(BUILD)) ./demo.sh

deps:
	@./tools/deps.sh

install: $(BINS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(BASHCOMPDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(wildcard man/*.5) $(DESTDIR)$(MANDIR)/man5/
	for t in $(TOOLS); do install -m 0644 completions/$$t.bash $(DESTDIR)$(BASHCOMPDIR)/$$t; done

clean:
	rm -rf build build-san

# fuzzing (tests/fuzz/fuzz.mk): make fuzz, make fuzz-smoke, make check FUZZ=1
include tests/fuzz/fuzz.mk

# Static analysis of common/ (make lint): both must be clean. clang-tidy's
# checks are in .clang-tidy; cppcheck's false positives in .cppcheck-suppressions.
# cppcheck: warning, style, performance, portability, except variableScope
# (declaring at the top of a block is the house style, not a defect).
CPPCHECK   ?= cppcheck
CLANG_TIDY ?= clang-tidy
CPPCHECK_FLAGS = --std=c11 --enable=warning,style,performance,portability --error-exitcode=1 \
                 --inline-suppr -q --suppress=variableScope --suppress=missingIncludeSystem \
                 --suppressions-list=.cppcheck-suppressions -D_GNU_SOURCE -Icommon $(PKG_CFLAGS)
TIDY_FLAGS = -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DVMSNAP_VERSION='"$(VERSION)"' \
             -Icommon $(PKG_CFLAGS)
TIDY_STAMPS := $(COMMON_SRC:%.c=$(BUILD)/lint/%.tidy)

$(BUILD)/lint/%.tidy: %.c .clang-tidy $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	@echo "clang-tidy $<"
	@$(CLANG_TIDY) -quiet $< -- $(TIDY_FLAGS) > $@.log 2>&1 || \
		{ grep -v ' warnings\? generated' $@.log >&2; exit 1; }
	@touch $@

lint-cppcheck:
	$(CPPCHECK) $(CPPCHECK_FLAGS) common/

lint-tidy: $(TIDY_STAMPS)

lint: lint-cppcheck lint-tidy

# valgrind memcheck on the unit tests (a plain build, not SANITIZE=)
VALGRIND ?= valgrind
valgrind: $(BUILD)/unit-tests
	$(VALGRIND) --error-exitcode=1 --leak-check=full -q $(BUILD)/unit-tests

.PHONY: all check demo deps install clean lint lint-cppcheck lint-tidy valgrind

-include $(COMMON_OBJ:.o=.d) $(ALL_CMD_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(TOOL_OBJ:.o=.d)
