-- The change feed announces a limit given to a key or taken away: whether a
-- key has credits at all is decided from each instance's cached row, while
-- the balance itself (a reservation, a refill) stays bookkeeping.
CREATE TRIGGER "ApiKey_change_credit_limit" AFTER UPDATE ON "ApiKey"
WHEN (OLD."credits" IS NULL) IS NOT (NEW."credits" IS NULL)
BEGIN
    INSERT INTO "ApiKeyChange" ("prefix") VALUES (NEW."prefix");
END;
