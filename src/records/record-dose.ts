/**
 * Record a dose: the one function every entry path uses (API, form, import,
 * FHIR, offline sync): validate → read the person (by NIK, following merges)
 * with their doses → check the dose against earlier ones → sign its
 * certificate → write the vaccination, the certificate and the outbox job
 * that will send the SMS. The answer carries the certificate: there is no
 * queue between a dose and its certificate.
 *
 * Optimistic, single-statement writes. The read takes no lock and opens no
 * transaction; ids are made here, so the whole answer is known before
 * anything is written. Then ONE statement (so, atomically, even outside a
 * transaction) claims the Idempotency-Key with that answer, moves each
 * person's `version` from the value read (or creates the person, if no one
 * else did meanwhile), and writes the rows of the doses whose person it could
 * move. A dose whose person changed in between is read and judged again.
 * Two round trips per dose where a locking transaction took seven, and
 * nothing is held while a certificate is signed.
 *
 * `recordEntries` does this for N validated entries at once (a bulk import
 * records hundreds per statement, inside its own transaction); a single entry
 * is N = 1 of the same code and the same SQL, so an imported row and a typed
 * one are judged and written identically.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Coalescer, isClient, isRetryable, type Db, type Queryable } from '../db/client.ts';
import type { Principal } from '../access/tokens.ts';
import { hashLinkToken, linkTokenFor } from '../access/links.ts';
import { AppError, invalid } from '../domain/errors.ts';
import type { FieldIssue } from '../domain/errors.ts';
import { doseRole, evaluateDose, nextDoseDue, type DoseRole } from '../domain/doses.ts';
import { todayInJakarta, validateVaccinationInput, type VaccinationInput } from '../domain/vaccination-input.ts';
import { personKey, sameName } from '../domain/names.ts';
import { vaccineByCode, type Vaccine } from '../domain/vaccines.ts';
import type { IssueInput, IssuedCertificate, Issuer } from '../certificates/issuer.ts';
import { storedHc1 } from '../certificates/hc1.ts';
import { nextTurn, ROWS_PER_TURN, Turns } from './turns.ts';
import { type KnownPerson, type NewPerson, newPerson, phoneColumns, readPeople, type StoredAnswer } from './people.ts';
import { facilityForEntry } from './facilities.ts';
import { SYNC_MAX_ATTEMPTS, SYNC_SETTING } from '../satusehat/sync.ts';

export type EntrySource = 'api' | 'import' | 'form' | 'fhir' | 'offline';

export interface RecordDeps {
  db: Db;
  issuer: Issuer;
  linkSecret: Buffer;
  publicUrl: string;
  now?: () => Date;
}

export interface RecordRequest {
  principal: Principal;
  body: unknown;
  idempotencyKey?: string | undefined;
  source: EntrySource;
  importId?: string;
  /** Bulk imports record a dose even when the phone is unusable (it goes on the work list). */
  invalidPhone?: 'reject' | 'flag';
}

/** The answer of a recorded dose (the API's JSON body). */
export interface DoseAnswer {
  vaccination: {
    id: string;
    status: 'recorded' | 'claims_prior_dose';
    /**
     * The name sent did not match the record: the dose is recorded against the record as it stands,
     * its certificate and SMS wait for a person to confirm (a `name_mismatch` case).
     */
    held?: 'identity_review';
    doseNumber: number;
    vaccine: string;
    date: string;
    lot: string | null;
    facility: string;
    recordedAt: string;
    role: 'primary' | 'booster';
    missingPriorDoses?: number[];
  };
  /**
   * The person as on record, for a caller who may see them (access/scope.ts) before this dose;
   * for anyone else only what they sent, and no id (the record is not theirs to read).
   */
  person: {
    id?: string;
    identifier: { type: string; value: string; country?: string };
    name: string;
    birthDate: string;
    sex: string | null;
    phone: string | null;
    phoneStatus: string;
    created: boolean;
  };
  /** Null while the dose is held (its certificate carries the name on record). */
  certificate: {
    id: string;
    uvci: string;
    qr: string;
    link: string;
    kid: string;
    dn: number;
    sd: number;
    issuedAt: string;
    expiresAt: string;
  } | null;
  nextDose: { doseNumber: number; due: string; role: string } | null;
  /** The phone sent differs from the one on record: not replaced, but a change waiting to be confirmed (records/identity.ts). */
  phoneChange?: { id: string; status: 'pending' };
  warnings: { path: string; code: string; message: { en: string; id: string } }[];
}

export interface RecordResult {
  status: 200 | 201;
  body: DoseAnswer;
  /** The body as JSON text: the bytes first answered, and stored with an Idempotency-Key, so a replay is byte-identical. */
  json: string;
}

const MAX_IDEMPOTENCY_KEY = 200;

/** Validates a request body into an entry, or throws a 422 naming every bad field. */
export function validateEntry(body: unknown, today: string, invalidPhone: 'reject' | 'flag' = 'reject'): VaccinationInput {
  const v = validateVaccinationInput(body, { today, invalidPhone });
  if (!v.ok) throw invalid(v.issues);
  return v.value;
}

function requestHash(body: unknown): Buffer {
  return createHash('sha256').update(JSON.stringify(body)).digest();
}

/** Records one dose; see the module comment. */
export async function recordDose(deps: RecordDeps, req: RecordRequest): Promise<RecordResult> {
  const now = (deps.now ?? (() => new Date()))();
  const entry = validateEntry(req.body, todayInJakarta(now), req.invalidPhone);
  if (req.idempotencyKey !== undefined && (req.idempotencyKey.length === 0 || req.idempotencyKey.length > MAX_IDEMPOTENCY_KEY)) {
    throw new AppError('bad_request', 'bad_idempotency_key', {
      en: `Idempotency-Key must have 1 to ${MAX_IDEMPOTENCY_KEY} characters.`,
      id: `Idempotency-Key harus 1 sampai ${MAX_IDEMPOTENCY_KEY} karakter.`,
    });
  }
  const facility = await facilityForEntry(deps.db, req.principal, entry.facility);
  await deps.issuer.ready();
  const ctx: EntryContext = {
    principal: req.principal,
    source: req.source,
    now,
    ...(req.importId === undefined ? {} : { importId: req.importId }),
  };
  // No transaction: the write is one statement (see the module comment).
  const [outcome] = await recordEntries(deps.db, deps, ctx, [
    {
      entry,
      facilityCode: facility.code,
      ...(req.idempotencyKey === undefined ? {} : { idempotencyKey: req.idempotencyKey, requestHash: requestHash(req.body) }),
    },
  ]);
  if (!outcome) throw new Error('recordEntries returned no outcome');
  if (outcome.kind !== 'recorded') throw outcome.error;
  return { status: outcome.replayed ? 200 : 201, body: outcome.answer, json: outcome.json ?? JSON.stringify(outcome.answer) };
}

