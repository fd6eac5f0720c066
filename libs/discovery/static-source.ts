// static://h1:7070,h2:7070 : the list is the answer, and it never changes.
import type { StaticTarget } from "./endpoint-uri.js";
import type { WatchFunction } from "./endpoint-watch.js";

export const watchStatic: WatchFunction<StaticTarget> = (target, sink) => {
  // One priority for all: clients spread over the list, and a channel that
  // picks one tries them in the listed order.
  const endpoints = target.endpoints.map((address) => ({ address, priority: 0, weight: 1 }));
  queueMicrotask(() => sink.publish(endpoints));
  return { refresh: () => {}, close: async () => {} };
};
