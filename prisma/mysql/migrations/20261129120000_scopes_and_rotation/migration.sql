-- AlterTable
ALTER TABLE `ApiKey` ADD COLUMN `previousHashedKey` VARCHAR(191) NULL,
    ADD COLUMN `previousKeyExpiresAt` DATETIME(3) NULL,
    ADD COLUMN `scopes` VARCHAR(1000) NOT NULL DEFAULT '';
