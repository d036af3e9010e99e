-- 016: a new person is checked for a possible duplicate when their first dose
-- is written (same folded name and birth date under another identifier): one
-- probe of this index. It replaces the birth-date index (same leading column),
-- so a dose writes no more index entries than before.
CREATE INDEX people_birth_name ON people (birth_date, name_key);
DROP INDEX people_birth_date;
