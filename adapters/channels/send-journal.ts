import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import path from 'node:path';

/**
 * The bots worker's local record of the sends whose request bytes were handed to the kernel.
 *
 * Neither platform takes an idempotency key, so a worker killed between committing "part i is about
 * to go" (the outbox, in PostgreSQL) and the request leaving cannot tell, after a restart, whether it
 * went. This journal closes that window for a worker restarted on the same machine: a line
 * `key\tpart` is written with a synchronous write() in the same synchronous step that writes the
 * request's first bytes to the socket (see `journaledAgent`), so a line exists exactly when the
 * request left — to within the instant between two system calls. A process killed with SIGKILL
 * loses nothing it wrote (the page cache belongs to the kernel); a machine that restarted may
 * have lost lines, so the journal records the boot it was written in and is not trusted after
 * another (the worker then falls back to "may have gone, never repeat it"). A request the platform
 * answered with an error status (a 429, a 5xx) sent nothing: its line is withdrawn (`-key\tpart`) as
 * the answer arrives, so a later attempt of that part is judged on its own request.
 * See docs/channels.md, "Exactly one send".
 */
export interface SendJournal {
  /** Did the request of this part, attempted under this journal's id, leave? */
  left(key: string, part: number): boolean;
  /** Runs `send` so that the first request it makes is journaled as this part the moment its bytes go out. */
  around<T>(key: string, part: number, send: () => Promise<T>): Promise<T>;
  /** Keeps only the lines `keep` says are still needed (at start, once the open attempts are known). */
  compact(keep: (key: string, part: number) => boolean): void;
  close(): void;
}

const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';
const bootId = (): string => (existsSync(BOOT_ID_FILE) ? readFileSync(BOOT_ID_FILE, 'utf8').trim() : 'unknown');

const lineOf = (key: string, part: number) => `${key}\t${part}`;
const WITHDRAWN = '-';

/**
 * How long a kept-alive connection may sit unused before the worker closes it: well under the idle
 * timeout of common servers (Node's 5 s, nginx's 75 s), so a send never goes out on a connection the
 * platform is closing at that instant (it would be reset unread and count as "may have gone").
 * Node's agent alone keeps idle sockets forever unless given a timeout.
 */
export const IDLE_SOCKET_MS = 4_000;

/** A send's line: `written` once its request's bytes went, by that request (`by`). */
type Pending = { readonly line: string; written: boolean; by?: http.ClientRequest | undefined };
const current = new AsyncLocalStorage<Pending>();
const PENDING = Symbol('pending journal line');
const WRAPPED = Symbol('journaled socket');

/** The journal a socket's next write belongs to (set per request, consumed by its first write). */
type JournaledSocket = Socket & { [PENDING]?: { pending: Pending; write: (line: string) => void }; [WRAPPED]?: true };

/** Writes and withdraws lines of the journal file. */
type Lines = { write(line: string): void; withdraw(line: string): void };

/**
 * An HTTP(S) agent whose sockets call the journal in the same synchronous step as they write a
 * journaled request's first bytes: Node writes a request to the socket in one `_writeGeneric`
 * call (headers and body, corked), which starts with the write() of the journal line.
 */
const journaledAgent = <A extends typeof http.Agent | typeof https.Agent>(Base: A, lines: Lines, idleSocketMs: number): InstanceType<A> => {
  const write = (line: string) => lines.write(line);
  class Journaled extends (Base as typeof http.Agent) {
    override createConnection(...args: Parameters<http.Agent['createConnection']>): ReturnType<http.Agent['createConnection']> {
      const socket = (super.createConnection as (...a: unknown[]) => Socket)(...args) as JournaledSocket;
      if (!socket[WRAPPED]) {
        socket[WRAPPED] = true;
        const original = (socket as unknown as { _writeGeneric: (...a: unknown[]) => unknown })._writeGeneric;
        (socket as unknown as { _writeGeneric: (...a: unknown[]) => unknown })._writeGeneric = function (this: JournaledSocket, ...a: unknown[]) {
          // while connecting, Node calls this again once connected: journal then, when the bytes really go
          const { connecting, _handle: handle } = this as unknown as { connecting: boolean; _handle: unknown };
          const pending = this[PENDING];
          // no handle: the socket closed under the request, Node fails the write and nothing goes out
          if (pending && !connecting && handle) {
            this[PENDING] = undefined;
            if (!pending.pending.written) {
              pending.write(pending.pending.line);
              pending.pending.written = true;
              pending.pending.by = (this as unknown as { _httpMessage?: http.ClientRequest })._httpMessage;
            }
          }
          return original.apply(this, a);
        };
      }
      return socket as never;
    }
    // Node's agent calls addRequest for every request (undeclared in @types/node)
    addRequest(request: http.ClientRequest, requestOptions: http.RequestOptions & object): void {
      const pending = current.getStore();
      if (pending && !pending.written) {
        request.once('socket', (socket: JournaledSocket) => {
          socket[PENDING] = { pending, write };
          // a request that ends without writing must not leave its line to the socket's next request
          request.once('close', () => {
            if (socket[PENDING]?.pending === pending) socket[PENDING] = undefined;
          });
        });
        request.once('response', (response: http.IncomingMessage) => {
          // an error answer: the platform did not perform it; the part's next request is journaled anew
          if ((response.statusCode ?? 0) >= 400 && pending.written && pending.by === request) {
            lines.withdraw(pending.line);
            pending.written = false;
            pending.by = undefined;
          }
        });
      }
      ((Base as typeof http.Agent).prototype as unknown as { addRequest: (r: http.ClientRequest, o: object) => void }).addRequest.call(this, request, requestOptions);
    }
  }
  // `timeout` closes a free socket after that long unused (a request in progress has its own timeout)
  return new Journaled({ keepAlive: true, timeout: idleSocketMs }) as InstanceType<A>;
};

