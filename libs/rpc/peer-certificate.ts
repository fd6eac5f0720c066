// The names in a caller's client certificate, for roles mapped from
// certificate identities: its subject CN and its DNS and URI SANs (a SPIFFE
// id is a URI SAN). Only a certificate the server checked against its CA
// counts: a port that does not require client certificates names none, so a
// self-signed certificate cannot claim a name.
import type { IncomingMessage } from "node:http";
import type { PeerCertificate, TLSSocket } from "node:tls";
import { createContextKey } from "@connectrpc/connect";

/** The verified client certificate's names, in a call's context values; empty without one. */
export const PEER_CERTIFICATE_NAMES = createContextKey<readonly string[]>([], {
  description: "names of the caller's verified client certificate",
});

export function certificateNames(certificate: PeerCertificate | undefined): readonly string[] {
  if (!certificate || Object.keys(certificate).length === 0) return [];
  const names: string[] = [];
  const commonName = certificate.subject?.CN as string | string[] | undefined;
  for (const name of Array.isArray(commonName) ? commonName : [commonName])
    if (name) names.push(name);
  for (const entry of (certificate.subjectaltname ?? "").split(/,\s*/)) {
    const match = /^(DNS|URI):(.+)$/.exec(entry);
    if (match?.[2]) names.push(match[2]);
  }
  return names;
}

/** The names of an HTTPS request's client certificate, when the server checked it against the CA. */
export function verifiedCertificateNames(
  request: Pick<IncomingMessage, "socket">,
): readonly string[] {
  const socket = request.socket as Partial<TLSSocket>;
  return socket.authorized && socket.getPeerCertificate
    ? certificateNames(socket.getPeerCertificate())
    : [];
}
