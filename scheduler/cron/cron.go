package cron

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorhill/cronexpr"
)

// Schedule is anything that yields fire instants.
type Schedule interface {
	// Next returns the first fire instant strictly after t, and false when it
	// never fires again.
	Next(t time.Time) (time.Time, bool)
}

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid cron expression")

// ErrNeverFires is wrapped (together with ErrInvalid) by the error Parse
// returns for a syntactically valid expression that can never fire, such as
// "0 0 30 2 *". errors.Is(err, ErrInvalid) holds for it too, so callers that
// only want "usable or not" need a single check.
var ErrNeverFires = errors.New("cron expression never fires")

// MaxLen is the longest expression Parse accepts, in bytes.
const MaxLen = 256

// Error describes why an expression was rejected.
type Error struct {
	Expr   string // the expression as given (possibly long; Error truncates it)
	Field  string // "second", "minute", "hour", "day of month", "month", "day of week", "year" or ""
	Reason string
	err    error // extra sentinel, e.g. ErrNeverFires
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("cron ")
	b.WriteString(strconv.Quote(truncate(e.Expr, 60)))
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) hold for every Error, and
// errors.Is(err, ErrNeverFires) for never-firing expressions.
func (e *Error) Unwrap() []error {
	if e.err != nil {
		return []error{ErrInvalid, e.err}
	}
	return []error{ErrInvalid}
}

// truncate shortens s so that it quotes to about n characters, marking the
// cut. Long inputs must not be echoed whole into logs and last_error, and
// invalid or unprintable bytes take four characters once quoted.
func truncate(s string, n int) string {
	w := 0
	for i, r := range s {
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			w += 4
		} else {
			w++
		}
		if w > n {
			cut := i
			for k := 0; k < 3 && cut > 0; k++ { // room for "..."
				_, sz := utf8.DecodeLastRuneInString(s[:cut])
				cut -= sz
			}
			return s[:cut] + "..."
		}
	}
	return s
}

// Expr is a parsed, validated cron expression read in one time zone. It is
// safe for concurrent use.
type Expr struct {
	expr  string
	loc   *time.Location
	ce    *cronexpr.Expression // template; copied per call, never called directly
	fixed bool                 // no '*' in the minute and hour fields (Vixie's rule)
	// Vixie's rule for a day field starting with '*' while the other is
	// restricted: both must match. cronexpr is given '*' for that field and
	// its candidates are filtered with these bit sets (0: no filter).
	domMask uint64     // bit d: day of month d allowed
	dowMask uint64     // bit w: weekday w allowed (0 = Sunday)
	hook    *guardHook // nil except in tests (a pointer keeps Expr comparable)
}

// String returns the expression as given.
func (c *Expr) String() string { return c.expr }

// Location returns the zone the expression is read in.
func (c *Expr) Location() *time.Location { return c.loc }

// Fixed reports whether the schedule has a fixed minute and hour (no '*' in
// either field): such schedules fire once for a time skipped or repeated by
// a daylight saving transition; the others follow real elapsed time (see
// Next for the one case where a wildcard schedule fires for a skipped time).
func (c *Expr) Fixed() bool { return c.fixed }

type fieldSpec struct {
	name    string
	lo, hi  int // accepted values; day of week accepts 7 (Sunday)
	starHi  int // upper end of '*' (day of week: 6)
	names   map[string]int
	special bool // L, W, # allowed (day of month, day of week)
}

var (
	monthNames = map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
		"january": 1, "february": 2, "march": 3, "april": 4, "june": 6,
		"july": 7, "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
	}
	dowNames = map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
		"sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6,
	}

	specSecond = fieldSpec{name: "second", lo: 0, hi: 59, starHi: 59}
	specMinute = fieldSpec{name: "minute", lo: 0, hi: 59, starHi: 59}
	specHour   = fieldSpec{name: "hour", lo: 0, hi: 23, starHi: 23}
	specDom    = fieldSpec{name: "day of month", lo: 1, hi: 31, starHi: 31, special: true}
	specMonth  = fieldSpec{name: "month", lo: 1, hi: 12, starHi: 12, names: monthNames}
	specDow    = fieldSpec{name: "day of week", lo: 0, hi: 7, starHi: 6, names: dowNames, special: true}
	specYear   = fieldSpec{name: "year", lo: 1970, hi: 2099, starHi: 2099}
)

