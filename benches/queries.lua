-- wrk script: cycles through the queries of QUERIES_FILE (one per line) as GET /v1/search?q=…
-- (or another ENDPOINT, e.g. /v1/autocomplete). EXTRA_PARAMS (e.g. "&facets=brand,price") is
-- appended to every request.
local queries = {}
local extra = os.getenv("EXTRA_PARAMS") or ""
local endpoint = os.getenv("ENDPOINT") or "/v1/search"

local function encode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

for line in io.lines(os.getenv("QUERIES_FILE")) do
  if #line > 0 then
    queries[#queries + 1] = endpoint .. "?q=" .. encode(line) .. extra
  end
end

local i = 0
function request()
  i = i % #queries + 1
  return wrk.format("GET", queries[i])
end

local errors = 0
function response(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx answers: %d\n", summary.errors.status))
end
