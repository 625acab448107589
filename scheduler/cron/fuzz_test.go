package cron

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cronSeeds is every input in the package documentation's account of
// cronexpr's bugs (see the top of guard_test.go for the tests that hold
// each), plus a few of our own.
var cronSeeds = []string{
	// Fields and descriptors.
	"30 5 4 * * *", "0 30 9 * * * 2027", "0 0 0 1 1 * 2100", "* * * * * * * *",
	"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly",
	"@reboot", "@midnight", "@DAILY", "@daily 2027",
	"? ? ? ? ?", "? * * * * *", "0 0 0 1 1 * ?", "0 0 0 1 1 * 2027 2028", "0 0 */2 * 1",
	"0 0 1 1 *", "0\t0\n1\r1\f*",
	// The bug table.
	"5-1 * * * *", "0 5-1 * * *", "0 0 1 5-1 *", "0 0 1 DEC-JAN *", "0 0 1 1-05 *",
	"0 0 5-1 * *", "0 0 * * 5-1", "5-1,7 * * * *",
	"0 0 * * 5-7", "0 0 * * 6-7", "0 0 * * 1-7", "0 0 * * SAT-SUN", "0 0 * * fri-mon",
	"0 0 * * 0-7", "0 0 1 01 *", "0 0 1 05 *", "0 0 1 01-03 *",
	"0 0 * * 01", "0 0 * * 05",
	"1,,2 * * * *", ",1 * * * *", "1, * * * *",
	"* * 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *",
	strings.Repeat("1,", 2048) + "1 * * * *",
	// Handled correctly already.
	"60 * * * *", "0 24 * * *", "0 0 32 * *", "0 0 0 * *", "0 0 1 13 *", "0 0 1 0 *",
	"0 0 * * 8", "*/0 * * * *", "3/0 * * * *", "", "   ", "* * * *", "a b c d e", "*/60 * * * *",
	// Fuzz crashers.
	"10-0 0 1 mAY fri", "0 0 1 01 0",
	// Where Parse and the oracle once disagreed on what is valid: steps
	// beyond the span of '*', L/W/# in a '*'-led day field (the first a
	// crasher), nine and ten digits, MaxLen.
	"0 0 *,L 1 0", "0 0 * * *,5L", "0 0 */2,15W * *", "*/59 * * * *", "0 0 * * */6", "0 0 * * */7", "0 0 1 */12 *",
	"0 0 0 1 1 * */129", "0 0 0 1 1 * */130", "0 0 0000000001 * *", "0 0 1 1 000000001",
	strings.Repeat(" ", MaxLen-9) + "* * * * *", strings.Repeat(" ", MaxLen-8) + "* * * * *",
	// DST.
	"30 2 * * *", "0 * * * *", "*/15 * * * *", "30 1 * * *", "0 2 * * *",
	// Ours.
	"0 0 L * *", "0 0 LW * *", "0 0 15W * *", "0 0 * * 5L", "0 0 * * FRI#3", "0 0 */2 * 5L",
	"*/7 * */2 * 1-5", "0 0 29 2 *", "0 * 2 8 3 * 2026", "59 59 23 31 12 * 2099",
	// Once handed to cronexpr as an empty field ("internal error").
	"0 0 * * 7/2", "0 0 1 * 7/1", "0 0 * * 1,7/2",
	"0 08-17 * * 1-5", "0 0 L,* * 1", "0 0 * * SUNL", "0 0 000000001 * *",
}

var fuzzZones = []string{"UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kolkata"}

// FuzzParseCronNext: Parse and Next never panic, never reach a guard the
// validator should make unreachable (a recovered panic, cronexpr rejecting
// our canonical expression or answering in the past: see guardHook),
// errors are *Error, and Next always moves forward. And Parse agrees with
// the oracle (oracle_test.go), which reads the rules of the package
// documentation on its own: each accepts what the other accepts (an
// expression Parse refuses as never firing must not fire in the span the
// oracle knows), they agree on Fixed, and Next's first answer is the
// oracle's, looking a day ahead.
func FuzzParseCronNext(f *testing.F) {
	for _, s := range cronSeeds {
		f.Add(s, int64(0))
	}
	f.Add("30 2 * * *", time.Date(2026, 3, 8, 6, 59, 0, 0, time.UTC).Unix())
	f.Add("*/15 * * * *", time.Date(2026, 11, 1, 5, 50, 0, 0, time.UTC).Unix())
	zones := make([]*oZone, len(fuzzZones))
	for i, z := range fuzzZones {
		zones[i] = oracleZone(f, z)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	f.Fuzz(func(t *testing.T, expr string, at int64) {
		z := zones[(len(expr)+int(at&7))%len(zones)]
		loc := z.loc
		c, err := parseWatched(t, expr, loc)
		o, oerr := oracleParse(expr)
		q := strconv.Quote(truncate(expr, 100)) // for messages
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%s): %v is not a *Error wrapping ErrInvalid", q, err)
			}
			if len(err.Error()) > 300 {
				t.Fatalf("message of %d bytes", len(err.Error()))
			}
			switch {
			case oerr != nil: // both refuse
			case errors.Is(err, ErrNeverFires):
				if fire, ok := oracleEverFires(o, z); ok {
					t.Fatalf("Parse(%s) in %s: %v; the oracle fires at %s", q, loc, err, fire.at.In(loc).Format(time.RFC3339))
				}
			default:
				t.Fatalf("Parse(%s) refuses what the oracle accepts: %v", q, err)
			}
			return
		}
		if oerr != nil {
			t.Fatalf("Parse(%s) accepts what the oracle refuses: %v", q, oerr)
		}
		if c.Fixed() != o.fixed {
			t.Fatalf("%s: Fixed() = %v; the oracle says %v", q, c.Fixed(), o.fixed)
		}
		// Start within ~5 years of 2026, seconds resolution.
		x := time.Unix(base+at%(5*366*86400), 0)
		want, found := o.next(z, x, 24*time.Hour)
		got, ok := c.Next(x)
		if found && (!ok || !got.Equal(want.at)) || !found && ok && got.Before(x.Add(24*time.Hour)) {
			t.Fatalf("%s in %s: Next(%s) = %s, %v; oracle: %s, %v", q, loc, x.In(loc), got, ok, want.at.In(loc), found)
		}
		for range 4 {
			y, ok := c.Next(x)
			if !ok {
				return
			}
			if !y.After(x) {
				t.Fatalf("%s in %s: Next(%s) = %s", q, loc, x, y)
			}
			x = y
		}
	})
}