// descriptors maps the accepted @-forms to five fields. Matching is
// case-insensitive, like month and day names ("@DAILY" is accepted).
var descriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// parsedField is one validated field.
type parsedField struct {
	text     string // as written
	star     bool   // starts with '*' or '?': unrestricted for Vixie's day rule
	vals     []int  // sorted, deduplicated plain values (dow 7 folded to 0)
	specials []string
}

// canon renders the field for cronexpr: a plain number list plus specials.
func (f *parsedField) canon() string {
	parts := make([]string, 0, len(f.vals)+len(f.specials))
	for _, v := range f.vals {
		parts = append(parts, strconv.Itoa(v))
	}
	parts = append(parts, f.specials...)
	return strings.Join(parts, ",")
}

func (f *parsedField) mask() uint64 {
	var m uint64
	for _, v := range f.vals {
		m |= 1 << uint(v)
	}
	return m
}

// Parse validates expr strictly and returns it read in loc (nil means
// UTC). Accepted: five fields (minute hour day-of-month month day-of-week),
// six (seconds first), seven (seconds ... year 1970-2099), and @yearly,
// @annually, @monthly, @weekly, @daily, @hourly. Errors are *Error and
// wrap ErrInvalid; never-firing expressions also wrap ErrNeverFires.
//
// Choices where cron dialects differ: day of week 7 is Sunday, and a range
// may end at 7 or SUN ("5-7", "sat-sun" = Sat,Sun); ranges that wrap around
// the week ("fri-mon") are rejected, as Vixie cron does; '?' is '*' and is
// allowed only in the day fields; names and @-descriptors are
// case-insensitive; @reboot, @midnight and @every are rejected.
func Parse(expr string, loc *time.Location) (*Expr, error) {
	return parse(expr, loc, nil)
}

