/** The launcher never needs KVM: TCG when /dev/kvm is absent, and no test requires /dev/kvm. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baseArgs, defaultAccel, launchQemu, type QemuInstance } from '../../src/qemu/launcher.js';
import { requireRealEnvironment } from './tap-helper.js';

const started: QemuInstance[] = [];
afterAll(async () => {
  await Promise.all(started.map((q) => q.stop(1000).catch(() => q.kill())));
});

describe('accelerator', () => {
  it('is kvm:tcg when the KVM device exists, tcg when it does not', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tapstate-accel-${process.pid}-`));
    try {
      const kvm = path.join(dir, 'kvm');
      expect(defaultAccel(kvm)).toBe('tcg');
      fs.writeFileSync(kvm, '');
      expect(defaultAccel(kvm)).toBe('kvm:tcg');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('goes into -machine, for q35 and pc, with the matching ACPI switch', () => {
    expect(baseArgs(true, { accel: 'tcg' }).slice(0, 2)).toEqual(['-machine', 'q35,accel=tcg']);
    expect(baseArgs(true, { accel: 'tcg' })).toContain('ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off');
    const pc = baseArgs(true, { machine: 'pc', accel: 'tcg' });
    expect(pc.slice(0, 2)).toEqual(['-machine', 'pc,accel=tcg']);
    expect(pc).toContain('PIIX4_PM.acpi-pci-hotplug-with-bridge-support=off');
  });

  it('a QEMU started with plain TCG answers QMP', async () => {
    requireRealEnvironment();
    const q = await launchQemu({ accel: 'tcg' });
    started.push(q);
    expect(q.argv).toContain('q35,accel=tcg');
    expect(await q.control.execute('query-status')).toMatchObject({ status: 'prelaunch' });
  });
});

describe('no test requires KVM', () => {
  it('nothing under test/ checks for /dev/kvm', () => {
    const root = path.resolve(import.meta.dirname, '..');
    const offenders: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.(ts|sh|c)$/.test(e.name) && p !== path.resolve(import.meta.filename) && fs.readFileSync(p, 'utf8').includes('/dev/kvm')) offenders.push(p);
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});
