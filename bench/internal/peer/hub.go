package peer

import (
	"encoding/json"
	"strconv"
	"sync"
)

// Sender writes one text message to a connection. It must be safe for
// concurrent use and must not modify or keep p after it returns (p is
// shared by every member of a room). An error means the connection is
// broken; its transport closes it.
type Sender interface {
	Send(p []byte) error
}

// Hub is the set of rooms. The zero value is not usable; call NewHub.
type Hub struct {
	mu    sync.Mutex // guards rooms; taken before any room.mu
	rooms map[string]*room
}

type room struct {
	id string

	mu      sync.Mutex // guards seq and members
	seq     uint64
	members map[*Session]struct{}
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{rooms: make(map[string]*room)} }

// Session is one connection's view of the hub.
type Session struct {
	hub   *Hub
	out   Sender
	user  string
	rooms map[string]*room // joined; touched only by the session's reader
}

// Session starts a session for a connection of user that writes with out.
func (h *Hub) Session(out Sender, user string) *Session {
	if user == "" {
		user = "guest"
	}
	return &Session{hub: h, out: out, user: user, rooms: make(map[string]*room)}
}

// clientFrame is what a client sends; unknown fields are ignored.
type clientFrame struct {
	Type string          `json:"type"`
	Room string          `json:"room"`
	ID   string          `json:"id"`
	Body json.RawMessage `json:"body"`
}

// Handle handles one client text message. It does not keep msg.
func (s *Session) Handle(msg []byte) {
	var f clientFrame
	if err := json.Unmarshal(msg, &f); err != nil {
		s.error("bad_request", "not a JSON object")
		return
	}
	switch f.Type {
	case "create":
		s.create(f.Room)
	case "join":
		s.join(f.Room)
	case "leave":
		s.leave(f.Room)
	case "publish":
		s.publish(f)
	case "":
		s.error("bad_request", "missing type")
	default:
		s.error("unknown_type", "this peer speaks create, join, leave and publish")
	}
}

// Close leaves every room the session joined.
func (s *Session) Close() {
	for id := range s.rooms {
		s.leave(id)
	}
}

func (s *Session) create(id string) {
	if !validRoom(id) {
		s.error("bad_request", "bad room id")
		return
	}
	h := s.hub
	h.mu.Lock()
	_, exists := h.rooms[id]
	if !exists {
		h.rooms[id] = &room{id: id, members: make(map[*Session]struct{})}
	}
	h.mu.Unlock()
	if exists {
		s.error("exists", "room exists")
		return
	}
	s.send(frame("created").str("room", id).done())
}

func (s *Session) join(id string) {
	if _, ok := s.rooms[id]; ok {
		s.error("bad_request", "already joined")
		return
	}
	h := s.hub
	h.mu.Lock()
	r := h.rooms[id]
	h.mu.Unlock()
	if r == nil {
		s.error("not_found", "no such room")
		return
	}
	r.mu.Lock()
	r.members[s] = struct{}{}
	seq := r.seq
	// Answered under the lock: no message with a later seq can reach this
	// member before its joined.
	s.send(frame("joined").str("room", id).num("seq", seq).done())
	r.mu.Unlock()
	s.rooms[id] = r
}

func (s *Session) leave(id string) {
	r, ok := s.rooms[id]
	if !ok {
		s.error("not_joined", "not in this room")
		return
	}
	delete(s.rooms, id)
	r.mu.Lock()
	delete(r.members, s)
	r.mu.Unlock()
}

func (s *Session) publish(f clientFrame) {
	r, ok := s.rooms[f.Room]
	switch {
	case !ok:
		s.error("not_joined", "join the room first")
		return
	case f.ID == "" || len(f.ID) > 64:
		s.error("bad_request", "id must be 1-64 bytes")
		return
	case len(f.Body) == 0:
		s.error("bad_request", "missing body")
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	s.send(frame("ack").str("id", f.ID).str("room", r.id).num("seq", r.seq).done())
	// Encoded once, written to every member.
	msg := frame("message").str("room", r.id).num("seq", r.seq).str("id", f.ID).str("from", s.user).raw("body", f.Body).done()
	for m := range r.members {
		m.send(msg)
	}
}

// send writes p; a failed write is the transport's to handle (it closes
// the connection, whose reader then calls Close).
func (s *Session) send(p []byte) { _ = s.out.Send(p) }

func (s *Session) error(code, message string) {
	s.send(frame("error").str("code", code).str("message", message).done())
}

// object is a JSON object under construction, fields in the order added.
type object []byte

func frame(typ string) object { return appendString(append(object(nil), `{"type":`...), typ) }

func (o object) key(k string) object {
	o = append(o, `,"`...)
	o = append(o, k...)
	return append(o, `":`...)
}

func (o object) str(k, v string) object        { return appendString(o.key(k), v) }
func (o object) num(k string, n uint64) object { return strconv.AppendUint(o.key(k), n, 10) }
func (o object) raw(k string, v []byte) object { return append(o.key(k), v...) }
func (o object) done() []byte                  { return append(o, '}') }

// appendString appends s as a JSON string.
func appendString(dst object, s string) object {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// validRoom is switchboard's room id rule: 1-64 of a-z 0-9 _ -.
func validRoom(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
