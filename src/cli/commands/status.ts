/** `tapstate status`: the endpoints as the log knows them (read-only, no lock). */
import type { CommandSpec } from '../command.js';
import { openReader } from '../open-store.js';
import { statusJson, statusTable } from '../output.js';
import { JSON_OUT, STORE } from './common.js';

export const command: CommandSpec = {
  name: 'status',
  summary: 'Show every endpoint: state, tap, MAC, MTU, queues, PCI path, in-doubt effects, errors.',
  options: { store: STORE, json: JSON_OUT },
  examples: ['tapstate status --store /run/tapstate/sb1', 'tapstate status --store /run/tapstate/sb1 --json | jq .endpoints'],
  async run(opts, _pos, io) {
    const s = await openReader(String(opts.store));
    try {
      const views = s.store.list();
      if (opts.json) {
        io.out(JSON.stringify(statusJson(s.dir, s.sandbox, views), null, 2) + '\n');
        return 0;
      }
      const sb = s.sandbox;
      io.out(
        `store ${s.dir}: netns ${sb.netnsPath || '(own)'}, ${sb.vcpus} vCPU(s), vhost ${sb.vhost ? 'on' : 'off'}, ${sb.qmp ? `QMP ${sb.qmp}` : 'no VMM'}\n`,
      );
      if (views.length === 0) io.out('no endpoints (tapstate add)\n');
      else io.out(statusTable(views));
      const retired = s.store.retired;
      if (retired) io.out(`${retired} endpoint(s) detached and retired over the store's life (their history: tapstate log)\n`);
      const doubt = views.filter((v) => v.status === 'in-doubt').length;
      if (doubt) io.out(`${doubt} endpoint(s) in doubt: the next write command (or tapstate recover) recovers them first\n`);
      return 0;
    } finally {
      await s.close();
    }
  },
};
