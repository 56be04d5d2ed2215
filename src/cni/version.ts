/** The spec versions tapstate-cni speaks, and the VERSION command's answer. */

/** The chaining versions (as tc-redirect-tap), plus 1.1.0 for GC and STATUS. */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const LATEST_VERSION = '1.1.0';

/** Compare dotted versions: `v >= min`. */
export function versionAtLeast(v: string, min: string): boolean {
  const a = v.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

/** VERSION: `{cniVersion, supportedVersions}` (the asked version when we speak it). */
export function versionInfo(asked: string | undefined): { cniVersion: string; supportedVersions: string[] } {
  const v = asked && (SUPPORTED_VERSIONS as readonly string[]).includes(asked) ? asked : LATEST_VERSION;
  return { cniVersion: v, supportedVersions: [...SUPPORTED_VERSIONS] };
}
