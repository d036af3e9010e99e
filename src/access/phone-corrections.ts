/**
 * "The code never reaches me": the wrong or lost phone (issue 6, item 3).
 *
 * A person whose number on record is wrong, lost or was never theirs gives
 * NIK, birth date, full name and a new number on the portal. A one-time code
 * goes to the NEW number (notify/codes.ts, purpose `phone_correction`); the
 * right code proves they hold it and files a correction request on the
 * support work list with everything they entered, plus — for support only —
 * whether NIK + birth date matched a person and how well the name matches.
 *
 * The public answers read alike whether or not the NIK matches anyone: the
 * code goes to the number the person typed either way, the answer names only
 * that number masked, and every answer waits the same floor as the lookup.
 * Requests are rate-limited per NIK, per new number and per client address.
 *
 * Support approves (the phone is changed by records/operations.ts
 * `correctPhone` in the same transaction as the decision, and the
 * certificate SMS with its link goes to the new number) or declines with a
 * reason (an SMS to the new number that names no one). Until approved,
 * nothing about a person is sent to the new number: only the code, and the
 * decline notice. A decided request cannot be decided again (409).
 */
import type { Db, Queryable } from '../db/client.ts';
import { AppError, issue, type FieldIssue } from '../domain/errors.ts';
import { isIsoDate } from '../domain/dates.ts';
import { nameKey, normalizeName } from '../domain/names.ts';
import { normalizePhone } from '../domain/phone.ts';
import { enqueueCodeSms, type CodeCheck } from '../notify/codes.ts';
import { enqueue } from '../notify/outbox.ts';
import type { CorrectionDeclineReason } from '../notify/templates.ts';
import { correctPhone, type OpsDeps } from '../records/operations.ts';
import { maskPhone } from '../domain/masking.ts';
import { audit } from './audit.ts';
import { answerFloor } from './portal.ts';
import { namedIdentity, type NamedIdentity } from './identity.ts';
import { lockLimitKeys } from './limits.ts';
import type { Principal } from './tokens.ts';

export const CORRECTIONS_PER_NIK_PER_DAY = 3;
export const CORRECTIONS_PER_PHONE_PER_DAY = 3;
export const CORRECTIONS_PER_CLIENT_PER_10_MIN = 10;
export const CODE_PURPOSE = 'phone_correction';
/**
 * The name score (nameScore) from which one reviewer may approve: every word
 * of the record's name given, in some spelling (0.8 is "all words, another
 * order"; "Budi" for "Budi Santoso" is 0.4). Below it, two different reviewers
 * must approve: anyone who read a NIK and a birth date somewhere could file
 * a request naming half a name, with a number of their own.
 */
export const MIN_SINGLE_APPROVAL_SCORE = 0.8;
export const DECLINE_REASONS: readonly CorrectionDeclineReason[] = ['identity_mismatch', 'duplicate_request', 'other'];
export const CORRECTION_STATUSES = ['open', 'approved', 'declined'] as const;
export type CorrectionStatus = (typeof CORRECTION_STATUSES)[number];

export interface CorrectionDeps {
  db: Db;
  /** notify's code check (codes.ts `checkCode` with the secret). */
  checkCode(requestId: string, code: string, purpose?: string): Promise<CodeCheck>;
  /** What `correctPhone` needs to change the number on approval. */
  ops: OpsDeps;
  /** How the floor is waited out (portal.ts answerFloor): a timer unless set. */
  sleep?: (ms: number) => Promise<void>;
}

