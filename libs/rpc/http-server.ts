// Each service's HTTP port: /metrics (Prometheus text), /healthz (the process
// answers), /readyz (it can do its job), and chosen services over the
// Connect protocol, so `curl -d '{}' -H 'content-type: application/json'
// http://127.0.0.1:7071/scalemesh.v1.Admin/GetClusterStatus` works. With TLS
// configured (transport-security.ts) it is HTTPS, mutual when the config
// asks, and takes rotated certificate files without a restart.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { DescService } from "@bufbuild/protobuf";
import { createContextValues, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import type { ServiceRegistration } from "./server.js";
import { registry } from "../telemetry/metrics.js";
import { PEER_CERTIFICATE_NAMES, verifiedCertificateNames } from "./peer-certificate.js";
import { currentTls, secureContextOptions, tlsFilesVersion } from "./transport-security.js";

export type HttpRoute = (
  request: IncomingMessage,
  response: ServerResponse,
) => boolean | Promise<boolean>;

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly logger: Logger;
  readonly connectServices?: readonly ServiceRegistration[];
  /** Why the service is not ready, or undefined when it is. */
  readonly notReadyReason: () => string | undefined;
  /** Extra routes tried before the Connect handler (return true when handled). */
  readonly routes?: readonly HttpRoute[];
}

export interface HttpServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const connect = connectNodeAdapter({
    // A client certificate's names count only where the port checked it against the CA.
    contextValues: (request) =>
      createContextValues().set(PEER_CERTIFICATE_NAMES, verifiedCertificateNames(request)),
    routes: (router) => {
      for (const { service, impl } of options.connectServices ?? []) {
        router.service(service as DescService, impl as ServiceImpl<DescService>);
      }
    },
  });
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method === "GET" && path === "/metrics") {
      response.writeHead(200, { "content-type": registry.contentType });
      response.end(await registry.metrics());
      return;
    }
    if (request.method === "GET" && path === "/healthz") {
      response.writeHead(200, { "content-type": "text/plain" });
      response.end("ok\n");
      return;
    }
    if (request.method === "GET" && path === "/readyz") {
      const reason = options.notReadyReason();
      response.writeHead(reason ? 503 : 200, { "content-type": "text/plain" });
      response.end(reason ? `not ready: ${reason}\n` : "ready\n");
      return;
    }
    for (const route of options.routes ?? []) {
      if (await route(request, response)) return;
    }
    connect(request, response);
  };
  const listener = (request: IncomingMessage, response: ServerResponse): void => {
    handle(request, response).catch((error: unknown) => {
      options.logger.error({ err: error, url: request.url }, "HTTP request failed");
      if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain" });
      response.end("internal error\n");
    });
  };
  const tls = currentTls();
  const server: Server = tls
    ? createHttpsServer(
        {
          ...secureContextOptions(tls),
          requestCert: true,
          rejectUnauthorized: tls.requireClientCert,
        },
        listener,
      )
    : createServer(listener);
  // Rotated files (cert-manager) take effect for new connections.
  let reload: NodeJS.Timeout | undefined;
  if (tls) {
    let version = tlsFilesVersion(tls);
    reload = setInterval(() => {
      try {
        const now = tlsFilesVersion(tls);
        if (now === version) return;
        (server as unknown as { setSecureContext(o: object): void }).setSecureContext(
          secureContextOptions(tls),
        );
        version = now;
        options.logger.info({ certFile: tls.certFile }, "HTTP port reloaded its TLS certificate");
      } catch (error) {
        // Mid-rotation (one file new, one old) or unreadable: keep the old ones, try again.
        options.logger.warn(
          { certFile: tls.certFile, err: error instanceof Error ? error.message : String(error) },
          "cannot reload the TLS certificate yet; keeping the current one",
        );
      }
    }, tls.reloadIntervalMs);
    reload.unref();
  }
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", (error) =>
      reject(
        new Error(`cannot listen for HTTP on ${options.host}:${options.port}: ${error.message}`),
      ),
    );
    server.listen(options.port, options.host, () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : options.port);
    });
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(reload);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
