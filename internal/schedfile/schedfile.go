// Package schedfile reads and writes the schedules file of `werkcron apply` and
// `werkcron export`: YAML (so JSON too) with a top-level list, schedules, whose entries
// use the column names of werk_cron_jobs:
//
//	schedules:
//	  - name: daily-report
//	    func: myapp.tasks.report
//	    cron: "0 9 * * 1-5"
//	    timezone: Europe/Berlin
//	    labels: {team: billing}
//
// Parse checks everything Go can (unknown and duplicate keys, duplicate names, types,
// ranges, sizes, cron expressions, time zones) and reports every problem with the file,
// line and entry; the database's constraints stay the final word.
package schedfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"go.yaml.in/yaml/v3"

	"github.com/pgwerk/werkcron/scheduler"
)

// Problem is one thing wrong with a file.
type Problem struct {
	Line int // 1-based; 0 when the file as a whole is wrong
	// Entry is the schedule's 1-based position in the list (0: none), Schedule its
	// name when known, Key the key at fault ("" for the entry as a whole).
	Entry    int
	Schedule string
	Key      string
	Msg      string
}

// Error lists every problem found in a file; nothing in it should be applied.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
		switch {
		case p.Entry > 0 && p.Schedule != "":
			fmt.Fprintf(&b, "schedule %s (entry %d): ", strconv.Quote(p.Schedule), p.Entry)
		case p.Entry > 0:
			fmt.Fprintf(&b, "entry %d: ", p.Entry)
		}
		if p.Key != "" {
			b.WriteString(p.Key + ": ")
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}

// maxProblems bounds how many problems one Error lists.
const maxProblems = 50

// Keys are the keys of an entry, in the order Write writes them: werk_cron_jobs's
// column names.
var Keys = []string{"name", "func", "cron", "interval_secs", "timezone", "queue", "args", "kwargs",
	"timeout_secs", "result_ttl", "failure_ttl", "meta", "priority", "max_attempts", "paused", "catchup",
	"catchup_window_secs", "overlap", "starts_at", "ends_at", "jitter_secs", "remaining_runs",
	"pause_after_failures", "start_deadline_secs", "max_runtime_secs", "exclude_calendar", "labels"}

// keyOfField maps a scheduler.CronJob field to its key, for the problems
// CronJob.Check reports.
var keyOfField = map[string]string{
	"Name": "name", "Func": "func", "Cron": "cron", "Interval": "interval_secs", "Timezone": "timezone",
	"Queue": "queue", "Args": "args", "Kwargs": "kwargs", "Timeout": "timeout_secs", "ResultTTL": "result_ttl",
	"FailureTTL": "failure_ttl", "Meta": "meta", "Priority": "priority", "MaxAttempts": "max_attempts",
	"Paused": "paused", "Catchup": "catchup", "CatchupWindow": "catchup_window_secs", "Overlap": "overlap",
	"StartsAt": "starts_at", "EndsAt": "ends_at", "Jitter": "jitter_secs", "RemainingRuns": "remaining_runs",
	"PauseAfterFailures": "pause_after_failures", "StartDeadline": "start_deadline_secs",
	"MaxRuntime": "max_runtime_secs", "ExcludeCalendar": "exclude_calendar", "Labels": "labels",
}

// parser collects the problems of one file.
type parser struct {
	file     string
	problems []Problem
}

