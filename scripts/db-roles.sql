-- The two PostgreSQL roles of a production database (docs/operations.md, « Déploiement : deux rôles de base de
-- données »). Run once, as a superuser, before the first `migrate`:
--
--   psql -v owner=amiable_owner -v app=amiable_app -v db=amiable -f scripts/db-roles.sql postgres
--
-- then give each role its password (\password amiable_owner, \password amiable_app). The owner runs the
-- migrations, then `manage.py grant_app_role amiable_app`; the application runs as `app`, which owns nothing
-- and therefore can neither disable the audit trail's triggers nor change or empty the trail.
\set ON_ERROR_STOP on

CREATE ROLE :"owner" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
CREATE ROLE :"app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOINHERIT;
CREATE DATABASE :"db" OWNER :"owner" ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"owner", :"app";

\connect :"db"
-- Only the owner creates objects; the application uses them.
ALTER SCHEMA public OWNER TO :"owner";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app";
