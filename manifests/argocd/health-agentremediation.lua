-- Argo CD health check for steward.dev/AgentRemediation
-- (argocd-cm key resource.customizations.health.steward.dev_AgentRemediation).
-- It reads the conditions Steward writes (README "kstatus conditions"): Stalled=True
-- (Escalated, Failed, Interrupted: a person owns the incident) is Degraded;
-- AwaitingApproval=True is Suspended (it waits for a person's decision: steward approve,
-- or the steward.dev/approve annotation); Resolved=True is Healthy; Reconciling=True (open)
-- is Progressing; ended otherwise (Cancelled: its DesiredState was deleted) is Healthy, as
-- nothing is left to do. A status not yet written for the object's generation is Progressing.
-- Written for Argo CD's interpreter: Lua 5.1 with only the base and table libraries.
local function find(conditions, name)
  for _, condition in ipairs(conditions) do
    if condition.type == name then
      return condition
    end
  end
  return nil
end

local function holds(conditions, name)
  local condition = find(conditions, name)
  return condition ~= nil and condition.status == "True"
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
local resolved = find(conditions, "Resolved")
if resolved == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for Steward to take it up"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and resolved.observedGeneration ~= nil and resolved.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for Steward to reconcile generation " .. generation
  return hs
end
if holds(conditions, "Stalled") then
  hs.status = "Degraded"
  hs.message = say(find(conditions, "Stalled"))
  return hs
end
if holds(conditions, "AwaitingApproval") then
  hs.status = "Suspended"
  hs.message = say(find(conditions, "AwaitingApproval"))
  return hs
end
if resolved.status == "True" then
  hs.status = "Healthy"
  hs.message = say(resolved)
  return hs
end
if holds(conditions, "Reconciling") then
  hs.status = "Progressing"
  hs.message = say(find(conditions, "Reconciling"))
  return hs
end
hs.status = "Healthy"
hs.message = "Ended " .. say(resolved)
return hs
