package cron

// The oracle: a second reading of the cron rules (the package documentation),
// written from the rules and not from cron.go. It shares no code with Parse
// or Next -- no parseField, parseElem, value, parseSpecial, canon, masks,
// wallAt, zone segments or cronexpr -- so that a misreading in one of them is
// not silently repeated in the other. It is slow and plain on purpose: it
// reads every field into a set or a predicate, then walks real time a minute
// at a time and asks of each instant what the rules ask.

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	oracleSeed = flag.Uint64("cron.seed", 20260308, "seed of TestCronOracle's generator")
	oracleN    = flag.Int("cron.oracle", oracleMin, "comparisons TestCronOracle makes (at least "+strconv.Itoa(oracleMin)+")")
)

// oracleMin is the number of Next-versus-oracle comparisons TestCronOracle
// always makes, with or without -race or -short.
const oracleMin = 3000

// oExpr is an expression as the oracle reads it.
type oExpr struct {
	sec, min, hour, month, year oSet
	dom, dow                    oDays
	fixed                       bool // no '*' in the minute and hour fields
	special                     bool // uses L, W or #
}

// oSet is a set of small integers: v is in s if s[v].
type oSet []bool

// oDays is a day-of-month or day-of-week field: the days any of its
// elements matches.
type oDays struct {
	star    bool // written starting with '*' or as '?': unrestricted for the day rule
	special bool // has an L, W or # element
	elems   []func(y int, m time.Month, d int) bool
}

func (f oDays) match(y int, m time.Month, d int) bool {
	for _, e := range f.elems {
		if e(y, m, d) {
			return true
		}
	}
	return false
}

// oField describes a numeric field: values lo..hi are accepted, '*' and
// "N/S" run up to last (day of week: 7 is accepted, but '*' ends at 6).
type oField struct {
	lo, hi, last int
	names        map[string]int
	weekday      bool
}

var (
	oSecond = oField{lo: 0, hi: 59, last: 59}
	oMinute = oField{lo: 0, hi: 59, last: 59}
	oHour   = oField{lo: 0, hi: 23, last: 23}
	oDom    = oField{lo: 1, hi: 31, last: 31}
	oMonth  = oField{lo: 1, hi: 12, last: 12, names: oNames(1, 12, func(v int) string { return time.Month(v).String() })}
	oDow    = oField{lo: 0, hi: 7, last: 6, weekday: true, names: oNames(0, 7, func(v int) string { return time.Weekday(v).String() })}
	oYear   = oField{lo: 1970, hi: 2099, last: 2099}
)

// oNames maps the names of values first..first+n-1 (name(v), in lower case)
// and their first three letters to the values.
func oNames(first, n int, name func(int) string) map[string]int {
	m := make(map[string]int)
	for v := first; v < first+n; v++ {
		full := strings.ToLower(name(v))
		m[full], m[full[:3]] = v, v
	}
	return m
}

// oracleParse reads expr by the rules. It refuses what the rules refuse,
// and the fuzz target holds Parse to accepting exactly what it accepts.
func oracleParse(expr string) (*oExpr, error) {
	if len(expr) > MaxLen {
		return nil, fmt.Errorf("oracle: %d bytes, more than %d", len(expr), MaxLen)
	}
	f := strings.Fields(expr)
	if len(f) == 1 && strings.HasPrefix(f[0], "@") {
		five, ok := map[string]string{
			"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
			"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@hourly": "0 * * * *",
		}[strings.ToLower(f[0])]
		if !ok {
			return nil, fmt.Errorf("oracle: unknown descriptor %q", f[0])
		}
		f = strings.Fields(five)
	}
	sec, year := "0", "*"
	switch len(f) {
	case 5:
	case 6:
		sec, f = f[0], f[1:]
	case 7:
		sec, year, f = f[0], f[6], f[1:6]
	default:
		return nil, fmt.Errorf("oracle: %d fields", len(f))
	}
	o := &oExpr{fixed: !strings.Contains(f[0], "*") && !strings.Contains(f[1], "*")}
	var err error
	for _, p := range []struct {
		set  *oSet
		text string
		f    oField
	}{{&o.sec, sec, oSecond}, {&o.min, f[0], oMinute}, {&o.hour, f[1], oHour}, {&o.month, f[3], oMonth}, {&o.year, year, oYear}} {
		if *p.set, err = p.f.numbers(p.text); err != nil {
			return nil, err
		}
	}
	if o.dom, err = oDayOfMonth(f[2]); err != nil {
		return nil, err
	}
	if o.dow, err = oDayOfWeek(f[4]); err != nil {
		return nil, err
	}
	o.special = o.dom.special || o.dow.special
	return o, nil
}

// numbers reads a list of plain elements.
func (f oField) numbers(text string) (oSet, error) {
	s := make(oSet, f.hi+1)
	for _, el := range strings.Split(text, ",") {
		vals, err := f.elem(el)
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			s[v] = true
		}
	}
	return s, nil
}

