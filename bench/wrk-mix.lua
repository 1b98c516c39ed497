-- wrk script for bench/run.sh (TRAFFIC=mix) and bench/profile.sh: the traffic mix of issue 21,
--   60% GET /users/<id>  (a ParseIntPipe, a small JSON reply)
--   20% POST /orders     (a 201-byte JSON body: body parsing and http_request_size_bytes)
--   20% GET /health
-- chosen at random per request, on wrk's keep-alive connections. Prints the BENCH line of
-- bench/wrk-report.lua at the end (run from the repository's root, as the scripts do).

dofile("bench/wrk-report.lua")

local base = '{"customerId":4711,"items":[{"sku":"A-1001","quantity":2},{"sku":"B-2002","quantity":1}],"note":"'
local order_body = base .. string.rep("x", 201 - #base - 2) .. '"}'
assert(#order_body == 201, "the order body must be 201 bytes")

local users = {}
local order, health

init = function(args)
  for i = 1, 100 do
    users[i] = wrk.format("GET", "/users/" .. i)
  end
  order = wrk.format("POST", "/orders", { ["Content-Type"] = "application/json" }, order_body)
  health = wrk.format("GET", "/health")
  math.randomseed(os.time())
end

request = function()
  local r = math.random(10)
  if r <= 6 then
    return users[math.random(100)]
  elseif r <= 8 then
    return order
  end
  return health
end
