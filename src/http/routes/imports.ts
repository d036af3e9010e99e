/**
 * Bulk imports: upload a CSV or XLSX file of doses, follow its progress, and
 * download every rejected row with its reasons. The upload is streamed into
 * the database (never buffered whole, never through the 1 MiB JSON limit) by
 * content-type parsers that belong to these routes only.
 */
import { Readable } from 'node:stream';
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { App, AppDeps } from '../deps.ts';
import { allow } from '../auth.ts';
import { langOf } from '../errors.ts';
import { AppError } from '../../domain/errors.ts';
import { csvCell, ImportRunner, importErrorRows, importErrors, importStatus, MAX_IMPORT_BYTES } from '../../records/import/service.ts';
import { TEMPLATE_HEADERS } from '../../records/import/columns.ts';
import { textWorkbook } from '../../records/import/xlsx-write.ts';
import { textFault } from '../../domain/text.ts';
import type { LongBodyConfig } from '../edge.ts';
import { ErrorSchema } from './schemas.ts';

const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
/** Types a CSV arrives with (browsers on Windows call .csv files application/vnd.ms-excel). */
const CSV_TYPES = new Set(['text/csv', 'application/csv', 'text/plain', 'application/vnd.ms-excel', 'text/comma-separated-values']);

const ImportStatusSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    status: Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
    phase: Type.Union([Type.Literal('queued'), Type.Literal('recording'), Type.Literal('done'), Type.Literal('failed')]),
    fileName: Type.Union([Type.String(), Type.Null()]),
    format: Type.Union([Type.Literal('csv'), Type.Literal('xlsx')]),
    facility: Type.Union([Type.String(), Type.Null()]),
    invalidPhone: Type.Union([Type.Literal('reject'), Type.Literal('flag')]),
    rows: Type.Integer({ description: 'data rows read and decided so far' }),
    rowsTotal: Type.Union([Type.Integer(), Type.Null()], { description: 'data rows in the file (blank rows not counted)' }),
    accepted: Type.Integer({ description: 'rows recorded now, each with its certificate and SMS job' }),
    rejected: Type.Integer({ description: 'rows not recorded; see errors.csv' }),
    alreadyRecorded: Type.Integer({ description: 'rows whose dose (NIK, dose number, vaccine, date) was recorded before this upload' }),
    progress: Type.Union([Type.Number(), Type.Null()]),
    rowsPerSecond: Type.Union([Type.Number(), Type.Null()]),
    etaSeconds: Type.Union([Type.Number(), Type.Null()]),
    columns: Type.Record(Type.String(), Type.String(), { description: 'field → the header it was read from' }),
    ignoredColumns: Type.Array(Type.String()),
    reason: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
    createdAt: Type.String(),
    startedAt: Type.Union([Type.String(), Type.Null()]),
    finishedAt: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

const runners = new WeakMap<object, ImportRunner>();

/** The import runner of an app (tests wait on it instead of polling). */
export function importRunnerOf(app: FastifyInstance | App): ImportRunner {
  const r = runners.get(app);
  if (!r) throw new Error('importRoutes was not registered on this app');
  return r;
}

const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
/** The language of the reasons when the client names it (it wins over Accept-Language). */
const LangQuery = Type.Optional(Type.Union([Type.Literal('id'), Type.Literal('en')]));

