package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/store"
)

// calls is one call of every store method, on room "r" (which exists).
func calls(s store.Store) map[string]func(ctx context.Context) error {
	inv := store.Invite{Room: "r", CreatedBy: "alice", Expires: time.Now().Add(time.Hour)}
	return map[string]func(ctx context.Context) error{
		"CreateRoom": func(ctx context.Context) error {
			_, err := s.CreateRoom(ctx, store.Room{ID: "new", CreatedBy: "alice"})
			return err
		},
		"GetRoom":   func(ctx context.Context) error { _, err := s.GetRoom(ctx, "r"); return err },
		"ListRooms": func(ctx context.Context) error { _, _, err := s.ListRooms(ctx, "alice", "", 10); return err },
		"AddMember": func(ctx context.Context) error {
			_, _, err := s.AddMember(ctx, "r", "bob", store.RoleMember)
			return err
		},
		"SetRole":      func(ctx context.Context) error { _, err := s.SetRole(ctx, "r", "alice", store.RoleAdmin); return err },
		"RemoveMember": func(ctx context.Context) error { return s.RemoveMember(ctx, "r", "alice") },
		"Member":       func(ctx context.Context) error { _, err := s.Member(ctx, "r", "alice"); return err },
		"Members":      func(ctx context.Context) error { _, _, err := s.Members(ctx, "r", "", 10); return err },
		"MemberCount":  func(ctx context.Context) error { _, err := s.MemberCount(ctx, "r"); return err },
		"Append":       func(ctx context.Context) error { _, _, err := s.Append(ctx, msg("r", "alice", "new")); return err },
		"AppendBatch": func(ctx context.Context) error {
			_, err := s.AppendBatch(ctx, []store.Message{msg("r", "alice", "new2")})
			return err
		},
		"History": func(ctx context.Context) error { _, _, err := s.History(ctx, "r", 0, 10); return err },
		"Since":   func(ctx context.Context) error { _, _, err := s.Since(ctx, "r", 0, 10); return err },
		"LastSeq": func(ctx context.Context) error { _, err := s.LastSeq(ctx, "r"); return err },
		"SetReadCursor": func(ctx context.Context) error {
			_, err := s.SetReadCursor(ctx, "r", "alice", 99)
			return err
		},
		"ReadCursor":   func(ctx context.Context) error { _, err := s.ReadCursor(ctx, "r", "alice"); return err },
		"CreateInvite": func(ctx context.Context) error { _, err := s.CreateInvite(ctx, inv); return err },
		"GetInvite":    func(ctx context.Context) error { _, err := s.GetInvite(ctx, "inv"); return err },
		"RevokeInvite": func(ctx context.Context) error { return s.RevokeInvite(ctx, "inv") },
		"Health":       func(ctx context.Context) error { return s.Health(ctx) },
	}
}

// testCancelled: a call whose ctx is already done fails with ctx.Err() and
// changes nothing.
func testCancelled(t *testing.T, s store.Store) {
	createRoom(t, s, "r", false, "alice")
	appendN(t, s, "r", "alice", "m", 2)
	_, err := s.CreateInvite(t.Context(), store.Invite{ID: "inv", Room: "r", CreatedBy: "alice", Expires: time.Now().Add(time.Hour)})
	wantErr(t, "CreateInvite", err, nil)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, call := range calls(s) {
		if err := call(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled ctx: err = %v, want context.Canceled", name, err)
		}
	}
	expired, cancel2 := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel2()
	if _, _, err := s.Append(expired, msg("r", "alice", "late")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Append past its deadline: err = %v, want context.DeadlineExceeded", err)
	}

	// Nothing changed.
	bg := t.Context()
	if last, _ := s.LastSeq(bg, "r"); last != 2 {
		t.Errorf("LastSeq = %d after cancelled appends, want 2", last)
	}
	if _, err := s.GetRoom(bg, "new"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("cancelled CreateRoom created the room: %v", err)
	}
	if n, _ := s.MemberCount(bg, "r"); n != 1 {
		t.Errorf("MemberCount = %d after cancelled membership calls, want 1", n)
	}
	if m, _ := s.Member(bg, "r", "alice"); m.Role != store.RoleOwner {
		t.Errorf("cancelled SetRole changed the role to %q", m.Role)
	}
	if c, _ := s.ReadCursor(bg, "r", "alice"); c != 0 {
		t.Errorf("cancelled SetReadCursor moved the cursor to %d", c)
	}
	if inv, _ := s.GetInvite(bg, "inv"); inv.Revoked {
		t.Error("cancelled RevokeInvite revoked the invite")
	}
}

// testHealthClose: a working store is healthy; a closed one is unavailable
// and says so from every method, and closing again is harmless.
func testHealthClose(t *testing.T, s store.Store) {
	createRoom(t, s, "r", false, "alice")
	wantErr(t, "Health", s.Health(t.Context()), nil)
	wantErr(t, "Close", s.Close(), nil)
	for name, call := range calls(s) {
		if err := call(t.Context()); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s after Close: err = %v, want ErrUnavailable", name, err)
		}
	}
	wantErr(t, "Close again", s.Close(), nil)
}
