/** The operator pages (search, timeline, work lists, corrections, dashboard) mounted by the console shell. */
import type { ConsolePage } from '../pages.ts';
import { operatorRoutes } from './routes.tsx';

export const operatorPages: ConsolePage[] = operatorRoutes;
