"""Chapter 12's exercise: Table 1's rows as configurations, graded by check_apply_ablation."""

import pytest

from stylegan_tutorial.configs import ABLATION_ROWS, ABLATION_STEPS, apply_ablation
from stylegan_tutorial.exercises import ExerciseError, check_apply_ablation


def solution(config, row):
    """What the chapter's solution cell does: the rows' changes in order, then w_dim."""
    if row not in ABLATION_ROWS:
        raise ValueError(f"unknown row {row!r}")
    changes = {}
    for step in ABLATION_ROWS[: ABLATION_ROWS.index(row) + 1]:
        changes.update(ABLATION_STEPS[step])
    if changes["mapping_layers"] == 0:
        changes["w_dim"] = config.z_dim
    return config.replace(**changes)


def test_the_solution_and_the_package_pass(capsys):
    check_apply_ablation(solution)
    check_apply_ablation(apply_ablation)
    assert "all six rows of Table 1 match" in capsys.readouterr().out


def test_the_stub_fails_with_its_hint():
    def stub(config, row):
        raise NotImplementedError("merge ABLATION_STEPS of the rows up to `row`, in order")
    with pytest.raises(ExerciseError, match="not implemented yet. merge ABLATION_STEPS"):
        check_apply_ablation(stub)


def test_only_the_rows_own_line_is_named():
    def own_row(config, row):
        changes = dict(ABLATION_STEPS[row])
        if changes.get("mapping_layers") == 0:
            changes["w_dim"] = config.z_dim
        return config.replace(**changes)
    with pytest.raises(ExerciseError, match="the rows are cumulative"):
        check_apply_ablation(own_row)


def test_the_wrong_order_is_named():
    def reversed_rows(config, row):
        changes = {}
        for step in reversed(ABLATION_ROWS[: ABLATION_ROWS.index(row) + 1]):
            changes.update(ABLATION_STEPS[step])
        if changes["mapping_layers"] == 0:
            changes["w_dim"] = config.z_dim
        return config.replace(**changes)
    with pytest.raises(ExerciseError, match="row C restores the mapping network"):
        check_apply_ablation(reversed_rows)


def test_forgetting_w_dim_is_named():
    def no_w_dim(config, row):
        changes = {}
        for step in ABLATION_ROWS[: ABLATION_ROWS.index(row) + 1]:
            changes.update(ABLATION_STEPS[step])
        return config.replace(**changes)
    with pytest.raises(ExerciseError, match="set w_dim to z_dim"):
        check_apply_ablation(no_w_dim)


def test_w_dim_from_the_mapping_width_instead_of_z_dim_fails_with_the_fields():
    # a near miss: every switch right, but rows C-F keep the wrong w_dim
    def wrong_restore(config, row):
        return solution(config, row).replace(w_dim=config.z_dim)
    with pytest.raises(ExerciseError, match=r"'C'\): w_dim: expected 128, got 64"):
        check_apply_ablation(wrong_restore)


def test_one_wrong_switch_is_reported_field_by_field():
    def no_blur(config, row):
        return solution(config, row).replace(blur_filter=None)
    with pytest.raises(ExerciseError,
                       match=r"apply_ablation\(cpu-tiny, 'B'\): blur_filter: expected \(1, 2, 1\), got None"):
        check_apply_ablation(no_blur)


def test_an_unknown_row_must_raise_value_error():
    def accepts_anything(config, row):
        return solution(config, row) if row in ABLATION_ROWS else config
    with pytest.raises(ExerciseError, match="should raise ValueError|raise ValueError for a row"):
        check_apply_ablation(accepts_anything)

    def raises_key_error(config, row):
        return solution(config, row) if row in ABLATION_ROWS else {}[row]
    with pytest.raises(ExerciseError, match="should raise ValueError .* got KeyError"):
        check_apply_ablation(raises_key_error)


def test_returning_something_else_is_named():
    with pytest.raises(ExerciseError, match="must return a NetworkConfig"):
        check_apply_ablation(lambda config, row: vars(solution(config, row)))
