/**
 * What the operator pages share: the answers of the operations API as types,
 * loading a resource, showing the API's refusal as it gave it (message and
 * every field named), and an action that asks for confirmation first.
 */
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useId, useState } from 'preact/hooks';
import { api, ApiError, type ConsoleUser, type Role } from '../api.ts';
import { currentLang, useTexts } from '../../lib/lang.ts';
import { Link } from './link.tsx';

export type { CaseView } from '../../../src/domain/cases.ts';

export interface PersonSummary {
  id: string;
  identifier: { type: string; value: string; country?: string };
  name: string;
  birthDate: string;
  sex: string | null;
  phone: string | null;
  phoneStatus: string;
  regionCode: string | null;
  doses: number;
  score?: number;
  masked: boolean;
}

export interface Text {
  id: string;
  en: string;
}

export interface DoseState {
  vaccinationId: string;
  doseNumber: number;
  date: string;
  vaccine: string;
  /** The facility that recorded it (absent from an older server). */
  facility?: string;
  facilityName?: string | null;
  state: string;
  text: Text;
  /** The dose's hand-off to SATUSEHAT (issue 21), in words; null when never queued. */
  satusehat?: { state: string; immunizationId: string | null; text: Text } | null;
}

export interface TimelineEvent {
  at: string;
  type: string;
  actor: string | null;
  [k: string]: unknown;
}

export interface Timeline {
  person: {
    id: string;
    identifier: { type: string; value: string };
    name: string;
    birthDate: string;
    phone: string | null;
    phoneStatus: string;
    mergedInto: string | null;
    mergedFrom: string[];
  };
  doses: DoseState[];
  events: TimelineEvent[];
}

export interface DeadJob {
  id: number;
  kind: string;
  attempts: number;
  last_error: string | null;
  updated_at: string;
  payload: unknown;
}

/** Whether the signed-in user holds one of the roles (mirrors the API's `allow`). */
export function may(user: ConsoleUser, roles: readonly Role[]): boolean {
  return roles.includes(user.role);
}

/** A text the API gave in both languages, in the page language. */
export function inLang(t: Text): string {
  return t[currentLang()];
}

