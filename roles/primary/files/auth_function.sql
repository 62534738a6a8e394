-- PgBouncer auth_query lookup (pgha.cluster.primary). Returns the SCRAM
-- verifier of a login role; never of a superuser or a role without login.
CREATE SCHEMA IF NOT EXISTS pgbouncer;
REVOKE ALL ON SCHEMA pgbouncer FROM PUBLIC;
CREATE OR REPLACE FUNCTION pgbouncer.get_auth(p_usename text)
RETURNS TABLE (usename name, passwd text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT s.usename, s.passwd FROM pg_catalog.pg_shadow s
  WHERE s.usename = p_usename AND NOT s.usesuper
    AND (s.valuntil IS NULL OR s.valuntil > now())
$$;
REVOKE ALL ON FUNCTION pgbouncer.get_auth(text) FROM PUBLIC;
DO $pgha$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA pgbouncer TO %%I', %(auth_user)s);
  EXECUTE format('GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(text) TO %%I', %(auth_user)s);
END
$pgha$;
COMMENT ON FUNCTION pgbouncer.get_auth(text) IS %(marker)s;
