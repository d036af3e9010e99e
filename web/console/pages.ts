/**
 * The console's page contract. The shell (`web/console/main.tsx`) owns
 * sign-in, navigation and the URL; each page is a component for one path
 * pattern under `/console`, shown to the roles listed. Operator pages
 * (search, timeline, work lists, corrections, dashboard) live in
 * `web/console/operator/` and are exported as `operatorPages`.
 *
 * A page's code is its own chunk of the build, fetched the first time the
 * page is opened (`load`, a dynamic import): signing in loads the shell only
 * (issue 17 item 16; test/web/console-weight.test.ts holds the budget).
 */
import type { VNode } from 'preact';
import type { ConsoleUser, Role } from './api.ts';

export interface PageProps {
  user: ConsoleUser;
  /** Values of the `:name` parts of the path pattern. */
  params: Record<string, string>;
  /** The query string of the current URL. */
  query: URLSearchParams;
  /** Go to another console URL (pushes history, no reload). */
  navigate: (to: string) => void;
}

export interface ConsolePage {
  /** e.g. `/console/people/:id`. */
  path: string;
  roles: readonly Role[];
  /** Label in the navigation, per language; pages without one are reached by links only. */
  nav?: { id: string; en: string };
  /** The page's component, from its own chunk (`() => import('./x.tsx').then((m) => m.XPage)`). */
  load: () => Promise<PageComponent>;
}

export type PageComponent = (props: PageProps) => VNode;
