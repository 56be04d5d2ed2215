/** `tapstate detach`: upstream Detach. */
import { operationCommand } from './operation.js';

export const command = operationCommand(
  'detach',
  'Detach an endpoint (upstream Detach: a netns that is not ours keeps its tap; otherwise tear everything down).',
  (s, id) => s.detach(id),
);
