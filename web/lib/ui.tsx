/** The page frame and the small pieces every page uses. */
import type { ComponentChildren } from 'preact';
import { LANGS, type Lang } from './i18n.ts';
import { setLang, useLang, useOnline } from './lang.ts';

/** Dosis's mark: a shield with a tick (not an official emblem). */
export function Logo() {
  return (
    <svg class="logo" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
      <path d="M16 2 4 6.5v8.8c0 7.3 5.1 13.4 12 14.7 6.9-1.3 12-7.4 12-14.7V6.5L16 2Z" fill="currentColor" />
      <path d="m10.5 16.2 3.8 3.8 7.4-7.6" fill="none" stroke="#0b7a75" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  );
}

const SHORT: Record<Lang, string> = { id: 'ID', en: 'EN' };

export function LangSwitch() {
  const { lang, t } = useLang();
  return (
    <div class="lang-switch" role="group" aria-label={t('lang.label')}>
      {LANGS.map((l) => (
        <button type="button" key={l} lang={l} aria-pressed={l === lang} title={t(`lang.${l}`)} onClick={() => setLang(l)}>
          <span aria-hidden="true">{SHORT[l]}</span>
          <span class="visually-hidden">{t(`lang.${l}`)}</span>
        </button>
      ))}
    </div>
  );
}

/** The page frame; the logo links to `home` (the verifier by default; the portal's own page links to `/`). */
export function Shell(props: { title: string; children: ComponentChildren; footerNote?: string; home?: string }) {
  const { t } = useLang();
  const online = useOnline();
  return (
    <div class="page">
      <a class="skip" href="#main">
        {props.title}
      </a>
      <header class="topbar">
        <div class="topbar-inner">
          <a class="brand" href={props.home ?? '/verify'}>
            <Logo />
            <span class="brand-text">
              <strong>{t('app.name')}</strong>
              <small>{t('app.tagline')}</small>
            </span>
          </a>
          <LangSwitch />
        </div>
      </header>
      {!online && (
        <div class="offline-bar" role="status">
          {t('net.offline')}
        </div>
      )}
      <main id="main" class="main" tabIndex={-1}>
        <h1>{props.title}</h1>
        {props.children}
      </main>
      <footer class="footer">
        <p>
          {t('app.footer')} {props.footerNote}
        </p>
      </footer>
    </div>
  );
}

/** Label/value rows. */
export function Facts(props: { rows: [string, ComponentChildren][]; class?: string }) {
  return (
    <dl class={`facts ${props.class ?? ''}`}>
      {props.rows.map(([label, value]) => (
        <div class="fact" key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Notice(props: { kind: 'info' | 'warn' | 'error'; children: ComponentChildren; role?: 'status' | 'alert' }) {
  return (
    <div class={`notice notice-${props.kind}`} role={props.role ?? (props.kind === 'error' ? 'alert' : 'status')}>
      {props.children}
    </div>
  );
}

/**
 * One labelled input with its hint and its error, wired for screen readers
 * (`aria-describedby` names the hint, and the error once there is one).
 */
export function TextField(props: {
  id: string;
  name: string;
  label: string;
  hint?: string | undefined;
  /** The error text, shown (and the input marked invalid) when given. */
  error?: string | undefined;
  value: string;
  onInput: (v: string) => void;
  type?: 'text' | 'date' | 'tel';
  inputMode?: 'numeric' | 'tel' | 'text';
  autoComplete?: string;
  maxLength?: number;
  onBlur?: () => void;
}) {
  return (
    <Field id={props.id} label={props.label} hint={props.hint} error={props.error} errorTestId={`error-${props.name}`}>
      <input
        id={props.id}
        name={props.name}
        // Preact types an input by its type (web/tsconfig needs the cast; the root one does not).
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
        type={(props.type ?? 'text') as 'text'}
        max={props.type === 'date' ? new Date().toISOString().slice(0, 10) : undefined}
        inputMode={props.inputMode}
        autoComplete={props.autoComplete ?? 'off'}
        maxLength={props.maxLength}
        value={props.value}
        aria-invalid={props.error ? 'true' : 'false'}
        aria-describedby={describedByOf(props)}
        onInput={(e) => props.onInput(e.currentTarget.value)}
        onBlur={props.onBlur}
      />
    </Field>
  );
}

/** The ids of a field's hint and error, for its input's aria-describedby (undefined when neither). */
export function describedByOf(props: { id: string; hint?: string | undefined; error?: string | undefined }): string | undefined {
  return [props.hint ? `${props.id}-hint` : '', props.error ? `${props.id}-error` : ''].filter(Boolean).join(' ') || undefined;
}

/**
 * A form field's frame: its label, hint, the control (children) and its error. Only the label names
 * the control (the hint and the error describe it, see describedByOf): a NIK's error that mentions the
 * birth date must not make the NIK input answer to "Tanggal lahir".
 */
export function Field(props: { id: string; label: string; hint?: string | undefined; error?: string | undefined; errorTestId?: string; class?: string; children: ComponentChildren }) {
  return (
    <div class={props.class ? `field ${props.class}` : 'field'}>
      <label class="label" for={props.id}>
        {props.label}
      </label>
      {props.hint && (
        <span class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </span>
      )}
      {props.children}
      {props.error && (
        <span class="error" id={`${props.id}-error`} data-testid={props.errorTestId}>
          {props.error}
        </span>
      )}
    </div>
  );
}
