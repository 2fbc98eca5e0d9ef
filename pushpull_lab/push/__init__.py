"""Push primitives: the producer initiates every delivery."""

from .channels import ChannelEvent, SSEClient, SSEServer, WebSocketClient, WebSocketServer
from .emitter import EventEmitter
from .pubsub import Message, PubSub, Subscription
from .webhook import DeliveryResult, WebhookDeliveryError, WebhookReceiver, WebhookSender

__all__ = [
    "ChannelEvent",
    "DeliveryResult",
    "EventEmitter",
    "Message",
    "PubSub",
    "SSEClient",
    "SSEServer",
    "Subscription",
    "WebSocketClient",
    "WebSocketServer",
    "WebhookDeliveryError",
    "WebhookReceiver",
    "WebhookSender",
]
