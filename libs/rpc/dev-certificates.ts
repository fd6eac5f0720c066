// A development CA and one certificate per service, made with @peculiar/x509
// (WebCrypto underneath; no ASN.1 of our own): ECDSA P-256, the CA valid for
// ten years, each service for one. Every service certificate is good for
// both ends of a connection (serverAuth and clientAuth), since services are
// each other's clients, and carries the SANs it is reached by.
// @peculiar/x509 resolves its parts through tsyringe, which needs the
// Reflect metadata API before it loads.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;

export interface IssuedPair {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

export interface DevelopmentCertificates {
  readonly ca: IssuedPair;
  /** By name: coordinator, balancer, optimizer, worker-agent, cli. */
  readonly services: Readonly<Record<string, IssuedPair>>;
}

export const CERTIFICATE_NAMES = [
  "coordinator",
  "balancer",
  "optimizer",
  "worker-agent",
  "cli",
] as const;

export interface CertificateRequest {
  /** Extra DNS names and IP addresses every service certificate carries, beyond localhost and 127.0.0.1. */
  readonly hosts?: readonly string[];
  readonly nowMs?: number;
}

export async function makeDevelopmentCertificates(
  request: CertificateRequest = {},
): Promise<DevelopmentCertificates> {
  const now = new Date(request.nowMs ?? Date.now());
  const caKeys = await newKeyPair();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=scalemesh development CA",
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter: new Date(now.getTime() + 3650 * DAY_MS),
    keys: caKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const services: Record<string, IssuedPair> = {};
  for (const name of CERTIFICATE_NAMES) {
    const keys = await newKeyPair();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=scalemesh-${name}`,
      issuer: caCert.subject,
      notBefore: new Date(now.getTime() - DAY_MS),
      notAfter: new Date(now.getTime() + 365 * DAY_MS),
      signingKey: caKeys.privateKey,
      publicKey: keys.publicKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
          true,
        ),
        new x509.ExtendedKeyUsageExtension(
          [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
          false,
        ),
        new x509.SubjectAlternativeNameExtension(subjectAltNames(name, request.hosts ?? [])),
        await x509.AuthorityKeyIdentifierExtension.create(caCert),
      ],
    });
    services[name] = { certificatePem: cert.toString("pem"), privateKeyPem: await keyPem(keys) };
  }
  return {
    ca: { certificatePem: caCert.toString("pem"), privateKeyPem: await keyPem(caKeys) },
    services,
  };
}

function subjectAltNames(name: string, hosts: readonly string[]): x509.JsonGeneralName[] {
  const names = new Set(["localhost", `scalemesh-${name}`, ...hosts]);
  const ips = new Set(["127.0.0.1", "::1"]);
  const general: x509.JsonGeneralName[] = [];
  for (const host of names)
    if (isIpAddress(host)) ips.add(host);
    else general.push({ type: "dns", value: host });
  for (const ip of ips) general.push({ type: "ip", value: ip });
  return general;
}

function isIpAddress(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

async function newKeyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function keyPem(keys: CryptoKeyPair): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

/** A positive 16-byte serial, as hex. */
function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString("hex");
}
