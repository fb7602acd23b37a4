/**
 * The client side of the ws-fanout bench, in a process of its own so the sockets' reading does not
 * share the measured process: opens sockets on command, records for every event frame
 * the delay since its `recordedAt`, and reports percentiles. Driven over IPC by ws-fanout.ts.
 */
import WebSocket from 'ws';

type Command =
  | { cmd: 'connect'; url: string; count: number; protocols: string[] }
  | { cmd: 'reset' }
  | { cmd: 'stats' }
  | { cmd: 'close' };

const sockets: WebSocket[] = [];
let latencies: number[] = [];
let closedEarly = 0;
/** The event's recordedAt (the store's clock at the append); the baseline's frame carries its send time there. */
const T0 = /"recordedAt":"([^"]+)"/;

const open = (url: string, protocols: string[]) =>
  new Promise<boolean>((resolve) => {
    const ws = new WebSocket(url, protocols, { perMessageDeflate: false });
    ws.on('message', (data) => {
      const m = T0.exec(data.toString());
      if (m) latencies.push(Date.now() - Date.parse(m[1]!));
    });
    ws.once('open', () => {
      sockets.push(ws);
      ws.on('close', () => closedEarly++);
      resolve(true);
    });
    ws.once('error', () => resolve(false));
  });

const reply = (message: object) => process.send!(message);

process.on('message', async (command: Command) => {
  if (command.cmd === 'connect') {
    let failed = 0;
    for (let done = 0; done < command.count; done += 250) {
      const batch = Math.min(250, command.count - done);
      const results = await Promise.all(Array.from({ length: batch }, () => open(command.url, command.protocols)));
      failed += results.filter((ok) => !ok).length;
    }
    reply({ connected: sockets.length, failed });
  } else if (command.cmd === 'reset') {
    latencies = [];
    reply({ ok: true });
  } else if (command.cmd === 'stats') {
    const sorted = latencies.sort((a, b) => a - b);
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
    reply({ count: sorted.length, p50: at(50), p99: at(99), max: sorted.at(-1) ?? Number.NaN, closedEarly });
  } else if (command.cmd === 'close') {
    for (const ws of sockets.splice(0)) {
      ws.removeAllListeners('close');
      ws.terminate();
    }
    closedEarly = 0;
    reply({ ok: true });
  }
});
