package hist

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// SubBits sets the precision: 2^SubBits buckets per power of two.
const SubBits = 7

const subCount = 1 << SubBits

// MaxTrackable is the largest value with a bucket of its own (about 18
// minutes in nanoseconds); larger values land in the last bucket, while Max
// still reports them exactly.
const MaxTrackable = 1<<40 - 1

var numBuckets = index(MaxTrackable) + 1

// Histogram counts int64 values (latencies in nanoseconds, here). The zero
// value is not usable; call New.
type Histogram struct {
	counts   []uint64
	total    uint64
	min, max int64
	sum      float64
}

// New returns an empty histogram.
func New() *Histogram {
	return &Histogram{counts: make([]uint64, numBuckets), min: math.MaxInt64}
}

// index maps a non-negative value to its bucket. Values below subCount map
// to themselves; above, shift drops all but the top SubBits+1 bits, and
// the bucket is shift*subCount plus those top bits.
func index(v int64) int {
	u := uint64(v)
	shift := bits.Len64(u) - 1 - SubBits
	if shift < 0 {
		shift = 0
	}
	return shift<<SubBits + int(u>>uint(shift))
}

// bounds returns the lowest and highest value that map to bucket i.
func bounds(i int) (lo, hi int64) {
	if i < 2*subCount {
		return int64(i), int64(i)
	}
	shift := i>>SubBits - 1
	top := int64(i - shift<<SubBits) // in [subCount, 2*subCount)
	lo = top << uint(shift)
	return lo, lo + 1<<uint(shift) - 1
}

// Record counts one value. Negative values count as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	b := v
	if b > MaxTrackable {
		b = MaxTrackable
	}
	h.counts[index(b)]++
	h.total++
	h.sum += float64(v)
	if v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest recorded value, exactly; 0 when empty.
func (h *Histogram) Max() int64 { return h.max }

// Min is the smallest recorded value, exactly; 0 when empty.
func (h *Histogram) Min() int64 {
	if h.total == 0 {
		return 0
	}
	return h.min
}

// Mean is the exact mean of the recorded values; 0 when empty.
func (h *Histogram) Mean() float64 {
	if h.total == 0 {
		return 0
	}
	return h.sum / float64(h.total)
}

// Quantile returns the value at quantile q in [0, 1]: the highest value of
// the bucket holding the ceil(q*Count())-th smallest value (the smallest
// value for q = 0), capped at Max. It returns 0 when empty.
func (h *Histogram) Quantile(q float64) int64 {
	if h.total == 0 {
		return 0
	}
	q = math.Max(0, math.Min(1, q))
	rank := uint64(math.Ceil(q * float64(h.total)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bounds(i)
			return min(hi, h.max)
		}
	}
	return h.max
}

// Merge adds every value counted in o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	if o.total > 0 {
		h.min = min(h.min, o.min)
		h.max = max(h.max, o.max)
	}
}

// wire is the JSON form: only the non-empty buckets, as [index, count].
type wire struct {
	SubBits int         `json:"sub_bits"`
	Total   uint64      `json:"total"`
	Min     int64       `json:"min"`
	Max     int64       `json:"max"`
	Sum     float64     `json:"sum"`
	Buckets [][2]uint64 `json:"buckets"`
}

// MarshalJSON writes the histogram compactly, so load workers can send
// theirs to the controller to be merged.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	w := wire{SubBits: SubBits, Total: h.total, Min: h.Min(), Max: h.max, Sum: h.sum, Buckets: [][2]uint64{}}
	for i, c := range h.counts {
		if c != 0 {
			w.Buckets = append(w.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if w.SubBits != SubBits {
		return fmt.Errorf("hist: sub_bits %d, this build uses %d", w.SubBits, SubBits)
	}
	*h = *New()
	var n uint64
	for _, b := range w.Buckets {
		if b[0] >= uint64(numBuckets) {
			return fmt.Errorf("hist: bucket %d out of range", b[0])
		}
		h.counts[b[0]] += b[1]
		n += b[1]
	}
	if n != w.Total {
		return errors.New("hist: bucket counts do not add up to total")
	}
	h.total, h.sum, h.max = w.Total, w.Sum, w.Max
	if w.Total > 0 {
		h.min = w.Min
	}
	return nil
}
