-- Roles of a PostgreSQL registry (docs/deploy.md). Run as a superuser after the migrations
-- (`certgen registry grant` prints this with the table names filled in; deploy/stack.py runs it).
--
--   certgen_owner   owns the schema: migrations and issuing (`certgen`), staff machines only
--   certverify_web  the public web service: reads everything it shows, writes only the tables
--                   the public may add to (complaints, rate-limit counters); never certificates,
--                   events, checkpoints or keys
--
-- Passwords are set outside this file (ALTER ROLE ... PASSWORD, or peer/cert authentication).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'certgen_owner') THEN
        CREATE ROLE certgen_owner LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'certverify_web') THEN
        CREATE ROLE certverify_web LOGIN;
    END IF;
END
$$;
