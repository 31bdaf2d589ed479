import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { open } from "node:fs/promises";
import type { SecretRef } from "../api/notification-policy.js";
import { StewardError } from "../errors.js";
import { describeApiError, statusCode } from "../kube/api-errors.js";
import { requestOptions } from "../kube/request-options.js";

/** A secret is a URL or a key, never a document. */
const SECRET_MAX_BYTES = 65_536;
const KUBE_TIMEOUT_MS = 5_000;

/**
 * Reads the secrets NotificationPolicies refer to, when a notification is sent (a rotated
 * secret is used at the next send). Errors name the reference, never the value.
 */
export interface SecretReader {
  read(ref: SecretRef, namespace: string, signal: AbortSignal): Promise<string>;
}

/**
 * `file:` from the local filesystem (a Secret mounted into the pod works too); `secretKeyRef`
 * from the API server, only when Steward runs with the kubernetes store (`kubeConfig`
 * given): Steward's RBAC grants no Secrets by default (test/security/hardening.test.ts): a
 * Role allowing `get` of that Secret, bound to Steward's ServiceAccount in the policy's
 * namespace, or the chart's `notifications.secretNames`, allows it (README, "Get told").
 */
export class PolicySecrets implements SecretReader {
  private readonly core: CoreV1Api | undefined;

  constructor(kubeConfig: KubeConfig | undefined) {
    this.core = kubeConfig?.makeApiClient(CoreV1Api);
  }

  async read(ref: SecretRef, namespace: string, signal: AbortSignal): Promise<string> {
    if (ref.file !== undefined) return readSecretFile(ref.file);
    const key = ref.secretKeyRef;
    if (!key) throw new StewardError("a secret reference names neither file nor secretKeyRef");
    if (!this.core) {
      throw new StewardError(
        `secretKeyRef ${key.name}/${key.key} needs steward run --store kubernetes; with the file store use file:`,
      );
    }
    return this.readSecretKey(namespace, key, signal);
  }

  private async readSecretKey(
    namespace: string,
    key: { name: string; key: string },
    signal: AbortSignal,
  ): Promise<string> {
    const where = `Secret ${namespace}/${key.name}`;
    let data: Record<string, string> | undefined;
    try {
      const secret = await this.core?.readNamespacedSecret(
        { name: key.name, namespace },
        requestOptions({ timeoutMs: KUBE_TIMEOUT_MS, signal }),
      );
      data = secret?.data;
    } catch (err) {
      const hint =
        statusCode(err) === 403
          ? ` (bind a Role allowing get of Secret ${key.name} to Steward's ServiceAccount in ${namespace}, or list it in the chart's notifications.secretNames)`
          : "";
      throw new StewardError(`cannot read ${where}: ${describeApiError(err)}${hint}`, { cause: err });
    }
    const value = data?.[key.key];
    if (value === undefined) throw new StewardError(`${where} has no key ${JSON.stringify(key.key)}`);
    const decoded = Buffer.from(value, "base64").toString("utf8").trim();
    if (decoded === "") throw new StewardError(`${where} key ${JSON.stringify(key.key)} is empty`);
    return decoded;
  }
}

async function readSecretFile(path: string): Promise<string> {
  let text: string;
  try {
    const file = await open(path, "r");
    try {
      const buffer = Buffer.alloc(SECRET_MAX_BYTES + 1);
      const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
      if (bytesRead > SECRET_MAX_BYTES) throw new StewardError(`larger than ${SECRET_MAX_BYTES} bytes`);
      text = buffer.toString("utf8", 0, bytesRead).trim();
    } finally {
      await file.close();
    }
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (err as Error).message;
    throw new StewardError(`cannot read the secret file ${path}: ${why}`, { cause: err });
  }
  if (text === "") throw new StewardError(`the secret file ${path} is empty`);
  return text;
}
