-- bench/reserve-cancel.lua: wrk script of bench/windows's reserve+cancel
-- case (its baseline, case E, runs bench/book-release.lua on fcgi-min).
--
-- Run with as many wrk threads as connections (wrk -tN -cN), as
-- book-release.lua: each thread (its own Lua state) is one user.
--
-- Environment: BENCH_TOKENS, a file of lines "TOKEN LOT_ID", one per user
-- (thread i takes line i); BENCH_START and BENCH_END, the window (RFC
-- 3339) every user reserves.
--
-- Each thread alternates POST /api/user/pkl/reserve/<lot> and POST
-- /api/user/pkl/cancel with the id the reservation answered: after a
-- reservation that succeeded it cancels it; after a 409 (LOT_FULL, ...)
-- it reserves again; after a cancel that succeeded (or a 409) it reserves;
-- any other answer repeats the step.

local threads = {}
local lines = {}
local nthread = 0

function setup(thread)
   if #lines == 0 then
      local path = os.getenv("BENCH_TOKENS")
      local f = assert(io.open(path, "r"), "BENCH_TOKENS: cannot open")
      for line in f:lines() do
         local tok, lot = line:match("^(%S+)%s+(%d+)$")
         if tok then lines[#lines + 1] = { tok, lot } end
      end
      f:close()
   end
   nthread = nthread + 1
   local l = assert(lines[nthread], "fewer users than wrk threads")
   thread:set("token", l[1])
   thread:set("lot", l[2])
   threads[#threads + 1] = thread
end

-- Per thread (each has its own copy of these globals).
reserve_ok, reserve_409, reserve_other = 0, 0, 0
cancel_ok, cancel_409, cancel_other = 0, 0, 0
local reserving = true
local rid = nil
local reserve_req, auth

function init(args)
   auth = "Bearer " .. token
   reserve_req = wrk.format("POST", "/api/user/pkl/reserve/" .. lot,
      { ["Authorization"] = auth, ["Content-Type"] = "application/json",
        ["Accept"] = "application/json" },
      string.format('{"start":"%s","end":"%s","vehicle_number":"KA 01 ' ..
         'AB 1234"}', os.getenv("BENCH_START"), os.getenv("BENCH_END")))
end

function request()
   if reserving then return reserve_req end
   return wrk.format("POST", "/api/user/pkl/cancel",
      { ["Authorization"] = auth, ["Content-Type"] = "application/json",
        ["Accept"] = "application/json" },
      string.format('{"reservation_id":%s}', rid))
end

function response(status, headers, body)
   if reserving then
      if status == 200 then
         -- the reservation object is the data; its first member is "id"
         rid = body:match('"data":{"id":(%d+)')
         if rid then
            reserve_ok = reserve_ok + 1; reserving = false
         else
            reserve_other = reserve_other + 1
         end
      elseif status == 409 then reserve_409 = reserve_409 + 1
      else reserve_other = reserve_other + 1 end
   else
      if status == 200 then cancel_ok = cancel_ok + 1; reserving = true
      elseif status == 409 then cancel_409 = cancel_409 + 1; reserving = true
      else cancel_other = cancel_other + 1 end
   end
end

function done(summary, latency, requests)
   local t = { reserve_ok = 0, reserve_409 = 0, reserve_other = 0,
               cancel_ok = 0, cancel_409 = 0, cancel_other = 0 }
   for _, thread in ipairs(threads) do
      for k, _ in pairs(t) do
         t[k] = t[k] + (tonumber(thread:get(k)) or 0)
      end
   end
   local s = "BENCH"
   for _, k in ipairs({ "reserve_ok", "reserve_409", "reserve_other",
                        "cancel_ok", "cancel_409", "cancel_other" }) do
      s = s .. string.format(" %s=%d", k, t[k])
   end
   io.write(s .. "\n")
end
