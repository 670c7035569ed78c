"""The papers' claims: one row per relative claim a paper makes (`../shared/REPORTS.md`), scored against our
converged rows: holds, reversed, within the noise, or not tested yet with what a test needs.

A claim that one part beats another is scored per machine and framework on the parts trained at their papers'
own budgets and batch sizes, on the claim's dataset (bench.report.evidence), by Welch's 95 % interval of the
difference; with one seed a side the sign decides, marked provisional.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bench.report import evidence, statistics
from bench.report.answers import accuracy_text
from bench.spec.suites import PAPERS_CPU_PARTS


@dataclass(frozen=True)
class Claim:
    """A paper's relative claim, in its own words and figures: `winner` beats `loser` (model, recipe) on
    `dataset`; or, where cnnbench cannot score it yet, `untested` says what a test needs."""

    paper: str
    claim: str
    winner: tuple[str, str] | None = None
    loser: tuple[str, str] | None = None
    dataset: str = "cifar10"
    untested: str = ""


CLAIMS = (
    Claim(
        "r2",
        "the tuned CNN beats the vanilla one (74.7 against 71.0 %)",
        ("r2_tuned_cnn", "r2"),
        ("r2_vanilla_cnn", "r2"),
    ),
    Claim(
        "r2",
        "the simple CNN beats SqueezeNet 1.1 from scratch (56 %) by about 15 points",
        ("r2_vanilla_cnn", "r2"),
        ("r2_squeezenet1_1", "r2_squeezenet"),
    ),
    Claim(
        "r2",
        "the simple CNN beats EfficientNet-B0 from scratch (33.8 %)",
        ("r2_vanilla_cnn", "r2"),
        ("r2_efficientnet_b0", "r2"),
    ),
    Claim(
        "r4",
        "SimpleCNN (~60 %) beats ResNet-34 from scratch with the ImageNet stem (~49 %) on CIFAR-100",
        ("r4_simple_cnn", "r4_simple"),
        ("r4_resnet34", "r4_resnet"),
        dataset="cifar100",
    ),
    Claim("r0", "a 4th conv block gives +1 % for 2x the time", untested="no 4-block variant of r0_deep_cnn yet"),
    Claim(
        "r0",
        "larger batches trade accuracy for time: 84 / 83 / 81 / 78 % at batch 32 / 64 / 128 / 256",
        untested="r0's batch table at its budget: `python -m bench run --suite r0-batch-cpu --resume`",
    ),
    Claim(
        "r1",
        "ImageNet transfer (ResNet50 ~0.6, VGG16 ~0.7) does worse than the custom CNN (0.896) on 32x32",
        untested="needs local ImageNet weights (`--weights-dir`, docs/models.md)",
    ),
    Claim(
        "r3",
        "augmentation closes the overfitting gap (82 % against ~77 %)",
        untested="no r3 recipe without augmentation yet",
    ),
)

NOT_TESTED = "not tested yet"
ALIKE = ["hardware", "framework", "dataset", "variant"]  # what the two parts of a scored claim share


def _part(configs: pd.DataFrame, part: tuple[str, str], dataset: str) -> pd.DataFrame:
    """A paper part's rows as its paper trained it (bench.report.evidence.papers_parts), on `dataset`."""
    model, recipe = part
    rows = evidence.papers_parts(configs)
    return rows[(rows["model"] == model) & (rows["recipe"] == recipe) & (rows["dataset_name"] == dataset)]


def _verdict(winner, loser) -> str:
    """holds, reversed or within the noise, from Welch's interval of winner - loser; provisional with one seed."""
    difference, _, verdict = statistics.accuracy_verdict_from_summary(winner, loser)
    if verdict == statistics.WITHIN:
        return "within the noise"
    if difference == 0:
        return "tie (one seed)"
    sign = "holds" if difference > 0 else "reversed"
    return f"{sign} (provisional, one seed)" if verdict == statistics.NO_ESTIMATE else sign


def claim_rows(claim: Claim, configs: pd.DataFrame) -> list[dict]:
    """The claim's rows: one per machine and framework with both parts converged, or one saying what is
    missing."""
    row = {"paper": claim.paper, "claim": claim.claim}
    if claim.untested:
        return [{**row, "our evidence": claim.untested, "verdict": NOT_TESTED}]
    winners = _part(configs, claim.winner, claim.dataset)
    losers = _part(configs, claim.loser, claim.dataset)
    rows = []
    for key, winner in winners.groupby(ALIKE, sort=True):
        loser = losers[(losers[ALIKE] == pd.Series(key, index=ALIKE)).all(axis=1)]
        if loser.empty:
            continue
        (hardware, framework, *_), winner, loser = key, winner.iloc[0], loser.iloc[0]
        difference, half, _ = statistics.accuracy_verdict_from_summary(winner, loser)
        interval = f" ± {100 * half:.1f}" if half == half else ""
        rows.append(
            {
                **row,
                "our evidence": f"{framework}, {hardware}: {claim.winner[0]} {accuracy_text(winner)} against "
                f"{claim.loser[0]} {accuracy_text(loser)}, {100 * difference:+.1f}{interval} pt",
                "verdict": _verdict(winner, loser),
            }
        )
    return rows or [{**row, "our evidence": _missing(claim), "verdict": NOT_TESTED}]


def _missing(claim: Claim) -> str:
    """What an unscored claim lacks, and the suite that makes it."""
    on_cpu = {claim.winner, claim.loser} <= set(PAPERS_CPU_PARTS)
    suite = "papers-cpu --resume" if on_cpu else "reports"
    return f"no converged rows of both parts on {claim.dataset} here yet: `python -m bench run --suite {suite}`"


def claims_table(configs: pd.DataFrame) -> pd.DataFrame:
    """The papers' claims, one row per claim (per machine and framework where scored), in CLAIMS' order."""
    return pd.DataFrame([row for claim in CLAIMS for row in claim_rows(claim, configs)])
