// The Prisma CLI's driver adapter for machines that cannot download Prisma's native schema engine.
// It wraps @prisma/adapter-pg 6.19.x and works around four of its bugs (see shared notes):
//  1. catalog columns of type `name` (19) and `"char"` (18) cannot be deserialized: report them as text;
//  2. executeScript splits on ';' (breaks $$ bodies): send the whole script in one simple query;
//  3. the shadow database was the main one (connectionString overrides database), and its cleanup dropped
//     the database before closing its pool: build pools from discrete fields and close first;
//  4. a missing target database is only reported: create it, as the native engine does.
import { PrismaPg } from '@prisma/adapter-pg';
import { randomUUID } from 'node:crypto';
import pg from 'pg';

type Adapter = Awaited<ReturnType<PrismaPg['connect']>>;
interface PgFields { host: string; port: number; user: string; password?: string; database: string }

const TEXT_OID = 25;
const NAME_OID = 19;
const CHAR_OID = 18;

export function fieldsFromUrl(url: string): PgFields {
  const u = new URL(url);
  return {
    host: decodeURIComponent(u.hostname) || '127.0.0.1',
    port: u.port ? Number(u.port) : 5432,
    user: decodeURIComponent(u.username) || 'postgres',
    password: u.password ? decodeURIComponent(u.password) : undefined,
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres',
  };
}

async function withMaintenance<T>(fields: PgFields, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...fields, database: 'postgres' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function ensureDatabase(fields: PgFields): Promise<void> {
  await withMaintenance(fields, async (c) => {
    const found = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [fields.database]);
    if (found.rowCount === 0) {
      await c.query(`CREATE DATABASE "${fields.database.replace(/"/g, '""')}"`);
    }
  });
}

type IOResult = { fields: Array<{ dataTypeID: number }> };
type Patchable = {
  performIO: (q: object) => Promise<IOResult>;
  queryRaw: (q: object) => Promise<{ columnTypes: number[] }>;
};
// ColumnTypeEnum.Character of @prisma/driver-adapter-utils: the engine reads "char" columns as one character
const CHARACTER_COLUMN = 6;

function patchIO(target: object): void {
  const t = target as unknown as Patchable;
  const performIO = t.performIO.bind(target);
  const queryRaw = t.queryRaw.bind(target);
  const charColumns = new WeakMap<object, number[]>();
  t.performIO = async (q) => {
    const result = await performIO(q);
    const chars: number[] = [];
    result.fields.forEach((f, i) => {
      if (f.dataTypeID === NAME_OID) f.dataTypeID = TEXT_OID;
      else if (f.dataTypeID === CHAR_OID) {
        f.dataTypeID = TEXT_OID;
        chars.push(i);
      }
    });
    if (chars.length > 0) charColumns.set(q, chars);
    return result;
  };
  t.queryRaw = async (q) => {
    const result = await queryRaw(q);
    for (const i of charColumns.get(q) ?? []) result.columnTypes[i] = CHARACTER_COLUMN;
    return result;
  };
}

function patchAdapter(adapter: Adapter, onDispose?: () => Promise<void>): Adapter {
  patchIO(adapter);
  const pool = adapter.underlyingDriver();
  const startTransaction = adapter.startTransaction.bind(adapter);
  adapter.startTransaction = async (isolation) => {
    const tx = await startTransaction(isolation);
    patchIO(tx);
    return tx;
  };
  adapter.executeScript = async (script: string) => {
    await pool.query(script);
  };
  // The engine applies migrations to the shadow database through executeRaw with no arguments:
  // a multi-statement script that only the simple query protocol accepts.
  const executeRaw = adapter.executeRaw.bind(adapter);
  adapter.executeRaw = async (query) => {
    if (query.args.length > 0) return executeRaw(query);
    const result = await pool.query(query.sql);
    const last = Array.isArray(result) ? result[result.length - 1] : result;
    return last?.rowCount ?? 0;
  };
  if (onDispose) {
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      await dispose();
      await onDispose();
    };
  }
  return adapter;
}

export class CliPgAdapterFactory {
  readonly provider = 'postgres' as const;
  readonly adapterName = '@prisma/adapter-pg';
  private readonly fields: PgFields;

  constructor(url: string) {
    this.fields = fieldsFromUrl(url);
  }

  async connect(): Promise<Adapter> {
    await ensureDatabase(this.fields);
    return patchAdapter(await new PrismaPg({ ...this.fields }).connect());
  }

  async connectToShadowDb(): Promise<Adapter> {
    const shadowUrl = process.env.SHADOW_DATABASE_URL;
    if (shadowUrl) {
      const fields = fieldsFromUrl(shadowUrl);
      await ensureDatabase(fields);
      const adapter = patchAdapter(await new PrismaPg({ ...fields }).connect());
      await adapter.underlyingDriver().query('DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;');
      return adapter;
    }
    const database = `prisma_shadow_${randomUUID().replace(/-/g, '')}`;
    await withMaintenance(this.fields, (c) => c.query(`CREATE DATABASE "${database}"`));
    const shadow = { ...this.fields, database };
    // dispose() closes the pool first; only then can the database be dropped
    return patchAdapter(await new PrismaPg(shadow).connect(), () =>
      withMaintenance(this.fields, (c) => c.query(`DROP DATABASE IF EXISTS "${database}"`)).then(() => undefined),
    );
  }
}
