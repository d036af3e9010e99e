/**
 * SMART Health Cards: a person's card (support, admin), and the issuer's
 * published keys and revocation lists under /.well-known (public, CORS open,
 * as the spec requires of `<iss>/.well-known/jwks.json`).
 *
 * The holder's own route, /api/v1/public/health-card, needs the citizen
 * portal's access token, which the portal (issue 6) defines: it calls
 * `issueHealthCard` exactly as the route below does.
 */
import { Type } from 'typebox';
import type { App, AppDeps } from '../deps.ts';
import { allow } from '../auth.ts';
import { audit } from '../../access/audit.ts';
import type { Principal } from '../../access/tokens.ts';
import { assertPersonInScope } from '../../access/scope.ts';
import { AppError } from '../../domain/errors.ts';
import { issueHealthCard, issuerUrl, shcPublicKeys } from '../../certificates/shc-issuer.ts';
import { publishedJwks, shcCrl } from '../../certificates/revocation.ts';
import { ErrorSchema } from './schemas.ts';

const HealthCard = Type.Object(
  {
    shc: Type.String({ description: 'the numeric QR text, shc:/… (one QR code)' }),
    jws: Type.String({ description: 'the signed card, compact JWS (ES256, zip DEF)' }),
    kid: Type.String(),
    issuedAt: Type.String(),
    doses: Type.Integer(),
  },
  { additionalProperties: false },
);

export function healthCardRoutes(app: App, deps: AppDeps): void {
  const issue = async (who: Principal, personId: string) => {
    await assertPersonInScope(deps.db, who, personId);
    const card = await issueHealthCard(deps.db, deps.issuer.keys, { iss: issuerUrl(deps.config.publicUrl), personId });
    await audit(deps.db, { actor: who.id, action: 'health_card_issued', subject: card.kid, personId, detail: { doses: card.doses } });
    return card;
  };

  app.get(
    '/api/v1/people/:id/health-card',
    {
      schema: {
        tags: ['certificates'],
        summary: "A person's SMART Health Card (every dose with a valid certificate), signed now: {shc, jws}",
        description:
          'Each request signs a fresh card; a card issued before a dose was voided, corrected or recalled is on the revocation list. ' +
          'The .smart-health-card file: GET /api/v1/people/{id}/health-card/file.',
        params: Type.Object({ id: Type.String() }),
        response: { 200: HealthCard, '4xx': ErrorSchema },
      },
    },
    async (req) => {
      const who = allow(req, ['support', 'admin']);
      const card = await issue(who, req.params.id);
      return { shc: card.qr, jws: card.jws, kid: card.kid, issuedAt: card.issuedAt.toISOString(), doses: card.doses };
    },
  );

  app.get(
    '/api/v1/people/:id/health-card/file',
    {
      schema: {
        tags: ['certificates'],
        summary: "A person's SMART Health Card as a .smart-health-card file (application/smart-health-card)",
        params: Type.Object({ id: Type.String() }),
        response: { 200: Type.String(), '4xx': ErrorSchema },
      },
    },
    async (req, reply) => {
      const who = allow(req, ['support', 'admin']);
      const card = await issue(who, req.params.id);
      return reply
        .type('application/smart-health-card')
        .header('content-disposition', `attachment; filename="dosis-${req.params.id}.smart-health-card"`)
        .send(card.file);
    },
  );

  app.get(
    '/.well-known/jwks.json',
    { schema: { tags: ['certificates'], summary: 'The SMART Health Card issuer keys (ES256, kid = RFC 7638 thumbprint), each with its CRL version' } },
    async (_req, reply) => {
      void reply.header('access-control-allow-origin', '*').header('cache-control', 'public, max-age=60');
      return publishedJwks(deps.db);
    },
  );

  app.get(
    '/.well-known/crl/:file',
    {
      schema: {
        tags: ['certificates'],
        summary: 'The SMART Health Card revocation list of one key: {kid, method: "rid", ctr, rids}',
        params: Type.Object({ file: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}\\.json$' }) }),
      },
    },
    async (req, reply) => {
      const kid = req.params.file.slice(0, -'.json'.length);
      const keys = await shcPublicKeys(deps.db);
      if (!keys.some((k) => k.kid === kid)) {
        throw new AppError('not_found', 'unknown_kid', { en: `No key ${kid}.`, id: `Tidak ada kunci ${kid}.` });
      }
      void reply.header('access-control-allow-origin', '*').header('cache-control', 'public, max-age=60');
      return shcCrl(deps.db, kid);
    },
  );
}
