// libs/config: one schema for every option of every service, loaded from
// defaults < scalemesh.yaml < SCALEMESH_* environment < flags.
export { configSchema, type Config, type ConfigSectionName } from "./schema.js";
export {
  loadConfig,
  loadConfigOrExit,
  type LoadConfigOptions,
  type LoadResult,
} from "./load-config.js";
export { extractConfigFlags } from "./config-flags.js";
export {
  formatConfigIssue,
  formatConfigIssues,
  type ConfigIssue,
  type ConfigIssueKind,
} from "./config-issue.js";
export { configHelp } from "./config-help.js";
export { CONFIG_OPTIONS, type ConfigOption, type OptionKind } from "./option-catalog.js";
export { rpcOptionsOf, type RpcOptions } from "./rpc-options.js";
export { tlsSettingOf, type TlsSetting } from "./tls-options.js";
export { strategyOptionsOf } from "./strategy-options.js";
