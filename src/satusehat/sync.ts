/**
 * The hand-off of a dose to SATUSEHAT (issue 21): what one `satusehat_sync`
 * job does, and the writes around it (queue, send again, backfill).
 *
 * A job reads the dose as it stands when it runs (so a job written when the
 * dose was recorded, voided, moved by a merge or sent again all send the
 * current state) and then:
 * 1. Patient: the person's IHS number (`people.ihs_number`), else looked up
 *    by NIK (`GET Patient?identifier=https://fhir.kemkes.go.id/id/nik|<NIK>`)
 *    and stored. No NIK, or no Patient by it: the dose's state is
 *    `patient_not_found` and a `satusehat_patient_not_found` case opens — a
 *    work-list item, not a retry loop.
 * 2. Encounter: one per dose, a conditional create (`If-None-Exist` on
 *    `http://sys-ids.kemkes.go.id/encounter/{org}|<vaccination id>`).
 * 3. Immunization (fhir/satusehat.ts `immunizationResource`): a conditional
 *    create on the dose's identifier, so a retry after a crash or a timeout
 *    finds the record made before instead of making a second; the id stored.
 *    When the record existed and the dose changed since (voided: sent as
 *    `entered-in-error`; renumbered by a merge) it is updated. An
 *    `entered-in-error` record is final: it is never put back.
 *
 * Answers: network errors, timeouts, 5xx, a 401 that a new token did not cure
 * and a 4xx without an OperationOutcome are retried with backoff (the job's
 * attempts, SATUSEHAT_RETRY_*), never a verdict; a 429 waits for its
 * Retry-After without spending an attempt; a 4xx with an OperationOutcome is
 * the verdict `rejected`: the outcome in words on the `satusehat_rejected`
 * work list, with "send again" once the record is corrected.
 */
import type { Encounter, Immunization, OperationOutcome } from '@medplum/fhirtypes';
import type { Db, Queryable } from '../db/client.ts';
import type { SatusehatConfig } from '../config.ts';
import { type BatchHandler, type Job, type Outcome, backoffMs, eachJob, enqueue, errorText } from '../notify/outbox.ts';
import { NIK_SYSTEM, immunizationIdentifierSystem, immunizationResource, occurrenceOf } from '../fhir/satusehat.ts';
import { vaccinationRecords } from '../fhir/export.ts';
import { SatusehatClient, SatusehatUnreachable, type FhirAnswer } from './client.ts';

/** The `settings` key that switches the hand-off on for every write of this database (set at start, switchSync). */
export const SYNC_SETTING = 'satusehat_sync';
/** Attempts of one hand-off before it is dead (visible, replayable): at the default backoff, hours of outage. */
export const SYNC_MAX_ATTEMPTS = 50;
/** A 429 without Retry-After waits this long. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 30_000;
/** With the hand-off off in this process, a job waits this long and looks again (its attempts not spent). */
const OFF_WAIT_MS = 10 * 60_000;

export type SyncState = 'waiting' | 'synced' | 'rejected' | 'patient_not_found';

/** SATUSEHAT's identifier system of a facility's encounters (as for immunizations). */
export function encounterIdentifierSystem(organizationId: string): string {
  return `http://sys-ids.kemkes.go.id/encounter/${organizationId}`;
}

/**
 * Switches the hand-off on or off for the writes of this database: the statement that records doses
 * (records/record-dose.ts) queues one only while the setting is on. Every `dosis serve` and `dosis
 * worker` sets it from its own configuration at start (SATUSEHAT_URL set or not).
 */
export async function switchSync(db: Queryable, on: boolean): Promise<void> {
  if (on) await db.query("INSERT INTO settings (key, value) VALUES ($1, 'on') ON CONFLICT (key) DO UPDATE SET value = 'on'", [SYNC_SETTING]);
  else await db.query('DELETE FROM settings WHERE key = $1', [SYNC_SETTING]);
}

/**
 * Queues a dose (again) inside the caller's transaction: its state back to `waiting` and a job.
 * `reason` makes the job's dedupe key (`satusehat:<id>:<reason>`): the first hand-off is written by the
 * dose's own statement (`satusehat:<id>`). Does nothing for a dose never queued (the hand-off was off).
 */
export async function requeueSync(tx: Queryable, vaccinationId: string, reason: string): Promise<boolean> {
  const r = await tx.query<{ person_id: string }>(
    "UPDATE satusehat_sync SET state = 'waiting', queued_at = now(), updated_at = now() WHERE vaccination_id = $1 RETURNING person_id",
    [vaccinationId],
  );
  const row = r.rows[0];
  if (!row) return false;
  await enqueue(tx, {
    kind: 'satusehat_sync',
    payload: { personId: row.person_id, vaccinationId },
    dedupeKey: `satusehat:${vaccinationId}:${reason}`,
    personId: row.person_id,
    maxAttempts: SYNC_MAX_ATTEMPTS,
  });
  return true;
}

