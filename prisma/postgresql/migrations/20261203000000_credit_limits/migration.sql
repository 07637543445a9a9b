-- The change feed announces a limit given to a key or taken away: whether a
-- key has credits at all is decided from each instance's cached row, while
-- the balance itself (a reservation, a refill) stays bookkeeping. No column
-- is ignored here, so the function notifies whenever this trigger fires.
CREATE TRIGGER "ApiKey_change_credit_limit" AFTER UPDATE ON "ApiKey"
    FOR EACH ROW WHEN ((OLD."credits" IS NULL) <> (NEW."credits" IS NULL))
    EXECUTE FUNCTION "api_key_notify"('api_key_changes', 'prefix');
