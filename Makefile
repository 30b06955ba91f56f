# signet — plain GNU make, everything built out of tree under $(BUILD).
#
#   make            build/bin/signetd, build/bin/signetctl, unit tests
#   make run        install missing packages, build, start signetd (demo config)
#   make test       install missing packages, build, run every test
#   make asan       the same binaries and unit tests under ASan+UBSan (build/asan)
#   make fuzz       libFuzzer targets (build/fuzz), see tests/fuzz/
#   make bench      throughput figures against the crypto ceiling and peers
#   make install    binaries into $(PREFIX)/sbin and $(PREFIX)/bin
#
# Modules are discovered by directory: proxy/msg, keys, config and proxy
# (less main.c) each become one static library; tools/ links into signetctl.

BUILD	?= build
PREFIX	?= /usr/local
CC	?= cc
SAN	?=

PKGS	:= libevent libevent_openssl libevent_pthreads yaml-0.1 libsodium \
	   openssl ldns libidn2
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || \
	echo -levent_openssl -levent_pthreads -levent -lyaml -lsodium \
	     -lssl -lcrypto -lldns)

WARN	:= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wformat=2 -Wformat-security \
	   -Wno-missing-field-initializers
CFLAGS	?= -O2 -g
CFLAGS	+= -std=gnu11 -D_GNU_SOURCE -fstack-protector-strong -pthread \
	   $(WARN) -I. $(PKG_CFLAGS)
LDLIBS	+= $(PKG_LIBS) -pthread

ifeq ($(SAN),1)
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
else
CFLAGS	+= -D_FORTIFY_SOURCE=2
endif

MSG_SRC		:= $(wildcard proxy/msg/*.c)
KEYS_SRC	:= $(wildcard keys/*.c)
CONFIG_SRC	:= $(wildcard config/*.c)
PROXY_SRC	:= $(filter-out proxy/main.c,$(wildcard proxy/*.c))
TOOLS_SRC	:= $(wildcard tools/*.c)
UNIT_SRC	:= $(wildcard tests/unit/test_*.c)
FUZZ_SRC	:= $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_MSG		:= $(BUILD)/lib/libsignet_msg.a
LIB_KEYS	:= $(BUILD)/lib/libsignet_keys.a
LIB_CONFIG	:= $(BUILD)/lib/libsignet_config.a
LIB_PROXY	:= $(BUILD)/lib/libsignet_proxy.a
ALL_LIBS	:= $(LIB_PROXY) $(LIB_CONFIG) $(LIB_KEYS) $(LIB_MSG)
LINK_LIBS	:= -Wl,--start-group $(ALL_LIBS) -Wl,--end-group

SIGNETD		:= $(if $(wildcard proxy/main.c),$(BUILD)/bin/signetd)
SIGNETCTL	:= $(if $(TOOLS_SRC),$(BUILD)/bin/signetctl)
UNIT_BIN	:= $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all deps run test asan fuzz bench install clean check-layout
.DEFAULT_GOAL := all
.SECONDARY:

all: $(SIGNETD) $(SIGNETCTL) $(UNIT_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

define make_lib
$(1): $(call obj,$(2))
	@mkdir -p $$(dir $$@)
	rm -f $$@
	$$(AR) rcs $$@ $$^ $(if $(2),,$$(BUILD)/obj/empty.o)
endef
$(BUILD)/obj/empty.o:
	@mkdir -p $(dir $@)
	echo 'typedef int signet_empty_unit;' | $(CC) -x c -c -o $@ -
$(eval $(call make_lib,$(LIB_MSG),$(MSG_SRC)))
$(eval $(call make_lib,$(LIB_KEYS),$(KEYS_SRC)))
$(eval $(call make_lib,$(LIB_CONFIG),$(CONFIG_SRC)))
$(eval $(call make_lib,$(LIB_PROXY),$(PROXY_SRC)))
$(ALL_LIBS): | $(BUILD)/obj/empty.o

$(BUILD)/bin/signetd: $(call obj,proxy/main.c) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call obj,proxy/main.c) $(LINK_LIBS) $(LDLIBS)

$(BUILD)/bin/signetctl: $(call obj,$(TOOLS_SRC)) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(call obj,$(TOOLS_SRC)) $(LINK_LIBS) $(LDLIBS)

# A test links only the libraries its name implies, so a module under
# construction elsewhere never blocks another module's tests:
#   test_msg_*  -> msg         test_keys_*   -> keys msg
#   test_config_* -> config msg   anything else -> every library
test_libs = $(if $(filter test_msg_%,$(1)),$(LIB_MSG),$(if \
	$(filter test_keys_%,$(1)),$(LIB_KEYS) $(LIB_MSG),$(if \
	$(filter test_config_%,$(1)),$(LIB_CONFIG) $(LIB_MSG),$(ALL_LIBS))))

.SECONDEXPANSION:
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $$(call test_libs,$$*)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< -Wl,--start-group $(call test_libs,$*) \
		-Wl,--end-group $(LDLIBS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Debian packages: installed when missing (as root), see tools/deps.sh.
deps:
	@sh tools/deps.sh

run: deps all
	@sh tools/run-demo.sh

test: deps all
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory fuzz
	@/usr/bin/python3 tests/run.py

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 CC=$(CC) all

# libFuzzer needs clang; every library source is rebuilt with coverage.
FUZZ_CC		:= clang
FUZZ_CFLAGS	:= -g -O1 -std=gnu11 -D_GNU_SOURCE -pthread -I. $(PKG_CFLAGS) \
		   -fsanitize=fuzzer-no-link,address,undefined \
		   -fno-sanitize-recover=undefined
# Same prefix rule as the unit tests: fuzz_msg_* needs only proxy/msg.
fuzz_src = $(if $(filter fuzz_msg_%,$(1)),$(MSG_SRC),$(if \
	$(filter fuzz_config_%,$(1)),$(CONFIG_SRC) $(MSG_SRC),$(MSG_SRC) \
	$(KEYS_SRC) $(CONFIG_SRC) $(PROXY_SRC)))
fuzz_obj = $(patsubst %.c,build/fuzz/obj/%.o,$(call fuzz_src,$(1)))
FUZZ_BIN	:= $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))

fuzz: $(FUZZ_BIN)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

build/fuzz/%: tests/fuzz/%.c $$(call fuzz_obj,$$*)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(call fuzz_obj,$*) $(PKG_LIBS) -pthread

BENCH_BIN	:= $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(wildcard tests/bench/bench_*.c))

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LINK_LIBS) $(LDLIBS)

bench: deps all $(BENCH_BIN)
	@SIGNET_BUILD=$(abspath $(BUILD)) /usr/bin/python3 tests/bench/run.py

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	$(if $(SIGNETD),install -m 0755 $(SIGNETD) $(DESTDIR)$(PREFIX)/sbin/)
	$(if $(SIGNETCTL),install -m 0755 $(SIGNETCTL) $(DESTDIR)$(PREFIX)/bin/)

clean:
	rm -rf build