// elem reads "*", "N", "A-B", each with an optional "/S".
func (f oField) elem(el string) ([]int, error) {
	base, stepText, hasStep := strings.Cut(el, "/")
	step := 1
	if hasStep {
		n, ok := oDigits(stepText)
		if !ok || n < 1 || n > f.last-f.lo { // at most the span of '*'
			return nil, fmt.Errorf("oracle: bad step in %q", el)
		}
		step = n
	}
	var a, b int
	switch x, y, isRange := strings.Cut(base, "-"); {
	case base == "*":
		a, b = f.lo, f.last
	case isRange:
		var err error
		if a, err = f.value(x); err != nil {
			return nil, err
		}
		if b, err = f.value(y); err != nil {
			return nil, err
		}
		if _, isNum := oDigits(y); f.weekday && b == 0 && a > 0 && !isNum {
			b = 7 // SUN ends a range that starts after Sunday: SAT-SUN
		}
		if (oPadded(x) || oPadded(y)) && len(x) != len(y) {
			return nil, fmt.Errorf("oracle: %q pads its ends to different widths", el)
		}
		if a > b {
			return nil, fmt.Errorf("oracle: %q is reversed or wraps around", el)
		}
	default:
		var err error
		if a, err = f.value(base); err != nil {
			return nil, err
		}
		b = a
		if hasStep {
			b = f.last // N/S: from N up to the end of '*'
		}
	}
	var vals []int
	for v := a; v <= b; v += step {
		vals = append(vals, v%f.modulus())
	}
	if len(vals) == 0 {
		return nil, fmt.Errorf("oracle: %q selects nothing", el)
	}
	return vals, nil
}

// modulus folds day of week 7 into 0 (Sunday).
func (f oField) modulus() int {
	if f.weekday {
		return 7
	}
	return f.hi + 1
}

func (f oField) value(t string) (int, error) {
	if n, ok := oDigits(t); ok {
		if n < f.lo || n > f.hi {
			return 0, fmt.Errorf("oracle: %s out of range", t)
		}
		return n, nil
	}
	if n, ok := f.names[strings.ToLower(t)]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("oracle: bad value %q", t)
}

// oDigits reads 1 to 9 decimal digits.
func oDigits(t string) (int, bool) {
	if len(t) == 0 || len(t) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range t {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = 10*n + int(c-'0')
	}
	return n, true
}

func oPadded(t string) bool {
	_, ok := oDigits(t)
	return ok && len(t) > 1 && t[0] == '0'
}

func oDayOfMonth(text string) (oDays, error) {
	if text == "?" {
		text = "*"
	}
	f := oDays{star: text[0] == '*'}
	for _, el := range strings.Split(text, ",") {
		u := strings.ToUpper(el)
		f.special = f.special || strings.ContainsAny(u, "LW")
		switch {
		case u == "L":
			f.elems = append(f.elems, func(y int, m time.Month, d int) bool { return d == oMonthLen(y, m) })
		case u == "LW":
			f.elems = append(f.elems, func(y int, m time.Month, d int) bool { return d == oLastWeekday(y, m) })
		case strings.HasSuffix(u, "W"):
			n, ok := oDigits(u[:len(u)-1])
			if !ok || n < 1 || n > 31 {
				return f, fmt.Errorf("oracle: bad %q", el)
			}
			f.elems = append(f.elems, func(y int, m time.Month, d int) bool { return d == oNearestWeekday(y, m, n) })
		default:
			vals, err := oDom.elem(el)
			if err != nil {
				return f, err
			}
			f.elems = append(f.elems, func(_ int, _ time.Month, d int) bool { return slices.Contains(vals, d) })
		}
	}
	if f.star && f.special {
		return f, fmt.Errorf("oracle: L or W in %q, which starts with '*'", text)
	}
	return f, nil
}

func oDayOfWeek(text string) (oDays, error) {
	if text == "?" {
		text = "*"
	}
	f := oDays{star: text[0] == '*'}
	for _, el := range strings.Split(text, ",") {
		u := strings.ToUpper(el)
		f.special = f.special || strings.HasSuffix(u, "L") || strings.Contains(u, "#")
		if w, k, ok := strings.Cut(u, "#"); ok { // the Kth weekday W of the month
			wd, err := oDow.value(w)
			n, isNum := oDigits(k)
			if err != nil || !isNum || n < 1 || n > 5 {
				return f, fmt.Errorf("oracle: bad %q", el)
			}
			f.elems = append(f.elems, func(y int, m time.Month, d int) bool {
				return oWeekday(y, m, d) == wd%7 && d > 7*(n-1) && d <= 7*n
			})
			continue
		}
		if w, ok := strings.CutSuffix(u, "L"); ok && w != "" { // the last weekday W of the month
			wd, err := oDow.value(w)
			if err != nil {
				return f, err
			}
			f.elems = append(f.elems, func(y int, m time.Month, d int) bool {
				return oWeekday(y, m, d) == wd%7 && d+7 > oMonthLen(y, m)
			})
			continue
		}
		vals, err := oDow.elem(el)
		if err != nil {
			return f, err
		}
		f.elems = append(f.elems, func(y int, m time.Month, d int) bool { return slices.Contains(vals, oWeekday(y, m, d)) })
	}
	if f.star && f.special {
		return f, fmt.Errorf("oracle: L or # in %q, which starts with '*'", text)
	}
	return f, nil
}

func oMonthLen(y int, m time.Month) int { return time.Date(y, m+1, 0, 12, 0, 0, 0, time.UTC).Day() }

func oWeekday(y int, m time.Month, d int) int {
	return int(time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday())
}

func oWorkday(y int, m time.Month, d int) bool {
	wd := oWeekday(y, m, d)
	return wd != int(time.Saturday) && wd != int(time.Sunday)
}

func oLastWeekday(y int, m time.Month) int {
	d := oMonthLen(y, m)
	for !oWorkday(y, m, d) {
		d--
	}
	return d
}

// oNearestWeekday is the Monday-to-Friday day nearest to day n, in the same
// month; 0 (no day) when the month has no day n.
func oNearestWeekday(y int, m time.Month, n int) int {
	last := oMonthLen(y, m)
	if n > last {
		return 0
	}
	for k := 0; ; k++ {
		for _, d := range []int{n - k, n + k} {
			if d >= 1 && d <= last && oWorkday(y, m, d) {
				return d
			}
		}
	}
}

