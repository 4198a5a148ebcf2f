"""What every paho-mqtt client in Steward needs beyond paho itself."""

from __future__ import annotations

import socket
import ssl
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


class Client(mqtt.Client):
    """paho-mqtt that closes a TLS socket whose handshake failed (paho leaves it to the
    garbage collector: a ResourceWarning per failed attempt) and remembers why the last TLS
    connection failed or was closed (paho only counts it as a lost connection)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tls_error = ""
        """The last TLS failure: a refused certificate, the broker's alert; "" if none."""

    def _ssl_wrap_socket(self, tcp_sock: socket.socket) -> ssl.SSLSocket:
        context = self._ssl_context
        assert context is not None  # only called once TLS is configured
        try:
            # the context checks the host name itself (check_hostname), unless told not to
            ssl_sock = context.wrap_socket(
                tcp_sock, server_hostname=self._host, do_handshake_on_connect=False
            )
        except BaseException:
            tcp_sock.close()
            raise
        try:
            ssl_sock.settimeout(self._connect_timeout)
            ssl_sock.do_handshake()
        except ssl.SSLError as exc:
            ssl_sock.close()
            self.tls_error = _tls_reason(exc)
            raise
        except BaseException:
            ssl_sock.close()
            raise
        self.tls_error = ""
        return ssl_sock

    def _sock_recv(self, bufsize: int) -> bytes:
        try:
            return super()._sock_recv(bufsize)
        except ssl.SSLError as exc:  # an alert from the broker, e.g. certificate required
            self.tls_error = _tls_reason(exc)
            raise

    def _sock_send(self, buf: bytes | bytearray) -> int:
        try:
            return super()._sock_send(buf)
        except ssl.SSLError as exc:
            self.tls_error = self._alert_after(exc)
            raise

    def _alert_after(self, failed: ssl.SSLError) -> str:
        """A write failed because the broker closed the connection: the alert it sent first,
        if it can still be read, says why (a write only sees the end of the connection)."""
        try:
            if self._sock is not None:
                self._sock.recv(1)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, ssl.SSLEOFError):
            pass
        except ssl.SSLError as alert:
            return _tls_reason(alert)
        except OSError:
            pass
        return _tls_reason(failed)


def _tls_reason(exc: ssl.SSLError) -> str:
    """``[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: ...``, one line."""
    return str(exc).splitlines()[0]


READ_CHUNK = 65536


class BufferedClient(Client):
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
