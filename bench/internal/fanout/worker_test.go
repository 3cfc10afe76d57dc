package fanout

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/chatframe"
	"github.com/switchboard-chat/switchboard/bench/internal/peer"
	"github.com/switchboard-chat/switchboard/bench/internal/target"
)

// TestWorkerAgainstPeerHub runs one fanout worker in-process against the
// gorilla peer's room hub: 3 rooms × 4 members and 2 publishers, every
// member must see every seq of its room once.
func TestWorkerAgainstPeerHub(t *testing.T) {
	ports, err := target.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	app := &peer.App{Hub: peer.NewHub(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- peer.Gorilla(ctx, addr, app) }()
	defer func() {
		cancel()
		<-served
	}()
	if err := target.WaitHealthy(ctx, "http://"+addr+"/healthz", 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	const rooms = 3
	var ids []string
	for i := range rooms {
		ids = append(ids, roomName("t", i, rooms))
	}
	if err := chatframe.CreateRooms(ctx, "ws://"+addr+"/ws", ids); err != nil {
		t.Fatal(err)
	}

	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := RunWorker([]string{"--src", "127.0.0.2", "--url", "ws://" + addr + "/ws", "--room", "t", "--rooms", "3",
			"--total-publishers", "2", "--member-lo", "0", "--member-hi", "12", "--publishers", "0,1", "--rate", "200",
			"--warmup", "100ms", "--duration", "400ms", "--drain", "2s"}, inR, outW)
		outW.Close()
		done <- err
	}()
	out := bufio.NewScanner(outR)
	out.Buffer(nil, 16<<20)
	next := func() report {
		t.Helper()
		if !out.Scan() {
			t.Fatalf("worker output ended: %v", out.Err())
		}
		var rep report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	send := func(c command) {
		b, _ := json.Marshal(c)
		if _, err := inW.Write(append(b, '\n')); err != nil {
			t.Fatal(err)
		}
	}
	if j := next(); j.Event != evJoined || j.Members != 12 || j.Publishers != 2 || j.LastError != "" {
		t.Fatalf("joined report %+v", j)
	}
	send(command{Op: opGo, StartUnixNano: time.Now().Add(50 * time.Millisecond).UnixNano()})
	fin := next()
	if fin.Event != evFinished {
		t.Fatalf("report %+v, want finished", fin)
	}
	c := fin.Counts
	// 200/s over 500 ms is 100 publishes; each reaches the 4 members of
	// its room.
	if c.Published < 95 || c.Acks != c.Published || c.PublishErrors != 0 {
		t.Fatalf("published %d, acks %d, errors %d (%s)", c.Published, c.Acks, c.PublishErrors, c.LastPubError)
	}
	if c.DeliveredTotal != 4*c.Acks || c.Gaps != 0 || c.Dups != 0 || c.BadFrames != 0 || c.ConnsLost != 0 {
		t.Fatalf("counts %+v: want %d deliveries, no gap, dup or loss", c, 4*c.Acks)
	}
	if fin.Hist == nil || fin.Hist.Count() != c.Delivered || c.Delivered == 0 {
		t.Fatalf("histogram does not hold the %d deliveries of the window", c.Delivered)
	}
	send(command{Op: opQuit})
	if bye := next(); bye.Event != evBye {
		t.Fatalf("report %+v, want bye", bye)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	inW.Close()
}
