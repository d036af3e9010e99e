/**
 * The SMS gateways on the dashboard (issue 16): each route's state as the
 * workers last saw it (`GET /api/v1/sms/stats`, admin and support), so an
 * outage shows where people look — with the messages waiting for it (their
 * attempts not spent), the time since the route last worked, and the SMS
 * people got twice.
 */
import { useTexts } from '../../lib/lang.ts';
import { Load, useApi, When } from './common.tsx';

interface Route {
  route: string;
  state: 'closed' | 'open' | 'half_open';
  since: string;
  lastSuccessAt: string | null;
  secondsSinceSuccess: number | null;
  lastError: string | null;
  outages: number;
  duplicates: number;
}

interface SmsStats {
  waitingForGateway: number;
  routes: Route[];
}

const T = {
  id: {
    title: 'Gateway SMS',
    down: 'Gateway SMS {route} tidak menjawab sejak {since}: {n} SMS menunggu (percobaan mereka tidak terpakai).',
    none: 'Belum ada SMS lewat gateway.',
    route: 'Rute',
    state: 'Status',
    closed: 'berjalan',
    open: 'dihentikan (gateway mati)',
    half_open: 'sedang diuji',
    lastSuccess: 'Terakhir berhasil',
    lastError: 'Galat terakhir',
    outages: 'Gangguan',
    duplicates: 'SMS terkirim dua kali',
    waiting: 'Menunggu gateway',
  },
  en: {
    title: 'SMS gateways',
    down: 'SMS gateway {route} not answering since {since}: {n} SMS waiting (their attempts not spent).',
    none: 'No SMS through a gateway yet.',
    route: 'Route',
    state: 'State',
    closed: 'in use',
    open: 'paused (gateway down)',
    half_open: 'being probed',
    lastSuccess: 'Last success',
    lastError: 'Last error',
    outages: 'Outages',
    duplicates: 'SMS delivered twice',
    waiting: 'Waiting for the gateway',
  },
};

export function GatewayPanel() {
  const t = useTexts(T);
  const stats = useApi<SmsStats>('/api/v1/sms/stats');
  return (
    <section aria-labelledby="op-gw-title" data-testid="gateways">
      <h2 id="op-gw-title">{t('title')}</h2>
      <Load l={stats}>
        {(s) => (
          <>
            {s.routes
              .filter((r) => r.state !== 'closed')
              .map((r) => (
                <div class="notice notice-error" role="alert" key={r.route} data-route-down={r.route}>
                  <p>{t('down', { route: r.route, since: new Date(r.since).toISOString().slice(11, 19) + ' UTC', n: s.waitingForGateway })}</p>
                </div>
              ))}
            {s.routes.length === 0 ? (
              <p>{t('none')}</p>
            ) : (
              <div class="op-table-wrap">
                <table class="op-table">
                  <thead>
                    <tr>
                      <th scope="col">{t('route')}</th>
                      <th scope="col">{t('state')}</th>
                      <th scope="col">{t('lastSuccess')}</th>
                      <th scope="col">{t('lastError')}</th>
                      <th scope="col">{t('outages')}</th>
                      <th scope="col">{t('duplicates')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {s.routes.map((r) => (
                      <tr key={r.route} data-route={r.route} data-state={r.state}>
                        <th scope="row">{r.route}</th>
                        <td>{t(r.state)}</td>
                        <td>{r.lastSuccessAt ? <When at={r.lastSuccessAt} /> : '—'}</td>
                        <td>{r.lastError ?? '—'}</td>
                        <td>{r.outages}</td>
                        <td>{r.duplicates}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <p class="hint">
              {t('waiting')}: <strong data-testid="waiting-for-gateway">{s.waitingForGateway}</strong>
            </p>
          </>
        )}
      </Load>
    </section>
  );
}
