package store

import (
	"encoding/json"
	"time"
)

// MaxRoomIDLen is the longest room id ValidRoomID accepts.
const MaxRoomIDLen = 64

// ValidRoomID reports whether id may name a new room: 1 to MaxRoomIDLen
// bytes of a-z, 0-9, '_' and '-'. The set is safe in URLs, Redis keys and
// log lines without escaping.
func ValidRoomID(id string) bool {
	if len(id) == 0 || len(id) > MaxRoomIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Room is a chat room. Its fields do not change after CreateRoom.
type Room struct {
	ID string
	// Private rooms admit members only (or holders of an invite).
	Private   bool
	CreatedBy string
	// CreatedAt is set by the store.
	CreatedAt time.Time
}

// Role is a member's role in a room. Only the constants below are valid.
type Role string

const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// Valid reports whether r is one of RoleOwner, RoleAdmin, RoleMember.
func (r Role) Valid() bool { return r.Rank() > 0 }

// Rank orders roles for comparisons: owner 3, admin 2, member 1, and 0 for
// anything invalid.
func (r Role) Rank() int {
	switch r {
	case RoleOwner:
		return 3
	case RoleAdmin:
		return 2
	case RoleMember:
		return 1
	}
	return 0
}

// AtLeast reports whether r ranks at or above min. An invalid r is never at
// least anything.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.Rank() >= min.Rank() }

// Member is one user's membership of a room.
type Member struct {
	User string
	Role Role
	// Joined is set by the store when the user first becomes a member.
	Joined time.Time
}

// Message is one stored chat message.
type Message struct {
	Room string
	// Seq is assigned by the store: 1, 2, 3, ... per room.
	Seq uint64
	// ID is the client's message id; (Room, From, ID) identifies a message
	// for retries.
	ID   string
	From string
	// Body is the message's JSON value, kept byte for byte. The store does
	// not parse it: the room layer validates it before Append. Returned
	// bodies may be shared: read-only.
	Body json.RawMessage
	// TS is assigned by the store at Append.
	TS time.Time
}

// Invite is a revocable invitation to a room. The signed token handed to
// users is the auth layer's job; it names the invite's ID so the store can
// answer whether it was revoked.
type Invite struct {
	ID        string
	Room      string
	CreatedBy string
	Expires   time.Time
	Revoked   bool
}

// Usable reports whether the invite admits someone at now: not revoked and
// not expired.
func (i Invite) Usable(now time.Time) bool { return !i.Revoked && now.Before(i.Expires) }
