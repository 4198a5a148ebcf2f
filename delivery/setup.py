"""A ``Dispatcher`` from the service's settings: the integrations file, the environment's
webhook, and MQTT events on the service's broker."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from delivery.config import (
    MQTT_ENDPOINT,
    IntegrationsConfig,
    env_webhook,
    load_integrations,
    merge_env_webhook,
)
from delivery.dispatcher import Dispatcher, Route
from delivery.mqtt import MqttConnector
from delivery.policy import RetryPolicy
from delivery.webhook import WebhookConnector
from steward.clock import Clock
from steward.settings import MqttTls, Settings, mqtt_tls


def integrations(settings: Settings) -> IntegrationsConfig:
    """The endpoints the settings describe; ``ConfigError`` lists every problem."""
    config = (
        load_integrations(settings.integrations_config)
        if settings.integrations_config is not None
        else IntegrationsConfig()
    )
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    return merge_env_webhook(
        config, env_webhook(settings.webhook_url, secret, settings.webhook_timeout_s)
    )


def routes(
    config: IntegrationsConfig, *, mqtt_url: str | None, mqtt_tls: MqttTls | None = None
) -> list[Route]:
    found = [Route(e.name, e.target, e.filter, WebhookConnector(e)) for e in config.endpoints]
    if mqtt_url is not None and config.mqtt.enabled:
        connector = MqttConnector(mqtt_url, tls=mqtt_tls)
        found.append(Route(MQTT_ENDPOINT, connector.target, config.mqtt.filter, connector))
    return found


def dispatcher_from_settings(
    settings: Settings, *, sessions: sessionmaker[Session], clock: Clock
) -> Dispatcher:
    mqtt_url = settings.mqtt_url if settings.mqtt_ticket_events else None
    return Dispatcher(
        sessions,
        clock,
        routes(integrations(settings), mqtt_url=mqtt_url, mqtt_tls=mqtt_tls(settings)),
        policy=RetryPolicy(window_s=settings.delivery_retry_hours * 3600),
        poll_interval_s=settings.delivery_poll_interval_s,
    )
