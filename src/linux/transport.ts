/** The seam between the rtnetlink operations and the socket/thread machinery. */
import type { NlMsg } from './rtnetlink-codec.js';
import type { ReplyMode } from './netlink-socket.js';

/** Which adapter call, on which link, in which netns: every error names them. */
export interface OpContext {
  op: string;
  link: string;
  netns: string;
}

/** One rtnetlink request in the context's netns; resolves to the reply's data messages. */
export interface Transport {
  request(
    ctx: OpContext,
    msg: { type: number; flags: number; body: Buffer; attrs?: readonly Buffer[] },
    mode: ReplyMode,
    /** Run on a worker thread (calls that can block in the kernel for milliseconds). */
    offThread: boolean,
  ): Promise<NlMsg[]>;
}