// parse is Parse with a guard hook, which the returned Expr keeps for Next.
// Parse passes nil; tests and the fuzz target pass a hook of their own.
func parse(expr string, loc *time.Location, hook guardHook) (c *Expr, err error) {
	if loc == nil {
		loc = time.UTC
	}
	bad := func(field, format string, args ...any) error {
		return &Error{Expr: expr, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if len(expr) > MaxLen {
		return nil, bad("", "expression too long (%d bytes, at most %d)", len(expr), MaxLen)
	}
	fields := strings.Fields(expr)
	if len(fields) == 0 {
		return nil, bad("", "empty expression")
	}
	if strings.HasPrefix(fields[0], "@") {
		d := strings.ToLower(fields[0])
		five, ok := descriptors[d]
		switch {
		case ok && len(fields) > 1:
			return nil, bad("", "nothing may follow %s (got %q)", fields[0], truncate(fields[1], 20))
		case ok:
			fields = strings.Fields(five)
		case d == "@reboot":
			return nil, bad("", "@reboot is not supported: werkcron runs schedules, not boot hooks")
		case d == "@midnight":
			return nil, bad("", "@midnight is not supported; use @daily")
		case d == "@every":
			return nil, bad("", "@every is not supported; use an interval schedule (interval_secs)")
		default:
			return nil, bad("", "unknown descriptor %q (want @yearly, @annually, @monthly, @weekly, @daily or @hourly)", truncate(fields[0], 20))
		}
	}

	var sec, year string
	switch len(fields) {
	case 5:
		sec = "0"
	case 6:
		sec, fields = fields[0], fields[1:]
	case 7:
		sec, year, fields = fields[0], fields[6], fields[1:6]
	default:
		return nil, bad("", "expected 5, 6 or 7 fields, got %d", len(fields))
	}

	specs := []fieldSpec{specSecond, specMinute, specHour, specDom, specMonth, specDow, specYear}
	texts := []string{sec, fields[0], fields[1], fields[2], fields[3], fields[4], year}
	pf := make([]parsedField, len(specs))
	for i, s := range specs {
		if texts[i] == "" { // no year field
			continue
		}
		f, reason := parseField(texts[i], s)
		if reason != "" {
			return nil, bad(s.name, "%s", reason)
		}
		pf[i] = f
	}
	secF, minF, hourF, domF, monF, dowF, yearF := pf[0], pf[1], pf[2], pf[3], pf[4], pf[5], pf[6]

	c = &Expr{
		expr:  expr,
		loc:   loc,
		fixed: !strings.Contains(minF.text, "*") && !strings.Contains(hourF.text, "*"),
	}
	if hook != nil {
		c.hook = &hook
	}

	// Vixie's day rule. cronexpr ORs the two day fields when both are
	// restricted (right) and uses only the restricted one when the other is
	// '*' (right), but also ORs when one is "*/n" (wrong: Vixie ANDs). So a
	// field starting with '*' goes to cronexpr as '*' and filters instead.
	domText, dowText := domF.canon(), dowF.canon()
	if domF.star {
		domText = "*"
		if m := domF.mask(); m != specDom.fullMask() {
			c.domMask = m
		}
	}
	if dowF.star {
		dowText = "*"
		if m := dowF.mask(); m != specDow.fullMask() {
			c.dowMask = m
		}
	}
	if !domF.star && dowF.star && domNever(domF, monF) {
		return nil, &Error{Expr: expr, Field: "day of month", err: ErrNeverFires,
			Reason: fmt.Sprintf("never fires: no month in %q has day %q", monF.text, domF.text)}
	}

	yearText := "*"
	if yearF.text != "" {
		yearText = yearF.canon()
	}
	canon := strings.Join([]string{secF.canon(), minF.canon(), hourF.canon(), domText, monF.canon(), dowText, yearText}, " ")
	ce, perr := safeParse(canon, cronexpr.Parse, hook)
	if perr != nil {
		return nil, bad("", "%v", perr)
	}
	c.ce = ce

	// Check that it fires at all, through the same wrapper the ticker uses
	// (this also catches schedules that only match times skipped by DST).
	ref := time.Date(2000, 1, 1, 0, 0, 0, 0, loc)
	if len(yearF.vals) > 0 {
		ref = time.Date(yearF.vals[0], 1, 1, 0, 0, 0, 0, loc).AddDate(0, 0, -2)
	}
	if _, ok := c.Next(ref); !ok {
		return nil, &Error{Expr: expr, err: ErrNeverFires, Reason: "never fires"}
	}
	return c, nil
}

// safeParse calls parse (cronexpr.Parse) on a canonical expression,
// turning a panic or a rejection into an error. The validator and the
// canonical form should make both unreachable; this is the last guard.
func safeParse(s string, parse func(string) (*cronexpr.Expression, error), hook guardHook) (e *cronexpr.Expression, err error) {
	defer func() {
		if r := recover(); r != nil {
			hook.fire("Parse: cronexpr panicked on "+strconv.Quote(s), r)
			e, err = nil, fmt.Errorf("internal error: cronexpr panicked on %q: %v", s, r)
		}
	}()
	e, err = parse(s)
	if err != nil {
		hook.fire("Parse: cronexpr rejected "+strconv.Quote(s), err)
		return nil, fmt.Errorf("internal error: cronexpr rejected %q: %w", s, err)
	}
	return e, nil
}

// guardHook, when not nil, is called when a guard that the validator should
// make unreachable fires: a panic recovered in Parse or Next, cronexpr
// rejecting a canonical expression, or cronexpr answering a time not after
// its input. Every guard answers safely -- an error from Parse, "no next
// time" from Next -- so without the hook a guard that fires would pass for
// an ordinary invalid or never-firing expression. Production never has one
// (Parse passes nil). Tests and the fuzz target pass theirs to parse, and
// it travels in the Expr they get back, so no package state is shared and
// they may run in parallel.
type guardHook func(where string, detail any)

// fire calls h, if there is one.
func (h guardHook) fire(where string, detail any) {
	if h != nil {
		h(where, detail)
	}
}

// unreachable fires c's guard hook, if any (c may be nil: Next recovers
// from that).
func (c *Expr) unreachable(where string, detail any) {
	if c != nil && c.hook != nil {
		c.hook.fire(where, detail)
	}
}

func (s fieldSpec) fullMask() uint64 {
	var m uint64
	for v := s.lo; v <= s.starHi; v++ {
		m |= 1 << uint(v)
	}
	return m
}

// domNever reports whether the day-of-month field alone (AND semantics) can
// never name an existing day of the months allowed.
func domNever(dom, mon parsedField) bool {
	maxLen := 0
	for _, m := range mon.vals {
		maxLen = max(maxLen, daysIn(time.Month(m), 2000)) // leap year: Feb 29 exists
	}
	for _, s := range dom.specials {
		if s == "L" || s == "LW" {
			return false
		}
		n, _ := strconv.Atoi(strings.TrimSuffix(s, "W"))
		if n <= maxLen {
			return false
		}
	}
	return len(dom.vals) == 0 || dom.vals[0] > maxLen
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseField validates one field. It returns a reason when invalid.
func parseField(text string, s fieldSpec) (parsedField, string) {
	f := parsedField{text: text}
	if text == "?" {
		if !s.special {
			return f, "'?' is only allowed in day of month and day of week"
		}
		text = "*"
	}
	f.star = text[0] == '*'
	seen := make(map[int]bool)
	for _, el := range strings.Split(text, ",") {
		if el == "" {
			return f, fmt.Sprintf("empty element in list %q", truncate(text, 30))
		}
		if s.special {
			if sp, ok, reason := parseSpecial(el, s); reason != "" {
				return f, reason
			} else if ok {
				f.specials = append(f.specials, sp)
				continue
			}
		}
		lo, hi, step, reason := parseElem(el, s)
		if reason != "" {
			return f, reason
		}
		for v := lo; v <= hi; v += step {
			seen[v] = true
		}
	}
	if s.name == specDow.name && seen[7] {
		seen[0], seen[7] = true, false // 7 is Sunday
	}
	if f.star && len(f.specials) > 0 {
		return f, fmt.Sprintf("%s cannot be combined with a list starting with '*'", f.specials[0])
	}
	for v := s.lo; v <= s.hi; v++ {
		if seen[v] {
			f.vals = append(f.vals, v)
		}
	}
	return f, ""
}

// parseElem parses "*", "N", "A-B", with an optional "/STEP".
func parseElem(el string, s fieldSpec) (lo, hi, step int, reason string) {
	base, stepText, hasStep := strings.Cut(el, "/")
	step = 1
	if hasStep {
		n, ok := number(stepText)
		if !ok {
			return 0, 0, 0, fmt.Sprintf("bad step %q in %q", truncate(stepText, 20), truncate(el, 30))
		}
		if n < 1 {
			return 0, 0, 0, fmt.Sprintf("step %d in %q must be at least 1", n, truncate(el, 30))
		}
		if n > s.starHi-s.lo {
			return 0, 0, 0, fmt.Sprintf("step %d in %q exceeds %d", n, truncate(el, 30), s.starHi-s.lo)
		}
		step = n
	}
	if base == "*" {
		return s.lo, s.starHi, step, ""
	}
	if base == "?" {
		if !s.special {
			return 0, 0, 0, "'?' is only allowed in day of month and day of week"
		}
		return 0, 0, 0, "'?' must be the whole field"
	}
	a, b, isRange := strings.Cut(base, "-")
	lo, reason = value(a, s, false)
	if reason != "" {
		return 0, 0, 0, reason
	}
	if !isRange {
		if hasStep { // "N/S": N through the end of the field
			if lo > s.starHi { // day of week 7: nothing up to 6, where '*' ends
				return 0, 0, 0, fmt.Sprintf("%q names no value: N/S counts from N up to %d", truncate(el, 30), s.starHi)
			}
			return lo, s.starHi, step, ""
		}
		return lo, lo, 1, ""
	}
	hi, reason = value(b, s, lo > 0)
	if reason != "" {
		return 0, 0, 0, reason
	}
	// Ends written to different widths with a leading zero on one ("01-3",
	// "1-05") are ambiguous to a reader (is 05 octal? a typo?), so ask for one
	// spelling; "01-03", "08-17" (both two digits) and "1-5" are fine.
	// (cronexpr reads a padded month as 0: given "1-05" it would panic.)
	if (zeroPadded(a) || zeroPadded(b)) && len(a) != len(b) {
		return 0, 0, 0, fmt.Sprintf("range %s pads one end with zeros and not the other; write %d-%d", base, lo, hi)
	}
	if lo > hi {
		if s.name == specDow.name {
			return 0, 0, 0, fmt.Sprintf("range %s wraps around the week; list it instead (e.g. 5-7,1 for fri-mon)", base)
		}
		return 0, 0, 0, fmt.Sprintf("range %s is reversed (start after end)", base)
	}
	return lo, hi, step, ""
}

// value parses a number or a name. SUN ending a range that starts after
// Sunday reads as 7, so "sat-sun" is Saturday and Sunday.
func value(t string, s fieldSpec, rangeEnd bool) (int, string) {
	if t == "" {
		return 0, "missing value"
	}
	if n, ok := number(t); ok {
		if n < s.lo || n > s.hi {
			return 0, fmt.Sprintf("value %s out of range %d-%d", truncate(t, 12), s.lo, s.hi)
		}
		return n, ""
	}
	if s.names != nil {
		if n, ok := s.names[strings.ToLower(t)]; ok {
			if rangeEnd && s.name == specDow.name && n == 0 {
				n = 7
			}
			return n, ""
		}
	}
	return 0, fmt.Sprintf("bad value %q", truncate(t, 20))
}

// zeroPadded reports whether t is a number written with a leading zero ("05").
func zeroPadded(t string) bool {
	_, ok := number(t)
	return ok && len(t) > 1 && t[0] == '0'
}

// number parses up to 9 decimal digits (leading zeros allowed: "01" is 1).
func number(t string) (int, bool) {
	if t == "" || len(t) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return 0, false
		}
		n = n*10 + int(t[i]-'0')
	}
	return n, true
}

// parseSpecial recognises L, LW, NW (day of month) and NL, N#K (day of
// week), returning cronexpr's canonical spelling. ok is false for elements
// that are not specials.
func parseSpecial(el string, s fieldSpec) (canon string, ok bool, reason string) {
	u := strings.ToUpper(el)
	if s.name == specDom.name {
		switch {
		case u == "L" || u == "LW":
			return u, true, ""
		case strings.HasSuffix(u, "W"):
			n, isNum := number(u[:len(u)-1])
			if !isNum || n < 1 || n > 31 {
				return "", false, fmt.Sprintf("bad weekday form %q (want 1W-31W or LW)", truncate(el, 20))
			}
			return strconv.Itoa(n) + "W", true, ""
		case strings.ContainsAny(u, "L#"):
			return "", false, fmt.Sprintf("bad value %q (day of month allows L, LW and NW)", truncate(el, 20))
		}
		return "", false, ""
	}
	// Day of week.
	if d, k, found := strings.Cut(u, "#"); found {
		w, r := value(d, s, false)
		if r != "" {
			return "", false, r
		}
		n, isNum := number(k)
		if !isNum || n < 1 || n > 5 {
			return "", false, fmt.Sprintf("bad %q: the week after '#' must be 1-5", truncate(el, 20))
		}
		return fmt.Sprintf("%d#%d", w%7, n), true, ""
	}
	if strings.HasSuffix(u, "L") && !strings.ContainsAny(u, "-/*,") {
		d := u[:len(u)-1]
		if d == "" {
			return "", false, "'L' alone is not allowed in day of week (use e.g. 5L for the last Friday)"
		}
		w, r := value(d, s, false)
		if r != "" {
			return "", false, r
		}
		return fmt.Sprintf("%dL", w%7), true, ""
	}
	return "", false, ""
}

// maxSegments caps the walk over zone offset periods in Next (two per year
// for most zones; the walk stops at 2100 anyway).
const maxSegments = 2000

// maxDaySkips caps the day filter loop: one iteration skips at least a day.
const maxDaySkips = 60000

var (
	minTime = time.Date(1969, 12, 29, 0, 0, 0, 0, time.UTC) // cronexpr has no year before 1970
	endTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)   // give up here
)

