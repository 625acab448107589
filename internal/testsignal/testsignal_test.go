package testsignal

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTB records failures instead of failing the real test, so that the failing paths
// can be checked. Fatalf ends the goroutine, as testing's does; run calls fn on a
// goroutine of its own for that.
type fakeTB struct {
	testing.TB // unimplemented methods panic, which would show a missing one
	mu         sync.Mutex
	errors     []string
	fatal      bool
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	f.mu.Lock()
	f.fatal = true
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) run(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// requireFailed fails t unless f recorded exactly one failure containing each of want.
func (f *fakeTB) requireFailed(t *testing.T, fatal bool, want ...string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errors) != 1 || f.fatal != fatal {
		t.Fatalf("failures %q (fatal %v), want one (fatal %v)", f.errors, f.fatal, fatal)
	}
	t.Logf("failed as expected: %s", f.errors[0])
	for _, w := range want {
		if !strings.Contains(f.errors[0], w) {
			t.Errorf("failure %q does not mention %q", f.errors[0], w)
		}
	}
}

func (f *fakeTB) requirePassed(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errors) > 0 {
		t.Fatalf("failures %q, want none", f.errors)
	}
}

// What production code holds: a struct of signals it may never see initialised.
type signals struct {
	Started TestSignal[struct{}]
	Ticked  TestSignal[int]
}

func TestZeroValueIsANoOp(t *testing.T) {
	var s signals
	for i := range 2 * BufferSize {
		s.Ticked.Signal(i) // must neither block nor panic
	}
	s.Started.Signal(struct{}{})
	var nilSig *TestSignal[int]
	nilSig.Signal(1)
}

func TestWaitOrTimeoutInOrder(t *testing.T) {
	var s signals
	s.Started.Init(t)
	s.Ticked.Init(t)
	go func() {
		s.Started.Signal(struct{}{})
		for i := range 3 {
			s.Ticked.Signal(i)
		}
	}()
	s.Started.WaitOrTimeout()
	for want := range 3 {
		if got := s.Ticked.WaitOrTimeout(); got != want {
			t.Fatalf("signal %d, want %d", got, want)
		}
	}
	s.Ticked.RequireEmpty()
	s.Started.RequireEmpty()
}

func TestWaitC(t *testing.T) {
	var s TestSignal[string]
	s.Init(t)
	go s.Signal("hello")
	select {
	case v := <-s.WaitC():
		if v != "hello" {
			t.Fatalf("got %q", v)
		}
	case <-time.After(DefaultTimeout):
		t.Fatal("no signal")
	}
}

// Production code signals from its own goroutines, many at once.
func TestConcurrentSignals(t *testing.T) {
	var s TestSignal[int]
	s.Init(t)
	const goroutines, each = 10, 5 // BufferSize in all, so none may be dropped
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				s.Signal(g*each + i)
			}
		})
	}
	seen := map[int]bool{}
	for range goroutines * each {
		seen[s.WaitOrTimeout()] = true
	}
	wg.Wait()
	if len(seen) != goroutines*each {
		t.Fatalf("%d distinct signals, want %d", len(seen), goroutines*each)
	}
	s.RequireEmpty()
}

// A copy made after Init (options passed by value) signals the same test.
func TestCopyAfterInitShares(t *testing.T) {
	var s signals
	s.Ticked.Init(t)
	copied := s
	copied.Ticked.Signal(7)
	if got := s.Ticked.WaitOrTimeout(); got != 7 {
		t.Fatalf("got %d, want 7", got)
	}
}

func TestWaitOrTimeoutFailsNamingTheSignal(t *testing.T) {
	f := &fakeTB{}
	var s signals
	s.Ticked.Init(f)
	s.Ticked.internal.timeout = 10 * time.Millisecond
	f.run(func() { s.Ticked.WaitOrTimeout() })
	f.requireFailed(t, true, "no signal within 10ms", "TestSignal[int]", "s.Ticked.Init(f)", "s.Ticked.WaitOrTimeout()")
}

func TestRequireEmptyFailsOnAPendingSignal(t *testing.T) {
	f := &fakeTB{}
	var s TestSignal[int]
	s.Init(f)
	f.run(s.RequireEmpty)
	f.requirePassed(t)
	s.Signal(42)
	s.Signal(43)
	f.run(s.RequireEmpty)
	f.requireFailed(t, true, "pending (2 in all)", "42")
}

// A full buffer drops values; the test learns of it at its next wait, not by a wrong
// count or a timeout.
func TestOverflowFailsTheNextWait(t *testing.T) {
	for _, tc := range []struct {
		name  string
		wait  func(*TestSignal[int])
		fatal bool
	}{
		{"WaitOrTimeout", func(s *TestSignal[int]) { s.WaitOrTimeout() }, true},
		{"WaitC", func(s *TestSignal[int]) { s.WaitC() }, false},
		{"RequireEmpty", func(s *TestSignal[int]) { s.RequireEmpty() }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTB{}
			var s TestSignal[int]
			s.Init(f)
			for i := range BufferSize + 3 {
				s.Signal(i) // must not block
			}
			f.run(func() { tc.wait(&s) })
			f.requireFailed(t, tc.fatal, "dropped 3 signal(s)", fmt.Sprint("buffer of ", BufferSize, " was full"))
		})
	}
}

// Overflow after the test's last wait fails nothing: a ticker may tick on until it is
// stopped.
func TestOverflowWithoutWaitIsFine(t *testing.T) {
	f := &fakeTB{}
	var s TestSignal[int]
	s.Init(f)
	s.Signal(1)
	f.run(func() { s.WaitOrTimeout() })
	for i := range 2 * BufferSize {
		s.Signal(i)
	}
	f.requirePassed(t)
}

// Signalling after the test that initialised the signal has ended must not touch its
// testing.TB, which would panic.
func TestSignalAfterTestEnded(t *testing.T) {
	var s TestSignal[int]
	t.Run("sub", func(t *testing.T) { s.Init(t) })
	for i := range 2 * BufferSize {
		s.Signal(i)
	}
}

func TestInitAgainStartsAfresh(t *testing.T) {
	var s TestSignal[int]
	s.Init(t)
	s.Signal(1)
	s.Init(t)
	s.RequireEmpty()
}

func TestWaitWithoutInitPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "not initialised") {
			t.Fatalf("recovered %v, want a panic about Init", r)
		}
	}()
	var s TestSignal[int]
	s.WaitOrTimeout()
}