/** The first answer stored for an Idempotency-Key, or a 409 when the key came with another request. */
function replayOf(stored: StoredAnswer, hash: Buffer | undefined): EntryOutcome {
  if (!hash || !stored.requestHash.equals(hash)) {
    return {
      kind: 'conflict',
      error: new AppError('conflict', 'idempotency_key_reused', {
        en: 'This Idempotency-Key was already used for a different request; use a new key for a new dose.',
        id: 'Idempotency-Key ini sudah dipakai untuk permintaan lain; gunakan kunci baru untuk dosis baru.',
      }),
    };
  }
  if (stored.response === null) throw new Error(`idempotency key ${stored.key} holds no answer`);
  return { kind: 'recorded', answer: JSON.parse(stored.response) as DoseAnswer, json: stored.response, replayed: true };
}

/** 409 for a dose on record, in words; the ids (in `detail`, never in the message) only for a caller who may see the person. */
function duplicateError(visible: boolean, personId: string, existingId: string, doseNumber: number, date: string): AppError {
  const text = {
    en: `Dose ${doseNumber} of this person on ${date} is already recorded.`,
    id: `Dosis ${doseNumber} orang ini pada ${date} sudah tercatat.`,
  };
  return new AppError('conflict', 'dose_already_recorded', text, visible ? { detail: { personId, vaccinationId: existingId } } : {});
}

/**
 * Whether the caller could see the person before this call (the rule of
 * access/scope.ts, on the doses read): a facility that gave them a dose not
 * held, a district of their NIK region (or of the facility named, when it
 * gave them a dose), support and admin. A district's scope through another
 * facility of its region is not known here: such a caller is answered as
 * outside, which tells it less, never more.
 */
function seesPerson(who: Principal, person: KnownPerson, facilityCode: string): boolean {
  switch (who.role) {
    case 'admin':
    case 'support':
      return true;
    case 'facility':
      return person.doses.some((d) => !d.held && d.facility_code === who.facilityCode);
    case 'district':
      return (
        (person.region_code !== null && who.regionCode !== null && person.region_code.startsWith(who.regionCode)) ||
        person.doses.some((d) => !d.held && d.facility_code === facilityCode)
      );
    default:
      return who.role satisfies never;
  }
}

/** The facility whose work list gets a case about a person a held dose names: the last that gave them a dose not held (else the district's alone). */
function knownFacility(person: KnownPerson): string | null {
  const known = person.doses.filter((d) => !d.held);
  return known[known.length - 1]?.facility_code ?? null;
}

/** Who records, from where, and when: the same for every entry of one call. */
export interface EntryContext {
  principal: Principal;
  source: EntrySource;
  now: Date;
  importId?: string;
  /**
   * Signs the certificates of the entries being recorded; by default the
   * issuer in this thread. Imports sign on worker threads so the event loop
   * that serves single entries is never busy with a batch.
   */
  sign?: (inputs: IssueInput[]) => Promise<SignedCertificate[]>;
  /**
   * Awaited before the call's first write. An import passes the previous
   * batch's `onWritten` here: its rows are then written (and their people's
   * rows held by its transaction) before this batch writes, so a dose 2 later
   * in a file is judged against the dose 1 before it, never the other way.
   */
  beforeWrite?: () => Promise<void>;
  /** Called once every entry of the call is written or answered, or the call failed. */
  onWritten?: () => void;
}

/** A signed certificate, with its SMS link token when the signer made it too (linkTokenFor). */
/**
 * A certificate as a signing thread returns it (import/sign-worker.ts): with its link token, and what the
 * write stores of it computed there too — the bytes under its HC1 text in base64 (storedHc1) and the hash
 * of its link token in hex — so that the event loop answering requests does not decode Base45 and hash
 * for every dose of an import.
 */
export type SignedCertificate = IssuedCertificate & { linkToken?: string; hc1?: string; linkHash?: string };

/** What a certificate row stores of its HC1 text, in base64 (certificates.hc1): from the signing thread, or computed here. */
function storedHc1Base64(c: SignedCertificate): string {
  return c.hc1 ?? storedHc1(c.qr).toString('base64');
}

/** The hash of a certificate's link token in hex (link_tokens.token_hash): from the signing thread, or computed here. */
function linkHashHex(c: SignedCertificate, link: string): string {
  return c.linkHash ?? hashLinkToken(link).toString('hex');
}

/** One validated entry, with the facility it was checked against (facilityForEntry). */
export interface PreparedEntry {
  entry: VaccinationInput;
  facilityCode: string;
  /** Scoped by the facility: the same key from two facilities is two requests. */
  idempotencyKey?: string;
  /** SHA-256 of the request with the key: the key repeated with another request is a 409. */
  requestHash?: Buffer;
  /** The line of the import file the entry came from. */
  importLine?: number;
}

/** What became of one entry. Duplicates and conflicts are answers, not failures: the other entries go on. */
export type EntryOutcome =
  | {
      kind: 'recorded';
      answer: DoseAnswer;
      /** The answer as JSON text when it was stored with an Idempotency-Key (the bytes a replay answers). */
      json?: string;
      /** The entry's Idempotency-Key was seen before: this is the first answer, and nothing was written now. */
      replayed?: true;
    }
  | {
      kind: 'duplicate';
      /** 409 dose_already_recorded, as a single entry would answer. */
      error: AppError;
      existing: { vaccinationId: string; importId: string | null; importLine: number | null };
    }
  | { kind: 'conflict'; error: AppError };

/** A dose that passed the rules and is about to be written. */
interface Planned {
  index: number;
  prepared: PreparedEntry;
  person: KnownPerson;
  created: boolean;
  vaccinationId: string;
  status: 'recorded' | 'claims_prior_dose';
  role: DoseRole;
  /** The product that started the person's series (for the next dose due). */
  primary: Vaccine;
  missing: number[] | null;
  warnings: FieldIssue[];
  currentPhone: string | null;
  phoneStatus: KnownPerson['phone_status'];
  phoneCase: Record<string, unknown> | null;
  /** The caller could see the person before this dose (seesPerson): else the answer carries nothing stored. */
  visible: boolean;
  /** The name sent did not match the record: certificate and SMS wait for the `name_mismatch` case. */
  held: boolean;
  /** The facility whose work list gets this dose's cases (the recording one, unless the dose is held). */
  caseFacility: string | null;
  /** A `phone_change` case for the phone sent, when it differs from the one on record. */
  phoneChange: { id: string; detail: Record<string, unknown> } | null;
  issue: IssueInput;
}

