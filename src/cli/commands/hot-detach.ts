/** `tapstate hot-detach`: unplug from the VM and delete the tap. */
import { operationCommand } from './operation.js';

export const command = operationCommand(
  'hot-detach',
  'Hot-detach an endpoint: unplug device and netdev from QEMU, set the tap down, delete it.',
  (s, id) => s.hotDetach(id),
);
