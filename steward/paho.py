"""What every paho-mqtt client in Steward needs beyond paho itself."""

from __future__ import annotations

import paho.mqtt.client as mqtt


def release_sockets(client: mqtt.Client) -> None:
    """Close the wake-up socket pair paho keeps beside the connection (and the connection, if
    still open). paho closes them only in ``Client.__del__``; a client held in a reference
    cycle (callbacks bound to its owner) is finalised by the garbage collector in arbitrary
    order, so its sockets can be finalised first: an unclosed-socket ResourceWarning and two
    file descriptors held until the next collection. Call once the client is stopped; a later
    ``loop()`` or ``loop_start()`` makes a new pair."""
    client._reset_sockets()
