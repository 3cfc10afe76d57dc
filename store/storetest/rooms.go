package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard/store"
)

func testCreateRoom(t *testing.T, s store.Store) {
	ctx := t.Context()
	cases := []struct {
		name string
		room store.Room
		want error
	}{
		{"public", store.Room{ID: "lobby", CreatedBy: "alice"}, nil},
		{"private", store.Room{ID: "secret_1-a", Private: true, CreatedBy: "bob"}, nil},
		{"longest id", store.Room{ID: strings.Repeat("x", store.MaxRoomIDLen), CreatedBy: "alice"}, nil},
		{"taken", store.Room{ID: "lobby", CreatedBy: "carol"}, store.ErrExists},
		{"taken by private", store.Room{ID: "secret_1-a", CreatedBy: "carol"}, store.ErrExists},
		{"empty id", store.Room{ID: "", CreatedBy: "alice"}, store.ErrInvalid},
		{"upper case", store.Room{ID: "Lobby", CreatedBy: "alice"}, store.ErrInvalid},
		{"space", store.Room{ID: "a b", CreatedBy: "alice"}, store.ErrInvalid},
		{"too long", store.Room{ID: strings.Repeat("x", store.MaxRoomIDLen+1), CreatedBy: "alice"}, store.ErrInvalid},
		{"no creator", store.Room{ID: "orphan"}, store.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.CreateRoom(ctx, tc.room)
			wantErr(t, "CreateRoom", err, tc.want)
			if tc.want != nil {
				return
			}
			if got.ID != tc.room.ID || got.Private != tc.room.Private || got.CreatedBy != tc.room.CreatedBy {
				t.Fatalf("CreateRoom returned %+v for %+v", got, tc.room)
			}
			checkTime(t, "CreatedAt", got.CreatedAt)
			back, err := s.GetRoom(ctx, tc.room.ID)
			wantErr(t, "GetRoom", err, nil)
			if back.ID != got.ID || back.Private != got.Private || back.CreatedBy != got.CreatedBy ||
				!back.CreatedAt.Equal(got.CreatedAt) {
				t.Fatalf("GetRoom = %+v, want %+v", back, got)
			}
			owner, err := s.Member(ctx, tc.room.ID, tc.room.CreatedBy)
			wantErr(t, "Member(creator)", err, nil)
			if owner.Role != store.RoleOwner || owner.User != tc.room.CreatedBy {
				t.Fatalf("creator's membership = %+v, want owner", owner)
			}
			if n, err := s.MemberCount(ctx, tc.room.ID); err != nil || n != 1 {
				t.Fatalf("MemberCount = %d, %v; want 1", n, err)
			}
		})
	}
	// A rejected duplicate must not have changed the original.
	r, err := s.GetRoom(ctx, "lobby")
	wantErr(t, "GetRoom", err, nil)
	if r.CreatedBy != "alice" {
		t.Fatalf("lobby CreatedBy = %q after a rejected duplicate", r.CreatedBy)
	}
	_, err = s.Member(ctx, "lobby", "carol")
	wantErr(t, "Member(rejected creator)", err, store.ErrNotFound)
}

func testGetRoomNotFound(t *testing.T, s store.Store) {
	createRoom(t, s, "here", false, "alice")
	for _, id := range []string{"nope", "", "HERE", "bad id!", strings.Repeat("z", 200)} {
		_, err := s.GetRoom(t.Context(), id)
		wantErr(t, fmt.Sprintf("GetRoom(%q)", id), err, store.ErrNotFound)
	}
}