/** A time as people read it: local date and minutes (the ISO time in the tooltip). */
export function When(props: { at: string }) {
  const d = new Date(props.at);
  const text = Number.isNaN(d.getTime())
    ? props.at
    : d.toLocaleString(currentLang() === 'id' ? 'id-ID' : 'en-GB', { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  return (
    <time dateTime={props.at} title={props.at}>
      {text}
    </time>
  );
}

export interface Loaded<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/**
 * GETs `path` (null: nothing to load) and again on `reload()`. What was loaded
 * for another path is never shown for this one (no stale results after a new
 * search); a reload keeps showing the current answer until the new one comes.
 */
export function useApi<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ path: string | null; data: T | null; error: ApiError | null; loading: boolean }>({ path: null, data: null, error: null, loading: false });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    api<T>('GET', path).then(
      (data) => live && setState({ path, data, error: null, loading: false }),
      (e: unknown) => live && setState({ path, data: null, error: asApiError(e), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [path, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  if (path === null) return { data: null, error: null, loading: false, reload };
  if (state.path !== path) return { data: null, error: null, loading: true, reload };
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export function asApiError(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError(0, 'client', e instanceof Error ? e.message : String(e));
}

const T = {
  id: {
    loading: 'Memuat…',
    confirm: 'Ya, lanjutkan',
    cancel: 'Batal',
    refused: 'Ditolak ({status}):',
    network: 'Tidak dapat menghubungi server:',
    notFound: 'Tidak ditemukan, atau di luar wilayah kerja Anda.',
    forbidden: 'Peran Anda tidak diizinkan melakukan ini.',
    done: 'Selesai.',
  },
  en: {
    loading: 'Loading…',
    confirm: 'Yes, go ahead',
    cancel: 'Cancel',
    refused: 'Refused ({status}):',
    network: 'Cannot reach the server:',
    notFound: 'Not found, or outside your scope.',
    forbidden: 'Your role may not do this.',
    done: 'Done.',
  },
};

/** The API's refusal: its message and each field it named, in an alert. */
export function ErrorNotice(props: { error: ApiError }) {
  const t = useTexts(T);
  const e = props.error;
  const lead = e.status === 0 ? t('network') : e.status === 404 ? t('notFound') : e.status === 403 ? t('forbidden') : t('refused', { status: e.status });
  return (
    <div class="notice notice-error" role="alert" data-code={e.code}>
      <p>
        <strong>{lead}</strong> {e.message}
      </p>
      {e.fields.length > 0 && (
        <ul class="op-fields">
          {e.fields.map((f) => (
            <li key={f.path + f.code}>
              <code>{f.path}</code>: {f.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Loading() {
  const t = useTexts(T);
  return (
    <p class="op-loading" role="status">
      {t('loading')}
    </p>
  );
}

/** Shows the loading state or the error of `l`, else its data through `children`. */
export function Load<T>(props: { l: Loaded<T>; children: (data: T) => ComponentChildren }): JSX.Element {
  if (props.l.error) return <ErrorNotice error={props.l.error} />;
  if (props.l.data === null) return <Loading />;
  return <>{props.children(props.l.data)}</>;
}

export interface ActionField {
  name: string;
  label: string;
  type?: 'text' | 'tel';
  hint?: string;
  minLength?: number;
  /** Not required (left out of the values when empty). */
  optional?: boolean;
  /** A choice among these instead of free text. */
  options?: { value: string; label: string }[];
}

/**
 * One action on a record: a button that opens a small form (the fields the API
 * needs, e.g. a reason), a confirmation sentence with "yes" and "cancel",
 * then the call; the API's refusal is shown as it answered, success as `done`.
 */
export function Action(props: {
  label: string;
  /** What will happen, asked before doing it. */
  confirm: string;
  fields?: ActionField[];
  run: (values: Record<string, string>) => Promise<unknown>;
  /** The sentence shown after success (default "Done."); may use the answer. */
  done?: (answer: unknown) => string;
  onDone?: () => void;
  danger?: boolean;
}) {
  const t = useTexts(T);
  const uid = useId();
  const [open, setOpen] = useState(false);
  const [values, setValues] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const fields = props.fields ?? [];
  const submit = async (ev: Event): Promise<void> => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await props.run(values);
      setDone(props.done ? props.done(answer) : t('done'));
      setOpen(false);
      setValues({});
      props.onDone?.();
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setBusy(false);
    }
  };
  if (!open)
    return (
      <div class="op-action">
        <button
          type="button"
          class={`button ${props.danger ? 'op-danger' : 'secondary'} small`}
          onClick={() => {
            setOpen(true);
            setDone(null);
            setError(null);
          }}
        >
          {props.label}
        </button>
        {done && (
          <p class="notice notice-info" role="status">
            {done}
          </p>
        )}
      </div>
    );
  return (
    <form class="op-action op-action-open card" onSubmit={(e) => void submit(e)} aria-label={props.label}>
      {fields.map((f) =>
        f.options ? (
          <div class="field" key={f.name}>
            <label class="label" for={`${uid}-${f.name}`}>
              {f.label}
            </label>
            <select id={`${uid}-${f.name}`} name={f.name} required={!f.optional} value={values[f.name] ?? ''} onChange={(e) => setValues({ ...values, [f.name]: (e.target as HTMLSelectElement).value })}>
              <option value="" />
              {f.options.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.label}
                </option>
              ))}
            </select>
          </div>
        ) : (
          <label class="field" key={f.name}>
            <span class="label">{f.label}</span>
            <input
              name={f.name}
              type="text"
              inputMode={f.type === 'tel' ? 'tel' : 'text'}
              autoComplete="off"
              required={!f.optional}
              minLength={f.minLength}
              value={values[f.name] ?? ''}
              onInput={(e) => setValues({ ...values, [f.name]: (e.target as HTMLInputElement).value })}
            />
            {f.hint && <span class="hint">{f.hint}</span>}
          </label>
        ),
      )}
      <p class="op-confirm">{props.confirm}</p>
      {error && <ErrorNotice error={error} />}
      <div class="op-buttons">
        <button type="submit" class={`button ${props.danger ? 'op-danger' : ''} small`} disabled={busy}>
          {t('confirm')}
        </button>
        <button type="button" class="button secondary small" onClick={() => setOpen(false)} disabled={busy}>
          {t('cancel')}
        </button>
      </div>
    </form>
  );
}

/** Builds `path?query` from the set values. */
export function withQuery(path: string, q: Record<string, string | undefined | null>): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') s.set(k, v);
  const qs = s.toString();
  return qs ? `${path}?${qs}` : path;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A person's id from what an operator typed: the id itself, or a NIK found through the search API. */
export async function personIdOf(typed: string, none: string): Promise<string> {
  const w = typed.trim();
  if (UUID.test(w)) return w;
  const r = await api<{ people: PersonSummary[] }>('GET', withQuery('/api/v1/people', { nik: w }));
  const p = r.people[0];
  if (!p) throw new ApiError(404, 'not_found', none);
  return p.id;
}

/** Tabs as links (each a URL, so back and reload keep the tab); the current one marked for assistive technology. */
export function Tabs(props: { label: string; current: string; items: { key: string; to: string; label: string }[]; navigate: (to: string) => void }) {
  return (
    <nav class="op-tabs" aria-label={props.label}>
      {props.items.map((i) => (
        <Link key={i.key} to={i.to} navigate={props.navigate} class={i.key === props.current ? 'op-tab current' : 'op-tab'}>
          <span aria-current={i.key === props.current ? 'page' : undefined}>{i.label}</span>
        </Link>
      ))}
    </nav>
  );
}

/** Declining a citizen's request: a reason from the API's list and a text (which the API requires with "other"). */
export function DeclineAction(props: { label: string; reasonLabel: string; textLabel: string; reasons: { value: string; label: string }[]; confirm: string; path: string; onDone: () => void }) {
  return (
    <Action
      label={props.label}
      danger
      fields={[
        { name: 'reason', label: props.reasonLabel, options: props.reasons },
        { name: 'text', label: props.textLabel, optional: true },
      ]}
      confirm={props.confirm}
      run={(v) => api('POST', props.path, { reason: v.reason ?? '', ...(v.text ? { text: v.text } : {}) })}
      onDone={props.onDone}
    />
  );
}

/**
 * How many open cases of each kind the user may see (`GET /api/v1/cases/counts`)
 * and, for support and admin, how many dead jobs (the page lists at most 100:
 * `dead_jobs` is then 100 and `deadJobsMore` true). Null until loaded;
 * `failed` (offline, or the server refused) with no counts.
 */
export function useWorkCounts(user: ConsoleUser): { counts: Record<string, number>; deadJobsMore: boolean; failed: boolean; reload: () => void } | null {
  const cases = useApi<{ counts: Record<string, number> }>('/api/v1/cases/counts');
  const dead = useApi<{ jobs: DeadJob[] }>(may(user, ['support', 'admin']) ? '/api/v1/jobs/dead' : null);
  const reload = (): void => {
    cases.reload();
    dead.reload();
  };
  if (cases.error) return { counts: {}, deadJobsMore: false, failed: true, reload };
  if (!cases.data) return null;
  if (may(user, ['support', 'admin']) && !dead.data && !dead.error) return null;
  const counts = { ...cases.data.counts };
  const jobs = dead.data?.jobs.length;
  if (jobs !== undefined) counts.dead_jobs = jobs;
  return { counts, deadJobsMore: jobs !== undefined && jobs >= 100, failed: false, reload };
}
