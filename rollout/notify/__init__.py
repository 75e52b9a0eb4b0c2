"""In-app notifications, the delivery outbox and its channels."""