// roomFixture: public p1..p7, private q1..q3 (q1 by bob, q2 by dave with
// alice added, q3 by dave).
func roomFixture(t *testing.T, s store.Store) {
	t.Helper()
	for i := 1; i <= 7; i++ {
		createRoom(t, s, fmt.Sprintf("p%d", i), false, "dave")
	}
	createRoom(t, s, "q1", true, "bob")
	createRoom(t, s, "q2", true, "dave")
	createRoom(t, s, "q3", true, "dave")
	if _, _, err := s.AddMember(t.Context(), "q2", "alice", store.RoleMember); err != nil {
		t.Fatal(err)
	}
	// alice is also a member of a public room: listed once.
	if _, _, err := s.AddMember(t.Context(), "p3", "alice", store.RoleMember); err != nil {
		t.Fatal(err)
	}
}

func listAll(t *testing.T, s store.Store, user, after string, limit int) []string {
	t.Helper()
	var ids []string
	for page := 0; ; page++ {
		rooms, more, err := s.ListRooms(t.Context(), user, after, limit)
		wantErr(t, "ListRooms", err, nil)
		if len(rooms) > limit || more && len(rooms) != limit {
			t.Fatalf("ListRooms(%q, %q, %d) = %d rooms, more=%v", user, after, limit, len(rooms), more)
		}
		for _, r := range rooms {
			ids = append(ids, r.ID)
		}
		if !more {
			return ids
		}
		if page > 100 {
			t.Fatal("ListRooms: more never ends")
		}
		after = rooms[len(rooms)-1].ID
	}
}

func testListRooms(t *testing.T, s store.Store) {
	roomFixture(t, s)
	public := []string{"p1", "p2", "p3", "p4", "p5", "p6", "p7"}
	cases := []struct {
		user, after string
		want        []string
	}{
		{"", "", public},
		{"carol", "", public},
		{"alice", "", append(slices.Clone(public), "q2")},
		{"bob", "", append(slices.Clone(public), "q1")},
		{"dave", "", append(slices.Clone(public), "q2", "q3")},
		{"dave", "p5", []string{"p6", "p7", "q2", "q3"}},
		{"dave", "p55", []string{"p6", "p7", "q2", "q3"}},
		{"alice", "q2", nil},
		{"", "zzz", nil},
	}
	for _, tc := range cases {
		t.Run(tc.user+"/after="+tc.after, func(t *testing.T) {
			got := listAll(t, s, tc.user, tc.after, 100)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ListRooms(%q, %q) = %v, want %v", tc.user, tc.after, got, tc.want)
			}
		})
	}
	// Leaving a private room hides it.
	wantErr(t, "RemoveMember", s.RemoveMember(t.Context(), "q2", "alice"), nil)
	if got := listAll(t, s, "alice", "", 100); !slices.Equal(got, public) {
		t.Fatalf("after leaving q2: ListRooms(alice) = %v", got)
	}
	rooms, _, err := s.ListRooms(t.Context(), "bob", "", 100)
	wantErr(t, "ListRooms", err, nil)
	for _, r := range rooms {
		if r.ID == "q1" && (!r.Private || r.CreatedBy != "bob") {
			t.Fatalf("ListRooms returned q1 as %+v", r)
		}
	}
	for _, limit := range []int{0, -1} {
		_, _, err := s.ListRooms(t.Context(), "", "", limit)
		wantErr(t, fmt.Sprintf("ListRooms(limit %d)", limit), err, store.ErrInvalid)
	}
}

func testListRoomsPagination(t *testing.T, s store.Store) {
	roomFixture(t, s)
	want := listAll(t, s, "dave", "", 1000)
	if len(want) != 9 {
		t.Fatalf("dave sees %v, want 9 rooms", want)
	}
	for _, limit := range []int{1, 2, 3, 4, 8, 9, 10} {
		if got := listAll(t, s, "dave", "", limit); !slices.Equal(got, want) {
			t.Fatalf("limit %d: pages give %v, want %v", limit, got, want)
		}
	}
	// Exactly limit left: more must be false.
	rooms, more, err := s.ListRooms(t.Context(), "dave", "", 9)
	if err != nil || len(rooms) != 9 || more {
		t.Fatalf("ListRooms(limit = count) = %d rooms, more=%v, %v", len(rooms), more, err)
	}
}
