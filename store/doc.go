// Package store will define the storage interfaces the chat layer needs and
// their backends: memory (embedded default), postgres (pgx) and redis
// (go-redis). It knows nothing of connections. (Chat-server and durable
// scale-out issues; empty until then.)
package store
