-- wrk script of the soak test: single GETs and batches of random users, counted per kind.
-- wrk -t2 -c64 -d180s -s bench/soak/load.lua http://127.0.0.1:PORT -- ENTITIES BATCH_SHARE BATCH_SIZE

local threads = {}
local entities, batch_share, batch_size = 1000, 0.1, 50
singles, batches = 0, 0  -- globals: done() reads them from each thread

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  entities = tonumber(args[1] or entities)
  batch_share = tonumber(args[2] or batch_share)
  batch_size = tonumber(args[3] or batch_size)
  math.randomseed(os.time() * 1000 + id)
end

local headers = { ["Content-Type"] = "application/json" }

function request()
  if math.random() < batch_share then
    batches = batches + 1
    local ids = {}
    for i = 1, batch_size do
      ids[i] = tostring(math.random(0, entities - 1))
    end
    return wrk.format("POST", "/features/user", headers, '{"ids":[' .. table.concat(ids, ",") .. ']}')
  end
  singles = singles + 1
  return wrk.format("GET", "/features/user/" .. math.random(0, entities - 1))
end

function done(summary, latency, requests)
  local total_singles, total_batches = 0, 0
  for _, thread in ipairs(threads) do
    total_singles = total_singles + thread:get("singles")
    total_batches = total_batches + thread:get("batches")
  end
  local e = summary.errors
  io.write(string.format(
    'SOAK {"requests": %d, "singles_sent": %d, "batches_sent": %d, "non_2xx": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "timeout": %d, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "seconds": %.1f}\n',
    summary.requests, total_singles, total_batches, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, summary.duration / 1e6))
end
