-- Namespaces carry the JSON Schema every environment's effective document must satisfy.
CREATE TABLE config_namespaces (
  name           text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
  schema         jsonb NOT NULL,
  schema_version integer NOT NULL DEFAULT 1 CHECK (schema_version > 0),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  updated_by     text NOT NULL
);

-- One row per (namespace, environment): the row a writer locks, so two writers of the same
-- entry serialise and If-Match compares against a version nobody else can move meanwhile.
CREATE TABLE config_entries (
  namespace       text NOT NULL REFERENCES config_namespaces (name),
  environment     text NOT NULL CHECK (environment ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  current_version integer NOT NULL DEFAULT 0 CHECK (current_version >= 0),
  PRIMARY KEY (namespace, environment)
);

CREATE TABLE config_versions (
  namespace      text NOT NULL,
  environment    text NOT NULL,
  version        integer NOT NULL CHECK (version > 0),
  document       jsonb NOT NULL CHECK (jsonb_typeof(document) = 'object'),
  -- RFC 6902 operations from the previous version (from {} for version 1).
  patch          jsonb NOT NULL CHECK (jsonb_typeof(patch) = 'array'),
  actor          text NOT NULL,
  reason         text NOT NULL,
  -- Set when this version restores an earlier one.
  restored_from  integer NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (namespace, environment, version),
  FOREIGN KEY (namespace, environment) REFERENCES config_entries (namespace, environment)
);

-- History is evidence: a version, once written, can be neither changed nor removed, not even
-- by a buggy release of this service.
CREATE FUNCTION config_versions_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'config_versions is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER config_versions_append_only
  BEFORE UPDATE OR DELETE ON config_versions
  FOR EACH ROW EXECUTE FUNCTION config_versions_refuse_change();
CREATE TRIGGER config_versions_no_truncate
  BEFORE TRUNCATE ON config_versions
  FOR EACH STATEMENT EXECUTE FUNCTION config_versions_refuse_change();

-- Transactional outbox: the change event commits with the version and leaves only once the
-- broker confirmed it, so a broker outage delays events instead of losing them.
CREATE TABLE config_outbox (
  id          bigserial PRIMARY KEY,
  namespace   text NOT NULL,
  environment text NOT NULL,
  version     integer NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
