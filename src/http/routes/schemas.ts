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
 * Sends JSON that is already text (an answer kept as the bytes first sent)
 * as it is: fastify passes a string with a JSON content type through without
 * serialising it again, so the response schema documents it but is not run.
 */
export function sendJsonText(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.status(status).type('application/json; charset=utf-8').send(text);
}
