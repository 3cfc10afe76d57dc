package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/switchboard-chat/switchboard/store"
)

// room is one room's state. info never changes after creation and is read
// without the lock.
//
// Lock order: mu before any shard lock or publicMu (see Store).
type room struct {
	info store.Room

	mu      sync.RWMutex
	members map[string]store.Member
	names   []string          // member users, sorted, for Members pages
	cursors map[string]uint64 // read cursors by user
	log     messageLog
}

// CreateRoom stores r with its creator as owner. See store.Rooms.
func (s *Store) CreateRoom(ctx context.Context, r store.Room) (store.Room, error) {
	if err := s.begin(ctx); err != nil {
		return store.Room{}, err
	}
	if !store.ValidRoomID(r.ID) {
		return store.Room{}, invalid("room id %q", r.ID)
	}
	if r.CreatedBy == "" {
		return store.Room{}, invalid("room %q: empty CreatedBy", r.ID)
	}
	r.CreatedAt = now()
	rm := &room{
		info:    r,
		members: map[string]store.Member{r.CreatedBy: {User: r.CreatedBy, Role: store.RoleOwner, Joined: r.CreatedAt}},
		names:   []string{r.CreatedBy},
		cursors: make(map[string]uint64),
		log:     newMessageLog(s.maxMessages),
	}
	// Hold the new room's lock until it is indexed, so no one can change
	// its membership before the member index agrees with it.
	rm.mu.Lock()
	defer rm.mu.Unlock()
	sh := s.roomShard(r.ID)
	sh.mu.Lock()
	if _, ok := sh.rooms[r.ID]; ok {
		sh.mu.Unlock()
		return store.Room{}, fmt.Errorf("memory: room %q: %w", r.ID, store.ErrExists)
	}
	sh.rooms[r.ID] = rm
	sh.mu.Unlock()

	s.indexMember(r.CreatedBy, r.ID, true)
	if !r.Private {
		s.publicMu.Lock()
		i, _ := slices.BinarySearch(s.publicIDs, r.ID)
		s.publicIDs = slices.Insert(s.publicIDs, i, r.ID)
		s.publicMu.Unlock()
	}
	return r, nil
}

// GetRoom returns the room. See store.Rooms.
func (s *Store) GetRoom(ctx context.Context, id string) (store.Room, error) {
	if err := s.begin(ctx); err != nil {
		return store.Room{}, err
	}
	r, err := s.lookup(id)
	if err != nil {
		return store.Room{}, err
	}
	return r.info, nil
}

// ListRooms pages through the public rooms and user's rooms. See
// store.Rooms.
func (s *Store) ListRooms(ctx context.Context, user, after string, limit int) ([]store.Room, bool, error) {
	if err := s.begin(ctx); err != nil {
		return nil, false, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, false, err
	}
	// One more than limit from each source is enough to know whether
	// another page follows.
	var mine []string
	if user != "" {
		us := s.userShard(user)
		us.mu.Lock()
		for id := range us.rooms[user] {
			if id > after {
				mine = append(mine, id)
			}
		}
		us.mu.Unlock()
		slices.Sort(mine)
		mine = mine[:min(len(mine), limit+1)]
	}
	s.publicMu.RLock()
	i := sort.SearchStrings(s.publicIDs, after)
	if i < len(s.publicIDs) && s.publicIDs[i] == after {
		i++
	}
	public := slices.Clone(s.publicIDs[i:min(len(s.publicIDs), i+limit+1)])
	s.publicMu.RUnlock()

	ids := mergeUnique(mine, public)
	more := len(ids) > limit
	ids = ids[:min(len(ids), limit)]
	rooms := make([]store.Room, 0, len(ids))
	for _, id := range ids {
		r, err := s.lookup(id)
		if err != nil {
			continue // rooms are never deleted; defensive only
		}
		rooms = append(rooms, r.info)
	}
	return rooms, more, nil
}

