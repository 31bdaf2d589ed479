import { z } from "zod";

export const API_GROUP = "steward.dev";
export const API_VERSION = `${API_GROUP}/v1alpha1`;
export const DEFAULT_NAMESPACE = "default";

// DNS-1123 subdomain, as Kubernetes requires of object names, so the same YAML works with
// kubectl and with the file store (where the name is also a file name).
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export const ObjectName = z.string().superRefine((value, ctx) => {
  if (!NAME.test(value)) {
    ctx.addIssue({
      code: "custom",
      message: `expected a lowercase DNS-1123 name (a-z, 0-9, '-', '.'; starts and ends alphanumeric), got ${JSON.stringify(value)}`,
    });
  }
});

export const ObjectMeta = z.object({
  name: ObjectName,
  namespace: ObjectName.default(DEFAULT_NAMESPACE),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  uid: z.string().optional(),
  generation: z.number().int().nonnegative().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  finalizers: z.array(z.string()).optional(),
  ownerReferences: z
    .array(
      z.object({
        apiVersion: z.string(),
        kind: z.string(),
        name: z.string(),
        uid: z.string(),
        controller: z.boolean().optional(),
      }),
    )
    .optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMeta>;

/** A status condition, Kubernetes style; the list is keyed by `type`. */
export const Condition = z.object({
  type: z.string().describe("The condition's name, unique in the list (Ready, Stalled, Reconciling…)."),
  status: z.enum(["True", "False", "Unknown"]).describe("True, False or Unknown."),
  reason: z.string().describe("Why, in one CamelCase word a program can match on."),
  message: z.string().describe("Why, in words for people."),
  lastTransitionTime: z.string().describe("When status last changed (RFC 3339)."),
  observedGeneration: z
    .number()
    .int()
    .optional()
    .describe("The metadata.generation the condition was computed for; older than the object's means stale."),
});
export type Condition = z.infer<typeof Condition>;
