package ticker

import (
	"sync/atomic"
	"time"
)

// LatenessBuckets are the upper bounds of Histogram's buckets.
var LatenessBuckets = []time.Duration{
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// Histogram counts durations into LatenessBuckets (plus one bucket above them), lock
// free, in the shape Prometheus expects.
type Histogram struct {
	counts [14]atomic.Int64 // len(LatenessBuckets)+1
	sum    atomic.Int64     // nanoseconds
}

// Observe records one duration (negative counts as zero).
func (h *Histogram) Observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(LatenessBuckets) && d > LatenessBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// Snapshot returns cumulative counts per bucket (the last is +Inf, i.e. the total) and
// the sum of all observations.
func (h *Histogram) Snapshot() (cumulative []int64, sum time.Duration) {
	cumulative = make([]int64, len(h.counts))
	var n int64
	for i := range h.counts {
		n += h.counts[i].Load()
		cumulative[i] = n
	}
	return cumulative, time.Duration(h.sum.Load())
}
