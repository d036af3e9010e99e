/**
 * A person's certificates as the holder sees them: the answer of
 * `GET /api/v1/public/links/{token}` (and of the one-time-code lookup's
 * `GET /api/v1/public/certificates`) drawn as cards — each dose's QR code,
 * facts and PDF link — with the holder and the next dose due. Used by the
 * certificate page (/c/<token>) and the portal (/).
 */
import { doseOfSeries, doseRoleLabel, formatDate } from '../../src/certificates/display.ts';
import type { HolderAnswer } from '../../src/certificates/holder-view.ts';
import type { Lang, TextKey } from './i18n.ts';

export type { HolderAnswer };
import type { Translate } from './lang.ts';
import { Facts, Notice } from './ui.tsx';
import { QrCode } from './qr.tsx';
import { CalendarIcon, DownloadIcon } from './icons.tsx';

/** `privacy` replaces the closing note (the SMS link's, by default). */
export function Certificates(props: { data: HolderAnswer; lang: Lang; t: Translate; privacy?: TextKey }) {
  const { data, lang, t } = props;
  const { person, nextDose } = data;
  const replaced = data.linked && data.linked.status !== 'valid';
  // The most recent dose first: it is the one people are asked for.
  const certificates = [...data.certificates].sort((a, b) => b.doseNumber - a.doseNumber);
  return (
    <>
      {replaced && <Notice kind="warn">{t('cert.linkedReplaced')}</Notice>}
      <section class="card person-card" aria-labelledby="person-heading">
        <h2 id="person-heading" class="visually-hidden">
          {t('cert.person')}
        </h2>
        <p class="holder-name" data-testid="holder-name">
          {person.name}
        </p>
        <Facts
          rows={[
            [t('cert.birthDate'), formatDate(person.birthDate, lang)],
            [t(`cert.id.${person.identifier.type}`), <span class="mono" data-testid="identifier">{person.identifier.masked}</span>],
          ]}
        />
      </section>

      {certificates.length > 0 && (
        <section class="card next-dose" aria-labelledby="next-heading">
          <CalendarIcon />
          <div>
            <h2 id="next-heading">{t('cert.next')}</h2>
            <p data-testid="next-dose">
              {nextDose
                ? t('cert.nextText', {
                    dose: nextDose.doseNumber,
                    role: nextDose.role === 'booster' ? 'booster' : lang === 'id' ? 'primer' : 'primary',
                    date: formatDate(nextDose.due, lang),
                  })
                : t('cert.nextDone')}
            </p>
          </div>
        </section>
      )}

      {certificates.length === 0 && <Notice kind="info">{t('cert.none')}</Notice>}

      {certificates.map((c) => (
        <article class="card dose-card" key={c.id} aria-labelledby={`dose-${c.id}`} data-testid="certificate">
          <header>
            <h2 id={`dose-${c.id}`}>{t('cert.doseHeading', { dose: c.doseNumber })}</h2>
            <span class="badge role">{doseRoleLabel(c.role, c.boosterNumber ?? undefined, lang)}</span>
          </header>
          <div class="qr-box">
            <QrCode text={c.qr} label={t('cert.qrLabel', { dose: c.doseNumber })} />
          </div>
          <p class="qr-hint">{t('cert.qrHint', { url: `${location.host}/verify` })}</p>
          <Facts
            rows={[
              [t('cert.vaccine'), c.vaccine.manufacturer ? `${c.vaccine.name} (${c.vaccine.manufacturer})` : c.vaccine.name],
              [t('cert.date'), formatDate(c.date, lang)],
              [t('cert.facility'), c.facility.name],
              [t('cert.series'), doseOfSeries(c.dn, c.sd, lang)],
              [t('cert.validUntil'), formatDate(c.expiresAt, lang)],
              [t('cert.status'), <span class="badge">{t('cert.statusValid')}</span>],
              [t('cert.uvci'), <span class="mono">{c.uvci}</span>],
            ]}
          />
          <div class="pdf-link">
            <a class="button block" href={c.pdf} download={`sertifikat-vaksinasi-dosis-${c.doseNumber}.pdf`} data-testid="pdf-link">
              <DownloadIcon />
              {t('cert.pdf')}
            </a>
            <span class="hint">{t('cert.pdfHint')}</span>
          </div>
        </article>
      ))}

      <p class="hint">{t(props.privacy ?? 'cert.privacy')}</p>
    </>
  );
}
