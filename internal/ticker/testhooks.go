//go:build werkcron_testhooks

package ticker

// SetHorizonRows sets how many rows of the plan every primary of this process reads and
// holds at once (0: horizonRows). Compiled only into the binary the fault-injection tests
// build (`werkcron run --horizon-rows`), so that a test can make a fan-out of a size it
// can plan in time span several reads.
func SetHorizonRows(n int) { testHorizonRows = n }
