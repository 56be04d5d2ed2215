import { describe, expect, it } from 'vitest';
import { renderStateChart, stateChart, toMermaid } from '../../src/diagram/index.js';
import { command } from '../../src/cli/commands/diagram.js';
import { UsageError } from '../../src/cli/command.js';
import { ATTACH_STEPS, HOT_ATTACH_STEPS, TEARDOWN_STEPS } from '../../machines/index.js';

const io = () => {
  const text: string[] = [];
  return { text, io: { out: (t: string) => void text.push(t), err: (t: string) => void text.push(t), isTTY: false, env: {} } };
};

describe('the state chart from the machine definition', () => {
  const chart = stateChart();

  it('has every state of the step table, nested as the machine nests them', () => {
    expect(chart.machine).toBe('endpoint');
    expect(chart.initial).toBe('created');
    expect(chart.states.filter((s) => s.parent === null).map((s) => s.id)).toEqual([
      'created', 'hotAttach', 'hotAttached', 'attach', 'attached', 'teardown', 'dirty', 'detached',
    ]);
    expect(chart.states.filter((s) => s.parent === 'hotAttach').map((s) => s.key)).toEqual(HOT_ATTACH_STEPS);
    expect(chart.states.filter((s) => s.parent === 'attach').map((s) => s.key)).toEqual(ATTACH_STEPS);
    expect(chart.states.filter((s) => s.parent === 'teardown').map((s) => s.key)).toEqual(TEARDOWN_STEPS);
    expect(chart.states.find((s) => s.id === 'hotAttach.hotplug')).toMatchObject({ type: 'atomic', invokes: 'hypervisor.hotplug' });
    expect(chart.states.find((s) => s.id === 'detached')?.type).toBe('final');
  });

  it('has the transitions: commands, effect chains, failures into teardown', () => {
    const has = (source: string, target: string | null, label: string) =>
      chart.transitions.some((t) => t.source === source && t.target === target && t.label === label);
    expect(has('created', 'hotAttach', 'HOT_ATTACH')).toBe(true);
    expect(has('created', 'hotAttached', 'ADOPT')).toBe(true);
    expect(has('hotAttach.setMtu', 'hotAttach.setUp', 'done')).toBe(true);
    expect(has('hotAttach.setMtu', 'teardown.deleteTap', 'error')).toBe(true);
    expect(has('attach.coldplug', 'attached', 'done')).toBe(true);
    expect(has('teardown.deleteTap', 'detached', 'done')).toBe(true);
    expect(has('created', null, 'ATTACH')).toBe(true); // the guarded "model none" refusal
    expect(has('detached', 'created', 'HOT_ATTACH')).toBe(false);
  });

  it('renders deterministic Mermaid with unique ids for nested states', () => {
    const m = toMermaid(chart);
    expect(m).toBe(toMermaid(stateChart()));
    expect(m.startsWith('stateDiagram-v2\n  [*] --> created\n')).toBe(true);
    expect(m).toContain('state "hotAttach" as hotAttach {');
    expect(m).toContain('state "setMtu: netlink.setMtu" as hotAttach_setMtu');
    expect(m).toContain('state "setMtu: netlink.setMtu" as attach_setMtu');
    expect(m).toContain('hotAttach_setMtu --> hotAttach_setUp: done');
    expect(m).toContain('created --> hotAttach: HOT_ATTACH');
    expect(m).toContain('detached --> [*]');
  });
});

describe('tapstate diagram', () => {
  it('prints Mermaid by default and JSON on request', async () => {
    const a = io();
    expect(await command.run({}, [], a.io)).toBe(0);
    expect(a.text.join('')).toBe(renderStateChart('mermaid'));
    const b = io();
    expect(await command.run({ format: 'json' }, [], b.io)).toBe(0);
    expect(JSON.parse(b.text.join(''))).toEqual(stateChart());
  });

  it('refuses an unknown format as a usage error naming the option', async () => {
    await expect(command.run({ format: 'dot' }, [], io().io)).rejects.toThrow(UsageError);
    await expect(command.run({ format: 'dot' }, [], io().io)).rejects.toThrow(/--format must be mermaid or json/);
  });
});
