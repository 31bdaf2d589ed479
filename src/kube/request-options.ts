import {
  Observable,
  type ConfigurationOptions,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";

export const MERGE_PATCH = "application/merge-patch+json";

/**
 * Per-call options for the generated Kubernetes clients: a deadline (every call has one),
 * an optional caller's signal, and optionally a Content-Type (the patch flavour).
 */
export function requestOptions(options: {
  timeoutMs: number;
  signal?: AbortSignal;
  contentType?: string;
}): ConfigurationOptions {
  const { timeoutMs, signal, contentType } = options;
  const middleware = {
    pre: (context: RequestContext) => {
      const deadline = AbortSignal.timeout(timeoutMs);
      context.setSignal(signal ? AbortSignal.any([deadline, signal]) : deadline);
      if (contentType) context.setHeaderParam("Content-Type", contentType);
      return new Observable(Promise.resolve(context));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: "append" };
}
