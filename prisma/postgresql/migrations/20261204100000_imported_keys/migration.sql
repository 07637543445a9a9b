-- Imported keys (docs/migrating.md): the system a key came from, null for
-- the library's own keys. The change feed's trigger announces it with every
-- column it does not list as bookkeeping: nothing to change there.
-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN     "importedFrom" TEXT;
