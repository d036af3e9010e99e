/** Schemas shared by several routes (for validation and the OpenAPI document). */
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';

export const ErrorSchema = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    fields: Type.Optional(Type.Array(Type.Object({ path: Type.String(), code: Type.String(), message: Type.String() }))),
    detail: Type.Optional(Type.Object({}, { additionalProperties: true })),
    errorId: Type.Optional(Type.String()),
  }),
});

/**
 * Whom a citizen names on the public forms (the lookup, the wrong-phone
 * request): `nik`, or for someone without one `identifier` (access/identity.ts).
 */
export const PublicIdentity = {
  nik: Type.Optional(Type.String({ maxLength: 40, description: 'the person’s NIK; or, for someone without one, `identifier`' })),
  identifier: Type.Optional(
    Type.Object(
      {
        type: Type.Union([Type.Literal('nik'), Type.Literal('passport'), Type.Literal('mother-nik')]),
        value: Type.String({ maxLength: 40 }),
        country: Type.Optional(Type.String({ maxLength: 3, description: 'passport issuing country, ISO 3166 alpha-2 or alpha-3' })),
      },
      { additionalProperties: false, description: 'a passport (with its country), or for a child the mother’s NIK (with the child’s `name`)' },
    ),
  ),
};

/**
 * Sends JSON that is already text (an answer kept as the bytes first sent)
 * as it is: fastify passes a string with a JSON content type through without
 * serialising it again, so the response schema documents it but is not run.
 */
export function sendJsonText(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.status(status).type('application/json; charset=utf-8').send(text);
}
