import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { errorMessage } from "../errors.js";
import { statusCode } from "../kube/api-errors.js";
import type { Store } from "../store/store.js";
import { CONSOLE_CSS, CONSOLE_JS } from "./assets.js";
import type { ConsoleAuth, ConsoleSession } from "./auth.js";
import { planDecision, type DecisionForm } from "./decisions.js";
import { pathOf } from "./html.js";
import { closeServer, listen } from "../server/listen.js";
import type { ChangeFeed } from "./live.js";
import {
  auditPathOf,
  desiredStatePage,
  overviewPage,
  remediationOf,
  remediationPage,
  type Page,
  type PageSources,
} from "./pages.js";
import { cookieValue, readForm, redirect, SECURITY_HEADERS, sendHtml, sendText } from "./respond.js";
import { layout, messagePage, type PageFrame } from "./views/layout.js";

export interface ConsoleServerOptions {
  /** What pages read: a cached store, kept current by its watch. */
  sources: PageSources;
  /** Where a decision is read fresh and written, with the user's own credentials. */
  store: Store;
  feed: ChangeFeed;
  auth: ConsoleAuth;
  /** The name decisions are recorded under (the OS user, or the API server's SelfSubjectReview). */
  identity: string;
  /** Shown in the header: the store and namespace. */
  scope: string;
  host: string;
  port: number;
  tls?: { cert: Buffer; key: Buffer };
}

type Route =
  | { page: "overview" }
  | { page: "events" }
  | { page: "desiredstates" | "remediations" | "decision"; namespace: string; name: string };

/** Store changes that arrive together (a status write and its annotation clean-up) make one event. */
const COALESCE_MS = 30;
const HEARTBEAT_MS = 15_000;

/** Public: no secret in them, and a logged-out page still needs its stylesheet. */
const ASSETS: Record<string, { status: number; type: string; body: string }> = {
  "/static/console.js": { status: 200, type: "text/javascript; charset=utf-8", body: CONSOLE_JS },
  "/static/console.css": { status: 200, type: "text/css; charset=utf-8", body: CONSOLE_CSS },
  // Browsers ask for one on their own; an empty answer keeps a 404 out of the console log.
  "/favicon.ico": { status: 204, type: "image/x-icon", body: "" },
};

const LOG_IN =
  "Open the URL that steward console printed: it carries the login token, which changes every time the console starts.";

const NOTICES: Record<string, PageFrame["notice"]> = {
  approved: { tone: "ok", text: "Approved. Steward continues the session; this page follows it." },
  denied: { tone: "ok", text: "Denied. The model is told, with your reason." },
  already: { tone: "ok", text: "That decision was already recorded; nothing changed." },
};

const FIXED_ROUTES: Readonly<Record<string, Route>> = { "/": { page: "overview" }, "/events": { page: "events" } };
const OBJECT_PAGE = /^\/(desiredstates|remediations)\/([^/]+)\/([^/]+)$/;
const DECISION = /^\/remediations\/([^/]+)\/([^/]+)\/decision$/;

function named(page: "desiredstates" | "remediations" | "decision", namespace = "", name = ""): Route | undefined {
  try {
    return { page, namespace: decodeURIComponent(namespace), name: decodeURIComponent(name) };
  } catch {
    return undefined;
  }
}

export function routeOf(pathname: string): Route | undefined {
  const fixed = FIXED_ROUTES[pathname];
  if (fixed) return fixed;
  const decision = DECISION.exec(pathname);
  if (decision) return named("decision", decision[1], decision[2]);
  const object = OBJECT_PAGE.exec(pathname);
  return object ? named(object[1] as "desiredstates" | "remediations", object[2], object[3]) : undefined;
}

/**
 * The console's HTTP(S) server: login, pages, the live event stream and decisions.
 * Every page and stream needs a session (see ConsoleAuth); every POST its CSRF token and,
 * when the browser sends one, an Origin equal to the console's own.
 */
