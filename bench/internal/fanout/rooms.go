package fanout

import "fmt"

// roomName is the id of room i of n: the prefix itself when there is one
// room, <prefix>-<i> otherwise.
func roomName(prefix string, i, n int) string {
	if n <= 1 {
		return prefix
	}
	return fmt.Sprintf("%s-%d", prefix, i)
}

// memberRoom is the room of member i (counting over all rooms' members):
// members are dealt to the rooms in turn, so every worker's contiguous
// range of members covers the rooms evenly.
func memberRoom(i, rooms int) int { return i % max(rooms, 1) }

// publisherRooms lists the rooms publisher p of publishers publishes to,
// in turn: with at least as many rooms as publishers, rooms r with
// r % publishers == p; with more publishers than rooms, room p % rooms. So
// every room has a publisher and the publishers share the rooms evenly.
func publisherRooms(p, publishers, rooms int) []int {
	rooms = max(rooms, 1)
	if publishers > rooms {
		return []int{p % rooms}
	}
	var out []int
	for r := p; r < rooms; r += publishers {
		out = append(out, r)
	}
	return out
}
