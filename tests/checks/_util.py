# Exercise harness: README.md#exercise-mode
"""Comparison helpers whose failure messages teach: which case, which convention, where, and a likely cause.

A failing check names:
- the case and, when it encodes a convention of the reference implementations (verl, rank-bm25,
  Search-R1), that convention and why it is there (`convention=`);
- the first mismatching position as (row, column), with a small window of expected and actual values
  (and the mask) around it, never whole tensors;
- when every valid position (mask 1) matches and only masked positions differ, exactly that;
- when the result equals the output of a known classic mistake, that mistake (`mistakes=`), so that
  the message points at the line to fix.

    expect_close("4-token GAE", adv, expected, inputs,
                 mistakes=[(gae_without_lambda, "lambda is missing from A_t = delta_t + gamma * lambda * A_t+1")])
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence

import numpy as np
import torch


class CheckFailed(AssertionError):
    """A learner-facing failure: the message says which case, the inputs, expected and got."""


SMALL = 12  # tensors up to this many elements are printed whole; larger ones as a window
RADIUS = 3  # columns shown on each side of the first mismatch


def _num(x: float) -> str:
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e15):
        return str(int(x))
    return f"{x:.6g}"


def _list(values: Sequence) -> str:
    """Numbers at 6 significant digits, nested lists kept nested: [[0.5, 0.8], [1, 2]]."""
    parts = [
        _list(v) if isinstance(v, (list, tuple)) else _num(v) if isinstance(v, (int, float)) else repr(v)
        for v in values
    ]
    return "[" + ", ".join(parts) + "]"


def _wrap(line: str, indent: str = "  ") -> list[str]:
    """A long explanation as lines of at most ~110 characters, continuation lines indented."""
    return textwrap.wrap(line, width=110, initial_indent=indent, subsequent_indent=indent + "  ") or [indent]


def _where(idx: tuple[int, ...]) -> str:
    """(2, 5) -> 'row 2, column 5'; (4,) -> 'index 4'; () -> 'the value'."""
    if len(idx) == 0:
        return "the value"
    if len(idx) == 1:
        return f"index {idx[0]}"
    if len(idx) == 2:
        return f"row {idx[0]}, column {idx[1]}"
    return "position [" + ", ".join(map(str, idx)) + "]"


def _span(idx: tuple[int, ...], shape: tuple[int, ...]) -> tuple[tuple, str]:
    """The slice of the last dimension around `idx` (RADIUS each side), and how to call it."""
    lo, hi = max(0, idx[-1] - RADIUS), min(shape[-1], idx[-1] + RADIUS + 1)
    if len(idx) == 1:
        label = f"indices {lo}..{hi - 1}"
    elif len(idx) == 2:
        label = f"row {idx[0]}, columns {lo}..{hi - 1}"
    else:
        label = f"position {list(idx[:-1])}, last indices {lo}..{hi - 1}"
    return (*idx[:-1], slice(lo, hi)), label


def _fmt(x: object, focus: tuple[int, ...] | None = None) -> str:
    """A tensor in one line: whole when small, else its shape and a window (at `focus` if it fits)."""
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.numel() <= SMALL:
            return _num(x.item()) if x.dim() == 0 else _list(x.tolist())
        shape = tuple(x.shape)
        if focus is not None and len(focus) == x.dim() and all(0 <= i < n for i, n in zip(focus, shape)):
            window, label = _span(focus, shape)
            return f"tensor of shape {shape}; {label}: {_list(x[window].flatten().tolist())}"
        head = x.flatten()[:6].tolist()
        return f"tensor of shape {shape}, starting {_list(head)} ..."
    if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.number):
        return _fmt(torch.from_numpy(np.array(x, dtype=np.float64)), focus)
    if isinstance(x, (list, tuple)) and x and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in x):
        if len(x) > SMALL:
            return f"{type(x).__name__} of {len(x)} numbers, starting {_list(x[:6])} ..."
        return _list(x)
    return repr(x)


def _input_lines(inputs: dict, focus: tuple[int, ...] | None = None) -> list[str]:
    return ["  inputs:"] + [f"    {k} = {_fmt(v, focus)}" for k, v in inputs.items()] if inputs else []


def fail(
    case: str,
    inputs: dict,
    expected: object,
    got: object,
    detail: str = "",
    *,
    focus: tuple[int, ...] | None = None,
    extra: Sequence[str] = (),
) -> None:
    """Raise CheckFailed: the case, what went wrong, extra explanation lines, expected and got, the inputs."""
    lines = [f"{case}: mismatch{(' - ' + detail) if detail else ''}"]
    lines += [wrapped for line in extra for wrapped in _wrap(line)]
    lines += [f"  expected: {_fmt(expected, focus)}", f"  got:      {_fmt(got, focus)}"]
    lines += _input_lines(inputs, focus)
    raise CheckFailed("\n".join(lines))


def _as_tensor(x: object) -> torch.Tensor:
    """float64, without a float32 detour: Python numbers and lists go straight to float64."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float64)
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x.astype(np.float64))
    return torch.as_tensor(x, dtype=torch.float64)


