import { describe, expect, it } from 'vitest';
import { mutationSummary } from './score.js';

const m = (status: string, n: number) => Array.from({ length: n }, () => ({ status }));

describe('mutation score (npm run mutate)', () => {
  it('counts killed + timeout over valid mutants, machines/ + src/runtime/ only in the line', () => {
    const s = mutationSummary({
      files: {
        'machines/steps.ts': { mutants: [...m('Killed', 8), ...m('Timeout', 1), ...m('Survived', 1), ...m('CompileError', 5)] },
        'src/runtime/recovery.ts': { mutants: [...m('Killed', 7), ...m('NoCoverage', 3)] },
        'src/persist/persist-json.ts': { mutants: m('Survived', 10) },
      },
    });
    expect(s.files.map((f) => [f.file, f.score])).toEqual([
      ['machines/steps.ts', 90],
      ['src/persist/persist-json.ts', 0],
      ['src/runtime/recovery.ts', 70],
    ]);
    expect(s.line).toEqual({ suite: 'mutation', case: 'machines+runtime', ours: 80, baseline: 100, baseline_name: 'all mutants killed', unit: '%', ratio: 0.8 });
    expect(s.table).toContain('| **machines/ + src/runtime/** | 15 | 1 | 1 | 3 | 5 | **80.00** |');
  });

  it('a run over src/persist/ only gets its own line and total', () => {
    const s = mutationSummary({ files: { 'src/persist/persist-json.ts': { mutants: [...m('Killed', 3), ...m('Survived', 1)] }, 'src/persist/store-persist.ts': { mutants: m('Killed', 4) } } });
    expect(s.line).toMatchObject({ case: 'persist', ours: 87.5, ratio: 0.875 });
    expect(s.table).toContain('| **src/persist/** | 7 | 0 | 1 | 0 | 0 | **87.50** |');
  });
});
