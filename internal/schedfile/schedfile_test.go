package schedfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/scheduler"
)

const full = `# every key
x-defaults: &defaults
  queue: reports
  timezone: Europe/Berlin
schedules:
  - name: daily-report
    <<: *defaults
    func: myapp.tasks.report
    cron: "0 9 * * 1-5"
    args: ["sales", 3, 1.50, 12345678901234567890123]
    kwargs: {format: pdf, pages: null, deep: {a: [true, false]}}
    timeout_secs: 600
    result_ttl: 0
    failure_ttl: 86400
    meta: {team: bi}
    priority: -5
    max_attempts: 3
    paused: false
    catchup: all
    catchup_window_secs: 3600
    overlap: buffer_one
    starts_at: 2030-01-01T00:00:00Z
    ends_at: "2036-01-01T00:00:00+01:00"
    jitter_secs: 30
    remaining_runs: 7
    pause_after_failures: 4
    start_deadline_secs: 1800
    max_runtime_secs: 300
    exclude_calendar: de-holidays
    labels:
      team: billing
      tenant: 42
  - func: myapp.tasks.ping
    interval_secs: 30
`

func TestParseEveryKey(t *testing.T) {
	jobs, err := Parse("s.yaml", []byte(full))
	if err != nil {
		t.Fatal(err)
	}
	seven := 7
	want := []scheduler.CronJob{{
		Name: "daily-report", Func: "myapp.tasks.report", Cron: "0 9 * * 1-5", Queue: "reports", Timezone: "Europe/Berlin",
		Args:    json.RawMessage(`["sales",3,1.50,12345678901234567890123]`),
		Kwargs:  json.RawMessage(`{"format":"pdf","pages":null,"deep":{"a":[true,false]}}`),
		Timeout: 600 * time.Second, FailureTTL: 24 * time.Hour, Meta: json.RawMessage(`{"team":"bi"}`),
		Priority: -5, MaxAttempts: 3, ApplyPaused: true, Catchup: "all", CatchupWindow: time.Hour, Overlap: "buffer_one",
		StartsAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), EndsAt: time.Date(2035, 12, 31, 23, 0, 0, 0, time.UTC),
		Jitter: 30 * time.Second, RemainingRuns: &seven, PauseAfterFailures: 4,
		StartDeadline: 30 * time.Minute, MaxRuntime: 5 * time.Minute, ExcludeCalendar: "de-holidays",
		Labels: map[string]string{"team": "billing", "tenant": "42"}, Zero: []string{"ResultTTL"},
	}, {Func: "myapp.tasks.ping", Interval: 30 * time.Second}}
	if len(jobs) != 2 {
		t.Fatalf("%d jobs", len(jobs))
	}
	if !jobs[0].EndsAt.Equal(want[0].EndsAt) {
		t.Errorf("ends_at %s", jobs[0].EndsAt)
	}
	jobs[0].EndsAt = want[0].EndsAt
	if !reflect.DeepEqual(jobs, want) {
		t.Errorf("got\n%+v\nwant\n%+v", jobs, want)
	}
}

