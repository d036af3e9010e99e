/**
 * The citizen's side, without an account: the certificates behind an SMS
 * link (`/c/<token>` fetches `GET /api/v1/public/links/{token}`), each one's
 * PDF. (The offline verifier page reads the trust list and the signed
 * revocation list published for every verifier.)
 *
 * The link token is the credential: 128 random-looking bits (an HMAC), only
 * its hash is stored. Answers carrying personal data are never cached by the
 * browser or a proxy (`no-store`) and send no Referer onwards.
 */
import { Type } from 'typebox';
import type { FastifyReply } from 'fastify';
import type { App, AppDeps } from '../deps.ts';
import { AppError } from '../../domain/errors.ts';
import { personOfSession } from '../../access/portal.ts';
import { holderByLinkToken, holderByPerson, type HolderView } from '../../certificates/holder.ts';
import type { HolderCertificate } from '../../certificates/holder-view.ts';
import { CERTIFICATE_ISSUER } from '../../certificates/issuer.ts';
import { PdfStore } from '../../certificates/pdf-store.ts';
import type { PdfCertificate } from '../../certificates/pdf.ts';
import { ErrorSchema } from './schemas.ts';

const Token = Type.String({ minLength: 1, maxLength: 200, description: 'the token of the SMS link /c/<token>' });

const CertificateView = Type.Object(
  {
    id: Type.String(),
    uvci: Type.String(),
    qr: Type.String({ description: 'the HC1 text of the QR code' }),
    doseNumber: Type.Integer(),
    dn: Type.Integer(),
    sd: Type.Integer(),
    role: Type.Union([Type.Literal('primary'), Type.Literal('booster')]),
    boosterNumber: Type.Union([Type.Integer(), Type.Null()]),
    vaccine: Type.Object({ code: Type.String(), name: Type.String(), manufacturer: Type.String() }),
    date: Type.String({ format: 'date' }),
    facility: Type.Object({ code: Type.String(), name: Type.String() }),
    issuedAt: Type.String(),
    expiresAt: Type.String(),
    status: Type.Literal('valid'),
    pdf: Type.String({ description: 'where to download the PDF' }),
  },
  { additionalProperties: false },
);

const HolderAnswer = Type.Object(
  {
    person: Type.Object({
      name: Type.String(),
      birthDate: Type.String(),
      identifier: Type.Object({
        type: Type.Union([Type.Literal('nik'), Type.Literal('passport'), Type.Literal('mother-nik')]),
        masked: Type.String({ examples: ['317104********01'] }),
        country: Type.Union([Type.String(), Type.Null()]),
      }),
    }),
    certificates: Type.Array(CertificateView),
    nextDose: Type.Union([Type.Object({ doseNumber: Type.Integer(), due: Type.String(), role: Type.String() }), Type.Null()]),
    linked: Type.Union([Type.Object({ certificateId: Type.String(), status: Type.String() }), Type.Null()]),
  },
  { additionalProperties: false },
);

const linkNotFound = (): AppError =>
  new AppError('not_found', 'link_not_found', {
    en: 'This link is not valid or has expired.',
    id: 'Tautan ini tidak valid atau sudah kedaluwarsa.',
  });

const certificateNotFound = (): AppError =>
  new AppError('not_found', 'certificate_not_found', {
    en: 'No valid certificate with this number belongs to this link.',
    id: 'Tidak ada sertifikat berlaku dengan nomor ini pada tautan ini.',
  });

/** The private answers: never stored by a browser or proxy, no Referer onwards. */
function privateAnswer(reply: FastifyReply): void {
  void reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').header('x-robots-tag', 'noindex');
}

/** What the page receives: the holder view without internal ids, with each PDF's address. */
export function holderAnswer(view: HolderView, pdfQuery: string) {
  return {
    person: view.person,
    certificates: view.certificates.map((c) => ({ ...c, pdf: `/api/v1/public/certificates/${c.id}/pdf?${pdfQuery}` })),
    nextDose: view.nextDose,
    linked: view.linked,
  };
}

