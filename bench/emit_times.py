"""The variable naming the directory where bench.metrics_worker's pool processes write the CPU
time of their metrics records (read by bench.metrics_cost). Apart from both, so the bench's
own process never imports the worker app (which refuses to start without its queues' URLs)."""

EMIT_TIMES_DIR_VAR = "BENCH_EMIT_TIMES_DIR"
