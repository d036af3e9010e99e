/**
 * The page language, shared by every component: Indonesian unless the visitor
 * chose English (kept in localStorage) or the link says `?lang=en`.
 */
import { useEffect, useState } from 'preact/hooks';
import { translate, parseLang, type Lang, type TextKey } from './i18n.ts';

const STORAGE_KEY = 'dosis.lang';
const listeners = new Set<() => void>();

function stored(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

let current: Lang = parseLang(new URLSearchParams(location.search).get('lang')) ?? parseLang(stored()) ?? 'id';
document.documentElement.lang = current;

/** Switch the language of every mounted component, and remember the choice. */
export function setLang(lang: Lang): void {
  current = lang;
  document.documentElement.lang = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
  for (const listener of listeners) listener();
}

export function currentLang(): Lang {
  return current;
}

export type Translate = (key: TextKey, vars?: Record<string, string | number>) => string;

/** The current language and its translate function; re-renders the component on a switch. */
export function useLang(): { lang: Lang; t: Translate } {
  const [lang, set] = useState(current);
  useEffect(() => {
    const listener = (): void => set(current);
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }, []);
  return { lang, t: (key, vars) => translate(lang, key, vars) };
}

/** Whether the browser says it is online; re-renders on a change. */
export function useOnline(): boolean {
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => {
    const on = (): void => setOnline(true);
    const off = (): void => setOnline(false);
    addEventListener('online', on);
    addEventListener('offline', off);
    return () => {
      removeEventListener('online', on);
      removeEventListener('offline', off);
    };
  }, []);
  return online;
}

/** A page's own texts: Indonesian defines the keys, English must have the same ones. */
export interface Texts<K extends string> {
  id: Record<K, string>;
  en: Record<K, string>;
}

/** Translate with a page's own dictionary in the current language; re-renders on a switch. */
export function useTexts<K extends string>(texts: Texts<K>): (key: K, vars?: Record<string, string | number>) => string {
  const { lang } = useLang();
  return (key, vars = {}) => texts[lang][key].replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}
