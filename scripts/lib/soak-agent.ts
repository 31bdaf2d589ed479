/**
 * The model in the soak: a scripted fake of the Messages API (test/support/fake-anthropic)
 * answering like a careful operator, so every session ends by itself: list the containers,
 * start the target's stopped ones, resolve; escalate when a tool failed or was denied.
 */
import {
  FakeMessagesServer,
  lastToolResults,
  text,
  toolTurns,
  toolUse,
  type FakeReply,
  type RecordedRequest,
} from "../../test/support/fake-anthropic.js";

const USAGE = { input_tokens: 900, output_tokens: 60, cache_read_input_tokens: 600, cache_creation_input_tokens: 0 };
const reply = toolTurns(USAGE);
/** More steps than a 30-minute soak can use; the fake answers a 500 past the last one. */
const SCRIPT_STEPS = 50_000;

/** The tool each tool_use id of the previous assistant turn called. */
function toolsById(request: RecordedRequest): Map<string, string> {
  const assistant = request.body?.messages.at(-2);
  const blocks = assistant && typeof assistant.content !== "string" ? assistant.content : [];
  return new Map(blocks.flatMap((b) => (b.type === "tool_use" ? [[b.id, b.name] as [string, string]] : [])));
}

/** Containers of the compose project `project` that docker_ps shows not running. */
export function stoppedIn(dockerPs: string, project: string): { name: string; state: string }[] {
  return dockerPs
    .split("\n")
    .slice(1)
    .map((line) => line.split("\t"))
    .filter((cols) => cols[5] === project && cols[1] !== "running")
    .map((cols) => ({ name: cols[0] ?? "", state: cols[1] ?? "" }));
}

export function operatorReply(request: RecordedRequest, project: string): FakeReply {
  const results = lastToolResults(request);
  if (results.length === 0) return reply(text("Listing the containers."), toolUse("docker_ps", { all: true }));
  const tools = toolsById(request);
  const failed = results.find((r) => r.isError);
  if (failed)
    return reply(
      toolUse("escalate", {
        reason: `${tools.get(failed.toolUseId) ?? "a tool"} failed: ${failed.text.slice(0, 300)}`,
      }),
    );
  const ps = results.find((r) => tools.get(r.toolUseId) === "docker_ps");
  if (ps) {
    const stopped = stoppedIn(ps.text, project);
    if (stopped.length === 0)
      return reply(toolUse("resolve", { summary: "every container of the project is running" }));
    return reply(
      text(`Starting ${stopped.map((s) => s.name).join(", ")}.`),
      ...stopped.slice(0, 3).map((s) => toolUse("docker_start", { container: s.name })),
    );
  }
  return reply(toolUse("resolve", { summary: "started the stopped containers" }));
}

export function soakModel(project: string): FakeMessagesServer {
  return new FakeMessagesServer(
    Array.from({ length: SCRIPT_STEPS }, () => (request: RecordedRequest) => operatorReply(request, project)),
  );
}
