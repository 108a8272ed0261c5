// A real rsyslog receiving syslog over TLS, for the SIEM forwarding tests (excluded from the build).
// rsyslogd comes from Debian's packages through tools/infra/ensure-rsyslog.js (fetched into
// .autoheal/bin/ when missing); it runs in the foreground with its own configuration, pid file and
// work folder, listens with imtcp and the OpenSSL driver on a port the OS picked, and writes each
// message it receives, as received, as one line of a file.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { expectEventually } from '@autoheal/testing';

interface RsyslogLayout {
  rsyslogd: string;
  moduleDir: string;
  env: Record<string, string>;
}

/** The project's own script finds rsyslog or fetches it (run as a program: tools/ is not a module apps import). */
function ensureRsyslog(): RsyslogLayout {
  const script = join(__dirname, '..', '..', '..', '..', 'tools', 'infra', 'ensure-rsyslog.js');
  const out = execFileSync(process.execPath, [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
  return JSON.parse(out.trim().split('\n').pop() ?? '') as RsyslogLayout;
}

export interface ReceiverTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface RsyslogReceiver {
  /** The port it listens on (kept across restarts). */
  readonly port: number;
  /** Every message received so far, one per line as rsyslog wrote it (`%rawmsg%`: the message without its octet count). */
  received(): string[];
  /** What rsyslogd printed (for failure reports). */
  output(): string;
  /** Stops it: SIGTERM (an orderly shutdown) or SIGKILL (a crash). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port, with the same output file. */
  restart(): Promise<void>;
}

/**
 * `main_queue` Direct: each message is written to the file by the thread that read it, before the
 * next read, so what the receiver has read is in the file even when it is killed afterwards (a
 * production receiver gets the same from a disk-assisted queue).
 */
function config(dir: string, port: number, tls: ReceiverTls, moduleDir: string): string {
  return `
global(
  workDirectory="${dir}"
  maxMessageSize="256k"
  defaultNetstreamDriver="ossl"
  defaultNetstreamDriverCAFile="${tls.caFile}"
  defaultNetstreamDriverCertFile="${tls.certFile}"
  defaultNetstreamDriverKeyFile="${tls.keyFile}"
)
main_queue(queue.type="Direct")
module(load="${moduleDir}/imtcp.so" streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="${port}" listenPortFileName="${join(dir, 'port')}")
template(name="raw" type="string" string="%rawmsg%\\n")
action(type="omfile" file="${join(dir, 'received.log')}" template="raw" flushOnTXEnd="on" asyncWriting="off")
`;
}

export async function startRsyslog(dir: string, tls: ReceiverTls): Promise<RsyslogReceiver> {
  const layout = ensureRsyslog();
  mkdirSync(dir, { recursive: true });
  const outFile = join(dir, 'received.log');
  const portFile = join(dir, 'port');
  let child: ChildProcess | null = null;
  let output = '';
  let port = 0;

  const launch = async (): Promise<void> => {
    writeFileSync(join(dir, 'port'), '');
    writeFileSync(join(dir, 'rsyslog.conf'), config(dir, port, tls, layout.moduleDir));
    const proc = spawn(layout.rsyslogd, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid'), '-M', layout.moduleDir], {
      env: { ...process.env, ...layout.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    // The first start takes a port the OS picks and says which in the port file (rsyslog writes it
    // for port 0 only); a restart listens on the same port, probed until it accepts.
    port = await expectEventually(
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`rsyslogd exited (${proc.exitCode ?? proc.signalCode}): ${output}`);
        const text = port !== 0 ? String(port) : existsSync(portFile) ? readFileSync(portFile, 'utf8').trim() : '';
        if (!/^\d+$/.test(text) || text === '0') throw new Error(`rsyslogd is not listening yet: ${output}`);
        if (port !== 0) await accepts(port);
        return Number(text);
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
  };

  await launch();
  return {
    get port() {
      return port;
    },
    received: () => (existsSync(outFile) ? readFileSync(outFile, 'utf8').split('\n').filter((l) => l !== '') : []),
    output: () => output,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      const proc = child;
      child = null;
      if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill(signal);
      await exited;
    },
    restart: launch,
  };
}

function accepts(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}
