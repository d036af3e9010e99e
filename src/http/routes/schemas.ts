/** Schemas shared by several routes (for validation and the OpenAPI document). */
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
