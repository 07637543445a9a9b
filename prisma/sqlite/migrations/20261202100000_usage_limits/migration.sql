-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN "allowedIps" TEXT;
ALTER TABLE "ApiKey" ADD COLUMN "creditRefill" TEXT;
ALTER TABLE "ApiKey" ADD COLUMN "credits" INTEGER;
ALTER TABLE "ApiKey" ADD COLUMN "creditsRefilledAt" DATETIME;
ALTER TABLE "ApiKey" ADD COLUMN "disabled" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "ApiKeyUsage" (
    "keyId" TEXT NOT NULL,
    "periodStart" DATETIME NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 0,

    PRIMARY KEY ("keyId", "periodStart"),
    CONSTRAINT "ApiKeyUsage_keyId_fkey" FOREIGN KEY ("keyId") REFERENCES "ApiKey" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- The change feed's update trigger, again: credits and creditsRefilledAt join
-- lastUsedAt and keyHmac as bookkeeping (an instance reserving a block of
-- credits changes no decision another instance caches); disabled, allowedIps
-- and creditRefill are announced like every other column.
DROP TRIGGER "ApiKey_change_update";

CREATE TRIGGER "ApiKey_change_update" AFTER UPDATE ON "ApiKey"
WHEN (OLD."lastUsedAt" IS NEW."lastUsedAt" AND OLD."keyHmac" IS NEW."keyHmac"
        AND OLD."credits" IS NEW."credits" AND OLD."creditsRefilledAt" IS NEW."creditsRefilledAt")
    OR OLD."id" IS NOT NEW."id" OR OLD."prefix" IS NOT NEW."prefix" OR OLD."hashedKey" IS NOT NEW."hashedKey"
    OR OLD."name" IS NOT NEW."name" OR OLD."revoked" IS NOT NEW."revoked" OR OLD."expiresAt" IS NOT NEW."expiresAt"
    OR OLD."createdAt" IS NOT NEW."createdAt" OR OLD."scopes" IS NOT NEW."scopes"
    OR OLD."previousHashedKey" IS NOT NEW."previousHashedKey" OR OLD."previousKeyExpiresAt" IS NOT NEW."previousKeyExpiresAt"
    OR OLD."disabled" IS NOT NEW."disabled" OR OLD."allowedIps" IS NOT NEW."allowedIps" OR OLD."creditRefill" IS NOT NEW."creditRefill"
BEGIN
    INSERT INTO "ApiKeyChange" ("prefix") SELECT OLD."prefix" UNION SELECT NEW."prefix";
END;
