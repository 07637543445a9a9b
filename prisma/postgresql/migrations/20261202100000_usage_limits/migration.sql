-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN     "allowedIps" TEXT,
ADD COLUMN     "creditRefill" TEXT,
ADD COLUMN     "credits" INTEGER,
ADD COLUMN     "creditsRefilledAt" TIMESTAMP(3),
ADD COLUMN     "disabled" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "ApiKeyUsage" (
    "keyId" TEXT NOT NULL,
    "periodStart" TIMESTAMP(3) NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "ApiKeyUsage_pkey" PRIMARY KEY ("keyId","periodStart")
);

-- AddForeignKey
ALTER TABLE "ApiKeyUsage" ADD CONSTRAINT "ApiKeyUsage_keyId_fkey" FOREIGN KEY ("keyId") REFERENCES "ApiKey"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The change feed's trigger, again: credits and creditsRefilledAt join
-- lastUsedAt and keyHmac as bookkeeping (an instance reserving a block of
-- credits changes no decision another instance caches).
DROP TRIGGER "ApiKey_change" ON "ApiKey";

CREATE TRIGGER "ApiKey_change" AFTER UPDATE OR DELETE ON "ApiKey"
    FOR EACH ROW EXECUTE FUNCTION "api_key_notify"('api_key_changes', 'prefix', 'lastUsedAt', 'keyHmac', 'credits', 'creditsRefilledAt');
