// Integration and e2e tests use their own database and Redis key prefix, never the ones `npm start` uses.
process.env.DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/gateway_test';
process.env.REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Credit leases (HOLD_LEASE) give back what calls did not draw when their draw window ends: in tests the
// window is short, so that an account's held_micros is 0 soon after its last call, as tests wait for.
process.env.LEASE_DRAW_MS ??= '300';
