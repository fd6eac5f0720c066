// PLACEHOLDER until the k8s watcher lands (being written now).
import type { K8sTarget } from "./endpoint-uri.js";
import type { WatchFunction } from "./endpoint-watch.js";
export const watchK8s: WatchFunction<K8sTarget> = () => { throw new Error("k8s:// not implemented yet"); };
