package ticker

import (
	"time"

	"github.com/pgwerk/werkcron/internal/testsignal"
)

// TestSignals are events of the loop that a test waits for instead of sleeping. Each
// does nothing unless the test called Init (on the signal, or on all of them) before
// the ticker runs.
type TestSignals struct {
	// Promoted: this ticker became primary.
	Promoted testsignal.TestSignal[struct{}]
	// Planned: a planning batch committed; the value is how many rows it planned.
	Planned testsignal.TestSignal[int]
	// Ticked: a tick statement committed; the value is how many schedules it decided.
	Ticked testsignal.TestSignal[int]
	// OutcomesIdle: the recorder found nothing awaiting an outcome, and stops looking
	// until it is told of a job (an enqueue, a notification).
	OutcomesIdle testsignal.TestSignal[struct{}]
	// Idle: the primary goes to sleep with everything due up to this instant (its
	// estimate of the database's clock) decided and every planning batch it owed done.
	// A test that must see that nothing happened by some instant waits for an Idle
	// past it.
	Idle testsignal.TestSignal[time.Time]
	// HealthChanged: this ticker wrote a change of the named schedule's health.
	HealthChanged testsignal.TestSignal[string]
}

// Init turns every signal on for test t.
func (s *TestSignals) Init(t testsignal.TB) {
	s.Promoted.Init(t)
	s.Planned.Init(t)
	s.Ticked.Init(t)
	s.OutcomesIdle.Init(t)
	s.Idle.Init(t)
	s.HealthChanged.Init(t)
}
