/** `tapstate hot-attach`: create the tap and hot-plug it into the running VM. */
import { operationCommand } from './operation.js';

export const command = operationCommand(
  'hot-attach',
  'Hot-attach an endpoint: create its tap (one queue per vCPU), set MTU, up, hot-plug into QEMU.',
  (s, id) => s.hotAttach(id),
);
