package store

import "context"

// Store is everything the chat layer needs from storage. Backends implement
// it whole; the room layer may depend on the narrower interfaces.
type Store interface {
	Rooms
	Memberships
	Messages
	ReadCursors
	Invites

	// Health returns nil when the store can serve calls, or an error
	// wrapping ErrUnavailable (for /readyz).
	Health(ctx context.Context) error
	// Close releases the store's resources. Calls after Close return
	// errors wrapping ErrUnavailable. Close is idempotent.
	Close() error
}

// Rooms creates and lists rooms.
type Rooms interface {
	// CreateRoom stores r with CreatedAt set and r.CreatedBy as its owner,
	// in one step: a room never exists without its owner. ErrInvalid when
	// !ValidRoomID(r.ID) or r.CreatedBy is empty; ErrExists when the id is
	// taken.
	CreateRoom(ctx context.Context, r Room) (Room, error)
	// GetRoom returns the room; ErrNotFound when there is none.
	GetRoom(ctx context.Context, id string) (Room, error)
	// ListRooms returns the rooms user may see (every public room and
	// every room user is a member of) with id > after, in ascending id
	// order, at most limit of them; more reports that further rooms
	// follow. Pass the last id returned as after for the next page; ""
	// starts at the beginning. user may be "" (public rooms only).
	// ErrInvalid when limit < 1.
	ListRooms(ctx context.Context, user, after string, limit int) (rooms []Room, more bool, err error)
}

// Memberships keeps who is in a room and with which role. It enforces no
// policy (last owner, who may kick whom): the room layer decides first.
type Memberships interface {
	// AddMember makes user a member of room with role. If user already is
	// one, nothing changes and the existing membership is returned with
	// added=false. ErrNotFound for an unknown room; ErrInvalid for an empty
	// user or an invalid role.
	AddMember(ctx context.Context, room, user string, role Role) (m Member, added bool, err error)
	// SetRole changes an existing member's role and returns the updated
	// membership. ErrNotFound when the room or the membership does not
	// exist; ErrInvalid for an invalid role.
	SetRole(ctx context.Context, room, user string, role Role) (Member, error)
	// RemoveMember ends user's membership; their read cursor is kept.
	// ErrNotFound when the room or the membership does not exist.
	RemoveMember(ctx context.Context, room, user string) error
	// Member returns user's membership of room; ErrNotFound when the room
	// does not exist or user is not a member.
	Member(ctx context.Context, room, user string) (Member, error)
	// Members pages through room's members in ascending user order: users
	// > after, at most limit; more reports that further members follow.
	// ErrNotFound for an unknown room; ErrInvalid when limit < 1.
	Members(ctx context.Context, room, after string, limit int) (members []Member, more bool, err error)
	// MemberCount returns the number of members; ErrNotFound for an
	// unknown room.
	MemberCount(ctx context.Context, room string) (int, error)
}