export class ConsoleServer {
  private server: Server | undefined;
  private readonly streams = new Set<ServerResponse>();
  /** Named after the port once listening: cookies are not kept apart by port, so two consoles' must differ by name. */
  private cookieName = "steward_console";

  constructor(private readonly options: ConsoleServerOptions) {}

  /** Listens; returns the base URL (`http://127.0.0.1:9480`). */
  async start(): Promise<string> {
    const { tls } = this.options;
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      this.handle(req, res).catch((err: unknown) => {
        if (res.headersSent) res.destroy();
        else sendHtml(res, 500, messagePage("Something went wrong", errorMessage(err)));
      });
    };
    const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createHttpServer(handler);
    this.server = server;
    const { host: at, port } = this.options;
    const address = await listen(server, { host: at, port }, `${at}:${port}`);
    this.cookieName = `steward_console_${address.port}`;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    return `${tls ? "https" : "http"}://${host}:${address.port}`;
  }

  async close(): Promise<void> {
    for (const stream of this.streams) stream.end();
    await closeServer(this.server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://console.invalid");
    const asset = req.method === "GET" ? ASSETS[url.pathname] : undefined;
    if (asset) return sendText(res, asset.status, asset.type, asset.body);
    const token = req.method === "GET" ? url.searchParams.get("token") : null;
    if (token !== null) return this.login(res, url, token);
    const session = this.options.auth.sessionOf(cookieValue(req.headers.cookie, this.cookieName));
    if (!session) return sendHtml(res, 401, messagePage("Log in", LOG_IN));
    const route = routeOf(url.pathname);
    if (!route) return sendHtml(res, 404, messagePage("Not found", `Nothing at ${url.pathname}.`));
    const allowed = route.page === "decision" ? "POST" : "GET";
    if (req.method !== allowed)
      return sendHtml(res, 405, messagePage("Method not allowed", `Only ${allowed} here.`), { allow: allowed });
    return this.dispatch(route, { req, res, url, session });
  }

  private async dispatch(route: Route, x: Exchange): Promise<void> {
    switch (route.page) {
      case "overview":
        return this.render(x, "/", await overviewPage(this.options.sources));
      case "events":
        return this.events(x);
      case "desiredstates":
        return this.render(
          x,
          pathOf("desiredstates", route.namespace, route.name),
          await desiredStatePage(this.options.sources, route.namespace, route.name),
        );
      case "remediations": {
        const remediation = await remediationOf(this.options.sources, route.namespace, route.name);
        const page = remediation && (await remediationPage(this.options.sources, remediation, x.session.csrf));
        return this.render(x, pathOf("remediations", route.namespace, route.name), page);
      }
      case "decision":
        return this.decide(x, route);
    }
  }

  private render(
    x: Exchange,
    path: string,
    page: Page | undefined,
    failure?: { status: number; message: string },
  ): void {
    if (!page) return sendHtml(x.res, 404, messagePage("Not found", `Nothing at ${path} (it may have been deleted).`));
    const notice = failure
      ? { tone: "error" as const, text: failure.message }
      : NOTICES[x.url.searchParams.get("done") ?? ""];
    const frame: PageFrame = {
      title: page.title,
      path,
      identity: this.options.identity,
      scope: this.options.scope,
      notice,
    };
    sendHtml(x.res, failure?.status ?? 200, layout(frame, page.body));
  }

  private login(res: ServerResponse, url: URL, token: string): void {
    if (!this.options.auth.tokenMatches(token))
      return sendHtml(
        res,
        401,
        messagePage(
          "Log in",
          "That login token is not this console's: it changes every time the console starts. Open the URL it printed last.",
        ),
      );
    const { cookie } = this.options.auth.login();
    const attributes = `HttpOnly; SameSite=Strict; Path=/${this.options.tls ? "; Secure" : ""}`;
    redirect(res, url.pathname, { "set-cookie": `${this.cookieName}=${cookie}; ${attributes}` });
  }

  private events(x: Exchange): void {
    const page = routeOf(x.url.searchParams.get("page") ?? "/");
    const audit =
      page?.page === "remediations" ? auditPathOf(this.options.sources, page.namespace, page.name) : undefined;
    const { res } = x;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      "content-type": "text/event-stream; charset=utf-8",
      connection: "keep-alive",
    });
    let seq = 0;
    let timer: NodeJS.Timeout | undefined;
    const push = (): void => {
      timer ??= setTimeout(() => {
        timer = undefined;
        res.write(`event: change\ndata: ${++seq}\n\n`);
      }, COALESCE_MS);
    };
    // One change at once: whatever changed between the page's render and this stream is not missed.
    res.write("retry: 1000\n\n");
    push();
    const unsubscribe = this.options.feed.subscribe(push, audit);
    const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), HEARTBEAT_MS);
    this.streams.add(res);
    x.req.once("close", () => {
      unsubscribe();
      clearInterval(heartbeat);
      clearTimeout(timer);
      this.streams.delete(res);
    });
  }

  /** Refused unless the request comes from this console's own page: the Origin, when sent, and the CSRF token. */
  private refusedOrigin(x: Exchange, form: URLSearchParams): { status: number; message: string } | undefined {
    const origin = x.req.headers.origin;
    const own = `${this.options.tls ? "https" : "http"}://${x.req.headers.host ?? ""}`;
    if (origin !== undefined && origin !== own)
      return { status: 403, message: `refused: the form came from ${origin}, not from this console` };
    if (!this.options.auth.csrfMatches(x.session, form.get("csrf") ?? undefined))
      return {
        status: 403,
        message: "refused: the form's CSRF token is missing or wrong. Reload the page and decide again.",
      };
    return undefined;
  }

  /** The form's decision, or why it is refused. */
  private async readDecision(x: Exchange): Promise<DecisionForm | { status: number; message: string }> {
    let form: URLSearchParams;
    try {
      form = await readForm(x.req);
    } catch (err) {
      return { status: 400, message: errorMessage(err) };
    }
    const refused = this.refusedOrigin(x, form);
    if (refused) return refused;
    const decision = form.get("decision");
    if (decision !== "approve" && decision !== "deny")
      return { status: 400, message: "the form must say decision=approve or decision=deny" };
    return { approve: decision === "approve", ids: form.getAll("id"), reason: form.get("reason") ?? undefined };
  }

  private async decide(x: Exchange, ref: { namespace: string; name: string }): Promise<void> {
    const path = pathOf("remediations", ref.namespace, ref.name);
    const refuse = async (failure: { status: number; message: string }): Promise<void> => {
      const current = await remediationOf(this.options.sources, ref.namespace, ref.name);
      const page = current && (await remediationPage(this.options.sources, current, x.session.csrf));
      this.render(x, path, page, failure);
    };
    const form = await this.readDecision(x);
    if (!("approve" in form)) return refuse(form);
    // Read fresh, not from the cache: the stale-page check is against what is stored now.
    const remediation =
      (await remediationOf(this.options.sources, ref.namespace, ref.name)) &&
      (await this.options.store.get("AgentRemediation", ref));
    if (!remediation) return refuse({ status: 404, message: `remediation ${ref.name} does not exist (any more)` });
    const plan = planDecision(remediation, form, this.options.identity);
    if (plan.type === "refused") return refuse(plan);
    if (plan.type === "already") return redirect(x.res, `${path}?done=already`);
    try {
      await this.options.store.annotate("AgentRemediation", ref, plan.annotations);
    } catch (err) {
      return refuse({ status: statusCode(err) ?? 500, message: `not recorded: ${errorMessage(err)}` });
    }
    redirect(x.res, `${path}?done=${form.approve ? "approved" : "denied"}`);
  }
}

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  session: ConsoleSession;
}
