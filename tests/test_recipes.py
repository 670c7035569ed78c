"""Recipes: the shared schedule and controls, and equal training in both frameworks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bench.errors import BenchError
from bench.frameworks import FRAMEWORKS, missing_framework
from bench.run.control import TrainingControl
from bench.spec import registry
from bench.spec.recipes import EarlyStopping, Plateau, Recipe, Schedule, get_recipe, learning_rate_at
from bench.spec.suites import PAPER_PARTS
from tests import framework_jobs as jobs

both_frameworks = pytest.mark.skipif(
    any(missing_framework(fw) for fw in FRAMEWORKS),
    reason="RECIPE EQUIVALENCE SKIPPED: needs both torch and keras installed",
)


def test_schedules_follow_their_definitions():
    exponential = Recipe("r", schedule=Schedule("exponential", decay_rate=0.96, decay_steps=1000))
    assert learning_rate_at(exponential, 2500, 0) == pytest.approx(1e-3 * 0.96**2.5)
    step = Recipe("r", schedule=Schedule("step", step_epochs=20, gamma=0.1))
    assert [learning_rate_at(step, 0, e) for e in (0, 19, 20, 40)] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-5])
    cosine = Recipe("r", epochs=10, schedule=Schedule("cosine"))
    assert learning_rate_at(cosine, 0, 5) == pytest.approx(0.5e-3)
    assert learning_rate_at(cosine, 0, 0) == pytest.approx(1e-3)
    onecycle = Recipe("r", epochs=10, schedule=Schedule("onecycle", warmup_epochs=2))  # 10 steps an epoch
    rates = [learning_rate_at(onecycle, step, step // 10, steps_per_epoch=10) for step in range(100)]
    assert rates[0] == pytest.approx(1e-3 / 20) and rates[19] == pytest.approx(1e-3) == max(rates)
    assert rates[59] == pytest.approx(1e-3 * 40 / 80) and rates[99] == 0.0
    assert all(a < b for a, b in zip(rates[:19], rates[1:20])) and all(a > b for a, b in zip(rates[19:], rates[20:]))


def test_a_recipe_with_an_unknown_augmentation_optimizer_or_loss_is_refused():
    with pytest.raises(BenchError, match="recipe typo: unknown augmentation flipp; choose from crop, flip"):
        Recipe(name="typo", augment=("crop", "flipp"))
    with pytest.raises(BenchError, match="recipe typo: unknown optimizer 'adamw'; choose from adam, sgd"):
        Recipe(name="typo", optimizer="adamw")
    with pytest.raises(BenchError, match="recipe typo: unknown loss 'hinge'; choose from cross_entropy, focal"):
        Recipe(name="typo", loss="hinge")


def test_plateau_halves_after_patience_flat_epochs_and_respects_the_floor():
    recipe = Recipe("r", learning_rate=1e-6, plateau=Plateau(factor=0.5, patience=2, min_lr=4e-7))
    control = TrainingControl(recipe, steps_per_epoch=3)
    for epoch, loss in enumerate([1.0, 1.0, 1.0, 1.0, 1.0], 1):
        control.after_epoch(epoch, loss, None)
    # best at epoch 1, flat at 2-3 -> x0.5, flat at 4-5 -> x0.25, floored at 4e-7
    assert control.plateau_scale == 0.25
    assert control.learning_rates(5).tolist() == [4e-7] * 3


def test_early_stopping_on_validation_accuracy():
    recipe = Recipe("r", early_stopping=EarlyStopping("val_accuracy", patience=2))
    control = TrainingControl(recipe, steps_per_epoch=1)
    decisions = [control.after_epoch(e, None, acc) for e, acc in enumerate([0.5, 0.6, 0.55, 0.58], 1)]
    assert decisions == [(True, False), (True, False), (False, False), (False, True)]
    assert control.best_epoch == 2


LOSS_RECIPES = [
    Recipe("ce"),
    Recipe("smoothed", label_smoothing=0.1),
    Recipe("focal", loss="focal", focal_gamma=2.0, focal_alpha=0.25),
    Recipe("weighted", class_weights=(("cat", 2.0), ("dog", 2.0))),
    Recipe("all", loss="focal", label_smoothing=0.1, class_weights=(("cat", 2.0),)),
]


@both_frameworks
@pytest.mark.parametrize("recipe", LOSS_RECIPES, ids=lambda r: r.name)
def test_losses_are_equal_on_the_same_logits(recipe, framework_processes):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(32, 10)).astype(np.float32) * 3
    targets = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 32)]
    weights = recipe.class_weight_vector(registry_classes())
    values = {
        fw: framework_processes[fw].submit(jobs.recipe_loss_value, fw, recipe, logits, targets, weights).result()
        for fw in FRAMEWORKS
    }
    assert values["torch"] == pytest.approx(values["keras"], rel=1e-5)
    reference = reference_loss(recipe, logits, targets, weights)
    assert values["torch"] == pytest.approx(reference, rel=1e-5)


def registry_classes():
    from bench.data.cifar import CIFAR10_CLASSES

    return CIFAR10_CLASSES


def reference_loss(recipe: Recipe, logits, targets, weights) -> float:
    """The loss written out in float64 numpy, from the formulas in the recipe's docs."""
    logits = logits.astype(np.float64)
    log_probs = logits - logits.max(1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(1, keepdims=True))
    sample_weights = targets @ np.array(weights) if weights else np.ones(len(targets))
    smooth = targets * (1 - recipe.label_smoothing) + recipe.label_smoothing / targets.shape[1]
    factor = recipe.focal_alpha * (1 - np.exp(log_probs)) ** recipe.focal_gamma if recipe.loss == "focal" else 1
    return float(np.mean(-(factor * smooth * log_probs).sum(1) * sample_weights))


