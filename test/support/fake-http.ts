// The small HTTP pieces every fake API server of the tests needs (Consul,
// Docker Engine, Kubernetes): read a request body, answer JSON.
import type { IncomingMessage, ServerResponse } from "node:http";

export { isRecord } from "../../libs/config/coerce-value.js";

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}
