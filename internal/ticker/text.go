package ticker

import "unicode/utf8"

// Texts the ticker writes and logs are bounded, in bytes, as the tables bound them:
// whatever a row holds, a log line or a column stays small.
const (
	// maxErrorBytes bounds what the ticker writes to last_error, a backfill request's
	// error and a hold-up's reason (the tables' checks say the same).
	maxErrorBytes = 1024
	// maxLoggedName bounds a name in the logs (a schedule name is at most 200 bytes; a
	// row from before that bound, or another table's, need not be).
	maxLoggedName = 200
)

// cutBytes returns s cut to at most n bytes at a character boundary.
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// logName is a name as the logs show it: cut, and said to be cut.
func logName(name string) string {
	if len(name) <= maxLoggedName {
		return name
	}
	return cutBytes(name, maxLoggedName) + "…(cut)"
}
