# make bench-ycsb (issue 19; included by the Makefile): YCSB's six core workloads (a-f) over
# shmets and the peers of the read benchmark (the locked hash, liburcu, LMDB, ETS through
# bench/ycsb.escript, Redis), 1,000,000 records, zipfian (d: latest), P = 1 and 2, each run
# YCSB_SECONDS long (default 4: the whole set takes about 8 minutes on a 2-core machine).
# Writes $(B)/bench/ycsb.tsv, ycsb.md (figures, ratios, the issue's targets met or missed by how
# much) and ycsb.svg (gnuplot).  Like `make bench` it installs the peers first
# (tools/deps.sh bench).  One workload by hand: build/shmets-bench --workload a --peer shmets,lmdb
YCSB_SECONDS ?= 4
YCSB_RECORDS ?= 1000000

.PHONY: bench-ycsb
bench-ycsb: $(B)/shmets-bench
	@echo "== $(B)/shmets-bench --workload a,b,c,d,e,f --records $(YCSB_RECORDS) --procs 1,2 --seconds $(YCSB_SECONDS) --out $(B)/bench"
	@$(B)/shmets-bench --workload a,b,c,d,e,f --records $(YCSB_RECORDS) --procs 1,2 --seconds $(YCSB_SECONDS) \
	    --out $(B)/bench --ets-script bench/ycsb.escript >/dev/null
