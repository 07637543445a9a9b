-- Imported keys (docs/migrating.md): the system a key came from, null for
-- the library's own keys.
-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN "importedFrom" TEXT;

-- The change feed's update trigger, again: importedFrom is announced like
-- every other column that is not bookkeeping.
DROP TRIGGER "ApiKey_change_update";

CREATE TRIGGER "ApiKey_change_update" AFTER UPDATE ON "ApiKey"
WHEN (OLD."lastUsedAt" IS NEW."lastUsedAt" AND OLD."keyHmac" IS NEW."keyHmac"
        AND OLD."credits" IS NEW."credits" AND OLD."creditsRefilledAt" IS NEW."creditsRefilledAt")
    OR OLD."id" IS NOT NEW."id" OR OLD."prefix" IS NOT NEW."prefix" OR OLD."hashedKey" IS NOT NEW."hashedKey"
    OR OLD."name" IS NOT NEW."name" OR OLD."revoked" IS NOT NEW."revoked" OR OLD."expiresAt" IS NOT NEW."expiresAt"
    OR OLD."createdAt" IS NOT NEW."createdAt" OR OLD."scopes" IS NOT NEW."scopes"
    OR OLD."previousHashedKey" IS NOT NEW."previousHashedKey" OR OLD."previousKeyExpiresAt" IS NOT NEW."previousKeyExpiresAt"
    OR OLD."disabled" IS NOT NEW."disabled" OR OLD."allowedIps" IS NOT NEW."allowedIps" OR OLD."creditRefill" IS NOT NEW."creditRefill"
    OR OLD."importedFrom" IS NOT NEW."importedFrom"
BEGIN
    INSERT INTO "ApiKeyChange" ("prefix") SELECT OLD."prefix" UNION SELECT NEW."prefix";
END;
