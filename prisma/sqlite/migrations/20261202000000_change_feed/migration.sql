-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN "keyHmac" TEXT;

-- CreateTable
CREATE TABLE "ApiKeyChange" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "prefix" TEXT NOT NULL
);

-- The change feed (docs/change-feed.md): every update and delete of a key row
-- logs its prefix, for every instance to drop or re-read that row;
-- except an update that leaves every column but lastUsedAt and keyHmac as it
-- was (the library's own bookkeeping, written often, changing no decision).
CREATE TRIGGER "ApiKey_change_delete" AFTER DELETE ON "ApiKey"
BEGIN
    INSERT INTO "ApiKeyChange" ("prefix") VALUES (OLD."prefix");
END;

CREATE TRIGGER "ApiKey_change_update" AFTER UPDATE ON "ApiKey"
WHEN (OLD."lastUsedAt" IS NEW."lastUsedAt" AND OLD."keyHmac" IS NEW."keyHmac")
    OR OLD."id" IS NOT NEW."id" OR OLD."prefix" IS NOT NEW."prefix" OR OLD."hashedKey" IS NOT NEW."hashedKey"
    OR OLD."name" IS NOT NEW."name" OR OLD."revoked" IS NOT NEW."revoked" OR OLD."expiresAt" IS NOT NEW."expiresAt"
    OR OLD."createdAt" IS NOT NEW."createdAt" OR OLD."scopes" IS NOT NEW."scopes"
    OR OLD."previousHashedKey" IS NOT NEW."previousHashedKey" OR OLD."previousKeyExpiresAt" IS NOT NEW."previousKeyExpiresAt"
BEGIN
    INSERT INTO "ApiKeyChange" ("prefix") SELECT OLD."prefix" UNION SELECT NEW."prefix";
END;