// Messages assigns seqs and keeps history.
//
// Every method reports ErrNotFound for an unknown room (AppendBatch per
// item).
type Messages interface {
	// Append stores m with the room's next seq (monotonic, gapless, from
	// 1) and TS set; m.Seq and m.TS are ignored, m.Body is copied. If a
	// message with the same (Room, From, ID) is still stored, nothing is
	// written: the stored message is returned with duplicate=true. A
	// backend may forget ids along with trimmed messages; a retry that
	// late is stored as new. ErrInvalid for an empty ID, From or Body.
	//
	// Returning without error means the message is stored as durably as
	// the backend makes it, and only then may it be acked. After an error
	// (a cancelled ctx mid-call, ErrUnavailable) the message may or may
	// not be stored: retry with the same ID to find out.
	Append(ctx context.Context, m Message) (stored Message, duplicate bool, err error)
	// AppendBatch appends ms in order, as if by Append on each: messages
	// to one room get increasing seqs in slice order. It lets a caller
	// hand a group-committing backend many messages in one round trip
	// without a goroutine per message. results[i] is ms[i]'s outcome; an
	// item's own error (ErrNotFound, ErrInvalid) fails only that item. A
	// non-nil err fails the whole batch (results is nil): no message is
	// known to be stored.
	AppendBatch(ctx context.Context, ms []Message) (results []AppendResult, err error)
	// History returns the newest limit messages with seq < before (before
	// 0: from the newest), in ascending seq order; more reports that older
	// ones are stored. Walking back with before = the first seq returned
	// visits every stored message once. ErrInvalid when limit < 1.
	History(ctx context.Context, room string, before uint64, limit int) (msgs []Message, more bool, err error)
	// Since returns messages with seq > after in ascending order, at most
	// limit, starting exactly at after+1; more reports that newer ones
	// follow. If seq after+1 has been trimmed, it returns *TrimmedError.
	// An after >= LastSeq returns no messages: a caller holding a seq
	// above LastSeq (a store that lost or reset its history) must compare
	// with LastSeq itself. ErrInvalid when limit < 1.
	Since(ctx context.Context, room string, after uint64, limit int) (msgs []Message, more bool, err error)
	// LastSeq returns the room's highest assigned seq, 0 before the first
	// message.
	LastSeq(ctx context.Context, room string) (uint64, error)
}

// AppendResult is one message's outcome in AppendBatch.
type AppendResult struct {
	Message   Message
	Duplicate bool
	Err       error
}

// ReadCursors keeps each user's read position per room. The store does not
// check membership or that seq was assigned: the room layer validates seq
// (<= LastSeq) first, since a cursor never moves back.
type ReadCursors interface {
	// SetReadCursor moves user's cursor in room forward to seq. A seq at
	// or below the current cursor changes nothing and returns
	// advanced=false. ErrNotFound for an unknown room; ErrInvalid for an
	// empty user.
	SetReadCursor(ctx context.Context, room, user string, seq uint64) (advanced bool, err error)
	// ReadCursor returns user's cursor in room, 0 when never set.
	// ErrNotFound for an unknown room.
	ReadCursor(ctx context.Context, room, user string) (uint64, error)
}

// Invites keeps invite records; the auth layer signs tokens naming them.
type Invites interface {
	// CreateInvite stores inv, not revoked. An empty inv.ID is replaced by
	// a random unguessable one. ErrNotFound for an unknown room;
	// ErrInvalid for an empty CreatedBy or a zero Expires; ErrExists when
	// a given ID is taken.
	CreateInvite(ctx context.Context, inv Invite) (Invite, error)
	// GetInvite returns the invite; check Invite.Usable before honouring
	// it. ErrNotFound when there is none; a backend may purge invites
	// once they have expired.
	GetInvite(ctx context.Context, id string) (Invite, error)
	// RevokeInvite marks the invite revoked (again is a no-op).
	// ErrNotFound when there is none.
	RevokeInvite(ctx context.Context, id string) error
}

// AsyncAppender is an optional interface of a Store whose Append waits on
// work done elsewhere (a group commit): it lets the caller hand a message
// over without waiting, so one goroutine can keep many appends in flight
// and the backend can batch them. The room layer uses it when the store
// has it and falls back to Append otherwise.
//
// AppendAsync appends m as Append does and reports the outcome to done:
//   - done is called exactly once, whatever happens (ctx ending, the store
//     closing, an invalid message), with the result Append would have
//     returned (Message, Duplicate, Err);
//   - done is called from the store's own goroutine, or on the caller's
//     before AppendAsync returns (an error decided at once, or a backend
//     that stores synchronously); it must not block and must not call
//     back into the store;
//   - appends to one room handed over by one goroutine complete, and get
//     their seqs, in the order they were handed over.
//
// AppendAsync itself may wait for room in a full queue (backpressure), at
// most until ctx ends. ctx must stay live until done has been called: a
// message whose ctx ended before its commit began is not stored.
type AsyncAppender interface {
	AppendAsync(ctx context.Context, m Message, done func(AppendResult))
}
