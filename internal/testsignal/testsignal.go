// Package testsignal lets a test wait for production code to reach a point, instead of
// sleeping and hoping, or polling the database for a side effect.
//
// Production code keeps a struct of signals and raises them where something worth
// waiting for happens. A signal does nothing unless a test initialised it, so the zero
// value costs a nil check and the struct needs no setup outside tests:
//
//	// TestSignals are for tests only; see internal/testsignal.
//	type TestSignals struct {
//		Elected  testsignal.TestSignal[struct{}]  // became the primary
//		Ticked   testsignal.TestSignal[time.Time] // committed a tick, at its tick time
//	}
//
//	type Ticker struct {
//		testSignals TestSignals
//		// ...
//	}
//
//	func (tk *Ticker) tick(ctx context.Context) {
//		// ...
//		tk.testSignals.Ticked.Signal(at)
//	}
//
// A test initialises the signals it needs before it starts the code under test, then
// waits for them:
//
//	tk := newTicker(...)
//	tk.testSignals.Elected.Init(t)
//	tk.testSignals.Ticked.Init(t)
//	go tk.Run(ctx)
//
//	tk.testSignals.Elected.WaitOrTimeout()
//	at := tk.testSignals.Ticked.WaitOrTimeout()
//	tk.testSignals.Ticked.RequireEmpty() // exactly one tick so far
//
// Init must happen before the goroutines that signal start (as above), not while they
// run: Signal reads what Init wrote without a lock, and the race detector reports a
// test that breaks this rule.
//
// Each signal buffers up to [BufferSize] values, so Signal never blocks the code under
// test. When the buffer is full, the value is dropped and counted, and the next
// WaitOrTimeout, WaitC or RequireEmpty fails the test saying so: a test that counts
// signals would otherwise see a wrong count, or wait for a value that never comes.
// Production code may keep signalling after the test stopped waiting (a ticker that
// ticks on until it is stopped): nothing fails then unless the test waits again.
// Signal never calls the test, so signalling after the test ended is harmless.
package testsignal

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
)

// TB is what a signal needs of the test: the methods of testing.TB it calls. An
// interface of its own, so that production code holding signals does not link the
// testing package into its binary.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// BufferSize is how many signals may be pending before Signal drops them.
const BufferSize = 50

// DefaultTimeout is how long WaitOrTimeout waits. It is long because a slow machine
// running the race detector and parallel tests may take seconds for what normally
// takes milliseconds; a test only waits that long when it is already failing.
const DefaultTimeout = 10 * time.Second

// TestSignal is one signal with values of type T (struct{} when only the event
// matters). Its zero value is an uninitialised signal, on which Signal does nothing.
// Copies made after Init share the buffer, so a struct of signals may be initialised
// and then passed by value (in options, say).
type TestSignal[T any] struct {
	internal *signal[T]
}

type signal[T any] struct {
	t        TB
	ch       chan T
	initAt   site          // where the test called Init, to name the signal in failures
	timeout  time.Duration // DefaultTimeout; shorter in this package's own tests
	dropped  atomic.Int64  // values Signal could not buffer
	reported atomic.Bool   // the test was failed for dropped values already
}

// Init turns the signal on for test t, with an empty buffer; calling it again starts
// afresh. Call it before the code that signals starts.
func (s *TestSignal[T]) Init(t TB) {
	t.Helper()
	s.internal = &signal[T]{t: t, ch: make(chan T, BufferSize), initAt: callerSite(1), timeout: DefaultTimeout}
}

// Signal records v for the test that initialised the signal, if any. It never blocks
// and is safe to call from any goroutine; see the package doc for a full buffer.
func (s *TestSignal[T]) Signal(v T) {
	if s == nil || s.internal == nil {
		return
	}
	select {
	case s.internal.ch <- v:
	default:
		s.internal.dropped.Add(1)
	}
}

// WaitOrTimeout returns the next value signalled, waiting up to DefaultTimeout for it,
// and fails the test (t.Fatalf, so call it from the test's goroutine) if none comes.
func (s *TestSignal[T]) WaitOrTimeout() T {
	in := s.mustInit("WaitOrTimeout")
	in.t.Helper()
	in.failIfDropped(in.t.Fatalf)
	timer := time.NewTimer(in.timeout)
	defer timer.Stop()
	select {
	case v := <-in.ch:
		return v
	case <-timer.C:
		in.t.Fatalf("testsignal: no signal within %s on %s, waited for at %s", in.timeout, in.name(), callerSite(1))
		panic("unreachable: Fatalf returned")
	}
}

// WaitC returns the channel the signal's values arrive on, for a select with other
// channels or a timeout of the test's own. It fails the test (t.Errorf, so any
// goroutine may call it) if values were dropped.
func (s *TestSignal[T]) WaitC() <-chan T {
	in := s.mustInit("WaitC")
	in.t.Helper()
	in.failIfDropped(in.t.Errorf)
	return in.ch
}

// RequireEmpty fails the test (t.Fatalf) if a value is pending or values were dropped:
// for checking that something happened exactly as often as the test waited for it.
func (s *TestSignal[T]) RequireEmpty() {
	in := s.mustInit("RequireEmpty")
	in.t.Helper()
	in.failIfDropped(in.t.Fatalf)
	select {
	case v := <-in.ch:
		in.t.Fatalf("testsignal: %s has a signal pending (%d in all), want none: %+v", in.name(), len(in.ch)+1, v)
	default:
	}
}

func (s *TestSignal[T]) mustInit(method string) *signal[T] {
	if s == nil || s.internal == nil {
		// No test to fail: this is a mistake in the test itself.
		panic(fmt.Sprintf("testsignal: %s on a TestSignal[%s] that was not initialised: call Init(t) first", method, typeName[T]()))
	}
	return s.internal
}

func (in *signal[T]) failIfDropped(fail func(format string, args ...any)) {
	in.t.Helper()
	if n := in.dropped.Load(); n > 0 && in.reported.CompareAndSwap(false, true) {
		fail("testsignal: %s dropped %d signal(s) because its buffer of %d was full: the test must wait for signals as they come (or not Init one it does not wait for)",
			in.name(), n, BufferSize)
	}
}

// name names the signal by where the test initialised it: the source line usually
// spells out which field it is.
func (in *signal[T]) name() string {
	return fmt.Sprintf("TestSignal[%s] initialised at %s", typeName[T](), in.initAt)
}

func typeName[T any]() string { return reflect.TypeFor[T]().String() }

// site is a line of source code: where a test initialised or waited for a signal.
type site struct {
	file string
	line int
}

// callerSite returns the site of the call skip frames above callerSite's caller.
func callerSite(skip int) site {
	_, file, line, ok := runtime.Caller(skip + 1)
	if !ok {
		return site{file: "?"}
	}
	return site{file, line}
}

// String is file:line and, when the file is readable (it is under `go test` without
// -trimpath), that line's source text, which usually names the signal's field. It
// reads the file, so it is for failure messages only.
func (s site) String() string {
	where := fmt.Sprintf("%s:%d", filepath.Base(s.file), s.line)
	src, err := os.ReadFile(s.file)
	if err != nil {
		return where
	}
	lines := strings.Split(string(src), "\n")
	if s.line < 1 || s.line > len(lines) {
		return where
	}
	return fmt.Sprintf("%s (%s)", where, strings.TrimSpace(lines[s.line-1]))
}
