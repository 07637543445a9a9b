-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN     "previousHashedKey" TEXT,
ADD COLUMN     "previousKeyExpiresAt" TIMESTAMP(3),
ADD COLUMN     "scopes" TEXT NOT NULL DEFAULT '';
