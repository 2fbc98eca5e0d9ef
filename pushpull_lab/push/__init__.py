"""Push primitives: the producer initiates every delivery."""

from .channels import ChannelEvent, SSEClient, SSEServer, WebSocketClient, WebSocketServer
from .conflate import ConflatingQueue, ConflatingSubscriber
from .emitter import EventEmitter
from .mqtt import Broker, MqttClient, MqttMessage, topic_matches
from .pubsub import Message, PubSub, Subscription
from .webhook import (
    DeliveryResult,
    DestinationPolicy,
    DestinationRefusedError,
    WebhookDeliveryError,
    WebhookReceiver,
    WebhookSender,
    WebhookVerifier,
)

__all__ = [
    "Broker",
    "ChannelEvent",
    "ConflatingQueue",
    "ConflatingSubscriber",
    "DeliveryResult",
    "DestinationPolicy",
    "DestinationRefusedError",
    "EventEmitter",
    "Message",
    "MqttClient",
    "MqttMessage",
    "PubSub",
    "SSEClient",
    "SSEServer",
    "Subscription",
    "WebSocketClient",
    "WebSocketServer",
    "WebhookDeliveryError",
    "WebhookReceiver",
    "WebhookSender",
    "WebhookVerifier",
    "topic_matches",
]
