"""Delivery: channels (Apprise), message templates and war-room providers: the I/O library
the notify and war-room activities call. Room: delivery (warroom/delivery)."""
