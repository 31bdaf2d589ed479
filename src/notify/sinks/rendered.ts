/** A notification ready to send: where, with which headers, what body. The URL is a secret. */
export interface RenderedRequest {
  url: URL;
  headers: Record<string, string>;
  body: string;
}

/** The title of a notice for people, per event. */
export function headline(event: string, remediation: string): string {
  switch (event) {
    case "Opened":
      return `Remediation ${remediation} opened`;
    case "AwaitingApproval":
      return `Remediation ${remediation} is waiting for your approval`;
    case "Escalated":
      return `Remediation ${remediation} escalated to a person`;
    case "Failed":
      return `Remediation ${remediation} failed`;
    default:
      return `Remediation ${remediation} resolved`;
  }
}
