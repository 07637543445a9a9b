-- The audit log (docs/events.md): what happened to each key, by whom. Rows
-- are only ever added; no foreign key, so a key's history outlives the key.
-- CreateTable
CREATE TABLE `ApiKeyEvent` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `keyId` VARCHAR(191) NOT NULL,
    `prefix` VARCHAR(191) NOT NULL,
    `type` VARCHAR(191) NOT NULL,
    `actor` VARCHAR(191) NULL,
    `changes` TEXT NULL,
    `details` TEXT NULL,
    `createdAt` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),

    INDEX `ApiKeyEvent_keyId_id_idx`(`keyId`, `id`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
