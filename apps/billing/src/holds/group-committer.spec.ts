import { GroupCommitter } from './group-committer';

describe('GroupCommitter', () => {
  it('writes at once when idle (what arrives in the same turn together), and gathers what arrives during a write into the next batch', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommitter<number, number>(async (b) => {
      batches.push(b);
      await new Promise((r) => setTimeout(r, 10));
      return b.map((x) => x * 2);
    });
    const first = [1, 2].map((x) => gc.submit(x));
    await new Promise((r) => setTimeout(r, 1)); // the first write is under way
    expect(batches).toEqual([[1, 2]]);
    const rest = [3, 4, 5].map((x) => gc.submit(x));
    expect(await Promise.all(first)).toEqual([2, 4]);
    expect(await Promise.all(rest)).toEqual([6, 8, 10]);
    expect(batches).toEqual([[1, 2], [3, 4, 5]]);
  });

  it('fails every request of a failed batch and carries on with the next', async () => {
    let calls = 0;
    const gc = new GroupCommitter<number, number>(async (b) => {
      calls++;
      if (calls === 1) throw new Error('rolled back');
      return b;
    });
    const a = [gc.submit(1), gc.submit(2)];
    await Promise.resolve(); // the first batch, [1, 2], is being written
    const b = gc.submit(3);
    await expect(a[0]).rejects.toThrow('rolled back');
    await expect(a[1]).rejects.toThrow('rolled back');
    expect(await b).toBe(3);
  });

  it('caps the batch size', async () => {
    const sizes: number[] = [];
    const gc = new GroupCommitter<number, number>(async (b) => {
      sizes.push(b.length);
      await new Promise((r) => setTimeout(r, 5));
      return b;
    }, 3);
    await Promise.all(Array.from({ length: 8 }, (_, i) => gc.submit(i)));
    expect(sizes).toEqual([3, 3, 2]);
  });
});
