-- wrk script for benchmarks/bench_web.py: the issue-12 request mix with valid bearer tokens.
--   40 % GET /api/history, 40 % GET /api/status/{id}, 20 % GET /api/health
-- BENCH_TOKENS names a file of "<bearer token> <task id>" lines (one per user, the task is theirs).
-- done() prints one JSON line the runner parses.

local users = {}
local counter = 0

init = function(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    local token, task = line:match("^(%S+)%s+(%S+)$")
    if token then users[#users + 1] = { "Bearer " .. token, task } end
  end
  counter = math.random(1, 1000)
end

request = function()
  counter = counter + 1
  local user = users[(counter % #users) + 1]
  local slot = counter % 5
  local path
  if slot < 2 then
    path = "/api/history"
  elseif slot < 4 then
    path = "/api/status/" .. user[2]
  else
    return wrk.format("GET", "/api/health")
  end
  return wrk.format("GET", path, { ["Authorization"] = user[1] })
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d, "p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
