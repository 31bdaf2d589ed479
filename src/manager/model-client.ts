import Anthropic, { APIConnectionError } from "@anthropic-ai/sdk";
import type { MessagesClient } from "../agent/session.js";
import type { RunConfig } from "./config.js";

/** A slow model answer is still an answer; past this the SDK gives up and retries. */
const MODEL_TIMEOUT_MS = 120_000;
const MAX_RETRIES = 2;
const CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform";

/**
 * The Messages API client of `--provider`: the official SDK of each, with the same timeout
 * and retries. Credentials come only from each platform's standard chain, read by its
 * library, never from a resource, never logged: ANTHROPIC_API_KEY; for Bedrock the AWS
 * chain (environment, shared config and credentials files with AWS_PROFILE, web identity as
 * IRSA sets it up, container and instance metadata); for Vertex Google's Application
 * Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's file, the metadata server
 * as GKE Workload Identity provides it). The Bedrock and Vertex SDKs, with the AWS and
 * Google libraries, are loaded only when chosen. Undefined with --provider anthropic and no
 * key: remediations then wait for a person.
 */
export async function modelClient(config: RunConfig): Promise<MessagesClient | undefined> {
  const common = { timeout: MODEL_TIMEOUT_MS, maxRetries: MAX_RETRIES };
  switch (config.provider) {
    case "anthropic":
      return config.anthropicApiKey
        ? new Anthropic({ apiKey: config.anthropicApiKey, baseURL: config.anthropicBaseUrl, ...common })
        : undefined;
    case "bedrock": {
      const { AnthropicBedrock } = await import("@anthropic-ai/bedrock-sdk");
      return new AnthropicBedrock({ awsRegion: config.awsRegion, baseURL: config.bedrockBaseUrl, ...common });
    }
    case "vertex":
      return vertexClient(config, common);
  }
}

/**
 * The Vertex SDK resolves Application Default Credentials in its constructor, and keeps a
 * failure for good (an unhandled rejection if no request is pending). So the credentials are
 * resolved here, when the first request needs them, and a failure (no ADC yet, the metadata
 * server not answering) is a connection error, retried like any unreachable API: the
 * remediation waits ModelUnavailable and the next session tries again.
 */
function vertexClient(config: RunConfig, common: { timeout: number; maxRetries: number }): MessagesClient {
  let ready: Promise<MessagesClient> | undefined;
  const create = async (): Promise<MessagesClient> => {
    const [{ AnthropicVertex }, { GoogleAuth }] = await Promise.all([
      import("@anthropic-ai/vertex-sdk"),
      import("google-auth-library"),
    ]);
    const auth = new GoogleAuth({ scopes: CLOUD_PLATFORM_SCOPE });
    let credentials: { authClient: Awaited<ReturnType<typeof auth.getClient>>; projectId: string };
    try {
      credentials = {
        authClient: await auth.getClient(),
        projectId: config.vertexProjectId ?? (await auth.getProjectId()),
      };
    } catch (err) {
      throw new APIConnectionError({
        message: "cannot load Google Application Default Credentials",
        cause: err as Error,
      });
    }
    return new AnthropicVertex({
      region: config.vertexRegion,
      projectId: credentials.projectId,
      authClient: credentials.authClient,
      baseURL: config.vertexBaseUrl,
      ...common,
    });
  };
  return {
    messages: {
      async create(body, options) {
        ready ??= create().catch((err: unknown) => {
          ready = undefined;
          throw err;
        });
        return (await ready).messages.create(body, options);
      },
    },
  };
}
