# erlang/erlang.mk — the OTP application `shmets` (issue 16), included by the top Makefile.
#
#   make                 also builds $(B)/erlang/shmets/{ebin,priv} when Erlang and erl_nif.h are
#                        installed (tools/deps.sh test installs erlang-dev)
#   make check           also runs the EUnit tests of erlang/test/ (erlang-check)
#   make bench           also runs the NIF-against-ETS read benchmark (erlang-bench)
#   make install         also installs the application into Erlang's lib dir (ERL_LIBDIR)
#   make erlang-rebar    what rebar.config's pre_hooks call: the NIF and the beam files
#
# Under SANITIZE the application is neither built nor tested: a NIF built with ASan or TSan
# cannot be loaded into Debian's erl, which is not.

ERL       := $(shell command -v erl 2>/dev/null)
# Erlang's root: erl is $(root)/bin/erl, or $(root)/erts-V/bin/erl first in rebar3's PATH.
ERL_BIN_DIR := $(if $(ERL),$(patsubst %/bin/erl,%,$(realpath $(ERL))))
ERL_TOP_DIR ?= $(if $(wildcard $(ERL_BIN_DIR)/usr/include/erl_nif.h),$(ERL_BIN_DIR),$(patsubst %/,%,$(dir $(ERL_BIN_DIR))))
ERL_NIF_H := $(wildcard $(ERL_TOP_DIR)/usr/include/erl_nif.h)
ERLC      ?= erlc
ERL_LIBDIR ?= $(ERL_TOP_DIR)/lib
EB        := $(B)/erlang
EAPP      := $(EB)/shmets
NIF_SRC   := $(sort $(wildcard erlang/c_src/*.c))
NIF_OBJ   := $(NIF_SRC:%.c=$(B)/%.o)
ERL_TESTS := $(sort $(wildcard erlang/test/*.erl))
URCU_LIBS := -lurcu-memb -lurcu-cds -lurcu-common -lpthread

.PHONY: erlang erlang-check erlang-bench erlang-install erlang-rebar

ifeq ($(SANITIZE)$(if $(ERL_NIF_H),,none),)

all: erlang
check: erlang-check
bench: erlang-bench
install: erlang-install

erlang: $(EAPP)/priv/shmets_nif.so $(EAPP)/ebin/shmets.beam $(EAPP)/ebin/shmets.app

$(B)/erlang/c_src/%.o: erlang/c_src/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -I$(ERL_TOP_DIR)/usr/include -Ierlang/c_src -c $< -o $@

$(EAPP)/priv/shmets_nif.so: $(NIF_OBJ) $(B)/libshmets.a
	@mkdir -p $(dir $@)
	$(CC) -shared $(ALL_LDFLAGS) -o $@ $(NIF_OBJ) $(B)/libshmets.a $(LIBS) $(URCU_LIBS)

$(EAPP)/ebin/shmets.beam: erlang/src/shmets.erl | deps
	@mkdir -p $(dir $@)
	$(ERLC) -Werror -o $(dir $@) $<

$(EAPP)/ebin/shmets.app: erlang/src/shmets.app.src
	@mkdir -p $(dir $@)
	cp $< $@

$(EB)/test/%.beam: erlang/test/%.erl $(EAPP)/ebin/shmets.beam | test-deps
	@mkdir -p $(dir $@)
	$(ERLC) -o $(dir $@) -pa $(EAPP)/ebin $<

# The EUnit suites, one erl for all of them (erlang/test/run.sh: a private runtime dir and
# instance prefix per run, and every segment and etsmgr the tests made removed at the end).
erlang-check: erlang $(ERL_TESTS:erlang/test/%.erl=$(EB)/test/%.beam) $(B)/shmets $(B)/etsmgr | test-deps
	@erlang/test/run.sh $(B) $(ERL_TESTS:erlang/test/%.erl=%)

$(EB)/bench/shmets_bench.beam: erlang/bench/shmets_bench.erl
	@mkdir -p $(dir $@)
	$(ERLC) -o $(dir $@) $<

erlang-bench: erlang $(EB)/bench/shmets_bench.beam
	@echo "== erlang/bench/shmets_bench.erl (BENCH_SECONDS=$(BENCH_SECONDS))"
	@mkdir -p $(B)/bench
	@SHMETS_NO_AUTOSTART=1 BENCH_SECONDS=$(BENCH_SECONDS) erl -noshell -pa $(EAPP)/ebin -pa $(EB)/bench -s shmets_bench main \
	    | tee $(B)/bench/erlang.tsv
	@{ echo "## Erlang: lookups through the NIF against ets:lookup/2 in the same VM"; echo; \
	   echo "erlang/bench/shmets_bench.erl: a 100,000-object set, random hits, P reading processes in one VM."; echo; \
	   echo "| store | P | lookups/s | ns a lookup a process |"; echo "| --- | ---: | ---: | ---: |"; \
	   awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s |\n", $$1, $$2, $$3, $$4 }' $(B)/bench/erlang.tsv; } > $(B)/bench/erlang.md

erlang-install: erlang
	install -d $(DESTDIR)$(ERL_LIBDIR)/shmets-$(VERSION)/ebin $(DESTDIR)$(ERL_LIBDIR)/shmets-$(VERSION)/priv
	install -m 0644 $(EAPP)/ebin/shmets.beam $(EAPP)/ebin/shmets.app $(DESTDIR)$(ERL_LIBDIR)/shmets-$(VERSION)/ebin/
	install -m 0755 $(EAPP)/priv/shmets_nif.so $(DESTDIR)$(ERL_LIBDIR)/shmets-$(VERSION)/priv/

erlang-rebar: erlang

-include $(NIF_OBJ:.o=.d)

else ifneq ($(SANITIZE),)

erlang erlang-rebar:
	@echo "erlang: not built (SANITIZE=$(SANITIZE): a sanitized NIF cannot load into erl)"
erlang-check:
	@echo "erlang-check: skipped (SANITIZE=$(SANITIZE): a sanitized NIF cannot load into erl)"
check: erlang-check

else

# No erl_nif.h when this file was read.  On a new machine tools/deps.sh test (check's first
# step) installs erlang-dev meanwhile: then a second make builds and tests the application.
erlang erlang-rebar:
	@echo "erlang: not built (no erl or erl_nif.h: tools/deps.sh test installs erlang-dev)"
erlang-check: | test-deps
	@if [ -z "$(SHMETS_ERLANG_AGAIN)" ] && r=$$(erl -noshell -eval 'io:format("~s", [code:root_dir()]), halt().' 2>/dev/null) && \
	    [ -e "$$r/usr/include/erl_nif.h" ]; then $(MAKE) --no-print-directory ERL_TOP_DIR="$$r" SHMETS_ERLANG_AGAIN=1 erlang-check; \
	 else echo "erlang-check: skipped (no erl or erl_nif.h)"; fi
check: erlang-check

endif
