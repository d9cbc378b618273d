# shmets — one non-recursive GNU Makefile (CONVENTIONS.md item 11).
#
#   make                      libshmets.a, libshmets.so and the programs, in build/
#   make check                every test (installs missing Debian packages first, see tools/deps.sh)
#   make check SANITIZE=address,undefined     the same under ASan+UBSan, in build/san-address-undefined/
#   make check SANITIZE=thread                 the multithreaded tests under TSan (TSAN_TESTS below)
#   make diff-check           only the differential test: `shmets script` against Erlang's ETS
#   make ms-diff-check        only the match-specification differential test against Erlang
#   make stress [STRESS=N] [STRESS_MINUTES=M]   the multi-process and kill tests, N times longer
#                             (default 25), then the kill -9 campaign for M minutes (default 10)
#   make fuzz [FUZZ_SECONDS=N]  every libFuzzer target of tests/fuzz/ for N seconds each (clang)
#   make demo                 the main job: tables shared by processes, an owner killed, its heir taking over
#   make install PREFIX=...   headers, libraries, shmets.pc, programs, man pages, systemd units
#   make clean
#
# Every build first runs `tools/deps.sh`, which installs what is missing (as root) or says
# what to install.  Products go to build/ (or build/san-*/ with SANITIZE); nothing else is written.

PREFIX     ?= /usr/local
DESTDIR    ?=
SANITIZE   ?=
CC         ?= cc
CXX        ?= c++
VERSION    := 0.1.0
SOVERSION  := 0

comma := ,
ifeq ($(SANITIZE),)
  B := build
  OPT := -O2
else
  B := build/san-$(subst $(comma),-,$(SANITIZE))
  OPT := -O1 -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
  SAN_LDFLAGS := -fsanitize=$(SANITIZE)
endif
# ThreadSanitizer (make check SANITIZE=thread) runs only TSAN_TESTS, the tests whose processes
# run threads: test_threads (threads sharing instance and table handles) and test_ms (threads
# sharing a compiled specification).  Every other test runs one thread a process, and its
# concurrency is between processes, which TSan cannot see (it watches one process's threads;
# another process's stores into shared memory are invisible to it), so under TSan those tests
# would cost minutes and find nothing; the differential test is left out likewise.  gcc's
# -Wtsan says TSan ignores atomic_thread_fence (the seqlock of T.3 and two fences in
# commit.c and rcu.c), and it cannot see the ordering membarrier(2) gives the RCU (R.3 of
# rcu.c): a report there is judged by hand, and fixed with an atomic access, not suppressed.
# None is suppressed now.
TSAN_TESTS := test_threads test_ms
ifneq ($(filter thread,$(subst $(comma), ,$(SANITIZE))),)
  TSAN := 1
  OPT += -Wno-tsan
endif

WARN     := -Wall -Wextra -Wstrict-prototypes -Werror
CFLAGS   ?= -g
ALL_CFLAGS := -std=gnu11 $(WARN) $(OPT) $(CFLAGS) -fPIC -D_GNU_SOURCE -Iinclude -Ishm -MMD -MP
LIBS     := -lxxhash -lgmp -llz4 -lz -lmd -lm
LDFLAGS  ?=
ALL_LDFLAGS := $(SAN_LDFLAGS) $(LDFLAGS)