// dayOK applies year, month and the Vixie day rule to a date.
func (o *oExpr) dayOK(y int, m time.Month, d int) bool {
	if !o.year[y] || !o.month[int(m)] {
		return false
	}
	dom, dow := o.dom.match(y, m, d), o.dow.match(y, m, d)
	if o.dom.star || o.dow.star {
		return dom && dow
	}
	return dom || dow
}

// minuteOK reports whether wall minute w (seconds ignored) matches.
func (o *oExpr) minuteOK(w time.Time) bool {
	return o.min[w.Minute()] && o.hour[w.Hour()] && o.dayOK(w.Year(), w.Month(), w.Day())
}

// match reports whether wall clock w (written in UTC) matches, to the second.
func (o *oExpr) match(w time.Time) bool { return o.sec[w.Second()] && o.minuteOK(w) }

// oZone is a time zone as the oracle sees it: the wall clock of each
// instant, every offset the zone uses and every instant it changes, found by
// sampling (and checked against the time package's ZoneBounds).
type oZone struct {
	name        string
	loc         *time.Location
	offsets     []int       // seconds east of UTC
	transitions []time.Time // instants at which the offset changes, ascending
}

// The oracle knows zones from oSpanFrom to oSpanTo only.
var (
	oSpanFrom = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	oSpanTo   = time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)
)

var oZones sync.Map // name -> *oZone

func oracleZone(t testing.TB, name string) *oZone {
	t.Helper()
	if z, ok := oZones.Load(name); ok {
		return z.(*oZone)
	}
	loc := mustLoad(t, name)
	z := &oZone{name: name, loc: loc}
	offAt := func(x time.Time) int {
		_, off := x.In(loc).Zone()
		return off
	}
	prev := offAt(oSpanFrom)
	z.offsets = append(z.offsets, prev)
	// Offsets last months; sample every 12 hours, then bisect each change
	// to the second.
	for x := oSpanFrom; x.Before(oSpanTo); x = x.Add(12 * time.Hour) {
		off := offAt(x)
		if off == prev {
			continue
		}
		lo, hi := x.Add(-12*time.Hour).Unix(), x.Unix() // offAt(lo) == prev, offAt(hi) == off
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if offAt(time.Unix(mid, 0)) == prev {
				lo = mid
			} else {
				hi = mid
			}
		}
		z.transitions = append(z.transitions, time.Unix(hi, 0))
		if !slices.Contains(z.offsets, off) {
			z.offsets = append(z.offsets, off)
		}
		prev = off
	}
	// The walk below assumes whole-minute offsets changing on the minute;
	// and the sampling, no two changes within 12 hours: check both.
	for _, off := range z.offsets {
		if off%60 != 0 {
			t.Fatalf("oracle: %s: offset %ds is not a whole number of minutes", name, off)
		}
	}
	var bounds []time.Time
	for x := oSpanFrom; ; {
		_, end := x.In(loc).ZoneBounds()
		if end.IsZero() || !end.Before(oSpanTo) {
			break
		}
		if offAt(end) != offAt(end.Add(-time.Second)) { // some bounds only rename the zone
			bounds = append(bounds, end)
		}
		x = end
	}
	if !slices.EqualFunc(z.transitions, bounds, time.Time.Equal) {
		t.Fatalf("oracle: %s: sampled transitions %v, ZoneBounds says %v", name, z.transitions, bounds)
	}
	for _, tr := range z.transitions {
		if tr.Unix()%60 != 0 {
			t.Fatalf("oracle: %s changes offset at %s, not on a minute", name, tr)
		}
	}
	got, _ := oZones.LoadOrStore(name, z)
	return got.(*oZone)
}

// wall is x's wall clock in z, to the second, written in UTC.
func (z *oZone) wall(x time.Time) time.Time {
	_, off := x.In(z.loc).Zone()
	return time.Unix(x.Unix()+int64(off), 0).UTC()
}

// happenedBefore reports whether wall clock w was already shown at an
// instant before x: for each offset the zone uses, the instant that would
// show w under it, if it really does.
func (z *oZone) happenedBefore(w, x time.Time) bool {
	for _, off := range z.offsets {
		y := time.Unix(w.Unix()-int64(off), 0)
		if y.Before(x) && z.wall(y).Equal(w) {
			return true
		}
	}
	return false
}

// nextTransition is the first offset change after x (the zero time if none
// in the span).
func (z *oZone) nextTransition(x time.Time) time.Time {
	for _, tr := range z.transitions {
		if tr.After(x) {
			return tr
		}
	}
	return time.Time{}
}

// oFiring is one instant the oracle says fires.
type oFiring struct {
	at      time.Time
	skipped bool // fires (also) for wall times skipped by a jump forward
}

