#!/bin/sh
# Stands in for Prisma's schema engine where it cannot be downloaded. It must
# never pass for the real one: every command that reaches it fails.
echo "prisma schema engine is not available offline: apply prisma/<provider>/migrations/*/migration.sql through your database driver, or run prisma migrate where the engine can be downloaded" >&2
exit 1