// mergeUnique merges two sorted lists, dropping ids in both.
func mergeUnique(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch {
		case a[0] < b[0]:
			out, a = append(out, a[0]), a[1:]
		case a[0] > b[0]:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}

// indexMember adds (in) or removes a room from user's entry in the member
// index. The caller holds the room's lock.
func (s *Store) indexMember(user, roomID string, in bool) {
	us := s.userShard(user)
	us.mu.Lock()
	defer us.mu.Unlock()
	set := us.rooms[user]
	if in {
		if set == nil {
			set = make(map[string]struct{})
			us.rooms[user] = set
		}
		set[roomID] = struct{}{}
		return
	}
	delete(set, roomID)
	if len(set) == 0 {
		delete(us.rooms, user)
	}
}

// AddMember adds user with role unless already a member. See
// store.Memberships.
func (s *Store) AddMember(ctx context.Context, roomID, user string, role store.Role) (store.Member, bool, error) {
	if err := s.begin(ctx); err != nil {
		return store.Member{}, false, err
	}
	if user == "" {
		return store.Member{}, false, invalid("room %q: empty user", roomID)
	}
	if !role.Valid() {
		return store.Member{}, false, invalid("role %q", role)
	}
	r, err := s.lookup(roomID)
	if err != nil {
		return store.Member{}, false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := r.members[user]; ok {
		return m, false, nil
	}
	m := store.Member{User: user, Role: role, Joined: now()}
	r.members[user] = m
	i, _ := slices.BinarySearch(r.names, user)
	r.names = slices.Insert(r.names, i, user)
	s.indexMember(user, roomID, true)
	return m, true, nil
}

// SetRole changes a member's role. See store.Memberships.
func (s *Store) SetRole(ctx context.Context, roomID, user string, role store.Role) (store.Member, error) {
	if err := s.begin(ctx); err != nil {
		return store.Member{}, err
	}
	if !role.Valid() {
		return store.Member{}, invalid("role %q", role)
	}
	r, err := s.lookup(roomID)
	if err != nil {
		return store.Member{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.members[user]
	if !ok {
		return store.Member{}, notFound("member of room "+roomID, user)
	}
	m.Role = role
	r.members[user] = m
	return m, nil
}

// RemoveMember ends a membership. See store.Memberships.
func (s *Store) RemoveMember(ctx context.Context, roomID, user string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	r, err := s.lookup(roomID)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.members[user]; !ok {
		return notFound("member of room "+roomID, user)
	}
	delete(r.members, user)
	if i, ok := slices.BinarySearch(r.names, user); ok {
		r.names = slices.Delete(r.names, i, i+1)
	}
	s.indexMember(user, roomID, false)
	return nil
}

// Member returns one membership. See store.Memberships.
func (s *Store) Member(ctx context.Context, roomID, user string) (store.Member, error) {
	if err := s.begin(ctx); err != nil {
		return store.Member{}, err
	}
	r, err := s.lookup(roomID)
	if err != nil {
		return store.Member{}, err
	}
	r.mu.RLock()
	m, ok := r.members[user]
	r.mu.RUnlock()
	if !ok {
		return store.Member{}, notFound("member of room "+roomID, user)
	}
	return m, nil
}

// Members pages through a room's members by user. See store.Memberships.
func (s *Store) Members(ctx context.Context, roomID, after string, limit int) ([]store.Member, bool, error) {
	if err := s.begin(ctx); err != nil {
		return nil, false, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, false, err
	}
	r, err := s.lookup(roomID)
	if err != nil {
		return nil, false, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	i := sort.SearchStrings(r.names, after)
	if i < len(r.names) && r.names[i] == after {
		i++
	}
	page := r.names[i:]
	more := len(page) > limit
	page = page[:min(len(page), limit)]
	out := make([]store.Member, len(page))
	for j, user := range page {
		out[j] = r.members[user]
	}
	return out, more, nil
}

// MemberCount returns the number of members. See store.Memberships.
func (s *Store) MemberCount(ctx context.Context, roomID string) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	r, err := s.lookup(roomID)
	if err != nil {
		return 0, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.members), nil
}

// SetReadCursor moves a read cursor forward. See store.ReadCursors.
func (s *Store) SetReadCursor(ctx context.Context, roomID, user string, seq uint64) (bool, error) {
	if err := s.begin(ctx); err != nil {
		return false, err
	}
	if user == "" {
		return false, invalid("room %q: empty user", roomID)
	}
	r, err := s.lookup(roomID)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq <= r.cursors[user] {
		return false, nil
	}
	r.cursors[user] = seq
	return true, nil
}

// ReadCursor returns a read cursor, 0 when never set. See store.ReadCursors.
func (s *Store) ReadCursor(ctx context.Context, roomID, user string) (uint64, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	r, err := s.lookup(roomID)
	if err != nil {
		return 0, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cursors[user], nil
}
