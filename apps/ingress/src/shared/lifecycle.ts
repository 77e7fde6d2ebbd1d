import { Injectable } from '@nestjs/common';
import type { ServerResponse } from 'node:http';

/**
 * The ingress process's phase. `draining` is set on SIGTERM (graceful shutdown): from then on readiness
 * answers 503 and new calls are refused, so load balancers move on while the running ones finish.
 * `track` counts a response in flight until it closes; `whenIdle` is what a drain waits for.
 */
@Injectable()
export class Lifecycle {
  draining = false;
  inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  track(res: ServerResponse): void {
    this.inFlight++;
    res.once('close', () => {
      this.inFlight--;
      if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    });
  }

  /** Resolves true once nothing is in flight, or false when timeoutMs passes first. */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== wake);
        resolve(false);
      }, Math.max(0, timeoutMs));
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(wake);
    });
  }
}
