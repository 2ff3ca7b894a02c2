# Chapter 03 notes: learning_notes/03_rl_algorithms/README.md#implementation-details-checklist
"""Property tests with hypothesis: no NaN on any mask (all-zero, ragged, empty rows), invariants hold.

A failure names the property that broke and prints the smallest input hypothesis found (it shrinks the
example before reporting), as tensors you can paste into a notebook:

    property 'GAE advantages are finite' failed for mask=[[0, 1, 1]], rewards=[[...]], ...
"""

from __future__ import annotations

import torch
from hypothesis import given, note, settings
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


def _show(x: object) -> str:
    if isinstance(x, torch.Tensor):
        return str([[round(v, 4) for v in row] for row in x.tolist()] if x.dim() == 2 else x.tolist())
    return repr(x)


def require(condition: bool, prop: str, **inputs: object) -> None:
    """Assert a named property; on failure the message names it and shows the (shrunk) inputs."""
    if not condition:
        shown = ", ".join(f"{k}={_show(v)}" for k, v in inputs.items())
        raise AssertionError(f"property '{prop}' failed for {shown}")


@settings(max_examples=60, deadline=None)
@given(batches(), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_gae_finite_and_masked_invariant(impl, batch, gamma: float, lam: float) -> None:
    mask, rewards, values = batch
    note(f"mask={_show(mask)} rewards={_show(rewards)} values={_show(values)} gamma={gamma} lam={lam}")
    inputs = {"mask": mask, "rewards": rewards, "values": values, "gamma": gamma, "lam": lam}
    adv, ret = impl.gae.compute_gae(rewards, values, mask, gamma=gamma, lam=lam)
    require(
        adv.shape == rewards.shape and ret.shape == rewards.shape,
        f"GAE keeps the [B, T] shape (got {tuple(adv.shape)} and {tuple(ret.shape)})",
        **inputs,
    )
    require(_finite(adv, ret), "GAE advantages and returns are finite on any mask", **inputs)
    require(
        torch.allclose(ret, adv + values, atol=1e-5, rtol=1.3e-6), "returns = advantages + values everywhere", **inputs
    )
    require(
        _finite(impl.masked.masked_whiten(adv, mask)),
        "whitened advantages are finite (masked_whiten on any mask, all-zero and single-token ones too)",
        **inputs,
    )


@settings(max_examples=60, deadline=None)
@given(batches(), st.sampled_from(AGG_MODES), st.sampled_from([None, 3.0]))
def test_losses_finite_on_any_mask(impl, batch, agg: str, dual_clip) -> None:
    mask, logp, adv = batch
    old = logp + 0.5
    note(f"mask={_show(mask)} logprobs={_show(logp)} advantages={_show(adv)} agg={agg} dual_clip={dual_clip}")
    inputs = {"mask": mask, "logprobs": logp, "advantages": adv, "agg": agg, "dual_clip": dual_clip}
    loss, stats = impl.ppo.ppo_policy_loss(logp, old, adv, mask, dual_clip=dual_clip, agg=agg)
    require(_finite(loss), "the policy loss is finite on any mask", **inputs)
    bad = {k: v for k, v in stats.items() if not _finite(torch.tensor(v))}
    require(not bad, f"the policy-loss stats are finite (non-finite: {bad})", **inputs)
    vloss, vstats = impl.ppo.value_loss(logp, old, adv, mask, agg=agg)
    require(_finite(vloss), "the value loss is finite on any mask", **inputs)
    require(_finite(torch.tensor(vstats["vf_clipfrac"])), "vf_clipfrac is finite", **inputs)
    if mask.sum() == 0:
        require(float(loss) == 0.0, f"an all-zero mask gives a policy loss of 0 (got {float(loss)})", **inputs)
        require(float(vloss) == 0.0, f"an all-zero mask gives a value loss of 0 (got {float(vloss)})", **inputs)
    for kind in ("k1", "k2", "k3", "abs"):
        require(
            _finite(impl.kl.kl_loss(logp, old, mask, kind=kind, agg=agg)), f"the {kind} KL loss is finite", **inputs
        )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.sampled_from([0.0, 0.5, 1.0, -2.0])), min_size=1, max_size=24),
    st.booleans(),
)
def test_group_advantages_zero_mean_and_finite(impl, rows, scale_by_std: bool) -> None:
    group_ids = [g for g, _ in rows]
    scores = torch.tensor([s for _, s in rows])
    note(f"group_ids={group_ids} scores={scores.tolist()} scale_by_std={scale_by_std}")
    inputs = {"group_ids": group_ids, "scores": scores.tolist(), "scale_by_std": scale_by_std}
    grpo = impl.grpo.grpo_advantages(scores, group_ids, scale_by_std=scale_by_std)
    rloo = impl.grpo.rloo_advantages(scores, group_ids)
    require(_finite(grpo), "GRPO advantages are finite (ties and singletons included)", **inputs)
    require(_finite(rloo), "RLOO advantages are finite (ties and singletons included)", **inputs)
    for g in set(group_ids):
        members = [i for i, gid in enumerate(group_ids) if gid == g]
        if len(members) > 1:  # singletons keep their raw score (verl's rule)
            require(
                abs(float(grpo[members].sum())) < 1e-4,
                f"GRPO advantages of group {g} (rows {members}) sum to 0, got {float(grpo[members].sum()):.6g}",
                **inputs,
            )
            require(
                abs(float(rloo[members].sum())) < 1e-4,
                f"RLOO advantages of group {g} (rows {members}) sum to 0, got {float(rloo[members].sum()):.6g}",
                **inputs,
            )