export function importRoutes(app: App, deps: AppDeps): void {
  const runner = new ImportRunner({
    db: deps.db,
    issuer: deps.issuer,
    linkSecret: deps.linkSecret,
    publicUrl: deps.config.publicUrl,
    ...(deps.now ? { now: deps.now } : {}),
  });
  runner.onError = (e, id) => app.log.error({ err: e, importId: id }, 'import failed');
  runners.set(app, runner);
  app.addHook('onReady', async () => runner.start());
  app.addHook('onClose', async () => runner.close());

  app.register(async (plain) => {
    const scope = plain.withTypeProvider<TypeBoxTypeProvider>();
    // These routes read the raw body as a stream: no other parser, no 1 MiB JSON limit.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

    scope.post(
      '/api/v1/imports',
      {
        // A file of any size: the body guard asks it to keep moving rather than to end in one window (edge.ts).
        config: { longBody: true } satisfies LongBodyConfig,
        schema: {
          tags: ['records'],
          summary: 'Upload a CSV or XLSX file of doses; each row is recorded as a single entry would be',
          description:
            'Send the file itself as the body: Content-Type text/csv (comma or semicolon, UTF-8 with or without BOM) or ' +
            `${XLSX_TYPE} (the first sheet). Headers in Indonesian or English, any case: NIK, Nama/name, Tanggal Lahir/birth_date, ` +
            'Jenis Kelamin/sex (L/P or M/F), No HP/phone, Vaksin/vaccine, Dosis/dose, Tanggal Vaksinasi/date, No Batch/lot, ' +
            'Kode Faskes/facility (district uploads, or ?facility=). Dates YYYY-MM-DD, DD/MM/YYYY, DD-MM-YYYY or Excel dates. ' +
            `Up to ${MAX_IMPORT_BYTES / 1024 / 1024} MiB. The file is stored and read through once to check it: a broken file ` +
            '(not UTF-8, binary, a line over 64 KiB, a zip bomb, a missing column) is a 4xx and nothing is recorded. ' +
            'Then 202: rows are recorded in the background, idempotently by (person, dose number, vaccine, date), so a re-upload ' +
            'records nothing twice; follow GET /api/v1/imports/{id}.',
          querystring: Type.Object(
            {
              facility: Type.Optional(Type.String({ maxLength: 64, description: 'facility for rows without a Kode Faskes column' })),
              invalidPhone: Type.Optional(
                Type.Union([Type.Literal('reject'), Type.Literal('flag')], {
                  description: 'reject (default): a row with an unusable phone is rejected; flag: it is recorded and the person goes on the phone work list',
                }),
              ),
              fileName: Type.Optional(Type.String({ maxLength: 255 })),
            },
            { additionalProperties: false },
          ),
          consumes: ['text/csv', XLSX_TYPE],
          response: { 202: ImportStatusSchema, '4xx': ErrorSchema },
        },
      },
      async (req, reply) => {
        const who = allow(req, ['facility', 'district', 'admin']);
        const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
        const declaredXlsx = type === XLSX_TYPE;
        if (!declaredXlsx && !CSV_TYPES.has(type) && type !== 'application/octet-stream') {
          drain(req.body);
          throw new AppError('unsupported_media_type', 'unsupported_content_type', {
            en: `Send the file itself as the request body with Content-Type text/csv or ${XLSX_TYPE} (not ${type || 'no content type'}).`,
            id: `Kirim berkasnya sebagai isi permintaan dengan Content-Type text/csv atau ${XLSX_TYPE} (bukan ${type || 'tanpa content type'}).`,
          });
        }
        const status = await runner.upload(
          {
            principal: who,
            body: req.body as AsyncIterable<Uint8Array>,
            fileName: req.query.fileName ?? fileNameOf(req.headers['content-disposition']),
            facility: req.query.facility ?? null,
            invalidPhone: req.query.invalidPhone ?? 'reject',
            declaredXlsx,
          },
          langOf(req),
        );
        return reply.status(202).header('location', `/api/v1/imports/${status.id}`).send(status);
      },
    );
  });

  app.get(
    '/api/v1/imports/:id',
    {
      schema: {
        tags: ['records'],
        summary: 'Status of an import: rows read, accepted, rejected, already recorded, progress',
        params: IdParams,
        response: { 200: ImportStatusSchema, '4xx': ErrorSchema },
      },
    },
    async (req) => {
      const who = allow(req, ['facility', 'district', 'support', 'admin']);
      return importStatus(deps.db, who, req.params.id, langOf(req));
    },
  );

  app.get(
    '/api/v1/imports/:id/errors',
    {
      schema: {
        tags: ['records'],
        summary: 'The rejected rows of an import, a page at a time: line, and each reason with its column and the value there',
        description: 'Reasons in Indonesian with Accept-Language: id (or ?lang=id). The console lists them under the import; errors.csv has them all.',
        params: IdParams,
        querystring: Type.Object(
          {
            after: Type.Optional(Type.Integer({ minimum: 0, description: 'rows after this line' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
            lang: LangQuery,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            header: Type.Array(Type.String()),
            rows: Type.Array(
              Type.Object({
                line: Type.Integer(),
                reasons: Type.Array(Type.Object({ column: Type.String(), value: Type.Union([Type.String(), Type.Null()]), code: Type.String(), message: Type.String() })),
              }),
            ),
            more: Type.Boolean(),
          }),
          '4xx': ErrorSchema,
        },
      },
    },
    async (req) => {
      const who = allow(req, ['facility', 'district', 'support', 'admin']);
      return importErrorRows(deps.db, who, req.params.id, req.query.lang ?? langOf(req), { after: req.query.after ?? 0, limit: req.query.limit ?? 100 });
    },
  );

  app.get(
    '/api/v1/imports/template.:format',
    {
      schema: {
        tags: ['records'],
        summary: 'An empty import file with the Indonesian headers, as CSV or XLSX (NIK and phone columns formatted as text)',
        params: Type.Object({ format: Type.Union([Type.Literal('csv'), Type.Literal('xlsx')]) }),
        produces: ['text/csv', XLSX_TYPE],
      },
    },
    async (req, reply) => {
      allow(req, ['facility', 'district', 'admin']);
      const name = `dosis-template.${req.params.format}`;
      reply.header('content-disposition', `attachment; filename="${name}"`);
      if (req.params.format === 'csv') return reply.type('text/csv; charset=utf-8').send('\uFEFF' + TEMPLATE_HEADERS.map((h) => csvCell(h, ';')).join(';') + '\r\n');
      const text = new Set(TEMPLATE_HEADERS.flatMap((h, i) => (/^(NIK|NIK Ibu|No HP|Paspor|No Batch)$/.test(h) ? [i] : [])));
      return reply.type(XLSX_TYPE).send(textWorkbook('Vaksinasi', [TEMPLATE_HEADERS], text));
    },
  );

  app.get(
    '/api/v1/imports/:id/errors.csv',
    {
      schema: {
        tags: ['records'],
        summary: 'Every rejected row: its line, every reason (naming the column), and the row as it was, to fix and upload again',
        description:
          'UTF-8 CSV with BOM, in the delimiter of the uploaded file; reasons in Indonesian with ?lang=id, else with Accept-Language: id ' +
          '(a download link sends the browser\'s language, so the console names its own with ?lang=).',
        params: IdParams,
        querystring: Type.Object({ lang: LangQuery }, { additionalProperties: false }),
        produces: ['text/csv'],
      },
    },
    async (req, reply) => {
      const who = allow(req, ['facility', 'district', 'support', 'admin']);
      const lines = await importErrors(deps.db, who, req.params.id, req.query.lang ?? langOf(req));
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="import-${req.params.id}-errors.csv"`)
        .send(Readable.from(lines));
    },
  );
}

/** A refused upload's body is read and dropped, so the client gets the answer instead of a reset connection. */
function drain(body: unknown): void {
  if (body instanceof Readable) body.resume();
}

/**
 * The file name a Content-Disposition header gives, if it gives a usable one.
 * A header is the client's to get wrong: a broken percent-encoding or text
 * Dosis does not accept (domain/text.ts) means no name, never a failed upload.
 */
export function fileNameOf(disposition: string | undefined): string | null {
  if (!disposition) return null;
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  if (!m?.[1]) return null;
  let name: string;
  try {
    name = decodeURIComponent(m[1]);
  } catch {
    return null;
  }
  name = name.slice(0, 255);
  return textFault(name) === null ? name : null;
}