func (p *parser) add(line, entry int, schedule, key, format string, args ...any) {
	if len(p.problems) < maxProblems {
		p.problems = append(p.problems, Problem{Line: line, Entry: entry, Schedule: schedule, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
}

// Parse reads the schedules file data, naming it file in problems. It returns the
// schedules in the order listed, or an *Error with every problem found.
func Parse(file string, data []byte) ([]scheduler.CronJob, error) {
	p := &parser{file: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		p.add(0, 0, "", "", "empty: want a top-level schedules: list (schedules: [] for none)")
		return nil, p.err()
	case err != nil:
		line, msg := yamlError(err)
		p.add(line, 0, "", "", "%s", msg)
		return nil, p.err()
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		line := 0
		if err == nil {
			line = more.Line
		}
		p.add(line, 0, "", "", "more than one YAML document: want one")
		return nil, p.err()
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		p.add(root.Line, 0, "", "", "want a mapping with the key schedules, not %s", kindOf(root))
		return nil, p.err()
	}
	var list *yaml.Node
	for _, kv := range p.pairs(root, 0, "") {
		switch k := kv[0].Value; {
		case k == "schedules":
			list = resolve(kv[1])
		case strings.HasPrefix(k, "x-"): // room for anchors: x-defaults: &defaults {...}
		default:
			p.add(kv[0].Line, 0, "", "", "unknown key %s: want schedules (or x-... for anchors)", strconv.Quote(k))
		}
	}
	if list == nil {
		if len(p.problems) == 0 {
			p.add(root.Line, 0, "", "", "no schedules: key (schedules: [] for none)")
		}
		return nil, p.err()
	}
	if list.Kind != yaml.SequenceNode {
		p.add(list.Line, 0, "", "schedules", "want a list of schedules, not %s (schedules: [] for none)", kindOf(list))
		return nil, p.err()
	}
	jobs := make([]scheduler.CronJob, 0, len(list.Content))
	firstLine := map[string]int{}
	for i, item := range list.Content {
		j, ok := p.entry(resolve(item), i+1)
		name := j.Name
		if name == "" {
			name = j.Func
		}
		if at, dup := firstLine[name]; dup && name != "" {
			p.add(item.Line, i+1, name, "name", "listed twice: first at line %d", at)
			continue
		}
		firstLine[name] = item.Line
		if ok {
			jobs = append(jobs, j)
		}
	}
	if len(p.problems) > 0 {
		return nil, p.err()
	}
	return jobs, nil
}

func (p *parser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	return &Error{File: p.file, Problems: p.problems}
}

// yamlError splits the YAML parser's "yaml: line N: msg" into N and msg.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func yamlError(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, m[2]
	}
	return 0, msg
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func kindOf(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "null"
		}
		return "the " + strings.TrimPrefix(n.ShortTag(), "!!") + " " + strconv.Quote(clip(n.Value))
	}
	return "nothing"
}

// pairs returns a mapping's key-value pairs, with merge keys (<<: *defaults) expanded
// (keys given in the mapping itself win) and every duplicate key reported.
func (p *parser) pairs(m *yaml.Node, entry int, schedule string) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	seen := map[string]int{}
	var merged [][2]*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.ShortTag() == "!!merge" {
			src := resolve(v)
			var maps []*yaml.Node
			switch src.Kind {
			case yaml.MappingNode:
				maps = []*yaml.Node{src}
			case yaml.SequenceNode:
				for _, s := range src.Content {
					maps = append(maps, resolve(s))
				}
			}
			for _, mm := range maps {
				if mm.Kind != yaml.MappingNode {
					p.add(v.Line, entry, schedule, "<<", "want a mapping (or a list of them) to merge, not %s", kindOf(mm))
					continue
				}
				merged = append(merged, p.pairs(mm, entry, schedule)...)
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			p.add(k.Line, entry, schedule, "", "want a text key, not %s", kindOf(k))
			continue
		}
		if at, dup := seen[k.Value]; dup {
			p.add(k.Line, entry, schedule, k.Value, "given twice: first at line %d", at)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, [2]*yaml.Node{k, v})
	}
	for _, kv := range merged {
		if _, given := seen[kv[0].Value]; !given {
			seen[kv[0].Value] = kv[0].Line
			out = append(out, kv)
		}
	}
	return out
}

