/**
 * Dose roles and the rules a new dose is checked against, as pure functions over the doses on record.
 *
 * Dose numbers count a person's injections: 1 … N, whatever the product. Doses 1 … sd (the primary
 * series size of the product that started the series) are primary; the next are booster 1, 2, …
 * MAX_DOSE_NUMBER is 5: the longest history the programme produced is Zifivax's 3-dose series plus
 * two boosters. 0, negative, fractional and ≥ 6 are rejected at input.
 *
 * EU DCC `dn/sd` for boosters (Commission Implementing Decision (EU) 2021/2301 amending 2021/1073,
 * in force from 1 Feb 2022; press release IP/21/6837): "3/3 for a booster dose following a primary
 * 2-dose vaccination series; 2/1 for a booster dose following a single-dose vaccination". So after a
 * series of 2 or 3 doses a booster is n/n (3/3, 4/4; Zifivax 4/4, 5/5), and after a single-dose
 * series it is n/1 (2/1, 3/1 — as the Dutch CoronaCheck app documents for "every vaccination after
 * this"). dn > sd, or dn = sd > the product's series size, marks a booster; Dosis also records
 * the role explicitly, since `dn/sd` alone was ambiguous for years.
 *
 * Never refuse a person because an earlier dose is not on record: such a dose is recorded with the
 * status `claims_prior_dose` and opens a reconciliation case (the earlier dose was given elsewhere,
 * entered under a mistyped NIK, or never entered).
 */
import { AppError, issue } from './errors.ts';
import type { FieldIssue } from './errors.ts';
import { addDays, addMonths, daysBetween } from './dates.ts';
import type { DoseRoleName, IsoDate, VaccinationStatus } from './types.ts';
import { BOOSTER_RULES, BOOSTERS_IN_PROGRAMME, boosterRuleOn, findVaccine, scheduleOn } from './vaccines.ts';
import type { Vaccine } from './vaccines.ts';

/** Highest dose number accepted (3-dose Zifivax series + 2 boosters). */
export const MAX_DOSE_NUMBER = 5;

/** The role of one dose, with its EU DCC encoding. */
export interface DoseRole {
  role: DoseRoleName;
  /** 1 or 2 for a booster; absent for a primary dose. */
  boosterNumber?: number;
  /** EU DCC `dn`. */
  dn: number;
  /** EU DCC `sd`. */
  sd: number;
  /** Size of the primary series the role was computed against. */
  seriesDoses: number;
}

/** True for an integer dose number in 1 … MAX_DOSE_NUMBER. */
export function isValidDoseNumber(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_DOSE_NUMBER;
}

/**
 * The role of dose `doseNumber` of `vaccine` given on `date`. `primary` is the product that started
 * the person's primary series when it differs (a Jcovden series boosted with Comirnaty is 2/1, not
 * 2/2); it defaults to `vaccine`. Throws an `invalid` AppError for a dose number out of range.
 */
export function doseRole(vaccine: Vaccine, doseNumber: number, date: IsoDate, primary: Vaccine = vaccine): DoseRole {
  if (!isValidDoseNumber(doseNumber)) {
    throw new AppError('invalid', 'dose_number_range', doseNumberMessage(doseNumber), {
      fields: [doseNumberIssue('doseNumber')],
    });
  }
  const seriesDoses = scheduleOn(primary, date).dosesInPrimarySeries;
  if (doseNumber <= seriesDoses) return { role: 'primary', dn: doseNumber, sd: seriesDoses, seriesDoses };
  return {
    role: 'booster',
    boosterNumber: doseNumber - seriesDoses,
    dn: doseNumber,
    sd: seriesDoses === 1 ? 1 : doseNumber,
    seriesDoses,
  };
}

/** A dose of a person's history, as every output reads it. `vaccine` is a catalogue code. */
export interface HistoryDose {
  doseNumber: number;
  date: IsoDate;
  vaccine: string;
  status?: VaccinationStatus;
}

/**
 * The role of a dose within the person's history — the one rule behind the EU DCC's `dn/sd`, the
 * FHIR export's `protocolApplied`, the certificate page, the PDF and the timeline, so that they
 * cannot disagree (record-dose.ts and certify.ts sign `dn/sd` with `doseRole` against the same
 * primary product: the person's live dose 1, else the dose's own; a SMART Health Card carries no
 * dose numbers, its IG forbids them): the primary series is set by the product of the person's dose 1 (a voided
 * dose does not count; without a dose 1 on record, by the dose's own product), and the dose is
 * judged by `doseRole` against the catalogue's schedule in force on its date. Undefined for a dose
 * whose product or number the catalogue does not know (a stored row from an older catalogue).
 */
