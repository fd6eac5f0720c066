// PLACEHOLDER until the etcd watcher and registrar land (being written now).
import type { EtcdTarget } from "./endpoint-uri.js";
import type { WatchFunction } from "./endpoint-watch.js";
import type { Registrar, RegistrarOptions, ServiceInstance } from "./registrar.js";
export const watchEtcd: WatchFunction<EtcdTarget> = () => { throw new Error("etcd:// not implemented yet"); };
export function createEtcdRegistrar(_target: EtcdTarget, _instance: ServiceInstance, _options: RegistrarOptions): Registrar { throw new Error("etcd:// not implemented yet"); }
