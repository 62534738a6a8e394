SELECT pg_catalog.json_build_object(
  'roles', (SELECT coalesce(pg_catalog.json_object_agg(rolname, pg_catalog.json_build_object(
              'login', rolcanlogin, 'replication', rolreplication, 'superuser', rolsuper, 'createdb', rolcreatedb,
              'createrole', rolcreaterole, 'bypassrls', rolbypassrls, 'verifier', rolpassword)), '{}'::pg_catalog.json)
            FROM pg_catalog.pg_authid WHERE rolname OPERATOR(pg_catalog.=) ANY (pg_catalog.string_to_array(%(roles)s, ','))),
  'read_all_data', (SELECT coalesce(pg_catalog.json_agg(u.rolname), '[]'::pg_catalog.json)
            FROM pg_catalog.pg_auth_members m
            JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) m.roleid
            JOIN pg_catalog.pg_roles u ON u.oid OPERATOR(pg_catalog.=) m.member
            WHERE r.rolname OPERATOR(pg_catalog.=) 'pg_read_all_data'),
  'monitor', (SELECT coalesce(pg_catalog.json_agg(u.rolname), '[]'::pg_catalog.json)
            FROM pg_catalog.pg_auth_members m
            JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) m.roleid
            JOIN pg_catalog.pg_roles u ON u.oid OPERATOR(pg_catalog.=) m.member
            WHERE r.rolname OPERATOR(pg_catalog.=) 'pg_monitor'),
  'rewind_functions', (SELECT coalesce(pg_catalog.json_object_agg(a.rolname, (
              SELECT pg_catalog.bool_and(pg_catalog.has_function_privilege(a.oid, f, 'EXECUTE'))
              FROM pg_catalog.unnest(ARRAY['pg_catalog.pg_ls_dir(text,boolean,boolean)', 'pg_catalog.pg_stat_file(text,boolean)',
                                           'pg_catalog.pg_read_binary_file(text)',
                                           'pg_catalog.pg_read_binary_file(text,bigint,bigint,boolean)']) AS f)),
              '{}'::pg_catalog.json)
            FROM pg_catalog.pg_authid a WHERE a.rolname OPERATOR(pg_catalog.=) ANY (pg_catalog.string_to_array(%(roles)s, ','))),
  'databases', (SELECT coalesce(pg_catalog.json_agg(datname ORDER BY datname), '[]'::pg_catalog.json)
            FROM pg_catalog.pg_database WHERE datallowconn),
  'slots', (SELECT coalesce(pg_catalog.json_agg(slot_name), '[]'::pg_catalog.json)
            FROM pg_catalog.pg_replication_slots WHERE slot_type OPERATOR(pg_catalog.=) 'physical')
) AS state