export function roleInHistory(dose: HistoryDose, history: readonly HistoryDose[]): DoseRole | undefined {
  const vaccine = findVaccine(dose.vaccine);
  if (!vaccine || !isValidDoseNumber(dose.doseNumber)) return undefined;
  const first = history.find((d) => d.doseNumber === 1 && d.status !== 'void');
  const primary = (first && findVaccine(first.vaccine)) || vaccine;
  return doseRole(vaccine, dose.doseNumber, dose.date, primary);
}

/** FHIR `protocolApplied.series` (Immunization R4, a free string): "primary" or "booster N". */
export function seriesName(role: DoseRole): string {
  return role.role === 'booster' ? `booster ${role.boosterNumber ?? 1}` : 'primary';
}

function doseNumberMessage(n: unknown): { en: string; id: string } {
  const shown = typeof n === 'number' ? String(n) : JSON.stringify(n) ?? String(n);
  return {
    en: `The dose number must be a whole number from 1 to ${MAX_DOSE_NUMBER} (got ${shown}).`,
    id: `Nomor dosis harus bilangan bulat 1 sampai ${MAX_DOSE_NUMBER} (diisi ${shown}).`,
  };
}

/** The FieldIssue for a dose number out of range. */
export function doseNumberIssue(path: string, got?: unknown): FieldIssue {
  const m = doseNumberMessage(got);
  return issue(
    path,
    'dose_number_range',
    got === undefined ? `The dose number must be a whole number from 1 to ${MAX_DOSE_NUMBER}.` : m.en,
    got === undefined ? `Nomor dosis harus bilangan bulat 1 sampai ${MAX_DOSE_NUMBER}.` : m.id,
  );
}

/** A dose already on record for the person. `vaccine` is a catalogue code. */
export interface ExistingDose {
  doseNumber: number;
  date: IsoDate;
  vaccine: string;
  status: VaccinationStatus;
}

/** The dose being entered. */
export interface IncomingDose {
  doseNumber: number;
  date: IsoDate;
  vaccine: string;
}

export type ConflictReason =
  /** The same dose number is on record with another date. */
  | 'dose_number_taken'
  /** The same dose number and date are on record with another vaccine. */
  | 'vaccine_differs'
  /** Another dose of the person is on record on the same date. */
  | 'same_day_as_other_dose'
  /** An earlier-numbered dose is dated after this one, or a later-numbered one before it. */
  | 'out_of_order';

export type DoseEvaluation =
  | {
      outcome: 'recorded';
      role: DoseRole;
      warnings: FieldIssue[];
      /** Doses on record as `claims_prior_dose` whose earlier doses are now all on record. */
      resolvesClaims: number[];
    }
  | {
      outcome: 'claims_prior_dose';
      /** Dose numbers below this one that are not on record. */
      missing: number[];
      role: DoseRole;
      warnings: FieldIssue[];
      resolvesClaims: number[];
    }
  | { outcome: 'duplicate'; existing: ExistingDose }
  | { outcome: 'conflict'; reason: ConflictReason; existing: ExistingDose; message: { en: string; id: string } };

function vaccineOf(code: string): Vaccine | undefined {
  return findVaccine(code);
}

/**
 * Check an incoming dose against the person's doses on record (void ones are ignored):
 * - the same dose number on the same date with the same vaccine → `duplicate` (a repeated entry or
 *   import row: answer with what is on record, do not record twice);
 * - the same dose number on another date, or another vaccine, or two doses on one day, or dates
 *   out of order → `conflict`: a person must decide which record is right;
 * - earlier dose numbers missing → `claims_prior_dose` (still recorded; a case is opened);
 * - otherwise `recorded`.
 * Intervals shorter than the dated schedule and boosters before the programme's rules are
 * warnings, never refusals: the dose was given, and the record must say so.
 */
