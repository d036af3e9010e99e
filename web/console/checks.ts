/**
 * What the record form checks with (the server's own rules from src/domain/),
 * gathered in one module so that it is one chunk of the build, fetched beside
 * the form by validator.ts: it carries libphonenumber-js's metadata.
 */
export { validateVaccinationInput } from '../../src/domain/vaccination-input.ts';
export { isPlaceholderPhone, normalizePhone } from '../../src/domain/phone.ts';