/** Is the process that wrote this pid still running (and not us)? */
const alive = (pid: number): boolean => {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export type OpenedJournal = SendJournal & {
  /** Names this journal's lineage (its file, this boot): an outbox attempt made under another id is not ours to judge. */
  readonly id: string;
  readonly agents: { readonly http: http.Agent; readonly https: https.Agent };
};

/**
 * Opens the journal at `file` for this process, or answers why it cannot: another live process
 * holds it (`<file>.lock` names its pid). Lines written in an earlier boot are not trusted: the file
 * starts again under a new id, so the attempts of that boot stay "may have gone".
 */
export const openSendJournal = (file: string, options: { idleSocketMs?: number } = {}): OpenedJournal | { unavailable: string } => {
  try {
    return open(file, options.idleSocketMs ?? IDLE_SOCKET_MS);
  } catch (error) {
    // a read-only or missing disk: the worker runs, without the journal
    return { unavailable: `${file}: ${(error as Error).message}` };
  }
};

const open = (file: string, idleSocketMs: number): OpenedJournal | { unavailable: string } => {
  mkdirSync(path.dirname(file), { recursive: true });
  const lock = `${file}.lock`;
  const holder = existsSync(lock) ? Number(readFileSync(lock, 'utf8').trim()) : NaN;
  if (alive(holder)) return { unavailable: `${file} is in use by process ${holder}` };
  writeFileSync(lock, String(process.pid));
  const boot = bootId();
  let id: string | undefined;
  let known = new Set<string>();
  if (existsSync(file)) {
    const [header, ...lines] = readFileSync(file, 'utf8').split('\n');
    const m = /^journal (\S+) boot (\S+)$/.exec(header ?? '');
    if (m && m[2] === boot) {
      id = m[1]!;
      for (const line of lines)
        if (line.startsWith(WITHDRAWN)) known.delete(line.slice(WITHDRAWN.length));
        else if (line.includes('\t')) known.add(line);
    }
  }
  if (id === undefined) {
    id = randomUUID();
    writeFileSync(file, `journal ${id} boot ${boot}\n`);
  }
  const journalId: string = id;
  let fd: number | undefined = openSync(file, 'a');
  const lines: Lines = {
    write(line) {
      known.add(line);
      if (fd !== undefined) writeSync(fd, `${line}\n`);
    },
    withdraw(line) {
      known.delete(line);
      if (fd !== undefined) writeSync(fd, `${WITHDRAWN}${line}\n`);
    },
  };
  return {
    id: journalId,
    agents: { http: journaledAgent(http.Agent, lines, idleSocketMs), https: journaledAgent(https.Agent, lines, idleSocketMs) },
    left: (key, part) => known.has(lineOf(key, part)),
    around: (key, part, send) => current.run({ line: lineOf(key, part), written: false }, send),
    compact(keep) {
      if (fd === undefined) return;
      const kept = [...known].filter((line) => {
        const tab = line.lastIndexOf('\t');
        return keep(line.slice(0, tab), Number(line.slice(tab + 1)));
      });
      const next = `${file}.next`;
      writeFileSync(next, `journal ${journalId} boot ${boot}\n${kept.map((l) => `${l}\n`).join('')}`);
      closeSync(fd);
      renameSync(next, file);
      fd = openSync(file, 'a');
      known = new Set(kept);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      if (existsSync(lock) && readFileSync(lock, 'utf8').trim() === String(process.pid)) rmSync(lock);
    },
  };
};
