# tests/fuzz/fuzz.mk — libFuzzer targets (included by the Makefile).
#   make fuzz                       clang + libFuzzer + ASan + UBSan: $(BUILD)/fuzz/<target>
#   make fuzz-smoke [FUZZ_SECONDS=10]  every target for that long; fails on a crash
#   make check FUZZ=1               the same smoke run before the tests
# Replay binaries (no libFuzzer, built with $(CC) and $(CFLAGS), so also under
# SANITIZE=): $(BUILD)/fuzz-replay/<target> FILE|DIR...; tests/bats/fuzz-regress.bats
# runs them on tests/fixtures/fuzz/<target>/ (saved crashes) and the corpora.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 10
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=gnu11 -O1 -g -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE \
                -D_FILE_OFFSET_BITS=64 -DVMSNAP_VERSION='"$(VERSION)"' -Icommon -Itests/fuzz \
                $(PKG_CFLAGS) -MMD -MP $(FUZZ_SAN) -Wno-gnu-variable-sized-type-not-at-end
FUZZ_HELPERS := tests/fuzz/fuzz_util.c tests/fuzz/fuzz_machine.c
FUZZ_SRC     := $(filter-out $(FUZZ_HELPERS) tests/fuzz/replay_main.c,$(wildcard tests/fuzz/*.c))
FUZZ_TARGETS := $(notdir $(FUZZ_SRC:.c=))
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)
FUZZ_LIBOBJ  := $(COMMON_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_HELPOBJ := $(FUZZ_HELPERS:%.c=$(FUZZ_DIR)/obj/%.o)
REPLAY_DIR   := $(BUILD)/fuzz-replay
REPLAY_BINS  := $(FUZZ_TARGETS:%=$(REPLAY_DIR)/%)
REPLAY_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(FUZZ_HELPERS) tests/fuzz/replay_main.c)

# the library (instrumented for coverage) and helpers
$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/libvmsnap.a: $(FUZZ_LIBOBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_BINS): $(FUZZ_DIR)/%: $(FUZZ_DIR)/obj/tests/fuzz/%.o $(FUZZ_HELPOBJ) $(FUZZ_DIR)/libvmsnap.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(REPLAY_BINS): $(REPLAY_DIR)/%: $(BUILD)/tests/fuzz/%.o $(REPLAY_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz: $(FUZZ_BINS)

fuzz-smoke: $(FUZZ_BINS)
	FUZZ_DIR=$(abspath $(FUZZ_DIR)) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run $(FUZZ_TARGETS)

fuzz-replay: $(REPLAY_BINS)
check: $(REPLAY_BINS)
ifneq ($(FUZZ),)
check: fuzz-smoke
endif

.PHONY: fuzz fuzz-smoke fuzz-replay
.PRECIOUS: $(FUZZ_DIR)/obj/%.o $(BUILD)/tests/fuzz/%.o

-include $(FUZZ_LIBOBJ:.o=.d) $(FUZZ_HELPOBJ:.o=.d) $(FUZZ_TARGETS:%=$(FUZZ_DIR)/obj/tests/fuzz/%.d) \
         $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz/%.d) $(REPLAY_OBJ:.o=.d)
