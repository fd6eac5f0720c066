// GET a service's HTTP port the way this process's transport is set up:
// plain HTTP, or HTTPS with the CA and client certificate of useTls().
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { currentTls } from "../../libs/rpc/index.js";

/** GET path on 127.0.0.1:port: its status and body, or status 0 when nothing answered. */
export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const tls = currentTls();
  return new Promise((resolve) => {
    const options = { host: "127.0.0.1", port, path, timeout: 5_000 };
    const onResponse = (response: NodeJS.ReadableStream & { statusCode?: number }): void => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    };
    const req = tls
      ? httpsRequest(
          {
            ...options,
            ca: readFileSync(tls.caFile),
            cert: readFileSync(tls.certFile),
            key: readFileSync(tls.keyFile),
          },
          onResponse,
        )
      : httpRequest(options, onResponse);
    req.on("error", () => resolve({ status: 0, body: "" }));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

/** The status of GET path on 127.0.0.1:port, or 0 when nothing answered. */
export async function httpStatus(port: number, path: string): Promise<number> {
  return (await httpGet(port, path)).status;
}
