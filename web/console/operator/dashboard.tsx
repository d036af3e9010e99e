/**
 * /console/dashboard — the pipeline: counts per stage with the oldest item
 * waiting (`GET /api/v1/stats/pipeline`), per facility and per region, and
 * charts over time of throughput and backlog per stage
 * (`GET /api/v1/stats/series`), narrowed to one facility or region. Every
 * figure is within the caller's scope, as the API answers it.
 */
import { formatRegionCode } from '../../../src/domain/regions.ts';
import type { PageProps } from '../pages.ts';
import { currentLang, useTexts } from '../../lib/lang.ts';
import { GLOSSARY as G, lower } from '../../lib/glossary.ts';
import { LineChart } from './chart.tsx';
import { Load, may, useApi, When, withQuery } from './common.tsx';
import { GatewayPanel } from './gateways.tsx';

interface Stage {
  stage: string;
  count: number;
  oldestWaitingAt: string | null;
  oldestWaitingSeconds: number | null;
  lastMinute: number;
  lastHour: number;
}

interface FacilityFigures {
  facility: string;
  regionCode: string;
  recorded: number;
  recordedLastHour: number;
  claimsPriorDose: number;
  lastRecordedAt: string | null;
  averageDaysToEntry: number | null;
}

interface Pipeline {
  stages: Stage[];
  facilities: FacilityFigures[];
  generatedAt: string;
}

interface Series {
  bucket: 'hour' | 'day';
  from: string;
  to: string;
  points: {
    start: string;
    throughput: Record<'recorded' | 'certified' | 'queued' | 'accepted' | 'delivered' | 'failed', number>;
    backlog: Record<'certificate' | 'queue' | 'report', number>;
  }[];
}

const T = {
  id: {
    title: G.id['overview.title'],
    lead: 'Berapa yang ada di tiap tahap sekarang, dan bagaimana arusnya dari waktu ke waktu — agar antrean tidak pernah diam-diam menumpuk.',
    stages: 'Tahap sekarang',
    count: 'Jumlah',
    oldest: 'Terlama menunggu',
    lastHour: '1 jam terakhir',
    updated: 'Diperbarui',
    refresh: 'Muat ulang',
    recorded: 'Dicatat',
    certified: 'Bersertifikat',
    sms_queued: `SMS ${lower(G.id['sms.queued'])}`,
    sms_pending: `SMS ${lower(G.id['sms.pending'])}`,
    sms_submitted: `SMS ${lower(G.id['sms.submitted'])}`,
    sms_delivered: `SMS ${lower(G.id['sms.delivered'])}`,
    sms_failed: `SMS ${lower(G.id['sms.failed'])}`,
    sms_expired: `SMS ${lower(G.id['sms.expired'])}`,
    sms_unknown: `SMS ${lower(G.id['sms.unknown'])}`,
    sms_held: `SMS ${lower(G.id['sms.held'])}`,
    sms_cancelled: `SMS ${lower(G.id['sms.cancelled'])}`,
    overTime: 'Dari waktu ke waktu',
    bucket: 'Per',
    hour: 'jam',
    day: 'hari',
    range: 'Rentang',
    r24h: '24 jam',
    r48h: '48 jam',
    r7d: '7 hari',
    r30d: '30 hari',
    r90d: '90 hari',
    facility: 'Fasyankes',
    region: 'Wilayah',
    everywhere: 'Semua',
    show: 'Tampilkan',
    throughput: 'Arus per tahap ({scope})',
    backlog: 'Antrean per tahap ({scope})',
    tQueued: G.id['sms.queued'],
    tAccepted: G.id['sms.submitted'],
    tDelivered: G.id['sms.delivered'],
    tFailed: G.id['sms.failed'],
    bCertificate: 'Menunggu sertifikat',
    bQueue: `SMS ${lower(G.id['sms.queued'])}`,
    bReport: 'Menunggu kabar sampai',
    perFacility: 'Per fasyankes',
    perRegion: 'Per wilayah',
    colFacility: 'Fasyankes',
    colRegion: 'Wilayah',
    colRecorded: 'Dicatat',
    colLastHour: '1 jam terakhir',
    colClaims: G.id['dose.priorMissing'],
    colLast: 'Terakhir dicatat',
    colDelay: 'Rata-rata jeda vaksinasi → dicatat',
    doses: '{n} dosis',
    noFacilities: 'Belum ada dosis di wilayah kerja Anda.',
    seconds: '{n} dtk',
    minutes: '{n} mnt',
    hours: '{n} jam',
    days: '{n} hari',
    dayCount: '{n} hari',
  },
  en: {
    title: G.en['overview.title'],
    lead: 'How many are at each stage now, and how they flow over time — so a backlog can never build up silently.',
    stages: 'Stages now',
    count: 'Count',
    oldest: 'Oldest waiting',
    lastHour: 'Last hour',
    updated: 'Updated',
    refresh: 'Refresh',
    recorded: 'Recorded',
    certified: 'Certified',
    sms_queued: `SMS ${lower(G.en['sms.queued'])}`,
    sms_pending: `SMS ${lower(G.en['sms.pending'])}`,
    sms_submitted: `SMS ${lower(G.en['sms.submitted'])}`,
    sms_delivered: `SMS ${lower(G.en['sms.delivered'])}`,
    sms_failed: `SMS ${lower(G.en['sms.failed'])}`,
    sms_expired: `SMS ${lower(G.en['sms.expired'])}`,
    sms_unknown: `SMS ${lower(G.en['sms.unknown'])}`,
    sms_held: `SMS ${lower(G.en['sms.held'])}`,
    sms_cancelled: `SMS ${lower(G.en['sms.cancelled'])}`,
    overTime: 'Over time',
    bucket: 'Per',
    hour: 'hour',
    day: 'day',
    range: 'Range',
    r24h: '24 hours',
    r48h: '48 hours',
    r7d: '7 days',
    r30d: '30 days',
    r90d: '90 days',
    facility: 'Facility',
    region: 'Region',
    everywhere: 'All',
    show: 'Show',
    throughput: 'Throughput per stage ({scope})',
    backlog: 'Backlog per stage ({scope})',
    tQueued: G.en['sms.queued'],
    tAccepted: G.en['sms.submitted'],
    tDelivered: G.en['sms.delivered'],
    tFailed: G.en['sms.failed'],
    bCertificate: 'Awaiting a certificate',
    bQueue: `SMS ${lower(G.en['sms.queued'])}`,
    bReport: 'Awaiting the delivery report',
    perFacility: 'Per facility',
    perRegion: 'Per region',
    colFacility: 'Facility',
    colRegion: 'Region',
    colRecorded: 'Recorded',
    colLastHour: 'Last hour',
    colClaims: G.en['dose.priorMissing'],
    colLast: 'Last recorded',
    colDelay: 'Average time from vaccination to entry',
    doses: '{n} doses',
    noFacilities: 'No doses within your scope yet.',
    seconds: '{n} s',
    minutes: '{n} min',
    hours: '{n} h',
    days: '{n} d',
    dayCount: '{n} days',
  },
};

