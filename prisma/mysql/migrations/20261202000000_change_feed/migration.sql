-- AlterTable
ALTER TABLE `ApiKey` ADD COLUMN `keyHmac` VARCHAR(191) NULL;

-- CreateTable
CREATE TABLE `ApiKeyChange` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `prefix` VARCHAR(191) NOT NULL,

    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- The change feed (docs/change-feed.md): every update and delete of a key row
-- logs its prefix, for every instance to drop or re-read that row;
-- except an update that leaves every column but lastUsedAt and keyHmac as it
-- was (the library's own bookkeeping, written often, changing no decision).
CREATE TRIGGER `ApiKey_change_delete` AFTER DELETE ON `ApiKey` FOR EACH ROW
    INSERT INTO `ApiKeyChange` (`prefix`) VALUES (OLD.`prefix`);

CREATE TRIGGER `ApiKey_change_update` AFTER UPDATE ON `ApiKey` FOR EACH ROW
    INSERT INTO `ApiKeyChange` (`prefix`)
    SELECT changed.`prefix` FROM (SELECT OLD.`prefix` AS `prefix` UNION SELECT NEW.`prefix`) AS changed
    WHERE (OLD.`lastUsedAt` <=> NEW.`lastUsedAt` AND OLD.`keyHmac` <=> NEW.`keyHmac`)
        OR NOT (OLD.`id` <=> NEW.`id` AND OLD.`prefix` <=> NEW.`prefix` AND OLD.`hashedKey` <=> NEW.`hashedKey`
            AND OLD.`name` <=> NEW.`name` AND OLD.`revoked` <=> NEW.`revoked` AND OLD.`expiresAt` <=> NEW.`expiresAt`
            AND OLD.`createdAt` <=> NEW.`createdAt` AND OLD.`scopes` <=> NEW.`scopes`
            AND OLD.`previousHashedKey` <=> NEW.`previousHashedKey` AND OLD.`previousKeyExpiresAt` <=> NEW.`previousKeyExpiresAt`);
