/** Every `tapstate` subcommand, in the order `tapstate help` lists them. */
import type { CommandSpec } from '../command.js';
import { command as init } from './init.js';
import { command as add } from './add.js';
import { command as hotAttach } from './hot-attach.js';
import { command as hotDetach } from './hot-detach.js';
import { command as attach } from './attach.js';
import { command as detach } from './detach.js';
import { command as status } from './status.js';
import { command as log } from './log.js';
import { command as recover } from './recover.js';
import { command as save } from './save.js';
import { command as load } from './load.js';
import { command as scan } from './scan.js';
import { command as inspect } from './inspect.js';
import { command as diagram } from './diagram.js';
import { command as view } from './view.js';
import { command as verify } from './verify.js';
import { command as serve } from './serve.js';
import { helpCommand } from './help.js';
import { completionCommand } from './completion.js';

export const commands: readonly CommandSpec[] = [init, add, hotAttach, hotDetach, attach, detach, status, log, verify, recover, save, load, scan, inspect, diagram, view, serve];

/** All commands including `help`. */
export const allCommands: readonly CommandSpec[] = [...commands, completionCommand(() => allCommands), helpCommand(() => allCommands)];

export function findCommand(name: string): CommandSpec | undefined {
  return allCommands.find((c) => c.name === name);
}
