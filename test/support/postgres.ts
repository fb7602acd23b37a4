import pg from 'pg';

/** The PostgreSQL every machine of this kind runs; override with TEST_DATABASE_URL. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const uniqueSchema = (prefix: string): string =>
  `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`.toLowerCase();

export const dropSchema = async (schema: string, url = TEST_DATABASE_URL): Promise<void> => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
};

/** The same database with `schema` first on the search path: unqualified tables a test creates land in its own schema. */
export const withSearchPath = (schema: string, url = TEST_DATABASE_URL): string =>
  `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
