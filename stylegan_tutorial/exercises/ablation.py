"""Chapter 12: the paper's Table 1 as configurations, built row by row."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from stylegan_tutorial.configs import ABLATION_ROWS, ABLATION_STEPS, NetworkConfig, apply_ablation, get_config
from stylegan_tutorial.exercises._common import ExerciseError, _call


def _fields(config: NetworkConfig) -> dict:
    """Every field of ``config`` but its name, which the reader may spell as they like."""
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name != "name"}


def _only_own_row(config: NetworkConfig, row: str) -> NetworkConfig:
    """The mistake of applying only the row's own line of Table 1, not the rows above it."""
    changes = dict(ABLATION_STEPS[row])
    if changes.get("mapping_layers") == 0:
        changes["w_dim"] = config.z_dim
    return config.replace(**changes)


def _reversed_order(config: NetworkConfig, row: str) -> NetworkConfig:
    """The mistake of applying the rows from the last to the first, so A's switches win."""
    changes: dict = {}
    for step in reversed(ABLATION_ROWS[: ABLATION_ROWS.index(row) + 1]):
        changes.update(ABLATION_STEPS[step])
    if changes["mapping_layers"] == 0:
        changes["w_dim"] = config.z_dim
    return config.replace(**changes)


def _diff(got: dict, expected: dict) -> str:
    """The fields that differ, as ``field: expected X, got Y`` (at most four)."""
    wrong = [f"{k}: expected {expected[k]!r}, got {got.get(k)!r}"
             for k in expected if got.get(k) != expected[k]]
    return "; ".join(wrong[:4]) + (f"; and {len(wrong) - 4} more" if len(wrong) > 4 else "")


def check_apply_ablation(fn: Callable[[NetworkConfig, str], NetworkConfig]) -> None:
    """Grade the reader's ``fn(config, row)``, a row of Table 1 on any base (chapter 12).

    Compared with :func:`stylegan_tutorial.configs.apply_ablation` on every row, on the
    ``cpu-tiny`` and ``colab-64`` bases (whose ``z_dim`` and ``w_dim`` differ from the
    mapping's width), field by field. Names the usual mistakes: a row that carries only its own
    line of the table (the rows are cumulative), the rows applied in the wrong order (C must
    restore the mapping network that A removed), ``w_dim`` left alone when there is no mapping
    network, the base configuration changed in place, an unknown row accepted.
    """
    name = "apply_ablation"
    for base_name in ("cpu-tiny", "colab-64"):
        base = get_config(base_name).replace(w_dim=get_config(base_name).w_dim * 2)  # w_dim != z_dim
        before = _fields(base)
        for row in ABLATION_ROWS:
            try:
                got = _call(name, fn, base, row)
            except ValueError as err:
                hint = (" With no mapping network, w is the normalised z itself: set w_dim to z_dim "
                        "in the same replace(...) that sets mapping_layers = 0."
                        if "w_dim" in str(err) else "")
                raise ExerciseError(f"{name}({base_name}, {row!r}) raised ValueError: {err}.{hint}") from None
            if not isinstance(got, NetworkConfig):
                raise ExerciseError(f"{name}({base_name}, {row!r}) must return a NetworkConfig "
                                    f"(use config.replace(...)), got {type(got).__name__}")
            if _fields(base) != before:
                raise ExerciseError(f"{name}({base_name}, {row!r}) changed the configuration it was "
                                    "given; return a new one with config.replace(**changes)")
            mine, expected = _fields(got), _fields(apply_ablation(base, row))
            if mine == expected:
                continue
            hint = ""
            if mine == _fields(_only_own_row(base, row)):
                hint = (f" Row {row} carries only its own line of Table 1: the rows are cumulative, "
                        f"so row {row} applies the changes of rows "
                        f"{', '.join(ABLATION_ROWS[: ABLATION_ROWS.index(row) + 1])} in turn.")
            elif mine == _fields(_reversed_order(base, row)):
                hint = (" The rows were applied from the last to the first, so row A's switches win; "
                        "apply A, B, ... in order so that a later row overrides an earlier one "
                        "(row C restores the mapping network that row A removed).")
            raise ExerciseError(f"{name}({base_name}, {row!r}): {_diff(mine, expected)}.{hint}")
    try:
        _call(name, fn, get_config("cpu-tiny"), "G")
    except ExerciseError:
        raise
    except ValueError:
        pass
    except Exception as err:  # noqa: BLE001 - the reader's code may raise anything
        raise ExerciseError(f"{name}(config, 'G') should raise ValueError for a row that is not in "
                            f"Table 1, got {type(err).__name__}: {err}") from None
    else:
        raise ExerciseError(f"{name}(config, 'G') returned a configuration; raise ValueError for a "
                            f"row not in {ABLATION_ROWS}")
    print(f"✅ {name}: all six rows of Table 1 match stylegan_tutorial.configs on two base configurations")
