/**
 * Client for the dev-broker control port (see infra/dev-broker/README.md).
 *
 * The dev-broker writes `<stateDir>/control` (a TCP port on 127.0.0.1) and
 * `<stateDir>/bootstrap` (the Kafka bootstrap servers). Each command is one
 * line; the reply is one line starting with `ok` or `error <reason>`.
 */
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { resolve } from 'node:path';

export interface BrokerCommandOptions {
  /** State dir of the dev-broker; default `$KAFKA_STATE_DIR` or `var/kafka` (from cwd). */
  stateDir?: string;
  /** Control port; when given, `<stateDir>/control` is not read. */
  port?: number;
  /** Overall timeout for connect + reply, in ms (default 5000). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;

function resolveStateDir(stateDir?: string): string {
  return resolve(process.cwd(), stateDir ?? process.env.KAFKA_STATE_DIR ?? 'var/kafka');
}

async function readStateFile(stateDir: string, name: string): Promise<string> {
  const file = resolve(stateDir, name);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `dev-broker state file ${file} is not readable (is dev-broker running?): ${reason}`,
    );
  }
}

async function readControlPort(stateDir: string): Promise<number> {
  const text = await readStateFile(stateDir, 'control');
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`invalid dev-broker control port '${text}' in ${resolve(stateDir, 'control')}`);
  }
  return port;
}

/**
 * Sends one control command and resolves with the reply text after `ok`
 * (an empty string for a bare `ok`). Rejects with an Error carrying the
 * broker's `error ...` reply, or on connection failure / timeout.
 */
export async function sendBrokerCommand(
  command: string,
  opts: BrokerCommandOptions = {},
): Promise<string> {
  const line = command.trim();
  if (line === '' || /[\r\n]/.test(line)) {
    throw new Error(`invalid dev-broker command: ${JSON.stringify(command)}`);
  }
  const port = opts.port ?? (await readControlPort(resolveStateDir(opts.stateDir)));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  return new Promise<string>((resolvePromise, rejectPromise) => {
    let buffer = '';
    let settled = false;
    const socket = connect({ host: '127.0.0.1', port });

    const finish = (err: Error | null, value = ''): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) rejectPromise(err);
      else resolvePromise(value);
    };

    const timer = setTimeout(() => {
      finish(new Error(`dev-broker command '${line}' timed out after ${timeoutMs} ms`));
    }, timeoutMs);

    socket.setEncoding('utf8');
    socket.on('connect', () => {
      socket.write(`${line}\n`);
    });
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl === -1) return;
      const reply = buffer.slice(0, nl).replace(/\r$/, '');
      if (reply === 'ok') {
        finish(null, '');
      } else if (reply.startsWith('ok ')) {
        finish(null, reply.slice(3));
      } else if (reply.startsWith('error')) {
        finish(new Error(`dev-broker '${line}' failed: ${reply}`));
      } else {
        finish(new Error(`dev-broker '${line}': unexpected reply ${JSON.stringify(reply)}`));
      }
    });
    socket.on('error', (err: Error) => {
      finish(
        new Error(`dev-broker control connection to 127.0.0.1:${port} failed: ${err.message}`),
      );
    });
    socket.on('close', () => {
      finish(new Error(`dev-broker closed the control connection before replying to '${line}'`));
    });
  });
}

function brokerId(id: number): string {
  if (!Number.isInteger(id) || id < 1) throw new Error(`invalid broker id: ${id}`);
  return String(id);
}

/** Takes a mock broker down: it drops connections and refuses new ones. */
export async function brokerDown(id: number, opts?: BrokerCommandOptions): Promise<void> {
  await sendBrokerCommand(`down ${brokerId(id)}`, opts);
}

/** Brings a mock broker back up. */
export async function brokerUp(id: number, opts?: BrokerCommandOptions): Promise<void> {
  await sendBrokerCommand(`up ${brokerId(id)}`, opts);
}

/** Adds `ms` of latency to a broker's responses; 0 clears it. */
export async function setBrokerRtt(
  id: number,
  ms: number,
  opts?: BrokerCommandOptions,
): Promise<void> {
  if (!Number.isInteger(ms) || ms < 0) throw new Error(`invalid rtt: ${ms}`);
  await sendBrokerCommand(`rtt ${brokerId(id)} ${ms}`, opts);
}

/** Reads `<stateDir>/bootstrap` and returns the broker list (host:port strings). */
export async function readBootstrap(stateDir?: string): Promise<string[]> {
  const text = await readStateFile(resolveStateDir(stateDir), 'bootstrap');
  const brokers = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (brokers.length === 0) throw new Error('dev-broker bootstrap file is empty');
  return brokers;
}