// Next returns the first fire instant strictly after t, in c's zone, and
// false when there is none before 2100.
//
// Daylight saving follows Vixie cron. A fixed schedule (no '*' in minute and
// hour) fires once, at the end of the gap, for times skipped by a jump
// forward (several skipped times collapse into that one firing), and only at
// the first occurrence of a repeated time. Other (wildcard) schedules fire at
// every real instant whose wall clock matches: in both copies of a repeated
// hour, and not for skipped times -- except that a skipped time in the same
// local hour (same date and hour) as the end of the gap fires at the end of
// the gap, collapsing like a fixed schedule's: that hour still partly exists,
// so an hourly job still runs once for it, at its first real instant. So on
// Lord Howe's 2026-10-04 jump from 02:00 +10:30 to 02:30 +11, "0 * * * *"
// fires at 02:30 +11 for the skipped 02:00, while a gap that swallows a
// whole hour (New York, Berlin: 02:00 to 03:00) drops wildcard matches in
// it, as 03:00 belongs to another hour.
//
// How: real time is cut into segments of constant UTC offset (ZoneBounds).
// Within a segment, wall clock = instant + offset is monotonic, so cronexpr
// runs on wall-clock time written in UTC, where time.Date is exact, and the
// first match inside the segment's wall range maps back to the answer.
func (c *Expr) Next(t time.Time) (next time.Time, ok bool) {
	defer func() {
		if r := recover(); r != nil { // last guard; the validator should make it unreachable
			c.unreachable("Next", r)
			next, ok = time.Time{}, false
		}
	}()
	if t.Before(minTime) {
		t = minTime
	}
	if !t.Before(endTime) {
		return time.Time{}, false
	}
	e := *c.ce // private copy: cronexpr's Next writes into the Expression

	x := t.In(c.loc)
	_, off := x.Zone()
	start, end := x.ZoneBounds()
	prevEnd := time.Time{} // wall clock at which the previous segment ended
	if !start.IsZero() {
		_, po := start.Add(-time.Nanosecond).In(c.loc).Zone()
		prevEnd = wallAt(start, po)
	}
	first := true
	for range maxSegments {
		var from time.Time // search wall matches >= from (or > from when strict)
		strict := false
		if first {
			from, strict = wallAt(t, off), true
		} else {
			from = wallAt(start, off)
			if lo := c.gapFrom(prevEnd, from); lo.Before(from) {
				// Jump forward: walls [prevEnd, from) were skipped, and a
				// match in [lo, from) fires once at the transition.
				if w := c.wallNext(&e, lo, false); !w.IsZero() && w.Before(from) {
					return start.In(c.loc), true
				}
			}
		}
		if c.fixed && !prevEnd.IsZero() && prevEnd.After(from) {
			// Fall back: walls before prevEnd already happened in the
			// previous segment; a fixed schedule fires only the first time.
			from, strict = prevEnd, false
		}
		w := c.wallNext(&e, from, strict)
		if w.IsZero() || !w.Before(endTime) {
			return time.Time{}, false
		}
		if end.IsZero() || w.Before(wallAt(end, off)) {
			return w.Add(-time.Duration(off) * time.Second).In(c.loc), true
		}
		// No match in this segment: step into the next one.
		prevEnd = wallAt(end, off)
		start = end
		if !start.Before(endTime) {
			return time.Time{}, false
		}
		y := start.In(c.loc)
		_, off = y.Zone()
		_, end = y.ZoneBounds()
		first = false
	}
	return time.Time{}, false
}

