/** The published revocation list (public) and lot recalls (admin). */
import { Type } from 'typebox';
import type { App, AppDeps } from '../deps.ts';
import { allow } from '../auth.ts';
import { assertCanRecall, publishedRevocationList, recallLot } from '../../certificates/revocation.ts';
import { issuerUrl } from '../../certificates/shc-issuer.ts';
import { ErrorSchema } from './schemas.ts';

export function revocationRoutes(app: App, deps: AppDeps): void {
  app.get(
    '/api/v1/revocation-list',
    {
      schema: {
        tags: ['certificates'],
        summary: 'The signed, versioned revocation list: EU DCC UVCI hashes and SMART Health Card CRLs',
        description:
          'jws is a compact JWS (ES256) by the key named in its header, published at /.well-known/jwks.json; its payload is ' +
          '{iss, version, issuedAt, dcc: {hashType: "UCI", hashAlgorithm: "SHA-256/128", entries}, shc: [{kid, method: "rid", ctr, rids}]}. ' +
          'Verifiers cache it: send If-None-Match with the ETag to get 304 while the version is unchanged.',
        response: {
          200: Type.Object({ version: Type.Integer(), issuedAt: Type.String(), kid: Type.String(), jws: Type.String() }, { additionalProperties: false }),
          304: Type.Null({ description: 'Not modified: the version of If-None-Match is current' }),
        },
      },
    },
    async (req, reply) => {
      const list = await publishedRevocationList(deps.db, deps.issuer.keys, issuerUrl(deps.config.publicUrl));
      const etag = `"rl-${list.version}"`;
      void reply.header('etag', etag).header('cache-control', 'public, max-age=60').header('access-control-allow-origin', '*');
      if (req.headers['if-none-match'] === etag) return reply.status(304).send(null);
      return { version: list.version, issuedAt: list.issuedAt.toISOString(), kid: list.kid, jws: list.jws };
    },
  );

  app.post(
    '/api/v1/lots/:lot/recall',
    {
      schema: {
        tags: ['certificates'],
        summary: 'Recall a lot: revoke every certificate of its doses and queue one SMS per affected person (admin, audited)',
        description:
          '201 for a new recall, 200 when the lot was recalled before (then only certificates issued since are revoked, and only people not yet told get an SMS).',
        params: Type.Object({ lot: Type.String({ minLength: 1, maxLength: 50 }) }),
        body: Type.Object({ vaccine: Type.String(), reason: Type.String() }, { additionalProperties: false }),
        response: {
          '2xx': Type.Object(
            {
              recallId: Type.String(),
              created: Type.Boolean(),
              vaccine: Type.String(),
              lot: Type.String(),
              revoked: Type.Integer(),
              people: Type.Integer(),
              notices: Type.Integer(),
              revocationVersion: Type.Integer(),
            },
            { additionalProperties: false },
          ),
          '4xx': ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const who = allow(req, ['admin']);
      assertCanRecall(who);
      const r = await recallLot(deps.db, who, { vaccine: req.body.vaccine, lot: req.params.lot, reason: req.body.reason });
      deps.metrics.inc('dosis_certificates_revoked_total', { reason: 'lot_recalled' }, r.revoked);
      return reply.status(r.created ? 201 : 200).send(r);
    },
  );
}
