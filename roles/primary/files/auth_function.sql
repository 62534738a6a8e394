-- PgBouncer auth_query lookup (pgha.cluster.primary). Returns the SCRAM
-- verifier of a login role; never of a superuser, a replication role or a role
-- without login. Run with search_path = pg_catalog, pg_temp and every name
-- qualified: a database owner's objects cannot stand in for a built-in.
CREATE SCHEMA IF NOT EXISTS pgbouncer;
REVOKE ALL ON SCHEMA pgbouncer FROM PUBLIC;
CREATE OR REPLACE FUNCTION pgbouncer.get_auth(p_usename text)
RETURNS TABLE (usename name, passwd text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT s.usename, s.passwd FROM pg_catalog.pg_shadow s
  WHERE s.usename = p_usename AND NOT s.usesuper AND NOT s.userepl
    AND (s.valuntil IS NULL OR s.valuntil > now())
$$;
REVOKE ALL ON FUNCTION pgbouncer.get_auth(text) FROM PUBLIC;
DO $pgha$
BEGIN
  EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA pgbouncer TO %%I', %(auth_user)s::pg_catalog.text);
  EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(text) TO %%I', %(auth_user)s::pg_catalog.text);
END
$pgha$;
COMMENT ON FUNCTION pgbouncer.get_auth(text) IS %(marker)s;