// each calls fn with every instant in (from, to) at which o fires in z, in
// order, until fn returns false. It walks real time minute by minute (whole
// minutes of UTC, which are whole minutes of every wall clock here) and asks
// of each minute x, with wall clock w:
//
//   - Did the clock jump over wall minutes just before x (w is more than a
//     minute after the wall clock of x-1m)? A jumped-over match fires once,
//     at x: any match for a fixed schedule; for a wildcard one, only a match
//     in w's own local hour (same date and hour).
//   - Does w match, second by second? A fixed schedule fires only at the
//     first instant that shows a wall time; a wildcard one at every instant.
//
// To stay fast enough it skips the rest of a wall hour (or date) whose hour
// (or date) does not match, but never past an offset change: until then the
// wall clock advances with real time, so nothing in between can match or be
// jumped over.
func (o *oExpr) each(z *oZone, from, to time.Time, fn func(oFiring) bool) {
	if from.Before(oSpanFrom.Add(24*time.Hour)) || to.After(oSpanTo.Add(-24*time.Hour)) {
		panic(fmt.Sprintf("oracle: %s-%s is outside the span the oracle knows", from, to))
	}
	emit := func(f oFiring) bool {
		if !f.at.After(from) || !f.at.Before(to) {
			return true
		}
		return fn(f)
	}
	x := from.Truncate(time.Minute)
	var prevX, prevW time.Time
	for x.Before(to) {
		w := z.wall(x)
		p := prevW
		if !prevX.Equal(x.Add(-time.Minute)) {
			p = z.wall(x.Add(-time.Minute))
		}
		jumped := false
		for s := p.Add(time.Minute); s.Before(w); s = s.Add(time.Minute) {
			sameHour := s.Year() == w.Year() && s.YearDay() == w.YearDay() && s.Hour() == w.Hour()
			if (o.fixed || sameHour) && o.minuteOK(s) {
				jumped = true
				break
			}
		}
		if jumped && !emit(oFiring{at: x, skipped: true}) {
			return
		}
		if o.minuteOK(w) && (!o.fixed || !z.happenedBefore(w, x)) {
			for s := range 60 {
				if o.sec[s] && !(jumped && s == 0) && !emit(oFiring{at: x.Add(time.Duration(s) * time.Second)}) {
					return
				}
			}
		}
		prevX, prevW = x, w
		next := x.Add(time.Minute)
		var skip time.Duration
		switch {
		case !o.dayOK(w.Year(), w.Month(), w.Day()):
			skip = time.Duration((24-w.Hour())*60-w.Minute()) * time.Minute
		case !o.hour[w.Hour()]:
			skip = time.Duration(60-w.Minute()) * time.Minute
		}
		if skip > time.Minute {
			next = x.Add(skip)
			if tr := z.nextTransition(x); !tr.IsZero() && tr.Before(next) {
				next = tr
			}
		}
		x = next
	}
}

// next is the oracle's Next, looking no further than window after t: the
// first firing in (t, t+window), or false if it sees none.
func (o *oExpr) next(z *oZone, t time.Time, window time.Duration) (oFiring, bool) {
	var got oFiring
	found := false
	o.each(z, t, t.Add(window), func(f oFiring) bool {
		got, found = f, true
		return false
	})
	return got, found
}

// oracleWindow is how far the oracle looks from each instant it is asked
// about; the generator starts at most a day and a half before a matching
// date.
const oracleWindow = 4 * 24 * time.Hour

