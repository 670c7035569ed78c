"""`python -m bench tune`: a paper's search repeated with Optuna, one study per framework.

Every candidate is an ordinary cnnbench trial (own process, raw JSON, resumable) whose config carries
a `search` block (space, study, candidate number, role, parameters). Candidates train on the training
split and are judged on validation accuracy alone: their trials drop the test split before the model
is built, so nothing in a candidate can score it. A median pruner reads each epoch's validation
accuracy and stops weak candidates (status `pruned`). Once the
study holds the requested number of finished candidates, the best one is trained again in a fresh
trial (role `final`) that scores the test set once.

Storage: by default an Optuna journal file beside the results (`<results>/searches/optuna.journal`),
which survives a crash and which several processes of one machine can share; `--storage URL` takes
any database Optuna supports (e.g. postgresql://...) for many machines. Re-running the same command
continues the study: recorded candidates are told to Optuna from their result files, interrupted ones
(their process on this machine is gone) are run again under their own number (a kill while a candidate's
parameters were drawn leaves some undrawn: they are drawn then), candidates another process or machine is
running are left to it, and only the missing ones are drawn, by a sampler seeded with the seed plus
the study's size (never the first draws again).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from bench.errors import BenchError
from bench.results import store
from bench.run import runner
from bench.spec import registry
from bench.spec.config import TrialConfig
from bench.spec.searches import Choice, SearchSpace, objective

JOURNAL = Path("searches") / "optuna.journal"
PRUNER_STARTUP_CANDIDATES = 2  # the median pruner waits for this many finished candidates
PRUNER_WARMUP_EPOCHS = 1  # steps are epochs, from 1: the earliest stop is after a candidate's first epoch


def _optuna():
    try:
        import optuna
    except ImportError:
        raise BenchError("bench tune needs Optuna: pip install 'cnnbench[search]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def distributions(space: SearchSpace) -> dict:
    """The space as Optuna distributions: a list of choices is categorical, a range continuous."""
    optuna = _optuna()
    return {
        key: (
            optuna.distributions.CategoricalDistribution(list(value.values))
            if isinstance(value, Choice)
            else optuna.distributions.FloatDistribution(value.low, value.high, log=value.log, step=value.step)
        )
        for key, value in space.parameters.items()
    }


def storage_for(url: str | None, results_dir):
    """A database URL as given, else the journal file beside the results."""
    if url and "://" in url:
        return url
    optuna = _optuna()
    path = Path(url) if url else Path(results_dir) / JOURNAL
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))


@dataclass
class Study:
    """One framework's study: the Optuna study, the trial every candidate derives from, and the trials
    this process is running (by trial id)."""

    space: SearchSpace
    base: TrialConfig
    optuna_study: object
    running: dict

    @property
    def name(self) -> str:
        return self.optuna_study.study_name

    def config(self, number: int, params: dict, role: str = "candidate") -> TrialConfig:
        model = registry.variant(self.space.model, **self.space.model_parameters(params))
        search = {"space": self.space.name, "study": self.name, "candidate": number, "role": role, "parameters": params}
        return replace(
            self.base,
            model=model,
            batch_size=params["batch_size"],
            learning_rate=params["learning_rate"],
            search=search,
        )

    def trials(self, *states):
        return self.optuna_study.get_trials(deepcopy=False, states=states)

    def finished(self) -> int:
        states = _optuna().trial.TrialState
        return len(self.trials(states.COMPLETE, states.PRUNED, states.FAIL))

    def on_epoch(self, config: TrialConfig, event: dict) -> str | None:
        """Report the epoch's validation accuracy; a reason to stop when the median pruner says so."""
        trial = self.running.get(config.trial_id)
        if trial is None or "val_accuracy" not in event:
            return None
        trial.report(event["val_accuracy"], event["epoch"])
        if event["epoch"] < config.epochs and trial.should_prune():
            return (
                f"pruned by the median pruner after epoch {event['epoch']} (validation accuracy "
                f"{event['val_accuracy']:.4f})"
            )
        return None

    def on_record(self, config: TrialConfig, record: dict) -> None:
        if config.search["role"] == "candidate":
            self.tell(config.search["candidate"], record)
            self.running.pop(config.trial_id, None)

    def tell(self, number: int, record: dict) -> None:
        states = _optuna().trial.TrialState
        if record["status"] == "ok":
            self.optuna_study.tell(number, objective(record), skip_if_finished=True)
        else:
            self.optuna_study.tell(
                number, state=states.PRUNED if record["status"] == "pruned" else states.FAIL, skip_if_finished=True
            )


def open_study(space: SearchSpace, base: TrialConfig, name: str, storage, seed: int) -> Study:
    """Create or continue a study; one run with other fixed settings under this name is refused."""
    optuna = _optuna()
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction="maximize",
        load_if_exists=True,
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=PRUNER_STARTUP_CANDIDATES, n_warmup_steps=PRUNER_WARMUP_EPOCHS
        ),
    )
    # Seeded by the study's progress: a continued study must not draw its first candidates' parameters again.
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
    fixed = {k: v for k, v in base.identity().items() if k not in NOT_FIXED} | {"space": space.describe()}
    stored = {k: v for k, v in study.user_attrs.get("fixed", fixed).items() if k not in NOT_FIXED}
    if stored != fixed:
        changed = sorted(k for k in fixed.keys() | stored.keys() if fixed.get(k) != stored.get(k))
        raise BenchError(
            f"study {name!r} was run with other settings ({', '.join(changed)}); "
            f"give another --study or the same settings"
        )
    study.set_user_attr("fixed", fixed)
    return Study(space, base, study, {})


