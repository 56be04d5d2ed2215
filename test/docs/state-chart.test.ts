/**
 * docs/state-chart.md embeds the machine's Mermaid chart between two markers; this test fails
 * when the committed chart differs from the one generated from the machine definition.
 * To refresh it: `UPDATE_DOCS=1 npx vitest run test/docs/state-chart.test.ts`.
 */
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderStateChart } from '../../src/diagram/index.js';

const DOC = fileURLToPath(new URL('../../docs/state-chart.md', import.meta.url));
const BEGIN = '<!-- BEGIN GENERATED: tapstate diagram -->';
const END = '<!-- END GENERATED -->';

const PREAMBLE = `# The endpoint state chart

Generated from the machine definition (\`machines/endpoint.ts\`) by \`tapstate diagram\`
(\`--format json\` gives the same chart as data). Every effect state shows the effect it invokes.
An edge labelled \`done\` / \`error\` is the outcome of that effect; the guarded edges into
\`teardown\` list every step a teardown can start at (the guard picks the first one still needed).
\`test/docs/state-chart.test.ts\` fails when this chart differs from the machine; refresh it with
\`UPDATE_DOCS=1 npx vitest run test/docs/state-chart.test.ts\`.

`;

function generatedBlock(): string {
  return `${BEGIN}\n\`\`\`mermaid\n${renderStateChart('mermaid')}\`\`\`\n${END}`;
}

describe('docs/state-chart.md', () => {
  it('embeds the chart generated from the machine (no drift)', () => {
    if (process.env.UPDATE_DOCS) {
      const old = fs.existsSync(DOC) ? fs.readFileSync(DOC, 'utf8') : '';
      const i = old.indexOf(BEGIN);
      const j = old.indexOf(END);
      const next = i >= 0 && j > i ? old.slice(0, i) + generatedBlock() + old.slice(j + END.length) : PREAMBLE + generatedBlock() + '\n';
      fs.writeFileSync(DOC, next);
    }
    const doc = fs.readFileSync(DOC, 'utf8');
    const i = doc.indexOf(BEGIN);
    const j = doc.indexOf(END);
    expect(i, `${DOC} has no ${BEGIN} marker`).toBeGreaterThanOrEqual(0);
    expect(doc.slice(i, j + END.length), 'the committed chart differs from the machine: UPDATE_DOCS=1 npx vitest run test/docs/state-chart.test.ts').toBe(generatedBlock());
  });
});