TRAINING_RECIPES = [
    Recipe(
        "adam-exponential", augment=(), batch_size=16, schedule=Schedule("exponential", decay_rate=0.5, decay_steps=10)
    ),
    Recipe(
        "sgd-cosine-wd",
        optimizer="sgd",
        learning_rate=0.05,
        momentum=0.9,
        weight_decay=5e-4,
        augment=(),
        batch_size=16,
        epochs=3,
        schedule=Schedule("cosine"),
    ),
    Recipe(
        "sgd-nesterov-onecycle",
        optimizer="sgd",
        learning_rate=0.05,
        momentum=0.9,
        nesterov=True,
        weight_decay=5e-4,
        label_smoothing=0.1,
        augment=(),
        batch_size=16,
        epochs=3,
        schedule=Schedule("onecycle", warmup_epochs=1),
    ),
    Recipe(
        "adam-step-smoothing-weights",
        augment=(),
        batch_size=16,
        label_smoothing=0.1,
        class_weights=(("cat", 2.0), ("dog", 2.0)),
        schedule=Schedule("step", step_epochs=1, gamma=0.3),
    ),
]


@both_frameworks
@pytest.mark.parametrize("recipe", TRAINING_RECIPES, ids=lambda r: r.name)
def test_twenty_steps_from_equal_weights_give_equal_models(recipe, framework_processes):
    """3 epochs of 7 steps (the learning rate moves within and between epochs), no augmentation,
    a model without dropout: both frameworks must end with the same function.

    Gradient clipping is tested on one step (below): the frameworks' float32 sums give gradient
    norms ~4e-5 apart, and clipping spreads that difference to every weight at every step."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (112, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, 112)
    probe = rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    start = (
        framework_processes["torch"]
        .submit(jobs.train_steps, "torch", "r2_vanilla_cnn", replace(recipe, epochs=3), None, images, labels, 0, probe)
        .result()["weights"]
    )
    results = {
        fw: framework_processes[fw]
        .submit(jobs.train_steps, fw, "r2_vanilla_cnn", replace(recipe, epochs=3), start, images, labels, 3, probe)
        .result()
        for fw in FRAMEWORKS
    }
    assert_same_logits(results, 2e-3)


@both_frameworks
@pytest.mark.parametrize(
    "model, recipe_name, l2, same",
    [
        ("r2_vanilla_cnn", "r0", 1e-3, "function"),  # r0's L2 0.001 on every kernel, its exponential decay
        ("r2_vanilla_cnn", "r4_simple", None, "function"),  # Adam with weight decay 5e-4, r4's step schedule
        ("r2_tuned_cnn", "r2", None, "losses"),  # a paper part whose BatchNorm updates as it trains
    ],
)
def test_each_kind_of_paper_training_gives_equal_models_over_21_steps(
    model, recipe_name, l2, same, framework_processes
):
    """3 epochs of 7 steps of a paper's recipe from equal weights, without augmentation and dropout (their random
    draws differ by framework): both frameworks end with the same function (L2, Adam with weight decay), and
    models with BatchNorm go through the same training losses.

    BatchNorm models are compared by their losses: their weights part in float32 whatever the code (measured on
    2026-12-07; r0_deep_cnn, r3_deep_cnn and r4_simple_cnn went through the same losses too, within 2 %). One SGD step
    of r3_deep_cnn leaves the frameworks 1e-5 apart, three steps 4e-2 (batch statistics of 16 random images
    amplify round-off); BatchNorm1d over 16 samples (r0's dense layers) does so 100-fold in one step; and Adam
    turns the zero gradient of a bias before a BatchNorm (r2_tuned_cnn, r4_simple_cnn) into +-lr by the sign of
    the round-off. Their running statistics follow each framework's rule (test_parity)."""
    recipe = replace(get_recipe(recipe_name), augment=(), batch_size=16, epochs=3)
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (112, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, 112)
    probe = rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    initial = (
        framework_processes["torch"].submit(jobs.train_steps, "torch", model, recipe, None, images, labels, 0, probe)
    ).result()
    results = {
        fw: framework_processes[fw]
        .submit(jobs.train_steps, fw, model, recipe, initial["weights"], images, labels, 3, probe, False, l2)
        .result()
        for fw in FRAMEWORKS
    }
    np.testing.assert_allclose(results["keras"]["losses"], results["torch"]["losses"], rtol=3e-2, atol=1e-3)
    assert results["torch"]["losses"][-1] < 0.9 * results["torch"]["losses"][0]  # it trained
    if same == "function":
        assert_same_logits(results, 2e-3)
        assert_same_logits({fw: {"logits": r["training_logits"]} for fw, r in results.items()}, 2e-3)
        assert np.abs(results["torch"]["logits"] - initial["logits"]).max() > 1e-2  # training moved the function


def assert_same_logits(results: dict, tolerance: float) -> None:
    torch_logits, keras_logits = results["torch"]["logits"], results["keras"]["logits"]
    scale = np.abs(torch_logits).max()
    np.testing.assert_allclose(keras_logits, torch_logits, rtol=tolerance, atol=tolerance * scale)


@both_frameworks
def test_a_clipped_step_is_the_same_step(framework_processes):
    # SGD: Adam's first step is blind to a gradient's scale, so clipping would not show there.
    recipe = Recipe("clip", optimizer="sgd", learning_rate=0.05, clip_norm=0.5, augment=(), batch_size=16, epochs=1)
    rng = np.random.default_rng(1)
    images, labels = rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, 16)
    start = (
        framework_processes["torch"]
        .submit(jobs.train_steps, "torch", "r2_vanilla_cnn", recipe, None, images, labels, 0, images)
        .result()["weights"]
    )
    clipped = {
        fw: framework_processes[fw]
        .submit(jobs.train_steps, fw, "r2_vanilla_cnn", recipe, start, images, labels, 1, images)
        .result()
        for fw in FRAMEWORKS
    }
    unclipped = (
        framework_processes["torch"]
        .submit(
            jobs.train_steps,
            "torch",
            "r2_vanilla_cnn",
            replace(recipe, clip_norm=None),
            start,
            images,
            labels,
            1,
            images,
        )
        .result()
    )
    assert_same_logits(clipped, 1e-4)
    assert not np.allclose(unclipped["logits"], clipped["torch"]["logits"], rtol=1e-3)  # clipping acted


