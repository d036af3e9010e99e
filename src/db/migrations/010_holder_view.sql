-- 010 holder view: the certificate page's read, as one function call.

-- What a certificate holder sees (src/certificates/holder.ts), as one JSON
-- document: the person named by an SMS link token's hash (or by id),
-- following a merge to the record it was merged into, with their valid
-- certificates by dose, each with its vaccination and facility, and the
-- status now of the certificate the link was sent for. NULL for an unknown
-- or expired token.
--
-- A PL/pgSQL function returning one text value, because it is the hot path
-- of the certificate page and PGlite cannot keep prepared statements: the
-- function's plans are cached per connection (planning the joins was two
-- thirds of a request), and one JSON value is read far faster than rows of
-- twenty columns (measured on PGlite: 1.95 ms as a plain query, 0.32 ms so).
CREATE FUNCTION holder_view(p_token_hash bytea, p_person uuid, p_now timestamptz)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
  v_person uuid := p_person;
  v_linked uuid;
  v_result text;
BEGIN
  IF p_token_hash IS NOT NULL THEN
    SELECT l.person_id, l.certificate_id INTO v_person, v_linked
      FROM link_tokens l
     WHERE l.token_hash = p_token_hash AND (l.expires_at IS NULL OR l.expires_at > p_now);
    IF NOT FOUND THEN
      RETURN NULL;
    END IF;
  END IF;
  SELECT json_build_object(
           'linked', CASE WHEN v_linked IS NULL THEN NULL ELSE json_build_object(
             'id', v_linked,
             'status', (SELECT lc.status FROM certificates lc WHERE lc.person_id = v_person AND lc.id = v_linked)) END,
           'person', json_build_object(
             'id', p.id, 'idType', p.id_type, 'idValue', p.id_value, 'idCountry', p.id_country,
             'name', p.name, 'birthDate', p.birth_date),
           'certificates', COALESCE((
             SELECT json_agg(json_build_object(
                      'id', c.id, 'uvci', c.uvci, 'qr', c.qr, 'dn', c.dn, 'sd', c.sd,
                      'issuedAt', c.issued_at, 'expiresAt', c.expires_at,
                      'doseNumber', v.dose_number, 'vaccine', v.vaccine, 'date', v.date,
                      'facilityCode', v.facility_code, 'facilityName', f.name)
                    ORDER BY v.dose_number, c.issued_at)
               FROM certificates c
               JOIN vaccinations v ON v.person_id = c.person_id AND v.id = c.vaccination_id
               LEFT JOIN facilities f ON f.code = v.facility_code
              WHERE c.person_id = p.id AND c.status = 'valid'), '[]'::json))::text
    INTO v_result
    FROM people p0
    JOIN people p ON p.id = COALESCE(p0.merged_into, p0.id)
   WHERE p0.id = v_person;
  RETURN v_result;
END
$$;
