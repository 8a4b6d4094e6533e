-- wrk script: POST /v1/events. BATCH (default 1) events per request; with BATCH > 1 the body is
-- NDJSON. Each wrk connection cycles through its own visitors and the products of PRODUCTS_FILE.
local batch = tonumber(os.getenv("BATCH") or "1")
local products = {}
for line in io.lines(os.getenv("PRODUCTS_FILE")) do
  products[#products + 1] = line
end
local types = {"view", "view", "view", "click", "add_to_cart", "purchase"}
local counter = 0
local thread_id = 0

function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

local function event()
  counter = counter + 1
  local visitor = string.format("t%d-v%d", thread_id, counter % 5000)
  local product = products[(counter * 7919) % #products + 1]
  local kind = types[counter % #types + 1]
  return string.format('{"type":"%s","visitor_id":"%s","product_id":"%s"}', kind, visitor, product)
end

function request()
  if batch == 1 then
    return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/json"}, event())
  end
  local lines = {}
  for i = 1, batch do lines[i] = event() end
  return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/x-ndjson"}, table.concat(lines, "\n"))
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx answers: %d\n", summary.errors.status))
end
