-- wrk script: replays pre-signed HTTP requests from a file, cycling, and prints a JSON summary.
-- Usage: wrk ... -s bench/wrk.lua URL -- REQUESTS_FILE
-- The file holds records "<length>\n<raw HTTP request bytes>" written by bench/corpus.py.

local requests = {}
local count = 0
local index = 0

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  local pos = 1
  while pos <= #data do
    local nl = string.find(data, "\n", pos, true)
    if not nl then break end
    local length = tonumber(string.sub(data, pos, nl - 1))
    count = count + 1
    requests[count] = string.sub(data, nl + 1, nl + length)
    pos = nl + 1 + length
  end
  -- threads start at different offsets so they do not send the same body at once
  index = math.random(0, count - 1)
end

function request()
  index = index % count + 1
  return requests[index]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"p50":%d,"p90":%d,"p95":%d,' ..
    '"p99":%d,"p999":%d,"max":%d}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