/** A person as the entries of one round change them (doses added, phone replaced), and how to write them. */
interface PersonState {
  person: KnownPerson;
  /** Set when the person is not on record: this round creates them (if no one else does first). */
  creation: NewPerson | undefined;
  /** The next entry of the person would be the one that created them. */
  created: boolean;
  phoneCaseQueued: boolean;
  /** New numbers this round already asks to change to (one pending change per number). */
  phoneChanges: Set<string>;
  /** The entries of this round that name the person. */
  entries: number[];
  /** Whether the round plans a write for the person (else its outcomes are final as judged). */
  writes: boolean;
}

/**
 * How many times a call reads and writes again before giving up. Each new
 * round means another writer changed one of its people meanwhile (and so made
 * progress): running out takes a storm of writes to the same few people.
 */
const MAX_ROUNDS = 10;

/**
 * Records validated entries: reads (or plans to create) their people, checks
 * each dose against the person's doses — including those recorded earlier in
 * the same call, in entry order — signs a certificate per accepted dose, and
 * writes every row in one statement guarded by the people's versions; entries
 * whose person changed meanwhile go round again. Works the same on the client
 * (autocommit: each write is atomic on its own) and inside a transaction (an
 * import batch with its progress record; a FHIR transaction bundle). Returns
 * one outcome per entry, in order.
 */
export async function recordEntries(q: Queryable, deps: RecordDeps, ctx: EntryContext, entries: readonly PreparedEntry[]): Promise<EntryOutcome[]> {
  // On the client each statement commits by itself, and one that lost a race can simply run again;
  // inside a transaction such an error ends the transaction, which withTransaction runs again.
  const autocommit = isClient(q);
  const outcomes: (EntryOutcome | undefined)[] = new Array<EntryOutcome | undefined>(entries.length);
  let pending = entries.map((_, i) => i);
  let waited = false;
  try {
    for (let round = 1; pending.length > 0; round++) {
      if (round > MAX_ROUNDS) throw contention();
      const keyed = pending.filter((i) => entries[i]?.idempotencyKey !== undefined);
      const { people, answers } = await readPeople(
        q,
        [...new Set(pending.map((i) => keyOf(entries[i] as PreparedEntry)))],
        keyed.map((i) => ({ scope: (entries[i] as PreparedEntry).facilityCode, key: (entries[i] as PreparedEntry).idempotencyKey as string })),
      );
      const stored = new Map(answers.map((a) => [`${a.scope}\n${a.key}`, a]));
      const judged = new Map<number, EntryOutcome>();
      const states = new Map<string, PersonState>(); // by person id
      const newByKey = new Map<string, NewPerson>();
      const planned: Planned[] = [];
      const audits: { personId: string; subject: string; from: string | null; to: string | null }[] = [];

      const turns = new Turns();
      for (const index of pending) {
        if (turns.due()) await nextTurn();
        const prepared = entries[index] as PreparedEntry;
        const { entry } = prepared;
        if (prepared.idempotencyKey !== undefined) {
          const seen = stored.get(`${prepared.facilityCode}\n${prepared.idempotencyKey}`);
          if (seen) {
            outcomes[index] = replayOf(seen, prepared.requestHash);
            continue;
          }
        }
        const key = keyOf(prepared);
        let found = people.get(key);
        let creation: NewPerson | undefined;
        if (!found) {
          creation = newByKey.get(key) ?? newPerson(key, entry.person);
          newByKey.set(key, creation);
          found = creation.person;
        }
        let st = states.get(found.id);
        if (!st) {
          st = {
            person: { ...found, doses: [...found.doses] },
            creation,
            created: creation !== undefined,
            phoneCaseQueued: false,
            phoneChanges: new Set(),
            entries: [],
            writes: false,
          };
          states.set(found.id, st);
        }
        st.entries.push(index);
        const person = st.person;
        // Judged in memory, on what was read: a name that matches costs no round trip.
        const visible = st.created || seesPerson(ctx.principal, person, prepared.facilityCode);
        const held = !st.created && !sameName(entry.person.name, person.name);
        const existing = person.doses.map((d) => ({ doseNumber: d.dose_number, date: d.date, vaccine: d.vaccine, status: d.status }));
        const evaluation = evaluateDose(existing, { doseNumber: entry.doseNumber, date: entry.date, vaccine: entry.vaccine });
        if (evaluation.outcome === 'duplicate') {
          const row = person.doses.find((d) => d.dose_number === entry.doseNumber && d.date === entry.date);
          judged.set(index, {
            kind: 'duplicate',
            error: duplicateError(visible, person.id, row?.id ?? '?', entry.doseNumber, entry.date),
            existing: { vaccinationId: row?.id ?? '?', importId: row?.import_id ?? null, importLine: row?.import_line ?? null },
          });
          continue;
        }
        if (evaluation.outcome === 'conflict') {
          const row = person.doses.find((d) => d.dose_number === evaluation.existing.doseNumber && d.date === evaluation.existing.date);
          // The message names the dose on record (its date, its vaccine): only for a caller who may see it.
          const message = visible ? evaluation.message : hiddenConflict;
          judged.set(index, {
            kind: 'conflict',
            error: new AppError('conflict', evaluation.reason, message, {
              ...(visible ? { detail: { personId: person.id, vaccinationId: row?.id ?? null } } : {}),
              fields: [{ path: 'doseNumber', code: evaluation.reason, message }],
            }),
          });
          continue;
        }
        const vaccine = vaccineByCode(entry.vaccine);
        const firstDose = person.doses.find((d) => d.dose_number === 1);
        const primary = firstDose ? vaccineByCode(firstDose.vaccine) : vaccine;
        const role = doseRole(vaccine, entry.doseNumber, entry.date, primary);
        const status = evaluation.outcome === 'claims_prior_dose' ? 'claims_prior_dose' : 'recorded';
        const vaccinationId = randomUUID();

        // A new valid number fills a record that has none (audited), unless the dose is held. It never
        // replaces a number on record: that becomes a change to confirm (a `phone_change` case, settled
        // by a code to the new number or by someone who knows the person: records/identity.ts). An
        // empty or unusable number changes nothing.
        const phone = phoneColumns(entry.person.phone);
        const differs = !st.created && phone.phone !== null && phone.phone !== person.phone;
        const phoneFill = differs && person.phone === null && !held;
        const phoneStatus = phoneFill ? 'ok' : person.phone_status;
        const currentPhone = phoneFill ? phone.phone : person.phone;
        const caseFacility = held ? knownFacility(person) : prepared.facilityCode;
        const phoneChange =
          differs && !phoneFill && !st.phoneChanges.has(phone.phone as string)
            ? { id: randomUUID(), detail: { newPhone: phone.phone, vaccinationId, requestedBy: prepared.facilityCode, source: ctx.source } }
            : null;
        // One open work-list case per person: the SQL skips people who have one, this skips a second entry of the same call.
        const phoneCase =
          currentPhone === null && !st.phoneCaseQueued ? { phoneStatus: phone.status, raw: phone.raw, issue: phoneIssueOf(entry) } : null;
        if (phoneCase) st.phoneCaseQueued = true;
        if (phoneChange) st.phoneChanges.add(phone.phone as string);
        if (phoneFill) audits.push({ personId: person.id, subject: vaccinationId, from: person.phone, to: currentPhone });

        planned.push({
          index,
          prepared,
          person: { ...person, doses: [] },
          created: st.created,
          vaccinationId,
          status,
          role,
          primary,
          missing: evaluation.outcome === 'claims_prior_dose' ? evaluation.missing : null,
          warnings: evaluation.warnings,
          currentPhone,
          phoneStatus,
          phoneCase,
          visible,
          held,
          caseFacility,
          phoneChange,
          issue: { name: person.name, birthDate: person.birth_date, vaccine, dn: role.dn, sd: role.sd, date: entry.date, issuedAt: ctx.now },
        });
        st.writes = true;
        // Later entries of this call see this dose and this phone.
        person.doses.push({
          id: vaccinationId,
          dose_number: entry.doseNumber,
          vaccine: entry.vaccine,
          date: entry.date,
          status,
          import_id: ctx.importId ?? null,
          import_line: prepared.importLine ?? null,
          facility_code: prepared.facilityCode,
          held,
        });
        person.doses.sort((a, b) => a.dose_number - b.dose_number);
        person.phone = currentPhone;
        person.phone_status = phoneStatus;
        st.created = false;
      }

      let written = new Set<string>();
      if (planned.length > 0) {
        const inputs = planned.map((p) => p.issue);
        const certs = ctx.sign ? await ctx.sign(inputs) : inputs.map((i) => deps.issuer.issue(i));
        if (certs.length !== planned.length) throw new Error(`signer returned ${certs.length} certificates for ${planned.length} doses`);
        const links = certs.map((c) => (c as SignedCertificate).linkToken ?? linkTokenFor(deps.linkSecret, c.id));
        const answers = planned.map((p, i) => answerOf(deps, p, certs[i] as IssuedCertificate, links[i] as string));
        // Stored with their keys as text, the bytes a replay answers (PostgreSQL need not parse them as JSON).
        const texts = planned.map((p, i) => (p.prepared.idempotencyKey === undefined ? null : JSON.stringify(answers[i])));
        // A batch of an import: the answers above and the rows below are each tens of milliseconds (turns.ts).
        if (planned.length > ROWS_PER_TURN) await nextTurn();
        if (!waited) {
          waited = true;
          await ctx.beforeWrite?.();
        }
        try {
          written = await writeDoses(q, ctx, planned, certs, links, answers, texts, [...states.values()].filter((s) => s.writes), audits);
        } catch (e) {
          if (!autocommit || !isRetryable(e)) throw e;
          // Lost a race the database noticed (a claimed key whose person moved, a deadlock): nothing was written.
        }
        for (const [i, p] of planned.entries()) {
          if (written.has(p.person.id)) outcomes[p.index] = { kind: 'recorded', answer: answers[i] as DoseAnswer, ...(texts[i] ? { json: texts[i] } : {}) };
        }
      }
      // A person written, or with nothing to write, is settled as judged; the others (changed meanwhile) go round again.
      const again: number[] = [];
      for (const st of states.values()) {
        const settled = !st.writes || written.has(st.person.id);
        for (const index of st.entries) {
          if (!settled) again.push(index);
          else if (!outcomes[index]) outcomes[index] = judged.get(index);
        }
      }
      pending = again.sort((a, b) => a - b);
    }
  } finally {
    ctx.onWritten?.();
  }
  return outcomes.map((o) => {
    if (!o) throw new Error('an entry has no outcome');
    return o;
  });
}

