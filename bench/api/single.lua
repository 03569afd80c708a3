-- wrk script: GET {PATH_PREFIX}{random id}, ids uniform in [0, ENTITIES); pacing and result in wrk_common.lua.
local entities = tonumber(os.getenv("ENTITIES") or "1000000")
local prefix = os.getenv("PATH_PREFIX") or "/features/user/"

function init(args)
  math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1e6))
end

function request()
  return wrk.format("GET", prefix .. math.random(0, entities - 1))
end

dofile(os.getenv("WRK_SCRIPTS") .. "/wrk_common.lua")