export function evaluateDose(existing: readonly ExistingDose[], incoming: IncomingDose): DoseEvaluation {
  const live = existing.filter((d) => d.status !== 'void');
  const sameNumber = live.filter((d) => d.doseNumber === incoming.doseNumber);

  const duplicate = sameNumber.find((d) => d.date === incoming.date && sameVaccine(d.vaccine, incoming.vaccine));
  if (duplicate) return { outcome: 'duplicate', existing: duplicate };

  const taken = sameNumber[0];
  if (taken) {
    if (taken.date === incoming.date) {
      return conflict('vaccine_differs', taken, {
        en: `Dose ${incoming.doseNumber} on ${incoming.date} is already recorded with ${taken.vaccine}, not ${incoming.vaccine}.`,
        id: `Dosis ${incoming.doseNumber} tanggal ${incoming.date} sudah tercatat dengan vaksin ${taken.vaccine}, bukan ${incoming.vaccine}.`,
      });
    }
    return conflict('dose_number_taken', taken, {
      en: `Dose ${incoming.doseNumber} is already recorded on ${taken.date}; this entry says ${incoming.date}.`,
      id: `Dosis ${incoming.doseNumber} sudah tercatat pada ${taken.date}; isian ini menyebut ${incoming.date}.`,
    });
  }

  const sameDay = live.find((d) => d.date === incoming.date);
  if (sameDay) {
    return conflict('same_day_as_other_dose', sameDay, {
      en: `Dose ${sameDay.doseNumber} is already recorded on ${incoming.date}; two doses are not given on one day.`,
      id: `Dosis ${sameDay.doseNumber} sudah tercatat pada ${incoming.date}; dua dosis tidak diberikan pada hari yang sama.`,
    });
  }

  const outOfOrder = live.find(
    (d) =>
      (d.doseNumber < incoming.doseNumber && d.date > incoming.date) ||
      (d.doseNumber > incoming.doseNumber && d.date < incoming.date),
  );
  if (outOfOrder) {
    const earlier = outOfOrder.doseNumber < incoming.doseNumber;
    return conflict('out_of_order', outOfOrder, {
      en: earlier
        ? `Dose ${outOfOrder.doseNumber} is recorded on ${outOfOrder.date}, after this dose ${incoming.doseNumber} on ${incoming.date}.`
        : `Dose ${outOfOrder.doseNumber} is recorded on ${outOfOrder.date}, before this dose ${incoming.doseNumber} on ${incoming.date}.`,
      id: earlier
        ? `Dosis ${outOfOrder.doseNumber} tercatat pada ${outOfOrder.date}, sesudah dosis ${incoming.doseNumber} ini pada ${incoming.date}.`
        : `Dosis ${outOfOrder.doseNumber} tercatat pada ${outOfOrder.date}, sebelum dosis ${incoming.doseNumber} ini pada ${incoming.date}.`,
    });
  }

  const byNumber = new Map(live.map((d) => [d.doseNumber, d]));
  const missing: number[] = [];
  for (let n = 1; n < incoming.doseNumber; n++) if (!byNumber.has(n)) missing.push(n);

  const incomingVaccine = vaccineOf(incoming.vaccine);
  if (!incomingVaccine) throw new RangeError(`unknown vaccine ${incoming.vaccine}`);
  const first = byNumber.get(1);
  const primary = (first && vaccineOf(first.vaccine)) || incomingVaccine;
  const role = doseRole(incomingVaccine, incoming.doseNumber, incoming.date, primary);
  const warnings = intervalWarnings(role, incoming, incomingVaccine, byNumber.get(incoming.doseNumber - 1), primary);

  const after = new Set([...byNumber.keys(), incoming.doseNumber]);
  const resolvesClaims = live
    .filter((d) => d.status === 'claims_prior_dose')
    .filter((d) => {
      for (let n = 1; n < d.doseNumber; n++) if (!after.has(n)) return false;
      return true;
    })
    .map((d) => d.doseNumber)
    .sort((a, b) => a - b);

  return missing.length > 0
    ? { outcome: 'claims_prior_dose', missing, role, warnings, resolvesClaims }
    : { outcome: 'recorded', role, warnings, resolvesClaims };
}

function sameVaccine(a: string, b: string): boolean {
  return a === b || (vaccineOf(a) !== undefined && vaccineOf(a) === vaccineOf(b));
}

function conflict(
  reason: ConflictReason,
  existing: ExistingDose,
  message: { en: string; id: string },
): DoseEvaluation {
  return { outcome: 'conflict', reason, existing, message };
}

