// Package storetest is the conformance suite for store.Store backends. Every
// backend's tests call Run (and RunRetention where the backend trims by
// count), so the room layer can rely on the rules written on the store
// interfaces rather than on one backend.
//
// The suite needs nothing backend-specific: open must return an empty store,
// isolated from every other store it returns (a fresh memory store, a fresh
// PostgreSQL schema, a flushed Redis database), and arrange for it to be
// closed when the test ends (t.Cleanup). Subtests do not run in parallel
// with each other; several use many goroutines against one store.
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/store"
)

// Opener returns a new, empty store for one test and closes it when the test
// ends.
type Opener func(t *testing.T) store.Store

// Run runs the conformance suite against stores from open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Rooms/Create", testCreateRoom},
		{"Rooms/GetNotFound", testGetRoomNotFound},
		{"Rooms/List", testListRooms},
		{"Rooms/ListPagination", testListRoomsPagination},
		{"Members/AddSetRemove", testMembership},
		{"Members/Errors", testMembershipErrors},
		{"Members/Pagination", testMembersPagination},
		{"Messages/AppendSeq", testAppendSeq},
		{"Messages/BodyCopied", testAppendCopiesBody},
		{"Messages/Duplicate", testAppendDuplicate},
		{"Messages/Errors", testMessageErrors},
		{"Messages/AppendBatch", testAppendBatch},
		{"Messages/History", testHistory},
		{"Messages/HistoryWalk", testHistoryWalk},
		{"Messages/Since", testSince},
		{"Messages/Empty", testEmptyRoom},
		{"Messages/ConcurrentAppend", testConcurrentAppend},
		{"Messages/ConcurrentDuplicate", testConcurrentDuplicate},
		{"ReadCursors/Monotonic", testReadCursor},
		{"ReadCursors/Concurrent", testReadCursorConcurrent},
		{"Invites", testInvites},
		{"Invites/Errors", testInviteErrors},
		{"Context/Cancelled", testCancelled},
		{"Health/Close", testHealthClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// createRoom creates a room owned by owner or fails the test.
func createRoom(t testing.TB, s store.Store, id string, private bool, owner string) store.Room {
	t.Helper()
	r, err := s.CreateRoom(t.Context(), store.Room{ID: id, Private: private, CreatedBy: owner})
	if err != nil {
		t.Fatalf("CreateRoom(%q): %v", id, err)
	}
	return r
}

// msg is a message from user with client id id and a body naming both.
func msg(room, from, id string) store.Message {
	return store.Message{Room: room, From: from, ID: id, Body: json.RawMessage(fmt.Sprintf(`{"text":%q}`, from+"/"+id))}
}

// appendN appends n messages from user to room, ids prefix0..prefix(n-1),
// and returns them as stored.
func appendN(t testing.TB, s store.Store, room, from, prefix string, n int) []store.Message {
	t.Helper()
	out := make([]store.Message, 0, n)
	for i := range n {
		m, dup, err := s.Append(t.Context(), msg(room, from, fmt.Sprintf("%s%d", prefix, i)))
		if err != nil || dup {
			t.Fatalf("Append %s%d to %q: dup=%v err=%v", prefix, i, room, dup, err)
		}
		out = append(out, m)
	}
	return out
}

// wantErr fails the test unless errors.Is(err, want) (want nil: err nil).
func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

// checkTime fails the test unless ts is set, UTC, at microsecond precision
// and near now.
func checkTime(t testing.TB, what string, ts time.Time) {
	t.Helper()
	if ts.IsZero() || ts.Location() != time.UTC || ts.Nanosecond()%1000 != 0 {
		t.Fatalf("%s = %v: want a UTC time at microsecond precision", what, ts)
	}
	if d := time.Since(ts); d < -time.Minute || d > time.Minute {
		t.Fatalf("%s = %v: not near now", what, ts)
	}
}

// seqs lists the seqs of msgs.
func seqs(msgs []store.Message) []uint64 {
	out := make([]uint64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Seq
	}
	return out
}

// seqRange is lo..hi inclusive (empty when hi < lo).
func seqRange(lo, hi uint64) []uint64 {
	var out []uint64
	for s := lo; s <= hi && hi != 0; s++ {
		out = append(out, s)
	}
	return out
}

// sameMessage fails the test unless got is want as stored.
func sameMessage(t testing.TB, what string, got, want store.Message) {
	t.Helper()
	if got.Room != want.Room || got.Seq != want.Seq || got.ID != want.ID || got.From != want.From ||
		string(got.Body) != string(want.Body) || !got.TS.Equal(want.TS) {
		t.Fatalf("%s: got %+v (body %s), want %+v (body %s)", what, got, got.Body, want, want.Body)
	}
}
