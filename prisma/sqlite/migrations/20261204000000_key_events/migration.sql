-- The audit log (docs/events.md): what happened to each key, by whom. Rows
-- are only ever added; no foreign key, so a key's history outlives the key.
-- CreateTable
CREATE TABLE "ApiKeyEvent" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "keyId" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "actor" TEXT,
    "changes" TEXT,
    "details" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateIndex
CREATE INDEX "ApiKeyEvent_keyId_id_idx" ON "ApiKeyEvent"("keyId", "id");
