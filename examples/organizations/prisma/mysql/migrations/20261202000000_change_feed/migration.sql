-- CreateTable
CREATE TABLE `organization_api_key_changes` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `prefix` VARCHAR(191) NOT NULL,

    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- The change feed (docs/custom-models.md#the-change-feed-for-a-custom-model):
-- every update and delete of a key row logs its prefix, for every instance to
-- drop or re-read that row; except an update that leaves every column but
-- last_used_at as it was (the library's own bookkeeping, written often,
-- changing no decision). Every column of the table is compared, the example's
-- organization_id too.
CREATE TRIGGER `organization_api_keys_change_delete` AFTER DELETE ON `organization_api_keys` FOR EACH ROW
    INSERT INTO `organization_api_key_changes` (`prefix`) VALUES (OLD.`prefix`);

CREATE TRIGGER `organization_api_keys_change_update` AFTER UPDATE ON `organization_api_keys` FOR EACH ROW
    INSERT INTO `organization_api_key_changes` (`prefix`)
    SELECT changed.`prefix` FROM (SELECT OLD.`prefix` AS `prefix` UNION SELECT NEW.`prefix`) AS changed
    WHERE OLD.`last_used_at` <=> NEW.`last_used_at`
        OR NOT (OLD.`id` <=> NEW.`id` AND OLD.`prefix` <=> NEW.`prefix` AND OLD.`hashed_key` <=> NEW.`hashed_key`
            AND OLD.`name` <=> NEW.`name` AND OLD.`revoked` <=> NEW.`revoked` AND OLD.`expires_at` <=> NEW.`expires_at`
            AND OLD.`created_at` <=> NEW.`created_at` AND OLD.`scopes` <=> NEW.`scopes`
            AND OLD.`previous_hashed_key` <=> NEW.`previous_hashed_key` AND OLD.`previous_key_expires_at` <=> NEW.`previous_key_expires_at`
            AND OLD.`organization_id` <=> NEW.`organization_id`);

-- The usable rule reads each key's organization, cached with the key: every
-- update of an organization logs the prefixes of all its keys. MySQL runs no
-- trigger for the rows a foreign key's cascade deletes or updates, so deleting
-- an organization logs its keys' prefixes too, before they go.
CREATE TRIGGER `Organization_change_update` AFTER UPDATE ON `Organization` FOR EACH ROW
    INSERT INTO `organization_api_key_changes` (`prefix`)
    SELECT `prefix` FROM `organization_api_keys` WHERE `organization_id` IN (OLD.`id`, NEW.`id`);

CREATE TRIGGER `Organization_change_delete` BEFORE DELETE ON `Organization` FOR EACH ROW
    INSERT INTO `organization_api_key_changes` (`prefix`)
    SELECT `prefix` FROM `organization_api_keys` WHERE `organization_id` = OLD.`id`;
