"""The three web faces (console, field app, resident portal): static ES modules served by the same server."""