/** A request as support sees it (the contract of the console's support page). */
export interface PhoneCorrection {
  id: string;
  status: CorrectionStatus;
  submittedAt: string | null;
  entered: {
    /** The NIK entered; null when the person gave another identifier. */
    nik: string | null;
    identifier: { type: 'nik' | 'passport' | 'mother-nik'; value: string; country?: string };
    birthDate: string;
    name: string;
    newPhone: string;
    note: string | null;
  };
  match: { personId: string | null; nameScore: number | null; currentPhoneHint: string | null };
  /**
   * Approval: `single` when the name matches well enough for one reviewer
   * (MIN_SINGLE_APPROVAL_SCORE), else `two_reviewers`, with who approved first.
   */
  review: { approval: 'single' | 'two_reviewers'; minScore: number; firstApprovedBy: string | null; firstApprovedAt: string | null };
  decidedBy: string | null;
  decidedAt: string | null;
  reason: CorrectionDeclineReason | null;
  reasonText: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** 400 naming every field at fault (the public contract: format errors are 400 and say nothing about anyone). */
function badInput(fields: FieldIssue[]): AppError {
  return new AppError(
    'bad_request',
    'validation_failed',
    { en: `Please check: ${fields.map((f) => f.path).join(', ')}`, id: `Mohon periksa: ${fields.map((f) => f.path).join(', ')}` },
    { fields },
  );
}

const notFound = (): AppError =>
  new AppError('not_found', 'phone_correction_not_found', { en: 'No such phone change request.', id: 'Permintaan ganti nomor HP tidak ditemukan.' });

/**
 * How well an entered name matches the name on record, 0..1, with the
 * spelling folds of domain/names.ts: 1 the same once normalised, 0.9 the same
 * name in another spelling (Djoko / Joko, Nur Aini / Nuraini), else 0.8 × the
 * share of words that match (a missing or extra word, a different name).
 */
export function nameScore(entered: string, recorded: string): number {
  if (normalizeName(entered) === normalizeName(recorded)) return 1;
  if (nameKey(entered) === nameKey(recorded)) return 0.9;
  const words = (n: string) => normalizeName(n).split(' ').filter(Boolean).map(nameKey);
  const a = words(entered);
  const b = words(recorded);
  if (a.length === 0 || b.length === 0) return 0;
  const left = [...b];
  let same = 0;
  for (const w of a) {
    const i = left.indexOf(w);
    if (i >= 0) {
      same++;
      left.splice(i, 1);
    }
  }
  return Math.round((80 * same) / Math.max(a.length, b.length)) / 100;
}

interface StartInput {
  nik?: unknown;
  /** For someone without a NIK: a passport, or (a child) the mother's NIK; `name` is then the child's. */
  identifier?: unknown;
  birthDate: unknown;
  name: unknown;
  newPhone: unknown;
  note?: unknown;
  client: string;
}

/** Checks what the person typed; format only (nothing here depends on who exists). */
function checkInput(i: StartInput): { who: NamedIdentity; birthDate: string; name: string; phone: string; note: string | null } {
  const problems: FieldIssue[] = [];
  const bd = isIsoDate(i.birthDate) ? i.birthDate : null;
  if (bd === null) problems.push(issue('birthDate', 'date', 'Birth date as YYYY-MM-DD.', 'Tanggal lahir dengan format YYYY-MM-DD.'));
  const name = typeof i.name === 'string' ? i.name.trim().replace(/\s+/g, ' ') : '';
  if (name.length < 2 || name.length > 100 || !/\p{L}/u.test(name))
    problems.push(issue('name', 'name_required', 'Your full name as on your ID card (2–100 characters).', 'Nama lengkap sesuai KTP (2–100 karakter).'));
  const who = namedIdentity(i, bd, name, problems);
  const p = normalizePhone(i.newPhone, 'newPhone');
  if (!p.ok) problems.push(p.issue);
  else if (!p.e164) problems.push(issue('newPhone', 'required', 'Give your new mobile number.', 'Isi nomor HP Anda yang baru.'));
  let note: string | null = null;
  if (i.note !== undefined && i.note !== null) {
    if (typeof i.note !== 'string' || i.note.length > 500) problems.push(issue('note', 'note_too_long', 'A note of at most 500 characters.', 'Catatan paling banyak 500 karakter.'));
    else note = i.note.trim() || null;
  }
  if (problems.length > 0 || !p.ok || !p.e164 || !who || bd === null) throw badInput(problems);
  return { who, birthDate: bd, name, phone: p.e164, note };
}

/** The live person a person key and birth date name (a request's match), if any. */
async function personNamed(q: Queryable, key: string, birthDate: string): Promise<{ id: string; name: string } | undefined> {
  const r = await q.query<{ id: string; name: string }>(
    `SELECT p.id, p.name FROM person_keys k JOIN people p ON p.id = k.person_id
      WHERE k.key = $1 AND p.birth_date = $2::date AND p.merged_into IS NULL LIMIT 1`,
    [key, birthDate],
  );
  return r.rows[0];
}

/**
 * Files an unverified request and sends a code to the new number; always
 * `{requestId, phoneHint}` (the new number masked), the same whether or not
 * NIK + birth date match anyone, after the same floor as the lookup.
 */
export async function startCorrection(deps: CorrectionDeps, input: StartInput): Promise<{ requestId: string; phoneHint: string }> {
  const floor = answerFloor(deps.sleep);
  const v = checkInput(input);
  const result = await deps.db.withTransaction(async (tx) => {
    // Counted under a lock on each thing counted: a burst is counted one by one (limits.ts).
    await lockLimitKeys(tx, [`correction-id:${v.who.identifier.type}:${v.who.identifier.value}`, `correction-phone:${v.phone}`, `correction-client:${input.client}`]);
    const counts = await tx.query<{ per_nik: number; per_phone: number; per_client: number }>(
      `SELECT (SELECT count(*) FROM phone_corrections WHERE nik = $1 AND id_type = $4 AND created_at > now() - interval '1 day')::int8 AS per_nik,
              (SELECT count(*) FROM phone_corrections WHERE new_phone = $2 AND created_at > now() - interval '1 day')::int8 AS per_phone,
              (SELECT count(*) FROM phone_corrections WHERE client = $3 AND created_at > now() - interval '10 minutes')::int8 AS per_client`,
      [v.who.identifier.value, v.phone, input.client, v.who.identifier.type],
    );
    const c = counts.rows[0]!;
    if (c.per_nik >= CORRECTIONS_PER_NIK_PER_DAY || c.per_phone >= CORRECTIONS_PER_PHONE_PER_DAY || c.per_client >= CORRECTIONS_PER_CLIENT_PER_10_MIN) return 'limited' as const;
    const person = await personNamed(tx, v.who.key, v.birthDate);
    // The code is not tied to the person: it proves the new number, and files nothing on the person's record.
    const q = await enqueueCodeSms(tx, { personId: null, phone: v.phone, purpose: CODE_PURPOSE });
    await tx.query(
      `INSERT INTO phone_corrections (id, nik, id_type, id_country, person_key, birth_date, name, new_phone, note, client, person_id, name_score)
       VALUES ($1, $2, $3, $4, $5, $6::date, $7, $8, $9, $10, $11, $12)`,
      [
        q.requestId,
        v.who.identifier.value,
        v.who.identifier.type,
        v.who.identifier.type === 'passport' ? v.who.identifier.country : null,
        v.who.key,
        v.birthDate,
        v.name,
        v.phone,
        v.note,
        input.client,
        person?.id ?? null,
        person ? nameScore(v.name, person.name) : null,
      ],
    );
    return { requestId: q.requestId, phoneHint: maskPhone(v.phone) ?? '' };
  });
  await floor();
  if (result === 'limited')
    throw new AppError('rate_limited', 'too_many_requests', {
      en: 'Too many phone change requests. Try again tomorrow, or visit your health facility.',
      id: 'Terlalu banyak permintaan ganti nomor HP. Coba lagi besok, atau datang ke faskes Anda.',
    });
  return result;
}

/**
 * The code sent to the new number: right → the request goes to the support
 * work list (`open`); wrong → 400 with the tries left; expired or out of
 * tries → 410 (start again); already submitted → 409.
 */
export async function verifyCorrection(deps: CorrectionDeps, requestId: string, code: unknown): Promise<{ status: 'submitted' }> {
  if (!UUID.test(requestId)) throw notFound();
  const r = await deps.db.query<{ status: string; person_id: string | null }>('SELECT status, person_id FROM phone_corrections WHERE id = $1', [requestId]);
  const row = r.rows[0];
  if (!row) throw notFound();
  const submitted = () =>
    new AppError('conflict', 'already_submitted', { en: 'This request was already sent to our support team.', id: 'Permintaan ini sudah dikirim ke tim dukungan kami.' });
  if (row.status !== 'unverified') throw submitted();
  const typed = typeof code === 'string' ? code.replace(/\s/g, '') : '';
  if (!/^\d{6}$/.test(typed))
    throw badInput([issue('code', 'code_format', 'The code has 6 digits.', 'Kode terdiri dari 6 angka.')]);
  const check = await deps.checkCode(requestId, typed, CODE_PURPOSE);
  if (check.ok) {
    await deps.db.withTransaction(async (tx) => {
      await tx.query("UPDATE phone_corrections SET status = 'open', submitted_at = now() WHERE id = $1 AND status = 'unverified'", [requestId]);
      await audit(tx, { actor: 'portal', action: 'phone_correction_submitted', subject: requestId, personId: row.person_id, detail: {} });
    });
    return { status: 'submitted' };
  }
  switch (check.reason) {
    case 'wrong': {
      // Counted by checkCode on the row it locked: right under concurrent tries.
      const attemptsLeft = check.remaining;
      throw new AppError(
        'bad_request',
        'code_invalid',
        { en: `The code is wrong. ${attemptsLeft} tries left.`, id: `Kode salah. Sisa ${attemptsLeft} kali percobaan.` },
        { fields: [issue('code', 'code_invalid', 'wrong code', 'kode salah')], detail: { attemptsLeft } },
      );
    }
    case 'expired':
    case 'too_many':
      throw new AppError('gone', 'code_expired', {
        en: 'This code is no longer valid. Start again to get a new code.',
        id: 'Kode ini sudah tidak berlaku. Mulai lagi untuk mendapat kode baru.',
      });
    case 'used':
      throw submitted();
    case 'unknown':
    case 'wrong_purpose':
      throw notFound();
    default:
      return check satisfies never;
  }
}

interface CorrectionRow extends Record<string, unknown> {
  id: string;
  status: CorrectionStatus;
  submitted_at: Date | null;
  nik: string;
  id_type: 'nik' | 'passport' | 'mother-nik';
  id_country: string | null;
  birth_date: string;
  name: string;
  new_phone: string;
  note: string | null;
  person_id: string | null;
  name_score: number | null;
  current_phone: string | null;
  decided_by: string | null;
  decided_at: Date | null;
  reason: CorrectionDeclineReason | null;
  reason_text: string | null;
  first_approved_by: string | null;
  first_approved_at: Date | null;
}

// The matched person followed through a merge since (one hop: merges point at the survivor).
const SELECT = `SELECT c.id, c.status, c.submitted_at, c.nik, c.id_type, c.id_country, c.birth_date::text AS birth_date, c.name, c.new_phone, c.note,
                       coalesce(p0.merged_into, p0.id) AS person_id, c.name_score, p.phone AS current_phone,
                       c.decided_by, c.decided_at, c.reason, c.reason_text, c.first_approved_by, c.first_approved_at
                  FROM phone_corrections c
                  LEFT JOIN people p0 ON p0.id = c.person_id
                  LEFT JOIN people p ON p.id = coalesce(p0.merged_into, p0.id)`;

function view(r: CorrectionRow): PhoneCorrection {
  return {
    id: r.id,
    status: r.status,
    submittedAt: r.submitted_at?.toISOString() ?? null,
    entered: {
      nik: r.id_type === 'nik' ? r.nik : null,
      identifier: { type: r.id_type, value: r.nik, ...(r.id_country ? { country: r.id_country } : {}) },
      birthDate: r.birth_date,
      name: r.name,
      newPhone: r.new_phone,
      note: r.note,
    },
    match: { personId: r.person_id, nameScore: r.name_score === null ? null : Number(r.name_score), currentPhoneHint: maskPhone(r.current_phone) },
    review: {
      approval: singleApproval(r.name_score) ? 'single' : 'two_reviewers',
      minScore: MIN_SINGLE_APPROVAL_SCORE,
      firstApprovedBy: r.first_approved_by,
      firstApprovedAt: r.first_approved_at?.toISOString() ?? null,
    },
    decidedBy: r.decided_by,
    decidedAt: r.decided_at?.toISOString() ?? null,
    reason: r.reason,
    reasonText: r.reason_text,
  };
}

/** Whether one reviewer may approve a request whose name scored `score` (null: matched no one when filed). */
function singleApproval(score: number | string | null): boolean {
  return score !== null && Number(score) >= MIN_SINGLE_APPROVAL_SCORE;
}

/** The support work list: open requests oldest first; decided ones newest decision first (at most 500). */
export async function listCorrections(db: Queryable, status: unknown = 'open'): Promise<{ items: PhoneCorrection[] }> {
  if (typeof status !== 'string' || !(CORRECTION_STATUSES as readonly string[]).includes(status))
    throw badInput([issue('status', 'status_invalid', `status: ${CORRECTION_STATUSES.join(' | ')}.`, `status: ${CORRECTION_STATUSES.join(' | ')}.`)]);
  const order = status === 'open' ? 'c.submitted_at, c.id' : 'c.decided_at DESC, c.id';
  const r = await db.query<CorrectionRow>(`${SELECT} WHERE c.status = $1 ORDER BY ${order} LIMIT 500`, [status]);
  return { items: r.rows.map(view) };
}

/** One filed request (an unverified one is not filed yet: 404). */
export async function getCorrection(db: Queryable, id: string): Promise<PhoneCorrection> {
  if (!UUID.test(id)) throw notFound();
  const r = await db.query<CorrectionRow>(`${SELECT} WHERE c.id = $1 AND c.status <> 'unverified'`, [id]);
  if (!r.rows[0]) throw notFound();
  return view(r.rows[0]);
}

/** Locks a filed, open request for a decision: 404 unknown or unverified, 409 already decided. */
interface OpenRow extends Record<string, unknown> {
  status: string;
  person_id: string | null;
  new_phone: string;
  person_key: string;
  birth_date: string;
  name: string;
  first_approved_by: string | null;
}

async function lockOpen(tx: Queryable, id: string): Promise<OpenRow> {
  if (!UUID.test(id)) throw notFound();
  const r = await tx.query<OpenRow>(
    'SELECT status, person_id, new_phone, person_key, birth_date::text AS birth_date, name, first_approved_by FROM phone_corrections WHERE id = $1 FOR UPDATE',
    [id],
  );
  const row = r.rows[0];
  if (!row || row.status === 'unverified') throw notFound();
  if (row.status !== 'open')
    throw new AppError(
      'conflict',
      'already_decided',
      { en: `This request was already ${row.status}.`, id: `Permintaan ini sudah ${row.status === 'approved' ? 'disetujui' : 'ditolak'}.` },
      { detail: { status: row.status } },
    );
  return row;
}

function assertSupport(who: Principal): void {
  if (who.role !== 'support' && who.role !== 'admin')
    throw new AppError('forbidden', 'role_not_allowed', { en: 'Only support and admin decide phone changes.', id: 'Hanya dukungan dan admin yang memutuskan ganti nomor HP.' });
}

/**
 * Approves: the matched person's phone becomes the new number (correctPhone:
 * audited, phone cases resolved, undelivered certificate SMS queued again,
 * the number replaced told by SMS),
 * and the latest certificate's SMS with its link goes to the new number even
 * if the old one was "delivered" (to the wrong phone) — all in one transaction
 * with the decision. A request that matched no one cannot be approved (409).
 * A name that matches the record weakly (below MIN_SINGLE_APPROVAL_SCORE,
 * scored again now) needs two reviewers: the first approval is recorded and
 * the request stays open; a second, by someone else, applies it.
 */
export async function approveCorrection(deps: CorrectionDeps, who: Principal, id: string): Promise<PhoneCorrection> {
  assertSupport(who);
  await deps.ops.issuer.ready();
  await deps.db.withTransaction(async (tx) => {
    const row = await lockOpen(tx, id);
    // The match made when it was filed (followed through a merge), else the identity + birth date again: the dose may have been recorded since.
    const personId = row.person_id
      ? (await tx.query<{ id: string }>('SELECT coalesce(merged_into, id) AS id FROM people WHERE id = $1', [row.person_id])).rows[0]?.id
      : (await personNamed(tx, row.person_key, row.birth_date))?.id;
    if (!personId)
      throw new AppError('conflict', 'no_matching_person', {
        en: 'The identity and birth date match no record: decline the request, or correct the record first.',
        id: 'Identitas dan tanggal lahir tidak cocok dengan data mana pun: tolak permintaan, atau perbaiki data lebih dulu.',
      });
    // The name against the record as it is now (it may have been corrected, or merged, since filing).
    const recorded = await tx.query<{ name: string }>('SELECT name FROM people WHERE id = $1', [personId]);
    const score = nameScore(row.name, recorded.rows[0]?.name ?? '');
    await tx.query('UPDATE phone_corrections SET name_score = $2 WHERE id = $1', [id, score]);
    if (!singleApproval(score)) {
      if (row.first_approved_by === null) {
        await tx.query('UPDATE phone_corrections SET first_approved_by = $2, first_approved_at = now() WHERE id = $1', [id, who.id]);
        await audit(tx, { actor: who.id, action: 'phone_correction_first_approval', subject: id, personId, detail: { nameScore: score } });
        return;
      }
      if (row.first_approved_by === who.id)
        throw new AppError('conflict', 'second_reviewer_required', {
          en: `The name matches the record weakly (score ${score}, below ${MIN_SINGLE_APPROVAL_SCORE}): another reviewer must approve too.`,
          id: `Nama kurang cocok dengan data (skor ${score}, di bawah ${MIN_SINGLE_APPROVAL_SCORE}): peninjau lain juga harus menyetujui.`,
        });
    }
    const changed = await correctPhone(deps.ops, who, personId, row.new_phone, tx);
    const latest = await tx.query<{ id: string }>("SELECT id FROM certificates WHERE person_id = $1 AND status = 'valid' ORDER BY issued_at DESC LIMIT 1", [personId]);
    const last = latest.rows[0]?.id;
    if (last && !changed.resent.includes(last))
      await enqueue(tx, { kind: 'notify', payload: { personId, certificateId: last }, dedupeKey: `notify:${last}:correction:${id}`, personId });
    await tx.query("UPDATE phone_corrections SET status = 'approved', decided_at = now(), decided_by = $2, person_id = $3 WHERE id = $1", [id, who.id, personId]);
    await audit(tx, { actor: who.id, action: 'phone_correction_approved', subject: id, personId, detail: { phone: row.new_phone, resent: changed.resent, sent: last ?? null } });
  });
  return getCorrection(deps.db, id);
}

/** Declines with a reason from the fixed list (`other` needs a text); the new number gets an SMS that names no one. */
export async function declineCorrection(deps: CorrectionDeps, who: Principal, id: string, input: { reason: unknown; text?: unknown }): Promise<PhoneCorrection> {
  assertSupport(who);
  const problems: FieldIssue[] = [];
  const reason = DECLINE_REASONS.find((r) => r === input.reason);
  if (!reason) problems.push(issue('reason', 'reason_invalid', `reason: ${DECLINE_REASONS.join(' | ')}.`, `reason: ${DECLINE_REASONS.join(' | ')}.`));
  const text = typeof input.text === 'string' ? input.text.trim() : input.text === undefined || input.text === null ? '' : null;
  if (text === null || text.length > 500 || (reason === 'other' && text.length < 3))
    problems.push(issue('text', 'text_required', 'With reason other, say why (3–500 characters).', 'Untuk alasan other, jelaskan (3–500 karakter).'));
  if (problems.length > 0 || !reason) throw badInput(problems);
  await deps.db.withTransaction(async (tx) => {
    const row = await lockOpen(tx, id);
    await tx.query("UPDATE phone_corrections SET status = 'declined', decided_at = now(), decided_by = $2, reason = $3, reason_text = $4 WHERE id = $1", [
      id,
      who.id,
      reason,
      text || null,
    ]);
    await enqueue(tx, { kind: 'correction_notice', payload: { requestId: id }, dedupeKey: `correction:${id}`, personId: id });
    await audit(tx, { actor: who.id, action: 'phone_correction_declined', subject: id, personId: row.person_id, detail: { reason, text: text || null } });
  });
  return getCorrection(deps.db, id);
}
