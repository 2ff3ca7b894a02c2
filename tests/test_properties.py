# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#implementation-details-checklist
"""Property tests with hypothesis: no NaN on any mask (all-zero, ragged, empty rows), invariants hold."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

AGG_MODES = ["token-mean", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm"]


@st.composite
def batches(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A [B, T] batch with an arbitrary 0/1 mask (all-zero and empty rows included)."""
    b = draw(st.integers(1, 5))
    t = draw(st.integers(0, 7))
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    density = draw(st.sampled_from([0.0, 0.3, 0.7, 1.0]))
    mask = (torch.rand(b, t, generator=gen) < density).float()
    x = torch.randn(b, t, generator=gen) * draw(st.sampled_from([1e-3, 1.0, 1e3]))
    y = torch.randn(b, t, generator=gen)
    return mask, x, y


def _finite(*tensors: torch.Tensor) -> bool:
    return all(bool(torch.isfinite(torch.as_tensor(t)).all()) for t in tensors)


@settings(max_examples=60, deadline=None)
@given(batches(), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_gae_finite_and_masked_invariant(impl, batch, gamma: float, lam: float) -> None:
    mask, rewards, values = batch
    adv, ret = impl.gae.compute_gae(rewards, values, mask, gamma=gamma, lam=lam)
    assert adv.shape == rewards.shape and ret.shape == rewards.shape
    assert _finite(adv, ret)
    torch.testing.assert_close(ret, adv + values)
    assert _finite(impl.masked.masked_whiten(adv, mask))


@settings(max_examples=60, deadline=None)
@given(batches(), st.sampled_from(AGG_MODES), st.sampled_from([None, 3.0]))
def test_losses_finite_on_any_mask(impl, batch, agg: str, dual_clip) -> None:
    mask, logp, adv = batch
    old = logp + 0.5
    loss, stats = impl.ppo.ppo_policy_loss(logp, old, adv, mask, dual_clip=dual_clip, agg=agg)
    assert _finite(loss) and all(_finite(torch.tensor(v)) for v in stats.values())
    vloss, vstats = impl.ppo.value_loss(logp, old, adv, mask, agg=agg)
    assert _finite(vloss) and _finite(torch.tensor(vstats["vf_clipfrac"]))
    if mask.sum() == 0:
        assert float(loss) == 0.0 and float(vloss) == 0.0
    for kind in ("k1", "k2", "k3", "abs"):
        assert _finite(impl.kl.kl_loss(logp, old, mask, kind=kind, agg=agg))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.sampled_from([0.0, 0.5, 1.0, -2.0])), min_size=1, max_size=24),
    st.booleans(),
)
def test_group_advantages_zero_mean_and_finite(impl, rows, scale_by_std: bool) -> None:
    group_ids = [g for g, _ in rows]
    scores = torch.tensor([s for _, s in rows])
    grpo = impl.grpo.grpo_advantages(scores, group_ids, scale_by_std=scale_by_std)
    rloo = impl.grpo.rloo_advantages(scores, group_ids)
    assert _finite(grpo, rloo)
    for g in set(group_ids):
        members = [i for i, gid in enumerate(group_ids) if gid == g]
        if len(members) > 1:  # singletons keep their raw score (verl's rule)
            assert abs(float(grpo[members].sum())) < 1e-4
            assert abs(float(rloo[members].sum())) < 1e-4
