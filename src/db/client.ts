/**
 * One small client over PostgreSQL (`pg` pool) and embedded PGlite.
 *
 * Everything that touches the database goes through `Db`: raw parameterised
 * SQL, `withTransaction`, and one translation of database errors
 * (translateDbError). Dates (`date`) come back as `YYYY-MM-DD` strings on both
 * backends, never as JS Dates shifted by a time zone; `int8` comes back as a
 * number (counts and ids stay far below 2^53).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { messages, protocol, types, type PGlite } from '@electric-sql/pglite';
import { AppError } from '../domain/errors.ts';

export type Row = Record<string, unknown>;

export interface QueryResult<R extends Row = Row> {
  rows: R[];
  rowCount: number;
}

/** Anything that runs SQL: the client itself or an open transaction. */
export interface Queryable {
  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `fn` in one transaction; retried on serialization failure and deadlock. */
  withTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` on one connection outside any transaction: each statement
   * commits on its own (statements that refuse a transaction block, such as
   * CREATE INDEX CONCURRENTLY; session advisory locks).
   */
  withSession<T>(fn: (session: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const DATE_OID = 1082;
const INT8_OID = 20;
const parseDate = (v: string): string => v;
const parseInt8 = (v: string): number => Number(v);

const names = new Map<string, string>();
/** A stable name per SQL text (pg prepares a named statement once per connection). */
function statementName(sql: string): string {
  let name = names.get(sql);
  if (name === undefined) {
    name = 's' + createHash('sha1').update(sql).digest('base64url').slice(0, 20);
    if (names.size < 10_000) names.set(sql, name);
  }
  return name;
}

/** Retry transactions that lost a race the database detected (40001, 40P01). */
const RETRYABLE = new Set(['40001', '40P01']);
const MAX_TX_ATTEMPTS = 5;

async function retrying<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (e) {
      const code = pgCode(e);
      if (code && RETRYABLE.has(code) && attempt < MAX_TX_ATTEMPTS) {
        await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 10));
        continue;
      }
      throw translateDbError(e);
    }
  }
}

export interface PostgresOptions {
  connectionString: string;
  max?: number;
  /** Every statement is bounded: a runaway query answers 503, it does not hang a request. */
  statementTimeoutMs?: number;
  /** Schema to use (tests get a fresh one per file). */
  schema?: string;
  applicationName?: string;
  /** How long to wait for a new connection before answering 503. */
  connectTimeoutMs?: number;
}

/** A pool of connections to a PostgreSQL server. */
export function postgresDb(opts: PostgresOptions): Db {
  const types = {
    getTypeParser(oid: number, format?: string): (v: string) => unknown {
      if (oid === DATE_OID) return parseDate;
      if (oid === INT8_OID) return parseInt8;
      return (pg.types.getTypeParser as (oid: number, format?: string) => (v: string) => unknown)(oid, format);
    },
  };
  const searchPath = opts.schema ? ` -c search_path=${opts.schema},public` : '';
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.max ?? 16,
    application_name: opts.applicationName ?? 'dosis',
    // jit=off: Dosis's statements are short index probes and small batches. Without
    // table statistics (a fresh or freshly grown table) the planner's row estimates
    // crossed the JIT thresholds and an import batch spent 1.1 s compiling for 0.23 s
    // of work (issue 20); JIT never pays off for these statements.
    options: `-c statement_timeout=${opts.statementTimeoutMs ?? 30_000} -c jit=off${searchPath}`,
    // A server that accepts connections but never answers (a network partition) must not hang requests: 503 after 5 s.
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    types,
  });
  // An idle client that loses its connection emits 'error' on the pool; without
  // a listener that would crash the process. The next query gets a fresh client.
  pool.on('error', () => {});

  // Statements with parameters run as named prepared statements: each
  // connection parses and plans a statement once instead of on every call
  // (measured: parse + plan were half of PostgreSQL's CPU per recorded dose).
  const run = async <R extends Row>(q: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[]) => {
    const r =
      params && params.length > 0
        ? await q.query<R>({ name: statementName(sql), text: sql, values: params as unknown[] })
        : await q.query<R>(sql);
    return { rows: r.rows, rowCount: r.rowCount ?? 0 };
  };

  return {
    kind: 'postgres',
    async query<R extends Row>(sql: string, params?: readonly unknown[]) {
      try {
        return await run<R>(pool, sql, params);
      } catch (e) {
        throw translateDbError(e);
      }
    },
    async exec(sql: string) {
      try {
        await pool.query(sql);
      } catch (e) {
        throw translateDbError(e);
      }
    },
    withTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return retrying(() =>
        checkedOut(pool, async (client, lost) => {
          await client.query('BEGIN');
          const tx: Queryable = {
            query: (sql, params) => run(client, sql, params),
            exec: async (sql) => {
              await client.query(sql);
            },
          };
          try {
            const result = await fn(tx);
            await client.query('COMMIT');
            return result;
          } catch (e) {
            try {
              await client.query('ROLLBACK');
            } catch {
              lost(); // the connection is gone; do not return it to the pool
            }
            throw e;
          }
        }),
      );
    },
    withSession<T>(fn: (session: Queryable) => Promise<T>): Promise<T> {
      return checkedOut(pool, (client) =>
        fn({
          query: async (sql, params) => {
            try {
              return await run(client, sql, params);
            } catch (e) {
              throw translateDbError(e);
            }
          },
          exec: async (sql) => {
            try {
              await client.query(sql);
            } catch (e) {
              throw translateDbError(e);
            }
          },
        }),
      );
    },
    async close() {
      await pool.end();
    },
  };
}

/**
 * A client checked out of the pool for `fn`, then given back, or thrown away
 * when its connection broke (`lost`). A checked-out client has no pool
 * listener: a server that ends the connection (a restart: 57P01) between two
 * statements emits 'error' on the client itself, which unhandled ends the
 * process (issue 20); the next statement fails instead.
 */
async function checkedOut<T>(pool: pg.Pool, fn: (client: pg.PoolClient, lost: () => void) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  const lost = (): void => {
    broken = true;
  };
  client.on('error', lost);
  try {
    return await fn(client, lost);
  } finally {
    client.off('error', lost);
    client.release(broken);
  }
}

/**
 * PGlite is one connection in this process: its `transaction` is exclusive, so
 * transactions run one after another. Plain queries wait for a running
 * transaction too (PGlite queues them), which keeps statements from
 * interleaving with an open transaction.
 */
export function pgliteDb(lite: PGlite, opts: { schema?: string } = {}): Db {
  const schemaReady = opts.schema
    ? lite.exec(`SET search_path TO ${opts.schema}, public`)
    : Promise.resolve([]);
  const db: Db = {
    kind: 'pglite',
    async query<R extends Row>(sql: string, params?: readonly unknown[]) {
      await schemaReady;
      try {
        if (!preparable(lite, sql, params)) return liteResult(await lite.query<R>(sql, params as unknown[] | undefined));
        return await lite._runExclusiveTransaction(() => liteQuery<R>(lite, sql, params, true));
      } catch (e) {
        throw translateDbError(e);
      }
    },
    async exec(sql: string) {
      await schemaReady;
      try {
        await lite.exec(sql);
      } catch (e) {
        throw translateDbError(e);
      }
    },
    async withTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      await schemaReady;
      return retrying(() =>
        lite.transaction(async (t) => {
          const tx: Queryable = {
            async query<R extends Row>(sql: string, params?: readonly unknown[]) {
              if (!preparable(lite, sql, params)) return liteResult(await t.query<R>(sql, params as unknown[] | undefined));
              return liteQuery<R>(lite, sql, params, false);
            },
            async exec(sql: string) {
              await t.exec(sql);
            },
          };
          return fn(tx);
        }),
      );
    },
    async withSession<T>(fn: (session: Queryable) => Promise<T>): Promise<T> {
      // PGlite is one connection already: its statements outside a transaction are the session's.
      return fn(db);
    },
    async close() {
      await lite.close();
    },
  };
  return db;
}

const { serialize } = protocol;
type BackendMessage = Awaited<ReturnType<PGlite['execProtocol']>>['messages'][number];

/** A statement prepared by name in one PGlite, with what its Describe told. */
interface LiteStatement {
  name: string;
  paramTypes: number[];
  fields: { name: string; typeId: number }[];
}

const liteStatements = new WeakMap<PGlite, Map<string, LiteStatement>>();
/** Statements kept prepared per PGlite; SQL beyond that runs unnamed (parsed and planned each time). */
const MAX_LITE_STATEMENTS = 2_000;

/**
 * Runs a statement on PGlite as pg does on PostgreSQL: prepared by name once,
 * then each call is one Bind/Execute/Sync exchange. PGlite's own `query`
 * parses and plans the SQL again on every call, in five exchanges with the
 * WASM backend; for the statement that records a dose that was most of its
 * time. Takes PGlite's query lock, as its `query` does; `outsideTx` also
 * syncs the file system afterwards, as PGlite does after a statement that is
 * not inside a transaction.
 */
function statementsOf(lite: PGlite): Map<string, LiteStatement> {
  let cache = liteStatements.get(lite);
  if (!cache) liteStatements.set(lite, (cache = new Map<string, LiteStatement>()));
  return cache;
}

/** Statements with parameters are prepared (those without are mostly one-off: migrations, set-up), up to MAX_LITE_STATEMENTS. */
function preparable(lite: PGlite, sql: string, params: readonly unknown[] | undefined): params is readonly unknown[] {
  const cache = statementsOf(lite);
  return cache.has(sql) || (params !== undefined && params.length > 0 && cache.size < MAX_LITE_STATEMENTS);
}

async function liteQuery<R extends Row>(lite: PGlite, sql: string, params: readonly unknown[], outsideTx: boolean): Promise<QueryResult<R>> {
  const cache = statementsOf(lite);
  const result = await lite.runExclusive(async () => {
    let st = cache.get(sql);
    if (!st) {
      const name = statementName(sql);
      const described = await exchange(lite, [
        serialize.parse({ name, text: sql }),
        serialize.describe({ type: 'S', name }),
        serialize.sync(),
      ]);
      st = { name, paramTypes: [], fields: [] };
      for (const m of described) {
        if (m instanceof messages.ParameterDescriptionMessage) st.paramTypes = m.dataTypeIDs;
        if (m instanceof messages.RowDescriptionMessage) st.fields = m.fields.map((f) => ({ name: f.name, typeId: f.dataTypeID }));
      }
      cache.set(sql, st);
    }
    const paramTypes = st.paramTypes;
    const values = params.map((v, i) => serializeLite(lite, v, paramTypes[i] ?? 0));
    const reply = await exchange(lite, [
      serialize.bind({ statement: st.name, values }),
      serialize.execute(),
      serialize.sync(),
    ]);
    return rowsOf<R>(lite, st, reply);
  });
  if (outsideTx) await lite.syncToFs();
  return result;
}

/** One exchange with PGlite's backend; an error reply is thrown (the Sync sent with it has ended the failed statement). */
async function exchange(lite: PGlite, parts: Uint8Array[]): Promise<BackendMessage[]> {
  const { messages: reply } = await lite.execProtocol(Buffer.concat(parts), { syncToFs: false, throwOnError: false });
  const error = reply.find((m) => m instanceof messages.DatabaseError);
  if (error) throw error;
  return reply;
}

function serializeLite(lite: PGlite, value: unknown, typeId: number): string | Uint8Array | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) return value; // sent as binary: the bytes of a bytea
  const serializer = lite.serializers[typeId];
  if (serializer) return serializer(value);
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      return JSON.stringify(value);
  }
}

function rowsOf<R extends Row>(lite: PGlite, st: LiteStatement, reply: BackendMessage[]): QueryResult<R> {
  const rows: R[] = [];
  let affected = 0;
  for (const m of reply) {
    if (m instanceof messages.DataRowMessage) {
      const row: Row = {};
      for (const [i, f] of st.fields.entries()) {
        const v = m.fields[i] ?? null;
        row[f.name] = v === null ? null : types.parseType(v, f.typeId, lite.parsers);
      }
      rows.push(row as R);
    } else if (m instanceof messages.CommandCompleteMessage) {
      const n = Number(m.text.slice(m.text.lastIndexOf(' ') + 1));
      if (Number.isFinite(n)) affected += n;
    }
  }
  return { rows, rowCount: st.fields.length > 0 ? rows.length : affected };
}

/** PGlite reports affectedRows 0 for a SELECT: count rows when the statement returns any. */
function liteResult<R extends Row>(r: { rows: R[]; fields: unknown[]; affectedRows?: number }): QueryResult<R> {
  return { rows: r.rows, rowCount: r.fields.length > 0 ? r.rows.length : (r.affectedRows ?? 0) };
}

/** The parsers PGlite must be created with so both backends return the same shapes. */
export const pgliteParsers = { [DATE_OID]: parseDate, [INT8_OID]: parseInt8 };

function pgCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
  return undefined;
}

/** True for a statement that lost a race the database detected (serialization failure, deadlock): run it again. */
export function isRetryable(e: unknown): boolean {
  const code = pgCode(e);
  return code !== undefined && RETRYABLE.has(code);
}

/**
 * The one place database errors become Dosis errors. Callers that expect a
 * particular constraint (a duplicate NIK, a replayed idempotency key) check
 * `constraintOf` first; anything else unique is a generic 409.
 */
export function translateDbError(e: unknown): unknown {
  if (e instanceof AppError) return e;
  switch (pgCode(e)) {
    case '23505':
      return new AppError(
        'conflict',
        'already_exists',
        { en: 'This record already exists.', id: 'Data ini sudah ada.' },
        { cause: e, detail: { constraint: constraintOf(e) } },
      );
    case '57014': // statement timeout
    case '53300': // too many connections
      return busy(e);
    default:
      break;
  }
  if (isConnectionLost(e))
    return new AppError(
      'unavailable',
      'database_unavailable',
      { en: 'The database cannot be reached; try again shortly.', id: 'Basis data tidak dapat dihubungi; coba lagi sebentar lagi.' },
      { cause: e, retryAfter: 10 },
    );
  // Class 22 (data exception: a value the column cannot hold, text it cannot encode) comes from
  // what the caller sent; the text check at the edge (domain/text.ts) catches most of it first.
  const code = pgCode(e);
  if (code?.startsWith('22'))
    return new AppError('invalid', 'value_not_storable', { en: 'A value in the request cannot be stored as given.', id: 'Ada nilai dalam permintaan yang tidak dapat disimpan.' }, { cause: e });
  return e;
}

/** Node's errors for a server that cannot be reached, or a connection that broke. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * True when the database is not there (down, restarting, unreachable) or
 * ended the connection, as opposed to refusing a statement: the answer is
 * then a 503 with Retry-After, never a 500, and work stopped by it (an
 * import) runs again once it is back: nothing about the work was wrong.
 * SQLSTATE class 08 (connection exception), 57P01–57P03 (shut down by an
 * administrator, e.g. a restart; crash shutdown; cannot connect now), Node's
 * network errors, and pg's own messages for a connection that ended or
 * timed out. An AppError is judged by its cause.
 */
export function isConnectionLost(e: unknown): boolean {
  const cause = e instanceof AppError ? e.cause : e;
  const code = pgCode(cause);
  if (code && (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || NETWORK_CODES.has(code))) return true;
  const message = cause instanceof Error ? cause.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection refused|not queryable/i.test(message);
}

/** 503: the database is busy or restarting; the client tries again shortly. */
function busy(e: unknown): AppError {
  return new AppError(
    'unavailable',
    'database_busy',
    { en: 'The database is busy; try again shortly.', id: 'Basis data sedang sibuk; coba lagi sebentar lagi.' },
    { cause: e, retryAfter: 5 },
  );
}

/** The name of the constraint a database error is about, when it has one. */
export function constraintOf(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'constraint' in e && typeof e.constraint === 'string') return e.constraint;
  if (e instanceof AppError && typeof e.detail?.constraint === 'string') return e.detail.constraint;
  return undefined;
}

/** True for the client itself (each statement commits on its own), false for an open transaction. */
/**
 * Runs `fn` in a transaction whose statements the planner may only answer
 * with index probes and nested loops: for a statement that joins a batch (a
 * few hundred rows passed as arrays) to tables of millions. Without
 * statistics (a table the worker grew, never analyzed: the machine may run
 * without autovacuum) the planner guessed such a join as a hash join over a
 * sequential scan of the big table: the worker's notifications insert read
 * every notification for each batch of 100 (300 ms at 200,000 rows, growing
 * with the day; issue 20). The settings end with the transaction.
 */
export async function withIndexProbes<T>(db: Db, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  return db.withTransaction(async (tx) => {
    await tx.query(INDEX_PROBES_ONLY);
    return fn(tx);
  });
}

const INDEX_PROBES_ONLY = `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true),
                                  set_config('enable_mergejoin', 'off', true), set_config('jit', 'off', true)`;

/**
 * Every advisory lock of Dosis that is keyed (key, hashtext(current_schema())): one list, so two
 * kinds of work never share a key by accident (the first administrator token once took the
 * rollup's 720302 and a server start could wait behind a rollup counting all of history).
 * Arbitrary, fixed values: changing one lets an old and a new process hold "the same" lock at once.
 */
export const SCHEMA_LOCKS = {
  /** db/migrate.ts: one migration run at a time. */
  migrations: 720_301,
  /** records/pipeline-rollup.ts: one rollup at a time (tried, never waited for). */
  pipelineRollup: 720_302,
  /** certificates/issuer.ts: signing keys made, rotated or upgraded one at a time. */
  signingKeys: 720_303,
  /** access/tokens.ts: the first administrator token made once. */
  adminToken: 720_304,
  /** certificates/shc-issuer.ts: the SMART Health Card key made or rotated one at a time. */
  shcKey: 720_310,
} as const;
type SchemaLock = (typeof SCHEMA_LOCKS)[keyof typeof SCHEMA_LOCKS];

/**
 * Takes the transaction's advisory lock `key` of the current schema: one holder at a time per
 * schema of a database, released at commit or rollback. Keyed by schema because the tests run a
 * schema each in one database: a key for the whole database made their files wait on each other.
 */
export async function lockSchemaKey(tx: Queryable, key: SchemaLock): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))', [key]);
}

/** lockSchemaKey without waiting: whether this transaction got the lock (false: another holds it). */
export async function tryLockSchemaKey(tx: Queryable, key: SchemaLock): Promise<boolean> {
  const r = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema())) AS ok', [key]);
  return r.rows[0]?.ok === true;
}

export function isClient(q: Queryable): q is Db {
  return 'withTransaction' in q;
}

/**
 * Group execution: at most `limit` runs in flight; inputs that come
 * meanwhile wait and then go together in one run. A run answers each of its
 * inputs (`run` returns one result per input, in order, or throws for all).
 * `accepts(batch, next)` may keep an input out of a batch (it waits for the
 * next one). Under load this trades a little latency for far fewer
 * statements — each with its set-up, round trip and commit; when idle an
 * input runs at once, alone.
 *
 * A run still going after `stallMs` (waiting for a row another transaction
 * holds, say a bulk import's batch) stops counting against the limit, so it
 * holds up only its own inputs, never those that come after it.
 */
export class Coalescer<I, O> {
  private waiting: { input: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private running = 0;
  private readonly limit: number;
  private readonly stallMs: number;
  private readonly run: (inputs: I[]) => Promise<O[]>;
  private readonly accepts: (batch: readonly I[], next: I) => boolean;

  constructor(
    opts: { limit: number; stallMs: number },
    run: (inputs: I[]) => Promise<O[]>,
    accepts: (batch: readonly I[], next: I) => boolean = () => true,
  ) {
    this.limit = opts.limit;
    this.stallMs = opts.stallMs;
    this.run = run;
    this.accepts = accepts;
  }

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ input, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.limit && this.waiting.length > 0) {
      const batch: typeof this.waiting = [];
      const later: typeof this.waiting = [];
      const inputs: I[] = [];
      for (const w of this.waiting) {
        if (batch.length > 0 && !this.accepts(inputs, w.input)) later.push(w);
        else {
          batch.push(w);
          inputs.push(w.input);
        }
      }
      this.waiting = later;
      this.running++;
      let counted = true;
      const release = () => {
        if (!counted) return;
        counted = false;
        this.running--;
        this.pump();
      };
      const stalled = setTimeout(release, this.stallMs);
      stalled.unref();
      void this.run(inputs)
        .then(
          (outputs) => {
            for (const [i, w] of batch.entries()) w.resolve(outputs[i] as O);
          },
          (e: unknown) => {
            for (const w of batch) w.reject(e);
          },
        )
        .finally(() => {
          clearTimeout(stalled);
          release();
        });
    }
  }
}