// Hand-checked answers for the oracle itself, so that it is not only
// trusted because it agrees with Next.
func TestOracleSelf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr, zone, from string
		want             []string
	}{
		{"0 0 LW * *", "UTC", "2026-01-01T00:00:00Z", []string{"2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z"}},
		{"0 0 1W * *", "UTC", "2026-07-25T00:00:00Z", []string{"2026-08-03T00:00:00Z"}},  // 08-01 is a Saturday: Monday 3rd, not July 31st
		{"0 0 31W * *", "UTC", "2026-05-20T00:00:00Z", []string{"2026-05-29T00:00:00Z"}}, // 05-31 is a Sunday: Friday 29th
		{"0 0 * * sat-sun", "UTC", "2026-01-01T00:00:00Z", []string{"2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-10T00:00:00Z"}},
		{"0 0 * * 7#1", "UTC", "2026-01-01T00:00:00Z", []string{"2026-01-04T00:00:00Z"}},
		{"0 0 * * 5L", "UTC", "2026-01-20T00:00:00Z", []string{"2026-01-30T00:00:00Z"}},
		{"0 0 */2 * 1", "UTC", "2026-01-01T00:00:00Z", []string{"2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z"}},
		{"0 0 13 * 5", "UTC", "2026-01-01T00:00:00Z", []string{"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z"}},
		{"15,45 30 2 * * *", "America/New_York", "2026-03-08T00:00:00-05:00", []string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:15-04:00"}},
		{"30 1 * * *", "America/New_York", "2026-11-01T00:00:00-04:00", []string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		{"0 * * * *", "America/New_York", "2026-11-01T00:30:00-04:00", []string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"}},
		{"30 * * * *", "America/New_York", "2026-03-08T00:40:00-05:00", []string{"2026-03-08T01:30:00-05:00", "2026-03-08T03:30:00-04:00"}},
		{"0 * * * *", "Australia/Lord_Howe", "2026-10-04T01:30:00+10:30", []string{"2026-10-04T02:30:00+11:00", "2026-10-04T03:00:00+11:00"}},
		{"0,50 * * * *", "Pacific/Chatham", "2026-09-27T02:10:00+12:45", []string{"2026-09-27T03:45:00+13:45", "2026-09-27T03:50:00+13:45"}},
		// Santiago jumps from 24:00 to 01:00: a fixed 00:30 fires at 01:00.
		{"30 0 * * *", "America/Santiago", "2026-09-05T12:00:00-04:00", []string{"2026-09-06T01:00:00-03:00", "2026-09-07T00:30:00-03:00"}},
		// ... and falls back from 24:00 to 23:00 on the same date.
		{"30 23 * * *", "America/Santiago", "2026-04-04T12:00:00-03:00", []string{"2026-04-04T23:30:00-03:00", "2026-04-05T23:30:00-04:00"}},
		{"30 * * * *", "America/Santiago", "2026-04-04T23:00:00-03:00", []string{"2026-04-04T23:30:00-03:00", "2026-04-04T23:30:00-04:00"}},
	} {
		o, err := oracleParse(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		z := oracleZone(t, tc.zone)
		var got []string
		o.each(z, mustTime(t, tc.from), mustTime(t, tc.from).Add(70*24*time.Hour), func(f oFiring) bool {
			got = append(got, f.at.In(z.loc).Format(time.RFC3339))
			return len(got) < len(tc.want)
		})
		if !slices.Equal(got, tc.want) {
			t.Errorf("oracle %q in %s from %s:\n got %q\nwant %q", tc.expr, tc.zone, tc.from, got, tc.want)
		}
	}
	for _, bad := range []string{"0 0 * * 5-1", "0 0 1 1-05 *", "0 0 * * fri-mon", "1,,2 * * * *", "* * * *", "0 0 * * 7/2",
		"*/60 * * * *", "0 0 * * */7", "0 0 1 */12 *", "0 0 0 1 1 * */130", // steps beyond the span of '*'
		"0 0 *,L * *", "0 0 */2,15W * *", "0 0 ? * *,5L", "0 0 * * */2,1#1", // L, W, # in a field led by '*'
		"0 0 0000000001 * *",                        // ten digits
		strings.Repeat(" ", MaxLen-8) + "* * * * *", // MaxLen+1 bytes
	} {
		if _, err := oracleParse(bad); err == nil {
			t.Errorf("oracle accepts %.40q", bad)
		}
	}
	for _, good := range []string{"0 0 000000001 * *", "*/59 * * * *", "0 0 * * */6", "0 0 0 1 1 * */129", "0 0 L,* * 1", "0 0 ? * 5L",
		strings.Repeat(" ", MaxLen-9) + "* * * * *"} {
		if _, err := oracleParse(good); err != nil {
			t.Errorf("oracle refuses %.40q: %v", good, err)
		}
	}
}

// checkOracle holds the oracle to a hand-written chain of answers (the
// tables of cron_test.go): from from and from each answer in turn, the
// oracle's first firing must be the next answer when that lies within its
// window, and it must see nothing when the answer lies beyond.
func checkOracle(t *testing.T, expr, zone, from string, want []string) {
	t.Helper()
	o, err := oracleParse(expr)
	if err != nil {
		t.Errorf("oracle: %v", err)
		return
	}
	z := oracleZone(t, zone)
	x := mustTime(t, from)
	for _, ws := range want {
		w := mustTime(t, ws)
		if x.Before(oSpanFrom.AddDate(0, 0, 2)) || x.After(oSpanTo.AddDate(0, 0, -10)) {
			return
		}
		f, found := o.next(z, x, oracleWindow)
		switch inWindow := w.Before(x.Add(oracleWindow)); {
		case inWindow && (!found || !f.at.Equal(w)):
			t.Errorf("oracle from %s: %s, %v; the table says %s", x.In(z.loc).Format(time.RFC3339Nano), f.at.In(z.loc).Format(time.RFC3339), found, ws)
		case !inWindow && found:
			t.Errorf("oracle from %s: %s; the table says %s, beyond its window", x.In(z.loc).Format(time.RFC3339Nano), f.at.In(z.loc).Format(time.RFC3339), ws)
		}
		x = w
	}
}

var oracleZoneNames = []string{
	"UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kolkata",
	"America/Santiago",  // transitions at midnight: 24:00 -> 01:00 and 24:00 -> 23:00
	"Antarctica/Troll",  // two-hour jumps
	"Africa/Casablanca", // daylight saving suspended for Ramadan: back in February, forward in March
}

// oracleStats counts what the comparisons exercised.
type oracleStats struct {
	compared, misses, never                        int
	gapFixed, gapWild, repeats, seconds, special   int
	dayOr, dayStarAnd, years, descriptors, zoneHit int
}

// TestCronOracle compares Next with the oracle: random expressions (from
// oGen) x zones x instants, at least oracleMin comparisons, chained through
// daylight saving transitions. Rerun a failure with -cron.seed=N; raise the
// count with -cron.oracle=N.
func TestCronOracle(t *testing.T) {
	t.Parallel()
	seed := *oracleSeed
	want := max(*oracleN, oracleMin)
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	g := oGen{r: r}
	zones := make([]*oZone, len(oracleZoneNames))
	for i, name := range oracleZoneNames {
		zones[i] = oracleZone(t, name)
	}
	var st oracleStats
	exprs := 0
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d (rerun: go test ./scheduler/cron -run TestCronOracle -cron.seed=%d): %s", seed, seed, fmt.Sprintf(format, args...))
	}
	for i := 0; st.compared < want; i++ {
		if i > 10*want {
			fail("after %d cases, only %d comparisons", i, st.compared)
		}
		z := zones[r.IntN(len(zones))]
		expr, from, chain := g.oracleCase(z)
		c, err := parseWatched(t, expr, z.loc)
		o, oerr := oracleParse(expr)
		if oerr != nil {
			fail("case %d: the generator wrote %q, which the oracle refuses: %v", i, expr, oerr)
		}
		if errors.Is(err, ErrNeverFires) {
			st.never++
			if f, ok := oracleEverFires(o, z); ok {
				fail("case %d: Parse(%q) in %s says it never fires; the oracle fires at %s", i, expr, z.name, f.at.In(z.loc).Format(time.RFC3339))
			}
			continue
		}
		if err != nil {
			fail("case %d: Parse(%q) in %s: %v", i, expr, z.name, err)
		}
		exprs++
		if c.Fixed() != o.fixed {
			fail("case %d: %q: Fixed() = %v; the oracle says %v", i, expr, c.Fixed(), o.fixed)
		}
		if from.IsZero() { // no matching date in the span
			continue
		}
		for k := range chain {
			f, found := o.next(z, from, oracleWindow)
			got, ok := c.Next(from)
			st.compared++
			where := fmt.Sprintf("case %d.%d: %q in %s: Next(%s)", i, k, expr, z.name, from.In(z.loc).Format(time.RFC3339Nano))
			switch {
			case found && (!ok || !got.Equal(f.at)):
				fail("%s = %s, %v; oracle: %s", where, got.Format(time.RFC3339), ok, f.at.In(z.loc).Format(time.RFC3339))
			case !found && ok && got.Before(from.Add(oracleWindow)):
				fail("%s = %s; the oracle sees nothing before %s", where, got.Format(time.RFC3339), from.Add(oracleWindow).In(z.loc).Format(time.RFC3339))
			case ok && got.Location() != z.loc:
				fail("%s = %s, not in the schedule's zone", where, got)
			}
			if !found {
				st.misses++
				break
			}
			st.count(o, z, f, expr)
			from = f.at
		}
	}
	t.Logf("seed %d: %d comparisons on %d expressions (%d beyond the %v window), %d never-firing expressions cross-checked; "+
		"fired at a gap end: %d fixed, %d wildcard; second copies of a repeated time: %d; "+
		"with seconds: %d; L/W/#: %d; day fields ORed: %d, ANDed by a '*'-led step: %d; year field: %d; descriptors: %d; in a zone with transitions: %d",
		seed, st.compared, exprs, st.misses, oracleWindow, st.never, st.gapFixed, st.gapWild, st.repeats,
		st.seconds, st.special, st.dayOr, st.dayStarAnd, st.years, st.descriptors, st.zoneHit)
	// The generator must keep exercising each rule: floors well below what
	// any seed tried gives (the default seed gives at least twice as many).
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"gap firings (fixed)", st.gapFixed, 15}, {"gap firings (wildcard)", st.gapWild, 3},
		{"second copies", st.repeats, 30}, {"seconds", st.seconds, 300}, {"L/W/#", st.special, 300},
		{"day OR", st.dayOr, 300}, {"day AND with a step", st.dayStarAnd, 40},
		{"year", st.years, 40}, {"descriptors", st.descriptors, 30}, {"never fires", st.never, 1},
	} {
		if c.got < c.want {
			t.Errorf("the generator exercised %s %d times, want at least %d", c.name, c.got, c.want)
		}
	}
}

