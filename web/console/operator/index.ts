/** The operator pages (search, timeline, work lists, corrections, dashboard) mounted by the console shell. */
import type { ConsolePage } from '../pages.ts';

export const operatorPages: ConsolePage[] = [];
