/**
 * The verifier page, /verify: anyone checks a certificate from its QR code —
 * by camera, from a picture, or pasted text — in the browser, against the
 * trust list saved on the device (works offline after the first visit).
 * Verification is src/certificates/hc1-web.ts: the same steps and verdicts
 * as the server's.
 */
import '../lib/styles.css';
import { render, type RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { HcertPayload } from '../../src/certificates/dcc.ts';
import type { Hc1Verification } from '../../src/certificates/hc1-core.ts';
import { verifyHc1Web } from '../../src/certificates/hc1-web.ts';
import { readTrustImport, TrustImportError, type ImportedSigner } from '../../src/certificates/trust-import.ts';
import { countryName, doseOfSeries, formatDate, formatDateTime, holderName, seriesState, vaccineNameOf, type Lang } from '../../src/certificates/display.ts';
import { useLang, type Translate } from '../lib/lang.ts';
import { Facts, Notice, Shell } from '../lib/ui.tsx';
import { CameraIcon, ImageIcon, InvalidIcon, KeyIcon, PasteIcon, ValidIcon } from '../lib/icons.tsx';
import { addTrustedKeys, clearAddedKeys, loadTrust, refreshTrust, trustedKeys, type TrustState } from './trust-store.ts';
import { readQr, readQrFromFile } from './scan.ts';

type Mode = 'camera' | 'upload' | 'paste';

interface Outcome {
  verification: Hc1Verification;
}

function App() {
  const { lang, t } = useLang();
  const [mode, setMode] = useState<Mode | null>(null);
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [trust, setTrust] = useState<TrustState>(loadTrust);
  const resultHeading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    document.title = `${t('verify.title')} — Dosis`;
  }, [lang]);

  useEffect(() => {
    void refreshTrust().then((ok) => ok && setTrust(loadTrust()));
  }, []);

  useEffect(() => {
    if (outcome) resultHeading.current?.focus();
  }, [outcome]);

  const check = async (qr: string): Promise<void> => {
    setBusy(true);
    setProblem(null);
    try {
      const current = loadTrust();
      setTrust(current);
      const verification = await verifyHc1Web(qr.trim(), {
        trustList: trustedKeys(current),
        now: new Date(),
        revokedUvciHashes: new Set(current.revoked?.hashes ?? []),
      });
      setOutcome({ verification });
      setMode(null);
    } finally {
      setBusy(false);
    }
  };

  const onFile = async (file: File | undefined): Promise<void> => {
    if (!file) return;
    setMode('upload');
    setProblem(null);
    setBusy(true);
    let qr: string | undefined;
    try {
      qr = await readQrFromFile(file);
    } catch {
      setProblem(t('verify.readError'));
      setBusy(false);
      return;
    }
    setBusy(false);
    if (!qr) setProblem(t('verify.noQr'));
    else await check(qr);
  };

  const reset = (): void => {
    setOutcome(null);
    setText('');
    setProblem(null);
    setMode(null);
  };

  return (
    <Shell title={t('verify.title')} footerNote={t('app.footerPrivacy')}>
      <p class="lead">{t('verify.intro')}</p>

      {outcome ? (
        <section aria-live="polite">
          <Verdict outcome={outcome} headingRef={resultHeading} />
          <button type="button" class="button block" onClick={reset}>
            {t('verify.again')}
          </button>
        </section>
      ) : (
        <section aria-labelledby="ways-heading">
          <h2 id="ways-heading" class="visually-hidden">
            {t('verify.ways')}
          </h2>
          <div class="ways">
            <button type="button" class="way" aria-pressed={mode === 'camera'} onClick={() => setMode(mode === 'camera' ? null : 'camera')}>
              <CameraIcon />
              {t('verify.camera')}
            </button>
            <label class="way" aria-pressed={mode === 'upload'} title={t('verify.uploadHint')}>
              <ImageIcon />
              {t('verify.upload')}
              <input
                type="file"
                accept="image/*"
                aria-label={t('verify.upload')}
                onChange={(e) => {
                  const input = e.currentTarget;
                  void onFile(input.files?.[0]).finally(() => (input.value = ''));
                }}
              />
            </label>
            <button type="button" class="way" aria-pressed={mode === 'paste'} onClick={() => setMode(mode === 'paste' ? null : 'paste')}>
              <PasteIcon />
              {t('verify.paste')}
            </button>
          </div>

          {mode === 'camera' && <CameraPanel t={t} onText={(qr) => void check(qr)} onClose={() => setMode(null)} />}

          {mode === 'paste' && (
            <form
              id="paste-form"
              class="card stack"
              onSubmit={(e) => {
                e.preventDefault();
                if (!text.trim()) setProblem(t('verify.empty'));
                else void check(text);
              }}
            >
              <label for="hc1">
                {t('verify.pasteLabel')}
              </label>
              <textarea
                id="hc1"
                value={text}
                placeholder={t('verify.pastePlaceholder')}
                spellcheck={false}
                autocomplete="off"
                onInput={(e) => setText(e.currentTarget.value)}
              />
              <button type="submit" class="button block" disabled={busy}>
                {busy ? t('verify.checking') : t('verify.check')}
              </button>
            </form>
          )}

          {busy && mode !== 'paste' && <div class="spinner" role="status" aria-label={t('verify.checking')} />}
          {problem && <Notice kind="error">{problem}</Notice>}
        </section>
      )}

      <TrustPanel trust={trust} lang={lang} t={t} onChange={() => setTrust(loadTrust())} />
    </Shell>
  );
}