LIB_SRC  := $(sort $(wildcard shm/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
# Test builds of the library compile the crash points in (-DSHMETS_TEST); the product never has them.
TLIB_OBJ := $(LIB_SRC:%.c=$(B)/test-lib/%.o)
TOOL_SRC := tools/main.c tools/tool.c tools/script.c tools/script_scan.c tools/script_common.c tools/script_ets.c tools/script_ms.c tools/script_file.c tools/script_mgr.c tools/cmd_tab.c tools/cmd_file.c tools/top.c tools/cmd_events.c tools/liveness.c tools/shell.c
TOOL_LIBS := -ledit
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCHES  := $(BENCH_SRC:bench/%.c=$(B)/bench/%)
TESTS    := $(TEST_SRC:tests/%.c=$(B)/tests/%)
ifdef TSAN
  TESTS  := $(TSAN_TESTS:%=$(B)/tests/%)
endif
PROGRAMS := $(B)/shmets $(B)/etsmgr
# etsmgr, the supervisor daemon (issue 6; sources in mgr/, its client side in shm/etsmgr/).
MGR_SRC  := $(sort $(wildcard mgr/*.c))

.PHONY: all deps test-deps bench-deps units-check layers check diff-check ms-diff-check stress demo bench install clean headers-check FORCE
.DEFAULT_GOAL := all

all: $(B)/libshmets.a $(B)/libshmets.so $(PROGRAMS)

# The dependency check runs before anything is compiled (order-only: it never forces a rebuild).
deps:
	@tools/deps.sh build
test-deps:
	@tools/deps.sh test

$(B)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/test-lib/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DSHMETS_TEST -c $< -o $@

$(B)/libshmets-test.a: $(TLIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/libshmets.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/libshmets.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libshmets.so.$(SOVERSION) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(B)/shmets: $(TOOL_SRC:%.c=$(B)/%.o) $(B)/libshmets.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(TOOL_LIBS)

$(B)/etsmgr: $(MGR_SRC:%.c=$(B)/%.o) $(B)/libshmets.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -lsystemd -lpthread

# The etsmgr tests and the handover bench start the daemon of the same build.
$(B)/tests/test_mgr%: $(B)/tests/test_mgr%.o $(B)/libshmets-test.a $(B)/etsmgr $(B)/shmets | test-deps
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter-out $(B)/etsmgr $(B)/shmets,$^) $(LIBS) -lcmocka -lpthread
$(B)/bench/handover: $(B)/bench/handover.o $(B)/libshmets.a $(B)/etsmgr
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter-out $(B)/etsmgr,$^) $(LIBS) -lpthread

$(B)/tests/%: $(B)/tests/%.o $(B)/libshmets-test.a | test-deps
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -lcmocka -lpthread

$(B)/tests/%.o: tests/%.c | test-deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DSHMETS_TEST -c $< -o $@

$(B)/bench/%: $(B)/bench/%.o $(B)/libshmets.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) -lpthread

# bench/range.c (issue 18's R5) compares with LMDB's cursor when <lmdb.h> is there.
$(B)/bench/range.o: $(B)/bench/features
$(B)/bench/range: $(B)/bench/range.o $(B)/libshmets.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $$(grep -q lmdb $(B)/bench/features && echo -llmdb) -lpthread

# Benchmarks print figures (TSV on stdout, a sentence on stderr); they never fail on speed.
# build/shmets-bench (issue 8; sources in bench/shmets-bench/) measures shmets against LMDB, a
# locked hash, Redis, liburcu, a flat array and ETS in one run: `make bench` installs the peers
# (tools/deps.sh bench), runs the programs of bench/*.c and then shmets-bench's standard set, each
# run BENCH_SECONDS long, writing $(B)/bench/report.md and read-scaling.svg (about 5 minutes).
# LMDB is compiled in when <lmdb.h> is there, which $(B)/bench/features records at every build.
SB_SRC   := $(sort $(wildcard bench/shmets-bench/*.c))
SB_OBJ   := $(SB_SRC:%.c=$(B)/%.o)
SB_DEPS  := $(if $(filter bench bench-ycsb,$(MAKECMDGOALS)),bench-deps,deps)
BENCH_SECONDS ?= 2

bench-deps:
	@tools/deps.sh bench

$(B)/bench/features: FORCE | $(SB_DEPS)
	@mkdir -p $(dir $@)
	@f="$$(test -e /usr/include/lmdb.h && echo lmdb)"; [ -e $@ ] && [ "$$(cat $@)" = "$$f" ] || echo "$$f" > $@

$(B)/bench/shmets-bench/%.o: bench/shmets-bench/%.c $(B)/bench/features | $(SB_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/shmets-bench: $(SB_OBJ) $(B)/libshmets.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $$(grep -q lmdb $(B)/bench/features && echo -llmdb) \
	    -lurcu-memb -lurcu-cds -lurcu-common -lpthread

bench: $(BENCHES) $(B)/shmets-bench
	@for b in $(filter-out $(B)/bench/range,$(BENCHES)); do echo "== $$b"; $$b || exit 1; done
	@echo "== $(B)/bench/range and bench/range.escript: R5 (into $(B)/bench/range.tsv, read by the report)"
	@$(B)/bench/range > $(B)/bench/range.tsv
	@if command -v escript >/dev/null; then escript bench/range.escript >> $(B)/bench/range.tsv; fi
	@echo "== bench/cost.sh $(B): instructions per lookup under callgrind (beside the targets, and appended to report.md)"
	@bench/cost.sh $(B) >/dev/null
	@echo "== $(B)/shmets-bench --standard --seconds $(BENCH_SECONDS) --out $(B)/bench"
	@$(B)/shmets-bench --standard --seconds $(BENCH_SECONDS) --out $(B)/bench --ets-script bench/ets.escript >/dev/null
	@echo "== bench/incache.sh $(B): R1 at P = 1 on 1,000 objects (instructions against misses, appended to report.md)"
	@BENCH_SECONDS=$(BENCH_SECONDS) bench/incache.sh $(B) >/dev/null
	@{ echo; cat $(B)/bench/cost.md; echo; cat $(B)/bench/incache.md; } >> $(B)/bench/report.md
	@if [ -e $(B)/bench/erlang.md ]; then { echo; cat $(B)/bench/erlang.md; } >> $(B)/bench/report.md; fi

include bench/ycsb.mk

# make check runs a one-second smoke run of shmets-bench (tests/test_bench_smoke.c) and of each
# YCSB workload (tests/test_ycsb_smoke.c).
ifndef TSAN
check: $(B)/shmets-bench
endif

FORCE:

# Each public header compiles on its own, as C and as C++.
headers-check: | deps
	@mkdir -p $(B)
	@for h in include/*.h; do \
	  echo "#include \"$$h\"" | $(CC) -std=gnu11 $(WARN) -Iinclude -x c -fsyntax-only - || exit 1; \
	  echo "#include \"$$h\"" | $(CXX) -std=c++17 -Wall -Wextra -Werror -Iinclude -x c++ -fsyntax-only - || exit 1; \
	done
	@echo "headers-check: include/*.h compile standalone as C and C++"

# The layers (CONVENTIONS.md item 1a): every #include "..." of shm/, mgr/ and tools/, and every
# call between their .c files (read from the objects with nm), stays in its folder or goes down a
# layer; no two files need each other; every file is under 1,500 lines.  tools/layers.py says so;
# its top comment lists the layers, lowest first (the one place the order is written).  make
# check runs it, and tests/test_layers.sh, which plants an upward include and a cycle in a copy
# of the tree and sees both refused.
layers: $(LIB_OBJ) $(MGR_SRC:%.c=$(B)/%.o) $(TOOL_SRC:%.c=$(B)/%.o)
	@tools/layers.py --objects $(B)

# Fuzzing (issue 9; the layout is in tests/fuzz/fuzz.h): a target is tests/fuzz/NAME.c plus its
# seed corpus tests/fuzz/NAME/.  `make fuzz` builds each with clang and libFuzzer under ASan+UBSan
# into build/fuzz/NAME (tools/deps.sh fuzz installs clang) and runs each FUZZ_SECONDS seconds
# (tests/fuzz/run.sh: new inputs go to build/fuzz/corpus/NAME, crashes to build/fuzz/crash-NAME-*).
# `make check` replays every seed through each target built with $(CC): $(B)/tests/fuzz-NAME
# (tests/fuzz/replay.c), one test per target.  FUZZ_LINK: objects every target links besides the
# library, the tool's but its main(); FUZZ_EXTRA_NAME: objects target NAME adds to those.
FUZZ_SRC     := $(filter-out tests/fuzz/replay.c,$(sort $(wildcard tests/fuzz/*.c)))
FUZZ_NAMES   := $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_LINK    := $(filter-out tools/main.c,$(TOOL_SRC))
FUZZ_EXTRA_mgr := $(filter-out mgr/main.c,$(MGR_SRC))
FUZZ_REPLAYS := $(FUZZ_NAMES:%=$(B)/tests/fuzz-%)
FUZZ_BINS    := $(FUZZ_NAMES:%=build/fuzz/%)
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  := -std=gnu11 $(WARN) -Wno-gnu-variable-sized-type-not-at-end -O1 -g -fno-omit-frame-pointer -fPIC -D_GNU_SOURCE -Iinclude -Ishm -MMD -MP \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
ifndef TSAN
  TESTS      += $(FUZZ_REPLAYS) tests/test_layers.sh
endif

.PHONY: fuzz fuzz-deps
fuzz-deps:
	@tools/deps.sh fuzz

build/fuzz/obj/%.o: %.c | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BINS): build/fuzz/%: build/fuzz/obj/tests/fuzz/%.o $(LIB_SRC:%.c=build/fuzz/obj/%.o) $(FUZZ_LINK:%.c=build/fuzz/obj/%.o)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS) $(TOOL_LIBS) -lpthread

$(foreach n,$(FUZZ_NAMES),$(eval build/fuzz/$(n): $(FUZZ_EXTRA_$(n):%.c=build/fuzz/obj/%.o)) \
    $(eval $(B)/tests/fuzz-$(n): $(FUZZ_EXTRA_$(n):%.c=$(B)/%.o)))

fuzz: $(FUZZ_BINS)
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_NAMES)

$(FUZZ_NAMES:%=$(B)/tests/fuzz/replay-%.o): $(B)/tests/fuzz/replay-%.o: tests/fuzz/replay.c | test-deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DFUZZ_NAME='"$*"' -DFUZZ_CORPUS='"tests/fuzz/$*"' -c $< -o $@

$(FUZZ_REPLAYS): $(B)/tests/fuzz-%: $(B)/tests/fuzz/%.o $(B)/tests/fuzz/replay-%.o $(FUZZ_LINK:%.c=$(B)/%.o) $(B)/libshmets-test.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(TOOL_LIBS) -lpthread

# The systemd units (etsmgr, issue 6), made for this build tree, pass `systemd-analyze verify`
# with no complaint at all (an unknown key is only a warning there, so any output fails).
units-check: $(B)/etsmgr | test-deps
	@rm -rf $(B)/systemd && mkdir -p $(B)/systemd
	@for u in systemd/*; do sed 's|@BINDIR@|$(abspath $(B))|g' $$u > $(B)/systemd/$${u##*/}; done
	@cd $(B)/systemd && out=$$(SYSTEMD_UNIT_PATH=$$PWD: systemd-analyze verify --man=no \
	    etsmgr@check.service etsmgr@check.socket 2>&1) && [ -z "$$out" ] || { echo "$$out"; exit 1; }
	@echo "units-check: systemd/etsmgr@.service and etsmgr@.socket pass systemd-analyze verify"

# Every test program runs from the repository root; tests/run.sh prints one summary line.
check: all headers-check units-check layers $(TESTS) | test-deps
	@tests/run.sh $(TESTS)
	$(if $(TSAN),@echo "check: only $(TSAN_TESTS) under ThreadSanitizer (the Makefile says why)",@tests/diff/run.sh $(DIFF_OPTS) $(B)/shmets $(B)/diff)

# The differential test (tests/diff/run.sh): a seeded script of ets calls through Erlang's ETS
# and through `shmets script`, compared call by call.  DIFF_SEED=S for another script;
# DIFF_SKIP=case,... leaves out cases known to differ (tests/diff/gen.escript --skip).
DIFF_OPTS = $(if $(DIFF_SEED),--seed $(DIFF_SEED)) $(if $(DIFF_SKIP),--skip $(DIFF_SKIP))
diff-check: all | test-deps
	@tests/diff/run.sh $(DIFF_OPTS) $(B)/shmets $(B)/diff

# The match-specification differential test alone (tests/test_ms_erl.c, which `make check` runs
# too): random specs and objects through OTP's ets:test_ms/2 and ets:match_spec_run/2 and through
# shmets.  MS_DIFF_SEED=S for other specs, MS_DIFF_N=N for more (default 10000).
ms-diff-check: $(B)/tests/test_ms_erl | test-deps
	@SHMETS_TEST_SEED=$(MS_DIFF_SEED) SHMETS_MS_DIFF_N=$(MS_DIFF_N) tests/run.sh $(B)/tests/test_ms_erl

# Longer runs of the multi-process and kill tests (CONVENTIONS.md item 10): STRESS=N makes each
# N times longer (default 25: about a minute).
STRESS ?= 25
STRESS_TESTS := $(filter %/test_crash %/test_table_mp %/test_rcu %/test_heap_xproc,$(TESTS))
# Then the kill -9 campaign (tests/stress/campaign.c) for STRESS_MINUTES (default 10).
STRESS_MINUTES ?= 10
stress: all $(STRESS_TESTS) $(B)/shmets-stress | test-deps
	@SHMETS_STRESS=$(STRESS) tests/run.sh $(STRESS_TESTS)
	@$(B)/shmets-stress --minutes $(STRESS_MINUTES)

$(B)/shmets-stress: $(B)/tests/stress/campaign.o $(B)/libshmets.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(B)/tests/stress/%.o: tests/stress/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

demo: all
	@tools/demo.sh $(B)/shmets

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 0644 include/*.h $(DESTDIR)$(PREFIX)/include/
	install -m 0644 $(B)/libshmets.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(B)/libshmets.so $(DESTDIR)$(PREFIX)/lib/libshmets.so.$(VERSION)
	ln -sf libshmets.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libshmets.so.$(SOVERSION)
	ln -sf libshmets.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libshmets.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' tools/shmets.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/shmets.pc
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	for m in man/*.[1-8]; do \
	  [ -e "$$m" ] || continue; s=$${m##*.}; \
	  install -d $(DESTDIR)$(PREFIX)/share/man/man$$s; \
	  install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/; \
	done
	for u in systemd/*; do \
	  [ -e "$$u" ] || continue; \
	  install -d $(DESTDIR)$(PREFIX)/lib/systemd/system; \
	  sed 's|@BINDIR@|$(PREFIX)/bin|g' $$u > $(DESTDIR)$(PREFIX)/lib/systemd/system/$${u##*/}; \
	done

clean:
	rm -rf build

include erlang/erlang.mk

-include $(wildcard build/fuzz/obj/*/*.d build/fuzz/obj/shm/*/*.d build/fuzz/obj/tests/fuzz/*.d $(B)/tests/fuzz/*.d)
-include $(MGR_SRC:%.c=$(B)/%.d) $(LIB_OBJ:.o=.d) $(TLIB_OBJ:.o=.d) $(TOOL_SRC:%.c=$(B)/%.d) $(TEST_SRC:tests/%.c=$(B)/tests/%.d) $(BENCH_SRC:bench/%.c=$(B)/bench/%.d) $(SB_OBJ:.o=.d)