type Key = keyof typeof T.id;

const RANGES: Record<string, { bucket: 'hour' | 'day'; buckets: number; label: Key }> = {
  '24h': { bucket: 'hour', buckets: 24, label: 'r24h' },
  '48h': { bucket: 'hour', buckets: 48, label: 'r48h' },
  '7d': { bucket: 'hour', buckets: 168, label: 'r7d' },
  '30d': { bucket: 'day', buckets: 30, label: 'r30d' },
  '90d': { bucket: 'day', buckets: 90, label: 'r90d' },
};

/** The regions the listed facilities lie in, at province (2), regency (4) and district (6) level. */
function regionsOf(facilities: FacilityFigures[]): string[] {
  const out = new Set<string>();
  for (const f of facilities) for (const n of [2, 4, 6]) if (f.regionCode.length >= n) out.add(f.regionCode.slice(0, n));
  return [...out].sort();
}

export function DashboardPage(props: PageProps) {
  const t = useTexts(T);
  const rangeKey = props.query.get('range') ?? '24h';
  const range = RANGES[rangeKey] ?? RANGES['24h']!;
  const facility = props.query.get('facility') ?? '';
  const region = props.query.get('region') ?? '';
  const pipeline = useApi<Pipeline>('/api/v1/stats/pipeline');
  const width = range.bucket === 'hour' ? 3_600_000 : 86_400_000;
  // Whole buckets ending with the current one, so every reload asks for the same window.
  const end = Math.ceil(Date.now() / width) * width;
  const seriesPath = withQuery('/api/v1/stats/series', {
    bucket: range.bucket,
    from: new Date(end - range.buckets * width).toISOString(),
    to: new Date(end).toISOString(),
    facility,
    region: facility ? '' : region,
  });
  const series = useApi<Series>(seriesPath);
  const set = (change: Record<string, string>): void => {
    props.navigate(withQuery('/console/dashboard', { range: rangeKey, facility, region, ...change }));
  };
  const age = (s: number | null): string => {
    if (s === null) return '—';
    if (s < 120) return t('seconds', { n: s });
    if (s < 7200) return t('minutes', { n: Math.round(s / 60) });
    if (s < 172_800) return t('hours', { n: Math.round(s / 3600) });
    return t('days', { n: Math.round(s / 86_400) });
  };
  const stageName = (s: string): string => (s in T.id ? t(s as Key) : s);
  const num = numberFormat();
  const scopeName = facility ? `${t('facility')} ${facility}` : region ? `${t('region')} ${formatRegionCode(region)}` : t('everywhere');
  const locale = currentLang() === 'id' ? 'id-ID' : 'en-GB';
  const label = (iso: string): string =>
    range.bucket === 'hour'
      ? new Date(iso).toLocaleString(locale, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' })
      : new Date(iso).toLocaleDateString(locale, { day: 'numeric', month: 'short' });

  return (
    <section class="op-page" aria-labelledby="op-dash-title">
      <h1 id="op-dash-title">{t('title')}</h1>
      <p class="lead">{t('lead')}</p>
      <Load l={pipeline}>
        {(p) => (
          <>
            <h2>{t('stages')}</h2>
            <p class="hint">
              {t('updated')} <When at={p.generatedAt} />{' '}
              <button
                type="button"
                class="button secondary small"
                onClick={() => {
                  pipeline.reload();
                  series.reload();
                }}
              >
                {t('refresh')}
              </button>
            </p>
            <ul class="op-stages" data-testid="stages">
              {p.stages.map((s) => (
                <li class="card op-stage" key={s.stage} data-stage={s.stage}>
                  <span class="op-stage-name">{stageName(s.stage)}</span>
                  <strong class="op-stage-count" data-testid={`stage-${s.stage}`}>
                    {s.count}
                  </strong>
                  <span class="hint">
                    {t('lastHour')}: {s.lastHour}
                    {s.oldestWaitingSeconds !== null && ` · ${t('oldest')}: ${age(s.oldestWaitingSeconds)}`}
                  </span>
                </li>
              ))}
            </ul>

            {may(props.user, ['admin', 'support']) && <GatewayPanel />}

            <h2>{t('overTime')}</h2>
            <form class="op-row op-filters" onSubmit={(e) => e.preventDefault()}>
              <div class="field">
                <label class="label" for="op-dash-range">
                  {t('range')}
                </label>
                <select id="op-dash-range" name="range" value={rangeKey} onChange={(e) => set({ range: (e.target as HTMLSelectElement).value })}>
                  {Object.entries(RANGES).map(([k, r]) => (
                    <option key={k} value={k}>
                      {t(r.label)} ({t('bucket')} {t(r.bucket)})
                    </option>
                  ))}
                </select>
              </div>
              <div class="field">
                <label class="label" for="op-dash-facility">
                  {t('facility')}
                </label>
                <select id="op-dash-facility" name="facility" value={facility} onChange={(e) => set({ facility: (e.target as HTMLSelectElement).value, region: '' })}>
                  <option value="">{t('everywhere')}</option>
                  {p.facilities.map((f) => (
                    <option key={f.facility} value={f.facility}>
                      {f.facility}
                    </option>
                  ))}
                </select>
              </div>
              <div class="field">
                <label class="label" for="op-dash-region">
                  {t('region')}
                </label>
                <select id="op-dash-region" name="region" value={region} onChange={(e) => set({ region: (e.target as HTMLSelectElement).value, facility: '' })}>
                  <option value="">{t('everywhere')}</option>
                  {regionsOf(p.facilities).map((r) => (
                    <option key={r} value={r}>
                      {formatRegionCode(r)}
                    </option>
                  ))}
                </select>
              </div>
            </form>
            <Load l={series}>
              {(s) => {
                const labels = s.points.map((pt) => label(pt.start));
                const tp = (k: keyof Series['points'][number]['throughput']) => s.points.map((pt) => pt.throughput[k]);
                const bl = (k: keyof Series['points'][number]['backlog']) => s.points.map((pt) => pt.backlog[k]);
                return (
                  <div class="op-charts">
                    <LineChart
                      id="chart-throughput"
                      title={t('throughput', { scope: scopeName })}
                      labels={labels}
                      series={[
                        { key: 'recorded', label: t('recorded'), values: tp('recorded') },
                        { key: 'certified', label: t('certified'), values: tp('certified') },
                        { key: 'queued', label: t('tQueued'), values: tp('queued') },
                        { key: 'accepted', label: t('tAccepted'), values: tp('accepted') },
                        { key: 'delivered', label: t('tDelivered'), values: tp('delivered') },
                        { key: 'failed', label: t('tFailed'), values: tp('failed') },
                      ]}
                    />
                    <LineChart
                      id="chart-backlog"
                      title={t('backlog', { scope: scopeName })}
                      labels={labels}
                      series={[
                        { key: 'certificate', label: t('bCertificate'), values: bl('certificate') },
                        { key: 'queue', label: t('bQueue'), values: bl('queue') },
                        { key: 'report', label: t('bReport'), values: bl('report') },
                      ]}
                    />
                  </div>
                );
              }}
            </Load>

            <h2>{t('perFacility')}</h2>
            {p.facilities.length === 0 ? (
              <p>{t('noFacilities')}</p>
            ) : (
              <div class="op-table-wrap">
                <table class="op-table op-table-stack" data-testid="per-facility">
                  <thead>
                    <tr>
                      <th scope="col">{t('colFacility')}</th>
                      <th scope="col">{t('colRegion')}</th>
                      <CountHeads t={t} />
                      <th scope="col">{t('colLast')}</th>
                      <th scope="col" class="num">
                        {t('colDelay')}
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {p.facilities.map((f) => (
                      <tr key={f.facility} data-facility={f.facility}>
                        <th scope="row">
                          <a
                            href={withQuery('/console/dashboard', { range: rangeKey, facility: f.facility })}
                            onClick={(e) => {
                              e.preventDefault();
                              set({ facility: f.facility, region: '' });
                            }}
                          >
                            {f.facility}
                          </a>
                        </th>
                        <td data-label={t('colRegion')}>{formatRegionCode(f.regionCode)}</td>
                        <CountCells t={t} num={num} counts={{ recorded: f.recorded, lastHour: f.recordedLastHour, claims: f.claimsPriorDose }} />
                        <td data-label={t('colLast')}>{f.lastRecordedAt ? <When at={f.lastRecordedAt} /> : '—'}</td>
                        <td class="num" data-col="delay" data-label={t('colDelay')}>
                          {f.averageDaysToEntry === null ? '—' : delay(f.averageDaysToEntry, t, num)}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <h2>{t('perRegion')}</h2>
            <PerRegion facilities={p.facilities} t={t} num={num} />
          </>
        )}
      </Load>
    </section>
  );
}

/** Whole numbers as the language writes them (12.345 / 12,345), to at most `digits` decimals. */
function numberFormat(): (n: number, digits?: number) => string {
  const locale = currentLang() === 'id' ? 'id-ID' : 'en-GB';
  return (n, digits = 0) => new Intl.NumberFormat(locale, { maximumFractionDigits: digits }).format(Number(n));
}

/** An average time in days, with its unit and no false precision: hours under a day, one decimal under ten days, whole days above. */
function delay(days: number, t: Translate, num: (n: number, digits?: number) => string): string {
  if (days < 1) return t('hours', { n: num(days * 24) });
  return t('dayCount', { n: num(days, days < 10 ? 1 : 0) });
}

type Translate = (k: Key, v?: Record<string, string | number>) => string;
type Counts = { recorded: number; lastHour: number; claims: number };
const COUNT_COLUMNS: readonly [keyof Counts, Key][] = [
  ['recorded', 'colRecorded'],
  ['lastHour', 'colLastHour'],
  ['claims', 'colClaims'],
];

/** The headings of the counts both tables show. */
function CountHeads(props: { t: Translate }) {
  return (
    <>
      {COUNT_COLUMNS.map(([k, label]) => (
        <th scope="col" class="num" key={k}>
          {props.t(label)}
        </th>
      ))}
    </>
  );
}

/** The counts, each with its unit and (for the phone's cards) its heading. */
function CountCells(props: { t: Translate; num: (n: number) => string; counts: Counts }) {
  const { t, num } = props;
  return (
    <>
      {COUNT_COLUMNS.map(([k, label]) => (
        <td class="num" key={k} data-col={k} data-label={t(label)}>
          {t('doses', { n: num(props.counts[k]) })}
        </td>
      ))}
    </>
  );
}

/** Doses recorded per region (the facility's region code, at regency level), from the per-facility figures. */
function PerRegion(props: { facilities: FacilityFigures[]; t: Translate; num: (n: number) => string }) {
  const { t, num } = props;
  const by = new Map<string, Counts>();
  for (const f of props.facilities) {
    const r = f.regionCode.slice(0, 4);
    const a = by.get(r) ?? { recorded: 0, lastHour: 0, claims: 0 };
    by.set(r, { recorded: a.recorded + Number(f.recorded), lastHour: a.lastHour + Number(f.recordedLastHour), claims: a.claims + Number(f.claimsPriorDose) });
  }
  if (by.size === 0) return <p>{t('noFacilities')}</p>;
  return (
    <div class="op-table-wrap">
      <table class="op-table op-table-stack" data-testid="per-region">
        <thead>
          <tr>
            <th scope="col">{t('colRegion')}</th>
            <CountHeads t={t} />
          </tr>
        </thead>
        <tbody>
          {[...by.entries()]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([r, a]) => (
              <tr key={r} data-region={r}>
                <th scope="row">{formatRegionCode(r)}</th>
                <CountCells t={t} num={num} counts={a} />
              </tr>
            ))}
        </tbody>
      </table>
    </div>
  );
}
