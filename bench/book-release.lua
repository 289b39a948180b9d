-- bench/book-release.lua: wrk script of bench/run's book+release case, and
-- of its baseline, case E (fcgi-min's own booking write).
--
-- Run with as many wrk threads as connections (wrk -tN -cN): wrk 4.1's Lua
-- API has no notion of a connection, so "each connection books and
-- releases as its own user" needs one connection per thread, each thread
-- (its own Lua state) holding one user's token.
--
-- Environment: BENCH_TOKENS, a file of lines "TOKEN LOT_ID", one per user
-- (thread i takes line i); BENCH_BOOK_PATH, the booking path without the
-- lot (default parkd's, /api/user/pkl/book/) and BENCH_RELEASE_PATH (default
-- /api/user/pkl/release): case E sets them to fcgi-min's /_bench/e/ paths.
--
-- Each thread alternates POST <book path><lot> and POST <release path> (the
-- caller's oldest active reservation), driven by the answers: after a
-- booking that succeeded (or a 409, e.g. BOOKING_LIMIT) it releases, after
-- a release that succeeded (or a 409 NO_ACTIVE_RESERVATION) it books; any
-- other answer repeats the step.

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
book_ok, book_409, book_other = 0, 0, 0
release_ok, release_409, release_other = 0, 0, 0
local booking = true
local book_req, release_req

function init(args)
   local auth = "Bearer " .. token
   local book_path = os.getenv("BENCH_BOOK_PATH") or "/api/user/pkl/book/"
   local release_path = os.getenv("BENCH_RELEASE_PATH") or
      "/api/user/pkl/release"
   book_req = wrk.format("POST", book_path .. lot,
      { ["Authorization"] = auth, ["Content-Type"] = "application/json",
        ["Accept"] = "application/json" },
      '{"vehicle_number":"KA 01 AB 1234"}')
   release_req = wrk.format("POST", release_path,
      { ["Authorization"] = auth, ["Accept"] = "application/json" })
end

function request()
   if booking then return book_req end
   return release_req
end

function response(status, headers, body)
   if booking then
      if status == 200 then book_ok = book_ok + 1; booking = false
      elseif status == 409 then book_409 = book_409 + 1; booking = false
      else book_other = book_other + 1 end
   else
      if status == 200 then release_ok = release_ok + 1; booking = true
      elseif status == 409 then release_409 = release_409 + 1; booking = true
      else release_other = release_other + 1 end
   end
end

function done(summary, latency, requests)
   local t = { book_ok = 0, book_409 = 0, book_other = 0,
               release_ok = 0, release_409 = 0, release_other = 0 }
   for _, thread in ipairs(threads) do
      for k, _ in pairs(t) do
         t[k] = t[k] + (tonumber(thread:get(k)) or 0)
      end
   end
   io.write(string.format("BENCH book_ok=%d book_409=%d book_other=%d " ..
      "release_ok=%d release_409=%d release_other=%d\n",
      t.book_ok, t.book_409, t.book_other,
      t.release_ok, t.release_409, t.release_other))
end
