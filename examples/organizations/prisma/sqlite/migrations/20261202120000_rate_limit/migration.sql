-- AlterTable
ALTER TABLE "organization_api_keys" ADD COLUMN "rate_limit" INTEGER;

-- The change feed's update trigger compares every column: rate_limit too, so
-- a key's new limit reaches every instance as its revocation would.
DROP TRIGGER "organization_api_keys_change_update";
CREATE TRIGGER "organization_api_keys_change_update" AFTER UPDATE ON "organization_api_keys"
WHEN OLD."last_used_at" IS NEW."last_used_at"
    OR OLD."id" IS NOT NEW."id" OR OLD."prefix" IS NOT NEW."prefix" OR OLD."hashed_key" IS NOT NEW."hashed_key"
    OR OLD."name" IS NOT NEW."name" OR OLD."revoked" IS NOT NEW."revoked" OR OLD."expires_at" IS NOT NEW."expires_at"
    OR OLD."created_at" IS NOT NEW."created_at" OR OLD."scopes" IS NOT NEW."scopes"
    OR OLD."previous_hashed_key" IS NOT NEW."previous_hashed_key" OR OLD."previous_key_expires_at" IS NOT NEW."previous_key_expires_at"
    OR OLD."organization_id" IS NOT NEW."organization_id" OR OLD."rate_limit" IS NOT NEW."rate_limit"
BEGIN
    INSERT INTO "organization_api_key_changes" ("prefix") SELECT OLD."prefix" UNION SELECT NEW."prefix";
END;
