-- 042: a certificate keeps the bytes of its HC1 text, not the text (issue 20:
-- the HC1 text was most of the 815 bytes a dose `certificates` took at rest).
-- The text is "HC1:" and the Base45 of those bytes (the zlib stream of the
-- signed COSE message); Base45 writes 2 bytes as 3 characters and is a fixed,
-- bijective encoding, so the text is built again on every read
-- (certificates/hc1.ts `hc1OfStored`) byte for byte as issued: the QR code
-- and its signature do not change.
--
--   hc1  the bytes (written by every certificate from this version on)
--   qr   the text, of rows written before; NULL once 043 has moved them
--
-- Column and constraint only (no rewrite, no scan: NOT VALID); 043 moves the
-- rows written before, in batches. Until then, and for a row written by an
-- older version while this one deploys, a reader takes `qr` when it is there.
ALTER TABLE certificates ADD COLUMN hc1 bytea;
ALTER TABLE certificates ALTER COLUMN qr DROP NOT NULL;
ALTER TABLE certificates ADD CONSTRAINT certificates_hc1_or_qr CHECK (hc1 IS NOT NULL OR qr IS NOT NULL) NOT VALID;

-- The holder view (010) gives both; holder.ts builds the text.
CREATE OR REPLACE FUNCTION holder_view(p_token_hash bytea, p_person uuid, p_now timestamptz)
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
                      'id', c.id, 'uvci', c.uvci, 'qr', c.qr, 'hc1', encode(c.hc1, 'base64'), 'dn', c.dn, 'sd', c.sd,
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
