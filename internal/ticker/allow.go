package ticker

import (
	"fmt"
	"path"
	"strings"
)

// allowList is the ticker's optional allow-list of functions and queues (Options.
// AllowFuncs, AllowQueues): the right to write werk_cron_jobs is the right to have any
// function run on any queue, so a deployment may narrow what its ticker enqueues. A
// schedule outside it gets last_error and is never enqueued; the check runs when a row
// is planned and again when it is due (another ticker, with another list, may have
// planned it).
type allowList struct {
	funcs, queues []string // path.Match patterns ('*' also matches dots); empty: any
}

func newAllowList(funcs, queues []string) (allowList, error) {
	for _, p := range append(append([]string{}, funcs...), queues...) {
		if _, err := path.Match(p, ""); err != nil {
			return allowList{}, fmt.Errorf("allow-list pattern %q: %w", p, err)
		}
	}
	return allowList{funcs: funcs, queues: queues}, nil
}

// refuses returns why the schedule may not run here; "" when it may.
func (a allowList) refuses(fn, queue string) string {
	if !matches(a.funcs, fn) {
		return fmt.Sprintf("func %q is not in this ticker's allow-list (%s)", fn, strings.Join(a.funcs, ", "))
	}
	if !matches(a.queues, queue) {
		return fmt.Sprintf("queue %q is not in this ticker's allow-list (%s)", queue, strings.Join(a.queues, ", "))
	}
	return ""
}

func matches(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}
