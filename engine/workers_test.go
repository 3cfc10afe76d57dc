package engine

import (
	"testing"
)

func TestTaskQueueParksWhenFullAndKeepsPerConnOrder(t *testing.T) {
	q := &taskQueue{ring: make([]task, 2), wake: make(chan struct{}, 1)}
	a, b := &Conn{id: 1}, &Conn{id: 2}
	msg := func(c *Conn, s string) task { return task{c: c, kind: taskMessage, msg: []byte(s)} }
	if !q.push(msg(a, "a1")) || !q.push(msg(b, "b1")) {
		t.Fatal("push refused below capacity")
	}
	if q.push(msg(a, "a2")) {
		t.Fatal("push accepted past capacity")
	}
	q.park(a, msg(a, "a2"))
	// While a is parked, even a connection with no parked message waits its
	// turn: FIFO fairness across connections.
	if q.push(msg(b, "b2")) {
		t.Fatal("push accepted while another connection is parked")
	}
	q.park(b, msg(b, "b2"))
	// A close for a parked connection must come after its parked message.
	q.push(task{c: a, kind: taskClose})

	var order []string
	for i := 0; i < 5; i++ {
		tk, _, ok := q.pop()
		if !ok {
			t.Fatal("pop failed")
		}
		if tk.kind == taskClose {
			order = append(order, "close-a")
			continue
		}
		order = append(order, string(tk.msg))
	}
	want := []string{"a1", "b1", "a2", "close-a", "b2"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
}

func TestTaskQueueOpenAndCloseNeverRefused(t *testing.T) {
	q := &taskQueue{ring: make([]task, 1), wake: make(chan struct{}, 1)}
	for i := 0; i < 10; i++ {
		if !q.push(task{c: &Conn{id: uint64(i)}, kind: taskOpen}) {
			t.Fatalf("open task %d refused", i)
		}
	}
	if q.Len() != 10 {
		t.Fatalf("Len = %d, want 10", q.Len())
	}
}
