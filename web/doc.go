// Package web is the browser side of switchboard, served by the engine on
// its public listener (engine.HandleHTTP): the chat page at /, and the live
// dashboard at /dashboard with its numbers as JSON at /dashboard/stats.
//
// The page is plain JavaScript in static/, embedded into the binary (the
// embed package): no CDN, no build step, nothing fetched from elsewhere. It speaks
// the chat protocol of docs/protocol.md over /ws like any other client.
//
// # Concurrency
//
// Page handlers run on the engine's event loops, so they never block: the
// static files are answered from bytes built once at Register (with an
// ETag), and /dashboard/stats from the latest snapshot, which one sampler
// goroutine re-encodes every Options.Interval. That goroutine is the only
// one this package starts; Site.Close stops it.
//
// # Buffers
//
// Static bodies are embedded, read-only and shared by every answer. A stats
// snapshot is a fresh slice per sample, published through an atomic
// pointer and never written again, so an answer in flight keeps reading
// the one it took.
package web
