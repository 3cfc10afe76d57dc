package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/switchboard-chat/switchboard/store"
)

func testMembership(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, "r", true, "owner")

	m, added, err := s.AddMember(ctx, "r", "alice", store.RoleMember)
	wantErr(t, "AddMember", err, nil)
	if !added || m.User != "alice" || m.Role != store.RoleMember {
		t.Fatalf("AddMember = %+v, added=%v", m, added)
	}
	checkTime(t, "Joined", m.Joined)

	// Adding again changes nothing, not even the role.
	again, added, err := s.AddMember(ctx, "r", "alice", store.RoleAdmin)
	wantErr(t, "AddMember again", err, nil)
	if added || again.Role != store.RoleMember || !again.Joined.Equal(m.Joined) {
		t.Fatalf("AddMember again = %+v, added=%v; want the first membership", again, added)
	}

	steps := []struct {
		role store.Role
		want error
	}{
		{store.RoleAdmin, nil},
		{store.RoleOwner, nil},
		{store.RoleMember, nil},
		{"superuser", store.ErrInvalid},
		{"", store.ErrInvalid},
		{store.RoleAdmin, nil},
	}
	for _, st := range steps {
		got, err := s.SetRole(ctx, "r", "alice", st.role)
		wantErr(t, fmt.Sprintf("SetRole(%q)", st.role), err, st.want)
		if st.want != nil {
			continue
		}
		if got.Role != st.role || got.User != "alice" || !got.Joined.Equal(m.Joined) {
			t.Fatalf("SetRole(%q) = %+v", st.role, got)
		}
		back, err := s.Member(ctx, "r", "alice")
		wantErr(t, "Member", err, nil)
		if back.Role != st.role {
			t.Fatalf("after SetRole(%q): Member role %q", st.role, back.Role)
		}
	}

	for _, u := range []string{"bob", "carol"} {
		if _, _, err := s.AddMember(ctx, "r", u, store.RoleMember); err != nil {
			t.Fatal(err)
		}
	}
	countIs(t, s, "r", 4)
	wantErr(t, "RemoveMember", s.RemoveMember(ctx, "r", "bob"), nil)
	countIs(t, s, "r", 3)
	_, err = s.Member(ctx, "r", "bob")
	wantErr(t, "Member(removed)", err, store.ErrNotFound)
	wantErr(t, "RemoveMember again", s.RemoveMember(ctx, "r", "bob"), store.ErrNotFound)

	// Rejoining is a fresh membership with the role given now.
	m, added, err = s.AddMember(ctx, "r", "bob", store.RoleAdmin)
	if err != nil || !added || m.Role != store.RoleAdmin {
		t.Fatalf("rejoin: %+v added=%v err=%v", m, added, err)
	}
	countIs(t, s, "r", 4)
}

func countIs(t *testing.T, s store.Store, room string, want int) {
	t.Helper()
	n, err := s.MemberCount(t.Context(), room)
	if err != nil || n != want {
		t.Fatalf("MemberCount(%q) = %d, %v; want %d", room, n, err, want)
	}
}

func testMembershipErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, "r", false, "owner")
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"AddMember unknown room", func() error {
			_, _, err := s.AddMember(ctx, "nope", "alice", store.RoleMember)
			return err
		}, store.ErrNotFound},
		{"AddMember empty user", func() error {
			_, _, err := s.AddMember(ctx, "r", "", store.RoleMember)
			return err
		}, store.ErrInvalid},
		{"AddMember bad role", func() error {
			_, _, err := s.AddMember(ctx, "r", "alice", "root")
			return err
		}, store.ErrInvalid},
		{"SetRole unknown room", func() error {
			_, err := s.SetRole(ctx, "nope", "owner", store.RoleAdmin)
			return err
		}, store.ErrNotFound},
		{"SetRole non-member", func() error {
			_, err := s.SetRole(ctx, "r", "stranger", store.RoleAdmin)
			return err
		}, store.ErrNotFound},
		{"RemoveMember unknown room", func() error { return s.RemoveMember(ctx, "nope", "owner") }, store.ErrNotFound},
		{"RemoveMember non-member", func() error { return s.RemoveMember(ctx, "r", "stranger") }, store.ErrNotFound},
		{"Member unknown room", func() error {
			_, err := s.Member(ctx, "nope", "owner")
			return err
		}, store.ErrNotFound},
		{"Member non-member", func() error {
			_, err := s.Member(ctx, "r", "stranger")
			return err
		}, store.ErrNotFound},
		{"Members unknown room", func() error {
			_, _, err := s.Members(ctx, "nope", "", 10)
			return err
		}, store.ErrNotFound},
		{"Members limit 0", func() error {
			_, _, err := s.Members(ctx, "r", "", 0)
			return err
		}, store.ErrInvalid},
		{"MemberCount unknown room", func() error {
			_, err := s.MemberCount(ctx, "nope")
			return err
		}, store.ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.call(), tc.want) })
	}
	countIs(t, s, "r", 1)
}

func testMembersPagination(t *testing.T, s store.Store) {
	ctx := t.Context()
	createRoom(t, s, "big", false, "owner")
	want := []string{"owner"}
	// Added out of order: pages are by user, not by join time.
	for _, i := range []int{7, 3, 24, 0, 11, 19, 5, 1, 16, 22, 9, 13, 2, 20, 6, 15, 4, 23, 18, 8, 10, 21, 12, 17, 14} {
		u := fmt.Sprintf("u%02d", i)
		if _, _, err := s.AddMember(ctx, "big", u, store.RoleMember); err != nil {
			t.Fatal(err)
		}
		want = append(want, u)
	}
	slices.Sort(want)
	countIs(t, s, "big", len(want))

	walk := func(after string, limit int) []string {
		var got []string
		for range len(want) + 2 {
			page, more, err := s.Members(ctx, "big", after, limit)
			wantErr(t, "Members", err, nil)
			if len(page) > limit || more && len(page) != limit {
				t.Fatalf("Members(%q, %d) = %d members, more=%v", after, limit, len(page), more)
			}
			for _, m := range page {
				if m.Role == "" || m.Joined.IsZero() {
					t.Fatalf("Members returned %+v", m)
				}
				got = append(got, m.User)
			}
			if !more {
				return got
			}
			after = page[len(page)-1].User
		}
		t.Fatal("Members: more never ends")
		return nil
	}
	for _, limit := range []int{1, 2, 5, 7, 25, 26, 27, 1000} {
		if got := walk("", limit); !slices.Equal(got, want) {
			t.Fatalf("limit %d: pages give %v, want %v", limit, got, want)
		}
	}
	if got := walk("u10", 4); !slices.Equal(got, want[slices.Index(want, "u10")+1:]) {
		t.Fatalf("after u10: %v", got)
	}
	if got := walk("u105", 4); !slices.Equal(got, want[slices.Index(want, "u11"):]) {
		t.Fatalf("after u105 (not a member): %v", got)
	}
	page, _, err := s.Members(ctx, "big", "", 1)
	if err != nil || len(page) != 1 || page[0].Role != store.RoleOwner {
		t.Fatalf("first member = %+v, %v; want the owner", page, err)
	}
}
