/**
 * `mkdir -p` that says why it failed. Node's `fs.mkdirSync(dir, { recursive: true })` reports
 * ENOENT when a missing directory cannot be made on a read-only file system (EROFS) — `tapstate
 * init --store /ro/new` said "no such file or directory". Here each missing component is made
 * with a plain mkdir(2), so the error is the kernel's; on failure the directories made so far
 * are removed again (nothing changed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Make `dir` and its missing parents with `mode` (filtered by the umask). Returns the directories
 * made, outermost first. An existing `dir` is left as it is, whatever it is (the caller checks it);
 * a missing one under a file is ENOTDIR.
 */
export function makeDirs(dir: string, mode: number): string[] {
  const missing: string[] = [];
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    try {
      fs.lstatSync(p);
      break; // exists: the caller checks what it is; under a file, the mkdir below is ENOTDIR
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    missing.unshift(p);
    if (path.dirname(p) === p) break;
  }
  const made: string[] = [];
  try {
    for (const p of missing) {
      try {
        fs.mkdirSync(p, { mode });
        made.push(p);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // made meanwhile by another process
      }
    }
  } catch (e) {
    removeMadeDirs(made);
    throw e;
  }
  return made;
}

/** Undo {@link makeDirs}: remove the directories it made, innermost first, each only if still empty. */
export function removeMadeDirs(made: readonly string[]): void {
  for (const p of [...made].reverse()) {
    try {
      fs.rmdirSync(p);
    } catch {
      /* something was put in it meanwhile: leave it */
    }
  }
}
