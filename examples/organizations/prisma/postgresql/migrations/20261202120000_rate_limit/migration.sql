-- AlterTable
ALTER TABLE "organization_api_keys" ADD COLUMN "rate_limit" INTEGER;

-- The change feed's trigger announces every column but those it is told to
-- ignore (prefix, last_used_at): rate_limit needs no change to it.