/**
 * Queues doses never queued (a held dose once its name is confirmed, the backfill), while the hand-off is on:
 * their sync row and first job (`satusehat:<id>`), in the caller's transaction. Voided doses are not queued
 * (SATUSEHAT never had them). Returns how many were queued; queuing twice queues nothing more.
 */
export async function queueNew(tx: Queryable, doses: { personId: string; vaccinationId: string }[]): Promise<number> {
  if (doses.length === 0) return 0;
  const r = await tx.query<{ n: number }>(
    `WITH d AS (SELECT * FROM json_to_recordset($1::json) AS d(person_id uuid, id uuid)),
          ss AS (
            INSERT INTO satusehat_sync (vaccination_id, person_id, facility_code, queued_at)
            SELECT v.id, v.person_id, v.facility_code, now() FROM vaccinations v JOIN d ON d.person_id = v.person_id AND d.id = v.id
             WHERE v.status <> 'void' AND NOT v.identity_held AND EXISTS (SELECT 1 FROM settings WHERE key = '${SYNC_SETTING}')
            ON CONFLICT (vaccination_id) DO NOTHING
            RETURNING vaccination_id, person_id),
          j AS (
            INSERT INTO jobs (kind, payload, dedupe_key, person_id, lane, max_attempts)
            SELECT 'satusehat_sync', json_build_object('personId', person_id, 'vaccinationId', vaccination_id)::jsonb, 'satusehat:' || vaccination_id::text,
                   person_id, 'sync', ${SYNC_MAX_ATTEMPTS}
              FROM ss
            ON CONFLICT (dedupe_key) DO NOTHING)
     SELECT count(*)::int8 AS n FROM ss`,
    [JSON.stringify(doses.map((x) => ({ person_id: x.personId, id: x.vaccinationId })))],
  );
  return Number(r.rows[0]?.n ?? 0);
}

/** What ended a hand-off short of success. */
class Verdict extends Error {
  readonly kind: 'rejected' | 'patient_not_found';
  readonly reason: string;
  readonly outcome: OperationOutcome | null;
  constructor(kind: 'rejected' | 'patient_not_found', reason: string, outcome: OperationOutcome | null) {
    super(reason);
    this.kind = kind;
    this.reason = reason;
    this.outcome = outcome;
  }
}
/** No verdict: try again later (after `delayMs` when the server said so). */
class Transient extends Error {
  readonly delayMs: number | null;
  readonly rateLimited: boolean;
  constructor(message: string, delayMs: number | null = null, rateLimited = false) {
    super(message);
    this.delayMs = delayMs;
    this.rateLimited = rateLimited;
  }
}

/** An OperationOutcome in words: each issue's text, where it is. */
export function outcomeInWords(o: OperationOutcome): string {
  const words = (o.issue ?? []).map((i) => {
    const text = i.details?.text ?? i.diagnostics ?? i.code;
    const where = i.expression?.join(', ');
    return where ? `${text} (${where})` : text;
  });
  return words.join('; ') || 'rejected without a reason';
}

function isOutcome(b: unknown): b is OperationOutcome {
  return typeof b === 'object' && b !== null && (b as { resourceType?: unknown }).resourceType === 'OperationOutcome';
}

/** The meaning of an answer for the hand-off: the body of a 2xx, else a Verdict or a Transient thrown. */
function judge(a: FhirAnswer, what: string): unknown {
  if (a.status >= 200 && a.status < 300) return a.body;
  if (a.status === 429) throw new Transient(`${what}: rate limited (429)`, a.retryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS, true);
  if (a.status >= 400 && a.status < 500 && a.status !== 401 && a.status !== 408 && isOutcome(a.body)) {
    throw new Verdict('rejected', `${what}: ${outcomeInWords(a.body)}`, a.body);
  }
  throw new Transient(`${what}: answered ${a.status}`, a.status === 503 ? a.retryAfterMs : null);
}

interface DoseRow extends Record<string, unknown> {
  person_id: string;
  id_type: string;
  id_value: string;
  ihs_number: string | null;
  name: string;
  encounter_id: string | null;
  immunization_id: string | null;
  org: string | null;
}

export interface SyncDeps {
  db: Db;
  config: Pick<SatusehatConfig, 'organizationId' | 'retryBaseMs' | 'retryMaxMs'>;
  client: SatusehatClient;
  publicUrl: string;
}

