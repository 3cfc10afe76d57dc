package fanout

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/chatframe"
	"github.com/switchboard-chat/switchboard/bench/internal/peer"
	"github.com/switchboard-chat/switchboard/bench/internal/runner"
	"github.com/switchboard-chat/switchboard/bench/internal/runnertest"
)

// TestWorkerAgainstPeerHub runs one fanout worker in-process against the
// gorilla peer's room hub: 3 rooms × 4 members and 2 publishers, every
// member must see every seq of its room once.
func TestWorkerAgainstPeerHub(t *testing.T) {
	addr, _ := runnertest.Peer(t, peer.Gorilla)
	ctx := context.Background()
	const rooms = 3
	var ids []string
	for i := range rooms {
		ids = append(ids, roomName("t", i, rooms))
	}
	if err := chatframe.CreateRooms(ctx, "ws://"+addr+"/ws", ids); err != nil {
		t.Fatal(err)
	}

	p := runnertest.Start[*report](t, func(stdin io.Reader, stdout io.Writer) error {
		return RunWorker([]string{"--src", "127.0.0.2", "--url", "ws://" + addr + "/ws", "--room", "t", "--rooms", "3",
			"--total-publishers", "2", "--member-lo", "0", "--member-hi", "12", "--publishers", "0,1", "--rate", "200",
			"--warmup", "100ms", "--duration", "400ms", "--drain", "2s"}, stdin, stdout)
	})
	if j := p.Next(runner.EvReady); j.Members != 12 || j.Publishers != 2 || j.LastError != "" {
		t.Fatalf("ready report %+v", j)
	}
	p.Send(runner.Command{Op: runner.OpGo, StartUnixNano: time.Now().Add(50 * time.Millisecond).UnixNano()})
	fin := p.Next(runner.EvFinished)
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
	p.Send(runner.Command{Op: runner.OpQuit})
	p.Next(runner.EvBye)
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
}
