//go:build !linux

package leader

import (
	"syscall"
	"time"
)

// setUserTimeout does nothing where TCP_USER_TIMEOUT does not exist: there the
// keepalives alone give up, after KeepaliveIdle + KeepaliveCount x KeepaliveInterval.
func setUserTimeout(syscall.RawConn, time.Duration) error { return nil }
