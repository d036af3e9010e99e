/**
 * The signature of src/certificates/revocation-list-web.ts, as the pages see
 * it (web/tsconfig.json "paths" maps `#revocation-list-web` here; Vite maps
 * it to that file). Why: that module imports its body type from
 * revocation-list.ts, which uses Node, so the browser typecheck (no Node
 * types) cannot load it. test/web/verifier-core.test.ts checks at compile
 * time that the real function fits this declaration.
 */
export interface PublishedJwk {
  kid: string;
  kty: string;
  crv: string;
  x: string;
  y: string;
}

export interface RevocationListBodyForPages {
  version: number;
  issuedAt: string;
  dcc: { entries: string[] };
}

export declare function verifyRevocationListWeb(
  jws: string,
  keys: readonly PublishedJwk[],
): Promise<{ ok: true; body: RevocationListBodyForPages } | { ok: false; reason: string }>;
