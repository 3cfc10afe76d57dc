package sysinfo

import "testing"

func TestShellQuote(t *testing.T) {
	got := ShellQuote([]string{"swload", "idle", "--server-args", "serve --backend epoll", "--name", "it's", ""})
	want := `swload idle --server-args 'serve --backend epoll' --name 'it'\''s' ''`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
