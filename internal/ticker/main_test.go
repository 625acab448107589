package ticker

import (
	"os"
	"testing"

	"github.com/pgwerk/werkcron/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
