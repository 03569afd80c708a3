-- wrk script: POST {BATCH_PATH} with {"ids": [BATCH random ids]}, from a pool of bodies made once,
-- so the load generator spends its time sending, not building JSON. WRK_DELAY_MS as in single.lua.
local entities = tonumber(os.getenv("ENTITIES") or "1000000")
local batch = tonumber(os.getenv("BATCH") or "100")
local path = os.getenv("BATCH_PATH") or "/features/user"
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0")
local pool = {}
local next_request = 0

function init(args)
  math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1e6))
  local headers = {["Content-Type"] = "application/json"}
  for i = 1, 1024 do
    local ids = {}
    for j = 1, batch do ids[j] = math.random(0, entities - 1) end
    pool[i] = wrk.format("POST", path, headers, '{"ids":[' .. table.concat(ids, ",") .. ']}')
  end
end

function request()
  next_request = next_request % #pool + 1
  return pool[next_request]
end

if delay_ms > 0 then
  function delay()
    local whole = math.floor(delay_ms)
    if math.random() < delay_ms - whole then return whole + 1 end
    return whole
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.6f, "p50_us": %d, "p99_us": %d, "errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    errors.connect + errors.read + errors.write + errors.timeout, errors.status))
end
