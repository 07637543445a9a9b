-- CreateTable
CREATE TABLE "organization_api_key_changes" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "prefix" TEXT NOT NULL
);

-- The change feed (docs/custom-models.md#the-change-feed-for-a-custom-model):
-- every update and delete of a key row logs its prefix, for every instance to
-- drop or re-read that row; except an update that leaves every column but
-- last_used_at as it was (the library's own bookkeeping, written often,
-- changing no decision). Every column of the table is compared, the example's
-- organization_id too.
CREATE TRIGGER "organization_api_keys_change_delete" AFTER DELETE ON "organization_api_keys"
BEGIN
    INSERT INTO "organization_api_key_changes" ("prefix") VALUES (OLD."prefix");
END;

CREATE TRIGGER "organization_api_keys_change_update" AFTER UPDATE ON "organization_api_keys"
WHEN OLD."last_used_at" IS NEW."last_used_at"
    OR OLD."id" IS NOT NEW."id" OR OLD."prefix" IS NOT NEW."prefix" OR OLD."hashed_key" IS NOT NEW."hashed_key"
    OR OLD."name" IS NOT NEW."name" OR OLD."revoked" IS NOT NEW."revoked" OR OLD."expires_at" IS NOT NEW."expires_at"
    OR OLD."created_at" IS NOT NEW."created_at" OR OLD."scopes" IS NOT NEW."scopes"
    OR OLD."previous_hashed_key" IS NOT NEW."previous_hashed_key" OR OLD."previous_key_expires_at" IS NOT NEW."previous_key_expires_at"
    OR OLD."organization_id" IS NOT NEW."organization_id"
BEGIN
    INSERT INTO "organization_api_key_changes" ("prefix") SELECT OLD."prefix" UNION SELECT NEW."prefix";
END;

-- The usable rule reads each key's organization, cached with the key: every
-- update of an organization logs the prefixes of all its keys. (Deleting an
-- organization deletes its keys, which the trigger above logs.)
CREATE TRIGGER "Organization_change" AFTER UPDATE ON "Organization"
BEGIN
    INSERT INTO "organization_api_key_changes" ("prefix")
    SELECT "prefix" FROM "organization_api_keys" WHERE "organization_id" IN (OLD."id", NEW."id");
END;
