package echo

import "testing"

func TestSendTimesFIFO(t *testing.T) {
	var c econn
	next := 0 // the index the next pop must return
	pop := func() {
		t.Helper()
		got, ok := c.pop()
		if !ok || got != timeOf(next) {
			t.Fatalf("pop = %v, %v; want %v", got, ok, timeOf(next))
		}
		next++
	}
	for i := range 5000 {
		c.push(timeOf(i))
		if i%3 == 2 {
			// Two pops for every three pushes: a growing backlog that pop
			// must compact without losing order.
			pop()
			pop()
		}
	}
	for c.inflight() > 0 {
		pop()
	}
	if next != 5000 {
		t.Fatalf("popped %d, pushed 5000", next)
	}
	if _, ok := c.pop(); ok {
		t.Fatal("pop of an empty queue succeeded")
	}
}
