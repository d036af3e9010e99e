/**
 * Staff accounts (`/console/accounts`, admin): every account with its role,
 * scope and state; create one; disable or enable it, lift a lock, set a new
 * password (each audited by the server; disabling and a new password end the
 * account's sessions at once).
 */
import { formatRegionCode } from '../../src/domain/regions.ts';
import type { VNode } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useLang, useTexts, type Texts } from '../lib/lang.ts';
import { Notice } from '../lib/ui.tsx';
import { formatDate } from '../../src/certificates/display.ts';
import { api, ApiError, type ConsoleUser, type Role } from './api.ts';
import type { PageProps } from './pages.ts';
import { useFacilities } from './record.tsx';

interface Account extends ConsoleUser {
  disabled: boolean;
  failedAttempts: number;
  lockedUntil: string | null;
  lastSignInAt: string | null;
}

const id = {
  title: 'Akun Petugas',
  intro: 'Akun untuk masuk ke konsol. Peran dan cakupannya sama seperti token API. Menonaktifkan akun atau mengganti kata sandinya langsung mengakhiri sesinya.',
  list: 'Semua akun',
  username: 'Nama pengguna',
  displayName: 'Nama tampilan',
  role: 'Peran',
  facility: 'Faskes',
  region: 'Kode wilayah',
  regionHint: 'Seperti tulisan Kemendagri, mis. 12.71 (kota Medan) atau 12.71.01; boleh tanpa titik.',
  password: 'Kata sandi awal',
  passwordHint: 'Paling sedikit 10 karakter. Sampaikan kepada pemilik akun secara langsung.',
  create: 'Buat akun',
  created: 'Akun {username} dibuat.',
  newAccount: 'Akun baru',
  active: 'aktif',
  disabled: 'nonaktif',
  locked: 'terkunci',
  lastSignIn: 'terakhir masuk {when}',
  never: 'belum pernah masuk',
  disable: 'Nonaktifkan',
  enable: 'Aktifkan',
  unlock: 'Buka kunci',
  reset: 'Kata sandi baru',
  newPassword: 'Kata sandi baru untuk {username} (paling sedikit 10 karakter):',
  passwordSet: 'Kata sandi {username} diganti; sesinya diakhiri.',
  national: 'nasional',
  'role.facility': 'Fasilitas',
  'role.district': 'Dinas Kesehatan',
  'role.support': 'Layanan Bantuan',
  'role.admin': 'Administrator',
};
const en: typeof id = {
  title: 'Staff Accounts',
  intro: 'Accounts for signing in to the console. Their role and scope work like API tokens. Disabling an account or changing its password ends its sessions at once.',
  list: 'All accounts',
  username: 'Username',
  displayName: 'Display name',
  role: 'Role',
  facility: 'Facility',
  region: 'Region code',
  regionHint: 'As Kemendagri writes it, e.g. 12.71 (Medan city) or 12.71.01; the dots may be left out.',
  password: 'First password',
  passwordHint: 'At least 10 characters. Hand it to the account’s owner in person.',
  create: 'Create the account',
  created: 'Account {username} created.',
  newAccount: 'New account',
  active: 'active',
  disabled: 'disabled',
  locked: 'locked',
  lastSignIn: 'last signed in {when}',
  never: 'never signed in',
  disable: 'Disable',
  enable: 'Enable',
  unlock: 'Unlock',
  reset: 'New password',
  newPassword: 'New password for {username} (at least 10 characters):',
  passwordSet: 'Password of {username} changed; its sessions were ended.',
  national: 'national',
  'role.facility': 'Facility',
  'role.district': 'District health office',
  'role.support': 'Help desk',
  'role.admin': 'Administrator',
};
const TEXTS: Texts<keyof typeof id> = { id, en };
const ROLES: Role[] = ['facility', 'district', 'support', 'admin'];

