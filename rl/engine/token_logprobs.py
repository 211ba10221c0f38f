"""The learner's scoring forward pass: log-probs of target tokens, computed on those positions only.

    policy = TokenLogprobs(model)
    logprobs = policy(ids, attention, where=mask)      # (B, L-1), zero off the mask
    logits = policy(ids, attention).logits             # the model's own output (DPO scores whole rows)
"""
from __future__ import annotations

from typing import Any

import torch


class TokenLogprobs(torch.nn.Module):
    """A causal LM scoring its target tokens: ``forward(ids, attention, where=mask)`` gives the (B, L-1)
    log-probs of the tokens at ``where`` (zero elsewhere); without ``where``, the LM's own output.

    The output layer and softmax run on the ``where`` positions only: prompt and padding positions
    are context, and skipping them saves a large share of the vocabulary work. One module whose
    forward does it all, so that under FSDP every call passes through the root unit.
    """

    def __init__(self, lm: Any):
        super().__init__()
        self.lm = lm

    def forward(self, input_ids, attention_mask, position_ids=None, where=None, temperature: float = 1.0):
        if where is None:
            return self.lm(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False)
        hidden = self.lm.get_decoder()(  # position_ids: packed rows restart them at each sequence
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False,
        ).last_hidden_state
        logits = self.lm.get_output_embeddings()(hidden[:, :-1][where]).float() / temperature  # (N, V); position t predicts t+1
        targets = input_ids[:, 1:][where]  # (N,)
        picked = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (N,)
        out = torch.zeros(where.shape, dtype=picked.dtype, device=picked.device)  # (B, L-1)
        return out.masked_scatter(where, picked)
