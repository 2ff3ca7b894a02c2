# Exercise harness: README.md#exercise-mode
"""Comparison helpers that name the first mismatch: which case, which inputs, expected and got."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


class CheckFailed(AssertionError):
    """A learner-facing failure: the message says which case, the inputs, expected and got."""


def _fmt(x: object) -> str:
    if isinstance(x, torch.Tensor):
        if x.numel() > 64:
            return f"tensor of shape {tuple(x.shape)}"
        return str(x.detach().tolist())
    return repr(x)


def fail(case: str, inputs: dict, expected: object, got: object, detail: str = "") -> None:
    lines = [f"{case}: mismatch{(' - ' + detail) if detail else ''}", "  inputs:"]
    lines += [f"    {k} = {_fmt(v)}" for k, v in inputs.items()]
    lines += [f"  expected: {_fmt(expected)}", f"  got:      {_fmt(got)}"]
    raise CheckFailed("\n".join(lines))


def expect_close(
    case: str, got: object, expected: object, inputs: dict, atol: float = 1e-5, rtol: float = 1e-5
) -> None:
    """Raise CheckFailed unless `got` equals `expected` elementwise within tolerance (and has its shape)."""
    expected_t = torch.as_tensor(expected, dtype=torch.float64)
    if not isinstance(got, (torch.Tensor, float, int)):
        fail(case, inputs, expected, got, f"expected a tensor or number, got {type(got).__name__}")
    got_t = torch.as_tensor(got).detach().to(torch.float64)
    if got_t.shape != expected_t.shape:
        fail(case, inputs, expected, got, f"shape {tuple(got_t.shape)} instead of {tuple(expected_t.shape)}")
    if torch.isnan(got_t).any() and not torch.isnan(expected_t).any():
        fail(case, inputs, expected, got, "NaN in the output")
    bad = ~torch.isclose(got_t, expected_t, atol=atol, rtol=rtol, equal_nan=True)
    if bad.any():
        idx = tuple(int(i) for i in bad.nonzero()[0]) if got_t.dim() else ()
        where = f"first differing element at index {list(idx)}: expected {expected_t[idx].item():.6g}, got {got_t[idx].item():.6g}"
        fail(case, inputs, expected, got, where)


def expect_true(case: str, condition: bool, message: str, inputs: dict | None = None) -> None:
    if not condition:
        lines = [f"{case}: {message}"]
        if inputs:
            lines += ["  inputs:"] + [f"    {k} = {_fmt(v)}" for k, v in inputs.items()]
        raise CheckFailed("\n".join(lines))


def run_checks(name: str, fn: Callable, cases: Sequence[Callable], verbose: bool = True) -> None:
    """Run every case on `fn`; stop at the first mismatch with a readable message.

    For notebooks: `check_gae(my_compute_gae)` prints a pass line or raises CheckFailed.
    """
    for case in cases:
        try:
            case(fn)
        except NotImplementedError:
            raise
        except CheckFailed as err:
            raise CheckFailed(f"{name} failed check '{case.__name__}'\n{err}") from None
    if verbose:
        print(f"PASS {name}: all {len(cases)} checks match ({', '.join(c.__name__ for c in cases)})")
