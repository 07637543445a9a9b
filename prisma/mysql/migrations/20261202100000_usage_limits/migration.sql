-- AlterTable
ALTER TABLE `ApiKey` ADD COLUMN `allowedIps` VARCHAR(1000) NULL,
    ADD COLUMN `creditRefill` VARCHAR(191) NULL,
    ADD COLUMN `credits` INTEGER NULL,
    ADD COLUMN `creditsRefilledAt` DATETIME(3) NULL,
    ADD COLUMN `disabled` BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE `ApiKeyUsage` (
    `keyId` VARCHAR(191) NOT NULL,
    `periodStart` DATETIME(3) NOT NULL,
    `count` INTEGER NOT NULL DEFAULT 0,

    PRIMARY KEY (`keyId`, `periodStart`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `ApiKeyUsage` ADD CONSTRAINT `ApiKeyUsage_keyId_fkey` FOREIGN KEY (`keyId`) REFERENCES `ApiKey`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;

-- The change feed's update trigger, again: credits and creditsRefilledAt join
-- lastUsedAt and keyHmac as bookkeeping (an instance reserving a block of
-- credits changes no decision another instance caches); disabled, allowedIps
-- and creditRefill are announced like every other column.
DROP TRIGGER `ApiKey_change_update`;

CREATE TRIGGER `ApiKey_change_update` AFTER UPDATE ON `ApiKey` FOR EACH ROW
    INSERT INTO `ApiKeyChange` (`prefix`)
    SELECT changed.`prefix` FROM (SELECT OLD.`prefix` AS `prefix` UNION SELECT NEW.`prefix`) AS changed
    WHERE (OLD.`lastUsedAt` <=> NEW.`lastUsedAt` AND OLD.`keyHmac` <=> NEW.`keyHmac`
            AND OLD.`credits` <=> NEW.`credits` AND OLD.`creditsRefilledAt` <=> NEW.`creditsRefilledAt`)
        OR NOT (OLD.`id` <=> NEW.`id` AND OLD.`prefix` <=> NEW.`prefix` AND OLD.`hashedKey` <=> NEW.`hashedKey`
            AND OLD.`name` <=> NEW.`name` AND OLD.`revoked` <=> NEW.`revoked` AND OLD.`expiresAt` <=> NEW.`expiresAt`
            AND OLD.`createdAt` <=> NEW.`createdAt` AND OLD.`scopes` <=> NEW.`scopes`
            AND OLD.`previousHashedKey` <=> NEW.`previousHashedKey` AND OLD.`previousKeyExpiresAt` <=> NEW.`previousKeyExpiresAt`
            AND OLD.`disabled` <=> NEW.`disabled` AND OLD.`allowedIps` <=> NEW.`allowedIps` AND OLD.`creditRefill` <=> NEW.`creditRefill`);