# What may differ between the processes and machines of one study: what the search varies, and the threads
# (they change speed, not what is trained).
NOT_FIXED = ("model", "resolved_recipe", "batch_size", "learning_rate", "threads")


def _recorded(results_dir) -> dict[str, dict]:
    return store.by_trial_id(store.load(results_dir))


def _owned(trial):
    trial.set_user_attr("owner", store.this_process())
    return trial


def _draw_missing(trial, space: dict):
    """The trial with every parameter of the space: those already drawn are kept, the rest drawn now."""
    for name, distribution in space.items():
        if hasattr(distribution, "choices"):
            trial.suggest_categorical(name, distribution.choices)
        else:
            trial.suggest_float(name, distribution.low, distribution.high, step=distribution.step, log=distribution.log)
    return trial


def run_study(study: Study, wanted: int, results_dir, parallel: int, sweep_options: dict) -> dict:
    """Run candidates until the study holds `wanted` finished ones, then the best one's final trial.

    Returns {"summary": last sweep summary, "final": the final record or None}."""
    optuna = _optuna()
    states = optuna.trial.TrialState
    recorded = _recorded(results_dir)
    space = distributions(study.space)
    interrupted = []
    for trial in study.trials(states.RUNNING):  # left by an interrupted run, or running elsewhere
        drawn = trial.params.keys() == space.keys()  # a kill inside `ask` leaves some parameters undrawn
        config = study.config(trial.number, trial.params) if drawn else None
        if config is not None and config.trial_id in recorded:
            study.tell(trial.number, recorded[config.trial_id])
        elif "owner" not in trial.user_attrs or store.process_is_gone(trial.user_attrs["owner"]):  # owner died
            # Optuna's own handle on a trial of the storage (what study.ask returns), to report epochs to
            interrupted.append(optuna.trial.Trial(study.optuna_study, trial._trial_id))
    summary = runner.SweepSummary()
    while study.finished() < wanted:
        in_flight = len(study.trials(states.RUNNING))
        # Each trial is owned before its parameters are drawn: one whose process was killed while drawing has an
        # owner that is gone, and is taken over; one another process is drawing has an owner alive, left to it.
        batch, interrupted = [_owned(trial) for trial in interrupted[:parallel]], interrupted[parallel:]
        batch += [
            _owned(study.optuna_study.ask())
            for _ in range(min(parallel - len(batch), wanted - study.finished() - in_flight))
        ]
        if not batch:
            break  # every missing candidate is running in another process
        configs = []
        for trial in batch:
            config = study.config(trial.number, _draw_missing(trial, space).params)
            study.running[config.trial_id] = trial
            configs.append(config)
        summary = runner.run_sweep(
            configs, results_dir, resume=True, on_epoch=study.on_epoch, on_record=study.on_record, **sweep_options
        )
        if summary.interrupted:
            return {"summary": summary, "final": None}
    complete = study.trials(states.COMPLETE)
    if study.finished() < wanted or not complete:
        return {"summary": summary, "final": None}
    best = max(complete, key=lambda trial: (trial.value, -trial.number))  # ties: the earlier candidate
    final = study.config(best.number, best.params, role="final")
    summary = runner.run_sweep([final], results_dir, resume=True, **sweep_options)
    return {"summary": summary, "final": _recorded(results_dir).get(final.trial_id)}


def default_study_name(base: TrialConfig, framework_label: str) -> str:
    budget = f"e{base.epochs}-n{base.train_subset or 'all'}-v{base.val_size}"
    return f"{base.model}-{framework_label}-{base.dataset}-{base.device}-{budget}-seed{base.seed}"


def result_line(study: Study, wanted: int, outcome: dict) -> str:
    states = _optuna().trial.TrialState
    counts = {
        name: len(study.trials(state))
        for name, state in (("completed", states.COMPLETE), ("pruned", states.PRUNED), ("failed", states.FAIL))
    }
    head = f"study {study.name}: " + ", ".join(f"{n} {name}" for name, n in counts.items())
    final = outcome["final"]
    if final is None:
        missing = wanted - study.finished()
        if outcome["summary"].interrupted:
            reason = "interrupted; run the same command again to continue"
        elif missing <= 0:
            reason = "no candidate completed; raise --trials to draw more"
        else:
            reason = f"{missing} candidates still running in another process; run the command again once they finish"
        return f"{head}; no final trial ({reason})"
    if final["status"] != "ok":
        return f"{head}; final trial {final['status']}: {final['error']}"
    search = final["config"]["search"]
    return (
        f"{head}; best candidate {search['candidate']} "
        f"({', '.join(f'{k}={v:g}' for k, v in search['parameters'].items())}): validation accuracy "
        f"{objective(final):.4f}, test accuracy {final['test']['accuracy']:.4f}"
    )