function keyOf(p: PreparedEntry): string {
  return personKey(p.entry.person.identifier, p.entry.person.birthDate, p.entry.person.name);
}

/** A conflict told to a caller who may not see the person: which dose is on record stays unsaid. */
const hiddenConflict = {
  en: 'This dose conflicts with a dose on record for this person; the facility that knows them, or the district, can resolve it.',
  id: 'Dosis ini bertentangan dengan dosis yang tercatat untuk orang ini; faskes yang mengenalnya, atau dinas, dapat menyelesaikannya.',
};

function contention(): AppError {
  return new AppError('unavailable', 'record_contention', {
    en: 'This person is being changed by many requests at once; try again shortly.',
    id: 'Data orang ini sedang diubah oleh banyak permintaan sekaligus; coba lagi sebentar lagi.',
  });
}

/** A dose as the write statement reads it (JSON): everything per row, the caller and the time included, so that rows of several calls can go in one statement. */
function doseRow(ctx: EntryContext, p: Planned, c: SignedCertificate, link: string) {
  const keyed = p.prepared.idempotencyKey !== undefined;
  return {
    person_id: p.person.id,
    id: p.vaccinationId,
    dose_number: p.prepared.entry.doseNumber,
    vaccine: p.prepared.entry.vaccine,
    date: p.prepared.entry.date,
    lot: p.prepared.entry.lot,
    facility_code: p.prepared.facilityCode,
    status: p.status,
    source: ctx.source,
    import_id: ctx.importId ?? null,
    import_line: p.prepared.importLine ?? null,
    recorded_by: ctx.principal.id,
    recorded_at: ctx.now.toISOString(),
    idempotency_key: p.prepared.idempotencyKey ?? null,
    request_hash: keyed ? (p.prepared.requestHash?.toString('hex') ?? null) : null,
    cert_id: c.id,
    uvci: c.uvci,
    kid: c.kid,
    dn: p.role.dn,
    sd: p.role.sd,
    expires_at: c.expiresAt.toISOString(),
    link_hash: linkHashHex(c, link),
    region_code: p.person.region_code,
    claim: p.missing ? { missing: p.missing, doseNumber: p.prepared.entry.doseNumber } : null,
    phone_case: p.phoneCase,
    held: p.held,
    case_facility: p.caseFacility,
    identity_case: p.held
      ? { sentName: p.prepared.entry.person.name, recordedBy: p.prepared.facilityCode, source: ctx.source, ...(p.prepared.importLine === undefined ? {} : { importLine: p.prepared.importLine }) }
      : null,
    phone_change_id: p.phoneChange?.id ?? null,
    phone_change: p.phoneChange?.detail ?? null,
    ...reminderOf(ctx, p),
  };
}

