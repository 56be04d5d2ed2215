/** tapstate-cni: a crash-safe chained CNI plugin (docs/cni.md). */
export { runPlugin, type CniOutcome } from './plugin.js';
export { parseConfig, DEFAULT_STATE_DIR, type TapstateCniConfig } from './config.js';
export { parseEnv, parseCniArgs, type CniEnv, type CniCommand } from './env.js';
export { CNI_CODE, CniError, CniConfigError, CniDecodeError, CniEnvError, CniUnsupportedFieldError, CniVersionError, CniCheckError, toCniError } from './errors.js';
export { addResult, type CniResult, type CniInterface, type CniIpConfig } from './result.js';
export { SUPPORTED_VERSIONS, versionInfo } from './version.js';