function Verdict(props: { outcome: Outcome; headingRef: RefObject<HTMLHeadingElement | null> }) {
  const { lang, t } = useLang();
  const v = props.outcome.verification;
  // A valid vaccination certificate says where it stands in its series as large as "valid":
  // a big green "valid" for dose 1 of 2 read as fully vaccinated.
  const vac = v.valid ? v.payload?.v?.[0] : undefined;
  const series = vac ? seriesState(vac, lang) : undefined;
  const tone = !v.valid ? 'verdict-bad' : series?.state === 'incomplete' ? 'verdict-partial' : 'verdict-ok';
  return (
    <>
      <div class={`verdict ${tone}`} data-reason={v.reason} data-series={series?.state}>
        {v.valid ? <ValidIcon /> : <InvalidIcon />}
        <div>
          <h2 ref={props.headingRef} tabIndex={-1}>
            {v.valid ? t('verify.resultValid') : t('verify.resultInvalid')}
          </h2>
          {series && (
            <p class="series" data-testid="series-state">
              {series.text}
            </p>
          )}
          <p class="reason">{v.valid ? t('verify.validDetail') : v.message[lang]}</p>
        </div>
      </div>
      {v.payload && (
        <div class="card">
          {!v.valid && <Notice kind="warn">{t('verify.signedButInvalid')}</Notice>}
          {v.notices?.map((n) => (
            <Notice key={n.code} kind="info">
              <span data-notice={n.code}>{n.message[lang]}</span>
            </Notice>
          ))}
          <h3 class="visually-hidden">{t('verify.holder')}</h3>
          <p class="holder-name" data-testid="holder-name">
            {holderName(v.payload.nam)}
          </p>
          <Facts rows={payloadRows(v.payload, v, lang, t)} />
        </div>
      )}
    </>
  );
}