func (st *oracleStats) count(o *oExpr, z *oZone, f oFiring, expr string) {
	w := z.wall(f.at)
	switch {
	case f.skipped && o.fixed:
		st.gapFixed++
	case f.skipped:
		st.gapWild++
	case z.happenedBefore(w, f.at):
		st.repeats++
	}
	fields := strings.Fields(expr)
	if len(fields) >= 6 {
		st.seconds++
	}
	if len(fields) == 7 {
		st.years++
	}
	if len(fields) == 1 {
		st.descriptors++
	}
	if o.special {
		st.special++
	}
	if len(fields) >= 5 {
		dom, dow := fields[len(fields)-3], fields[len(fields)-1]
		if len(fields) == 7 {
			dom, dow = fields[3], fields[5]
		}
		if !o.dom.star && !o.dow.star {
			st.dayOr++
		} else if strings.HasPrefix(dom, "*/") && !o.dow.star || strings.HasPrefix(dow, "*/") && !o.dom.star {
			st.dayStarAnd++
		}
	}
	if len(z.transitions) > 0 {
		st.zoneHit++
	}
}

// oracleEverFires looks for a firing of an expression Parse calls
// never-firing: around each of the first dates (in the span the oracle
// knows) whose day fields match.
func oracleEverFires(o *oExpr, z *oZone) (oFiring, bool) {
	found := 0
	for d := oSpanFrom.AddDate(0, 0, 3); d.Before(oSpanTo.AddDate(0, 0, -5)) && found < 3; d = d.AddDate(0, 0, 1) {
		if !o.dayOK(d.Year(), d.Month(), d.Day()) {
			continue
		}
		found++
		start := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, z.loc).Add(-24 * time.Hour)
		if f, ok := o.next(z, start, 3*24*time.Hour); ok {
			return f, true
		}
	}
	return oFiring{}, false
}

// oGen writes random expressions from the rules: every form they name, in
// the spellings they allow (names in any case, zero padding at both ends or
// neither, '?', L, LW, NW, NL, N#K, 7 for Sunday, '*' inside a list, six and
// seven fields, descriptors, tabs), biased towards expressions that fire
// within days so that the oracle's walk stays short. It leaves out only what
// the rules refuse (reversed or wrap-around ranges, one end padded, 7/S, L,
// W or # in a field that starts with '*'); the oracle reads every form Parse
// accepts.
type oGen struct{ r *rand.Rand }

func (g oGen) oneIn(n int) bool { return g.r.IntN(n) == 0 }

