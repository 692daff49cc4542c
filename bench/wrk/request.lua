-- wrk script of bench/api_bench.py. Environment:
--   BENCH_PATHS   space-separated request paths, taken in turn (one path is fine)
--   BENCH_TOKEN   a JWT sent as "Authorization: Token <jwt>" (unset: anonymous)
--   BENCH_METHOD  GET (default) or POST, which sends a new article with a unique title each time
-- done() prints one line "BENCH {json}" with the counts, latency percentiles (microseconds) and errors.

local paths = {}
for path in string.gmatch(os.getenv("BENCH_PATHS") or "/", "%S+") do
  paths[#paths + 1] = path
end
local method = os.getenv("BENCH_METHOD") or "GET"
local token = os.getenv("BENCH_TOKEN") or ""
local headers = {}
if token ~= "" then
  headers["Authorization"] = "Token " .. token
end
if method == "POST" then
  headers["Content-Type"] = "application/json"
end
local run_id = string.format("%d%04d", os.time(), math.random(0, 9999))
local counter = 0

request = function()
  counter = counter + 1
  local path = paths[(counter - 1) % #paths + 1]
  if method == "POST" then
    local body = string.format(
      '{"article": {"title": "Bench article %s %d", "description": "Written by the benchmark",'
        .. ' "body": "A short body, long enough to look like a paragraph of a real article.",'
        .. ' "tagList": ["bench", "performance"]}}',
      run_id, counter)
    return wrk.format("POST", path, headers, body)
  end
  return wrk.format(method, path, headers)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"p999_us": %d, "max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, e.connect, e.read, e.write, e.status,
    e.timeout))
end
