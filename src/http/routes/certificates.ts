/** Verification and the trust list (public). */
import { Type } from 'typebox';
import type { App, AppDeps } from '../deps.ts';
import { cscaList, trustList } from '../../certificates/issuer.ts';
import { euGatewayTrustList } from '../../certificates/trust-publish.ts';
import { verifyCertificate } from '../../certificates/verify.ts';
import { langOf } from '../errors.ts';
import { ErrorSchema } from './schemas.ts';

export function certificateRoutes(app: App, deps: AppDeps): void {
  app.post(
    '/api/v1/verify',
    {
      schema: {
        tags: ['certificates'],
        summary: 'Verify a certificate QR text (HC1:… or a SMART Health Card shc:/…)',
        description:
          'An invalid certificate is a 200 with valid: false and a reason code, not an error. ' +
          'Revocations (voided dose, superseded record, recalled lot) are those of the published revocation list (GET /api/v1/revocation-list).',
        body: Type.Object({ qr: Type.String({ minLength: 1, maxLength: 10_000 }) }, { additionalProperties: false }),
        response: {
          200: Type.Object(
            {
              valid: Type.Boolean(),
              reason: Type.String(),
              message: Type.String(),
              kid: Type.Optional(Type.String()),
              issuedAt: Type.Optional(Type.String()),
              expiresAt: Type.Optional(Type.String()),
              payload: Type.Optional(Type.Object({}, { additionalProperties: true })),
              format: Type.Optional(Type.Union([Type.Literal('eu-dcc'), Type.Literal('smart-health-card')])),
              revocation: Type.Optional(Type.Object({}, { additionalProperties: true })),
              issues: Type.Optional(Type.Array(Type.Object({ code: Type.String(), severity: Type.String(), message: Type.String() }))),
              notices: Type.Optional(
                Type.Array(Type.Object({ code: Type.String(), message: Type.String() }), {
                  description:
                    'What the reader should know besides the verdict. vaccine_not_in_eu_list: the vaccine (e.g. IndoVac) is not in the EU DCC value sets; EU verifiers may show it as unknown.',
                }),
              ),
            },
            { additionalProperties: false },
          ),
          '4xx': ErrorSchema,
        },
      },
    },
    async (req) => {
      const r = await verifyCertificate(deps.db, req.body.qr, (deps.now ?? (() => new Date()))(), { publicUrl: deps.config.publicUrl });
      return {
        valid: r.valid,
        reason: r.reason,
        message: r.message[langOf(req)],
        ...(r.kid ? { kid: r.kid } : {}),
        ...(r.issuedAt ? { issuedAt: r.issuedAt.toISOString() } : {}),
        ...(r.expiresAt ? { expiresAt: r.expiresAt.toISOString() } : {}),
        ...(r.payload ? { payload: r.payload as unknown as Record<string, unknown> } : {}),
        format: r.format,
        ...(r.format === 'eu-dcc' && r.revocation ? { revocation: { ...r.revocation, revokedAt: r.revocation.revokedAt.toISOString() } } : {}),
        ...(r.format === 'smart-health-card' ? { issues: r.issues } : {}),
        ...(r.format === 'eu-dcc' && r.notices ? { notices: r.notices.map((n) => ({ code: n.code, message: n.message[langOf(req)] })) } : {}),
      };
    },
  );

  const Validity = { validFrom: Type.String({ format: 'date-time' }), validUntil: Type.String({ format: 'date-time' }) };
  app.get(
    '/api/v1/trust-list',
    {
      schema: {
        tags: ['certificates'],
        summary: 'Document signer certificates Dosis signs (and signed) with, and the CSCA that issued them',
        description:
          'keys: every DSC, newest first; a retired one no longer signs and stays here so that what it signed keeps verifying. ' +
          'csca: the country signing CA certificates (its key is kept offline): a verifier checks that each DSC chains to one of them ' +
          '(openssl verify -CAfile csca.pem dsc.pem). The same list in the EU DCC Gateway shape: GET /api/v1/trust-list/eu-gateway.',
        response: {
          200: Type.Object({
            keys: Type.Array(Type.Object({ kid: Type.String(), certificate: Type.String(), ...Validity, retiredAt: Type.Union([Type.String(), Type.Null()]) })),
            csca: Type.Array(Type.Object({ thumbprint: Type.String(), certificate: Type.String(), ...Validity })),
          }),
        },
      },
    },
    async (_req, reply) => {
      void reply.header('cache-control', 'public, max-age=300');
      const [keys, csca] = await Promise.all([trustList(deps.db), cscaList(deps.db)]);
      return { keys, csca };
    },
  );

  app.get(
    '/api/v1/trust-list/eu-gateway',
    {
      schema: {
        tags: ['certificates'],
        summary: 'The trust list in the EU DCC Gateway shape: CSCA and DSC entries',
        description:
          'As the gateway\'s GET /trustList answers: one entry per certificate, certificateType "CSCA" or "DSC", country "ID", ' +
          'rawData the base64 DER, thumbprint the hex SHA-256 of it, kid (DSC: base64 of its first 8 bytes), timestamp when it was added. ' +
          '`signature` (the gateway\'s CMS signature by the national upload certificate) is empty: Dosis is not the gateway.',
        response: {
          200: Type.Array(
            Type.Object({
              kid: Type.String(),
              timestamp: Type.String(),
              country: Type.String(),
              certificateType: Type.Union([Type.Literal('CSCA'), Type.Literal('DSC')]),
              thumbprint: Type.String(),
              signature: Type.String(),
              rawData: Type.String(),
            }),
          ),
        },
      },
    },
    async (_req, reply) => {
      void reply.header('cache-control', 'public, max-age=300');
      return euGatewayTrustList(deps.db);
    },
  );
}