/** Hands one dose to SATUSEHAT; returns the job's outcome. */
export async function syncDose(d: SyncDeps, job: Pick<Job<'satusehat_sync'>, 'payload' | 'attempts'>): Promise<Outcome> {
  const vid = job.payload.vaccinationId;
  try {
    await handOver(d, vid);
    return { kind: 'done' };
  } catch (e) {
    if (e instanceof Verdict) {
      await settleVerdict(d.db, vid, e);
      return { kind: 'done' };
    }
    if (e instanceof Transient && e.rateLimited) return { kind: 'later', delayMs: e.delayMs ?? DEFAULT_RATE_LIMIT_WAIT_MS };
    const backoff = backoffMs(job.attempts, d.config.retryBaseMs, d.config.retryMaxMs);
    const delayMs = e instanceof Transient && e.delayMs !== null ? Math.max(e.delayMs, backoff) : backoff;
    if (e instanceof Transient || e instanceof SatusehatUnreachable) return { kind: 'retry', error: e.message, delayMs };
    return { kind: 'retry', error: errorText(e), delayMs };
  }
}

async function handOver(d: SyncDeps, vid: string): Promise<void> {
  const r = await d.db.query<DoseRow>(
    `SELECT s.person_id, p.id_type, p.id_value, p.ihs_number, p.name, s.encounter_id, s.immunization_id, f.satusehat_organization_id AS org
       FROM satusehat_sync s JOIN people p ON p.id = s.person_id JOIN facilities f ON f.code = s.facility_code
      WHERE s.vaccination_id = $1`,
    [vid],
  );
  const row = r.rows[0];
  if (!row) return; // not queued (or gone): nothing to hand over
  const org = row.org ?? d.config.organizationId;
  const ihs = row.ihs_number ?? (await findPatient(d, row));
  const dose = (await vaccinationRecords(d.db, row.person_id, ihs)).find((v) => v.id === vid);
  if (!dose) return;
  const occurrence = occurrenceOf(dose.date, dose.satusehat.givenAt);
  const location = dose.satusehat.locationId;

  let encounterId = row.encounter_id;
  if (!encounterId) {
    const encounter: Encounter = {
      resourceType: 'Encounter',
      identifier: [{ system: encounterIdentifierSystem(org), value: vid }],
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'ambulatory' },
      subject: { reference: `Patient/${ihs}`, display: row.name },
      period: { start: occurrence, end: occurrence },
      statusHistory: [{ status: 'finished', period: { start: occurrence, end: occurrence } }],
      ...(location ? { location: [{ location: { reference: `Location/${location}`, display: dose.facilityName } }] } : {}),
      serviceProvider: { reference: `Organization/${org}` },
    };
    const made = judge(
      await d.client.request('POST', 'Encounter', { body: encounter, headers: { 'if-none-exist': `identifier=${encounterIdentifierSystem(org)}|${vid}` } }),
      'Encounter',
    ) as Encounter | null;
    if (!made?.id) throw new Transient('Encounter: answer without an id');
    encounterId = made.id;
    await d.db.query('UPDATE satusehat_sync SET encounter_id = $2, updated_at = now() WHERE vaccination_id = $1', [vid, encounterId]);
  }

  const full = immunizationResource({ ...dose, satusehat: { ...dose.satusehat, organizationId: org, ihsNumber: ihs, encounterId } }, { name: row.name }, d.publicUrl);
  const { id: _dosisId, ...resource } = full;
  const system = immunizationIdentifierSystem(org);
  const made = judge(
    await d.client.request('POST', 'Immunization', { body: resource, headers: { 'if-none-exist': `identifier=${system}|${vid}` } }),
    'Immunization',
  ) as Immunization | null;
  if (!made?.id) throw new Transient('Immunization: answer without an id');
  let sent = made.status ?? resource.status;
  // The record existed (a retry, a void, a merge): bring it to the dose as it stands. entered-in-error is final.
  if (made.status !== 'entered-in-error' && !sameRecord(made, resource)) {
    const updated = judge(await d.client.request('PUT', `Immunization/${made.id}`, { body: { ...resource, id: made.id } }), 'Immunization update') as Immunization | null;
    sent = updated?.status ?? resource.status;
  }
  await d.db.withTransaction(async (tx) => {
    // First accepted: counted in the facility's total (the row lock orders two jobs of one dose).
    const before = await tx.query<{ immunization_id: string | null; facility_code: string }>(
      'SELECT immunization_id, facility_code FROM satusehat_sync WHERE vaccination_id = $1 FOR UPDATE',
      [vid],
    );
    const prev = before.rows[0];
    if (prev && prev.immunization_id === null) {
      await tx.query(
        'INSERT INTO satusehat_totals (facility_code, synced) VALUES ($1, 1) ON CONFLICT (facility_code) DO UPDATE SET synced = satusehat_totals.synced + 1',
        [prev.facility_code],
      );
    }
    // Compacted once SATUSEHAT holds it (issue 20): the Encounter's id is not kept. Nothing reads it but the next
    // hand-off of this dose (a void, a renumbering), whose conditional create (If-None-Exist on the dose's
    // identifier) finds the same Encounter again, as a retry after a crash does.
    await tx.query(
      `UPDATE satusehat_sync SET state = 'synced', immunization_id = $2, sent_status = $3, outcome = NULL, encounter_id = NULL, synced_at = now(), updated_at = now()
        WHERE vaccination_id = $1`,
      [vid, made.id, sent],
    );
    // A dose accepted now settles its open SATUSEHAT cases.
    await tx.query(
      `UPDATE cases SET status = 'resolved', resolved_at = now(), notes = coalesce(notes || E'\\n', '') || 'accepted by SATUSEHAT'
        WHERE person_id = $1 AND subject_id = $2 AND status = 'open' AND kind IN ('satusehat_rejected', 'satusehat_patient_not_found')`,
      [row.person_id, vid],
    );
  });
}