// entry reads one schedule; ok is false when it had a problem.
func (p *parser) entry(n *yaml.Node, idx int) (scheduler.CronJob, bool) {
	var j scheduler.CronJob
	if n.Kind != yaml.MappingNode {
		p.add(n.Line, idx, "", "", "want a mapping of a schedule's columns, not %s", kindOf(n))
		return j, false
	}
	before := len(p.problems)
	// The name first, so that every problem names the schedule.
	name := ""
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i].Value, resolve(n.Content[i+1]); v.Kind == yaml.ScalarNode && (k == "name" || (k == "func" && name == "")) {
			name = v.Value
		}
	}
	kvs := p.pairs(n, idx, name)
	lines := map[string]int{}
	for _, kv := range kvs {
		switch kv[0].Value {
		case "name":
			j.Name, _ = p.str(kv[1], idx, name, "name")
		case "func":
			j.Func, _ = p.str(kv[1], idx, name, "func")
		}
	}
	for _, kv := range kvs {
		k, v := kv[0].Value, resolve(kv[1])
		lines[k] = kv[0].Line
		if k == "name" || k == "func" {
			continue
		}
		if !known(k) {
			p.add(kv[0].Line, idx, name, "", "unknown key %s%s", strconv.Quote(k), suggest(k))
			continue
		}
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
			p.add(v.Line, idx, name, k, "null: leave the key out for the column's default")
			continue
		}
		p.set(&j, k, v, idx, name)
	}
	if j.Func == "" && lines["func"] == 0 {
		p.add(n.Line, idx, name, "", "func is required")
	}
	if (lines["cron"] == 0) == (lines["interval_secs"] == 0) {
		p.add(n.Line, idx, name, "", "needs exactly one of cron and interval_secs")
	}
	// What Check finds is reported too, unless it is about a key already reported
	// (a value that could not be read is zero, which Check would take for missing).
	ok := len(p.problems) == before
	if err := j.Check(); err != nil {
		var ve *scheduler.ValidationError
		key, reason := "", err.Error()
		if errors.As(err, &ve) {
			key, reason = keyOfField[ve.Field], ve.Reason
		}
		timing := errors.Is(err, scheduler.ErrCronOrInterval) // missing, when one could not be read
		if ok || !(p.reported(before, key) || timing && (p.reported(before, "cron") || p.reported(before, "interval_secs"))) {
			line := lines[key]
			if line == 0 {
				line = n.Line
			}
			p.add(line, idx, name, key, "%s", reason)
		}
		return j, false
	}
	return j, ok
}

// reported reports whether a problem since the first-th names key, or the entry as a
// whole (a missing func or timing).
func (p *parser) reported(first int, key string) bool {
	for _, pr := range p.problems[first:] {
		if pr.Key == key || pr.Key == "" && !strings.HasPrefix(pr.Msg, "unknown key") {
			return true
		}
	}
	return false
}

func known(k string) bool {
	for _, x := range Keys {
		if x == k {
			return true
		}
	}
	return false
}