function intervalWarnings(
  role: DoseRole,
  incoming: IncomingDose,
  vaccine: Vaccine,
  previous: ExistingDose | undefined,
  primary: Vaccine,
): FieldIssue[] {
  const warnings: FieldIssue[] = [];
  if (role.role === 'primary') {
    if (previous) {
      const seriesVaccine = vaccineOf(previous.vaccine) ?? primary;
      // Lenient on purpose: the smaller of the minimum in force when the previous dose was given
      // (what the person was told) and the one in force now.
      const minDays = Math.min(
        scheduleOn(seriesVaccine, previous.date).minIntervalDays,
        scheduleOn(seriesVaccine, incoming.date).minIntervalDays,
      );
      const days = daysBetween(previous.date, incoming.date);
      if (days < minDays) {
        warnings.push(
          issue(
            'date',
            'interval_too_short',
            `Dose ${incoming.doseNumber} is ${days} days after dose ${previous.doseNumber}; the ${seriesVaccine.name} schedule asks for at least ${minDays} days.`,
            `Dosis ${incoming.doseNumber} diberikan ${days} hari setelah dosis ${previous.doseNumber}; jadwal ${seriesVaccine.name} minimal ${minDays} hari.`,
          ),
        );
      }
    }
    if (vaccine !== primary) {
      warnings.push(
        issue(
          'vaccine',
          'heterologous_primary',
          `Primary dose ${incoming.doseNumber} is ${vaccine.name}, but the series started with ${primary.name}.`,
          `Dosis primer ${incoming.doseNumber} adalah ${vaccine.name}, padahal seri dimulai dengan ${primary.name}.`,
        ),
      );
    }
    return warnings;
  }

  const booster = role.boosterNumber ?? 0;
  if (booster > BOOSTERS_IN_PROGRAMME) {
    warnings.push(
      issue(
        'doseNumber',
        'beyond_programme',
        `This would be booster ${booster}; the programme has rules for ${BOOSTERS_IN_PROGRAMME} boosters after a ${role.seriesDoses}-dose series.`,
        `Ini booster ke-${booster}; program hanya mengatur ${BOOSTERS_IN_PROGRAMME} booster setelah seri ${role.seriesDoses} dosis.`,
      ),
    );
    return warnings;
  }
  const rule = boosterRuleOn(booster, incoming.date);
  if (!rule) {
    warnings.push(
      issue(
        'date',
        'booster_before_programme',
        `Booster ${booster} on ${incoming.date} is earlier than any booster ${booster} rule of the national programme.`,
        `Booster ke-${booster} tanggal ${incoming.date} lebih awal dari aturan booster ke-${booster} program nasional.`,
      ),
    );
    return warnings;
  }
  if (previous) {
    const due = addMonths(previous.date, rule.minIntervalMonths);
    if (incoming.date < due) {
      warnings.push(
        issue(
          'date',
          'booster_interval_too_short',
          `Booster ${booster} is given before ${due}, ${rule.minIntervalMonths} months after dose ${previous.doseNumber} (${previous.date}), as the rule in force asks (${rule.source}).`,
          `Booster ke-${booster} diberikan sebelum ${due}, yaitu ${rule.minIntervalMonths} bulan setelah dosis ${previous.doseNumber} (${previous.date}) sesuai aturan yang berlaku (${rule.source}).`,
        ),
      );
    }
  }
  return warnings;
}

/**
 * When the next dose is due after `last` (for reminders): the next primary dose after the
 * schedule's minimum interval, or the next booster by the earliest rule for everyone (not a
 * priority group) that allows it. Null when the programme has nothing more.
 */
export function nextDoseDue(last: { doseNumber: number; date: IsoDate; vaccine: Vaccine; primary?: Vaccine }): {
  doseNumber: number;
  due: IsoDate;
  role: DoseRoleName;
} | null {
  const primary = last.primary ?? last.vaccine;
  const role = doseRole(last.vaccine, last.doseNumber, last.date, primary);
  const nextNumber = last.doseNumber + 1;
  if (nextNumber > MAX_DOSE_NUMBER) return null;
  if (role.role === 'primary' && last.doseNumber < role.seriesDoses) {
    const days = scheduleOn(primary, last.date).minIntervalDays;
    return { doseNumber: nextNumber, due: addDays(last.date, days), role: 'primary' };
  }
  const nextBooster = nextNumber - role.seriesDoses;
  const rules = BOOSTER_RULES.filter((r) => r.booster === nextBooster && r.forEveryone);
  for (const [i, rule] of rules.entries()) {
    const byInterval = addMonths(last.date, rule.minIntervalMonths);
    const due = byInterval < rule.from ? rule.from : byInterval;
    const until = rules[i + 1]?.from;
    if (until === undefined || due < until) return { doseNumber: nextNumber, due, role: 'booster' };
  }
  return null;
}
