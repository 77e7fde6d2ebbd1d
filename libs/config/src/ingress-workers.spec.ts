import { availableParallelism } from 'node:os';
import { ingressConfigSchema } from './index';

describe('INGRESS_WORKERS', () => {
  const parse = (v?: string) => ingressConfigSchema.safeParse({ ADMIN_TOKEN: 'a-long-enough-admin-token', ...(v === undefined ? {} : { INGRESS_WORKERS: v }) });

  it('is one process unless set, a count when set, and one a core for auto', () => {
    expect(parse().data?.INGRESS_WORKERS).toBe(1);
    expect(parse('3').data?.INGRESS_WORKERS).toBe(3);
    expect(parse('auto').data?.INGRESS_WORKERS).toBe(availableParallelism());
  });

  it('refuses what is not a count of at least one', () => {
    for (const bad of ['0', '-2', '1.5', 'many', '65']) expect(parse(bad).success).toBe(false);
  });
});
