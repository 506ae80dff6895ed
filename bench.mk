# The benchmark. Included from the root Makefile.
#
#   make bench            # full run (about 15 min): writes bench/results.json and bench/results.md
#   make bench QUICK=1    # short smoke run (about 1.5 min): writes bench/tmp/quick/
#
# Starts its own local stack (moto server, worker, web) on free ports and stops it by PID.
# bench/README.md says what each figure measures and what limits it.

QUICK ?=

.PHONY: bench  ## Measure latency, throughput, idle cost and memory vs the seed (QUICK=1: short run)
bench: .python-deps
	$(RUN) python -m bench.run $(if $(filter-out 0,$(QUICK)),--quick)
