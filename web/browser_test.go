package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-chat/switchboard/engine/auth"
	"github.com/switchboard-chat/switchboard/room"
	"github.com/switchboard-chat/switchboard/store"
)

// The browser tests drive Debian's chromium through the DevTools protocol
// (chromedp): no npm, no downloaded browser. scripts/test.sh installs
// chromium when it is missing and passes its path in
// SWITCHBOARD_TEST_CHROMIUM; under CI=true a missing browser fails the test
// instead of skipping it.

// chromiumPath returns the browser to drive, or skips (fails in CI).
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("SWITCHBOARD_TEST_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if st, err := os.Stat(path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		msg := fmt.Sprintf("no chromium at %s (SWITCHBOARD_TEST_CHROMIUM): run `make test`, which installs it "+
			"with scripts/ensure-chromium.sh", path)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// startBrowser runs a fresh headless chromium for the test. The flags keep
// it off the network: without the background-networking ones it tries to
// reach Google's services, and connections on this closed network are
// refused.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // root in CI containers
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// page is one browser tab. A script exception fails the test: the page
// must run clean. Other console output is logged.
type page struct {
	t    *testing.T
	name string
	ctx  context.Context
}

func openPage(t *testing.T, browser context.Context, name, pageURL string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	p := &page{t: t, name: name, ctx: ctx}
	console := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() {
				t.Errorf("%s: script exception: %s", name, m)
			} else {
				t.Logf("%s: console %s: %s", name, m.Type, m.Text)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	p.do(chromedp.EmulateViewport(1280, 800), chromedp.Navigate(pageURL))
	return p
}

func (p *page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
}

// evalIn evaluates a JavaScript expression in the page.
func evalIn[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("%s: evaluate %s: %v", p.name, expr, err)
	}
	return v
}

// waitFor waits until the JavaScript expression is true in the page.
func (p *page) waitFor(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool]("Boolean("+expr+")", chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		state, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`JSON.stringify({
			conn: document.getElementById('conn-text')?.textContent,
			texts: [...document.querySelectorAll('#message-list .msg .text')].map(e => e.textContent),
			typing: document.getElementById('typing')?.textContent, lobby: window.switchboard?.room('lobby')})`))
		p.t.Fatalf("%s: waiting for %s: %v\npage state: %s", p.name, what, err, state)
	}
}

// say types text into the composer and sends it, as a person would.
func (p *page) say(text string) {
	p.t.Helper()
	p.do(chromedp.SendKeys(chromedp.CSS("#text"), text), chromedp.Click(chromedp.CSS("#send")))
}

func (p *page) texts() []string {
	p.t.Helper()
	return evalIn[[]string](p, `[...document.querySelectorAll('#message-list .msg:not(.pending) .text')].map(e => e.textContent)`)
}

