-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN "previousHashedKey" TEXT;
ALTER TABLE "ApiKey" ADD COLUMN "previousKeyExpiresAt" DATETIME;
ALTER TABLE "ApiKey" ADD COLUMN "scopes" TEXT NOT NULL DEFAULT '';