// suggest names a key close to k: a typo, or a CLI flag or Go field's spelling.
func suggest(k string) string {
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s)) }
	aliases := map[string]string{"every": "interval_secs", "interval": "interval_secs", "tz": "timezone",
		"timeout": "timeout_secs", "jitter": "jitter_secs", "catchupwindow": "catchup_window_secs",
		"label": "labels", "schedule": "cron or interval_secs", "startdeadline": "start_deadline_secs",
		"deadline": "start_deadline_secs", "maxruntime": "max_runtime_secs", "runtime": "max_runtime_secs",
		"calendar": "exclude_calendar"}
	if a, ok := aliases[norm(k)]; ok {
		return ": did you mean " + a + "?"
	}
	for _, x := range Keys {
		if norm(x) == norm(k) || distance(norm(x), norm(k)) <= 2 {
			return ": did you mean " + x + "?"
		}
	}
	return ": want one of " + strings.Join(Keys, ", ")
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// set reads the value v of key k into j.
func (p *parser) set(j *scheduler.CronJob, k string, v *yaml.Node, idx int, name string) {
	secs := func(lo int64, zeroField string) (time.Duration, bool) {
		n, ok := p.int(v, idx, name, k, lo, math.MaxInt32)
		if ok && n == 0 && zeroField != "" {
			j.Zero = append(j.Zero, zeroField)
		}
		return time.Duration(n) * time.Second, ok
	}
	switch k {
	case "cron":
		j.Cron, _ = p.str(v, idx, name, k)
	case "interval_secs":
		j.Interval, _ = secs(1, "")
	case "timezone":
		j.Timezone, _ = p.str(v, idx, name, k)
	case "queue":
		j.Queue, _ = p.str(v, idx, name, k)
	case "args", "kwargs", "meta":
		raw, ok := p.json(v, idx, name, k)
		if !ok {
			return
		}
		want, got := yaml.MappingNode, v.Kind
		if k == "args" {
			want = yaml.SequenceNode
		}
		if got != want {
			what := "a mapping (a JSON object)"
			if k == "args" {
				what = "a list (a JSON array)"
			}
			p.add(v.Line, idx, name, k, "want %s, not %s", what, kindOf(v))
			return
		}
		switch k {
		case "args":
			j.Args = raw
		case "kwargs":
			j.Kwargs = raw
		default:
			j.Meta = raw
		}
	case "timeout_secs":
		j.Timeout, _ = secs(1, "")
	case "result_ttl":
		j.ResultTTL, _ = secs(0, "ResultTTL")
	case "failure_ttl":
		j.FailureTTL, _ = secs(0, "FailureTTL")
	case "priority":
		n, _ := p.int(v, idx, name, k, math.MinInt16, math.MaxInt16)
		j.Priority = int(n)
	case "max_attempts":
		n, _ := p.int(v, idx, name, k, 1, math.MaxInt32)
		j.MaxAttempts = int(n)
	case "paused":
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!bool" {
			p.add(v.Line, idx, name, k, "want true or false, not %s", kindOf(v))
			return
		}
		_ = v.Decode(&j.Paused)
		j.ApplyPaused = true
	case "catchup":
		j.Catchup, _ = p.str(v, idx, name, k)
	case "catchup_window_secs":
		j.CatchupWindow, _ = secs(1, "")
	case "overlap":
		j.Overlap, _ = p.str(v, idx, name, k)
	case "starts_at":
		j.StartsAt, _ = p.instant(v, idx, name, k)
	case "ends_at":
		j.EndsAt, _ = p.instant(v, idx, name, k)
	case "jitter_secs":
		j.Jitter, _ = secs(0, "Jitter")
	case "remaining_runs":
		if n, ok := p.int(v, idx, name, k, 0, math.MaxInt32); ok {
			r := int(n)
			j.RemainingRuns = &r
		}
	case "pause_after_failures":
		n, _ := p.int(v, idx, name, k, 1, math.MaxInt32)
		j.PauseAfterFailures = int(n)
	case "start_deadline_secs":
		j.StartDeadline, _ = secs(1, "")
	case "max_runtime_secs":
		j.MaxRuntime, _ = secs(1, "")
	case "exclude_calendar":
		// "" would be the zero value, "none", silently: refused like the blank it is.
		if s, ok := p.str(v, idx, name, k); ok && s == "" {
			p.add(v.Line, idx, name, k, "must not be blank: leave the key out for none")
		} else {
			j.ExcludeCalendar = s
		}
	case "labels":
		j.Labels = p.labels(v, idx, name)
	}
}

func (p *parser) str(v *yaml.Node, idx int, name, k string) (string, bool) {
	v = resolve(v)
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		p.add(v.Line, idx, name, k, "want text, not %s (quote it)", kindOf(v))
		return "", false
	}
	return v.Value, true
}

func (p *parser) int(v *yaml.Node, idx int, name, k string, lo, hi int64) (int64, bool) {
	var n int64
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Decode(&n) != nil {
		p.add(v.Line, idx, name, k, "want a whole number, not %s", kindOf(v))
		return 0, false
	}
	if n < lo || n > hi {
		switch {
		case hi == math.MaxInt32 && lo == 1 && n < lo:
			p.add(v.Line, idx, name, k, "%d: must be positive", n)
		case hi == math.MaxInt32 && lo == 0 && n < lo:
			p.add(v.Line, idx, name, k, "%d: must not be negative", n)
		case hi == math.MaxInt32:
			p.add(v.Line, idx, name, k, "%d: at most %d", n, hi)
		default:
			p.add(v.Line, idx, name, k, "%d: want %d to %d", n, lo, hi)
		}
		return 0, false
	}
	return n, true
}

func (p *parser) instant(v *yaml.Node, idx int, name, k string) (time.Time, bool) {
	if v.Kind == yaml.ScalarNode && (v.ShortTag() == "!!str" || v.ShortTag() == "!!timestamp") {
		if t, err := time.Parse(time.RFC3339Nano, v.Value); err == nil {
			return t, true
		}
	}
	p.add(v.Line, idx, name, k, "want an RFC 3339 instant such as 2026-03-08T09:00:00Z, not %s", kindOf(v))
	return time.Time{}, false
}

