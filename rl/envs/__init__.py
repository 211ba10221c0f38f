"""Environments a rollout acts in: what answers the model's turn, and the tools it may call."""
