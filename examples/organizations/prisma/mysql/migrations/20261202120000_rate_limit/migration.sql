-- AlterTable
ALTER TABLE `organization_api_keys` ADD COLUMN `rate_limit` INTEGER NULL;

-- The change feed's update trigger compares every column: rate_limit too, so
-- a key's new limit reaches every instance as its revocation would.
DROP TRIGGER `organization_api_keys_change_update`;
CREATE TRIGGER `organization_api_keys_change_update` AFTER UPDATE ON `organization_api_keys` FOR EACH ROW
    INSERT INTO `organization_api_key_changes` (`prefix`)
    SELECT changed.`prefix` FROM (SELECT OLD.`prefix` AS `prefix` UNION SELECT NEW.`prefix`) AS changed
    WHERE OLD.`last_used_at` <=> NEW.`last_used_at`
        OR NOT (OLD.`id` <=> NEW.`id` AND OLD.`prefix` <=> NEW.`prefix` AND OLD.`hashed_key` <=> NEW.`hashed_key`
            AND OLD.`name` <=> NEW.`name` AND OLD.`revoked` <=> NEW.`revoked` AND OLD.`expires_at` <=> NEW.`expires_at`
            AND OLD.`created_at` <=> NEW.`created_at` AND OLD.`scopes` <=> NEW.`scopes`
            AND OLD.`previous_hashed_key` <=> NEW.`previous_hashed_key` AND OLD.`previous_key_expires_at` <=> NEW.`previous_key_expires_at`
            AND OLD.`organization_id` <=> NEW.`organization_id` AND OLD.`rate_limit` <=> NEW.`rate_limit`);
