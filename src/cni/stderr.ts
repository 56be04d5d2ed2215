/** Diagnostics of the plugin: one line on stderr (stdout carries only the result or the error object). */
export function stderrLine(line: string): void {
  process.stderr.write(`tapstate-cni: ${line.replace(/\s*\n\s*/g, ' ')}\n`);
}
