"""What every paho-mqtt client in Steward needs beyond paho itself."""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as mqtt


def release_sockets(client: mqtt.Client) -> None:
    """Close the wake-up socket pair paho keeps beside the connection (and the connection, if
    still open). paho closes them only in ``Client.__del__``; a client held in a reference
    cycle (callbacks bound to its owner) is finalised by the garbage collector in arbitrary
    order, so its sockets can be finalised first: an unclosed-socket ResourceWarning and two
    file descriptors held until the next collection. Call once the client is stopped; a later
    ``loop()`` or ``loop_start()`` makes a new pair."""
    client._reset_sockets()


READ_CHUNK = 65536


class BufferedClient(mqtt.Client):
    """paho-mqtt reading the socket in chunks.

    paho reads each packet with several ``recv`` calls (the command byte, each byte of the
    remaining length, then the body), and ``loop()`` runs ``select`` before every packet: four
    or more system calls per message, most of a subscriber's cost at thousands of messages a
    second. This client fills a buffer with up to 64 KiB per ``recv`` and serves paho's small
    reads from it. While ``buffered()`` is true, call ``loop_read()`` (not ``loop()``, whose
    ``select`` would wait for new data while whole packets sit in the buffer).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chunk = b""
        self._chunk_pos = 0
        self._filtered = False

    def message_callback_add(self, sub: str, callback: mqtt.CallbackOnMessage) -> None:
        self._filtered = True
        super().message_callback_add(sub, callback)

    def _handle_on_message(self, message: mqtt.MQTTMessage) -> None:
        """paho matches every message against per-topic callbacks (a trie walk) before
        ``on_message``; with none registered, go straight to ``on_message``."""
        on_message = self.on_message
        if self._filtered or on_message is None:
            super()._handle_on_message(message)
            return
        with self._in_callback_mutex:
            try:
                on_message(self, self._userdata, message)
            except Exception as err:
                self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                if not self.suppress_exceptions:
                    raise

    def buffered(self) -> bool:
        """Bytes received and not yet handed to paho."""
        return self._chunk_pos < len(self._chunk)

    def _sock_recv(self, bufsize: int) -> bytes:
        pos, chunk = self._chunk_pos, self._chunk
        if pos >= len(chunk):
            chunk = super()._sock_recv(READ_CHUNK)  # BlockingIOError when nothing waits
            if not chunk:
                return chunk  # the broker closed the connection
            self._chunk, pos = chunk, 0
        end = pos + bufsize
        self._chunk_pos = min(end, len(chunk))
        return chunk[pos:end] if pos or end < len(chunk) else chunk

    def _sock_close(self) -> None:
        self._chunk, self._chunk_pos = b"", 0  # bytes of a closed connection mean nothing
        super()._sock_close()