/**
 * The next-dose reminder a dose schedules (the notify worker's `reminder` job):
 * one per person and dose number, sent at 08:00 WIB on the due date, and only
 * when that date is still ahead (a dose entered late, from paper, schedules
 * none for a date already past). The job cancels itself when the dose is
 * recorded meanwhile.
 */
function reminderOf(ctx: EntryContext, p: Planned): { reminder: Record<string, unknown> | null; reminder_at: string | null } {
  const next = nextDoseOf(p);
  if (!next || next.due <= todayInJakarta(ctx.now)) return { reminder: null, reminder_at: null };
  return {
    reminder: { personId: p.person.id, doseNumber: next.doseNumber, vaccine: p.prepared.entry.vaccine, due: next.due },
    reminder_at: `${next.due}T01:00:00Z`, // 08:00 in Jakarta (UTC+7)
  };
}

/**
 * A person as the write statement reads it: every column, so that for one on
 * record the row proposed to the guard (never inserted: it conflicts on id)
 * carries what was read, with the phone as this call leaves it.
 */
function personRow(st: PersonState, at: string) {
  const p = st.person;
  return {
    id: p.id,
    /** The version read; null for a person to create. */
    version: st.creation ? null : p.version,
    key: st.creation?.key ?? null,
    id_type: p.id_type,
    id_value: p.id_value,
    id_country: p.id_country,
    nik_new: p.nik_new,
    name: p.name,
    birth_date: p.birth_date,
    sex: p.sex,
    phone: p.phone,
    phone_raw: st.creation?.phoneRaw ?? null,
    phone_status: p.phone_status,
    region_code: p.region_code,
    name_norm: st.creation?.nameNorm ?? null,
    name_key: st.creation?.nameKey ?? null,
    updated_at: st.creation ? null : at,
  };
}

/** The rows of one write: doses, their answers (text stored with their Idempotency-Key, else null), their people, phone changes. */
interface WriteRows {
  doses: ReturnType<typeof doseRow>[];
  /** Each dose's certificate (the bytes its HC1 text is the Base45 of, in base64: certificates.hc1), in dose order: apart from the JSON, as the answers (runWrite). */
  qrs: string[];
  answers: (string | null)[];
  people: ReturnType<typeof personRow>[];
  audits: { at: string; actor: string; person_id: string; subject: string; from_phone: string | null; to_phone: string | null }[];
}

/**
 * Writes the planned doses and everything that follows from them in ONE
 * statement: claims their Idempotency-Keys (storing the answer), moves the
 * version of each person from the value read — or creates the person, unless
 * someone else just did — and inserts the rows of the doses whose person it
 * could move or create; nothing for the others. Returns the ids of the people
 * written. A key claimed for a person that could not be written undoes the
 * whole statement (record_conflict, 40001): the key must not outlive its dose.
 *
 * On the client (no transaction) the write joins those of concurrent calls
 * (writeQueue); inside a transaction it runs at once.
 */
async function writeDoses(
  q: Queryable,
  ctx: EntryContext,
  planned: Planned[],
  certs: IssuedCertificate[],
  links: string[],
  answers: DoseAnswer[],
  texts: (string | null)[],
  people: PersonState[],
  audits: { personId: string; subject: string; from: string | null; to: string | null }[],
): Promise<Set<string>> {
  const at = ctx.now.toISOString();
  const doses: ReturnType<typeof doseRow>[] = [];
  const turns = new Turns();
  for (const [i, p] of planned.entries()) {
    if (turns.due()) await nextTurn();
    doses.push(doseRow(ctx, p, certs[i] as SignedCertificate, links[i] as string));
  }
  const write: WriteRows = {
    doses,
    qrs: certs.map((c) => storedHc1Base64(c)),
    answers: texts,
    people: people.map((st) => personRow(st, at)),
    audits: audits.map((a) => ({ at, actor: ctx.principal.id, person_id: a.personId, subject: a.subject, from_phone: a.from, to_phone: a.to })),
  };
  if (!isClient(q)) return runWrite(q, write);
  const done = await writeQueue(q).submit(write);
  if ('error' in done) throw done.error;
  return done.written;
}

/** Runs one write statement (see writeStatement); returns the ids of the people written. */
async function runWrite(q: Queryable, w: WriteRows): Promise<Set<string>> {
  const keyed = w.doses.some((d) => d.idempotency_key !== null);
  // The long texts of each dose — its certificate, and its answer when keyed — go as one text per kind,
  // in dose order, apart from the doses' JSON: PostgreSQL (15) reads a JSON string one character at a
  // time (~60 µs for an answer inside a JSON row), and splits a text at a separator in ~1 µs (measured
  // here). Neither can hold the separator: a certificate goes as base64, and JSON.stringify escapes every
  // control character.
  const params = [JSON.stringify(w.doses), JSON.stringify(w.people), w.qrs.join(TEXT_SEPARATOR)];
  if (keyed) params.push(w.answers.map((a) => a ?? '').join(TEXT_SEPARATOR));
  if (w.audits.length > 0) params.push(JSON.stringify(w.audits));
  const r = await q.query<{ written: string[] }>(
    writeStatement({
      keyed,
      creates: w.people.some((p) => p.version === null),
      claims: w.doses.some((d) => d.claim !== null),
      phoneCases: w.doses.some((d) => d.phone_case !== null),
      audits: w.audits.length > 0,
      reminders: w.doses.some((d) => d.reminder !== null),
      holds: w.doses.some((d) => d.held),
      phoneChanges: w.doses.some((d) => d.phone_change !== null),
    }),
    params,
  );
  return new Set(r.rows[0]?.written ?? []);
}

/**
 * Write statements of concurrent calls in flight at once on one database;
 * the others wait and go together. One gave the most doses per second here:
 * the larger the statement, the less each dose costs (measured, bench/record.ts).
 */
const WRITES_IN_FLIGHT = 1;
/** A write running longer than this (waiting for a row an import holds) no longer holds up the next (Coalescer). */
const WRITE_STALL_MS = 50;
/** The most doses one merged statement carries. */
const MAX_MERGED_DOSES = 256;

/**
 * Group commit for single entries. Each recorded dose costs PostgreSQL a
 * statement set-up, a round trip and a commit (a WAL flush) whatever its
 * size; so while WRITES_IN_FLIGHT writes run, the writes of other calls wait
 * and then go together as one statement — the same statement an import batch
 * runs, with the rows of several calls. A call still gets only its own
 * outcome (the people written), and two calls about the same person never
 * share a statement (the later one waits for the next). When a merged write
 * fails — one of its calls lost a race (record_conflict) — each call runs
 * again alone, so only the one that lost has to read again.
 */
