package fanout

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// createRoom creates the public room id as user "setup" over one ordinary
// connection, and closes it: the room outlives its creator's connection.
func createRoom(ctx context.Context, wsURL, id string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL+"?user=setup", nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetReadDeadline(dl)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"create","room":`+strconv.Quote(id)+`}`)); err != nil {
		return err
	}
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			return err
		}
		var f struct {
			Type, Code, Message string
		}
		if err := json.Unmarshal(p, &f); err != nil {
			return fmt.Errorf("server sent %q: %w", p, err)
		}
		switch f.Type {
		case "created":
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return nil
		case "error":
			return fmt.Errorf("server answered %s: %s", f.Code, f.Message)
		}
	}
}
