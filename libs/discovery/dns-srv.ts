// PLACEHOLDER until the dns+srv watcher lands (being written now).
import type { DnsSrvTarget } from "./endpoint-uri.js";
import type { WatchFunction } from "./endpoint-watch.js";
export const watchDnsSrv: WatchFunction<DnsSrvTarget> = () => { throw new Error("dns+srv:// not implemented yet"); };