function writeQueue(db: Db): Coalescer<WriteRows, WriteOutcome> {
  let queue = writeQueues.get(db);
  if (!queue) {
    queue = new Coalescer<WriteRows, WriteOutcome>(
      { limit: WRITES_IN_FLIGHT, stallMs: WRITE_STALL_MS },
      async (batch) => {
        if (batch.length === 1) return [{ written: await runWrite(db, batch[0] as WriteRows) }];
        const merged: WriteRows = { doses: [], qrs: [], answers: [], people: [], audits: [] };
        for (const w of batch) {
          merged.doses.push(...w.doses);
          merged.qrs.push(...w.qrs);
          merged.answers.push(...w.answers);
          merged.people.push(...w.people);
          merged.audits.push(...w.audits);
        }
        try {
          const written = await runWrite(db, merged);
          return batch.map(() => ({ written }));
        } catch {
          // Undone as a whole (one call lost a race, or one call's rows failed): each call runs
          // again alone, so that only the call concerned reads again or fails.
          const alone = await Promise.allSettled(batch.map((w) => runWrite(db, w)));
          // A call that fails alone must fail alone: hand the others their result, and it its error.
          return alone.map((r) => (r.status === 'fulfilled' ? { written: r.value } : { error: r.reason as unknown }));
        }
      },
      (batch, next) => {
        const doses = batch.reduce((n, w) => n + w.doses.length, 0);
        if (doses + next.doses.length > MAX_MERGED_DOSES) return false;
        // Calls about the same person (on record, or about to be created) or with the same key go one after the other.
        const taken = new Set(batch.flatMap((w) => [...w.people.map(personOf), ...w.doses.map(keyOfDose)]));
        return [...next.people.map(personOf), ...next.doses.map(keyOfDose)].every((k) => k === null || !taken.has(k));
      },
    );
    writeQueues.set(db, queue);
  }
  return queue;
}

const personOf = (p: WriteRows['people'][number]): string => (p.key === null ? `id ${p.id}` : `key ${p.key}`);
const keyOfDose = (d: WriteRows['doses'][number]): string | null => (d.idempotency_key === null ? null : `idempotency ${d.facility_code} ${d.idempotency_key}`);

/** What became of one call's write in a merged statement. */
type WriteOutcome = { written: Set<string> } | { error: unknown };

const writeQueues = new WeakMap<Db, Coalescer<WriteRows, WriteOutcome>>();

/** Which optional parts a write needs: a statement carries only those (each part costs PostgreSQL its set-up on every run). */
interface WriteParts {
  /** Some entry has an Idempotency-Key to claim. */
  keyed: boolean;
  /** Some person is new. */
  creates: boolean;
  /** Some dose claims an earlier one (a case opens). */
  claims: boolean;
  /** Some dose leaves its person without a usable phone (a work-list case opens). */
  phoneCases: boolean;
  /** Some person's phone changes (audited). */
  audits: boolean;
  /** Some dose schedules a next-dose reminder. */
  reminders: boolean;
  /** Some dose is held: its name did not match the record (a `name_mismatch` case, no SMS yet). */
  holds: boolean;
  /** Some dose brings a number other than the one on record (a `phone_change` case). */
  phoneChanges: boolean;
}

const writeStatements = new Map<string, string>();

/** The columns of a dose as the write statement reads it (doseRow). */
const DOSE_COLUMNS = [
  'person_id uuid', 'id uuid', 'dose_number int', 'vaccine text', 'date date', 'lot text', 'facility_code text', 'status text', 'source text',
  'import_id uuid', 'import_line int', 'recorded_by uuid', 'recorded_at timestamptz', 'idempotency_key text', 'request_hash text',
  'cert_id uuid', 'uvci text', 'kid text', 'dn int', 'sd int', 'expires_at timestamptz', 'link_hash text', 'region_code text',
  'claim jsonb', 'phone_case jsonb', 'reminder jsonb', 'reminder_at timestamptz',
  'held boolean', 'case_facility text', 'identity_case jsonb', 'phone_change_id uuid', 'phone_change jsonb',
];
/** Between the certificates, and between the answers, of one write (ASCII record separator; see runWrite). */
const TEXT_SEPARATOR = '\x1e';

/**
 * The one statement that writes a call's doses (see writeDoses), made of the
 * parts it needs. Parameters: $1 doses (JSON), $2 their people (JSON), $3
 * their certificates (text, see runWrite), then with `keyed` the answers
 * (text) and with `audits` the phone changes (JSON). Built once per combination of parts, so each is one
 * prepared statement per connection.
 *
 * Plans: the statement runs its generic plan, made once per connection and
 * blind to how many rows come (it assumes a hundred). So every step that
 * touches a table is an index probe by construction — ON CONFLICT arbiters,
 * inserts — and every step between the parameter rows is a filter on an
 * array (`= ANY (ARRAY(…))`), never a join the planner could cost as a hash
 * or a sequential scan.
 */
