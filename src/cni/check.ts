/**
 * CHECK: the attachment exists in the store, is attached, and the kernel agrees (tap, both
 * qdiscs, both filters: {@link verifyAttached}); prevResult (the runtime's cached final result)
 * lists our tap. Changes nothing: the store is opened under its lock without recovery.
 */
import type { TapstateCniConfig } from './config.js';
import type { CniEnv } from './env.js';
import { CNI_CODE, CniCheckError, CniConfigError, CniError } from './errors.js';
import { openContainerStore } from './container-store.js';
import { liveEndpoints } from './attachment.js';
import { verifyAttached } from './verify.js';

export async function cniCheck(env: CniEnv, cfg: TapstateCniConfig, processEnv: NodeJS.ProcessEnv): Promise<void> {
  if (!cfg.prevResult) throw new CniConfigError('prevResult', 'required', 'prevResult: required for CHECK (the result of the ADD being checked)');
  const cs = await openContainerStore(cfg.stateDir, env.containerId, { env: processEnv, recover: false });
  if (!cs) throw new CniError(CNI_CODE.unknownContainer, `no tapstate-cni attachment for container ${env.containerId} (no store under ${cfg.stateDir})`);
  try {
    const live = liveEndpoints(cs.store, env.ifName);
    if (live.length === 0) throw new CniError(CNI_CODE.unknownContainer, `no tapstate-cni attachment for ${env.containerId}/${env.ifName}`);
    const v = live[live.length - 1]!;
    const problems = await verifyAttached(cs.adapters.netlink, v);
    if (v.netnsPath !== env.netns) problems.push(`the store attached ${v.name} in ${v.netnsPath}, CNI_NETNS is ${env.netns}`);
    const listed = (cfg.prevResult.interfaces ?? []).some((i) => i.name === v.tapName && i.sandbox === v.netnsPath);
    if (!listed) problems.push(`prevResult does not list the tap ${v.tapName} in ${v.netnsPath}`);
    if (problems.length) throw new CniCheckError(`${env.containerId}/${env.ifName}: ${problems[0]}`, problems.join('; '));
  } finally {
    await cs.close();
  }
}
