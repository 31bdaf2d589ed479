import { AuthenticationV1Api, type KubeConfig } from "@kubernetes/client-node";
import { StewardError } from "../errors.js";
import { describeApiError } from "./api-errors.js";
import { requestOptions } from "./request-options.js";

/**
 * Who the API server says the kubeconfig's credentials are: a SelfSubjectReview
 * (authentication.k8s.io/v1, Kubernetes 1.28+; every authenticated user may create one).
 * This, not anything a person types, is the name an approval carries.
 */
export async function whoAmI(kubeConfig: KubeConfig, timeoutMs = 10_000): Promise<string> {
  const api = kubeConfig.makeApiClient(AuthenticationV1Api);
  try {
    const review = await api.createSelfSubjectReview(
      { body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } },
      requestOptions({ timeoutMs }),
    );
    const username = review.status?.userInfo?.username;
    if (!username) throw new StewardError("the API server's SelfSubjectReview carries no username");
    return username;
  } catch (err) {
    if (err instanceof StewardError) throw err;
    throw new StewardError(
      `asking the API server who you are (SelfSubjectReview, Kubernetes 1.28+): ${describeApiError(err)}`,
      { cause: err },
    );
  }
}