function writeStatement(parts: WriteParts): string {
  const id = Object.values(parts).map((v) => (v ? 1 : 0)).join('');
  let sql = writeStatements.get(id);
  if (sql !== undefined) return sql;
  // $4 and on: the optional parameters in the order runWrite passes them.
  const auditsParam = parts.audits ? (parts.keyed ? '$5' : '$4') : '';
  const split = (param: string) => `unnest(string_to_array(${param}, chr(${TEXT_SEPARATOR.charCodeAt(0)})))`;
  const ctes = [
    // The doses, each beside its certificate and answer: ROWS FROM pairs the n-th row of each function.
    `d AS (
       SELECT * FROM ROWS FROM (json_to_recordset($1::json) AS (${DOSE_COLUMNS.join(', ')}), ${split('$3')}${parts.keyed ? `, ${split('$4')}` : ''})
         AS d(${DOSE_COLUMNS.map((c) => c.split(' ')[0]).join(', ')}, qr${parts.keyed ? ', answer' : ''}))`,
    `u AS (
       SELECT * FROM json_to_recordset($2::json)
         AS u(id uuid, version int, key text, id_type text, id_value text, id_country text, nik_new boolean, name text, birth_date date,
              sex text, phone text, phone_raw text, phone_status text, region_code text, name_norm text, name_key text,
              updated_at timestamptz))`,
  ];
  if (parts.keyed) {
    ctes.push(
      `idem AS (
         INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response, person_id)
         SELECT d.facility_code, d.idempotency_key, decode(d.request_hash, 'hex'), 201, d.answer, d.person_id
           FROM d
          WHERE d.idempotency_key IS NOT NULL
          ORDER BY d.facility_code, d.idempotency_key
         ON CONFLICT DO NOTHING RETURNING scope, key, person_id)`,
      // A person is written only when every key of their entries was claimed: a key seen before is answered by its first answer.
      `ready AS (
         SELECT * FROM u WHERE u.id <> ALL (ARRAY(
           SELECT d.person_id FROM d
            WHERE d.idempotency_key IS NOT NULL
              AND d.facility_code || E'\n' || d.idempotency_key <> ALL (ARRAY(SELECT scope || E'\n' || key FROM idem)))))`,
    );
  } else ctes.push('ready AS (SELECT * FROM u)');
  if (parts.creates) {
    // Keys in sorted order: two statements creating overlapping sets wait, never deadlock.
    ctes.push(`pk AS (
       INSERT INTO person_keys (key, person_id) SELECT key, id FROM ready WHERE version IS NULL ORDER BY key
       ON CONFLICT DO NOTHING RETURNING person_id)`);
  }
  // The guard. A person on record conflicts on id, and the update moves their version only if it is
  // still the one read; a new person is inserted if their key was. Either way an index probe, and
  // rows are taken in id order (no deadlock between two writers of the same people).
  ctes.push(
    `person AS (
       INSERT INTO people AS p (id, id_type, id_value, id_country, nik_new, name, birth_date, sex, phone, phone_raw, phone_status,
                                region_code, name_norm, name_key, version, updated_at)
       SELECT r.id, r.id_type, r.id_value, r.id_country, r.nik_new, r.name, r.birth_date, r.sex, r.phone, r.phone_raw, r.phone_status,
              r.region_code, r.name_norm, r.name_key, coalesce(r.version, 0), coalesce(r.updated_at, now())
         FROM ready r WHERE r.version IS NOT NULL${parts.creates ? ' OR r.id = ANY (ARRAY(SELECT person_id FROM pk))' : ''}
        ORDER BY r.id
       ON CONFLICT (id) DO UPDATE
         SET version = p.version + 1, phone = excluded.phone, phone_status = excluded.phone_status,
             updated_at = CASE WHEN excluded.phone IS DISTINCT FROM p.phone THEN excluded.updated_at ELSE p.updated_at END
         WHERE p.version = excluded.version
       RETURNING p.id)`,
    `w AS (SELECT * FROM d WHERE d.person_id = ANY (ARRAY(SELECT id FROM person)))`,
    `vac AS (
       INSERT INTO vaccinations (person_id, id, dose_number, vaccine, date, lot, facility_code, status, source, import_id, import_line,
                                 recorded_by, recorded_at, idempotency_key${parts.holds ? ', identity_held' : ''})
       SELECT person_id, id, dose_number, vaccine, date, lot, facility_code, status, source, import_id, import_line,
              recorded_by, recorded_at, idempotency_key${parts.holds ? ', held' : ''} FROM w)`,
    `cert AS (
       INSERT INTO certificates (person_id, id, vaccination_id, uvci, kid, hc1, dn, sd, issued_at, expires_at, status)
       SELECT person_id, cert_id, id, uvci, kid, decode(qr, 'base64'), dn, sd, recorded_at, expires_at, ${parts.holds ? "CASE WHEN held THEN 'held' ELSE 'valid' END" : "'valid'"} FROM w)`,
    `uv AS (INSERT INTO certificate_uvcis (uvci, person_id, certificate_id) SELECT uvci, person_id, cert_id FROM w)`,
    `link AS (INSERT INTO link_tokens (token_hash, person_id, certificate_id) SELECT decode(link_hash, 'hex'), person_id, cert_id FROM w)`,
    `job AS (
       INSERT INTO jobs (kind, payload, dedupe_key, person_id)
       SELECT 'notify', json_build_object('personId', person_id, 'certificateId', cert_id)::jsonb, 'notify:' || cert_id::text, person_id FROM w${parts.holds ? ' WHERE NOT held' : ''})`,
    // The hand-off to SATUSEHAT (satusehat/sync.ts), while it is on for this database: each dose's sync state and its
    // job in the lowest lane, in this same write. A held dose waits for its case (records/identity.ts queues it).
    `ss AS (
       INSERT INTO satusehat_sync (vaccination_id, person_id, facility_code, queued_at)
       SELECT id, person_id, facility_code, recorded_at FROM w
        WHERE EXISTS (SELECT 1 FROM settings WHERE key = '${SYNC_SETTING}')${parts.holds ? ' AND NOT held' : ''}
       RETURNING vaccination_id, person_id)`,
    `ssj AS (
       INSERT INTO jobs (kind, payload, dedupe_key, person_id, lane, max_attempts)
       SELECT 'satusehat_sync', json_build_object('personId', person_id, 'vaccinationId', vaccination_id)::jsonb, 'satusehat:' || vaccination_id::text,
              person_id, 'sync', ${SYNC_MAX_ATTEMPTS} -- laneOf('satusehat_sync')
         FROM ss
       ON CONFLICT (dedupe_key) DO NOTHING)`,
  );
  if (parts.creates) {
    // A new person whose folded name and birth date are already on record under another identifier:
    // a possible duplicate on the work list of the facility that recorded them (at most 5 pairs each;
    // two such people created in one statement are left to the scan, cases.ts).
    ctes.push(`dup AS (
       INSERT INTO cases (person_id, id, kind, facility_code, region_code, subject_id, detail)
       SELECT n.id, gen_random_uuid(), 'possible_duplicate', (SELECT w.facility_code FROM w WHERE w.person_id = n.id LIMIT 1), n.region_code, o.id,
              json_build_object('otherPersonId', o.id, 'otherName', o.name, 'birthDate', n.birth_date, 'found', 'entry')::jsonb
         FROM ready n
        CROSS JOIN LATERAL (
              SELECT o.id, o.name FROM people o
               WHERE o.birth_date = n.birth_date AND o.name_key = n.name_key AND o.merged_into IS NULL
               ORDER BY o.created_at, o.id LIMIT 5) o
        WHERE n.version IS NULL AND n.name_key IS NOT NULL AND n.id = ANY (ARRAY(SELECT person_id FROM pk)))`);
  }
  if (parts.claims) {
    ctes.push(`claim AS (
       INSERT INTO cases (person_id, id, kind, facility_code, region_code, subject_id, detail)
       SELECT person_id, gen_random_uuid(), 'claims_prior_dose', case_facility, region_code, id, claim FROM w WHERE claim IS NOT NULL)`);
  }
  if (parts.phoneCases) {
    ctes.push(`phonecase AS (
       INSERT INTO cases (person_id, id, kind, facility_code, region_code, subject_id, detail)
       SELECT person_id, gen_random_uuid(), 'invalid_phone', case_facility, region_code, id, phone_case FROM w
        WHERE phone_case IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.person_id = w.person_id AND c.kind = 'invalid_phone' AND c.status = 'open'))`);
  }
  if (parts.reminders) {
    ctes.push(`rem AS (
       INSERT INTO jobs (kind, payload, dedupe_key, run_at, person_id, lane)
       SELECT 'reminder', reminder, 'reminder:' || person_id::text || ':' || (reminder->>'doseNumber'), reminder_at, person_id, 'notice' -- laneOf('reminder')
         FROM w WHERE reminder IS NOT NULL${parts.holds ? ' AND NOT held' : ''}
       ON CONFLICT (dedupe_key) DO NOTHING)`);
  }
  if (parts.holds) {
    // The held dose's certificate and its reminder wait in the case until it is settled (records/identity.ts).
    ctes.push(`held AS (
       INSERT INTO cases (person_id, id, kind, facility_code, region_code, subject_id, detail)
       SELECT person_id, gen_random_uuid(), 'name_mismatch', case_facility, region_code, id,
              identity_case || jsonb_build_object('certificateId', cert_id, 'reminder', reminder, 'reminderAt', reminder_at)
         FROM w WHERE held)`);
  }
  if (parts.phoneChanges) {
    ctes.push(`phonechange AS (
       INSERT INTO cases (person_id, id, kind, facility_code, region_code, subject_id, detail)
       SELECT person_id, phone_change_id, 'phone_change', case_facility, region_code, id, phone_change FROM w WHERE phone_change IS NOT NULL)`);
  }
  if (parts.audits) {
    ctes.push(`au AS (
       INSERT INTO audit_log (at, actor, action, subject, person_id, detail)
       SELECT a.at, a.actor, 'phone_changed', a.subject, a.person_id, json_build_object('from', a.from_phone, 'to', a.to_phone)::jsonb
         FROM json_to_recordset(${auditsParam}::json) AS a(at timestamptz, actor text, person_id uuid, subject text, from_phone text, to_phone text)
        WHERE a.person_id = ANY (ARRAY(SELECT id FROM person)))`);
  }
  // A key claimed for a person that could not be written: undo the whole statement (record_conflict raises 40001).
  const conflict = parts.keyed
    ? `CASE WHEN EXISTS (SELECT 1 FROM idem WHERE idem.person_id <> ALL (ARRAY(SELECT id FROM person))) THEN record_conflict() END`
    : 'NULL';
  sql = `WITH ${ctes.join(',\n     ')}
     SELECT ARRAY(SELECT id FROM person)::text[] AS written, ${conflict} AS conflict`;
  writeStatements.set(id, sql);
  return sql;
}

