-- Argo CD health check for steward.dev/DesiredState
-- (argocd-cm key resource.customizations.health.steward.dev_DesiredState).
-- It reads the conditions Steward writes (README "kstatus conditions") and maps them as
-- kstatus does: Stalled=True is Degraded (a person must act: an escalated remediation, one
-- no agent works on, or InvalidSpec); Ready=True is Healthy; anything else, and a status
-- not yet written for the object's generation, is Progressing (Steward is working on it).
-- Written for Argo CD's interpreter: Lua 5.1 with only the base and table libraries.
local function find(conditions, name)
  for _, condition in ipairs(conditions) do
    if condition.type == name then
      return condition
    end
  end
  return nil
end

local function say(condition)
  if condition.message ~= nil and condition.message ~= "" then
    return condition.reason .. ": " .. condition.message
  end
  return condition.reason
end

local hs = {}
local conditions = {}
if obj.status ~= nil and obj.status.conditions ~= nil then
  conditions = obj.status.conditions
end
local ready = find(conditions, "Ready")
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for Steward to reconcile it"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for Steward to reconcile generation " .. generation
  return hs
end
local stalled = find(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = say(stalled)
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = say(ready)
  return hs
end
hs.status = "Progressing"
hs.message = say(ready)
return hs