// Every problem is reported at once, each with the file, its line and the entry.
func TestParseProblems(t *testing.T) {
	src := `schedules:
  - name: a
    func: app.a
    cron: "0 9 * * *"
    queu: reports
  - name: b
    func: app.b
    cron: "61 * * * *"
  - name: c
    func: app.c
    interval_secs: 0
    catchup: sometimes
  - name: a
    func: app.a2
    interval_secs: 5
  - name: d
    func: app.d
    interval_secs: 5
    timezone: Mars/Olympus
  - name: e
    func: app.e
    interval_secs: 5
    interval_secs: 6
  - name: f
    func: app.f
  - name: g
    func: app.g
    interval_secs: "5"
    labels: {tenant: [1]}
    args: {a: 1}
    paused: null
  - name: h
    func: app.h
    interval_secs: 5
    start_deadline_secs: 0
    max_runtime_secs: -5
    exclude_calendar: 42
  - name: i
    func: app.i
    interval_secs: 5
    jitter_secs: 60
    start_deadline_secs: 60
  - name: j
    func: app.j
    interval_secs: 5
    exclude_calendar: "  "
  - name: k
    func: app.k
    interval_secs: 5
    deadline: 60
    start_deadline_secs: "1m"
`
	_, err := Parse("team.yaml", []byte(src))
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("want an *Error, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`team.yaml:5: schedule "a" (entry 1): unknown key "queu": did you mean queue?`,
		`team.yaml:8: schedule "b" (entry 2): cron: `,
		`team.yaml:11: schedule "c" (entry 3): interval_secs: 0: must be positive`,
		`team.yaml:13: schedule "a" (entry 4): name: listed twice: first at line 2`,
		`team.yaml:19: schedule "d" (entry 5): timezone: "Mars/Olympus" is not an IANA zone name`,
		`team.yaml:23: schedule "e" (entry 6): interval_secs: given twice: first at line 22`,
		`team.yaml:24: schedule "f" (entry 7): needs exactly one of cron and interval_secs`,
		`team.yaml:28: schedule "g" (entry 8): interval_secs: want a whole number, not the str "5"`,
		`team.yaml:29: schedule "g" (entry 8): labels: "tenant": want text, not a list`,
		`team.yaml:30: schedule "g" (entry 8): args: want a list (a JSON array), not a mapping`,
		`team.yaml:31: schedule "g" (entry 8): paused: null: leave the key out`,
		`team.yaml:35: schedule "h" (entry 9): start_deadline_secs: 0: must be positive`,
		`team.yaml:36: schedule "h" (entry 9): max_runtime_secs: -5: must be positive`,
		`team.yaml:37: schedule "h" (entry 9): exclude_calendar: want text, not the int "42"`,
		`team.yaml:42: schedule "i" (entry 10): start_deadline_secs: 60 seconds: must be longer than the jitter (60 seconds)`,
		`team.yaml:46: schedule "j" (entry 11): exclude_calendar: must not be blank`,
		`team.yaml:50: schedule "k" (entry 12): unknown key "deadline": did you mean start_deadline_secs?`,
		`team.yaml:51: schedule "k" (entry 12): start_deadline_secs: want a whole number, not the str "1m"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	// catchup is checked once the entry has no problem of its own kind: c's first
	// problem is enough to refuse it.
	if strings.Count(msg, "\n")+1 != len(fe.Problems) {
		t.Errorf("one line per problem:\n%s", msg)
	}
}

func TestParseWholeFileProblems(t *testing.T) {
	for src, want := range map[string]string{
		"":                                  "f.yaml: empty",
		"schedules:\n":                      "f.yaml:1: schedules: want a list of schedules, not null",
		"jobs: []\n":                        `f.yaml:1: unknown key "jobs"`,
		"schedules: [\n":                    "f.yaml:",
		"schedules: []\n---\nschedules: []": "more than one YAML document",
		"- a\n":                             "f.yaml:1: want a mapping with the key schedules, not a list",
		"x-a: 1\n":                          "no schedules: key",
		"schedules: [1]\n":                  "f.yaml:1: entry 1: want a mapping of a schedule's columns, not the int \"1\"",
		`{"schedules": [{"func": "a", "interval_secs": 1}]}`: "",
	} {
		_, err := Parse("f.yaml", []byte(src))
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", src, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: want %q, got %v", src, want, err)
		}
	}
}

// What Write writes, Parse reads back to the same schedules; defaults are left out,
// and nothing unprintable reaches the terminal.
func TestWriteParseRoundTrip(t *testing.T) {
	jobs, err := Parse("s.yaml", []byte(full))
	if err != nil {
		t.Fatal(err)
	}
	odd := scheduler.CronJob{Name: "odd\x1b[31m\u202e: yes", Func: "true", Cron: "@daily", Queue: "123",
		Args:   json.RawMessage(`["\u001b", "\u202e", "a\"b\\c"]`),
		Labels: map[string]string{"k: v": "null", "on": "0x1F"}}
	jobs = append(jobs, odd)
	var b bytes.Buffer
	if err := Write(&b, jobs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log(out)
	for _, r := range out {
		if r == 0x1b || r == 0x202e {
			t.Fatalf("unprintable %U written", r)
		}
	}
	back, err := Parse("out.yaml", b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	jobs[1].Name = jobs[1].Func // written out
	// paused: false is state Write keeps only when asked (ApplyPaused).
	for i := range back {
		if !reflect.DeepEqual(normal(t, back[i]), normal(t, jobs[i])) {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, back[i], jobs[i])
		}
	}
	var none bytes.Buffer
	_ = Write(&none, nil)
	if none.String() != "schedules: []\n" {
		t.Errorf("no schedules: %q", none.String())
	}
}

// normal compacts JSON fields and puts instants in UTC, for comparison.
func normal(t *testing.T, j scheduler.CronJob) scheduler.CronJob {
	for _, f := range []*json.RawMessage{&j.Args, &j.Kwargs, &j.Meta} {
		if len(*f) > 0 {
			var v any
			dec := json.NewDecoder(bytes.NewReader(*f))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			*f, _ = json.Marshal(v)
		}
	}
	j.StartsAt, j.EndsAt = j.StartsAt.UTC(), j.EndsAt.UTC()
	return j
}