/** The next dose due after a planned one (from the person's series on record). */
function nextDoseOf(p: Planned): DoseAnswer['nextDose'] {
  const entry = p.prepared.entry;
  return nextDoseDue({ doseNumber: entry.doseNumber, date: entry.date, vaccine: vaccineByCode(entry.vaccine), primary: p.primary });
}

/**
 * The answer of a planned dose, complete before it is written (it is stored
 * with its Idempotency-Key). A caller who could not see the person gets back
 * only what it sent: no id, no name, phone or doses on record (the dose
 * role, the next dose and the interval warnings follow from those), and a
 * held dose has no certificate yet (it carries the name on record).
 */
function answerOf(deps: RecordDeps, p: Planned, cert: IssuedCertificate, linkToken: string): DoseAnswer {
  const entry = p.prepared.entry;
  const idv = entry.person.identifier;
  const identifier = { type: idv.type, value: idv.value, ...(idv.type === 'passport' ? { country: idv.country } : {}) };
  const sent = phoneColumns(entry.person.phone);
  const person: DoseAnswer['person'] = p.visible
    ? {
        id: p.person.id,
        identifier,
        name: p.person.name,
        birthDate: p.person.birth_date,
        sex: p.person.sex,
        phone: p.currentPhone,
        phoneStatus: p.phoneStatus,
        created: p.created,
      }
    : { identifier, name: entry.person.name, birthDate: entry.person.birthDate, sex: entry.person.sex, phone: sent.phone, phoneStatus: sent.status, created: false };
  return {
    vaccination: {
      id: p.vaccinationId,
      status: p.visible ? p.status : 'recorded',
      ...(p.held ? { held: 'identity_review' as const } : {}),
      doseNumber: entry.doseNumber,
      vaccine: entry.vaccine,
      date: entry.date,
      lot: entry.lot,
      facility: p.prepared.facilityCode,
      recordedAt: cert.issuedAt.toISOString(),
      role: p.visible ? p.role.role : 'primary',
      ...(p.missing && p.visible ? { missingPriorDoses: p.missing } : {}),
    },
    person,
    certificate: p.held ? null : {
      id: cert.id,
      uvci: cert.uvci,
      qr: cert.qr,
      link: `${deps.publicUrl}/c/${linkToken}`,
      kid: cert.kid,
      dn: p.role.dn,
      sd: p.role.sd,
      issuedAt: cert.issuedAt.toISOString(),
      expiresAt: cert.expiresAt.toISOString(),
    },
    nextDose: p.visible && !p.held ? nextDoseOf(p) : null,
    ...(p.phoneChange ? { phoneChange: { id: p.phoneChange.id, status: 'pending' as const } } : {}),
    warnings: [...(p.visible ? p.warnings : []), ...(p.held ? [identityWarning] : []), ...(p.phoneChange ? [phoneChangeWarning] : []), ...phoneWarnings(entry)],
  };
}

const identityWarning: FieldIssue = {
  path: 'person.name',
  code: 'name_mismatch',
  message: {
    en: 'The name does not match the record of this identifier: the dose is recorded, its certificate and SMS wait until the name is confirmed on the work list.',
    id: 'Nama tidak cocok dengan data untuk identitas ini: dosis tercatat, sertifikat dan SMS-nya menunggu nama dikonfirmasi di daftar kerja.',
  },
};

const phoneChangeWarning: FieldIssue = {
  path: 'person.phone',
  code: 'phone_change_pending',
  message: {
    en: 'Another number is on record: it is kept until the new number is confirmed (a code sent to it, or the work list).',
    id: 'Nomor lain sudah tercatat: nomor itu tetap dipakai sampai nomor baru dikonfirmasi (kode yang dikirim ke nomor baru, atau daftar kerja).',
  },
};

function phoneIssueOf(entry: VaccinationInput): FieldIssue | null {
  return entry.person.phone.status === 'invalid' ? entry.person.phone.issue : null;
}

function phoneWarnings(entry: VaccinationInput): FieldIssue[] {
  const p = entry.person.phone;
  if (p.status === 'missing')
    return [
      {
        path: 'person.phone',
        code: 'phone_missing',
        message: {
          en: 'No phone number: the dose is recorded, but no SMS can be sent; the person is on the work list.',
          id: 'Tidak ada nomor HP: dosis tercatat, tetapi SMS tidak dapat dikirim; orang ini masuk daftar kerja.',
        },
      },
    ];
  if (p.status === 'invalid') return [p.issue];
  return [];
}
