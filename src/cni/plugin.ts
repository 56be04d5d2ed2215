/**
 * One invocation of the tapstate-cni plugin: environment + stdin in, stdout + exit code out
 * (spec 1.0.0 §"Execution protocol"). A result or nothing on success (exit 0); a CNI error object
 * on failure (exit 1). Diagnostics go to stderr only.
 */
import { parseConfig, type TapstateCniConfig } from './config.js';
import { parseEnv } from './env.js';
import { CniError, CniVersionError, toCniError } from './errors.js';
import { cniAdd } from './add.js';
import { cniDel } from './del.js';
import { cniCheck } from './check.js';
import { cniGc, cniStatus } from './gc.js';
import { SUPPORTED_VERSIONS, versionAtLeast, versionInfo } from './version.js';

export interface CniOutcome {
  /** What goes to stdout ('' for none). */
  stdout: string;
  exitCode: number;
}

const FALLBACK_VERSION = '1.0.0';

/** The cniVersion of a config we could not fully parse (for the error object), if readable. */
function askedVersion(stdin: string): string | undefined {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

function needVersion(cfg: TapstateCniConfig, min: string, command: string): void {
  if (!versionAtLeast(cfg.cniVersion, min))
    throw new CniVersionError(cfg.cniVersion, SUPPORTED_VERSIONS.filter((v) => versionAtLeast(v, min)), command);
}

export async function runPlugin(processEnv: NodeJS.ProcessEnv, stdin: string): Promise<CniOutcome> {
  let cniVersion = askedVersion(stdin) ?? FALLBACK_VERSION;
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(cniVersion)) cniVersion = FALLBACK_VERSION;
  try {
    if (processEnv.CNI_COMMAND === 'VERSION') return { stdout: JSON.stringify(versionInfo(askedVersion(stdin))) + '\n', exitCode: 0 };
    const env = parseEnv(processEnv);
    const cfg = parseConfig(stdin, env);
    switch (env.command) {
      case 'ADD':
        return { stdout: JSON.stringify(await cniAdd(env, cfg, processEnv)) + '\n', exitCode: 0 };
      case 'DEL':
        await cniDel(env, cfg, processEnv);
        return { stdout: '', exitCode: 0 };
      case 'CHECK':
        needVersion(cfg, '0.4.0', 'CHECK');
        await cniCheck(env, cfg, processEnv);
        return { stdout: '', exitCode: 0 };
      case 'GC':
        needVersion(cfg, '1.1.0', 'GC');
        await cniGc(cfg, processEnv);
        return { stdout: '', exitCode: 0 };
      case 'STATUS':
        needVersion(cfg, '1.1.0', 'STATUS');
        cniStatus(cfg);
        return { stdout: '', exitCode: 0 };
      default:
        throw new CniError(7, `CNI_COMMAND ${String(env.command)} is not handled`);
    }
  } catch (e) {
    return { stdout: JSON.stringify(toCniError(e).toJSON(cniVersion)) + '\n', exitCode: 1 };
  }
}
