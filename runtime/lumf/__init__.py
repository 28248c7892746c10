"""LUMF audio packets and the SAN OSC side channel."""
