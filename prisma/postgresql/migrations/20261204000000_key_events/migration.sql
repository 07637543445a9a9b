-- The audit log (docs/events.md): what happened to each key, by whom. Rows
-- are only ever added; no foreign key, so a key's history outlives the key.
-- CreateTable
CREATE TABLE "ApiKeyEvent" (
    "id" SERIAL NOT NULL,
    "keyId" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "actor" TEXT,
    "changes" TEXT,
    "details" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ApiKeyEvent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ApiKeyEvent_keyId_id_idx" ON "ApiKeyEvent"("keyId", "id");
