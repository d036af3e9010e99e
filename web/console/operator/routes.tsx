/**
 * The operator pages and who may open them. Each lists the roles whose API
 * scope lets them use it; the pages show an action only to the roles the API
 * accepts it from. Each page's code is loaded when it is first opened.
 */
import type { ConsolePage } from '../pages.ts';
import { GLOSSARY as G } from '../../lib/glossary.ts';

export const operatorRoutes: ConsolePage[] = [
  { path: '/console/people', roles: ['facility', 'district', 'support', 'admin'], nav: { id: 'Cari orang', en: 'Find a person' }, load: () => import('./search.tsx').then((m) => m.SearchPage) },
  { path: '/console/people/:id', roles: ['facility', 'district', 'support', 'admin'], load: () => import('./timeline.tsx').then((m) => m.TimelinePage) },
  { path: '/console/work', roles: ['facility', 'district', 'support', 'admin'], nav: { id: 'Daftar kerja', en: 'Work lists' }, load: () => import('./work.tsx').then((m) => m.WorkPage) },
  { path: '/console/dose-requests', roles: ['facility', 'district', 'support', 'admin'], nav: { id: 'Dosis hilang', en: 'Missing doses' }, load: () => import('./dose-requests.tsx').then((m) => m.DoseRequestsPage) },
  { path: '/console/corrections', roles: ['support', 'admin'], nav: { id: 'Ganti nomor HP', en: 'Phone changes' }, load: () => import('./corrections.tsx').then((m) => m.CorrectionsPage) },
  { path: '/console/dashboard', roles: ['facility', 'district', 'support', 'admin'], nav: { id: G.id['overview.nav'], en: G.en['overview.nav'] }, load: () => import('./dashboard.tsx').then((m) => m.DashboardPage) },
];
