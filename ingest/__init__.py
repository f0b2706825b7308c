"""MQTT → validated readings → TimescaleDB; the only writer of observations."""
