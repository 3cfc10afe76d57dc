// Package protocol is switchboard's RFC 6455 layer: the incremental HTTP/1.1
// upgrade parser and its responses, the streaming frame reader, frame
// encoding, close codes, UTF-8 validation and permessage-deflate (RFC 7692).
//
// It is pure: it takes bytes and returns values and errors. It does no I/O,
// starts no goroutines, keeps no global mutable state (apart from the
// sync.Pools behind Inflate and Deflate), and its hot paths (Parse,
// ValidateUpgrade, the Append functions, Reader.Next, UTF8State) do not
// allocate; the benchmarks in this package report 0 allocs/op and must stay
// there.
//
// # Concurrency
//
// A HandshakeParser, a Reader and a UTF8State are owned by one goroutine at a
// time (the engine moves a connection between its loop and its worker, never
// sharing it). Configs (HandshakeConfig, FrameConfig) are read-only once in
// use and may be shared by all connections. Package functions are safe for
// concurrent use.
//
// # Buffer ownership
//
// Nothing here keeps a caller's buffer. Every slice returned (Request's
// fields, Event.Payload) is borrowed from the input given to the call, and is
// valid exactly as long as the caller keeps that input unchanged; copy what
// must outlive it. Reader.Next unmasks payloads in place, so it writes to its
// input. HandshakeParser stores offsets, never slices, so the caller may grow
// or move its buffer between Parse calls. The Append functions only append to
// dst and allocate only when dst lacks capacity.
//
// # Errors
//
// Handshake rejections are *HTTPError (answer with AppendHTTPError); frame
// failures are *CloseError (answer with AppendClose(CloseCodeFor(err), ...)).
// Both are shared package-level values so that failing costs nothing;
// callers must not modify them. AppendClose and CloseCodeFor never put 1005,
// 1006 or 1015 on the wire.
//
// # Compression
//
// permessage-deflate is negotiated only without context takeover in both
// directions, so every message is compressed and inflated on its own and an
// idle connection owns no compression state at all (0 bytes). Inflate and
// Deflate borrow a flate reader or writer from a sync.Pool for the duration
// of one call. BenchmarkDeflate reports their cost: a compress/flate Writer
// is about 1.2 MB (writer-bytes, Go 1.26, BestSpeed) and a reader about
// 40 KB (reader-bytes). They are shared by all connections, so the total is
// bounded by how many workers compress at once, not by connections. We use compress/flate
// directly rather than gobwas/ws/wsflate because wsflate's helpers build a new
// flate writer per message and its streaming types are meant to be kept per
// connection, which is the state we do not want to keep.
package protocol