function payloadRows(p: HcertPayload, v: Hc1Verification, lang: Lang, t: Translate): [string, string][] {
  const rows: [string, string][] = [[t('verify.birthDate'), formatDate(p.dob, lang)]];
  const vac = p.v?.[0];
  const test = p.t?.[0];
  const rec = p.r?.[0];
  if (vac) {
    rows.push(
      [t('verify.type'), t('verify.type.v')],
      [t('verify.vaccine'), vaccineNameOf(vac.mp)],
      [t('verify.dose'), doseOfSeries(vac.dn, vac.sd, lang)],
      [t('verify.vaccinationDate'), formatDate(vac.dt, lang)],
      [t('verify.country'), countryName(vac.co, lang)],
      [t('verify.issuer'), vac.is],
      [t('verify.uvci'), vac.ci],
    );
  } else if (test) {
    rows.push(
      [t('verify.type'), t('verify.type.t')],
      [t('verify.testDate'), formatDate(test.sc, lang)],
      [t('verify.testResult'), test.tr === '260415000' ? t('verify.testNegative') : t('verify.testPositive')],
      [t('verify.country'), countryName(test.co, lang)],
      [t('verify.issuer'), test.is],
      [t('verify.uvci'), test.ci],
    );
  } else if (rec) {
    rows.push(
      [t('verify.type'), t('verify.type.r')],
      [t('verify.recoveryValid'), `${formatDate(rec.df, lang)} – ${formatDate(rec.du, lang)}`],
      [t('verify.country'), countryName(rec.co, lang)],
      [t('verify.issuer'), rec.is],
      [t('verify.uvci'), rec.ci],
    );
  }
  if (v.issuedAt) rows.push([t('verify.issuedAt'), formatDate(v.issuedAt.toISOString(), lang)]);
  if (v.expiresAt) rows.push([t('verify.expiresAt'), formatDate(v.expiresAt.toISOString(), lang)]);
  return rows;
}

function CameraPanel(props: { t: Translate; onText: (qr: string) => void; onClose: () => void }) {
  const { t } = props;
  const video = useRef<HTMLVideoElement>(null);
  const [state, setState] = useState<'starting' | 'scanning' | 'denied'>('starting');
  const onText = useRef(props.onText);
  onText.current = props.onText;

  useEffect(() => {
    let stream: MediaStream | undefined;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    const tick = async (): Promise<void> => {
      const v = video.current;
      if (stopped || !v || !ctx) return;
      if (v.videoWidth > 0) {
        canvas.width = v.videoWidth;
        canvas.height = v.videoHeight;
        ctx.drawImage(v, 0, 0);
        const qr = await readQr(ctx.getImageData(0, 0, canvas.width, canvas.height)).catch(() => undefined);
        if (stopped) return;
        if (qr) {
          onText.current(qr);
          return;
        }
      }
      timer = setTimeout(() => void tick(), 200);
    };
    void (async () => {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' } }, audio: false });
      } catch {
        if (!stopped) setState('denied');
        return;
      }
      if (stopped || !video.current) {
        for (const track of stream.getTracks()) track.stop();
        return;
      }
      video.current.srcObject = stream;
      await video.current.play().catch(() => undefined);
      setState('scanning');
      void tick();
    })();
    return () => {
      stopped = true;
      clearTimeout(timer);
      for (const track of stream?.getTracks() ?? []) track.stop();
    };
  }, []);

  if (state === 'denied') return <Notice kind="error">{t('verify.cameraDenied')}</Notice>;
  return (
    <div class="card">
      <div class="camera">
        <video ref={video} muted playsInline aria-label={t('verify.cameraVideo')} />
        <div class="frame" aria-hidden="true" />
      </div>
      <p class="hint" role="status">
        {state === 'starting' ? t('verify.cameraStarting') : t('verify.cameraHint')}
      </p>
      <button type="button" class="button secondary block" onClick={props.onClose}>
        {t('verify.cameraStop')}
      </button>
    </div>
  );
}

