-- wrk script for loadtests/bench.py: rotating credentials, optional POST body, optional pacing,
-- body checks, and one machine-readable summary line ("BENCH {...}").
--
-- Environment: BENCH_PATH, BENCH_METHOD (GET|POST), BENCH_DATA (file: one "bearer<TAB>token" per
-- line; the token only for a POST, sent as {"<BENCH_BODY_KEY>": token}, "token" by default; an
-- empty bearer sends no Authorization header), BENCH_EXPECT (a string every 200 body must
-- contain), BENCH_RATE (total requests/s to pace at; 0 = as fast as possible), BENCH_CONNECTIONS.

local path = os.getenv("BENCH_PATH") or "/"
local method = os.getenv("BENCH_METHOD") or "GET"
local expect = os.getenv("BENCH_EXPECT")
if expect == "" then expect = nil end
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local connections = tonumber(os.getenv("BENCH_CONNECTIONS") or "1")
local body_key = os.getenv("BENCH_BODY_KEY") or "token"
if body_key == "" then body_key = "token" end

local lines = {}
local data = os.getenv("BENCH_DATA")
if data and data ~= "" then
  for line in io.lines(data) do lines[#lines + 1] = line end
end

local threads = {}
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

function init(args)
  counter = (id or 1) * 7919
  invalid = 0
end

function request()
  if #lines == 0 then
    return wrk.format(method, path)
  end
  counter = counter % #lines + 1
  local bearer, token = lines[counter]:match("^([^\t]*)\t?(.*)$")
  local headers = {}
  if bearer ~= "" then headers["Authorization"] = "Bearer " .. bearer end
  if method == "POST" then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", path, headers, '{"' .. body_key .. '":"' .. token .. '"}')
  end
  return wrk.format(method, path, headers)
end

if rate > 0 then
  -- closed loop with think time: each connection waits connections/rate seconds between requests
  function delay()
    return connections * 1000 / rate
  end
end

function response(status, headers, body)
  if status ~= 200 or (expect and not string.find(body, expect, 1, true)) then
    invalid = invalid + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("invalid") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"socket_errors":%d,"invalid":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, bad,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
