-- wrk's side of npm run bench. With BENCH_KEYS naming a file of keys (one a
-- line), each request sends the next key in turn; without it, wrk sends its
-- fixed request (headers given with -H) and no Lua runs per request. Prints
-- one line of JSON when done (latencies in microseconds).
local file = os.getenv("BENCH_KEYS")
if file ~= nil and file ~= "" then
  local keys = {}
  for line in io.lines(file) do
    if line ~= "" then keys[#keys + 1] = "Api-Key " .. line end
  end
  local i = 0
  function request()
    i = i % #keys + 1
    return wrk.format(nil, nil, { ["Authorization"] = keys[i] })
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"micros":%d,"errors":%d,"non2xx":%d,"p50":%d,"p99":%d,"max":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
