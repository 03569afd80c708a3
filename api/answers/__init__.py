"""The answers: features, context text and Feast's shapes, built from one online read."""