/** The facts a certificate's PDF shows (its hash is the PDF's version). */
export function pdfInput(view: HolderView, c: HolderCertificate, publicUrl: string): PdfCertificate {
  return {
    name: view.person.name,
    birthDate: view.person.birthDate,
    identifier: { type: view.person.identifier.type, masked: view.person.identifier.masked },
    vaccine: { name: c.vaccine.name, manufacturer: c.vaccine.manufacturer },
    doseNumber: c.doseNumber,
    dn: c.dn,
    sd: c.sd,
    role: c.role,
    boosterNumber: c.boosterNumber,
    date: c.date,
    facility: c.facility.name,
    uvci: c.uvci,
    qr: c.qr,
    issuer: CERTIFICATE_ISSUER,
    issuedAt: c.issuedAt,
    expiresAt: c.expiresAt,
    verifyUrl: `${publicUrl}/verify`,
  };
}

export function publicRoutes(app: App, deps: AppDeps): void {
  const pdfs = new PdfStore(deps.db);
  const now = (): Date => (deps.now ?? (() => new Date()))();

  app.get(
    '/api/v1/public/links/:token',
    {
      schema: {
        tags: ['public'],
        summary: 'The certificates behind an SMS link (what the page /c/<token> shows)',
        description:
          "The person's valid certificates, one per dose, with the QR text, vaccine, dose, date and facility; the next dose due; the identifier masked. " +
          'linked names the certificate the SMS was sent for and its status now (a certificate replaced since is no longer listed). 404 for an unknown or expired link.',
        security: [],
        params: Type.Object({ token: Token }),
        response: { 200: HolderAnswer, '4xx': ErrorSchema },
      },
    },
    async (req, reply) => {
      const view = await holderByLinkToken(deps.db, req.params.token, now());
      privateAnswer(reply);
      if (!view) throw linkNotFound();
      return holderAnswer(view, `token=${encodeURIComponent(req.params.token)}`);
    },
  );

  app.get(
    '/api/v1/public/certificates/:id/pdf',
    {
      schema: {
        tags: ['public'],
        summary: 'A certificate as a printable A4 PDF (Indonesian and English), authorised by the SMS link token or a portal session',
        description:
          'Authorised by the SMS link (`?token=`) or by the access token of a portal lookup (`Authorization: Bearer <accessToken>`, or `?access=` for a download link); ' +
          "only that person's certificates. Rendered once per certificate version and cached; the ETag is that version.",
        security: [],
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        querystring: Type.Object(
          { token: Type.Optional(Token), access: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'the access token of a portal session' })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Unknown({ description: 'application/pdf' }),
          304: Type.Unknown({ description: 'not modified (If-None-Match matched the ETag)' }),
          '4xx': ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      privateAnswer(reply);
      let view: HolderView | null;
      if (req.query.token !== undefined) {
        view = await holderByLinkToken(deps.db, req.query.token, now());
        if (!view) throw linkNotFound();
      } else {
        const personId = await personOfSession(deps.db, req.query.access !== undefined ? `Bearer ${req.query.access}` : req.headers.authorization);
        view = await holderByPerson(deps.db, personId);
        if (!view) throw certificateNotFound();
      }
      const certificate = view.certificates.find((c) => c.id === req.params.id);
      if (!certificate) throw certificateNotFound();
      const { pdf, version } = await pdfs.get(view.personId, certificate.id, pdfInput(view, certificate, deps.config.publicUrl));
      const etag = `"${version}"`;
      void reply.header('etag', etag);
      if (req.headers['if-none-match'] === etag) return reply.status(304).send();
      return reply
        .header('content-type', 'application/pdf')
        .header('content-disposition', `attachment; filename="sertifikat-vaksinasi-dosis-${certificate.doseNumber}.pdf"`)
        .send(Buffer.from(pdf.buffer, pdf.byteOffset, pdf.byteLength));
    },
  );
}
