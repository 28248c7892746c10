"""The AirDeck safety gate: the only path from a gesture to a Rekordbox MIDI command."""
