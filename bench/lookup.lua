-- wrk script: GET <path>?<param>=<a random number from the list> (the list comes from the bench).
-- Env: BENCH_NUMBERS (file, one number per line, URL-encoded), BENCH_PATH, BENCH_QUERY (extra
-- query string), BENCH_AUTH (Authorization header value or empty). Prints one JSON line at the end.
local numbers = {}
local path = os.getenv("BENCH_PATH")
local extra = os.getenv("BENCH_QUERY") or ""
local auth = os.getenv("BENCH_AUTH") or ""

for line in io.lines(os.getenv("BENCH_NUMBERS")) do
  numbers[#numbers + 1] = line
end

local headers = {}
if auth ~= "" then headers["Authorization"] = auth end

local counter = 0
init = function(args)
  math.randomseed(os.time() + counter)
  counter = counter + 1
end

request = function()
  local number = numbers[math.random(#numbers)]
  return wrk.format("GET", path .. "?caller_number=" .. number .. extra, headers)
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_us": %d, "p99_us": %d, "errors": %d, "non2xx": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    errors, summary.errors.status))
end