function TrustPanel(props: { trust: TrustState; lang: Lang; t: Translate; onChange: () => void }) {
  const { trust, lang, t } = props;
  const [refreshing, setRefreshing] = useState(false);
  const [message, setMessage] = useState<{ kind: 'info' | 'error'; text: string } | null>(null);
  const [pasted, setPasted] = useState('');
  // Signers from an unsigned list, waiting for the person to check each fingerprint and confirm.
  const [pending, setPending] = useState<ImportedSigner[] | null>(null);
  const [checked, setChecked] = useState(false);

  const add = (keys: ImportedSigner[]): void => {
    const count = addTrustedKeys(keys);
    setMessage({ kind: 'info', text: t('trust.added', { count }) });
    setPasted('');
    setPending(null);
    setChecked(false);
    props.onChange();
  };

  const importText = async (text: string): Promise<void> => {
    try {
      const plan = await readTrustImport(text, trustedKeys(loadTrust()));
      if (plan.signedBy !== null) add(plan.signers);
      else {
        setMessage(null);
        setChecked(false);
        setPending(plan.signers);
      }
    } catch (e) {
      setPending(null);
      setMessage({ kind: 'error', text: e instanceof TrustImportError ? e.text[lang] : String(e) });
    }
  };

  return (
    <>
    <p class={`trust-line ${trust.server ? '' : 'missing'}`} data-testid="trust-status" role="status">
      <KeyIcon />
      <span>
        {trust.server
          ? t('trust.summary', { count: trust.server.keys.length, when: formatDateTime(new Date(trust.server.fetchedAt), lang) })
          : t('trust.none')}{' '}
        {trust.added.length > 0 && t('trust.summaryAdded', { count: trust.added.length })}
      </span>
    </p>
    <details class="trust">
      <summary>{t('trust.title')}</summary>
      <div class="stack">
        <div class="row">
          <button
            type="button"
            class="button secondary"
            disabled={refreshing}
            onClick={() => {
              setRefreshing(true);
              void refreshTrust().then((ok) => {
                setRefreshing(false);
                setMessage(ok ? null : { kind: 'error', text: t('trust.refreshFailed') });
                props.onChange();
              });
            }}
          >
            {refreshing ? t('trust.refreshing') : t('trust.refresh')}
          </button>
          {trust.added.length > 0 && (
            <button
              type="button"
              class="button secondary"
              onClick={() => {
                clearAddedKeys();
                setMessage({ kind: 'info', text: t('trust.cleared') });
                props.onChange();
              }}
            >
              {t('trust.clear')}
            </button>
          )}
        </div>
        <h3>{t('trust.addTitle')}</h3>
        <p class="hint">{t('trust.addHint')}</p>
        <div>
          <label for="trust-file">{t('trust.addFile')}</label>
          <input
            id="trust-file"
            type="file"
            accept=".json,.pem,.crt,.cer,.txt,application/json"
            onChange={(e) => {
              const input = e.currentTarget;
              const file = input.files?.[0];
              if (file) void file.text().then(importText).finally(() => (input.value = ''));
            }}
          />
        </div>
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            void importText(pasted);
          }}
        >
          <label for="trust-text">{t('trust.addText')}</label>
          <textarea id="trust-text" value={pasted} spellcheck={false} onInput={(e) => setPasted(e.currentTarget.value)} />
          <button type="submit" class="button secondary" disabled={!pasted.trim()}>
            {t('trust.addButton')}
          </button>
        </form>
        {pending && (
          <div class="stack" data-testid="trust-confirm">
            <p>{t('trust.confirmLead', { count: pending.length })}</p>
            <ul class="trust-candidates">
              {pending.map((k) => (
                <li key={k.fingerprint}>
                  <strong data-testid="trust-subject">{k.subject}</strong>
                  <br />
                  {t('trust.issuer')}: {k.issuer}
                  <br />
                  kid <span class="mono">{k.kid}</span>
                  <br />
                  SHA-256 <span class="mono" data-testid="trust-fingerprint">{k.fingerprint}</span>
                </li>
              ))}
            </ul>
            <label>
              <input type="checkbox" checked={checked} onChange={(e) => setChecked(e.currentTarget.checked)} data-testid="trust-checked" /> {t('trust.confirmCheck')}
            </label>
            <div class="row">
              <button type="button" class="button" disabled={!checked} onClick={() => add(pending)} data-testid="trust-accept">
                {t('trust.confirmButton', { count: pending.length })}
              </button>
              <button type="button" class="button secondary" onClick={() => setPending(null)}>
                {t('trust.confirmCancel')}
              </button>
            </div>
          </div>
        )}
        {message && <Notice kind={message.kind}>{message.text}</Notice>}
      </div>
    </details>
    </>
  );
}

if ('serviceWorker' in navigator) {
  // Makes the page and its code available offline; the trust list is also kept in localStorage.
  navigator.serviceWorker.register('/sw-verify.js', { scope: '/verify' }).catch(() => undefined);
}

render(<App />, document.getElementById('app')!);
