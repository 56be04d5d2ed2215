/** `tapstate attach`: cold attach; prints the QEMU arguments. */
import { operationCommand } from './operation.js';

export const command = operationCommand(
  'attach',
  'Cold-attach an endpoint (tap + tc redirect with the original link); prints the QEMU -netdev/-device arguments.',
  (s, id) => s.attach(id),
  { printArgs: true, examples: ['qemu-system-x86_64 … $(tapstate attach --store /run/tapstate/sb1 --endpoint ep0)'] },
);
