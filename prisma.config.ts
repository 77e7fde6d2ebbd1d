import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { CliPgAdapterFactory } from './prisma/cli-adapter';

// Without a DATABASE_URL the CLI falls back to the native engine and tries to download it.
process.env.DATABASE_URL ??= 'postgresql://postgres@127.0.0.1:5432/gateway';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  async adapter() {
    return new CliPgAdapterFactory(process.env.DATABASE_URL as string);
  },
});
