import { GroupCommitter } from './group-committer';

describe('GroupCommitter', () => {
  it('writes at once when idle, and gathers what arrives during a write into the next batch', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommitter<number, number>(async (b) => {
      batches.push(b);
      await new Promise((r) => setTimeout(r, 10));
      return b.map((x) => x * 2);
    });
    const first = gc.submit(1);
    const rest = [2, 3, 4].map((x) => gc.submit(x));
    expect(await first).toBe(2);
    expect(await Promise.all(rest)).toEqual([4, 6, 8]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('fails every request of a failed batch and carries on with the next', async () => {
    let calls = 0;
    const gc = new GroupCommitter<number, number>(async (b) => {
      calls++;
      if (calls === 1) throw new Error('rolled back');
      return b;
    });
    const a = gc.submit(1);
    const b = gc.submit(2);
    await expect(a).rejects.toThrow('rolled back');
    expect(await b).toBe(2);
  });

  it('caps the batch size', async () => {
    const sizes: number[] = [];
    const gc = new GroupCommitter<number, number>(async (b) => {
      sizes.push(b.length);
      await new Promise((r) => setTimeout(r, 5));
      return b;
    }, 3);
    await Promise.all(Array.from({ length: 8 }, (_, i) => gc.submit(i)));
    expect(sizes).toEqual([1, 3, 3, 1]);
  });
});
