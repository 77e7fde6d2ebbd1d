/** Readiness checks shared by the services; each resolves when its dependency answers. */

interface Pingable {
  ping(): Promise<unknown>;
}
interface RawQuery {
  $queryRawUnsafe(query: string): Promise<unknown>;
}

export const redisCheck = (redis: Pingable) => () => redis.ping();

export const postgresCheck = (prisma: RawQuery) => () => prisma.$queryRawUnsafe('SELECT 1');
