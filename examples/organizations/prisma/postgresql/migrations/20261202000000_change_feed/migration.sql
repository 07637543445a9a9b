-- The change feed (docs/custom-models.md#the-change-feed-for-a-custom-model):
-- the library's function, word for word as its own migration creates it (this
-- database runs the example's migrations, not the library's). Every update and
-- delete of a key row is announced with NOTIFY on the channel named by the
-- trigger's first argument, its payload the prefix (the column named by the
-- second), for every listening instance to drop or re-read that row; except an
-- update that leaves every column but those named after as it was. NOTIFY is
-- sent at commit, only if the transaction commits.
CREATE FUNCTION "api_key_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb := to_jsonb(OLD);
    new_row jsonb := CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) END;
BEGIN
    IF new_row IS NOT NULL AND old_row - TG_ARGV[2:] = new_row - TG_ARGV[2:] THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify(TG_ARGV[0], old_row ->> TG_ARGV[1]);
    IF new_row ->> TG_ARGV[1] IS DISTINCT FROM old_row ->> TG_ARGV[1] AND new_row IS NOT NULL THEN
        PERFORM pg_notify(TG_ARGV[0], new_row ->> TG_ARGV[1]);
    END IF;
    RETURN NULL;
END
$$;

-- Called with this table's column names: the prefix, and last_used_at (the
-- library's own bookkeeping, written often, changing no decision).
CREATE TRIGGER "organization_api_keys_change" AFTER UPDATE OR DELETE ON "organization_api_keys"
    FOR EACH ROW EXECUTE FUNCTION "api_key_notify"('api_key_changes', 'prefix', 'last_used_at');

-- The usable rule reads each key's organization, cached with the key: every
-- update of an organization announces the prefixes of all its keys, on the
-- channel named by the trigger's argument. (Deleting an organization deletes
-- its keys, which the trigger above announces.) The function reads the keys'
-- table in the schema this migration runs in, whichever a later caller's is.
CREATE FUNCTION "organization_keys_notify"() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], "prefix") FROM "organization_api_keys" WHERE "organization_id" IN (OLD."id", NEW."id");
    RETURN NULL;
END
$$;

CREATE TRIGGER "Organization_change" AFTER UPDATE ON "Organization"
    FOR EACH ROW EXECUTE FUNCTION "organization_keys_notify"('api_key_changes');
