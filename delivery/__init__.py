"""Delivery: the pipeline step after tickets. Drains the transactional outbox into webhooks
(CloudEvents, Standard Webhooks signatures, templates) and MQTT, with retries and a log."""

from delivery.dispatcher import Dispatcher, Route
from delivery.log import DeliveryLog
from delivery.setup import dispatcher_from_settings

__all__ = ["DeliveryLog", "Dispatcher", "Route", "dispatcher_from_settings"]