def test_reports_quick_covers_every_report_part_with_an_explained_budget():
    from bench.spec.suites import PAPER_PARTS, get_suite

    quick = get_suite("reports-quick")
    assert [(e.model, e.recipe) for e in quick.entries] == [(m, r) for m, r, _ in PAPER_PARTS]
    assert {get_recipe_paper(e.recipe) for e in quick.entries} == {"r0", "r1", "r2", "r3", "r4"}
    for entry in quick.entries:
        registry.parse(entry.model)
        assert entry.epochs and entry.train_subset and "the report: full sets" in entry.note
    full = get_suite("reports")
    assert all(e.epochs is None and e.train_subset is None for e in full.entries)


def test_reports_gpu_fits_its_estimated_eight_minutes():
    from bench.spec.recipes import get_recipe
    from bench.spec.suites import (
        GPU_BUDGET_S,
        GPU_TRIAL_START_S,
        KERAS_TIME_FACTOR,
        PAPER_PARTS,
        estimated_gpu_epoch_s,
        get_suite,
    )

    entries = get_suite("reports-gpu").entries
    assert [(e.model, e.recipe) for e in entries] == [(m, r) for m, r, _ in PAPER_PARTS]
    total = 0.0
    for entry in entries:
        assert 1 <= entry.epochs <= get_recipe(entry.recipe).epochs and entry.train_subset is None
        epoch_s = estimated_gpu_epoch_s(entry.model, get_recipe(entry.recipe).batch_size, 10)
        total += (1 + KERAS_TIME_FACTOR) * entry.epochs * epoch_s + 2 * GPU_TRIAL_START_S
    assert total <= GPU_BUDGET_S * 1.25  # the one-epoch floor may overrun a little