export function AccountsPage(props: PageProps): VNode {
  const t = useTexts(TEXTS);
  const { lang } = useLang();
  const facilities = useFacilities(props.user);
  const [accounts, setAccounts] = useState<Account[] | null>(null);
  const [message, setMessage] = useState<{ kind: 'info' | 'error'; text: string } | null>(null);
  const [form, setForm] = useState({ username: '', displayName: '', role: 'facility' as Role, facility: '', region: '', password: '' });

  const load = (): void => {
    api<{ accounts: Account[] }>('GET', '/api/v1/accounts')
      .then((r) => setAccounts(r.accounts))
      .catch((e: unknown) => setMessage({ kind: 'error', text: e instanceof Error ? e.message : String(e) }));
  };
  useEffect(load, []);

  const report = (e: unknown): void => {
    const fields = e instanceof ApiError && e.fields.length ? ': ' + e.fields.map((f) => `${f.path} ${f.message}`).join('; ') : '';
    setMessage({ kind: 'error', text: (e instanceof Error ? e.message : String(e)) + fields });
  };

  const change = async (a: Account, body: Record<string, unknown>, done?: string): Promise<void> => {
    setMessage(null);
    try {
      await api('PATCH', `/api/v1/accounts/${encodeURIComponent(a.id)}`, body);
      if (done) setMessage({ kind: 'info', text: done });
      load();
    } catch (e) {
      report(e);
    }
  };

  const create = async (e: Event): Promise<void> => {
    e.preventDefault();
    setMessage(null);
    try {
      const body = {
        username: form.username.trim(),
        displayName: form.displayName.trim(),
        role: form.role,
        password: form.password,
        ...(form.role === 'facility' ? { facility: form.facility } : {}),
        ...(form.role === 'district' ? { region: form.region.trim() } : {}),
      };
      const a = await api<Account>('POST', '/api/v1/accounts', body);
      setMessage({ kind: 'info', text: t('created', { username: a.username }) });
      setForm({ ...form, username: '', displayName: '', password: '' });
      load();
    } catch (err) {
      report(err);
    }
  };

  const input = (name: 'username' | 'displayName' | 'region' | 'password', label: string, extra: Record<string, unknown> = {}) => (
    <label class="field" for={`acc-${name}`}>
      <span class="label">{label}</span>
      <input id={`acc-${name}`} value={form[name]} onInput={(e) => setForm({ ...form, [name]: e.currentTarget.value })} autoComplete="off" {...extra} />
    </label>
  );

  return (
    <>
      <h1>{t('title')}</h1>
      <p class="lead">{t('intro')}</p>
      {message && (
        <Notice kind={message.kind}>
          <span data-testid="accounts-message">{message.text}</span>
        </Notice>
      )}
      <section class="card" aria-labelledby="acc-list-h">
        <h2 id="acc-list-h">{t('list')}</h2>
        <ul class="entry-list">
          {(accounts ?? []).map((a) => {
            const locked = a.lockedUntil !== null && new Date(a.lockedUntil) > new Date();
            return (
              <li key={a.id} data-testid="account" data-username={a.username}>
                <strong>{a.displayName}</strong> · <span class="mono">{a.username}</span>
                <br />
                {t(`role.${a.role}`)} · {a.facilityCode ?? (a.regionCode && formatRegionCode(a.regionCode)) ?? t('national')} ·{' '}
                <span class={`badge ${a.disabled || locked ? 'bad' : ''}`} data-testid="account-state">
                  {a.disabled ? t('disabled') : locked ? t('locked') : t('active')}
                </span>{' '}
                <span class="hint">{a.lastSignInAt ? t('lastSignIn', { when: formatDate(a.lastSignInAt.slice(0, 10), lang) }) : t('never')}</span>
                <div class="actions">
                  <button type="button" class="button secondary" onClick={() => void change(a, { disabled: !a.disabled })}>
                    {a.disabled ? t('enable') : t('disable')}
                  </button>
                  {locked && (
                    <button type="button" class="button secondary" onClick={() => void change(a, { unlock: true })}>
                      {t('unlock')}
                    </button>
                  )}
                  <button
                    type="button"
                    class="button secondary"
                    onClick={() => {
                      const password = prompt(t('newPassword', { username: a.username }));
                      if (password) void change(a, { password }, t('passwordSet', { username: a.username }));
                    }}
                  >
                    {t('reset')}
                  </button>
                </div>
              </li>
            );
          })}
        </ul>
      </section>
      <form class="card" onSubmit={(e) => void create(e)} noValidate aria-labelledby="acc-new-h">
        <h2 id="acc-new-h">{t('newAccount')}</h2>
        {input('username', t('username'), { autoCapitalize: 'none', spellcheck: false })}
        {input('displayName', t('displayName'))}
        <label class="field" for="acc-role">
          <span class="label">{t('role')}</span>
          <select id="acc-role" value={form.role} onChange={(e) => setForm({ ...form, role: e.currentTarget.value as Role })}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {t(`role.${r}`)}
              </option>
            ))}
          </select>
        </label>
        {form.role === 'facility' && (
          <label class="field" for="acc-facility">
            <span class="label">{t('facility')}</span>
            <select id="acc-facility" value={form.facility} onChange={(e) => setForm({ ...form, facility: e.currentTarget.value })}>
              <option value="" />
              {facilities.map((f) => (
                <option key={f.code} value={f.code}>
                  {f.name} ({f.code})
                </option>
              ))}
            </select>
          </label>
        )}
        {/* 12.71 as Kemendagri writes it, or 1271: the server takes both (domain/regions.ts); a keypad with a dot. */}
        {form.role === 'district' && input('region', t('region'), { inputMode: 'decimal', placeholder: '12.71', 'aria-describedby': 'acc-region-hint' })}
        {form.role === 'district' && (
          <span class="hint" id="acc-region-hint">
            {t('regionHint')}
          </span>
        )}
        {input('password', t('password'), { type: 'text', 'aria-describedby': 'acc-password-hint' })}
        <span class="hint" id="acc-password-hint">
          {t('passwordHint')}
        </span>
        <p>
          <button type="submit" class="button block">
            {t('create')}
          </button>
        </p>
      </form>
    </>
  );
}
