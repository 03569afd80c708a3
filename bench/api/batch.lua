-- wrk script: POST {BATCH_PATH} with {"ids": [BATCH random ids]}, from a pool of bodies made once,
-- so the load generator spends its time sending, not building JSON; pacing and result in wrk_common.lua.
local entities = tonumber(os.getenv("ENTITIES") or "1000000")
local batch = tonumber(os.getenv("BATCH") or "100")
local path = os.getenv("BATCH_PATH") or "/features/user"
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

dofile(os.getenv("WRK_SCRIPTS") .. "/wrk_common.lua")
