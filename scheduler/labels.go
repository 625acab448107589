package scheduler

// Labels: a JSON object of strings on each schedule (werk_cron_jobs.labels), for
// grouping thousands of schedules by team, tenant, ... The tick never reads them.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// labelsJSON is labels as the labels column takes it: a JSON object with its keys in
// order, nil for none. Keys must not be empty; keys and values must be text that
// PostgreSQL can hold (valid UTF-8 without NUL).
func labelsJSON(labels map[string]string) ([]byte, error) {
	if len(labels) == 0 {
		return nil, nil
	}
	for k, v := range labels {
		if k == "" {
			return nil, errors.New("a label key must not be empty")
		}
		for _, s := range []string{k, v} {
			if !utf8.ValidString(s) || containsNUL(s) {
				return nil, fmt.Errorf("label %q: not valid UTF-8 text without NUL", clip(k, 64))
			}
		}
	}
	return json.Marshal(labels) // keys sorted
}

// labelsOf reads the labels column; nil for none.
func labelsOf(raw []byte) map[string]string {
	var m map[string]string
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil || len(m) == 0 {
		return nil
	}
	return m
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// StatusByLabels is Status's schedules that carry every one of labels (all of them
// for none), by name: what `werkcron ls --label` lists.
func (s *Scheduler) StatusByLabels(ctx context.Context, labels map[string]string) ([]ScheduleStatus, error) {
	filter, err := labelsJSON(labels)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	if filter == nil {
		filter = []byte("{}")
	}
	rows, err := s.q.ListStatusByLabels(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("read werk_cron_status: %w", err)
	}
	out := make([]ScheduleStatus, len(rows))
	for i, r := range rows {
		out[i] = statusOf(r)
	}
	return out, nil
}