func (p *parser) labels(v *yaml.Node, idx int, name string) map[string]string {
	if v.Kind != yaml.MappingNode {
		p.add(v.Line, idx, name, "labels", "want a mapping of label to text, not %s", kindOf(v))
		return nil
	}
	out := map[string]string{}
	for _, kv := range p.pairs(v, idx, name) {
		key, val := kv[0].Value, resolve(kv[1])
		if val.Kind != yaml.ScalarNode || val.ShortTag() == "!!null" {
			p.add(val.Line, idx, name, "labels", "%s: want text, not %s", strconv.Quote(key), kindOf(val))
			continue
		}
		out[key] = val.Value // a number or a boolean as written: tenant: 42 is "42"
	}
	return out
}

// jsonNumber is a number as JSON writes it.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// json converts a YAML value to JSON: mappings to objects, lists to arrays, and
// scalars by their YAML type (numbers as written where JSON can write them so).
func (p *parser) json(v *yaml.Node, idx int, name, k string) (json.RawMessage, bool) {
	var b bytes.Buffer
	ok := p.jsonTo(&b, resolve(v), idx, name, k, 0)
	return b.Bytes(), ok
}

func (p *parser) jsonTo(b *bytes.Buffer, v *yaml.Node, idx int, name, k string, depth int) bool {
	if depth > 100 {
		p.add(v.Line, idx, name, k, "nested more than 100 deep")
		return false
	}
	switch v.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		for i, kv := range p.pairs(v, idx, name) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(jsonString(kv[0].Value))
			b.WriteByte(':')
			if !p.jsonTo(b, resolve(kv[1]), idx, name, k, depth+1) {
				return false
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, e := range v.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if !p.jsonTo(b, resolve(e), idx, name, k, depth+1) {
				return false
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		switch v.ShortTag() {
		case "!!null":
			b.WriteString("null")
		case "!!bool":
			var t bool
			_ = v.Decode(&t)
			b.WriteString(strconv.FormatBool(t))
		case "!!int", "!!float":
			if jsonNumber.MatchString(v.Value) {
				b.WriteString(v.Value)
				break
			}
			var f float64
			if v.Decode(&f) != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				p.add(v.Line, idx, name, k, "%s: not a number JSON can hold", strconv.Quote(v.Value))
				return false
			}
			var n int64
			if v.ShortTag() == "!!int" && v.Decode(&n) == nil {
				b.WriteString(strconv.FormatInt(n, 10))
			} else {
				b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
			}
		case "!!str", "!!timestamp", "!!binary":
			b.WriteString(jsonString(v.Value))
		default:
			p.add(v.Line, idx, name, k, "unsupported YAML tag %s", v.Tag)
			return false
		}
	default:
		p.add(v.Line, idx, name, k, "want a JSON value, not %s", kindOf(v))
		return false
	}
	return true
}

func clip(s string) string {
	if r := []rune(s); len(r) > 60 {
		return string(r[:59]) + "…"
	}
	return s
}

