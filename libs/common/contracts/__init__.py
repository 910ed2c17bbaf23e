"""Message contracts: one module per topic, all wrapped in `envelope.Envelope`."""
