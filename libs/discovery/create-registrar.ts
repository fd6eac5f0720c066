// Which schemes a service can register itself with: those with a registry of
// their own (Consul, etcd). The scheme's module and client library load only
// when a registrar is used.
import { parseEndpointUri, registrationUriError } from "./endpoint-uri.js";
import type { Registrar, RegistrarOptions, ServiceInstance } from "./registrar.js";

export type RegistrarResult =
  | { readonly ok: true; readonly registrar: Registrar }
  | { readonly ok: false; readonly error: string };

export function createRegistrar(
  uri: string,
  instance: ServiceInstance,
  options: RegistrarOptions = {},
): RegistrarResult {
  const error = registrationUriError(uri);
  if (error !== undefined) return { ok: false, error };
  const target = parseEndpointUri(uri);
  if (!target.ok) return target;
  let loaded: Promise<Registrar> | undefined;
  const registrar = (): Promise<Registrar> =>
    (loaded ??= (async () => {
      switch (target.scheme) {
        case "consul":
          return (await import("./consul.js")).createConsulRegistrar(target, instance, options);
        case "etcd":
          return (await import("./etcd.js")).createEtcdRegistrar(target, instance, options);
        default:
          throw new Error(`${target.scheme}:// has no registry to register in`);
      }
    })());
  return {
    ok: true,
    registrar: {
      uri,
      register: async () => (await registrar()).register(),
      // Nothing loaded means nothing was registered.
      deregister: async () => {
        if (loaded !== undefined) await (await loaded).deregister();
      },
    },
  };
}
