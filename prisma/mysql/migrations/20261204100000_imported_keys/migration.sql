-- Imported keys (docs/migrating.md): the system a key came from, null for
-- the library's own keys.
-- AlterTable
ALTER TABLE `ApiKey` ADD COLUMN `importedFrom` VARCHAR(191) NULL;

-- The change feed's update trigger, again: importedFrom is announced like
-- every other column that is not bookkeeping.
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
            AND OLD.`disabled` <=> NEW.`disabled` AND OLD.`allowedIps` <=> NEW.`allowedIps` AND OLD.`creditRefill` <=> NEW.`creditRefill`
            AND OLD.`importedFrom` <=> NEW.`importedFrom`);
