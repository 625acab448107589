package scheduler_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgwerk/werkcron/internal/pgtest"
	"github.com/pgwerk/werkcron/scheduler"
)

// Labels through every way to write a schedule, and read back by status and filter.
func TestLabelsEverywhere(t *testing.T) {
	t.Parallel()
	s, pool, _ := newScheduler(t)
	ctx := context.Background()
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, labels) VALUES ('insert', 'app.a', 60, '{"tenant": "42"}')`)
	pgtest.Exec(t, pool, `SELECT werk_cron_schedule('fn', 'app.a', '1 minute', labels => '{"tenant": "42", "team": "billing"}')`)
	if _, err := s.Register(ctx, scheduler.CronJob{Name: "go", Func: "app.a", Interval: time.Minute, Labels: map[string]string{"tenant": "7"}}); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, pool, `INSERT INTO werk_cron_jobs (name, func, interval_secs, labels, managed_by) VALUES ('file', 'app.a', 60, '{"tenant": "42", "team": "ops"}', 'ops')`)

	byLabels := func(l map[string]string) []string {
		t.Helper()
		st, err := s.StatusByLabels(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range st {
			names = append(names, r.Name)
		}
		return names
	}
	if got := byLabels(map[string]string{"tenant": "42"}); !slices.Equal(got, []string{"file", "fn", "insert"}) {
		t.Errorf("tenant=42: %v", got)
	}
	if got := byLabels(map[string]string{"tenant": "42", "team": "billing"}); !slices.Equal(got, []string{"fn"}) {
		t.Errorf("tenant=42,team=billing: %v", got)
	}
	if got := byLabels(nil); len(got) != 4 {
		t.Errorf("no filter: %v", got)
	}

	// Changed with UPDATE, werk_cron_alter and Update; replace resets what is not given.
	pgtest.Exec(t, pool, `UPDATE werk_cron_jobs SET labels = '{"tenant": "8"}' WHERE name = 'insert'`)
	pgtest.Exec(t, pool, `SELECT werk_cron_alter('fn', labels => '{"team": "bi"}')`)
	if j, err := s.Update(ctx, "go", scheduler.Changes{Labels: map[string]string{"team": "go"}}); err != nil || !reflect.DeepEqual(j.Labels, map[string]string{"team": "go"}) {
		t.Fatalf("Update: %v %v", err, j.Labels)
	}
	if j, err := s.Update(ctx, "go", scheduler.Changes{Clear: []string{"Labels"}}); err != nil || j.Labels != nil {
		t.Fatalf("clear: %v %v", err, j.Labels)
	}
	pgtest.Exec(t, pool, `SELECT werk_cron_schedule('fn', 'app.a', '1 minute')`)
	got := pgtest.QueryOne[string](t, pool, `SELECT string_agg(name || '=' || labels::text, ' ' ORDER BY name) FROM werk_cron_status`)
	if got != `file={"team": "ops", "tenant": "42"} fn={} go={} insert={"tenant": "8"}` {
		t.Errorf("werk_cron_status labels: %s", got)
	}
	st, err := s.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Schedules[0].Name != "file" || st.Schedules[0].ManagedBy != "ops" || st.Schedules[0].Labels["team"] != "ops" {
		t.Errorf("Status: %+v", st.Schedules[0])
	}

	// The table refuses what is not an object of strings, and the bounds, by name.
	for _, bad := range []struct{ sql, constraint string }{
		{`UPDATE werk_cron_jobs SET labels = '[]' WHERE name = 'fn'`, "werk_cron_jobs_labels_must_be_a_json_object"},
		{`UPDATE werk_cron_jobs SET labels = '{"a": 1}' WHERE name = 'fn'`, "werk_cron_jobs_labels_must_have_string_values"},
		{`UPDATE werk_cron_jobs SET labels = jsonb_build_object('a', repeat('x', 70000)) WHERE name = 'fn'`, "werk_cron_jobs_labels_must_be_at_most_64_kb"},
		{`UPDATE werk_cron_jobs SET managed_by = ' ' WHERE name = 'fn'`, "werk_cron_jobs_managed_by_must_not_be_blank"},
		{`UPDATE werk_cron_jobs SET managed_by = repeat('x', 201) WHERE name = 'fn'`, "werk_cron_jobs_managed_by_must_be_at_most_200_bytes"},
	} {
		if _, err := pool.Exec(ctx, bad.sql); err == nil || !strings.Contains(err.Error(), bad.constraint) {
			t.Errorf("%s: %v", bad.sql, err)
		}
	}
	// Go names the field.
	_, err = s.Register(ctx, scheduler.CronJob{Name: "x", Func: "app.a", Interval: time.Minute, Labels: map[string]string{"": "v"}})
	var ve *scheduler.ValidationError
	if !errors.As(err, &ve) || ve.Field != "Labels" {
		t.Errorf("empty label key: %v", err)
	}
	// Releasing a schedule from its owner.
	pgtest.Exec(t, pool, `SELECT werk_cron_alter('file', clear => '{managed_by}')`)
	if mb := pgtest.QueryOne[*string](t, pool, `SELECT managed_by FROM werk_cron_jobs WHERE name = 'file'`); mb != nil {
		t.Errorf("managed_by after clear: %v", *mb)
	}
}
