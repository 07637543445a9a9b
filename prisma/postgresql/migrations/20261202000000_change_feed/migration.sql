-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN     "keyHmac" TEXT;

-- The change feed (docs/change-feed.md): every update and delete of a key row
-- is announced with NOTIFY on the channel named by the trigger's first
-- argument, its payload the prefix (the column named by the second), for every
-- listening instance to drop or re-read that row; except an update that leaves
-- every column but those named after as it was (the library's own bookkeeping,
-- written often, changing no decision). NOTIFY is sent at commit, only if the
-- transaction commits.
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

CREATE TRIGGER "ApiKey_change" AFTER UPDATE OR DELETE ON "ApiKey"
    FOR EACH ROW EXECUTE FUNCTION "api_key_notify"('api_key_changes', 'prefix', 'lastUsedAt', 'keyHmac');