def _close(a: torch.Tensor, b: torch.Tensor, atol: float, rtol: float) -> torch.Tensor:
    return torch.isclose(a, b, atol=atol, rtol=rtol, equal_nan=True)


def _window(expected: torch.Tensor, got: torch.Tensor, mask: torch.Tensor | None, idx: tuple[int, ...]) -> list[str]:
    """Expected, got (and mask) around the first mismatch, aligned in columns."""
    if expected.dim() == 0:
        return []
    window, label = _span(idx, tuple(expected.shape))
    rows = [("expected", expected[window].flatten().tolist()), ("got", got[window].flatten().tolist())]
    if mask is not None and tuple(mask.shape) == tuple(expected.shape):
        rows.append(("mask", mask[window].flatten().tolist()))
    cells = [[_num(v) for v in values] for _, values in rows]
    width = max(len(c) for row in cells for c in row)
    out = [f"{label}:"]
    for (name, _), row in zip(rows, cells):
        out.append(f"  {name:9s}[" + ", ".join(c.rjust(width) for c in row) + "]")
    return out


def expect_close(
    case: str,
    got: object,
    expected: object,
    inputs: dict,
    atol: float = 1e-5,
    rtol: float = 1e-5,
    *,
    mask: torch.Tensor | None = None,
    convention: str = "",
    mistakes: Sequence[tuple[object, str]] = (),
) -> None:
    """Raise CheckFailed unless `got` equals `expected` elementwise within tolerance (and has its shape).

    Args:
        mask: the 0/1 mask aligned with `expected`, when positions with mask 0 follow a convention
            rather than a formula: a mismatch confined to them is reported as such.
        convention: one or two sentences naming the convention the expected values follow (whose it
            is and why), printed when the check fails.
        mistakes: (what a classic mistake returns, what that mistake is); a result equal to one of
            them is named in the message.
    """
    expected_t = _as_tensor(expected)
    if isinstance(got, (list, tuple)) and all(isinstance(v, (int, float)) for v in got):
        fail(case, inputs, expected, got, f"expected a tensor, got a {type(got).__name__}: wrap it with torch.tensor")
    if not isinstance(got, (torch.Tensor, float, int)) and not hasattr(got, "__array__"):
        fail(case, inputs, expected, got, f"expected a tensor or number, got {type(got).__name__}")
    got_t = _as_tensor(got)
    notes = [f"convention: {convention}"] if convention else []
    if got_t.shape != expected_t.shape:
        if got_t.numel() == expected_t.numel():
            notes.append("same number of elements: a missing or extra dimension (squeeze, unsqueeze, keepdim)?")
        fail(
            case,
            inputs,
            expected,
            got,
            f"shape {tuple(got_t.shape)} instead of {tuple(expected_t.shape)}",
            extra=notes,
        )
    bad = ~_close(got_t, expected_t, atol, rtol)
    if not bad.any():
        return
    idx = tuple(int(i) for i in bad.nonzero()[0]) if got_t.dim() else ()
    if got_t.dim():
        first = (
            f"first mismatch at {_where(idx)}: expected {_num(expected_t[idx].item())}, got "
            f"{_num(got_t[idx].item())} ({int(bad.sum())} of {bad.numel()} elements differ)"
        )
    else:
        first = f"expected {_num(expected_t.item())}, got {_num(got_t.item())}"
    mask_t = None if mask is None else _as_tensor(mask)
    lines: list[str] = []
    matched = next(
        (
            explanation
            for wrong, explanation in mistakes
            if _as_tensor(wrong).shape == got_t.shape and bool(_close(got_t, _as_tensor(wrong), atol, rtol).all())
        ),
        None,
    )
    if matched is not None:  # the most specific explanation: say only that
        lines.append(f"your result is exactly what this mistake gives: {matched}")
    elif mask_t is not None and mask_t.shape == expected_t.shape and not (bad & (mask_t != 0)).any():
        n_valid = int((mask_t != 0).sum())
        lines.append(
            f"all {n_valid} valid positions (mask 1) match; only masked positions (mask 0) differ, first at "
            f"{_where(idx)}. The values there follow a convention, not the formula:"
        )
        lines += notes
    else:
        if torch.isnan(got_t).any() and not torch.isnan(expected_t).any():
            lines.append("NaN in your output: a 0/0 or log(0) somewhere (an all-zero mask, a zero std, a zero count?)")
        lines += notes
    raise CheckFailed(
        "\n".join(
            [f"{case}: mismatch - {first}"]
            + [wrapped for line in lines for wrapped in _wrap(line)]
            + [f"  {line}" for line in _window(expected_t, got_t, mask_t, idx)]
            + _input_lines(inputs, idx or None)
        )
    )


