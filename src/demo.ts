/**
 * Demo data for the embedded default: a few facilities in two provinces, a
 * token and a console account for each role, and people with realistic histories — complete series,
 * boosters, a missing phone, a dose that claims an earlier one, two records
 * of one person — so every screen has something to show on first start.
 * Seeded once (settings key `demo_seeded`); names and NIKs are invented
 * fixtures, never real people.
 */
import type { Db } from './db/client.ts';
import { createToken, type Principal, type Role } from './access/tokens.ts';
import { createAccount } from './access/accounts.ts';
import { generatePassword } from './access/passwords.ts';
import { createFacility } from './records/facilities.ts';
import { recordDose, type RecordDeps } from './records/record-dose.ts';
import { makeNik } from './domain/nik.ts';

export interface DemoTokens {
  role: Role;
  scope: string;
  token: string;
}

/** A console account of the demo, with its password (printed once, like the tokens). */
export interface DemoAccount {
  role: Role;
  scope: string;
  username: string;
  password: string;
}

export interface DemoSeed {
  tokens: DemoTokens[];
  accounts: DemoAccount[];
}

const ACCOUNTS: { username: string; displayName: string; role: Role; facility?: string; region?: string }[] = [
  { username: 'demo-puskesmas', displayName: 'Perawat Puskesmas Menteng', role: 'facility', facility: 'PKM-MENTENG' },
  { username: 'demo-dinkes', displayName: 'Dinkes Jakarta Pusat', role: 'district', region: '3171' },
  { username: 'demo-support', displayName: 'Layanan Bantuan', role: 'support' },
  { username: 'demo-admin', displayName: 'Administrator Demo', role: 'admin' },
];

const FACILITIES = [
  { code: 'PKM-MENTENG', name: 'Puskesmas Kecamatan Menteng', regionCode: '317101' },
  { code: 'PKM-TEBET', name: 'Puskesmas Kecamatan Tebet', regionCode: '317402' },
  { code: 'PKM-CIAMIS', name: 'Puskesmas Ciamis', regionCode: '320701' },
];

interface DemoPerson {
  name: string;
  sex: 'M' | 'F';
  birthDate: string;
  phone?: string;
  region: [string, string, string];
  doses: { vaccine: string; date: string; doseNumber: number; facility: string; lot: string }[];
}

const PEOPLE: DemoPerson[] = [
  {
    name: 'Budi Santoso', sex: 'M', birthDate: '1980-05-17', phone: '0812-3456-7891', region: ['31', '71', '01'],
    doses: [
      { vaccine: 'CORONAVAC', date: '2021-03-10', doseNumber: 1, facility: 'PKM-MENTENG', lot: 'CV2103A' },
      { vaccine: 'CORONAVAC', date: '2021-04-07', doseNumber: 2, facility: 'PKM-MENTENG', lot: 'CV2104B' },
      { vaccine: 'COMIRNATY', date: '2022-02-15', doseNumber: 3, facility: 'PKM-TEBET', lot: 'PF2202C' },
    ],
  },
  {
    name: 'Siti Rahmawati', sex: 'F', birthDate: '1992-11-03', phone: '+62 813 2222 3344', region: ['31', '74', '02'],
    doses: [
      { vaccine: 'VAXZEVRIA', date: '2021-06-01', doseNumber: 1, facility: 'PKM-TEBET', lot: 'AZ2106' },
      { vaccine: 'VAXZEVRIA', date: '2021-08-26', doseNumber: 2, facility: 'PKM-TEBET', lot: 'AZ2108' },
    ],
  },
  {
    name: 'Mohammad Rizky', sex: 'M', birthDate: '1999-01-21', region: ['32', '07', '01'],
    doses: [{ vaccine: 'SPIKEVAX', date: '2021-09-14', doseNumber: 2, facility: 'PKM-CIAMIS', lot: 'MD2109' }],
  },
  {
    name: 'Muhamad Rizki', sex: 'M', birthDate: '1999-01-21', phone: '0857 2046 9913', region: ['32', '07', '02'],
    doses: [{ vaccine: 'SPIKEVAX', date: '2021-08-17', doseNumber: 1, facility: 'PKM-CIAMIS', lot: 'MD2108' }],
  },
  {
    name: 'I Made Wirawan', sex: 'M', birthDate: '1975-07-30', phone: '0878-1111-2020', region: ['31', '71', '01'],
    doses: [{ vaccine: 'JCOVDEN', date: '2021-10-05', doseNumber: 1, facility: 'PKM-MENTENG', lot: 'JJ2110' }],
  },
];

/** Seeds the demo once; returns the demo tokens and console accounts when it seeded, null when already done. */
export async function seedDemo(db: Db, deps: Omit<RecordDeps, 'db'>): Promise<DemoSeed | null> {
  const claimed = await db.query("INSERT INTO settings (key, value) VALUES ('demo_seeded', now()::text) ON CONFLICT DO NOTHING RETURNING 1");
  if (claimed.rowCount === 0) return null;
  for (const f of FACILITIES) await createFacility(db, f);
  const tokens: DemoTokens[] = [];
  const make = async (role: Role, scope: { facility?: string; region?: string }, label: string) => {
    const t = await createToken(db, { role, facility: scope.facility ?? null, region: scope.region ?? null, label }, null);
    tokens.push({ role, scope: scope.facility ?? scope.region ?? 'national', token: t.token });
    return t;
  };
  const facilityPrincipals = new Map<string, Principal>();
  for (const f of FACILITIES) {
    const t = await make('facility', { facility: f.code }, `demo ${f.code}`);
    facilityPrincipals.set(f.code, { id: t.id, role: 'facility', facilityCode: f.code, regionCode: null, label: `demo ${f.code}` });
  }
  await make('district', { region: '3171' }, 'demo Dinkes Jakarta Pusat');
  await make('support', {}, 'demo help desk');
  // Console accounts, one per role, each with a random password (shown once).
  const accounts: DemoAccount[] = [];
  for (const a of ACCOUNTS) {
    const password = generatePassword();
    await createAccount(db, { ...a, password }, null);
    accounts.push({ role: a.role, scope: a.facility ?? a.region ?? 'national', username: a.username, password });
  }
  for (const [i, p] of PEOPLE.entries()) {
    const nik = makeNik({ province: p.region[0], regency: p.region[1], district: p.region[2], birthDate: p.birthDate, sex: p.sex, serial: 101 + i });
    for (const d of p.doses) {
      const principal = facilityPrincipals.get(d.facility);
      if (!principal) throw new Error(`demo: no facility ${d.facility}`);
      await recordDose(
        { db, ...deps },
        {
          principal,
          source: 'form',
          idempotencyKey: `demo-${i}-${d.doseNumber}`,
          body: {
            person: { nik, name: p.name, birthDate: p.birthDate, sex: p.sex, ...(p.phone ? { phone: p.phone } : {}) },
            vaccine: d.vaccine,
            doseNumber: d.doseNumber,
            date: d.date,
            lot: d.lot,
          },
        },
      );
    }
  }
  return { tokens, accounts };
}
