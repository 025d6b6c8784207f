-- wrk script: at the end of a run, print one JSON line with the figures bench/run.py reads.
-- Latencies are in microseconds; "non_2xx" counts responses with a status >= 300;
-- timed-out requests are counted in "timeouts" and are not part of the latency figures.
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, errors.connect, errors.read, errors.write, errors.timeout, errors.status))
end