def get_recipe_paper(name: str) -> str:
    from bench.spec.recipes import get_recipe

    return get_recipe(name).paper


def test_rewording_a_recipe_keeps_its_trial_ids_and_changing_what_it_trains_changes_them(monkeypatch):
    from dataclasses import replace

    from bench.spec import recipes
    from bench.spec.config import TrialConfig

    config = TrialConfig(
        model="r3_deep_cnn", framework="torch", device="cpu", batch_size=64, seed=0, epochs=1, recipe="r3"
    )
    before, r3 = config.trial_id, recipes.RECIPES["r3"]
    assert r3.paper and r3.deviations  # both are there to reword
    monkeypatch.setitem(recipes.RECIPES, "r3", replace(r3, paper="r9", deviations=("reworded",)))
    assert config.trial_id == before
    monkeypatch.setitem(recipes.RECIPES, "r3", replace(r3, label_smoothing=r3.label_smoothing + 0.1))
    assert config.trial_id != before


def test_a_recipe_recorded_before_a_field_was_added_hashes_as_todays_and_one_trained_otherwise_does_not():
    import copy
    from dataclasses import asdict

    from bench.spec.recipes import get_recipe, identity_fields

    today = get_recipe("r2").as_dict()
    older = copy.deepcopy(today)  # as an earlier version recorded it: fields missing that keep their defaults
    del older["plateau"]["min_delta"], older["schedule"]["warmup_epochs"], older["whiten_first_conv"]
    older["report"], older["deviations"] = older.pop("paper"), ["worded otherwise"]
    assert identity_fields(older) == identity_fields(today)
    older["plateau"]["factor"] = 0.5  # the default, but r2 trains with 0.1: another trial
    assert identity_fields(older) != identity_fields(today)
    # A plateau at its defaults is on, unlike none at all.
    assert identity_fields({**today, "plateau": asdict(Plateau())}) != identity_fields({**today, "plateau": None})


def test_a_trials_speed_options_are_flat_in_its_identity_and_its_record():
    from bench.spec.config import TrialConfig
    from bench.spec.execution import Execution

    config = TrialConfig(
        model="r2_vanilla_cnn",
        framework="torch",
        device="cpu",
        batch_size=64,
        seed=0,
        epochs=1,
        execution=Execution(amp="bf16", loader="naive"),
    )
    identity = config.identity()
    assert identity["amp"] == "bf16" and identity["loader"] == "naive"  # as before trials held an Execution
    assert "execution" not in identity and "channels_last" not in identity  # defaults stay out of the id
    record = config.record()
    assert record["amp"] == "bf16" and record["steps_per_execution"] == 1 and "execution" not in record
    assert TrialConfig.from_record({**record, "resolved_recipe": {}}) == config


def test_the_fastest_options_of_each_framework_are_those_it_honours_of_the_gpu_list():
    from bench.frameworks import unsupported
    from bench.spec.suites import GPU_FASTEST
    from tests.conftest import honoured_part

    torch_part, keras_part = honoured_part("torch", GPU_FASTEST), honoured_part("keras", GPU_FASTEST)
    assert torch_part == GPU_FASTEST and unsupported("keras", GPU_FASTEST)  # the list is torch's whole set
    assert unsupported("keras", keras_part) is None
    assert keras_part.label() == "fast+bf16+channels-last+compile=default"


# The paper recipes that change the learning rate or stop early: r3's is constant, r2_squeezenet's control is r2's.
LONG_RUN_RECIPES = sorted({recipe for _, recipe, _ in PAPER_PARTS} - {"r3", "r2_squeezenet"})
BEST_EPOCH = 8  # the scripted validation figures improve until then


@both_frameworks
@pytest.mark.parametrize("name", LONG_RUN_RECIPES)
def test_a_paper_recipe_over_its_whole_epoch_count_runs_alike_in_both_frameworks(name, framework_processes):
    """Every epoch the same learning rate (the optimizer's, as scheduled), the plateau's reductions on the same
    epochs, the same early stop and the best epoch's weights restored: over 50 or 100 epochs of 2 steps."""
    recipe = get_recipe(name)
    runs = {fw: framework_processes[fw].submit(jobs.long_run, fw, name, BEST_EPOCH).result() for fw in FRAMEWORKS}
    stop = recipe.early_stopping
    expected_epochs = min(recipe.epochs, BEST_EPOCH + stop.patience) if stop else recipe.epochs
    for framework, run in runs.items():
        assert run["stopped_after"] == expected_epochs, framework
        np.testing.assert_allclose(run["rates"], run["scheduled"], rtol=1e-6, err_msg=framework)
        if stop and stop.restore_best:
            assert run["restored"] == BEST_EPOCH and run["restored_weights_equal"], framework
    np.testing.assert_allclose(runs["keras"]["rates"], runs["torch"]["rates"], rtol=1e-6)
    if recipe.plateau and expected_epochs > BEST_EPOCH + recipe.plateau.patience:  # it reduced the rate
        assert runs["torch"]["rates"][-1] < runs["torch"]["rates"][BEST_EPOCH - 1] * max(recipe.plateau.factor, 0.99)