def expect_equal(
    case: str,
    got: object,
    expected: object,
    inputs: dict,
    *,
    convention: str = "",
    diagnose: Callable[[object], str | None] | None = None,
    strict_type: bool = False,
) -> None:
    """Exact equality (strings, None, bools, lists of ids), with the same readable message as expect_close.

    Args:
        convention: the convention the expected value follows, printed on failure.
        diagnose: called with `got` on failure; returns a sentence naming the likely mistake, or None.
        strict_type: also require the same type (e.g. "72" is not 72).
    """
    if (strict_type and type(got) is not type(expected)) or got != expected:
        extra = [f"convention: {convention}"] if convention else []
        cause = diagnose(got) if diagnose is not None else None
        if cause:
            extra.insert(0, f"likely cause: {cause}")
        detail = ""
        if isinstance(got, (list, tuple)) and isinstance(expected, (list, tuple)):
            first = next((i for i, (g, e) in enumerate(zip(got, expected)) if g != e), min(len(got), len(expected)))
            detail = f"first difference at index {first}" + (
                f" (length {len(got)} instead of {len(expected)})" if len(got) != len(expected) else ""
            )
        elif type(got) is not type(expected) and got == expected:
            detail = f"right value, wrong type: {type(got).__name__} instead of {type(expected).__name__}"
        fail(case, inputs, expected, got, detail, extra=extra)


def expect_true(case: str, condition: bool, message: str, inputs: dict | None = None) -> None:
    if not condition:
        lines = [f"{case}: {message}"]
        if inputs:
            lines += _input_lines(inputs)
        raise CheckFailed("\n".join(lines))


def expect_raises(case: str, call: Callable[[], object], error: type[Exception], why: str, inputs: dict) -> None:
    """`call()` must raise `error`; otherwise say what it returned and why an error is required."""
    try:
        returned = call()
    except error:
        return
    except NotImplementedError:
        raise
    except Exception as err:  # a wrong exception type is a finding to report, not a crash
        fail(case, inputs, error.__name__, f"{type(err).__name__}: {err}", f"raise {error.__name__}: {why}")
    fail(case, inputs, error.__name__, f"no error (returned {_fmt(returned)})", f"raise {error.__name__}: {why}")


def finite(x: object) -> bool:
    """True when every element is a finite number (tensors, floats, ints)."""
    if isinstance(x, torch.Tensor):
        return bool(torch.isfinite(x).all())
    return math.isfinite(float(x))


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
