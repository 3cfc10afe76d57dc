// Package postgres is the PostgreSQL store.Store (github.com/jackc/pgx/v5,
// pgxpool): rooms, memberships with roles, invites, messages and read
// cursors survive restarts and are shared by every instance pointed at the
// same database.
package postgres