def test_papers_cpu_trains_each_part_at_its_papers_own_recipe_batch_and_epochs_on_the_whole_split():
    from bench.spec.suites import get_suite

    suite = get_suite("papers-cpu")
    parts = {(e.model, e.recipe) for e in suite.entries}
    assert (
        {("r2_vanilla_cnn", "r2"), ("r2_tuned_cnn", "r2"), ("r2_squeezenet1_1", "r2_squeezenet"), ("r3_deep_cnn", "r3")}
        <= parts
        <= {(m, r) for m, r, _ in PAPER_PARTS}
    )
    for entry in suite.entries:
        assert (entry.epochs, entry.batch_size, entry.train_subset, entry.test_subset) == (None, None, None, None)
        assert entry.dataset == "cifar10" and set(suite.frameworks or FRAMEWORKS) == {"torch", "keras"}  # () is all


@pytest.mark.parametrize("name, rule", [("frontier-cpu", "sqrt"), ("r0-batch-cpu", "none")])
def test_the_batch_size_suites_are_experiments_designed_to_answer(name, rule):
    """One model, recipe and data, every batch size on the whole split for the recipe's epochs, one stated
    learning-rate rule (bench.report.evidence): what a batch-size answer may rest on."""
    import math

    from bench.run.expansion import expand
    from bench.spec.suites import get_suite

    suite = get_suite(name)
    (entry,) = suite.entries
    recipe = get_recipe(entry.recipe)
    assert (entry.epochs, entry.batch_size, entry.train_subset, entry.test_subset) == (None, None, None, None)
    assert recipe.batch_size in suite.batch_sizes and len(suite.batch_sizes) >= 4 and suite.lr_scaling in ("", rule)
    frameworks = suite.frameworks or FRAMEWORKS
    trials, skipped = expand(
        suite.entries, frameworks, "cpu", suite.batch_sizes, suite.seeds, lr_scaling=suite.lr_scaling or "none"
    )
    assert len(trials) + len(skipped) == len(frameworks) * len(suite.batch_sizes)
    scale = {"none": lambda ratio: 1.0, "sqrt": math.sqrt}[rule]
    for trial in trials:
        resolved = trial.resolved_recipe()
        assert resolved.epochs == recipe.epochs and trial.lr_scaling == (suite.lr_scaling or "none")
        expected = recipe.learning_rate * scale(trial.batch_size / recipe.batch_size)
        assert resolved.learning_rate == pytest.approx(expected)


def test_a_model_name_is_parsed_once_per_process_and_each_caller_gets_its_own_options(monkeypatch):
    globbed = []
    real = registry.base_names
    monkeypatch.setattr(registry, "base_names", lambda: globbed.append(1) or real())
    registry._parsed.cache_clear()
    first = registry.parse("r4_resnet34:stem=cifar")
    first[1]["stem"] = "changed by a caller"
    assert registry.parse("r4_resnet34:stem=cifar") == ("r4_resnet34", {"stem": "cifar"})
    assert len(globbed) == 1  # the models folder was read for the first call alone
    registry._parsed.cache_clear()


def test_the_papers_parts_come_from_the_model_specs_each_with_a_recipe_and_a_dataset():
    from bench.data.cifar import DATASETS

    assert set(PAPER_PARTS) == {
        ("r0_deep_cnn", "r0", "cifar10"),
        ("r1_vgg_cnn", "r1", "cifar10"),
        ("r2_vanilla_cnn", "r2", "cifar10"),
        ("r2_tuned_cnn", "r2", "cifar10"),
        ("r2_efficientnet_b0", "r2", "cifar10"),
        ("r2_squeezenet1_1", "r2_squeezenet", "cifar10"),
        ("r3_deep_cnn", "r3", "cifar10"),
        ("r4_simple_cnn", "r4_simple", "cifar100"),
        ("r4_resnet34", "r4_resnet", "cifar100"),
        ("r4_resnet34:stem=cifar", "r4_resnet", "cifar100"),
    }
    for model, recipe, dataset in PAPER_PARTS:
        assert get_recipe(recipe).paper == registry.spec(model).paper and dataset in DATASETS
