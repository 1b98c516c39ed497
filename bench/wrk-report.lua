-- wrk reporter for bench/run.sh: after wrk's usual output, prints one machine-readable line
--   BENCH requests=N duration_us=N bytes=N err_connect=N ... p99_us=N
-- (key=number pairs only, so the shell script can turn it into JSON without a JSON parser).
-- Latencies are in microseconds, as wrk measures them.

done = function(summary, latency, requests)
  local e = summary.errors
  local fields = {
    { "requests", summary.requests },
    { "duration_us", summary.duration },
    { "bytes", summary.bytes },
    { "err_connect", e.connect },
    { "err_read", e.read },
    { "err_write", e.write },
    { "err_status", e.status },   -- responses with a status >= 400 (wrk counts them as errors)
    { "err_timeout", e.timeout },
    { "lat_min_us", latency.min },
    { "lat_mean_us", latency.mean },
    { "lat_stdev_us", latency.stdev },
    { "lat_max_us", latency.max },
    { "p50_us", latency:percentile(50) },
    { "p90_us", latency:percentile(90) },
    { "p99_us", latency:percentile(99) },
    { "p999_us", latency:percentile(99.9) },
  }
  local out = {}
  for _, kv in ipairs(fields) do
    out[#out + 1] = string.format("%s=%.1f", kv[1], kv[2])
  end
  io.write("BENCH " .. table.concat(out, " ") .. "\n")
end
