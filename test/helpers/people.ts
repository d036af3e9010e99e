/**
 * Unique, valid people for load: the crash and concurrency tests and the
 * benchmarks record thousands of doses and need a different NIK for each
 * person, never a random collision (a collision would turn a new dose into a
 * 409 and make a test fail by chance, or a benchmark measure conflicts).
 *
 * A generator walks (birth date, serial) in order from a random start, so NIKs
 * are unique within a generator; the random regency/district prefix makes two
 * generators (two runs on one database) practically disjoint too. Fixtures
 * only: Dosis never invents NIKs for real people.
 */
import { randomInt } from 'node:crypto';
import { makeNik } from '../../src/domain/nik.ts';

export interface GeneratedPerson {
  nik: string;
  name: string;
  birthDate: string;
  sex: 'M' | 'F';
  phone: string;
}

const GIVEN = ['Budi', 'Siti', 'Agus', 'Dewi', 'Ahmad', 'Sri', 'Bambang', 'Ratna', 'Joko', 'Wulan', 'Eko', 'Nur', 'Putu', 'Made', 'Yohanes', 'Maria'];
const FAMILY = ['Santoso', 'Wijaya', 'Rahayu', 'Hidayat', 'Saputra', 'Lestari', 'Kusuma', 'Nugroho', 'Siregar', 'Sitompul', 'Pratama', 'Halim'];

const DAY_MS = 86_400_000;
const FIRST_BIRTH = Date.UTC(1950, 0, 1);
const BIRTH_DAYS = 50 * 365; // born 1950–1999: adults for every vaccine's schedule
const SERIALS = 9999; // 0001–9999

/** A generator of distinct people; `next()` never repeats a NIK. */
export class PeopleGenerator {
  private i = 0;
  private readonly regency: number;
  private readonly district: number;
  private readonly start: number;

  constructor(seed: { regency?: number; district?: number; start?: number } = {}) {
    // Province 31 (DKI Jakarta); only the province is checked, so any regency/district digits do.
    this.regency = seed.regency ?? randomInt(1, 100);
    this.district = seed.district ?? randomInt(1, 100);
    this.start = seed.start ?? randomInt(0, BIRTH_DAYS * SERIALS);
  }

  /** The next person: a new NIK that agrees with the birth date and sex, a valid mobile number. */
  next(): GeneratedPerson {
    const n = (this.start + this.i++) % (BIRTH_DAYS * SERIALS);
    const day = Math.floor(n / SERIALS);
    const serial = (n % SERIALS) + 1;
    const birthDate = new Date(FIRST_BIRTH + day * DAY_MS).toISOString().slice(0, 10);
    const sex = serial % 2 === 0 ? 'F' : 'M';
    const nik = makeNik({ province: '31', regency: this.regency, district: this.district, birthDate, sex, serial });
    const name = `${GIVEN[n % GIVEN.length]} ${FAMILY[Math.floor(n / GIVEN.length) % FAMILY.length]}`;
    // 0812 + 8 digits: a Telkomsel mobile number in the common local writing.
    const phone = `0812${String(10_000_000 + ((n * 7919) % 90_000_000))}`;
    return { nik, name, birthDate, sex, phone };
  }

  /** `count` people at once. */
  take(count: number): GeneratedPerson[] {
    return Array.from({ length: count }, () => this.next());
  }
}

/** The body of `POST /api/v1/vaccinations` for a person's dose. */
export function doseRequest(p: GeneratedPerson, over: { doseNumber?: number; date?: string; vaccine?: string; lot?: string } = {}) {
  const doseNumber = over.doseNumber ?? 1;
  return {
    person: p,
    vaccine: over.vaccine ?? 'CORONAVAC',
    doseNumber,
    // CoronaVac: 28 days between dose 1 and 2 in the 2021 schedule.
    date: over.date ?? (doseNumber === 1 ? '2021-06-10' : doseNumber === 2 ? '2021-07-10' : '2022-01-10'),
    lot: over.lot ?? 'A123',
  };
}
