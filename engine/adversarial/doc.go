// Package adversarial is switchboard's attack suite: tests only. Each test
// starts the real server in process (engine, chat service at /ws, memory
// store, JWT auth, the admission limits serve applies) and attacks it with
// raw sockets: slowloris and malformed handshakes, every RFC 6455
// violation, compression bombs, ping and close floods, hostile chat
// frames, forged tokens and invites. For each attack it asserts the answer
// (HTTP status, close code or error frame), and that a bystander pair of
// clients kept exchanging messages throughout, with no loss, and that the
// heap after GC came back to within heapSlack of where it was before.
//
// Two forms. The short form runs in `make test` (go test ./...): a few
// hundred sockets per attack. The full form, `make test-adversarial`
// (SWITCHBOARD_ADVERSARIAL=full), scales every attack up: 10,000 slowloris
// sockets (opened by a helper process, as one process may hold only 20,000
// descriptors and a socket held at both ends costs two), floods of
// thousands, and the slow-consumer measurement in a 5,000-member room.
//
// docs/security.md lists every attack with the test that tries it.
package adversarial