// gapFrom returns where the skipped walls that fire at the end of a jump
// forward begin, for a gap of walls [prevEnd, from) (nothing fires when the
// result is not before from). A fixed schedule makes up for the whole gap; a
// wildcard one only for the part in from's own local hour (same date and
// hour), which is empty when from is on the hour. Walls are written in UTC,
// where Truncate(time.Hour) is the local hour's start.
func (c *Expr) gapFrom(prevEnd, from time.Time) time.Time {
	if prevEnd.IsZero() || !prevEnd.Before(from) {
		return from // no gap
	}
	if c.fixed {
		return prevEnd
	}
	if h := from.Truncate(time.Hour); h.After(prevEnd) {
		return h
	}
	return prevEnd
}

// wallAt is the wall clock of instant t at offset off seconds, as UTC.
func wallAt(t time.Time, off int) time.Time {
	return t.UTC().Add(time.Duration(off) * time.Second)
}

// wallNext returns the first wall-clock match after w (strictly, or at or
// after w when !strict), or the zero time when there is none.
func (c *Expr) wallNext(e *cronexpr.Expression, w time.Time, strict bool) time.Time {
	if !strict {
		w = w.Add(-time.Nanosecond) // cronexpr's Next is strict
	}
	for range maxDaySkips {
		n := e.Next(w)
		if n.IsZero() { // past 2099
			return time.Time{}
		}
		if !n.After(w) { // a cronexpr bug our canon should avoid; never go back
			c.unreachable("Next: cronexpr went back", fmt.Sprintf("Next(%s) = %s", w.Format(time.RFC3339Nano), n.Format(time.RFC3339Nano)))
			return time.Time{}
		}
		if c.dayOK(n) {
			return n
		}
		y, m, d := n.Date() // skip the rest of that day
		w = time.Date(y, m, d, 23, 59, 59, 0, time.UTC)
	}
	return time.Time{}
}

func (c *Expr) dayOK(w time.Time) bool {
	if c.domMask != 0 && c.domMask&(1<<uint(w.Day())) == 0 {
		return false
	}
	if c.dowMask != 0 && c.dowMask&(1<<uint(w.Weekday())) == 0 {
		return false
	}
	return true
}

// Interval fires at Anchor + k*Every, k >= 0 (Every whole seconds, > 0).
type Interval struct {
	Anchor time.Time
	Every  time.Duration
}

// Next returns the first Anchor+k*Every strictly after t; Anchor itself when
// t is before it. It returns false when Every is not a positive whole number
// of seconds, or the answer is too far away to represent.
func (iv Interval) Next(t time.Time) (time.Time, bool) {
	if iv.Every < time.Second || iv.Every%time.Second != 0 {
		return time.Time{}, false
	}
	if t.Before(iv.Anchor) {
		return iv.Anchor, true
	}
	d := t.Sub(iv.Anchor) // saturates at ~292 years
	if d > (1<<63-1)-iv.Every {
		return time.Time{}, false
	}
	k := d/iv.Every + 1
	return iv.Anchor.Add(k * iv.Every), true
}
