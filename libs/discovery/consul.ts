// PLACEHOLDER until the consul watcher and registrar land (being written now).
import type { ConsulTarget } from "./endpoint-uri.js";
import type { WatchFunction } from "./endpoint-watch.js";
import type { Registrar, RegistrarOptions, ServiceInstance } from "./registrar.js";
export const watchConsul: WatchFunction<ConsulTarget> = () => { throw new Error("consul:// not implemented yet"); };
export function createConsulRegistrar(_target: ConsulTarget, _instance: ServiceInstance, _options: RegistrarOptions): Registrar { throw new Error("consul:// not implemented yet"); }
