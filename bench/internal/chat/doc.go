// Package chat is the "chat" scenario of swload: a realistic mix against
// switchboard's chat protocol at /ws. Users (one connection each) join a
// few rooms each; publishes arrive open loop with typing frames before
// some; users send read receipts as messages arrive; some users drop their
// connection and come back with join `since` their last seq. It reports
// acked msgs/s and publish→delivery latency, and verifies that no member
// saw a gap or a duplicate and that nothing acked went undelivered.
//
// Shape of a repetition (package runner runs them; Config.rep in
// controller.go is chat's part): switchboard starts on fresh ports, one
// setup connection creates the rooms, --clients worker processes
// (worker.go, `swload chat-worker`) connect their users, then run the mix
// from one agreed instant, drain, and report their counters, latency
// histogram and every member's last seq per room (wire.go). Only
// switchboard speaks this protocol; there is no peer row.
//
// Concurrency: a worker uses a goroutine per connection to read (users
// come and go, which an event loop would make no simpler here), one
// goroutine publishing and one reconnecting. A client's reader owns its
// seq state; writes to its connection take the client's mutex; counters
// take the worker's.
package chat
