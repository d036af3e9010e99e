/**
 * Calendar dates as `YYYY-MM-DD` strings. Dates of events (birth, vaccination) are dates in
 * Indonesian local time; arithmetic is done on UTC midnights so that no time zone or clock of the
 * machine running Dosis can shift a date by one day.
 */
import type { IsoDate } from './types.ts';

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;
/** Western Indonesia Time (WIB, Asia/Jakarta) has been UTC+7 without daylight saving since 1964. */
const JAKARTA_OFFSET_MS = 7 * 3_600_000;

/** True for a leap year of the Gregorian calendar. */
export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Days in a month (1–12) of a year. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** True when (year, month, day) is a real calendar date. */
export function isRealDate(year: number, month: number, day: number): boolean {
  return (
    Number.isInteger(year) &&
    Number.isInteger(month) &&
    Number.isInteger(day) &&
    year >= 1 &&
    year <= 9999 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month)
  );
}

/** Split a strict `YYYY-MM-DD` real date into numbers; null for anything else (`2021-02-30`, `2021-2-3`). */
export function parseIsoDate(value: unknown): { year: number; month: number; day: number } | null {
  if (typeof value !== 'string') return null;
  const m = ISO_DATE.exec(value);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  return isRealDate(year, month, day) ? { year, month, day } : null;
}

/** True for a strict `YYYY-MM-DD` string naming a real date. */
export function isIsoDate(value: unknown): value is IsoDate {
  return parseIsoDate(value) !== null;
}

/** Format numbers as `YYYY-MM-DD`. */
export function formatIsoDate(year: number, month: number, day: number): IsoDate {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

function toUtcMs(date: IsoDate): number {
  const p = parseIsoDate(date);
  if (!p) throw new RangeError(`not a YYYY-MM-DD date: ${String(date)}`);
  return Date.UTC(p.year, p.month - 1, p.day);
}

function fromUtcMs(ms: number): IsoDate {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The date `days` days after (negative: before) `date`. */
export function addDays(date: IsoDate, days: number): IsoDate {
  return fromUtcMs(toUtcMs(date) + days * DAY_MS);
}

/**
 * The date `months` calendar months after `date`, clamped to the end of a shorter month
 * (2021-08-31 + 6 months = 2022-02-28), the way "6 months after" is read at a vaccination post.
 */
export function addMonths(date: IsoDate, months: number): IsoDate {
  const p = parseIsoDate(date);
  if (!p) throw new RangeError(`not a YYYY-MM-DD date: ${String(date)}`);
  const index = p.year * 12 + (p.month - 1) + months;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  return formatIsoDate(year, month, Math.min(p.day, daysInMonth(year, month)));
}

/** Whole days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: IsoDate, to: IsoDate): number {
  return Math.round((toUtcMs(to) - toUtcMs(from)) / DAY_MS);
}

/** Today's date in Indonesia (Asia/Jakarta, WIB) at the instant `now`. */
export function todayInJakarta(now: Date): IsoDate {
  return fromUtcMs(now.getTime() + JAKARTA_OFFSET_MS);
}
