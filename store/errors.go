package store

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound: the room, member, or invite named does not exist. Lookups
	// do not validate identifiers: a malformed id is simply not found.
	ErrNotFound = errors.New("store: not found")
	// ErrExists: CreateRoom or CreateInvite with an id already taken.
	ErrExists = errors.New("store: already exists")
	// ErrInvalid: a value the store would write is malformed (room id,
	// role, empty user or message id, empty body, zero expiry) or a limit
	// is not positive. The room layer answers bad_request.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrUnavailable: the backend cannot serve the call now (outage, timeout,
	// closed store). Nothing is known to be stored: the room layer answers
	// with an unavailable error frame and never acks. Any method may
	// return it.
	ErrUnavailable = errors.New("store: unavailable")
)

// TrimmedError is returned by Messages.Since when the messages right after
// the requested seq are no longer stored (trimmed by retention): replay
// cannot be gapless, so the room layer sends reset instead of skipping.
type TrimmedError struct {
	// Room is the room asked about.
	Room string
	// Oldest is the oldest seq still stored, or LastSeq+1 when the store
	// holds none of the room's messages.
	Oldest uint64
}

func (e *TrimmedError) Error() string {
	return fmt.Sprintf("store: room %q history trimmed: oldest stored seq is %d", e.Room, e.Oldest)
}
