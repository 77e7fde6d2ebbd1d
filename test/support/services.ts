import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

export interface Service {
  name: string;
  child: ChildProcess;
  output: string[];
}

/**
 * Starts one service from dist/ and resolves when it printed `ready` (a line it prints once listening). Its
 * ops server (metrics, health) is off unless `env` gives it an OPS_PORT: services started one by one by
 * several tests would otherwise all claim the same default port.
 */
export function spawnService(name: string, env: Record<string, string>, ready: RegExp): Promise<Service> {
  const child = spawn(process.execPath, [path.join(ROOT, `dist/apps/${name}/src/main.js`)], { cwd: ROOT, env: { ...process.env, OPS_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready:\n${output.join('\n')}`)), 30_000);
    const onData = (d: Buffer) => {
      for (const line of d.toString().split('\n')) {
        if (!line) continue;
        output.push(line);
        if (ready.test(line)) {
          clearTimeout(timer);
          resolve({ name, child, output });
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}):\n${output.join('\n')}`));
    });
  });
}

export function kill9(s: Service): Promise<void> {
  return new Promise((resolve) => {
    if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
    s.child.once('exit', () => resolve());
    s.child.kill('SIGKILL');
  });
}

export function stop(s: Service | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!s || s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
    const t = setTimeout(() => s.child.kill('SIGKILL'), 5000);
    s.child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    s.child.kill('SIGTERM');
  });
}

/** The rest of a response body's text, read to its end. */
export async function readToEnd(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text + decoder.decode();
    text += decoder.decode(value, { stream: true });
  }
}
