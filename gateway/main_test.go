package gateway

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them: every
// server, session and upload goroutine must end with its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