func (g oGen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

// name spells value v of f as a name in a random case, or "" if it has none.
func (g oGen) name(f oField, v int) string {
	var names []string
	for n, nv := range f.names {
		if nv == v%f.modulus() {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names) // map order is random; the seed must decide
	n := names[g.r.IntN(len(names))]
	switch g.r.IntN(3) {
	case 0:
		return strings.ToUpper(n)
	case 1:
		return strings.ToUpper(n[:1]) + n[1:]
	}
	return n
}

// elem writes one element of a plain list over f.
func (g oGen) elem(f oField, first bool) string {
	pad := g.oneIn(6)
	num := func(v int) string {
		if pad && v < 10 {
			return fmt.Sprintf("%02d", v)
		}
		return strconv.Itoa(v)
	}
	span := f.last - f.lo
	step := func() string {
		if g.oneIn(10) {
			return strconv.Itoa(span)
		}
		return strconv.Itoa(1 + g.r.IntN(min(span, 12)))
	}
	switch k := g.r.IntN(12); {
	case k == 0 && (first || g.oneIn(4)):
		return "*"
	case k == 1 && (first || g.oneIn(4)):
		return "*/" + step()
	case k <= 4: // A-B, sometimes named
		a := f.lo + g.r.IntN(f.hi-f.lo+1)
		b := a + g.r.IntN(f.hi-a+1)
		pad = pad && b < 10 // both ends or neither
		if f.weekday && a == 7 {
			return "7-7"
		}
		if f.names != nil && g.oneIn(3) && (b != 7 || a > 0) {
			return g.name(f, a) + "-" + g.name(f, b)
		}
		return num(a) + "-" + num(b)
	case k == 5:
		a := f.lo + g.r.IntN(f.hi-f.lo+1)
		b := a + g.r.IntN(f.hi-a+1)
		if f.weekday && a == 7 {
			a = 6
		}
		pad = pad && b < 10
		return num(a) + "-" + num(b) + "/" + step()
	case k == 6: // N/S, N no further than '*' goes
		return num(f.lo+g.r.IntN(span+1)) + "/" + step()
	default:
		v := f.lo + g.r.IntN(f.hi-f.lo+1)
		if f.names != nil && v != 7 && g.oneIn(3) {
			return g.name(f, v)
		}
		return num(v)
	}
}

func (g oGen) list(f oField) string {
	n := 1
	if g.oneIn(3) {
		n += 1 + g.r.IntN(2)
	}
	parts := make([]string, n)
	for i := range parts {
		parts[i] = g.elem(f, i == 0)
	}
	return strings.Join(parts, ",")
}

// restricted writes a list that does not start with '*'.
func (g oGen) restricted(f oField) string {
	for {
		if l := g.list(f); l[0] != '*' {
			return l
		}
	}
}

// often returns '*' or a step over f most of the time, else a list.
func (g oGen) often(f oField) string {
	switch g.r.IntN(4) {
	case 0:
		return "*"
	case 1:
		return "*/" + strconv.Itoa(1+g.r.IntN(min(f.last-f.lo, 20)))
	}
	return g.list(f)
}

func (g oGen) dom() string {
	special := func() string {
		switch g.r.IntN(3) {
		case 0:
			return g.pick("L", "l")
		case 1:
			return g.pick("LW", "lw", "Lw")
		}
		return strconv.Itoa(1+g.r.IntN(31)) + g.pick("W", "w")
	}
	switch g.r.IntN(13) {
	case 0, 1, 2:
		return "*"
	case 3:
		return "*/" + strconv.Itoa(2+g.r.IntN(14))
	case 4:
		return "?"
	case 5, 6:
		return special()
	case 7: // a special in a list, first or not ('*' may not lead it)
		if g.oneIn(2) {
			return special() + "," + g.list(oDom)
		}
		return g.restricted(oDom) + "," + special()
	case 8:
		return g.pick("29", "30", "31", "29-31", "30,31") // with months that lack them
	}
	return g.list(oDom)
}

func (g oGen) dow() string {
	day := func() string {
		v := g.r.IntN(8)
		if v < 7 && g.oneIn(2) {
			return g.name(oDow, v)
		}
		return strconv.Itoa(v)
	}
	special := func() string {
		if g.oneIn(2) {
			return day() + g.pick("L", "l")
		}
		return day() + "#" + strconv.Itoa(1+g.r.IntN(5))
	}
	switch g.r.IntN(12) {
	case 0, 1, 2, 3:
		return "*"
	case 4:
		return "?"
	case 5, 6:
		return special()
	case 7:
		return g.restricted(oDow) + "," + special()
	case 8:
		return g.pick("1-5", "MON-FRI", "5-7", "sat-sun", "0-7", "Mon-Sun", "6,0", "1-7/2", "*/2", "*/3", "*/2,1", "*/4")
	}
	return g.list(oDow)
}

func (g oGen) month() string {
	switch g.r.IntN(8) {
	case 0, 1, 2, 3, 4:
		return "*"
	case 5:
		return g.pick("2", "FEB", "4,6,9,11", "01-03", "02", "feb,apr")
	}
	return g.list(oMonth)
}

func (g oGen) year() string {
	switch g.r.IntN(6) {
	case 0:
		return "*"
	case 1:
		return "2024/2"
	case 2:
		y := 2024 + g.r.IntN(7)
		return strconv.Itoa(y) + "-" + strconv.Itoa(y+g.r.IntN(3))
	case 3:
		return "2025,2027,2029-2031"
	}
	return strconv.Itoa(2024 + g.r.IntN(7))
}

// expr writes an expression whose time of day comes from minute and hour.
func (g oGen) expr(minute, hour string) string {
	if g.oneIn(40) { // day fields that never (or hardly ever) match
		dom, mon, dow := g.pick("30", "31", "30,31", "31W", "29-31", "*/15"), g.pick("2", "FEB", "4,6,9,11", "apr,jun"), g.pick("*", "?", "1#2", "*/3")
		return strings.Join([]string{minute, hour, dom, mon, dow}, " ")
	}
	if g.oneIn(25) {
		d := g.pick("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly")
		if g.oneIn(2) {
			d = strings.ToUpper(d)
		}
		return d
	}
	f := []string{minute, hour, g.dom(), g.month(), g.dow()}
	switch g.r.IntN(12) {
	case 0, 1:
		f = append([]string{g.often(oSecond)}, f...)
	case 2:
		f = append([]string{g.list(oSecond)}, f...)
	case 3:
		f = append(append([]string{g.list(oSecond)}, f...), g.year())
	}
	sep := " "
	if g.oneIn(10) {
		sep = g.pick("\t", "  ", " \t ")
	}
	return strings.Join(f, sep)
}

// oracleCase returns an expression, an instant to start from (zero if
// the expression matches no date in the span) and how many comparisons to
// chain from there.
func (g oGen) oracleCase(z *oZone) (expr string, from time.Time, chain int) {
	var tr time.Time
	if len(z.transitions) > 0 && g.oneIn(2) {
		var near []time.Time
		for _, x := range z.transitions {
			if x.Year() >= 2024 && x.Year() <= 2030 {
				near = append(near, x)
			}
		}
		if len(near) > 0 {
			tr = near[g.r.IntN(len(near))]
		}
	}
	if tr.IsZero() {
		expr = g.expr(g.often(oMinute), g.often(oHour))
		o, err := oracleParse(expr)
		if err != nil {
			return expr, time.Time{}, 0 // the caller reports it
		}
		base := time.Unix(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix()+g.r.Int64N(7*365*86400), 0)
		if g.oneIn(4) {
			base = base.Add(time.Duration(g.r.Int64N(int64(time.Minute))))
		}
		return expr, g.nearMatch(o, z, base), 1 + g.r.IntN(5)
	}
	// Around a transition: hours around it, days that include it.
	before, after := z.wall(tr.Add(-time.Minute)), z.wall(tr)
	hours := []int{before.Hour(), after.Hour(), (before.Hour() + 1) % 24, (after.Hour() + 23) % 24}
	var hour string
	switch g.r.IntN(6) {
	case 0:
		hour = g.often(oHour)
	case 1, 2:
		hour = strconv.Itoa(hours[g.r.IntN(len(hours))])
	default:
		a, b := hours[g.r.IntN(len(hours))], hours[g.r.IntN(len(hours))]
		if a > b {
			a, b = b, a
		}
		hour = strconv.Itoa(a) + g.pick(",", "-") + strconv.Itoa(b)
		if a == b {
			hour = strconv.Itoa(a)
		}
	}
	minute := g.list(oMinute)
	if g.oneIn(2) {
		minute = g.pick("0", "30", "45", "15", "59", "*", "*/15", "*/20", "0,30", "15-45/15", "*/7", "10-50/20", "0-59")
	}
	if after.Before(before) && g.oneIn(2) {
		// A jump back: wildcard schedules in the repeated hour(s).
		if g.oneIn(2) {
			minute, hour = "*/"+strconv.Itoa(1+g.r.IntN(30)), strconv.Itoa(after.Hour())
		} else {
			minute, hour = strconv.Itoa(g.r.IntN(60)), "*"
		}
	}
	if after.Sub(before) > time.Minute && after.Minute() > 0 && g.oneIn(2) {
		// A jump forward that ends inside an hour (Lord Howe, Chatham):
		// wildcard schedules matching the skipped part of that hour.
		skipped := strconv.Itoa(g.r.IntN(after.Minute()))
		switch g.r.IntN(3) {
		case 0:
			minute, hour = skipped, "*"
		case 1:
			minute, hour = "*/"+strconv.Itoa(1+g.r.IntN(after.Minute())), strconv.Itoa(after.Hour())
		default:
			minute, hour = skipped+","+strconv.Itoa(after.Minute()+g.r.IntN(60-after.Minute())), "*/"+strconv.Itoa(1+g.r.IntN(3))
		}
	}
	for range 30 {
		expr = g.expr(minute, hour)
		o, err := oracleParse(expr)
		if err != nil {
			return expr, time.Time{}, 0
		}
		if o.dayOK(before.Year(), before.Month(), before.Day()) || o.dayOK(after.Year(), after.Month(), after.Day()) {
			break
		}
	}
	lead := 30 * time.Hour
	if g.oneIn(2) {
		lead = 3 * time.Hour
	}
	from = tr.Add(-time.Duration(g.r.Int64N(int64(lead))))
	if g.oneIn(4) {
		from = from.Add(time.Duration(g.r.Int64N(int64(time.Minute))))
	}
	return expr, from, 4 + g.r.IntN(12)
}

// nearMatch moves base forward to at most a day and a half before the
// first date (on z's wall clock) that matches o's day fields, so that a
// sparse expression's first firing is within the oracle's window. It
// returns the zero time if no date in the span matches.
func (g oGen) nearMatch(o *oExpr, z *oZone, base time.Time) time.Time {
	w := z.wall(base)
	d := time.Date(w.Year(), w.Month(), w.Day(), 0, 0, 0, 0, time.UTC)
	for end := oSpanTo.AddDate(0, 0, -10); d.Before(end); d = d.AddDate(0, 0, 1) {
		if !o.dayOK(d.Year(), d.Month(), d.Day()) {
			continue
		}
		if d.Sub(w) < 36*time.Hour {
			return base
		}
		midnight := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, z.loc)
		return midnight.Add(-time.Duration(g.r.Int64N(int64(36 * time.Hour))))
	}
	return time.Time{}
}
