-- Runs one Argo CD health check on one object the way Argo CD's controller does (its
-- interpreter, gopher-lua, is Lua 5.1; run this with lua5.1): the object is the global
-- `obj`, and with resource.customizations.useOpenLibs off (the default) only the base,
-- table and package libraries and a safe os (time, date, clock, difftime) are open; no
-- string library, so strings have no methods either.
-- Usage: lua5.1 argocd-health-harness.lua SCRIPT < object.json
-- Prints the returned health as JSON ({"status": ..., "message": ...}); exits 1 when the
-- script fails or returns something else than a table.
local json = require("dkjson")

local function fail(message)
  io.stderr:write(message, "\n")
  os.exit(1)
end

local path = arg[1]
local obj, _, decodeError = json.decode(io.read("*a"), 1, nil)
if decodeError ~= nil then
  fail("the object is not JSON: " .. decodeError)
end
local file = assert(io.open(path, "r"))
local chunk, loadError = loadstring(file:read("*a"), "@" .. path)
file:close()
if chunk == nil then
  fail(loadError)
end

local env = { obj = obj, table = table }
for _, name in ipairs({
  "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
  "rawset", "select", "setmetatable", "tonumber", "tostring", "type", "unpack", "xpcall",
}) do
  env[name] = _G[name]
end
env.os = { time = os.time, date = os.date, clock = os.clock, difftime = os.difftime }
env._G = env
setfenv(chunk, env)

local strings = getmetatable("")
local methods = strings.__index
strings.__index = nil
local ok, hs = pcall(chunk)
strings.__index = methods
if not ok then
  fail("the health check failed: " .. tostring(hs))
end
if type(hs) ~= "table" then
  fail("the health check returned " .. type(hs) .. ", not a table")
end
io.write(json.encode({ status = hs.status, message = hs.message }), "\n")
