-- wrk script: signed-in (Bearer) topups, each with a fresh refid.
-- TAMBAH_TOKEN, TAMBAH_RUN (refid prefix) and TAMBAH_MODE (new|status|mixed) come from the
-- environment. mixed: of every 10 requests, 5 new topups, 4 status checks, 1 balance read.
local token = os.getenv("TAMBAH_TOKEN")
local run = os.getenv("TAMBAH_RUN") or "R"
local mode = os.getenv("TAMBAH_MODE") or "new"
-- New refids carry the second this script was loaded (mod 100,000): two runs against one
-- node (closed-loop topups, then the mixed run) would otherwise send the same refids, and
-- the second run's "new topups" would be status checks of the first run's orders.
local stamp = os.time() % 100000
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
end

function request()
  counter = counter + 1
  local refid
  local kind = mode
  if mode == "mixed" then
    local r = counter % 10
    if r < 5 then kind = "new" elseif r < 9 then kind = "status" else kind = "balance" end
  end
  if kind == "balance" then
    return wrk.format("GET", "/v2/balance", {["Authorization"] = "Bearer " .. token}, nil)
  end
  if kind == "status" then
    -- Resubmit one of 1000 refids created beforehand: a status check.
    refid = string.format("%s-seed-%d", run, counter % 1000)
  else
    refid = string.format("%s-%d-%d-%d", run, stamp, tid, counter)
  end
  local body = string.format('{"refid":"%s","product":"D","account":"0123456789","amount":"10"}', refid)
  return wrk.format("POST", "/v2/topup",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

local bad = 0
function response(status, headers, body)
  local ok = status == 200 and (string.find(body, '"statuscode":"20"', 1, true) or string.find(body, '"balance"', 1, true))
  if not ok then
    bad = bad + 1
    if bad <= 3 then print("unexpected: " .. status .. " " .. body) end
  end
end