/** What SATUSEHAT holds is what we would send: status, dose number in the series, occurrence. */
function sameRecord(a: Immunization, b: Immunization): boolean {
  return (
    a.status === b.status &&
    a.occurrenceDateTime === b.occurrenceDateTime &&
    a.lotNumber === b.lotNumber &&
    JSON.stringify(a.protocolApplied ?? null) === JSON.stringify(b.protocolApplied ?? null)
  );
}

/** The person's IHS number by NIK, stored on the person; a Verdict when there is none. */
async function findPatient(d: SyncDeps, row: DoseRow): Promise<string> {
  if (row.id_type !== 'nik') {
    throw new Verdict('patient_not_found', 'The person has no NIK: SATUSEHAT finds patients by NIK. Register the person in SATUSEHAT, or record the NIK, then send again.', null);
  }
  const found = judge(await d.client.request('GET', `Patient?identifier=${encodeURIComponent(`${NIK_SYSTEM}|${row.id_value}`)}`), 'Patient search') as {
    entry?: { resource?: { resourceType?: string; id?: string } }[];
  } | null;
  const ihs = found?.entry?.map((e) => e.resource).find((res) => res?.resourceType === 'Patient' && res.id)?.id;
  if (!ihs) throw new Verdict('patient_not_found', 'SATUSEHAT has no patient with this NIK. Check the NIK, or register the person in SATUSEHAT, then send again.', null);
  await d.db.query('UPDATE people SET ihs_number = $2 WHERE id = $1 AND ihs_number IS DISTINCT FROM $2', [row.person_id, ihs]);
  return ihs;
}

/** A verdict: the dose's state, and its case on the work list (one open case per dose and kind). */
async function settleVerdict(db: Db, vid: string, v: Verdict): Promise<void> {
  const state: SyncState = v.kind;
  const kind = v.kind === 'rejected' ? 'satusehat_rejected' : 'satusehat_patient_not_found';
  await db.withTransaction(async (tx) => {
    const r = await tx.query<{ person_id: string; facility_code: string }>(
      `UPDATE satusehat_sync SET state = $2, outcome = $3::jsonb, updated_at = now() WHERE vaccination_id = $1 RETURNING person_id, facility_code`,
      [vid, state, v.outcome ? JSON.stringify(v.outcome) : null],
    );
    const row = r.rows[0];
    if (!row) return;
    await tx.query(
      `INSERT INTO cases (person_id, id, kind, facility_code, region_code, subject_id, detail)
       SELECT p.id, gen_random_uuid(), $3, $4, p.region_code, $2, $5::jsonb FROM people p
        WHERE p.id = $1
          AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.person_id = $1 AND c.subject_id = $2 AND c.kind = $3 AND c.status = 'open')`,
      [row.person_id, vid, kind, row.facility_code, JSON.stringify({ vaccinationId: vid, reason: v.reason, ...(v.outcome ? { outcome: v.outcome } : {}) })],
    );
    // A case already open (sent again, rejected again): the latest reason.
    await tx.query(
      `UPDATE cases SET detail = $4::jsonb WHERE person_id = $1 AND subject_id = $2 AND kind = $3 AND status = 'open'`,
      [row.person_id, vid, kind, JSON.stringify({ vaccinationId: vid, reason: v.reason, ...(v.outcome ? { outcome: v.outcome } : {}) })],
    );
  });
}

/** The worker's handler of `satusehat_sync` jobs: with the hand-off off in this process, they wait (attempts not spent). */
export function syncHandler(d: SyncDeps | null, concurrency = 8): BatchHandler<'satusehat_sync'> {
  return eachJob<'satusehat_sync'>(concurrency, (job) => (d ? syncDose(d, job) : Promise.resolve({ kind: 'later', delayMs: OFF_WAIT_MS })));
}
