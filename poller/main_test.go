package poller

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// netpoll starts its pollers once per process and never stops them.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/cloudwego/netpoll.(*defaultPoll).Wait"),
		goleak.IgnoreAnyFunction("github.com/cloudwego/netpoll.(*defaultPoll).Wait.func1"))
}
