import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

// The machine's own Postgres cluster, for fault tests that stop or restart it. Whatever a test does,
// ensurePostgres() (called from a finally or afterAll: the trap) leaves it running.

const PG_VERSION = readdirSync('/etc/postgresql')[0];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function pgCtl(action: 'start' | 'stop' | 'restart'): void {
  const args = ['--skip-systemctl-redirect', PG_VERSION, 'main', action];
  if (action === 'stop') args.push('-m', 'fast');
  execFileSync('pg_ctlcluster', args, { stdio: 'pipe', timeout: 60_000 });
}

export function pgReady(): boolean {
  try {
    execFileSync('pg_isready', ['-h', '127.0.0.1', '-p', '5432', '-q'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** The trap: whatever happened, the machine's Postgres is running when the test ends. */
export async function ensurePostgres(): Promise<void> {
  if (pgReady()) return;
  try {
    pgCtl('start');
  } catch {
    // already starting; wait below
  }
  for (let i = 0; i < 60 && !pgReady(); i++) await sleep(500);
}
