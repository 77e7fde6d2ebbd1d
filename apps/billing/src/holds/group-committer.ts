/**
 * Group commit: requests that arrive while a batch is being written wait and go together in the next
 * one; requests that arrive when nothing is in flight are written at once, those of the same turn of the
 * event loop together (the places of one message, say). So an idle service adds no delay (no fixed
 * batching window), and a busy one writes many holds per transaction.
 */
export class GroupCommitter<Req, Res> {
  private queue: Array<{ req: Req; resolve: (r: Res) => void; reject: (e: unknown) => void }> = [];
  private flushing = false;

  constructor(
    private readonly write: (batch: Req[]) => Promise<Res[]>,
    private readonly maxBatch = 500,
  ) {}

  submit(req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // after the current turn's other submits, not before them
        queueMicrotask(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const results = await this.write(batch.map((b) => b.req));
        batch.forEach((b, i) => b.resolve(results[i]));
      } catch (err) {
        // the batch is one transaction: it rolled back whole, so each caller learns it failed
        for (const b of batch) b.reject(err);
      }
    }
    this.flushing = false;
  }
}