// Write writes jobs as a schedules file that Parse reads back to the same schedules:
// the keys of Keys in that order, each field that is not zero (and those job.Zero
// names), every string that YAML could read as something else quoted, and anything not
// printable escaped, so that the file is safe to show on a terminal.
func Write(w io.Writer, jobs []scheduler.CronJob) error {
	var b bytes.Buffer
	if len(jobs) == 0 {
		b.WriteString("schedules: []\n")
		_, err := w.Write(b.Bytes())
		return err
	}
	b.WriteString("schedules:\n")
	for _, j := range jobs {
		first := true
		kv := func(k, v string) {
			if first {
				b.WriteString("  - ")
				first = false
			} else {
				b.WriteString("    ")
			}
			if v == "" {
				b.WriteString(k + ":\n")
			} else {
				b.WriteString(k + ": " + v + "\n")
			}
		}
		zero := func(f string) bool {
			for _, z := range j.Zero {
				if z == f {
					return true
				}
			}
			return false
		}
		secs := func(k string, d time.Duration, zeroField string) {
			if d != 0 || (zeroField != "" && zero(zeroField)) {
				kv(k, strconv.FormatInt(int64(d/time.Second), 10))
			}
		}
		str := func(k, v string) {
			if v != "" {
				kv(k, scalar(v))
			}
		}
		raw := func(k string, v json.RawMessage) {
			if len(bytes.TrimSpace(v)) > 0 {
				kv(k, PrintableJSON(bytes.TrimSpace(v)))
			}
		}
		name := j.Name
		if name == "" {
			name = j.Func
		}
		str("name", name)
		str("func", j.Func)
		str("cron", j.Cron)
		secs("interval_secs", j.Interval, "")
		str("timezone", j.Timezone)
		str("queue", j.Queue)
		raw("args", j.Args)
		raw("kwargs", j.Kwargs)
		secs("timeout_secs", j.Timeout, "")
		secs("result_ttl", j.ResultTTL, "ResultTTL")
		secs("failure_ttl", j.FailureTTL, "FailureTTL")
		raw("meta", j.Meta)
		if j.Priority != 0 {
			kv("priority", strconv.Itoa(j.Priority))
		}
		if j.MaxAttempts != 0 {
			kv("max_attempts", strconv.Itoa(j.MaxAttempts))
		}
		if j.Paused || j.ApplyPaused {
			kv("paused", strconv.FormatBool(j.Paused))
		}
		str("catchup", j.Catchup)
		secs("catchup_window_secs", j.CatchupWindow, "")
		str("overlap", j.Overlap)
		if !j.StartsAt.IsZero() {
			kv("starts_at", strconv.Quote(j.StartsAt.UTC().Format(time.RFC3339Nano)))
		}
		if !j.EndsAt.IsZero() {
			kv("ends_at", strconv.Quote(j.EndsAt.UTC().Format(time.RFC3339Nano)))
		}
		secs("jitter_secs", j.Jitter, "Jitter")
		if j.RemainingRuns != nil {
			kv("remaining_runs", strconv.Itoa(*j.RemainingRuns))
		}
		if j.PauseAfterFailures != 0 {
			kv("pause_after_failures", strconv.Itoa(j.PauseAfterFailures))
		}
		secs("start_deadline_secs", j.StartDeadline, "")
		secs("max_runtime_secs", j.MaxRuntime, "")
		str("exclude_calendar", j.ExcludeCalendar)
		if len(j.Labels) > 0 {
			kv("labels", "")
			keys := make([]string, 0, len(j.Labels))
			for k := range j.Labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				b.WriteString("      " + scalar(k) + ": " + scalar(j.Labels[k]) + "\n")
			}
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// plain are strings safe to write unquoted, if YAML reads them as text.
var plain = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_./@-]*$`)

// yaml11 are the words YAML 1.1 readers (PyYAML, ...) take for booleans or null.
var yaml11 = map[string]bool{"y": true, "n": true, "yes": true, "no": true, "on": true, "off": true,
	"true": true, "false": true, "null": true}

// scalar writes s as a YAML scalar: plain when every YAML reader reads it back as the
// same text, else double-quoted with JSON's escapes (which YAML's double quotes share).
func scalar(s string) string {
	if plain.MatchString(s) && !yaml11[strings.ToLower(s)] {
		n := yaml.Node{Kind: yaml.ScalarNode, Value: s}
		if n.ShortTag() == "!!str" {
			return s
		}
	}
	return PrintableJSON([]byte(jsonString(s)))
}

// jsonString is s as a JSON string, with <, > and & as themselves.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// PrintableJSON rewrites, inside the strings of the JSON text raw, every character
// that is not printable (control and format characters, which YAML refuses or a
// terminal obeys) as a \u escape: the same JSON, safe to print.
func PrintableJSON(raw []byte) string {
	var b strings.Builder
	inString, escaped := false, false
	for _, r := range string(raw) {
		switch {
		case !inString:
			if r == '"' {
				inString = true
			}
		case escaped:
			escaped = false
		case r == '\\':
			escaped = true
		case r == '"':
			inString = false
		case !strconv.IsPrint(r):
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
