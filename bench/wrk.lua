-- wrk script for the Todo API benchmark: one scenario per run (SCENARIO), rotating over the
-- seeded users (BENCH_DATA: one line per user, "R token id id ..." for the readers, who own the
-- 20 seeded tasks each, and "W token" for the writers, who receive every created task so the
-- readers' lists keep their size). Every response's status is checked and every 50th body is
-- sampled, so a broken server cannot post a good number.

local scenario = os.getenv("SCENARIO")
local users = {}
local writers = {}
for line in io.lines(os.getenv("BENCH_DATA")) do
  local fields = {}
  for field in line:gmatch("%S+") do fields[#fields + 1] = field end
  local user = { auth = "Bearer " .. fields[2], ids = {} }
  for i = 3, #fields do user.ids[#user.ids + 1] = fields[i] end
  if fields[1] == "W" then writers[#writers + 1] = user else users[#users + 1] = user end
end

-- A well-formed token with a wrong signature (scenario "reject").
local forged = "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJub2JvZHkiLCJleHAiOjQxMDI0NDQ4MDB9.c2lnbmF0dXJlLW9mLXNvbWVib2R5LWVsc2U"
local json = "application/json"

local counter = 0
-- Globals, so that done() can read each thread's counts with thread:get().
bad_status = 0
bad_body = 0
sampled = 0
-- Thread-local: which user / kind the next response belongs to is not tracked (responses
-- interleave across connections); each scenario's acceptable statuses are known instead.
local accepted = {
  list = { [200] = true }, get = { [200] = true }, create = { [201] = true },
  reject = { [401] = true }, mixed = { [200] = true, [201] = true },
  put = { [200] = true }, toggle = { [200] = true },
}

function setup(thread)
  threads = threads or {}
  table.insert(threads, thread)
end

local function pick()
  counter = counter + 1
  return users[(counter % #users) + 1]
end

local function writer()
  return writers[(counter % #writers) + 1]
end

local function one_of(user)
  return "/api/tasks/" .. user.ids[(counter % #user.ids) + 1]
end

local function get_one(user)
  return wrk.format("GET", one_of(user), { Authorization = user.auth })
end

-- The two updates `mixed` makes, also run alone (scenarios "put" and "toggle") so that each kind's
-- own rate is known when the mix is read.
local function put_one(user)
  return wrk.format("PUT", one_of(user), { Authorization = user.auth, ["Content-Type"] = json },
    '{"description":"updated under load"}')
end

local function toggle_one(user)
  return wrk.format("PATCH", one_of(user) .. "/complete", { Authorization = user.auth })
end

function request()
  local user = pick()
  if scenario == "list" then
    return wrk.format("GET", "/api/tasks", { Authorization = user.auth })
  elseif scenario == "get" then
    return get_one(user)
  elseif scenario == "create" then
    return wrk.format("POST", "/api/tasks", { Authorization = writer().auth, ["Content-Type"] = json },
      '{"title":"bench task","description":"created under load"}')
  elseif scenario == "put" then
    return put_one(user)
  elseif scenario == "toggle" then
    return toggle_one(user)
  elseif scenario == "reject" then
    return wrk.format("GET", "/api/tasks", { Authorization = forged })
  else -- mixed: 60% list, 20% get, 10% create, 5% PUT, 5% PATCH complete
    local slot = counter % 20
    if slot < 12 then
      return wrk.format("GET", "/api/tasks", { Authorization = user.auth })
    elseif slot < 16 then
      return get_one(user)
    elseif slot < 18 then
      return wrk.format("POST", "/api/tasks", { Authorization = writer().auth, ["Content-Type"] = json },
        '{"title":"mixed task"}')
    elseif slot < 19 then
      return put_one(user)
    else
      return toggle_one(user)
    end
  end
end

local function body_ok(status, body)
  if status == 401 then return body:find('"code":"invalid_token"', 1, true) ~= nil end
  if body:sub(1, 1) == "[" then return body:find('"user_id":"bench-', 1, true) ~= nil end
  return body:find('"user_id":"bench-', 1, true) ~= nil and body:find('"created_at":"', 1, true) ~= nil
end

function response(status, headers, body)
  if not accepted[scenario][status] then
    bad_status = bad_status + 1
  end
  if counter % 50 == 0 then
    sampled = sampled + 1
    if not body_ok(status, body) then bad_body = bad_body + 1 end
  end
end

function done(summary, latency, requests)
  local statuses, bodies, samples = 0, 0, 0
  for _, thread in ipairs(threads) do
    statuses = statuses + thread:get("bad_status")
    bodies = bodies + thread:get("bad_body")
    samples = samples + thread:get("sampled")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bad_status":%d,"bad_body":%d,"sampled":%d,' ..
    '"socket_errors":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, statuses, bodies, samples,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
