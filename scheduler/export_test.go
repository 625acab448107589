package scheduler

import "github.com/pgwerk/werkcron/internal/ticker"

// TickerSignals are t's test signals (see internal/testsignal), for this package's
// tests: the public Ticker has none.
func TickerSignals(t *Ticker) *ticker.TestSignals { return &t.t.Signals }
