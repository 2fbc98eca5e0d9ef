"""Push primitives: the producer initiates every delivery."""

from .emitter import EventEmitter
from .pubsub import Message, PubSub, Subscription

__all__ = ["EventEmitter", "Message", "PubSub", "Subscription"]
