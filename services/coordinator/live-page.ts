// The operators' live page on the coordinator's HTTP port: `/` and its
// script and styles (services/coordinator/page/), uPlot from the package's
// own node_modules (nothing fetched from the internet), and `/events`, a
// server-sent event stream of the live feed: the last minutes at once, then
// one reading a second. Actions go through the Admin API's Connect JSON on
// the same port, so they are checked by the same roles. With roles on, the
// stream needs a viewer (the page sends the token as a bearer header; the
// token never goes in a URL, where logs and history would keep it).
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import { authorizeCaller, type RoleCheckOptions } from "../../libs/auth/roles.js";
import { toConnectError, verifiedCertificateNames, type HttpRoute } from "../../libs/rpc/index.js";
import { projectRoot, SCALEMESH_VERSION } from "../../libs/telemetry/index.js";
import type { LiveFeed } from "./live-feed.js";

interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

/** Pages open at once; one more is answered 503. Each costs one JSON write a second. */
const MAX_VIEWERS = 64;

function assets(): Map<string, Asset> {
  const page = join(projectRoot(), "services", "coordinator", "page");
  const uplot = dirname(createRequire(import.meta.url).resolve("uplot/dist/uPlot.iife.min.js"));
  const html = "text/html; charset=utf-8";
  const js = "text/javascript; charset=utf-8";
  const css = "text/css; charset=utf-8";
  return new Map<string, Asset>([
    ["/", { type: html, body: readFileSync(join(page, "index.html")) }],
    ["/page/app.js", { type: js, body: readFileSync(join(page, "app.js")) }],
    ["/page/app.css", { type: css, body: readFileSync(join(page, "app.css")) }],
    ["/vendor/uplot.js", { type: js, body: readFileSync(join(uplot, "uPlot.iife.min.js")) }],
    ["/vendor/uplot.css", { type: css, body: readFileSync(join(uplot, "uPlot.min.css")) }],
  ]);
}

export interface LivePageOptions {
  readonly feed: LiveFeed;
  readonly logger: Logger;
  /** With roles on: who may watch (a viewer) and what the page offers them. */
  readonly roles?: RoleCheckOptions;
}

export function livePageRoutes(options: LivePageOptions): HttpRoute[] {
  const files = assets();
  let viewers = 0;

  const serveAsset: HttpRoute = (request, response) => {
    if (request.method !== "GET") return false;
    const asset = files.get((request.url ?? "/").split("?")[0] ?? "/");
    if (!asset) return false;
    response.writeHead(200, {
      "content-type": asset.type,
      "cache-control": "no-cache",
      // Everything the page runs comes from this port.
      "content-security-policy":
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
      "x-content-type-options": "nosniff",
    });
    response.end(asset.body);
    return true;
  };

  const serveEvents: HttpRoute = async (request, response) => {
    if (request.method !== "GET" || (request.url ?? "").split("?")[0] !== "/events") return false;
    let role = "open";
    if (options.roles) {
      try {
        const caller = await authorizeCaller(
          "the live page",
          "viewer",
          request.headers.authorization ?? null,
          verifiedCertificateNames(request),
          options.roles,
        );
        role = caller.role;
      } catch (error) {
        const refusal = toConnectError(error);
        const status = refusal.code === 16 ? 401 : 403;
        response.writeHead(status, { "content-type": "application/json" });
        response.end(JSON.stringify({ error: refusal.rawMessage }));
        return true;
      }
    }
    if (viewers >= MAX_VIEWERS) {
      response.writeHead(503, { "content-type": "application/json", "retry-after": "5" });
      response.end(JSON.stringify({ error: `${MAX_VIEWERS} pages are open already` }));
      return true;
    }
    viewers += 1;
    streamFeed(request, response, options.feed, role, () => {
      viewers -= 1;
    });
    return true;
  };

  return [serveAsset, serveEvents];
}

function streamFeed(
  request: IncomingMessage,
  response: ServerResponse,
  feed: LiveFeed,
  role: string,
  onClose: () => void,
): void {
  response.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
  });
  const send = (event: string, data: unknown): void => {
    response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  send("hello", {
    version: SCALEMESH_VERSION,
    role,
    history: feed.history(),
    latest: feed.latest() ?? null,
  });
  const unsubscribe = feed.subscribe((tick) => {
    // A viewer that cannot keep up skips readings rather than queue them.
    if (response.writableNeedDrain) return;
    send("tick", tick);
  });
  const close = (): void => {
    unsubscribe();
    onClose();
  };
  request.on("close", close);
}
