package store

import "context"

// Bus connects the instances of one cluster, which share one Store. It
// carries publication, never seq: the Store assigns seq, and a message is
// relayed on the Bus only after the Store holds it, so a subscriber that
// misses a payload can always refill from Messages.Since. Presence (who is
// connected to which room on any instance) lives on the Bus too.
//
// Every room has one channel. An instance subscribes only to the rooms that
// have members connected to it, over one connection for the whole instance.
// The bus delivers payloads to its BusHandler in the order its server
// relayed them; payloads published by different instances, or by one
// instance's different goroutines, may arrive in any order, so sequenced
// payloads carry their seq and the handler orders them.
//
// store/redis implements it. A nil Bus in the room layer means one
// instance: nothing crosses.
//
// Every method is safe for concurrent use.
type Bus interface {
	// Start begins delivery to h, the subscriber connection and the
	// instance's heartbeat. Call it once, before any other method.
	Start(h BusHandler) error
	// Subscribe adds a reference to room's channel and returns once the
	// subscription is confirmed, so that every payload published after
	// Subscribe returns is delivered. When the bus is disconnected it
	// returns an error wrapping ErrUnavailable at once; the room stays
	// wanted and is subscribed on reconnect, after which h.Resync("")
	// runs. Each Subscribe, failed or not, needs one Unsubscribe.
	Subscribe(ctx context.Context, room string) error
	// Unsubscribe drops a reference; the last one leaves the channel.
	Unsubscribe(room string)
	// Publish relays payload to every other instance subscribed to room
	// (never back to this one). It queues and returns at once; payloads
	// leave in call order. A payload the bus fails to relay makes it ask
	// every subscriber of room to Resync once it can.
	Publish(room string, payload []byte)
	// Err returns nil while payloads are being relayed, or an error
	// wrapping ErrUnavailable. The room layer refuses publishes while it
	// is not nil, so an acked message is never one the cluster cannot
	// see.
	Err() error
	// PresenceChanged says that whether user is connected to room on this
	// instance may have changed. The bus asks h.Present when it gets to
	// it, in call order with other presence calls, and brings the
	// cluster's state up to date; when that makes user the first or the
	// last connected anywhere, it publishes h.Announcement to the room.
	// It returns at once.
	PresenceChanged(room, user string)
	// SyncPresence is PresenceChanged that waits, and returns the number
	// of users connected to room across the cluster afterwards.
	SyncPresence(ctx context.Context, room, user string) (online int, err error)
	// Online returns the number of users connected to room across the
	// cluster, and whether each of users is.
	Online(ctx context.Context, room string, users []string) (count int, online []bool, err error)
	// OpenConn counts one more connection of user on this instance and
	// returns the user's connections across the cluster, this one
	// included (one round trip; an error while Redis is down, when only
	// the instance's own count is known). Every OpenConn, failed or not,
	// needs one CloseConn.
	OpenConn(ctx context.Context, user string) (total int, err error)
	// CloseConn counts one connection of user less; it returns at once.
	CloseConn(user string)
	// Charge counts one message of user and reports whether user has sent
	// more than limit messages in the current window (one second) across
	// the cluster. It answers from what the bus has learned so far and
	// never waits on the network, so the limit may be overshot by what the
	// instances accept between two of their exchanges with the server.
	Charge(user string, limit int) (limited bool)
	// Health returns nil when the bus is connected and its server answers,
	// or an error wrapping ErrUnavailable (for /readyz).
	Health(ctx context.Context) error
	// Close withdraws this instance (its presence goes offline at once)
	// and releases the bus. Idempotent.
	Close() error
}

// BusHandler is what a Bus calls back. Deliver and Resync run on the bus's
// receiving goroutine: they must not block. Present, LocalPresence and
// Announcement run on other bus goroutines and must be cheap.
type BusHandler interface {
	// Deliver hands over a payload another instance published on room
	// (presence announcements: any instance, this one included).
	// payload is the handler's to keep.
	Deliver(room string, payload []byte)
	// Resync says payloads of room may have been missed ("" : of every
	// room): the handler checks the Store and refills.
	Resync(room string)
	// Present reports whether user has a connection in room on this
	// instance now.
	Present(room, user string) bool
	// LocalPresence calls yield for every (room, user) connected to this
	// instance, until yield returns false; the bus re-registers them after
	// its server lost them.
	LocalPresence(yield func(room, user string) bool)
	// Announcement returns the payload to publish on room when user has
	// become online or offline across the cluster (nil: none), and the
	// online count above which the room is too large for announcements.
	Announcement(room, user string, online bool) (payload []byte, limit int)
}
