package bufpool

import (
	"testing"
)

func TestGetCapacityAndReuse(t *testing.T) {
	for _, n := range []int{0, 1, 256, 257, 5000, 1 << 20, 5 << 20} {
		b := Get(n)
		if len(b) != 0 || cap(b) < n {
			t.Fatalf("Get(%d): len %d cap %d", n, len(b), cap(b))
		}
		Put(b)
	}
}

func TestAppendGrowsAcrossClasses(t *testing.T) {
	var b []byte
	want := 0
	for i := 0; i < 100; i++ {
		chunk := make([]byte, 1000)
		for j := range chunk {
			chunk[j] = byte(i)
		}
		b = Append(b, chunk)
		want += 1000
	}
	if len(b) != want {
		t.Fatalf("len %d, want %d", len(b), want)
	}
	for i := 0; i < 100; i++ {
		if b[i*1000] != byte(i) || b[i*1000+999] != byte(i) {
			t.Fatalf("chunk %d corrupted", i)
		}
	}
	Put(b)
}

func TestGetPutAllocatesNothingWhenWarm(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	Put(Get(100))
	allocs := testing.AllocsPerRun(1000, func() { Put(Get(100)) })
	// sync.Pool may drop items at a GC, and drops a quarter of them at
	// random under -race; boxing a slice header would cost one per call.
	if allocs > 0.5 {
		t.Fatalf("Get+Put: %.2f allocs per call, want ~0", allocs)
	}
}

func BenchmarkGetPut(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Put(Get(1000))
	}
}