func (p *page) screenshot(path string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("%s: screenshot: %v", p.name, err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
}

// artifactsDir is where screenshots go: $SWITCHBOARD_ARTIFACTS_DIR, or a
// directory under the system temp dir that outlives the test (logged).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SWITCHBOARD_ARTIFACTS_DIR")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "switchboard-artifacts-"); err != nil {
			t.Fatal(err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBrowserChat is the first-time user's path, in a real browser against
// a real server: two people chat in the lobby, see each other online and
// typing, and read receipts arrive; bob's network drops (the proxy between
// his browser and the server cuts every connection and refuses new ones),
// alice writes while he is away and bob writes too; when his network is
// back his page reconnects, replays what it missed in seq order with no
// duplicate, and sends what he wrote exactly once. Then alice invites bob
// into a private room by link, and the dashboard shows the traffic.
func TestBrowserChat(t *testing.T) {
	browser := startBrowser(t)
	dir := artifactsDir(t)
	srv := startChatServer(t, "none")
	proxy := startCutProxy(t, srv.addr)
	base := "http://" + srv.addr
	bobBase := "http://" + proxy.addr() // bob's page, and so his socket, goes through the proxy

	alice := openPage(t, browser, "alice", base+"/?user=alice")
	alice.waitFor("alice in the lobby", `window.switchboard.room('lobby')?.joined`)
	bob := openPage(t, browser, "bob", bobBase+"/?user=bob")
	bob.waitFor("bob in the lobby", `window.switchboard.room('lobby')?.joined`)

	// Presence: each sees the other online.
	alice.waitFor("bob online for alice", `document.querySelector('#members [data-user="bob"]')?.dataset.status === 'online'`)
	bob.waitFor("alice online for bob", `document.querySelector('#members [data-user="alice"]')?.dataset.status === 'online'`)

	// Typing, then a message.
	alice.do(chromedp.SendKeys(chromedp.CSS("#text"), "hello bob"))
	bob.waitFor("alice typing", `document.getElementById('typing').textContent === 'alice is typing…'`)
	alice.do(chromedp.Click(chromedp.CSS("#send")))
	bob.waitFor("hello", `[...document.querySelectorAll('#message-list .text')].some(e => e.textContent === 'hello bob')`)
	bob.waitFor("typing cleared by the message", `document.getElementById('typing').textContent === ''`)
	bob.say("hi alice, welcome to switchboard")
	alice.waitFor("reply", `document.querySelectorAll('#message-list .msg:not(.pending)').length === 2`)
	// Read receipts: bob has the newest message on screen, so his cursor moves.
	alice.waitFor("seen by bob", `[...document.querySelectorAll('#message-list .seen')].some(e => e.textContent === 'Seen by bob')`)

	// Bob's network goes down.
	proxy.cut()
	bob.waitFor("bob sees the drop", `document.getElementById('conn').dataset.state === 'offline'`)
	alice.waitFor("bob offline for alice", `document.querySelector('#members [data-user="bob"]')?.dataset.status === 'offline'`)
	missed := []string{"missed one", "missed two", "missed three"}
	for i, m := range missed {
		alice.say(m)
		alice.waitFor("acked "+m, fmt.Sprintf(`window.switchboard.room('lobby').lastSeq === %d`, 3+i))
	}
	bob.say("written while offline")
	bob.waitFor("queued while offline", `document.querySelector('#message-list .msg.pending .status')?.textContent === 'sending…'`)

	// It comes back: bob's page reconnects and rejoins with since.
	proxy.restore()
	want := append([]string{"hello bob", "hi alice, welcome to switchboard"}, append(missed, "written while offline")...)
	wantJSON, _ := json.Marshal(want)
	bob.waitFor("replay in order", fmt.Sprintf(`JSON.stringify([...document.querySelectorAll('#message-list .msg:not(.pending) .text')].map(e => e.textContent)) === %q`, wantJSON))
	alice.waitFor("bob online again", `document.querySelector('#members [data-user="bob"]')?.dataset.status === 'online'`)
	alice.waitFor("bob's offline message", `[...document.querySelectorAll('#message-list .text')].some(e => e.textContent === 'written while offline')`)
	for _, p := range []*page{alice, bob} {
		if got := p.texts(); !slices.Equal(got, want) {
			t.Fatalf("%s shows %q, want %q", p.name, got, want)
		}
		seqs := evalIn[[]int](p, `window.switchboard.room('lobby').seqs`)
		if !slices.Equal(seqs, []int{1, 2, 3, 4, 5, 6}) {
			t.Fatalf("%s holds seqs %v, want 1..6 once each", p.name, seqs)
		}
	}
	if n := srv.svc.Stats().Published; n != 6 {
		t.Fatalf("the server stored %d messages, want 6 (the offline one exactly once)", n)
	}

	// A private room, entered by invite link.
	alice.do(chromedp.SendKeys(chromedp.CSS("#new-room-name"), "plans"), chromedp.Click(chromedp.CSS("#new-room-private")),
		chromedp.Click(chromedp.CSS("#new-room button")))
	alice.waitFor("in plans", `window.switchboard.room('plans')?.joined`)
	alice.say("the launch is on friday")
	alice.do(chromedp.Click(chromedp.CSS("#invite-btn")))
	alice.waitFor("invite dialog", `document.getElementById('invite-link').value.includes('#room=plans&invite=')`)
	link := evalIn[string](alice, `document.getElementById('invite-link').value`)
	alice.screenshot(filepath.Join(dir, "invite.png"))
	alice.do(chromedp.Click(chromedp.CSS(`#invite-dialog button[value=close]`)))
	u, err := url.Parse(link)
	if err != nil || u.Host != srv.addr {
		t.Fatalf("invite link %q: %v", link, err)
	}
	bob.do(chromedp.Navigate(bobBase + "/?user=bob#" + u.Fragment))
	bob.waitFor("bob in plans", `window.switchboard.room('plans')?.joined`)
	bob.waitFor("plans history", `[...document.querySelectorAll('#message-list .text')].some(e => e.textContent === 'the launch is on friday')`)
	bob.waitFor("invite token gone from the address bar", `!location.hash`)
	bob.say("count me in")
	alice.waitFor("bob in plans for alice", `[...document.querySelectorAll('#message-list .text')].some(e => e.textContent === 'count me in')`)

	// Screenshots: the chat as bob sees the lobby, and the dashboard.
	bob.do(chromedp.Click(chromedp.CSS(`#room-list [data-room="lobby"]`)))
	bob.waitFor("lobby shown", `document.getElementById('room-title').textContent === '#lobby' && document.querySelectorAll('#members .member').length === 2`)
	alice.do(chromedp.Click(chromedp.CSS(`#room-list [data-room="lobby"]`)), chromedp.SendKeys(chromedp.CSS("#text"), "one more thing"))
	bob.waitFor("alice typing in the lobby", `document.getElementById('typing').textContent === 'alice is typing…'`)
	bob.screenshot(filepath.Join(dir, "chat.png"))
	// A fresh publish, so the dashboard's 10 s latency window has one.
	alice.do(chromedp.Click(chromedp.CSS("#send")))
	bob.waitFor("one more thing", `[...document.querySelectorAll('#message-list .text')].some(e => e.textContent === 'one more thing')`)
	dash := openPage(t, browser, "dashboard", base+"/dashboard")
	dash.waitFor("dashboard numbers", `document.getElementById('v-connections').textContent === '2' && document.getElementById('v-p99').textContent !== '–'`)
	dash.waitFor("a sparkline", `document.getElementById('s-connections').getAttribute('points').split(' ').length >= 3`)
	dash.screenshot(filepath.Join(dir, "dashboard.png"))
}

// TestBrowserTokenLogin: with --auth jwt the page asks for a token and
// sends it as the subprotocol bearer.<token>; a token the server refuses
// brings the login back with a reason, a good one gets in.
func TestBrowserTokenLogin(t *testing.T) {
	browser := startBrowser(t)
	secret := []byte("a test secret of 32 bytes or so!")
	v, err := auth.NewVerifier(auth.Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	srv := startChatServer(t, "jwt", func(_ *Options, c *room.Config) { c.Auth = v })
	forger, _ := auth.NewSigner([]byte("not the server's secret, 32 byte"))
	forged, _ := forger.Mint("mallory", "", time.Hour)
	signer, _ := auth.NewSigner(secret)
	good, _ := signer.Mint("carol", "", time.Hour)

	p := openPage(t, browser, "carol", "http://"+srv.addr+"/")
	p.waitFor("the token form", `!document.getElementById('login').hidden && !document.getElementById('login-token').hidden`)
	p.do(chromedp.SendKeys(chromedp.CSS("#token"), forged), chromedp.Click(chromedp.CSS("#login-form button")))
	p.waitFor("the refusal", `document.getElementById('login-error').textContent.includes('Check the token')`)
	p.do(chromedp.SetValue(chromedp.CSS("#token"), "Bearer "+good), chromedp.Click(chromedp.CSS("#login-form button")))
	p.waitFor("carol in the lobby", `window.switchboard.user === 'carol' && window.switchboard.room('lobby')?.joined`)
	if url := evalIn[string](p, `location.href`); strings.Contains(url, good) {
		t.Fatalf("the token is in the address bar: %s", url)
	}
	p.say("signed in with a token")
	p.waitFor("stored", `window.switchboard.room('lobby').lastSeq === 1`)
}

// TestBrowserHistoryAndOrderBuffer: a room with more history than a join
// brings pages back through it by scrolling up; and the page's order
// buffer holds a message that comes early until the gap before it fills,
// and drops one it has already shown.
func TestBrowserHistoryAndOrderBuffer(t *testing.T) {
	browser := startBrowser(t)
	srv := startChatServer(t, "none")
	ctx := context.Background()
	if _, err := srv.st.CreateRoom(ctx, store.Room{ID: "archive", CreatedBy: "dave"}); err != nil {
		t.Fatal(err)
	}
	const stored = 130
	for i := 1; i <= stored; i++ {
		if _, _, err := srv.st.Append(ctx, store.Message{Room: "archive", ID: fmt.Sprint("m", i), From: "dave",
			Body: json.RawMessage(fmt.Sprintf(`{"text":"message %d"}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	p := openPage(t, browser, "erin", "http://"+srv.addr+"/?user=erin")
	p.waitFor("the room list", `document.querySelector('#room-list [data-room="archive"]')`)
	p.do(chromedp.Click(chromedp.CSS(`#room-list [data-room="archive"]`)))
	p.waitFor("the last 50", `window.switchboard.room('archive')?.seqs.length === 50`)
	for range 10 {
		if evalIn[int](p, `window.switchboard.room('archive').seqs.length`) == stored {
			break
		}
		n := evalIn[int](p, `window.switchboard.room('archive').seqs.length`)
		evalIn[bool](p, `document.getElementById('messages').scrollTop = 0;
			document.getElementById('messages').dispatchEvent(new Event('scroll'))`)
		p.waitFor("an older page", fmt.Sprintf(`window.switchboard.room('archive').seqs.length > %d`, n))
	}
	seqs := evalIn[[]int](p, `window.switchboard.room('archive').seqs`)
	if len(seqs) != stored || seqs[0] != 1 || !slices.IsSorted(seqs) {
		t.Fatalf("after scrolling up: %d seqs from %v, want 1..%d in order", len(seqs), seqs[:min(3, len(seqs))], stored)
	}
	if got := evalIn[string](p, `document.querySelector('#message-list .msg .text').textContent`); got != "message 1" {
		t.Fatalf("the top message is %q", got)
	}
	if more := evalIn[bool](p, `!!document.querySelector('#older button')`); more {
		t.Fatal("still offers older messages at seq 1")
	}

	// The order buffer, fed frames as if from the server: 132 before 131.
	msg := func(seq int) string {
		return fmt.Sprintf(`window.switchboard.receive({type: 'message', room: 'archive', seq: %d, id: 'x%d', from: 'dave',
			body: {text: 'message %d'}, ts: new Date().toISOString()})`, seq, seq, seq)
	}
	evalIn[any](p, msg(stored+2))
	if r := evalIn[map[string]any](p, `window.switchboard.room('archive')`); r["lastSeq"] != float64(stored) ||
		fmt.Sprint(r["pending"]) != fmt.Sprint([]any{float64(stored + 2)}) {
		t.Fatalf("after an early message: %v", r)
	}
	evalIn[any](p, msg(stored+1))
	evalIn[any](p, msg(stored+1)) // a duplicate
	evalIn[any](p, msg(stored-5)) // an old one
	r := evalIn[map[string]any](p, `window.switchboard.room('archive')`)
	if r["lastSeq"] != float64(stored+2) || len(r["pending"].([]any)) != 0 || len(r["seqs"].([]any)) != stored+2 {
		t.Fatalf("after the gap filled: lastSeq %v, pending %v, %d seqs", r["lastSeq"], r["pending"], len(r["seqs"].([]any)))
	}
	texts := p.texts()
	if want := []string{"message 130", "message 131", "message 132"}; !slices.Equal(texts[len(texts)-3:], want) {
		t.Fatalf("the page ends with %q, want %q", texts[len(texts)-3:], want)
	}
}

// TestBrowserServerRestart: the server shuts down (goaway with a
// reconnect delay, then close 1001) and comes back on the same address
// with the same store; the page reconnects on its own, rejoins with since
// and shows what was stored meanwhile, in order, once.
func TestBrowserServerRestart(t *testing.T) {
	browser := startBrowser(t)
	srv := startChatServer(t, "none")
	p := openPage(t, browser, "frank", "http://"+srv.addr+"/?user=frank")
	p.waitFor("in the lobby", `window.switchboard.room('lobby')?.joined`)
	p.say("before the restart")
	p.waitFor("stored", `window.switchboard.room('lobby').lastSeq === 1`)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.e.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	p.waitFor("the page sees the restart", `document.getElementById('conn').dataset.state !== 'online'`)
	if _, _, err := srv.st.Append(ctx, store.Message{Room: "lobby", ID: "x", From: "grace",
		Body: json.RawMessage(`{"text":"while it restarted"}`)}); err != nil {
		t.Fatal(err)
	}
	startChatServerOn(t, srv.addr, srv.st, "none")
	p.waitFor("back, with what was missed", `window.switchboard.connected && window.switchboard.room('lobby').lastSeq === 2`)
	if got := p.texts(); !slices.Equal(got, []string{"before the restart", "while it restarted"}) {
		t.Fatalf("after the restart the page shows %q", got)
	}
	p.say("after the restart")
	p.waitFor("stored after", `window.switchboard.room('lobby').lastSeq === 3`)
}

// cutProxy forwards TCP to the server and can drop off the network: cut
// closes every connection through it and refuses new ones until restore.
type cutProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

func (p *cutProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}
