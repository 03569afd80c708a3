-- Shared by single.lua and batch.lua (loaded with dofile from $WRK_SCRIPTS): pacing and the result line.
-- WRK_DELAY_MS > 0 paces each connection (for a load below saturation); wrk waits whole
-- milliseconds, so the delay is dithered between its floor and ceiling to keep its mean.
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")

if delay_ms > 0 then
  function delay()
    local whole = math.floor(delay_ms)
    if math.random() < delay_ms - whole then return whole + 1 end
    return whole
  end
end

-- The RESULT line bench_api.py reads.
function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.6f, "p50_us": %d, "p99_us": %d, "errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    errors.connect + errors.read + errors.write + errors.timeout, errors.status))
end
